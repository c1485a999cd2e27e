"""Which implementation a layer of :mod:`src.layers` uses: MindSpore's own cell or the CPU path.

Every layer with an ``impl`` argument has two implementations of the same function, parameters
and parameter names:

* ``'native'``: the operators of the MindSpore cell it replaces (``nn.Conv2d``, ``nn.LSTM`` ...).
  On GPU and Ascend they are fast, and a MindIR exported for Ascend 310 must contain them.
* ``'gemm'``: this project's CPU path. Convolutions become im2col + matrix multiplication
  (MindSpore 2.10's CPU convolution runs oneDNN's reference kernel, 10-150x slower than PyTorch,
  see ``shared/reference/mindspore_cpu.md``); recurrent layers run one oneDNN call per layer for
  both directions (LSTM) or one GEMM for the inputs and a hand-differentiated recurrence (GRU),
  see :mod:`src.layers.rnn`.

``'auto'`` picks by device target, and :func:`layer_impl` forces one choice for every layer built
inside it. ``conv_impl`` and ``set_conv_impl`` are the older names of :func:`layer_impl` and
:func:`set_layer_impl` (the same functions): they apply to every layer, not only convolutions.
"""
import contextlib

import mindspore as ms

IMPLS = ('auto', 'native', 'gemm')
_override = None


def check_impl(impl, owner='impl'):
    """Return ``impl`` if it is a known implementation name, else raise a one-line ValueError."""
    if impl not in IMPLS:
        raise ValueError(f"{owner}: impl must be one of {', '.join(map(repr, IMPLS))}, got {impl!r}")
    return impl


def set_layer_impl(impl):
    """Set the process-wide implementation used by layers built with ``impl='auto'``.

    ``None`` or ``'auto'`` restores the device-dependent default. Returns the previous setting.
    """
    global _override
    previous = _override
    _override = None if impl in (None, 'auto') else check_impl(impl, 'set_layer_impl')
    return previous


@contextlib.contextmanager
def layer_impl(impl):
    """Context manager: layers built inside use ``impl`` wherever they were asked for 'auto'."""
    previous = set_layer_impl(impl)
    try:
        yield
    finally:
        set_layer_impl(previous)


# the names from when only convolutions had two implementations; used by export and tests
set_conv_impl = set_layer_impl
conv_impl = layer_impl


def resolve_impl(impl, owner='impl'):
    """The concrete implementation ('native' or 'gemm') for a layer asked for ``impl``.

    'auto' follows the process-wide override if one is set, else the device target at the time
    the layer is built: 'gemm' on CPU, 'native' on GPU and Ascend. ``owner`` names the layer in
    the error message.
    """
    check_impl(impl, owner)
    if impl != 'auto':
        return impl
    if _override is not None:
        return _override
    return 'gemm' if ms.get_context('device_target') == 'CPU' else 'native'
