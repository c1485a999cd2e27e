"""ECAPA-TDNN network: size, execution modes, length masking, gradients, BatchNorm semantics.

Numerical equality with speechbrain itself is checked by tests/tools/test_parity.py (the
reference bundle); here the network is checked against its own invariants and hand formulas.
"""
import numpy as np
import pytest

import mindspore as ms
from mindspore import nn

from src.ecapa_tdnn.network import EcapaTdnn, exact_relative_lengths, length_mask
from src.errors import ConfigError
from tests.helpers import randomise_batch_norms

TINY = dict(channels=(16, 16, 16, 16, 48), attention_channels=8, se_channels=8, res2net_scale=4,
            lin_neurons=16)
# one SE-Res2Net block: every kind of layer, a third of the graph to compile
ONE_BLOCK = dict(channels=(16, 16, 32), kernel_sizes=(5, 3, 1), dilations=(1, 2, 1),
                 groups=(1, 1, 1), attention_channels=8, se_channels=8, res2net_scale=4,
                 lin_neurons=16)
# speechbrain ECAPA_TDNN(80, channels=[1024]*4 + [3072], lin_neurons=192): trainable parameters
# and float buffers (running mean/var; the int64 num_batches_tracked counters excluded) as
# counted in PyTorch (shared/reference/param_counts_full.json: 38,431 buffer elements incl. 31
# counters).
FULL_PARAMS = 20_767_552
FULL_FLOAT_BUFFERS = 38_431 - 31


