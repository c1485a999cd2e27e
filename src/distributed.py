"""Data-parallel set-up: who am I (rank), how many are we (world), the gradient reducer, work
shared over ranks (:func:`shard`, :func:`gather_to_rank0`) and HCCL rank tables.

Launchers set the environment: ``msrun`` (MS_WORKER_NUM, MS_ROLE ...), an Ascend rank table
(RANK_TABLE_FILE, RANK_ID, RANK_SIZE) or ``mpirun`` (OMPI_COMM_WORLD_SIZE). Without any of them
the run is a single process (rank 0 of 1) and no communication is initialised.

``python -m src.distributed rank_table_plan TABLE [SERVER_ID] [ADDRESSES]`` prints what
scripts/run_distribute_train_ascend.sh starts on this server (:func:`rank_table_plan`).
"""
import functools
import json
import os
import sys

import numpy as np

from .errors import UserError

LAUNCHER_VARIABLES = ('MS_WORKER_NUM', 'RANK_TABLE_FILE', 'OMPI_COMM_WORLD_SIZE')


def launched_distributed(environ=None):
    """True when a launcher started this process as one of several ranks."""
    env = os.environ if environ is None else environ
    if env.get('MS_WORKER_NUM'):
        return int(env['MS_WORKER_NUM']) > 1
    if env.get('RANK_TABLE_FILE'):
        return int(env.get('RANK_SIZE', '1')) > 1
    if env.get('OMPI_COMM_WORLD_SIZE'):
        return int(env['OMPI_COMM_WORLD_SIZE']) > 1
    return False


def init_distributed(device_target='CPU'):
    """Initialise communication if launched as several ranks; return (rank, world).

    HCCL on Ascend, NCCL on GPU and MindSpore's own collective library (gloo-like, "mccl") on
    CPU are all chosen by ``mindspore.communication.init()`` from the device target.
    """
    if not launched_distributed():
        return 0, 1
    import mindspore as ms
    from mindspore import communication
    communication.init()
    rank, world = communication.get_rank(), communication.get_group_size()
    ms.reset_auto_parallel_context()
    ms.set_auto_parallel_context(parallel_mode=ms.ParallelMode.DATA_PARALLEL,
                                 gradients_mean=True, device_num=world)
    return rank, world


def gradient_reducer(parameters, world):
    """Mean of the gradients over ranks (identity for a single process)."""
    from mindspore import nn
    if world <= 1:
        return nn.Identity()
    return nn.DistributedGradReducer(parameters, mean=True, degree=world)


# ------------------------------------------------------------------------------ shared work

