"""Which convolution implementation a layer uses: MindSpore's kernel or im2col + GEMM.

MindSpore 2.10's CPU convolution runs oneDNN's reference kernel (10-150x slower than PyTorch,
see ``shared/reference/mindspore_cpu.md``), so on CPU the layers compute convolutions as
im2col + matrix multiplication. On GPU and Ascend the native kernels are fast, and a MindIR
exported for Ascend 310 must contain the native operators; :func:`conv_impl` forces one choice
for every layer built inside it.
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


def set_conv_impl(impl):
    """Set the process-wide implementation used by layers built with ``impl='auto'``.

    ``None`` or ``'auto'`` restores the device-dependent default. Returns the previous setting.
    """
    global _override
    previous = _override
    _override = None if impl in (None, 'auto') else check_impl(impl, 'set_conv_impl')
    return previous


@contextlib.contextmanager
def conv_impl(impl):
    """Context manager: layers built inside use ``impl`` wherever they were asked for 'auto'."""
    previous = set_conv_impl(impl)
    try:
        yield
    finally:
        set_conv_impl(previous)


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
