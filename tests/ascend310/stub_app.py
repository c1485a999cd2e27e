"""The offline inference app (ascend310_infer/) built against the stub MindSpore API of
``stub_api/`` (a header-only stand-in with a fake model), and running it. The session fixture
``stub_app`` (tests/conftest.py) builds it once for every test that runs it."""
import os
import shutil
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def build_stub_app(tmp):
    """Build the app into ``tmp``: with build.sh and CMake when cmake is here, else with g++.

    Returns:
        the binary's path. Fails the calling test when the build fails or warns.
    """
    out = tmp / 'out'
    if shutil.which('cmake'):
        mindspore = tmp / 'mindspore'
        shutil.copytree(os.path.join(HERE, 'stub_api', 'include'), mindspore / 'include')
        (mindspore / 'lib').mkdir()
        (tmp / 'empty.cc').write_text('')
        subprocess.run(['g++', '-shared', '-fPIC', '-o', str(mindspore / 'lib' / 'libmindspore.so'),
                        str(tmp / 'empty.cc')], check=True)
        env = dict(os.environ, MINDSPORE_PATH=str(mindspore), BUILD_DIR=str(tmp / 'build'), APP_OUTPUT_DIR=str(out))
        command = ['bash', os.path.join(ROOT, 'ascend310_infer', 'build.sh')]
    else:
        out.mkdir()
        env = dict(os.environ)
        command = ['g++', '-std=c++17', '-I', os.path.join(HERE, 'stub_api'), '-I',
                   os.path.join(ROOT, 'ascend310_infer'), os.path.join(ROOT, 'ascend310_infer', 'src', 'main.cc'),
                   os.path.join(ROOT, 'ascend310_infer', 'src', 'utils.cc'), '-o', str(out / 'main')]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert 'warning:' not in done.stderr, done.stderr      # the compiler's -Wall -Wextra are clean
    return str(out / 'main')


def run_app(app, *args):
    return subprocess.run([app, *map(str, args)], capture_output=True, text=True, timeout=60)
