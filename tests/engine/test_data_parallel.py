"""Data-parallel training under msrun on CPU: both ranks end with identical weights, two
machines give the weights of one, and evaluation work gathers to rank 0."""
import glob
import os
import shutil
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
MSRUN = shutil.which('msrun', path=os.path.dirname(sys.executable))
pytestmark = pytest.mark.skipif(MSRUN is None, reason='msrun not installed next to this python')


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def listening(port):
    with socket.socket() as s:
        return s.connect_ex(('127.0.0.1', port)) == 0


def msrun(out_dir, port, workers, local_workers, node_rank=None):
    """Start msrun for dp_worker.py (one "machine"); returns the process and its log folder."""
    logs = out_dir / (f'logs_node{node_rank}' if node_rank is not None else 'logs')
    cmd = [MSRUN, f'--worker_num={workers}', f'--local_worker_num={local_workers}',
           '--master_addr=127.0.0.1', f'--master_port={port}', '--join=True', f'--log_dir={logs}',
           '--cluster_time_out=60']
    if node_rank is not None:
        cmd.append(f'--node_rank={node_rank}')
    # msrun starts the workers with the 'python' found on PATH: make it this interpreter.
    env = dict(os.environ, GLOG_v='3', PYTHONPATH=os.path.dirname(os.path.dirname(HERE)),
               PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get('PATH', ''))
    process = subprocess.Popen(cmd + [os.path.join(HERE, 'dp_worker.py'), str(out_dir)], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return process, logs


def worker_logs(out_dir):
    return ''.join(open(f).read()[-2000:] for f in glob.glob(str(out_dir / 'logs*' / '*.log')))


def finish(process, out_dir, timeout=300):
    output, _ = process.communicate(timeout=timeout)
    return process.returncode, output[-2000:] + worker_logs(out_dir)


def weights(npz):
    """The network's parameters that dp_worker.py saved."""
    return {k: npz[k] for k in npz.files if k not in ('steps', 'others_got_none') and not k.startswith('gathered.')}


@pytest.fixture(scope='module')
def one_machine(tmp_path_factory):
    """One msrun, two workers: the reference run."""
    out = tmp_path_factory.mktemp('one_machine')
    process, _ = msrun(out, free_port(), 2, 2)
    code, log = finish(process, out)
    assert code == 0, log
    return out


def test_two_ranks_under_msrun_keep_identical_weights(one_machine):
    a, b = (np.load(one_machine / f'rank_{r}_of_2.npz') for r in (0, 1))
    assert int(a['steps']) == 64 // (4 * 2)      # each rank saw half of every global batch
    names = list(weights(a))
    assert names
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
    assert os.path.exists(one_machine / 'run' / 'checkpoints' / 'latest.json')   # rank 0 wrote it


def test_shares_of_different_sizes_gather_on_rank_0_in_order(one_machine):
    a, b = (np.load(one_machine / f'rank_{r}_of_2.npz') for r in (0, 1))
    np.testing.assert_array_equal(a['gathered.rows'], np.arange(21, dtype=np.float32).reshape(7, 3) / 7)
    assert a['gathered.ids'].tolist() == list(range(7))
    assert a['gathered.single'].tolist() == [[5.0]]          # rank 0's share was empty
    assert bool(b['others_got_none']) and 'gathered.rows' not in b.files


def test_two_machines_of_one_worker_give_the_weights_of_one_machine_of_two(one_machine, tmp_path):
    """Two msrun "machines" on 127.0.0.1 (--node_rank 0 and 1, one worker each).

    msrun starts its scheduler wherever the master address is local, so machine 1's own
    scheduler finds the port taken and fails (its exit status is 1), while its worker joins
    machine 0's scheduler: machine 0 only succeeds when the whole two-rank job did.
    """
    port = free_port()
    first, _ = msrun(tmp_path, port, 2, 1, node_rank=0)
    deadline = time.time() + 60
    while not listening(port) and time.time() < deadline and first.poll() is None:
        time.sleep(0.2)
    second, _ = msrun(tmp_path, port, 2, 1, node_rank=1)
    code_second, _ = finish(second, tmp_path)
    code_first, log = finish(first, tmp_path)
    assert code_first == 0, log
    reference = np.load(one_machine / 'rank_0_of_2.npz')
    for rank in (0, 1):
        got = np.load(tmp_path / f'rank_{rank}_of_2.npz')
        assert int(got['steps']) == 8
        assert set(weights(got)) == set(weights(reference))
        for k, v in weights(reference).items():
            np.testing.assert_array_equal(got[k], v, err_msg=f'rank {rank}: {k}')
    assert (tmp_path / 'logs_node1' / 'worker_1.log').exists()     # rank 1 ran on machine 1
    assert code_second in (0, 1)
