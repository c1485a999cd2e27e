"""DPRNNTasNet: the FULL configuration's parameters against asteroid's key list and count, the
parts against numpy (filterbanks, normalisations including the chunk padding, mask softmax),
output lengths, run-time lengths in graph mode and the configuration errors.

The whole network against asteroid itself: tests/tools/test_parity.py (the bundles in tests/data).
"""
import os

import numpy as np
import pytest

import mindspore as ms

from src.dprnn.framing import frames
from src.dprnn.network import DPRNNTasNet, make_norm
from src.errors import ConfigError
from tests.helpers import raises_one_line

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FULL_KEYS = os.path.join(ROOT, 'tests', 'data', 'dprnn_tasnet_full_keys.tsv')
FULL_PARAMETERS = 3_652_865      # shared/reference/param_counts_full.json (asteroid, PyTorch)
TINY = dict(n_filters=8, kernel_size=4, stride=2, bn_chan=6, hid_size=4, chunk_size=6, n_repeats=1)


def tiny(**changes):
    ms.set_seed(0)
    net = DPRNNTasNet(**dict(TINY, **changes))
    net.set_train(False)
    return net


def waveform(batch, samples, seed=0):
    return np.random.default_rng(seed).standard_normal((batch, samples)).astype(np.float32)


def read_keys(path):
    """{key: shape} of a shared/reference/keys TSV (key, shape, dtype, kind)."""
    with open(path) as f:
        rows = [line.rstrip('\n').split('\t') for line in f][1:]
    return {key: tuple(int(n) for n in shape.strip('[]').split(',') if n.strip())
            for key, shape, _, _ in rows}


def test_full_configuration_has_asteroids_keys_shapes_and_count():
    net = DPRNNTasNet()        # asteroid's defaults (n_src 2, 6 repeats); building it is cheap
    ours = {name: tuple(p.shape) for name, p in net.parameters_and_names()}
    assert ours == read_keys(FULL_KEYS)
    assert len(ours) == 158
    assert sum(p.size for p in net.trainable_params()) == FULL_PARAMETERS
    assert sum(p.size for p in net.get_parameters()) == FULL_PARAMETERS


def strided_conv(wave, filters, stride):
    """numpy conv1d(wave (B, T), filters (N, 1, k), stride), no padding: (B, frames, N)."""
    kernel = filters.shape[-1]
    count = (wave.shape[1] - kernel) // stride + 1
    return np.stack([wave[:, j * stride:j * stride + kernel] @ filters[:, 0].T for j in range(count)], 1)


def transposed_conv(spec, filters, stride):
    """numpy conv_transpose1d(spec (B, frames, N), filters (N, 1, k), stride): (B, samples)."""
    batch, count, _ = spec.shape
    kernel = filters.shape[-1]
    out = np.zeros((batch, (count - 1) * stride + kernel))
    for j in range(count):
        out[:, j * stride:j * stride + kernel] += spec[:, j] @ filters[:, 0]
    return out


@pytest.mark.parametrize('kernel,stride', [(4, 2), (2, 1), (5, 3), (3, 5)])
def test_encoder_and_decoder_are_the_strided_convolution_and_its_transpose(kernel, stride):
    net = tiny(kernel_size=kernel, stride=stride)
    wave = waveform(2, 29)
    filters = net.encoder.filterbank._filters.asnumpy()
    np.testing.assert_allclose(net.encoder(ms.Tensor(wave)).asnumpy(),
                               strided_conv(wave, filters, stride), atol=1e-5)
    spec = waveform(1, 3 * 9 * 8).reshape(1, 9, 3, 8)          # (B, frames, n_src, n_filters)
    filters = net.decoder.filterbank._filters.asnumpy()
    covered = 8 * stride + kernel
    # pad_x_to_y: cut, or right zeros up to the input length (which the encoder's frames leave
    # less than one stride uncovered)
    for length in (covered - 3, covered + stride - 1):
        decoded = net.decoder(ms.Tensor(spec), length).asnumpy()
        for source in range(3):
            expected = np.zeros((1, length))
            full = transposed_conv(spec[:, :, source], filters, stride)[:, :length]
            expected[:, :full.shape[1]] = full
            np.testing.assert_allclose(decoded[:, source], expected, atol=1e-5)


