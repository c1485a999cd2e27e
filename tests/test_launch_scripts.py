"""The launch scripts (scripts/run_*.sh) and the offline inference app (ascend310_infer/), without
an accelerator.

The scripts run with a fake ``python`` and ``msrun`` first on PATH (tests/ascend310/fake_python.py
records every call: arguments, working directory, launcher variables), so what is checked is
what each script starts, with which environment, and what it refuses. The C++ app is built with
its own build.sh / CMakeLists.txt against tests/ascend310/stub_api, a header-only stand-in for
the MindSpore C++ API surface it uses with a fake model (tests/ascend310/stub_app.py, the
session's ``stub_app`` fixture), and then run on real files.
"""
import json
import os
import shutil
import socket
import stat
import subprocess
import sys

import numpy as np
import pytest

from tests.ascend310.stub_app import run_app

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HELPERS = os.path.join(ROOT, 'tests', 'ascend310')
CONFIG = os.path.join(ROOT, 'configs', 'ecapa_tdnn', 'demo.yaml')
SCRIPTS = ['run_infer_310.sh', 'run_standalone_train_ascend.sh', 'run_standalone_train_gpu.sh',
           'run_distribute_train_ascend.sh', 'run_distribute_train_gpu.sh', 'run_eval.sh', 'run_demo.sh']
# variables the scripts read or set; the tests start from an environment without them
CLEARED = ('PYTHON', 'LOG_DIR', 'OUT_DIR', 'INFER_APP', 'PRECISION_MODE', 'MS_WORKER_NUM', 'RANK_TABLE_FILE',
           'RANK_ID', 'RANK_SIZE', 'DEVICE_ID', 'SERVER_ID', 'DEVICE_TARGET', 'MINDSPORE_PATH',
           'ASCEND_HOME_PATH', 'OMPI_COMM_WORLD_SIZE', 'FAKE_EXIT', 'FAKE_FAIL_RANK', 'MASTER_PORT',
           'VENV', 'RUN_DIR', 'MASTER_ADDR', 'NODE_NUM', 'NODE_RANK')


def write_executable(path, text):
    with open(path, 'w') as f:
        f.write(text)
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return str(path)


class Fakes:
    """A bin/ folder with fake python, msrun and inference app (and a venv of the fake python,
    for run_demo.sh), and the calls they recorded."""

    def __init__(self, tmp):
        self.log = tmp / 'calls'
        self.log.mkdir()
        self.bin = tmp / 'bin'
        self.bin.mkdir()
        fake_python = os.path.join(HELPERS, 'fake_python.py')
        write_executable(self.bin / 'python', f'#!/bin/sh\nexec "{sys.executable}" "{fake_python}" "$@"\n')
        # msrun: record the call as the fake python does (argv[0] = 'msrun')
        write_executable(self.bin / 'msrun', f'#!/bin/sh\nexec "{sys.executable}" "{fake_python}" msrun "$@"\n')
        (tmp / 'venv' / 'bin').mkdir(parents=True)
        shutil.copy(self.bin / 'python', tmp / 'venv' / 'bin' / 'python')
        self.app = write_executable(
            tmp / 'fake_app', f'#!/bin/sh\nexec "{sys.executable}" "{HELPERS}/fake_infer_app.py" "$@"\n')
        self.env = {k: v for k, v in os.environ.items() if k not in CLEARED}
        # LOG_DIR / OUT_DIR: nothing is written into the repository, even by a script gone wrong
        self.env.update(PATH=f"{self.bin}:{os.environ['PATH']}", FAKE_LOG=str(self.log),
                        ASCEND_SET_ENV=str(tmp / 'no_toolkit.sh'), LOG_DIR=str(tmp / 'logs'),
                        OUT_DIR=str(tmp / 'out'), VENV=str(tmp / 'venv'), RUN_DIR=str(tmp / 'run'))

    def run(self, script, *args, cwd=ROOT, **env):
        path = script if os.path.isabs(script) else os.path.join(ROOT, 'scripts', script)
        return subprocess.run(['bash', path, *map(str, args)], cwd=cwd, env=dict(self.env, **env),
                              capture_output=True, text=True, timeout=60)

    def calls(self):
        """The recorded python/msrun calls, oldest first."""
        entries = []
        for name in sorted(os.listdir(self.log)):
            if name != 'app.json':
                with open(self.log / name) as f:
                    entries.append(json.load(f))
        return entries


@pytest.fixture
def fakes(tmp_path):
    return Fakes(tmp_path)


def sidecar(*inputs):
    """An export.py sidecar's JSON text for inputs (name, dtype, shape)."""
    return json.dumps({'model': 'stub', 'task': 'test', 'outputs': [{'name': 'y', 'dtype': 'float32', 'shape': [1]}],
                       'inputs': [{'name': n, 'dtype': t, 'shape': shape} for n, t, shape in inputs]})


FEATS = ('feats', 'float32', [None, None, 4])


def rank_table(path, servers):
    """An HCCL rank table (version 1.0) of {server_id: [(device_id, rank_id), ...]}."""
    table = {'version': '1.0', 'server_count': str(len(servers)), 'status': 'completed',
             'server_list': [{'server_id': server, 'host_nic_ip': 'reserve',
                              'device': [{'device_id': str(d), 'device_ip': f'192.98.{d}.1', 'rank_id': str(r)}
                                         for d, r in devices]}
                             for server, devices in servers.items()]}
    path.write_text(json.dumps(table))
    return str(path)


