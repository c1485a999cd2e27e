"""Launcher detection (msrun, rank table, mpirun), the single-process default, shards, and
rank tables (their launch: tests/test_launch_scripts.py; gathering over ranks:
tests/engine/test_data_parallel.py)."""
import json

import numpy as np
import pytest

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


def test_shards_are_contiguous_blocks_that_cover_every_item_once():
    from src.distributed import shard
    for n, world in ((10, 3), (2, 4), (0, 2), (7, 1)):
        blocks = [shard(n, r, world) for r in range(world)]
        assert np.concatenate(blocks).tolist() == list(range(n))
        assert max(map(len, blocks)) - min(map(len, blocks)) <= 1


def test_a_single_process_gathers_without_communication():
    from src.distributed import gather_to_rank0
    rows = np.arange(6.0).reshape(3, 2)
    assert gather_to_rank0(rows) is rows
    both = {'a': rows, 'b': np.arange(3)}
    assert gather_to_rank0(both, 0, 1) is both


def write_table(path, servers):
    table = {'version': '1.0', 'server_list': [
        {'server_id': server, 'device': [{'device_id': str(d), 'rank_id': str(r)} for d, r in devices]}
        for server, devices in servers.items()]}
    path.write_text(json.dumps(table))
    return str(path)


def test_rank_table_spanning_servers(tmp_path, capsys):
    from src.distributed import RankTableError, main, rank_table_plan
    table = write_table(tmp_path / 't.json', {'10.0.0.1': [(0, 0), (1, 1)], '10.0.0.2': [(0, 2), (1, 3)]})
    assert rank_table_plan(table, '10.0.0.2') == (4, [(0, 2), (1, 3)])
    assert rank_table_plan(table, '', ['host', '10.0.0.1']) == (4, [(0, 0), (1, 1)])
    with pytest.raises(RankTableError, match='set SERVER_ID'):
        rank_table_plan(table, '', ['10.9.9.9'])
    assert main(['rank_table_plan', table, '10.0.0.2']) == 0
    assert capsys.readouterr().out.split('\n') == ['4', '0 2', '1 3', '']
    assert main(['rank_table_plan', str(tmp_path / 'missing.json')]) == 2
    assert 'is not a rank table' in capsys.readouterr().err
