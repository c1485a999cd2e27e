"""src.layers.weight_norm: PyTorch's weight_norm re-parametrisation and WeightNormConv1d."""
import numpy as np
import pytest

import mindspore as ms

from src.layers import WeightNormConv1d, layer_impl, weight_norm, weight_norm_magnitude


def numpy_weight_norm(v, g, dim):
    axes = tuple(range(v.ndim)) if dim is None else tuple(a for a in range(v.ndim) if a != dim)
    return g * v / np.sqrt((v.astype(np.float64) ** 2).sum(axis=axes, keepdims=True))


def numpy_conv1d(x, w, bias, padding, groups):
    """Cross-correlation of (N, C, L) with (O, C/groups, K), zero padding on both sides."""
    x = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (padding, padding)))
    out_channels, per_group, kernel = w.shape
    length = x.shape[2] - kernel + 1
    y = np.zeros((x.shape[0], out_channels, length))
    per_out = out_channels // groups
    for o in range(out_channels):
        g = o // per_out
        for k in range(kernel):
            y[:, o] += np.einsum('nct,c->nt', x[:, g * per_group:(g + 1) * per_group, k:k + length],
                                 w[o, :, k])
    return y + bias[None, :, None]


@pytest.mark.parametrize('dim', [0, 2, None])
def test_weight_norm_matches_numpy(dim):
    rng = np.random.default_rng(0)
    v = rng.standard_normal((6, 4, 5)).astype(np.float32)
    g = weight_norm_magnitude(v, dim) * rng.uniform(0.5, 1.5, weight_norm_magnitude(v, dim).shape)
    g = g.astype(np.float32)
    expected_g_shape = {0: (6, 1, 1), 2: (1, 1, 5), None: (1, 1, 1)}[dim]
    assert g.shape == expected_g_shape
    ours = weight_norm(ms.Tensor(v), ms.Tensor(g), dim).asnumpy()
    np.testing.assert_allclose(ours, numpy_weight_norm(v, g, dim), rtol=1e-5, atol=1e-6)
    # g = ||v|| reproduces v (PyTorch's initial state)
    np.testing.assert_allclose(numpy_weight_norm(v, weight_norm_magnitude(v, dim), dim), v, rtol=1e-5)


@pytest.mark.parametrize('impl', ['gemm', 'native'])
def test_weight_norm_conv1d_matches_numpy(impl, mode):
    rng = np.random.default_rng(1)
    with layer_impl(impl):
        conv = WeightNormConv1d(8, 12, 4, padding=2, groups=4, dim=2)
    assert {n: tuple(p.shape) for n, p in conv.parameters_and_names()} == {
        'weight_v': (12, 2, 4), 'weight_g': (1, 1, 4), 'bias': (12,)}
    v = rng.standard_normal((12, 2, 4)).astype(np.float32)
    g = rng.uniform(0.5, 2.0, (1, 1, 4)).astype(np.float32)
    bias = rng.standard_normal(12).astype(np.float32)
    conv.weight_v.set_data(ms.Tensor(v))
    conv.weight_g.set_data(ms.Tensor(g))
    conv.bias.set_data(ms.Tensor(bias))
    x = rng.standard_normal((2, 8, 9)).astype(np.float32)
    y = conv(ms.Tensor(x)).asnumpy()
    assert y.shape == (2, 12, 10)      # even kernel, padding 2: one frame longer
    np.testing.assert_allclose(y, numpy_conv1d(x, numpy_weight_norm(v, g, 2), bias, 2, 4),
                               rtol=1e-4, atol=1e-5)


def test_gradient_reaches_g_and_v(mode):
    # loss = sum(w * R): dL/dw = R; the chain rule through w = g v / ||v|| in numpy
    rng = np.random.default_rng(2)
    v = rng.standard_normal((6, 3, 4)).astype(np.float32)
    g = rng.uniform(0.5, 2.0, (1, 1, 4)).astype(np.float32)
    r = rng.standard_normal(v.shape).astype(np.float32)

    def loss(v_, g_):
        return (weight_norm(v_, g_, 2) * ms.Tensor(r)).sum()

    dv, dg = ms.grad(loss, grad_position=(0, 1))(ms.Tensor(v), ms.Tensor(g))
    norm = np.sqrt((v.astype(np.float64) ** 2).sum(axis=(0, 1), keepdims=True))
    direction = v / norm
    expected_dg = (r * direction).sum(axis=(0, 1), keepdims=True)
    expected_dv = g / norm * (r - (r * direction).sum(axis=(0, 1), keepdims=True) * direction)
    np.testing.assert_allclose(dg.asnumpy(), expected_dg, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(dv.asnumpy(), expected_dv, rtol=1e-4, atol=1e-5)


def test_conv_gradient_flows_to_both_parameters():
    conv = WeightNormConv1d(4, 4, 3, padding=1, groups=2)
    x = ms.Tensor(np.random.default_rng(3).standard_normal((2, 4, 7)).astype(np.float32))
    def energy(inp):
        return (conv(inp) ** 2).sum()

    grads = ms.grad(energy, grad_position=None, weights=conv.trainable_params())(x)
    names = [p.name for p in conv.trainable_params()]
    assert sorted(names) == ['bias', 'weight_g', 'weight_v']
    for name, grad in zip(names, grads):
        assert np.abs(grad.asnumpy()).max() > 0, name


def test_bad_dim_is_an_error():
    with pytest.raises(ValueError, match='dim must be in'):
        WeightNormConv1d(4, 4, 3, dim=3)
    with pytest.raises(ValueError, match='dim must be in'):
        weight_norm_magnitude(np.ones((2, 2, 2)), -4)