# ----------------------------------------------------------------------------------- arguments

@pytest.mark.parametrize('script', SCRIPTS + ['common.sh', 'standalone_train.sh', '../ascend310_infer/build.sh'])
def test_scripts_parse(script):
    done = subprocess.run(['bash', '-n', os.path.join(ROOT, 'scripts', script)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def bad_argument_cases(tmp):
    mindir = tmp / 'model.mindir'
    mindir.write_text('input_shape -1 -1 4\n')
    (tmp / 'model.json').write_text(sidecar(FEATS))
    lonely = tmp / 'lonely.mindir'
    lonely.write_text('')
    busy = tmp / 'busy'
    busy.mkdir()
    (busy / 'notes.txt').write_text('not inference inputs')
    not_json = tmp / 'broken.json'
    not_json.write_text('{"server_list": [')
    # server ids no host answers to (a host's own addresses pick its server)
    two_servers = rank_table(tmp / 'two.json', {'node-a.invalid': [(0, 0)], 'node-b.invalid': [(0, 1)]})
    one_server = rank_table(tmp / 'one.json', {'node-a.invalid': [(0, 0), (1, 1)]})
    rank_twice = rank_table(tmp / 'twice.json', {'node-a.invalid': [(0, 0)], 'node-b.invalid': [(0, 0)]})
    rank_gap = rank_table(tmp / 'gap.json', {'node-a.invalid': [(0, 0), (1, 2)]})
    device_twice = rank_table(tmp / 'device.json', {'node-a.invalid': [(0, 0), (0, 1)]})
    ckpt = tmp / 'a.ckpt'
    ckpt.write_bytes(b'')
    data = tmp / 'data'
    return [
        ('run_standalone_train_ascend.sh', [], {}, 'expected DEVICE_ID'),
        ('run_standalone_train_ascend.sh', ['x'], {}, "DEVICE_ID must be an integer >= 0, got 'x'"),
        ('run_standalone_train_ascend.sh', ['-1'], {}, "got '-1'"),
        ('run_standalone_train_ascend.sh', ['0'], {}, 'expected CONFIG (a config file'),
        ('run_standalone_train_gpu.sh', ['0', 'train.epochs=1'], {}, "expected CONFIG (a config file, e.g. "
         "configs/ecapa_tdnn/voxceleb.yaml), got 'train.epochs=1'"),
        ('run_standalone_train_gpu.sh', ['0', '--resume'], {}, "expected CONFIG (a config file"),
        ('run_standalone_train_ascend.sh', ['0', tmp / 'missing.yaml'], {}, 'CONFIG not found'),
        ('run_standalone_train_gpu.sh', ['1.5'], {}, "got '1.5'"),
        ('run_standalone_train_gpu.sh', ['0', 'missing.yaml', 'train.epochs=1'], {}, 'CONFIG not found'),
        ('run_distribute_train_ascend.sh', [], {}, 'expected RANK_TABLE_FILE'),
        ('run_distribute_train_ascend.sh', [tmp / 'missing.json'], {}, 'RANK_TABLE_FILE not found'),
        ('run_distribute_train_ascend.sh', [one_server], {}, 'expected CONFIG'),
        ('run_distribute_train_ascend.sh', [not_json, CONFIG], {}, 'is not a rank table'),
        ('run_distribute_train_ascend.sh', [two_servers, CONFIG], {}, 'set SERVER_ID'),
        ('run_distribute_train_ascend.sh', [two_servers, CONFIG], {'SERVER_ID': '10.9.9.9'}, 'set SERVER_ID'),
        ('run_distribute_train_ascend.sh', [one_server, tmp / 'missing.yaml'], {}, 'CONFIG not found'),
        ('run_distribute_train_ascend.sh', ['msrun'], {}, 'msrun needs DEVICE_NUM'),
        ('run_distribute_train_ascend.sh', ['msrun', '0'], {}, "DEVICE_NUM must be an integer >= 1, got '0'"),
        ('run_distribute_train_ascend.sh', ['msrun', 'two'], {}, "got 'two'"),
        ('run_distribute_train_ascend.sh', ['msrun', '2', 'train.epochs=1'], {}, "expected CONFIG"),
        ('run_distribute_train_ascend.sh', [rank_twice, CONFIG], {'SERVER_ID': 'node-a.invalid'}, 'the rank ids must be 0 .. 1'),
        ('run_distribute_train_ascend.sh', [rank_gap, CONFIG], {}, 'got [0, 2]'),
        ('run_distribute_train_ascend.sh', [device_twice, CONFIG], {}, 'device 0 of server node-a.invalid is listed twice'),
        ('run_distribute_train_ascend.sh', ['msrun', '2'], {'NODE_NUM': '2', 'NODE_RANK': '1'}, 'need MASTER_ADDR'),
        ('run_distribute_train_gpu.sh', ['2'], {'NODE_NUM': '0'}, "NODE_NUM must be an integer >= 1, got '0'"),
        ('run_distribute_train_gpu.sh', ['2'], {'NODE_NUM': 'two'}, "got 'two'"),
        ('run_distribute_train_gpu.sh', ['2'], {'NODE_NUM': '2', 'NODE_RANK': '2', 'MASTER_ADDR': '10.0.0.1'},
         "NODE_RANK must be an integer in 0 .. 1 (NODE_NUM=2), got '2'"),
        ('run_distribute_train_gpu.sh', ['2'], {'NODE_RANK': '-1'}, "got '-1'"),
        ('run_distribute_train_gpu.sh', ['2'], {'MASTER_PORT': '80x'}, "MASTER_PORT must be a port number, got '80x'"),
        ('run_distribute_train_gpu.sh', [], {}, 'expected DEVICE_NUM'),
        ('run_distribute_train_gpu.sh', ['0'], {}, "got '0'"),
        ('run_distribute_train_gpu.sh', ['2'], {}, 'expected CONFIG'),
        ('run_distribute_train_gpu.sh', ['2', tmp / 'missing.yaml'], {}, 'CONFIG not found'),
        ('run_eval.sh', ['0'], {}, 'expected DEVICE_ID and CONFIG'),
        ('run_eval.sh', ['a', CONFIG], {}, "DEVICE_ID must be an integer >= 0, got 'a'"),
        ('run_eval.sh', ['0', tmp / 'missing.yaml'], {}, 'CONFIG not found'),
        ('run_eval.sh', ['0', CONFIG, tmp / 'missing.ckpt'], {}, 'CHECKPOINT not found'),
        ('run_eval.sh', ['0', CONFIG, ckpt], {'DEVICE_TARGET': 'TPU'}, "DEVICE_TARGET must be Ascend, GPU or CPU"),
        ('run_infer_310.sh', [mindir, data], {}, 'expected at least 4 arguments (MINDIR DATA DEVICE_ID CONFIG), got 2'),
        ('run_infer_310.sh', [mindir, data, '0'], {}, 'got 3'),
        ('run_infer_310.sh', [mindir, data, '0', 'data.trials=t.txt'], {}, "expected CONFIG (a config file"),
        ('run_infer_310.sh', [tmp / 'missing.mindir', data, '0', CONFIG], {}, 'MINDIR not found'),
        ('run_infer_310.sh', [lonely, data, '0', CONFIG], {}, 'sidecar not found'),
        ('run_infer_310.sh', [mindir, data, 'dev0', CONFIG], {}, "DEVICE_ID must be an integer >= 0, got 'dev0'"),
        ('run_infer_310.sh', [mindir, data, '0', tmp / 'missing.yaml'], {}, 'CONFIG not found'),
        ('run_infer_310.sh', [mindir, data, '0', CONFIG, 'oops'], {}, "expected key=value after CONFIG, got 'oops'"),
        ('run_infer_310.sh', [mindir, busy, '0', CONFIG], {}, 'holds files but no feats/*.bin'),
        ('run_infer_310.sh', [mindir, ckpt, '0', CONFIG], {}, 'DATA is not a folder'),
        ('run_demo.sh', ['panns', 'oops'], {}, "expected key=value overrides after MODEL, got 'oops'"),
        ('run_demo.sh', ['--help'], {}, ''),
    ]


def test_bad_arguments_exit_1_with_usage_before_anything_runs(fakes, tmp_path):
    cases = bad_argument_cases(tmp_path)
    for script, args, env, message in cases:
        done = fakes.run(script, *args, **env)
        where = f"{script} {' '.join(map(str, args))}: {done.stderr}"
        assert done.returncode == 1, where
        assert message in done.stderr and 'usage: bash scripts/' + script in done.stderr, where
    # nothing was started (python -c, which reads the rank table, is not recorded)
    assert fakes.calls() == []


def test_build_sh_says_what_is_missing(fakes, tmp_path):
    build = os.path.join(ROOT, 'ascend310_infer', 'build.sh')
    no_tools = tmp_path / 'no_tools'
    no_tools.mkdir()
    os.symlink(shutil.which('dirname'), no_tools / 'dirname')      # all that build.sh needs first
    done = subprocess.run(['/bin/bash', build], env=dict(fakes.env, PATH=str(no_tools)),
                          capture_output=True, text=True)
    assert done.returncode == 1 and 'needs: cmake g++ (C++17 compiler)' in done.stderr, done.stderr
    if shutil.which('cmake') and shutil.which('g++'):
        # the CPU wheel's folder, as pip show reports it: no C++ inference headers
        wheel = tmp_path / 'site-packages'
        (wheel / 'mindspore').mkdir(parents=True)
        done = fakes.run(build, FAKE_PIP_LOCATION=str(wheel))
        assert done.returncode == 1, done.stderr
        assert f'{wheel}/mindspore has no include/api/model.h' in done.stderr
        assert [c['argv'] for c in fakes.calls()] == [['-m', 'pip', 'show', 'mindspore-ascend']]


# -------------------------------------------------------------------------------- training

@pytest.mark.parametrize('target', ['ascend', 'gpu'])
def test_standalone_training_runs_train_py_on_one_device(fakes, tmp_path, target):
    logs = tmp_path / 'logs'
    done = fakes.run(f'run_standalone_train_{target}.sh', '3', 'configs/ecapa_tdnn/demo.yaml', '--amp_level', 'O2',
                     'train.epochs=2', LOG_DIR=str(logs), MS_WORKER_NUM='8', RANK_TABLE_FILE='/old/table.json')
    assert done.returncode == 0, done.stderr
    (call,) = fakes.calls()
    device_target = {'ascend': 'Ascend', 'gpu': 'GPU'}[target]
    assert call['argv'] == ['train.py', '--config', CONFIG, '--device_target', device_target, '--device_id', '3',
                            '--amp_level', 'O2', 'train.epochs=2']
    assert call['cwd'] == ROOT
    # a single process: launcher variables left in the caller's shell are gone
    assert call['env'] == {'RANK_TABLE_FILE': None, 'RANK_SIZE': '1', 'RANK_ID': '0', 'DEVICE_ID': '3',
                           'MS_WORKER_NUM': None, 'OMPI_COMM_WORLD_SIZE': None}
    assert 'fake python: train.py' in (logs / 'train.log').read_text()


def test_standalone_training_failure(fakes, tmp_path):
    failed = fakes.run('run_standalone_train_gpu.sh', '0', CONFIG, LOG_DIR=str(tmp_path / 'b'), FAKE_EXIT='5')
    assert failed.returncode == 1 and 'training failed' in failed.stderr


def test_paths_are_the_callers(fakes, tmp_path):
    """Relative paths (arguments, LOG_DIR) are taken from where the script is called; train.py
    runs in the repository root."""
    (tmp_path / 'cfg').mkdir()
    shutil.copy(CONFIG, tmp_path / 'cfg' / 'mine.yaml')
    done = fakes.run(os.path.join(ROOT, 'scripts', 'run_standalone_train_gpu.sh'), '0', 'cfg/mine.yaml',
                     cwd=tmp_path, LOG_DIR='my_logs')
    assert done.returncode == 0, done.stderr
    (call,) = fakes.calls()
    assert call['argv'][:3] == ['train.py', '--config', str(tmp_path / 'cfg' / 'mine.yaml')]
    assert call['cwd'] == ROOT and (tmp_path / 'my_logs' / 'train.log').exists()


def test_rank_table_starts_one_process_per_device(fakes, tmp_path):
    table = rank_table(tmp_path / 'rank_table_4p.json', {'192.0.2.1': [(4, 0), (5, 1), (6, 2), (7, 3)]})
    logs = tmp_path / 'logs'
    done = fakes.run('run_distribute_train_ascend.sh', table, CONFIG, 'train.epochs=1', LOG_DIR=str(logs),
                     MS_WORKER_NUM='2')
    assert done.returncode == 0, done.stderr
    calls = fakes.calls()
    assert len(calls) == 4
    seen = set()
    for call in calls:
        env = call['env']
        assert env['RANK_TABLE_FILE'] == table and env['RANK_SIZE'] == '4' and env['MS_WORKER_NUM'] is None
        assert call['argv'] == ['train.py', '--config', CONFIG, '--device_target', 'Ascend',
                                '--device_id', env['DEVICE_ID'], 'train.epochs=1']
        seen.add((int(env['RANK_ID']), int(env['DEVICE_ID'])))
    assert seen == {(0, 4), (1, 5), (2, 6), (3, 7)}
    assert sorted(os.listdir(logs)) == [f'rank_{r}.log' for r in range(4)]
    assert 'fake python: train.py' in (logs / 'rank_2.log').read_text()


def test_rank_table_of_several_servers_starts_this_servers_devices(fakes, tmp_path):
    table = rank_table(tmp_path / 'rank_table_2x2.json',
                       {'192.0.2.1': [(0, 0), (1, 1)], '192.0.2.2': [(0, 2), (1, 3)]})
    done = fakes.run('run_distribute_train_ascend.sh', table, CONFIG, LOG_DIR=str(tmp_path / 'logs'),
                     SERVER_ID='192.0.2.2')
    assert done.returncode == 0, done.stderr
    ranks = sorted((c['env']['RANK_ID'], c['env']['DEVICE_ID'], c['env']['RANK_SIZE']) for c in fakes.calls())
    assert ranks == [('2', '0', '4'), ('3', '1', '4')]
    assert all(c['argv'][:3] == ['train.py', '--config', CONFIG] for c in fakes.calls())
    # without SERVER_ID, the server named like this host is this one
    table = rank_table(tmp_path / 'rank_table_by_name.json',
                       {'node-a.invalid': [(0, 0), (1, 1)], socket.gethostname(): [(0, 2)]})
    done = fakes.run('run_distribute_train_ascend.sh', table, CONFIG, LOG_DIR=str(tmp_path / 'logs2'))
    assert done.returncode == 0, done.stderr
    assert [(c['env']['RANK_ID'], c['env']['RANK_SIZE']) for c in fakes.calls()[2:]] == [('2', '3')]


def test_a_failed_rank_fails_the_launch(fakes, tmp_path):
    table = rank_table(tmp_path / 'rank_table_3p.json', {'192.0.2.1': [(0, 0), (1, 1), (2, 2)]})
    done = fakes.run('run_distribute_train_ascend.sh', table, CONFIG, LOG_DIR=str(tmp_path / 'logs'),
                     FAKE_FAIL_RANK='1')
    assert done.returncode == 1 and 'rank(s) 1 failed' in done.stderr, done.stderr
    assert len(fakes.calls()) == 3


@pytest.mark.parametrize('script, args, target', [
    ('run_distribute_train_ascend.sh', ['msrun', '4'], 'Ascend'),
    ('run_distribute_train_gpu.sh', ['2'], 'GPU'),
])
def test_msrun_launch(fakes, tmp_path, script, args, target):
    logs = tmp_path / 'logs'
    done = fakes.run(script, *args, CONFIG, '--resume', 'train.batch_size=13', LOG_DIR=str(logs),
                     RANK_TABLE_FILE='/old/table.json', RANK_SIZE='8', MASTER_PORT='9000')
    assert done.returncode == 0, done.stderr
    (call,) = fakes.calls()
    workers = args[-1]
    assert call['argv'] == ['msrun', f'--worker_num={workers}', f'--local_worker_num={workers}',
                            '--master_addr=127.0.0.1', '--master_port=9000', f'--log_dir={logs}', '--join=True',
                            'train.py', '--config', CONFIG, '--device_target', target, '--resume',
                            'train.batch_size=13']
    # several machines: all workers, this machine's, its rank and machine 0's address
    done = fakes.run(script, *args, CONFIG, LOG_DIR=str(logs), NODE_NUM='3', NODE_RANK='2',
                     MASTER_ADDR='10.0.0.1')
    assert done.returncode == 0, done.stderr
    call = fakes.calls()[-1]
    assert call['argv'][:7] == ['msrun', f'--worker_num={3 * int(workers)}', f'--local_worker_num={workers}',
                                '--master_addr=10.0.0.1', '--master_port=8118', '--node_rank=2', f'--log_dir={logs}']
    # msrun's variables decide the ranks: no rank table may be left for MindSpore to pick up
    assert call['env']['RANK_TABLE_FILE'] is None and call['env']['RANK_SIZE'] is None
    assert call['cwd'] == ROOT


def test_eval_script(fakes, tmp_path):
    ckpt = tmp_path / 'best.ckpt'
    ckpt.write_bytes(b'')
    done = fakes.run('run_eval.sh', '2', CONFIG, ckpt, 'eval.as_norm=true', LOG_DIR=str(tmp_path / 'a'),
                     DEVICE_TARGET='GPU')
    assert done.returncode == 0, done.stderr
    done = fakes.run('run_eval.sh', '1', CONFIG, '--out', str(tmp_path / 'e'), LOG_DIR=str(tmp_path / 'b'))
    assert done.returncode == 0, done.stderr
    first, second = fakes.calls()
    assert first['argv'] == ['eval.py', '--config', CONFIG, '--device_id', '2', '--device_target', 'GPU',
                             '--checkpoint', str(ckpt), 'eval.as_norm=true']
    assert first['env']['DEVICE_ID'] == '2'
    assert second['argv'] == ['eval.py', '--config', CONFIG, '--device_id', '1', '--out', str(tmp_path / 'e')]
    assert 'fake python: eval.py' in (tmp_path / 'b' / 'eval.log').read_text()


# --------------------------------------------------------------------------------- the demo

@pytest.fixture(scope='module')
def demo_data(tmp_path_factory):
    """Tiny demo corpora for the demos' inference step (the registry reads the config's data)."""
    from src.data.demo import make_demo
    root = tmp_path_factory.mktemp('demo_data')
    vox = make_demo('voxceleb', root, train_speakers=0, test_speakers=2, test_videos=2, test_utterances=1,
                    test_seconds=(0.2, 0.3), num_trials=2)
    esc = make_demo('esc50', root, classes=2, clips_per_class=5, seconds=0.2)
    return vox, esc['esc50']


def demo_steps(config, model, corpora, run, overrides, infer):
    """The calls run_demo.sh makes, in order."""
    mindir = f'{run}/export/{model}.mindir'
    return [['-m', 'src.recipes', 'demo', config.split('/')[1]],
            ['preprocess.py', 'demo', *corpora, '--out', 'data/demo'],
            ['-m', 'src.recipes', 'demo_stages', config.split('/')[1], run],
            ['train.py', '--config', config, '--run_dir', run, *overrides],
            ['eval.py', '--config', config, '--run_dir', run, *overrides],
            ['export.py', '--config', config, '--run_dir', run, *overrides],
            ['-m', 'src.recipes', 'demo_infer', config.split('/')[1], mindir, *overrides],
            ['infer.py', *infer, '--model', mindir]]


def test_demo_runs_the_steps_the_registry_names(fakes, tmp_path, demo_data):
    """ECAPA-TDNN (the default MODEL) and PANNs: the same script, driven by what the recipes declare."""
    vox, esc50 = demo_data
    from src.data.manifest import read_trials
    _, enroll, test = read_trials(vox['trials'])[0]
    overrides = [f"data.trials={vox['trials']}", f"data.eval_audio_root={vox['audio_root']}"]
    done = fakes.run('run_demo.sh', *overrides)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    run = str(tmp_path / 'run')
    assert [c['argv'] for c in fakes.calls()] == demo_steps(
        'configs/ecapa_tdnn/demo.yaml', 'ecapa_tdnn', ['voxceleb', 'musan', 'rirs_noises'], run, overrides,
        ['verify', os.path.join(vox['audio_root'], enroll), os.path.join(vox['audio_root'], test)])
    assert all(c['cwd'] == ROOT for c in fakes.calls())
    assert '== ecapa_tdnn: VoxCeleb-layout demo' in done.stdout

    # a second run resumes; PANNs tags the first clips of the held-out fold
    (tmp_path / 'run' / 'checkpoints').mkdir(parents=True)
    (tmp_path / 'run' / 'checkpoints' / 'latest.json').write_text('{}')
    for name in os.listdir(fakes.log):
        os.remove(fakes.log / name)
    overrides = [f'data.esc50_root={esc50}', 'train.epochs=1']
    done = fakes.run('run_demo.sh', 'panns', *overrides)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    fold5 = sorted(os.path.join(esc50, 'audio', n) for n in os.listdir(os.path.join(esc50, 'audio'))
                   if n.startswith('5-'))
    steps = demo_steps('configs/panns/demo.yaml', 'panns_cnn6', ['esc50'], run, overrides, ['tag', *fold5])
    steps[3][5:5] = ['--resume']
    assert [c['argv'] for c in fakes.calls()] == steps


def test_a_demo_of_several_stages_trains_each_from_the_one_it_names(fakes, tmp_path):
    # wav2vec 2.0: pretraining, fine-tuning from the pretraining run (exported), a baseline
    import preprocess
    from src.data.demo.librispeech import write_librispeech_demo
    root, _ = write_librispeech_demo(tmp_path / 'data', train_speakers=1, dev_speakers=1, test_speakers=1,
                                     chapters=1, utterances=2, words=(4, 4))
    preprocess.main(['librispeech', '--root', root, '--out', str(tmp_path / 'manifests')])
    data = f"data.root={tmp_path / 'manifests'}"
    done = fakes.run('run_demo.sh', 'wav2vec2', data, 'train.max_steps=3')
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    run = str(tmp_path / 'run')
    calls = [c['argv'] for c in fakes.calls()]
    trains = [c for c in calls if c[0] == 'train.py']
    assert trains == [
        ['train.py', '--config', 'configs/wav2vec2/demo_pretrain.yaml', '--run_dir', f'{run}/pretrain',
         data, 'train.max_steps=3'],
        ['train.py', '--config', 'configs/wav2vec2/demo_ctc.yaml', '--run_dir', f'{run}/finetune',
         f'model.pretrained={run}/pretrain', data, 'train.max_steps=3'],
        ['train.py', '--config', 'configs/wav2vec2/demo_ctc.yaml', '--run_dir', f'{run}/scratch',
         data, 'train.max_steps=3']]
    assert [c[:5] for c in calls if c[0] == 'eval.py'] == [
        ['eval.py', '--config', t[2], '--run_dir', t[4]] for t in trains]
    assert ['-m', 'src.recipes', 'demo_summary', 'wav2vec2', run] in calls
    assert [c for c in calls if c[0] == 'export.py'] == [
        ['export.py', '--config', 'configs/wav2vec2/demo_ctc.yaml', '--run_dir', f'{run}/finetune',
         data, 'train.max_steps=3']]
    assert calls[-1][0] == 'infer.py' and calls[-1][1] == 'transcribe'
    assert calls[-1][2].startswith(str(root)) and calls[-1][2].endswith('.flac')
    assert calls[-1][-2:] == ['--model', f'{run}/finetune/export/wav2vec2_ctc.mindir']


def test_demo_of_an_unknown_model_lists_the_demos(fakes):
    done = fakes.run('run_demo.sh', 'wav2vec')
    assert done.returncode == 1
    assert "error: unknown demo 'wav2vec'; did you mean 'wav2vec2'? (known: dprnn, ecapa_tdnn, panns, " \
        "wav2vec2)" in done.stderr
    assert 'usage: bash scripts/run_demo.sh' in done.stderr
    assert [c['argv'] for c in fakes.calls()] == [['-m', 'src.recipes', 'demo', 'wav2vec']]


# --------------------------------------------------------------------- the inference app (C++)

def write_inputs(folder, frames, columns=4, seed=0):
    """float32 (1, t, columns) files <n>.bin; returns {stem: array}."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for n, t in enumerate(frames):
        arrays[str(n)] = rng.standard_normal((1, t, columns)).astype(np.float32)
        arrays[str(n)].tofile(folder / f'{n}.bin')
    return arrays


def test_app_runs_every_file_and_resizes_once_per_shape(stub_app, tmp_path):
    model = tmp_path / 'm.mindir'
    model.write_text('input_shape -1 -1 4\n')
    # 12 files so that "10" and "11" must come after "2" in numeric order
    frames = [5, 3, 5, 7, 3, 3, 5, 7, 7, 3, 5, 9]
    arrays = write_inputs(tmp_path / 'in', frames)
    done = run_app(stub_app, '--mindir_path', model, '--input_path', tmp_path / 'in', f'--output_path={tmp_path}/o/r',
                   '--device_id=5', '--input_dims=1,-1,4', '--precision_mode', 'preferred_fp32')
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    # built for the first shape (no resize for it), then one resize per further distinct shape
    assert lines[0] == '[stub] build device=5 precision=preferred_fp32 shape=1,3,4'
    assert [x for x in lines if x.startswith('[stub] resize')] == [
        '[stub] resize 1,5,4', '[stub] resize 1,7,4', '[stub] resize 1,9,4']
    assert '12 files, 4 distinct shapes' in lines[1]
    order = [x.split()[1] for x in lines if x.startswith('[')  and '.bin' in x]
    assert order == ['1.bin', '4.bin', '5.bin', '9.bin', '0.bin', '2.bin', '6.bin', '10.bin', '3.bin', '7.bin',
                     '8.bin', '11.bin']
    assert lines[-1].startswith('inference: 12 files in ') and '3 resizes' in lines[-1]
    for stem, x in arrays.items():
        mean = np.fromfile(tmp_path / 'o' / 'r' / f'{stem}_0.bin', np.float32)
        np.testing.assert_allclose(mean, x[0].mean(axis=0), rtol=1e-5, atol=1e-6)
        assert np.fromfile(tmp_path / 'o' / 'r' / f'{stem}_1.bin', np.float32).tolist() == [x.shape[1]]
    assert len(os.listdir(tmp_path / 'o' / 'r')) == 24


def test_app_without_input_dims_uses_the_models_shape(stub_app, tmp_path):
    model = tmp_path / 'm.mindir'
    model.write_text('input_shape -1 -1 4\n')        # batch read as 1, frames from the file size
    arrays = write_inputs(tmp_path / 'in', [2, 6])
    done = run_app(stub_app, f'--mindir_path={model}', f'--input_path={tmp_path}/in', f'--output_path={tmp_path}/o')
    assert done.returncode == 0, done.stderr
    assert 'device=0 precision= shape=-1,-1,4' in done.stdout and 'input x0 1,-1,4' in done.stdout
    np.testing.assert_allclose(np.fromfile(tmp_path / 'o' / '1_0.bin', np.float32), arrays['1'][0].mean(axis=0),
                               rtol=1e-5)
    # a static model runs files of its own shape without a resize
    model.write_text('input_shape 1 2 4\n')
    (tmp_path / 'in' / '1.bin').unlink()
    done = run_app(stub_app, f'--mindir_path={model}', f'--input_path={tmp_path}/in', f'--output_path={tmp_path}/s')
    assert done.returncode == 0 and '[stub] resize' not in done.stdout, done.stdout + done.stderr


def test_app_errors(stub_app, tmp_path):
    model = tmp_path / 'm.mindir'
    model.write_text('input_shape -1 -1 4\n')
    write_inputs(tmp_path / 'in', [3, 4])
    write_inputs(tmp_path / 'in4', [4])
    (tmp_path / 'empty').mkdir()
    common = [f'--mindir_path={model}', f'--input_path={tmp_path}/in', f'--output_path={tmp_path}/o']
    for args, message in [
        (common + ['--device=1'], 'unknown flag --device'),
        (common + ['--device_id=-2'], "--device_id must be a non-negative integer, got '-2'"),
        (common[:2], '--output_path is required'),
        (common + ['--input_dims'], '--input_dims needs a value'),
    ]:
        done = run_app(stub_app, *args)
        assert done.returncode == 2 and message in done.stderr and 'usage:' in done.stderr, (args, done.stderr)

    two_inputs = tmp_path / 'two.mindir'
    two_inputs.write_text('input_shape -1 -1 4\ninputs 2\n')
    static = tmp_path / 'static.mindir'
    static.write_text('input_shape 1 3 4\n')
    int_input = tmp_path / 'int.mindir'
    int_input.write_text('input_shape -1 -1 4\ninput_type 34\n')
    for args, message in [
        ([f'--mindir_path={tmp_path}/none.mindir'] + common[1:], 'model not found'),
        ([common[0], f'--input_path={tmp_path}/none'] + common[2:], 'input folder not found'),
        ([common[0], f'--input_path={tmp_path}/empty'] + common[2:], 'no .bin files in'),
        (common + ['--input_dims=1,-1,3'], f'{tmp_path}/in/1.bin: 64 bytes is not a whole number of 12-byte blocks'),
        (common + ['--input_dims=1,-1,-1'], 'more than one unknown (-1) dim'),
        (common + ['--input_dims=1,x,4'], "'x' is neither a positive integer nor -1"),
        (common + ['--input_dims=-1,4'], "failed: stub: input shape 3,4 does not fit the graph's -1,-1,4"),
        ([f'--mindir_path={static}', f'--input_path={tmp_path}/in4', common[2], '--input_dims=1,4,4'],
         "--input_dims 1,4,4 does not fit the model's input shape 1,3,4"),
        ([f'--mindir_path={two_inputs}'] + common[1:], 'the model has 2 inputs'),
        ([f'--mindir_path={int_input}'] + common[1:] + ['--input_dims=1,-1,4'], 'is int32, not float32'),
        ([f'--mindir_path={int_input}'] + common[1:] + ['--input_types=int8'], 'is int32, not int8'),
        (common + ['--input_types=float31'], "unknown element type 'float31'"),
        (common + ['--input_dims=1,-1,4;1,-1'], 'name their 2 input folders with --input_names'),
        ([f'--mindir_path={static}'] + common[1:], f'{tmp_path}/in/1.bin: 64 bytes, but the static input shape'),
        ([f'--mindir_path={tmp_path}/in/0.bin'] + common[1:], 'cannot load'),
    ]:
        done = run_app(stub_app, *args)
        errors = [line for line in done.stderr.splitlines() if line.startswith('error:')]
        assert done.returncode == 1 and len(errors) == 1 and message in errors[0], (args, done.stderr)


# --------------------------------------------------------------- the Ascend 310 pipeline script

@pytest.mark.parametrize('app', ['fake_app', 'stub_app'])
def test_infer_310_pipeline(fakes, tmp_path, request, app):
    app_path = fakes.app if app == 'fake_app' else request.getfixturevalue('stub_app')
    mindir = tmp_path / 'export' / 'ecapa_tdnn.mindir'
    mindir.parent.mkdir()
    mindir.write_text('input_shape -1 -1 4\n')      # what the stub API reads; opaque to the script
    (tmp_path / 'export' / 'ecapa_tdnn.json').write_text(sidecar(FEATS))
    data, out = tmp_path / 'infer', tmp_path / 'out'
    done = fakes.run('run_infer_310.sh', mindir, data, '6', CONFIG, 'data.trials=t.txt',
                     INFER_APP=app_path, OUT_DIR=str(out), PRECISION_MODE='preferred_fp32')
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]

    preprocess, postprocess = fakes.calls()
    assert preprocess['argv'] == ['preprocess.py', 'infer_inputs', '--config', CONFIG, '--out', str(data),
                                  'data.trials=t.txt']
    assert postprocess['argv'] == ['postprocess.py', '--config', CONFIG, '--input_dir', str(data),
                                   '--result_dir', str(out / 'result'), 'data.trials=t.txt']
    if app == 'fake_app':
        with open(fakes.log / 'app.json') as f:
            assert json.load(f) == {'mindir_path': str(mindir), 'input_path': f'{data}/feats',
                                    'output_path': f'{out}/result', 'device_id': '6', 'input_dims': '1,-1,4',
                                    'precision_mode': 'preferred_fp32'}
    else:
        assert '[stub] build device=6 precision=preferred_fp32 shape=1,3,4' in (out / 'infer.log').read_text()
    # the scores are those of the app's outputs for the inputs preprocess wrote
    means = [np.fromfile(data / 'feats' / f'{n}.bin', np.float32).reshape(-1, 4).mean(axis=0) for n in range(3)]
    metrics = json.loads((out / 'acc.log').read_text().strip().splitlines()[-1])
    assert metrics['outputs'] == 3 and metrics['sum'] == pytest.approx(float(np.sum(means)), rel=1e-6)
    assert '3 inputs ->' in (out / 'preprocess_result.log').read_text()
    assert (out / 'infer.log').stat().st_size > 0

    # DATA is there now: used as it is, not written again
    again = fakes.run('run_infer_310.sh', mindir, data, '6', CONFIG, 'data.trials=t.txt',
                      INFER_APP=app_path, OUT_DIR=str(tmp_path / 'again'))
    assert again.returncode == 0, again.stderr
    assert [c['argv'][0] for c in fakes.calls()] == ['preprocess.py', 'postprocess.py', 'postprocess.py']
    assert 'using the inputs already in' in (tmp_path / 'again' / 'preprocess_result.log').read_text()


def test_infer_310_stops_at_a_failing_step(fakes, tmp_path):
    mindir = tmp_path / 'm.mindir'
    mindir.write_text('')
    (tmp_path / 'm.json').write_text(sidecar(FEATS))
    failing_app = write_executable(tmp_path / 'failing_app', '#!/bin/sh\necho "error: device 0 is busy" >&2\nexit 1\n')
    done = fakes.run('run_infer_310.sh', mindir, tmp_path / 'infer', '0', CONFIG, INFER_APP=failing_app,
                     OUT_DIR=str(tmp_path / 'out'))
    assert done.returncode == 1 and 'inference failed; see' in done.stderr
    assert 'device 0 is busy' in (tmp_path / 'out' / 'infer.log').read_text()
    assert [c['argv'][0] for c in fakes.calls()] == ['preprocess.py']        # no scoring
    # checked before the (long) preprocessing: nothing more runs
    done = fakes.run('run_infer_310.sh', mindir, tmp_path / 'infer2', '0', CONFIG, INFER_APP=str(tmp_path / 'nope'),
                     OUT_DIR=str(tmp_path / 'out2'))
    assert done.returncode == 1 and 'is not an executable file' in done.stderr
    for number, text in enumerate(['{"inputs": [{"name": "feats", "shape": [null, nu',
                                   json.dumps({'input_shape': [None, None, 4]})]):     # an older export's
        (tmp_path / 'm.json').write_text(text)
        done = fakes.run('run_infer_310.sh', mindir, tmp_path / f'infer3{number}', '0', CONFIG,
                         INFER_APP=failing_app, OUT_DIR=str(tmp_path / f'out3{number}'))
        assert done.returncode == 1 and 'cannot read the inputs from' in done.stderr and 're-export' in done.stderr
    assert len(fakes.calls()) == 1



def test_infer_310_feeds_every_input_the_sidecar_names(fakes, tmp_path, stub_app):
    from src.inference.bins import write_item
    mindir = tmp_path / 'toy.mindir'
    mindir.write_text('input_shape -1 -1\ninput_shape -1 -1\ninput_type 43 34\n')
    (tmp_path / 'toy.json').write_text(sidecar(('waveform', 'float32', [None, None]),
                                               ('padding_mask', 'int32', [None, None])))
    data, rng, masked = tmp_path / 'infer', np.random.default_rng(0), []
    for n, (length, padding) in enumerate([(6, 2), (9, 0), (6, 1)]):
        waveform = rng.standard_normal((1, length)).astype(np.float32)
        mask = (np.arange(length) >= length - padding).astype(np.int32)[None]
        write_item(str(data / 'feats'), n, {'waveform': waveform, 'padding_mask': mask})
        masked.append(waveform * (1 - mask))
    (data / 'utterances.tsv').write_text(''.join(f'{n}\tu{n}.wav\t0\n' for n in range(3)))
    done = fakes.run('run_infer_310.sh', mindir, data, '1', CONFIG, INFER_APP=stub_app, OUT_DIR=str(tmp_path / 'out'))
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    log = (tmp_path / 'out' / 'infer.log').read_text()
    assert '[stub] build device=1 precision= shape=1,6;1,6' in log
    assert 'input waveform 1,-1 float32; padding_mask 1,-1 int32; 3 files, 2 distinct shapes' in log
    assert 'using the inputs already in' in (tmp_path / 'out' / 'preprocess_result.log').read_text()
    assert [c['argv'][0] for c in fakes.calls()] == ['postprocess.py']
    metrics = json.loads((tmp_path / 'out' / 'acc.log').read_text().strip().splitlines()[-1])
    assert metrics['outputs'] == 3 and metrics['sum'] == pytest.approx(float(sum(m.sum() for m in masked)), rel=1e-6)
    lengths = [np.fromfile(tmp_path / 'out' / 'result' / f'{n}_1.bin', np.int32).tolist() for n in range(3)]
    assert lengths == [[4], [9], [5]]
