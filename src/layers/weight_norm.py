"""Weight normalisation (Salimans & Kingma 2016) as PyTorch's ``weight_norm(module, dim)``.

MindSpore has none. The weight is re-parametrised as ``w = g * v / ||v||``: ``v`` has the
weight's shape, ``g`` the weight's shape with 1 on every axis but ``dim``, and the norm is taken
over every axis but ``dim`` (``dim=None``: over the whole tensor, ``g`` a (1, ..., 1) scalar).
Autodiff of that expression gives PyTorch's gradients for ``g`` and ``v``. At construction
``g = ||v||``, so the initial weight is ``v`` (as PyTorch).

References: Salimans & Kingma, "Weight normalization: a simple reparameterization to accelerate
training of deep neural networks", NeurIPS 2016; ``torch.nn.utils.parametrizations.weight_norm``.
"""
import numpy as np

from mindspore import Parameter, Tensor, ops

from .conv import TorchLayoutConv1d


def _norm_axes(ndim, dim):
    if dim is None:
        return tuple(range(ndim))
    if not -ndim <= dim < ndim:
        raise ValueError(f"weight_norm: dim must be in [{-ndim}, {ndim - 1}] or None, got {dim}")
    dim %= ndim
    return tuple(axis for axis in range(ndim) if axis != dim)


def weight_norm_magnitude(v, dim):
    """numpy ``g`` for which ``weight_norm(v, g, dim)`` is ``v``: ``||v||`` over every axis but ``dim``."""
    v = np.asarray(v, np.float32)
    return np.sqrt((v.astype(np.float64) ** 2).sum(axis=_norm_axes(v.ndim, dim),
                                                    keepdims=True)).astype(np.float32)


def weight_norm(v, g, dim):
    """``g * v / ||v||`` with the norm over every axis of ``v`` but ``dim`` (None: all axes)."""
    axes = _norm_axes(len(v.shape), dim)
    return v * (g / ops.sqrt((v * v).sum(axes, keepdims=True)))


class WeightNormConv1d(TorchLayoutConv1d):
    """PyTorch's ``weight_norm(nn.Conv1d(...), dim=dim)``: a 1-D convolution with zero padding
    ``padding`` on both sides, ``groups`` and ``bias``, whose weight is ``weight_g * weight_v /
    ||weight_v||`` (the fast convolution of :mod:`src.layers.conv`).

    Parameters: ``weight_v`` (out, in/groups, k), ``weight_g`` (the weight's shape with 1 on
    every axis but ``dim``; ``dim=2``: (1, 1, k), wav2vec 2.0's positional convolution),
    ``bias`` (out,).

    Inputs: x (N, in, L). Output: (N, out, (L + 2 * padding - k) // stride + 1).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, groups=1,
                 bias=True, dim=2, weight_init=None, impl='auto'):
        super().__init__(in_channels, out_channels, kernel_size, stride, pad_mode='pad',
                         padding=padding, group=groups, has_bias=bias, weight_init=weight_init,
                         impl=impl)
        self.dim = dim
        v = self.weight.asnumpy()
        _norm_axes(v.ndim, dim)     # check dim now, not at the first call
        del self.weight
        self.weight_v = Parameter(Tensor(v), name='weight_v')
        self.weight_g = Parameter(Tensor(weight_norm_magnitude(v, dim)), name='weight_g')

    def construct(self, x):
        weight = weight_norm(self.weight_v, self.weight_g, self.dim)
        return self._conv4d(x.expand_dims(2), weight.expand_dims(2)).squeeze(2)
