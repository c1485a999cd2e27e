"""Exact (erf) GELU, ``x * Phi(x)``, with a fast CPU path.

MindSpore 2.10's CPU GeLU kernel (``approximate='none'``) evaluates ``erf`` one element at a
time: 112 ms on 13 M values (wav2vec 2.0's first feature-encoder layer, 2 x 4 s), where a
multiplication takes 3 ms and ``exp`` 8 ms. The CPU path (``impl`` 'gemm', the name every layer
of :mod:`src.layers` gives its CPU path, see :mod:`src.layers.impl`) writes the GELU with those
vectorised operators, from the complementary error function of Abramowitz & Stegun 7.1.26
(absolute error below 1.5e-7, float32's resolution of values near 1):

    a = |x|,  t = 1 / (1 + p a / sqrt(2)),  q = t P(t) exp(-x^2 / 2) = erfc(a / sqrt(2))
    GELU(x) = (x + a - a q) / 2

and differentiates it by hand: ``GELU'(x) = Phi(x) + x phi(x)``, with ``Phi(x) = GELU(x) / x``
read from the forward's output (1/2 near 0) and ``phi`` the normal density.

References: Hendrycks & Gimpel, "Gaussian error linear units (GELUs)", 2016; Abramowitz &
Stegun, Handbook of Mathematical Functions, 7.1.26.
"""
import math

from mindspore import nn, ops

from .impl import resolve_impl

# Abramowitz & Stegun 7.1.26: erfc(z) ~ t (a1 + t (a2 + t (a3 + t (a4 + t a5)))) exp(-z^2),
# t = 1 / (1 + p z), for z >= 0
_P = 0.3275911
_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)
_P_SCALED = _P / math.sqrt(2.0)              # z = |x| / sqrt(2) folded into t
_DENSITY = 1.0 / math.sqrt(2.0 * math.pi)    # phi(x) = exp(-x^2 / 2) / sqrt(2 pi)
_SMALL = 1e-6                                # |x| below: Phi(x) = 1/2 (error < 4e-7)


def _gelu_polynomial(x):
    a = ops.abs(x)
    t = ops.reciprocal(a * _P_SCALED + 1.0)
    poly = t * _A[4] + _A[3]
    for coefficient in _A[2::-1]:
        poly = poly * t + coefficient
    q = poly * t * ops.exp(x * x * -0.5)                                  # erfc(|x| / sqrt(2))
    return (x + a - a * q) * 0.5


class _PolynomialGelu(nn.Cell):
    """The CPU path: vectorised operators forward, the derivative from the output backward."""

    def construct(self, x):
        return _gelu_polynomial(x)

    def bprop(self, x, out, dout):
        small = ops.abs(x) < _SMALL
        cdf = ops.select(small, ops.ones_like(x) * 0.5, out / ops.select(small, ops.ones_like(x), x))
        return ((cdf + x * ops.exp(x * x * -0.5) * _DENSITY) * dout,)


class GELU(nn.Cell):
    """Exact GELU ``x * Phi(x)`` (PyTorch's and transformers' 'gelu'; ``mindspore.nn.GELU``
    defaults to the tanh approximation), elementwise, any shape, float32.

    ``impl``: 'native' is MindSpore's GeLU kernel, 'gemm' the CPU path of the module doc, 'auto'
    picks by device target (:func:`src.layers.impl.resolve_impl`).
    """

    def __init__(self, impl='auto'):
        super().__init__()
        self.impl = resolve_impl(impl, 'GELU')
        if self.impl == 'gemm':
            self.polynomial = _PolynomialGelu()

    def construct(self, x):
        if self.impl == 'gemm':
            return self.polynomial(x)
        return ops.gelu(x, approximate='none')
