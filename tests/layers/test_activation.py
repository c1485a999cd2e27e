"""src.layers.activation: both implementations of the exact GELU and their gradients against
the float64 erf formula."""
import math

import numpy as np
import pytest

import mindspore as ms
from mindspore import nn, ops

from src.layers import GELU

GRID = np.concatenate([np.linspace(-15.0, 15.0, 30001),
                       [0.0, 1e-9, -1e-9, 1e-7, -3e-7, 2e-6, -2e-6, 1e-30]]).astype(np.float32)


def reference(x):
    x = x.astype(np.float64)
    cdf = 0.5 * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))
    return x * cdf, cdf + x * np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


class Summed(nn.Cell):
    def __init__(self, impl):
        super().__init__()
        self.activation = GELU(impl)

    def construct(self, x):
        return (self.activation(x) * 3.0).sum()


@pytest.mark.parametrize('impl', ['native', 'gemm'])
def test_gelu_is_exact_to_float32_resolution_with_its_gradient(impl, mode):
    value, slope = reference(GRID)
    x = ms.Tensor(GRID)
    np.testing.assert_allclose(GELU(impl)(x).asnumpy(), value, rtol=2e-6, atol=1e-6)
    grad = ops.grad(Summed(impl))(x).asnumpy()
    assert np.isfinite(grad).all()
    np.testing.assert_allclose(grad, 3.0 * slope, rtol=2e-6, atol=3e-6)


def test_gelu_impl_follows_layer_impl():
    from src.layers import layer_impl
    with layer_impl('native'):
        assert GELU().impl == 'native'
    with layer_impl('gemm'):
        assert GELU().impl == 'gemm'
    with pytest.raises(ValueError, match='GELU: impl must be one of'):
        GELU('fast')
