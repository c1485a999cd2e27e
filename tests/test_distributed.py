"""Launcher detection (msrun, rank table, mpirun) and the single-process default."""
from src.distributed import gradient_reducer, init_distributed, launched_distributed


def test_launcher_environments():
    assert not launched_distributed({})
    assert launched_distributed({'MS_WORKER_NUM': '2'})
    assert not launched_distributed({'MS_WORKER_NUM': '1'})
    assert launched_distributed({'RANK_TABLE_FILE': 'r.json', 'RANK_SIZE': '8'})
    assert launched_distributed({'OMPI_COMM_WORLD_SIZE': '4'})


def test_single_process_is_rank_zero_of_one(monkeypatch):
    for name in ('MS_WORKER_NUM', 'RANK_TABLE_FILE', 'OMPI_COMM_WORLD_SIZE'):
        monkeypatch.delenv(name, raising=False)
    assert init_distributed('CPU') == (0, 1)
    from mindspore import nn
    assert isinstance(gradient_reducer([], 1), nn.Identity)
