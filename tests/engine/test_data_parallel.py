"""Data-parallel training under msrun on CPU: both ranks end with identical weights."""
import glob
import os
import shutil
import socket
import subprocess
import sys

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.mark.skipif(shutil.which('msrun', path=os.path.dirname(sys.executable)) is None,
                    reason='msrun not installed next to this python')
def test_two_ranks_under_msrun_keep_identical_weights(tmp_path):
    msrun = shutil.which('msrun', path=os.path.dirname(sys.executable))
    cmd = [msrun, '--worker_num=2', '--local_worker_num=2', '--master_addr=127.0.0.1',
           f'--master_port={free_port()}', '--join=True', f'--log_dir={tmp_path / "logs"}',
           os.path.join(HERE, 'dp_worker.py'), str(tmp_path)]
    # msrun starts the workers with the 'python' found on PATH: make it this interpreter.
    env = dict(os.environ, GLOG_v='3', PYTHONPATH=os.path.dirname(os.path.dirname(HERE)),
               PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get('PATH', ''))
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    logs = ''.join(open(f).read()[-2000:] for f in glob.glob(str(tmp_path / 'logs' / '*.log')))
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:] + logs
    a, b = (np.load(tmp_path / f'rank_{r}_of_2.npz') for r in (0, 1))
    assert int(a['steps']) == 64 // (4 * 2)      # each rank saw half of every global batch
    names = [k for k in a.files if k != 'steps']
    for k in names:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    # and training moved the weights away from the seeded initialisation
    from tests.engine.toy import toy_network
    import mindspore as ms
    ms.set_seed(0)
    init = {p.name: p.asnumpy() for p in toy_network().get_parameters()}
    trained = {k.split('network.', 1)[-1]: a[k] for k in names}
    assert set(trained) == set(init)
    assert any(not np.allclose(init[k], trained[k]) for k in init)
    assert os.path.exists(tmp_path / 'run' / 'checkpoints' / 'latest.json')   # rank 0 wrote it