def speechbrain_param_count(input_size, channels, kernel_sizes, attention_channels=128,
                            res2net_scale=8, se_channels=128, global_context=True, groups=None,
                            lin_neurons=192):
    """Trainable parameters of speechbrain's ECAPA_TDNN, layer by layer from its definition."""
    groups = groups or [1] * len(channels)

    def conv(cin, cout, k, g=1):
        return cout * (cin // g) * k + cout

    def tdnn(cin, cout, k, g=1):                      # conv + BatchNorm weight and bias
        return conv(cin, cout, k, g) + 2 * cout

    total = tdnn(input_size, channels[0], kernel_sizes[0], groups[0])
    for i in range(1, len(channels) - 1):
        cin, c = channels[i - 1], channels[i]
        width = c // res2net_scale
        total += tdnn(cin, c, 1, groups[i]) + tdnn(c, c, 1, groups[i])
        total += (res2net_scale - 1) * tdnn(width, width, kernel_sizes[i])
        total += conv(c, se_channels, 1) + conv(se_channels, c, 1)
        total += conv(cin, c, 1) if cin != c else 0                      # shortcut
    total += tdnn(channels[-2] * (len(channels) - 2), channels[-1], kernel_sizes[-1], groups[-1])
    total += tdnn(channels[-1] * (3 if global_context else 1), attention_channels, 1)
    total += conv(attention_channels, channels[-1], 1)
    total += 2 * 2 * channels[-1] + conv(2 * channels[-1], lin_neurons, 1)   # asp_bn, fc
    return total


def count(net):
    trainable = sum(p.size for p in net.trainable_params())
    buffers = sum(p.size for p in net.get_parameters() if not p.requires_grad)
    return trainable, buffers


def features(batch=2, frames=40, seed=0, size=80):
    return np.random.default_rng(seed).standard_normal((batch, frames, size)).astype(np.float32)


def eval_net(config, seed=0):
    """A network in eval mode with non-trivial BatchNorm statistics (else BN is an identity)."""
    ms.set_seed(seed)
    net = EcapaTdnn(**config)
    net.set_train(False)
    return randomise_batch_norms(net, seed + 1)


@pytest.fixture(scope='module')
def tiny_net():
    return eval_net(TINY)


def in_graph_mode(fn):
    ms.set_context(mode=ms.GRAPH_MODE)
    try:
        return fn()
    finally:
        ms.set_context(mode=ms.PYNATIVE_MODE)


def test_the_formula_gives_the_published_size():
    full = dict(input_size=80, channels=[1024] * 4 + [3072], kernel_sizes=[5, 3, 3, 3, 1])
    assert speechbrain_param_count(**full) == FULL_PARAMS


def test_full_c1024_network_has_speechbrains_parameter_count():
    net = EcapaTdnn()
    trainable, buffers = count(net)
    assert trainable == FULL_PARAMS
    assert buffers == FULL_FLOAT_BUFFERS
    net.set_train(False)
    out = net(ms.Tensor(features(batch=1, frames=12))).asnumpy()
    assert out.shape == (1, 1, 192) and np.isfinite(out).all()


@pytest.mark.parametrize('config', [
    dict(channels=(512, 512, 512, 512, 1536)),
    dict(input_size=40, channels=(32, 64, 64, 64, 96), kernel_sizes=(3, 3, 5, 3, 1),
         attention_channels=16, res2net_scale=4, se_channels=8, global_context=False,
         groups=(1, 2, 4, 1, 2), lin_neurons=24),
], ids=['c512', 'shortcut-groups-no-context'])
def test_variant_parameter_counts_follow_speechbrains_layout(config):
    args = dict(input_size=80, kernel_sizes=(5, 3, 3, 3, 1))
    args.update(config)
    expected = speechbrain_param_count(**{k: v for k, v in args.items() if k != 'dilations'})
    assert count(EcapaTdnn(**args))[0] == expected


def test_output_shape_and_batch_of_one_equals_the_row_of_a_batch(tiny_net):
    x = features(batch=3)
    full = tiny_net(ms.Tensor(x)).asnumpy()
    assert full.shape == (3, 1, 16)
    single = tiny_net(ms.Tensor(x[1:2])).asnumpy()
    assert single.shape == (1, 1, 16)
    np.testing.assert_allclose(single, full[1:2], rtol=1e-5, atol=1e-6)


def test_graph_mode_equals_pynative_with_and_without_lengths():
    net = eval_net(ONE_BLOCK)
    x, lengths = ms.Tensor(features(seed=2)), ms.Tensor(np.array([1.0, 0.55], np.float32))
    eager = net(x).asnumpy(), net(x, lengths).asnumpy()
    graph = in_graph_mode(lambda: (net(x).asnumpy(), net(x, lengths).asnumpy()))
    np.testing.assert_allclose(graph[0], eager[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(graph[1], eager[1], rtol=1e-5, atol=1e-6)


def test_graph_mode_with_a_dynamic_time_axis():
    net = eval_net(ONE_BLOCK)
    inputs = [features(batch=2, frames=37, seed=3), features(batch=1, frames=52, seed=4)]
    eager = [net(ms.Tensor(x)).asnumpy() for x in inputs]

    def run():
        net.set_inputs(ms.Tensor(shape=[None, None, 80], dtype=ms.float32))
        return [net(ms.Tensor(x)).asnumpy() for x in inputs]
    graph = in_graph_mode(run)
    for g, e in zip(graph, eager):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)


def test_lengths_change_only_the_shortened_utterances(tiny_net):
    x = ms.Tensor(features(seed=5))
    plain = tiny_net(x).asnumpy()
    full_lengths = tiny_net(x, ms.Tensor(np.ones(2, np.float32))).asnumpy()
    np.testing.assert_allclose(full_lengths, plain, rtol=1e-5, atol=1e-6)
    masked = tiny_net(x, ms.Tensor(np.array([1.0, 0.6], np.float32))).asnumpy()
    np.testing.assert_allclose(masked[0], plain[0], rtol=1e-5, atol=1e-6)
    assert np.abs(masked[1] - plain[1]).max() > 1e-3


def test_pad_at_lengths_gives_each_padded_utterance_its_embedding_alone():
    """Batched evaluation pads utterances to a few lengths: with pad_at_lengths the convolutions
    reflect at each utterance's own end, so padding changes nothing (speechbrain's batches, the
    default, differ near the end by the receptive field). Lengths one and two frames short of the
    padded length cover the mirror reaching past the padded end."""
    net = eval_net(ONE_BLOCK, seed=4)
    rng = np.random.default_rng(11)
    frames, total = [60, 41, 23, 59, 58], 60
    alone = [rng.standard_normal((1, n, 80)).astype(np.float32) for n in frames]
    batch = ms.Tensor(np.concatenate([np.pad(x, ((0, 0), (0, total - x.shape[1]), (0, 0))) for x in alone]))
    lengths = ms.Tensor(exact_relative_lengths(frames, total))
    expected = np.concatenate([net(ms.Tensor(x)).asnumpy() for x in alone])
    speechbrain = net(batch, lengths).asnumpy()
    assert np.abs(speechbrain[1:3] - expected[1:3]).max() > 1e-4
    for exact in (net(batch, lengths, True).asnumpy(), in_graph_mode(lambda: net(batch, lengths, True).asnumpy())):
        np.testing.assert_allclose(exact, expected, rtol=1e-5, atol=1e-6)
    # the relative lengths mark exactly the valid frames (15 / 50 in float32 marks 16)
    mask = length_mask(ms.Tensor(exact_relative_lengths([15, 50, 1], 50)), ms.Tensor(np.zeros((3, 1, 50), np.float32)))
    assert mask.asnumpy().sum(axis=(1, 2)).tolist() == [15, 50, 1]


def test_length_mask_counts_frames_like_speechbrain_in_float32():
    # speechbrain: arange(T) < lengths * T, both float32. 0.3 * 50 is 15.000001 in float32, so
    # frame 15 counts (16 frames); 0.53 * 100 is 52.999996, so 53 frames (0..52).
    for frames, lengths, expected in [(50, [0.3, 1.0, 0.5], [16, 50, 25]),
                                      (100, [0.53, 0.15, 0.999], [53, 16, 100])]:
        x = ms.Tensor(np.zeros((len(lengths), 4, frames), np.float32))
        mask = length_mask(ms.Tensor(np.array(lengths, np.float32)), x).asnumpy()
        assert mask.shape == (len(lengths), 1, frames)
        reference = (np.arange(frames, dtype=np.float32)[None, :]
                     < np.array(lengths, np.float32)[:, None] * np.float32(frames))
        np.testing.assert_array_equal(mask[:, 0], reference.astype(np.float32))
        assert mask.sum(axis=(1, 2)).tolist() == expected
        # the valid frames are a prefix
        assert all(mask[i, 0, :n].all() and not mask[i, 0, n:].any() for i, n in enumerate(expected))


class _EmbeddingLoss(nn.Cell):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def construct(self, x, lengths):
        return (self.net(x, lengths) ** 2).sum()


def _gradients(net, x, lengths):
    loss_net = _EmbeddingLoss(net)
    grad_fn = ms.value_and_grad(loss_net, None, net.trainable_params())
    loss, grads = grad_fn(x, lengths)
    return float(loss.asnumpy()), [g.asnumpy() for g in grads]


def test_gradients_flow_to_every_parameter_in_graph_mode_as_in_pynative():
    ms.set_seed(0)
    net = EcapaTdnn(**ONE_BLOCK)
    net.set_train(True)
    x, lengths = ms.Tensor(features(batch=3, seed=6)), ms.Tensor(np.array([1.0, 0.8, 0.6], np.float32))
    eager_loss, eager = _gradients(net, x, lengths)
    graph_loss, graph = in_graph_mode(lambda: _gradients(net, x, lengths))
    assert np.isclose(graph_loss, eager_loss, rtol=1e-5)
    names = [n for n, p in net.parameters_and_names() if p.requires_grad]
    for name, g, e in zip(names, graph, eager):
        assert np.isfinite(g).all(), name
        np.testing.assert_allclose(g, e, rtol=2e-4, atol=1e-5 * max(1.0, np.abs(e).max()), err_msg=name)
    for name, g in zip(names, graph):          # every parameter receives a gradient
        assert np.abs(g).max() > 0, name


def test_finite_difference_of_one_weight_matches_the_gradient():
    net = eval_net(ONE_BLOCK, seed=1)
    x, lengths = ms.Tensor(features(batch=2, seed=7)), ms.Tensor(np.array([1.0, 0.7], np.float32))
    _, grads = _gradients(net, x, lengths)
    names = [n for n, p in net.parameters_and_names() if p.requires_grad]
    index = names.index('blocks.1.res2net_block.blocks.1.conv.weight')
    param, grad = net.trainable_params()[index], grads[index]
    position = np.unravel_index(np.argmax(np.abs(grad)), grad.shape)
    base = param.asnumpy().copy()
    step = 1e-2
    values = []
    for sign in (1, -1):
        w = base.copy()
        w[position] += sign * step
        param.set_data(ms.Tensor(w))
        values.append(float((net(x, lengths) ** 2).sum().asnumpy()))
    param.set_data(ms.Tensor(base))
    numeric = (values[0] - values[1]) / (2 * step)
    assert np.isclose(numeric, grad[position], rtol=2e-2)


def test_batchnorm_in_training_uses_batch_statistics_and_pytorch_momentum():
    ms.set_seed(0)
    net = EcapaTdnn(**TINY)
    net.set_train(True)
    norm = net.blocks[0].norm
    x = features(batch=4, seed=8)
    conv_out = np.maximum(net.blocks[0].conv(ms.Tensor(x.transpose(0, 2, 1))).asnumpy(), 0)
    y = net.blocks[0](ms.Tensor(x.transpose(0, 2, 1))).asnumpy()
    mean, var = conv_out.mean(axis=(0, 2)), conv_out.var(axis=(0, 2))
    expected = (conv_out - mean[:, None]) / np.sqrt(var[:, None] + 1e-5)   # gamma 1, beta 0
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-4)
    # PyTorch: running = 0.9 * running + 0.1 * batch, with the unbiased batch variance
    n = conv_out.shape[0] * conv_out.shape[2]
    np.testing.assert_allclose(norm.moving_mean.asnumpy(), 0.1 * mean, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(norm.moving_variance.asnumpy(), 0.9 + 0.1 * var * n / (n - 1),
                               rtol=1e-4)


@pytest.mark.parametrize('bad, message', [
    (dict(kernel_sizes=(5, 3, 3)), 'kernel_sizes has 3 entries'),
    (dict(channels=(16, 48), kernel_sizes=(5, 1), dilations=(1, 1), groups=(1, 1)), 'at least 3'),
    (dict(channels=(18, 18, 18, 18, 48)), 'divisible by res2net_scale'),
])
def test_inconsistent_configs_are_config_errors(bad, message):
    args = dict(TINY)
    args.update(bad)
    with pytest.raises(ConfigError, match=message):
        EcapaTdnn(**args)


def attentive_pooling_reference(x, lengths, pooling, global_context):
    """speechbrain's AttentiveStatisticsPooling in numpy (eval mode), with the [x; mean; std]
    concatenation done literally."""
    params = {n: p.asnumpy().astype(np.float64) for n, p in pooling.parameters_and_names()}
    n, c, t = x.shape
    mask = (np.arange(t, dtype=np.float32)[None, :]
            < np.asarray(lengths, np.float32)[:, None] * np.float32(t)).astype(np.float64)[:, None, :]

    def stats(weights):
        mean = (weights * x).sum(2)
        std = np.sqrt(np.maximum((weights * (x - mean[:, :, None]) ** 2).sum(2), 1e-12))
        return mean, std
    if global_context:
        mean, std = stats(mask / mask.sum(2, keepdims=True))
        attn = np.concatenate([x, np.repeat(mean[:, :, None], t, 2), np.repeat(std[:, :, None], t, 2)], 1)
    else:
        attn = x
    hidden = np.einsum('ac,nct->nat', params['tdnn.conv.weight'][:, :, 0, 0], attn)
    hidden = np.maximum(hidden + params['tdnn.conv.bias'][:, None], 0)
    hidden = ((hidden - params['tdnn.norm.moving_mean'][:, None])
              / np.sqrt(params['tdnn.norm.moving_variance'][:, None] + 1e-5)
              * params['tdnn.norm.gamma'][:, None] + params['tdnn.norm.beta'][:, None])
    logits = np.einsum('ca,nat->nct', params['conv.weight'][:, :, 0, 0], np.tanh(hidden))
    logits = np.where(mask > 0, logits + params['conv.bias'][:, None], -np.inf)
    weights = np.exp(logits - logits.max(2, keepdims=True))
    mean, std = stats(weights / weights.sum(2, keepdims=True))
    return np.concatenate([mean, std], 1)[:, :, None]


@pytest.mark.parametrize('global_context', [True, False])
def test_attentive_pooling_matches_speechbrains_formula(global_context):
    from src.ecapa_tdnn.network import AttentiveStatisticsPooling
    ms.set_seed(3)
    pooling = AttentiveStatisticsPooling(12, attention_channels=6, global_context=global_context)
    rng = np.random.default_rng(9)
    for name, p in pooling.parameters_and_names():
        low = 0.5 if name.endswith(('variance', 'gamma')) else -0.5
        p.set_data(ms.Tensor(rng.uniform(low, low + 1, p.shape).astype(np.float32)))
    pooling.set_train(False)
    x = rng.standard_normal((3, 12, 30)) + rng.uniform(-2, 2, (3, 12, 1))      # channel offsets
    x = x.astype(np.float32)
    lengths = np.array([1.0, 0.5, 0.3], np.float32)
    out = pooling(ms.Tensor(x), ms.Tensor(lengths)).asnumpy()
    expected = attentive_pooling_reference(x.astype(np.float64), lengths, pooling, global_context)
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5)
    full = pooling(ms.Tensor(x)).asnumpy()
    np.testing.assert_allclose(full, attentive_pooling_reference(x.astype(np.float64), np.ones(3), pooling,
                                                                global_context), rtol=1e-4, atol=1e-5)


def test_shortcut_grouped_variant_without_global_context_runs():
    net = eval_net(dict(input_size=40, channels=(32, 64, 64, 96), kernel_sizes=(3, 3, 5, 1),
                        dilations=(1, 2, 3, 1), attention_channels=16, res2net_scale=4,
                        se_channels=8, global_context=False, groups=(1, 2, 4, 2), lin_neurons=24))
    x = ms.Tensor(features(batch=2, frames=30, seed=10, size=40))
    out = net(x, ms.Tensor(np.array([1.0, 0.5], np.float32))).asnumpy()
    assert out.shape == (2, 1, 24) and np.isfinite(out).all()
    assert net.blocks[1].has_shortcut and not net.blocks[2].has_shortcut
