"""What several test modules share: running the top-level scripts and checking one-line errors."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_script(*args, ok=True, timeout=600):
    """``python <args>`` from the repository root; with ``ok`` the run must succeed."""
    env = dict(os.environ, GLOG_v='3', PYTHONPATH=ROOT)
    done = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)
    if ok:
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return done


def script_error(done, *parts):
    """A script run that failed with status 2 and exactly one ``error:`` line holding ``parts``
    (and no traceback); returns that line."""
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr[-2000:]
    assert 'Traceback' not in done.stderr, done.stderr[-2000:]
    lines = [line for line in done.stderr.splitlines() if line.startswith('error:')]
    assert len(lines) == 1, done.stderr[-2000:]
    for part in parts:
        assert part in lines[0], lines[0]
    return lines[0]


def raises_one_line(kind, call, *parts):
    """``call()`` raises ``kind`` with a one-line message holding ``parts``; returns it."""
    with pytest.raises(kind) as info:
        call()
    message = str(info.value)
    assert '\n' not in message
    for part in parts:
        assert part in message, message
    return message


def file_hashes(root):
    """{path relative to ``root``: sha256} of every file under ``root``."""
    import hashlib
    hashes = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            with open(path, 'rb') as handle:
                hashes[os.path.relpath(path, root)] = hashlib.sha256(handle.read()).hexdigest()
    return hashes


def randomise_batch_norms(net, seed=1):
    """Non-trivial BatchNorm statistics and affine parameters (else eval-mode BN is an identity)."""
    import mindspore as ms
    import numpy as np
    rng = np.random.default_rng(seed)
    for name, p in net.parameters_and_names():
        if name.endswith(('moving_mean', 'beta')):
            p.set_data(ms.Tensor(0.1 * rng.standard_normal(p.shape).astype(np.float32)))
        elif name.endswith(('moving_variance', 'gamma')):
            p.set_data(ms.Tensor(rng.uniform(0.5, 1.5, p.shape).astype(np.float32)))
    return net


def run_main(main, *argv):
    """A top-level script's ``main(argv)`` in this process: (its return value, what it printed).

    Faster than :func:`run_script` (no interpreter and MindSpore start-up); the execution mode
    the script set is put back to PyNative, the test session's default. A UserError propagates
    (the one-line printing of ``src.cli.run_main`` is checked by :func:`script_error` tests).
    """
    import contextlib
    import io
    import mindspore as ms
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            result = main([str(a) for a in argv])
    finally:
        ms.set_context(mode=ms.PYNATIVE_MODE)
    return result, out.getvalue()