def shard(n, rank=0, world=1):
    """This rank's share of ``n`` items: a contiguous block, the blocks differing by at most one
    item. Concatenated in rank order the blocks are ``0 .. n-1``, so :func:`gather_to_rank0` of
    per-item results restores the items' order."""
    return np.arange(n * rank // world, n * (rank + 1) // world)


@functools.lru_cache(maxsize=None)
def _all_gather_cell():
    import mindspore as ms
    from mindspore import nn, ops

    class AllGather(nn.Cell):
        """Rows of every rank, concatenated in rank order (compiled: MindSpore 2.10 has no eager
        AllGather kernel on CPU)."""

        def __init__(self):
            super().__init__()
            self.gather = ops.AllGather()

        @ms.jit
        def construct(self, x):
            return self.gather(x)

    return AllGather()


def _gather_rows(array, rank, world):
    import mindspore as ms
    cell = _all_gather_cell()
    counts = cell(ms.Tensor(np.array([len(array)], np.int32))).asnumpy()
    # same shape on every rank: pad to the longest share (one row at least: no empty tensors)
    rows = max(1, int(counts.max()))
    padded = np.zeros((rows,) + array.shape[1:], array.dtype)
    padded[:len(array)] = array
    gathered = cell(ms.Tensor(padded)).asnumpy().reshape((world, rows) + array.shape[1:])
    if rank != 0:
        return None
    return np.concatenate([gathered[r, :counts[r]] for r in range(world)])


def gather_to_rank0(value, rank=0, world=1):
    """The rows (axis 0) of every rank's ``value``, concatenated in rank order, on rank 0.

    Every rank must call it (a collective), with arrays of the same trailing shape and dtype;
    the number of rows may differ. A single process returns ``value`` itself, without any
    communication.

    Args:
        value: a numpy array, or a dict of them (gathered key by key).
        rank, world: this process's rank and the number of ranks.

    Returns:
        on rank 0 what ``value`` is, with the rows of all ranks; None on the other ranks.
    """
    if world <= 1:
        return value
    if isinstance(value, dict):
        parts = {key: _gather_rows(np.asarray(value[key]), rank, world) for key in sorted(value)}
        return parts if rank == 0 else None
    return _gather_rows(np.asarray(value), rank, world)


# ------------------------------------------------------------------------------ rank tables

class RankTableError(UserError):
    """An HCCL rank table that cannot be used."""


def read_rank_table(path):
    """The devices of an HCCL rank table (version 1.0, as hccl_tools.py writes it).

    Returns:
        list of ``(server_id, device_id, rank_id)``; the rank ids are 0 .. n-1, each once.

    Raises:
        RankTableError: not such a table, no device, or rank / device ids used twice or missing.
    """
    try:
        with open(path) as f:
            servers = json.load(f)["server_list"]
        devices = [(s["server_id"], int(d["device_id"]), int(d["rank_id"])) for s in servers for d in s["device"]]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise RankTableError(f"{path} is not a rank table (version 1.0: server_list[].device[].device_id, "
                             f"rank_id): {err!r}") from None
    if not devices:
        raise RankTableError(f"{path} lists no devices")
    ranks = sorted(rank for _, _, rank in devices)
    if ranks != list(range(len(devices))):
        raise RankTableError(f"{path}: the rank ids must be 0 .. {len(devices) - 1}, each once; got {ranks}")
    seen = set()
    for server, device, _ in devices:
        if (server, device) in seen:
            raise RankTableError(f"{path}: device {device} of server {server} is listed twice")
        seen.add((server, device))
    return devices


def rank_table_plan(path, server_id='', addresses=()):
    """What to start on this server for a rank table that may span several servers.

    Args:
        path: the rank table.
        server_id: this server's ``server_id`` in the table ('' = find it among ``addresses``,
            or the only server).
        addresses: this host's addresses and names.

    Returns:
        ``(rank_size, [(device_id, rank_id), ...])``: the devices of all servers, and this
        server's devices with their ranks.
    """
    devices = read_rank_table(path)
    ids = list(dict.fromkeys(server for server, _, _ in devices))
    if server_id:
        here = server_id
    elif len(ids) == 1:
        here = ids[0]
    else:
        here = next((a for a in addresses if a in ids), None)
    if here not in ids:
        raise RankTableError(f"{path} has servers {sorted(ids)}; set SERVER_ID to the one this is")
    return len(devices), [(device, rank) for server, device, rank in devices if server == here]


def main(argv):
    """``rank_table_plan TABLE [SERVER_ID] [ADDRESSES]``: the rank size on the first line, then
    ``device_id rank_id`` per device of this server; an error line and exit status 2."""
    if len(argv) < 2 or argv[0] != 'rank_table_plan':
        print("usage: python -m src.distributed rank_table_plan TABLE [SERVER_ID] [ADDRESSES]", file=sys.stderr)
        return 2
    try:
        size, local = rank_table_plan(argv[1], argv[2] if len(argv) > 2 else '',
                                      argv[3].split() if len(argv) > 3 else ())
    except RankTableError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(size)
    for device, rank in local:
        print(device, rank)
    return 0


def broadcast_scalar(value, rank, world):
    """Rank 0's ``value`` (a float, or None) on every rank; other ranks pass anything.

    Used for what every rank must agree on, such as the validation metric a ``plateau``
    schedule reacts to (evaluated on rank 0 alone, it would change only rank 0's rate)."""
    if world <= 1:
        return value
    import mindspore as ms
    known = rank == 0 and value is not None
    packed = np.array([[float(value) if known else 0.0, 1.0 if known else 0.0]], np.float32)
    rows = _all_gather_cell()(ms.Tensor(packed)).asnumpy()      # (world, 2), rank 0 first
    return float(rows[0, 0]) if rows[0, 1] > 0 else None


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
