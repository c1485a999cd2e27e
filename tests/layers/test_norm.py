"""src.layers.norm: ChannelGroupNorm is torch's GroupNorm(C, C), LayerNorm torch's LayerNorm (in
training and eval mode), forward and gradients."""
import numpy as np

import mindspore as ms
from mindspore import nn, ops

from src.layers import ChannelGroupNorm, LayerNorm


def numpy_group_norm(x, weight, bias, eps):
    """GroupNorm with one group per channel, float64: (x - mean) / sqrt(var + eps) * w + b."""
    x = x.astype(np.float64)
    centred = x - x.mean(-1, keepdims=True)
    y = centred / np.sqrt((centred ** 2).mean(-1, keepdims=True) + eps)
    return y * weight[None, :, None] + bias[None, :, None]


class WeightedSum(nn.Cell):
    """sum(norm(x) * probe): its gradients are those of a loss with upstream gradient ``probe``."""

    def __init__(self, norm, probe):
        super().__init__()
        self.norm, self.probe = norm, probe

    def construct(self, x):
        return (self.norm(x) * self.probe).sum()


def test_channel_group_norm_matches_the_formula_and_its_gradients(mode):
    rng = np.random.default_rng(0)
    x = (3.0 * rng.standard_normal((2, 5, 37)) + 1.5).astype(np.float32)
    probe = rng.standard_normal(x.shape).astype(np.float32)
    weight = rng.uniform(0.5, 1.5, 5).astype(np.float32)
    bias = rng.standard_normal(5).astype(np.float32)
    norm = ChannelGroupNorm(5, eps=1e-3)
    assert [p.name for p in norm.trainable_params()] == ['weight', 'bias']
    norm.weight.set_data(ms.Tensor(weight))
    norm.bias.set_data(ms.Tensor(bias))
    np.testing.assert_allclose(norm(ms.Tensor(x)).asnumpy(), numpy_group_norm(x, weight, bias, 1e-3),
                               rtol=1e-5, atol=1e-5)
    cell = WeightedSum(norm, ms.Tensor(probe))
    _, (dx, (dw, db)) = ops.value_and_grad(cell, grad_position=0, weights=cell.trainable_params())(ms.Tensor(x))
    # central differences of the float64 formula along random directions
    step = 1e-4
    for direction in (rng.standard_normal(x.shape), np.eye(x.size)[17].reshape(x.shape)):
        loss = lambda d: (numpy_group_norm(x + d, weight, bias, 1e-3) * probe).sum()  # noqa: E731
        expected = (loss(step * direction) - loss(-step * direction)) / (2 * step)
        np.testing.assert_allclose((dx.asnumpy() * direction).sum(), expected, rtol=1e-3, atol=1e-3)
    y_hat = numpy_group_norm(x, np.ones(5), np.zeros(5), 1e-3)
    np.testing.assert_allclose(dw.asnumpy(), (probe * y_hat).sum((0, 2)), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(db.asnumpy(), probe.sum((0, 2)), rtol=1e-4, atol=1e-4)


def test_channel_group_norm_runs_in_a_dynamic_length_graph():
    class Wrap(nn.Cell):
        def __init__(self):
            super().__init__()
            self.norm = ChannelGroupNorm(3)

        def construct(self, x):
            return self.norm(x)

    ms.set_context(mode=ms.GRAPH_MODE)
    try:
        net = Wrap()
        net.set_inputs(ms.Tensor(shape=[None, 3, None], dtype=ms.float32))
        for length in (11, 20):
            x = np.random.default_rng(length).standard_normal((2, 3, length)).astype(np.float32)
            np.testing.assert_allclose(net(ms.Tensor(x)).asnumpy(),
                                       numpy_group_norm(x, np.ones(3), np.zeros(3), 1e-5), rtol=1e-4, atol=1e-5)
    finally:
        ms.set_context(mode=ms.PYNATIVE_MODE)


def numpy_layer_norm(x, weight, bias, eps):
    x = x.astype(np.float64)
    centred = x - x.mean(-1, keepdims=True)
    return centred / np.sqrt((centred ** 2).mean(-1, keepdims=True) + eps) * weight + bias


def test_layer_norm_is_the_same_in_training_and_eval_mode_with_torch_gradients(mode):
    rng = np.random.default_rng(1)
    x = (2.0 * rng.standard_normal((2, 3, 16)) - 1.0).astype(np.float32)
    probe = rng.standard_normal(x.shape).astype(np.float32)
    weight = rng.uniform(0.5, 1.5, 16).astype(np.float32)
    bias = rng.standard_normal(16).astype(np.float32)
    norm = LayerNorm(16, eps=1e-3)
    assert [p.name for p in norm.trainable_params()] == ['weight', 'bias']
    norm.weight.set_data(ms.Tensor(weight))
    norm.bias.set_data(ms.Tensor(bias))
    expected = numpy_layer_norm(x, weight, bias, 1e-3)
    y_hat = numpy_layer_norm(x, np.ones(16), np.zeros(16), 1e-3)
    step = 1e-4
    direction = rng.standard_normal(x.shape)
    loss = lambda d: (numpy_layer_norm(x + d, weight, bias, 1e-3) * probe).sum()  # noqa: E731
    directional = (loss(step * direction) - loss(-step * direction)) / (2 * step)
    for training in (True, False):
        norm.set_train(training)
        np.testing.assert_allclose(norm(ms.Tensor(x)).asnumpy(), expected, rtol=1e-5, atol=1e-5)
        cell = WeightedSum(norm, ms.Tensor(probe))
        cell.set_train(training)
        _, (dx, (dw, db)) = ops.value_and_grad(cell, grad_position=0, weights=cell.trainable_params())(
            ms.Tensor(x))
        np.testing.assert_allclose((dx.asnumpy() * direction).sum(), directional, rtol=1e-3, atol=1e-3)
        np.testing.assert_allclose(dw.asnumpy(), (probe * y_hat).sum((0, 1)), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(db.asnumpy(), probe.sum((0, 1)), rtol=1e-4, atol=1e-4)