def z_norm(x, axes, gamma, beta):
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + 1e-8) * gamma + beta


def test_global_layer_norm_counts_the_padding_of_the_chunks():
    # gLN of the DPRNN blocks normalises each example over channels, chunk frames and chunks,
    # the zero padding of the first and last chunks included
    rng = np.random.default_rng(3)
    features = (2.0 + rng.standard_normal((2, 9, 5))).astype(np.float32)    # (B, F, C), mean 2
    chunks = frames(ms.Tensor(features), 4, 2, 4)                          # (B, S, K, C)
    norm = make_norm('gLN', 5, 4)
    gamma, beta = rng.standard_normal(5).astype(np.float32), rng.standard_normal(5).astype(np.float32)
    norm.gamma.set_data(ms.Tensor(gamma))
    norm.beta.set_data(ms.Tensor(beta))
    padded = np.pad(features, ((0, 0), (4, 4), (0, 0)))
    by_hand = np.stack([padded[:, j * 2:j * 2 + 4] for j in range(7)], 1)  # (9 + 4) // 2 + 1 chunks
    ours = norm(chunks).asnumpy()
    np.testing.assert_allclose(ours, z_norm(by_hand, (1, 2, 3), gamma, beta), atol=1e-5)
    # with the statistics of the real frames alone (no padding) the result is far off
    mean, std = features.mean(axis=(1, 2)), features.std(axis=(1, 2))
    real_stats = (by_hand - mean[:, None, None, None]) / std[:, None, None, None] * gamma + beta
    assert np.abs(ours - real_stats).max() > 0.5


@pytest.mark.parametrize('norm_type,axes', [('cLN', (3,)), ('fgLN', (1, 2)), ('ChanLN', (3,))])
def test_channel_and_feature_wise_norms(norm_type, axes):
    x = np.random.default_rng(4).standard_normal((2, 3, 4, 5)).astype(np.float32)
    ours = make_norm(norm_type, 5, 4)(ms.Tensor(x)).asnumpy()
    np.testing.assert_allclose(ours, z_norm(x, axes, 1.0, 0.0), atol=1e-5)


