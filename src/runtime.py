"""Process set-up: device target, execution mode, CPU threads and log level, in one place.

Called by scripts, benchmarks and tests at start-up, never at import time.
"""
import os

MODES = {'graph': 0, 'pynative': 1}   # mindspore.GRAPH_MODE, mindspore.PYNATIVE_MODE
DEVICE_TARGETS = ('CPU', 'GPU', 'Ascend')
_threads_set = None


RECURSION_LIMIT = 4000


def set_up_runtime(device_target='CPU', mode='graph', threads=None, log_level=3, device_id=None):
    """Configure MindSpore for this process and return the settings used.

    Args:
        device_target: 'CPU', 'GPU' or 'Ascend'.
        mode: 'graph' (compiled, for training and benchmarks) or 'pynative' (eager).
        threads: CPU kernel threads; default: all cores this process may use. MindSpore allows
            one setting per process, so a later call with another number raises.
        log_level: MindSpore's GLOG_v (0 debug ... 3 error). Takes effect only if set before
            MindSpore's first import, so it is also exported for child processes.
        device_id: accelerator index (GPU/Ascend); default from $DEVICE_ID, else 0.
    """
    global _threads_set
    if device_target not in DEVICE_TARGETS:
        raise ValueError(f"device_target must be one of {', '.join(DEVICE_TARGETS)}, got {device_target!r}")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    os.environ.setdefault('GLOG_v', str(log_level))
    import mindspore as ms  # imported here so that GLOG_v above applies

    if device_target == 'CPU':
        ms.set_device('CPU')
    else:
        ms.set_device(device_target, int(os.environ.get('DEVICE_ID', 0)) if device_id is None else device_id)
    ms.set_context(mode=MODES[mode])
    # the optimizer's update of each parameter is one call of the compiled step: wav2vec 2.0
    # BASE (216 parameters) exceeds MindSpore's default call depth of 1000
    ms.set_recursion_limit(RECURSION_LIMIT)
    # CPU kernels run on every target (host-side operators on GPU and Ascend too).
    wanted = threads or len(os.sched_getaffinity(0))
    if _threads_set is None:
        # Without this some CPU kernels run on a single core.
        ms.device_context.cpu.op_tuning.threads_num(wanted)
        _threads_set = wanted
    elif wanted != _threads_set:
        raise RuntimeError(f"CPU threads already set to {_threads_set} in this process; "
                           "MindSpore allows one setting per process")
    if device_target == 'CPU':
        _disable_frontend_pipeline(ms)
    return {'device_target': device_target, 'mode': mode, 'threads': _threads_set}


def _disable_frontend_pipeline(ms):
    """Stop MindSpore's asynchronous frontend queue, which on CPU costs more than it saves.

    Its thread waits for work by spinning on sched_yield. With as few cores as this project's
    machines (2), that spinning thread takes a core from the kernel threads, and whole steps
    stall until the next 4 ms scheduler tick: measured on the DPRNN decoder layer, forward +
    backward took 12-20 ms in long phases instead of 1.7 ms, and the 128-channel ECAPA
    convolution 8-16 ms instead of 5 ms (strace: 62,000 sched_yield calls per 100 steps from
    that thread). The switch is not public API in MindSpore 2.10, hence the guard.
    """
    try:
        from mindspore.graph.api import _pynative_executor
        _pynative_executor.disable_frontend_and_bprop_pipeline()
    except (ImportError, AttributeError):   # another MindSpore version: keep its default
        pass
