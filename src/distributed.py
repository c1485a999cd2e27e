"""Data-parallel set-up: who am I (rank), how many are we (world), and the gradient reducer.

Launchers set the environment: ``msrun`` (MS_WORKER_NUM, MS_ROLE ...), an Ascend rank table
(RANK_TABLE_FILE, RANK_ID, RANK_SIZE) or ``mpirun`` (OMPI_COMM_WORLD_SIZE). Without any of them
the run is a single process (rank 0 of 1) and no communication is initialised.
"""
import os

import numpy as np

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


def broadcast_scalar(value, rank, world):
    """Rank 0's ``value`` (a float, or None) on every rank; other ranks pass anything.

    Used for what every rank must agree on, such as the validation metric a ``plateau``
    schedule reacts to (evaluated on rank 0 alone, it would change only rank 0's rate)."""
    if world <= 1:
        return value
    import mindspore as ms
    from mindspore import ops
    known = rank == 0 and value is not None
    packed = ms.Tensor(np.array([float(value) if known else 0.0, 1.0 if known else 0.0], np.float32))
    summed = ops.AllReduce()(packed).asnumpy()
    return float(summed[0]) if summed[1] > 0 else None