@pytest.mark.parametrize('samples', [8000, 8001, 7993, 8007])
def test_output_has_the_input_length_and_zeros_past_the_decoder(samples):
    # kernel 16, stride 8: F = (T - 16) // 8 + 1 frames decode to (F - 1) * 8 + 16 samples, the
    # rest (T - 16) % 8 is zero-padded on the right (asteroid's pad_x_to_y)
    net = tiny(kernel_size=16, stride=8)
    out = net(ms.Tensor(waveform(1, samples))).asnumpy()
    assert out.shape == (1, 2, samples)
    covered = ((samples - 16) // 8) * 8 + 16
    assert covered == samples - (samples - 16) % 8
    assert np.all(out[..., covered:] == 0) and np.all(np.abs(out[..., covered - 8:covered]) > 0)


def test_softmax_masks_sum_to_one_over_the_mask_bins():
    # asteroid applies Softmax(dim=1) to (batch * n_src, bins, frames): over the bins, per source
    net = tiny(mask_act='softmax', n_src=3)
    masks = net.masker(net.encoder(ms.Tensor(waveform(2, 50)))).asnumpy()   # (B, F, n_src, bins)
    assert masks.shape == (2, 24, 3, 8)
    np.testing.assert_allclose(masks.sum(axis=-1), 1.0, atol=1e-5)
    assert not np.allclose(masks.sum(axis=2), 1.0, atol=1e-3)


def test_sigmoid_masks_and_prelu_parameters():
    net = tiny()
    masks = net.masker(net.encoder(ms.Tensor(waveform(1, 40)))).asnumpy()
    assert np.all((masks > 0) & (masks < 1))
    assert net.masker.first_out[0].weight.asnumpy().tolist() == [0.25]       # torch.nn.PReLU()
    names = {name for name, _ in tiny(mask_act='prelu', encoder_activation='prelu').parameters_and_names()}
    assert {'masker.output_act.weight', 'enc_activation.weight'} <= names


@pytest.mark.parametrize('changes', [{}, dict(bidirectional=False, hop_size=4, n_src=3, use_mulcat=True)])
def test_run_time_lengths_in_graph_mode_match_pynative(changes):
    net = tiny(**changes)
    inputs = [waveform(2, samples, seed) for seed, samples in enumerate((61, 80, 47))]
    expected = [net(ms.Tensor(x)).asnumpy() for x in inputs]
    ms.set_context(mode=ms.GRAPH_MODE)
    try:
        net.set_inputs(ms.Tensor(shape=[None, None], dtype=ms.float32))
        for x, reference in zip(inputs, expected):
            np.testing.assert_allclose(net(ms.Tensor(x)).asnumpy(), reference, atol=1e-6)
    finally:
        ms.set_context(mode=ms.PYNATIVE_MODE)


@pytest.mark.parametrize('changes,parts', [
    (dict(fb_name='stft'), ["fb_name 'stft'", "free"]),
    (dict(out_chan=10), ['out_chan 10', 'n_filters 8']),
    (dict(in_chan=7), ['in_chan 7']),
    (dict(rnn_type='SRU'), ['rnn_type', 'LSTM']),
    (dict(norm_type='cgLN'), ["norm_type 'cgLN'", 'gLN']),
    (dict(mask_act='sigmoidal'), ["activation 'sigmoidal'", "'sigmoid'"]),
    (dict(chunk_size=0), ['chunk_size must be a positive integer']),
    (dict(chunk_size=1), ['hop_size (chunk_size // 2)']),
    (dict(dropout=1.5), ['dropout']),
])
def test_bad_arguments_are_one_line_config_errors(changes, parts):
    raises_one_line(ConfigError, lambda: DPRNNTasNet(**dict(TINY, **changes)), *parts)


def test_defaults_follow_asteroid():
    net = tiny(chunk_size=7, stride=None, kernel_size=6)
    assert net.masker.hop_size == 3                    # chunk_size // 2
    assert net.encoder.filterbank.stride == 3          # kernel_size // 2
    assert net.n_src == 2


def test_dynamic_length_mindir_export_runs_any_length(tmp_path):
    from mindspore import nn
    net = tiny(kernel_size=16, stride=8)
    ms.set_context(mode=ms.GRAPH_MODE)
    try:
        ms.export(net, ms.Tensor(shape=[1, None], dtype=ms.float32), file_name=str(tmp_path / 'dprnn'),
                  file_format='MINDIR')
        exported = nn.GraphCell(ms.load(str(tmp_path / 'dprnn.mindir')))
        for samples in (801, 1000):
            x = waveform(1, samples, samples)
            out = exported(ms.Tensor(x)).asnumpy()
            assert out.shape == (1, 2, samples)
            np.testing.assert_allclose(out, net(ms.Tensor(x)).asnumpy(), atol=1e-6)
    finally:
        ms.set_context(mode=ms.PYNATIVE_MODE)


def test_initialisation_follows_pytorchs_defaults():
    ms.set_seed(0)
    net = DPRNNTasNet(n_repeats=1)
    filters = net.encoder.filterbank._filters.asnumpy()                 # xavier_normal_ (64, 1, 16)
    assert filters.std() == pytest.approx(np.sqrt(2.0 / (16 + 64 * 16)), rel=0.1)
    for layer, fan_in in ((net.masker.bottleneck[1], 64), (net.masker.first_out[1], 128),
                          (net.masker.mask_net, 128)):
        weight = layer.weight.asnumpy()                                 # kaiming_uniform_(a=sqrt(5))
        bound = 1.0 / np.sqrt(fan_in)
        assert np.abs(weight).max() <= bound and np.abs(weight).max() > 0.9 * bound
    assert np.abs(net.masker.bottleneck[1].bias.asnumpy()).max() <= 1.0 / 8
    gln = net.masker.net[0].intra_norm
    assert np.all(gln.gamma.asnumpy() == 1) and np.all(gln.beta.asnumpy() == 0)
