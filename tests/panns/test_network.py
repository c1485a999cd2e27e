"""PANNs Cnn14/Cnn10/Cnn6: sizes, front end vs librosa, conv block vs numpy, modes, export, SpecAugment.

Numerical equality of a whole network with the PyTorch reference is checked by
tests/tools/test_parity.py (the Cnn6 bundle); here the parts are checked against independent
implementations.
"""
import os

import numpy as np
import pytest

import mindspore as ms
from mindspore import nn

from src.panns.network import ARCHITECTURES, Cnn6, Cnn10, Cnn14, ConvBlock, SpecAugment
from tests.helpers import randomise_batch_norms

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# shared/reference/param_counts_full.json (PyTorch, 527 classes): trainable parameters,
# all parameters (+ the frozen STFT kernels 2 x 513 x 1024 and mel matrix 513 x 64) and buffers
# (BatchNorm running mean/var + one int64 num_batches_tracked per BatchNorm)
REFERENCE = {
    'cnn14': dict(trainable=80_753_615, total=81_837_071, buffers=16_269, batch_norms=13),
    'cnn10': dict(trainable=5_219_279, total=6_302_735, buffers=3_977, batch_norms=9),
    'cnn6': dict(trainable=4_837_455, total=5_920_911, buffers=2_053, batch_norms=5),
}


def waveform(batch=1, samples=8000, seed=0):
    return (0.1 * np.random.default_rng(seed).standard_normal((batch, samples))).astype(np.float32)





@pytest.fixture(scope='module')
def cnn6():
    ms.set_seed(0)
    net = randomise_batch_norms(Cnn6(classes_num=10))
    net.set_train(False)
    return net


@pytest.mark.parametrize('architecture', ['cnn14', 'cnn10', 'cnn6'])
def test_parameter_counts_equal_the_reference(architecture):
    net = ARCHITECTURES[architecture]()
    reference = REFERENCE[architecture]
    trainable = sum(p.size for p in net.trainable_params())
    frozen = [p for p in net.get_parameters() if not p.requires_grad]
    moving = sum(p.size for p in frozen if 'moving_' in p.name)
    front_end = sum(p.size for p in frozen if 'moving_' not in p.name)
    assert trainable == reference['trainable']
    assert front_end == reference['total'] - reference['trainable'] == 2 * 513 * 1024 + 513 * 64
    assert moving == reference['buffers'] - reference['batch_norms']


def test_factories_use_the_reference_widths():
    assert Cnn14(classes_num=3).fc1.weight.shape == (2048, 2048)
    net = Cnn10(classes_num=3)
    assert net.conv_block4.conv2.weight.shape == (512, 512, 3, 3)
    assert Cnn6(classes_num=3).conv_block4.conv1.weight.shape == (512, 256, 5, 5)
    assert net.fc_audioset.weight.shape == (3, 512)


def test_logmel_matches_librosa(cnn6):
    librosa = pytest.importorskip('librosa')
    x = waveform(2, 6400, seed=3)
    ours = cnn6.logmel(ms.Tensor(x)).asnumpy()
    power = np.abs(librosa.stft(x.astype(np.float64), n_fft=1024, hop_length=320, window='hann',
                                center=True, pad_mode='reflect')) ** 2          # (2, 513, frames)
    mel = librosa.filters.mel(sr=32000, n_fft=1024, n_mels=64, fmin=50, fmax=14000)
    expected = 10 * np.log10(np.maximum(np.einsum('mf,bft->btm', mel, power), 1e-10))
    assert ours.shape == (2, 1, 1 + 6400 // 320, 64)
    np.testing.assert_allclose(ours[:, 0], expected, atol=2e-3, rtol=1e-4)


def numpy_conv_block(x, block, convs):
    """ConvBlock in eval mode with numpy: (conv 'same' zero-padded + BN + ReLU) x convs, 2x2 avg pool."""
    for i in range(1, convs + 1):
        w = getattr(block, f'conv{i}').weight.asnumpy().astype(np.float64)
        bn = getattr(block, f'bn{i}')
        k = w.shape[-1]
        padded = np.pad(x, ((0, 0), (0, 0), (k // 2, k // 2), (k // 2, k // 2)))
        h, wd = x.shape[2], x.shape[3]
        out = np.zeros((x.shape[0], w.shape[0], h, wd))
        for di in range(k):
            for dj in range(k):
                out += np.einsum('oc,nchw->nohw', w[:, :, di, dj], padded[:, :, di:di + h, dj:dj + wd])
        c = (slice(None), None, None)
        out = (out - bn.moving_mean.asnumpy()[c]) / np.sqrt(bn.moving_variance.asnumpy()[c] + 1e-5)
        x = np.maximum(out * bn.gamma.asnumpy()[c] + bn.beta.asnumpy()[c], 0)
    n, ch, h, wd = x.shape
    x = x[:, :, :h // 2 * 2, :wd // 2 * 2]        # odd sizes: the last row/column is dropped
    return x.reshape(n, ch, h // 2, 2, wd // 2, 2).mean(axis=(3, 5))


@pytest.mark.parametrize('kernel,convs', [(3, 2), (5, 1)])
def test_conv_block_matches_numpy(kernel, convs):
    ms.set_seed(1)
    block = ConvBlock(3, 4, kernel, convs)
    block.conv1.weight.set_data(ms.Tensor(np.random.default_rng(2).standard_normal(
        block.conv1.weight.shape).astype(np.float32)))
    randomise_batch_norms(block)
    block.set_train(False)
    x = np.random.default_rng(0).standard_normal((2, 3, 9, 7)).astype(np.float32)
    ours = block(ms.Tensor(x)).asnumpy()
    assert ours.shape == (2, 4, 4, 3)
    np.testing.assert_allclose(ours, numpy_conv_block(x.astype(np.float64), block, convs),
                               rtol=1e-4, atol=1e-5)


def test_head_pools_max_plus_mean_over_time(cnn6):
    # the embedding is ReLU(fc1(max_t + mean_t of the frequency mean)); recompute it from the blocks
    x = ms.Tensor(waveform(2, 8000, seed=4))
    clipwise, embedding = cnn6(x)
    features = cnn6.logmel_extractor(cnn6.spectrogram_extractor(x))
    h = cnn6.bn0(features.transpose(0, 2, 1)).transpose(0, 2, 1).expand_dims(1)
    for block in cnn6.blocks:
        h = block(h)
    h = h.asnumpy().astype(np.float64).mean(axis=3)
    pooled = h.max(axis=2) + h.mean(axis=2)
    fc1_w, fc1_b = cnn6.fc1.weight.asnumpy(), cnn6.fc1.bias.asnumpy()
    expected_embedding = np.maximum(pooled @ fc1_w.T + fc1_b, 0)
    head_w, head_b = cnn6.fc_audioset.weight.asnumpy(), cnn6.fc_audioset.bias.asnumpy()
    expected_clipwise = 1 / (1 + np.exp(-(expected_embedding @ head_w.T + head_b)))
    np.testing.assert_allclose(embedding.asnumpy(), expected_embedding, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(clipwise.asnumpy(), expected_clipwise, rtol=1e-4, atol=1e-6)


def test_graph_mode_equals_pynative(cnn6):
    x = ms.Tensor(waveform(2, 8000, seed=5))
    eager = [t.asnumpy() for t in cnn6(x)]
    ms.set_context(mode=ms.GRAPH_MODE)
    try:
        graph = [t.asnumpy() for t in cnn6(x)]
    finally:
        ms.set_context(mode=ms.PYNATIVE_MODE)
    for a, b in zip(graph, eager):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_training_mode_applies_dropout(cnn6):
    x = ms.Tensor(waveform(2, 8000, seed=6))
    cnn6.set_train(True)
    try:
        first, second = cnn6(x)[1].asnumpy(), cnn6(x)[1].asnumpy()
    finally:
        cnn6.set_train(False)
    assert not np.allclose(first, second)
    np.testing.assert_array_equal(cnn6(x)[1].asnumpy(), cnn6(x)[1].asnumpy())


def test_export_fixed_and_dynamic_waveform(cnn6, tmp_path):
    x = waveform(1, 32000, seed=7)
    expected = [t.asnumpy() for t in cnn6(ms.Tensor(x))]
    fixed = str(tmp_path / 'cnn6_fixed')
    ms.export(cnn6, ms.Tensor(x), file_name=fixed, file_format='MINDIR')
    dynamic = str(tmp_path / 'cnn6_dynamic')
    ms.export(cnn6, ms.Tensor(shape=[1, None], dtype=ms.float32), file_name=dynamic,
              file_format='MINDIR')
    for path in (fixed, dynamic):
        outputs = nn.GraphCell(ms.load(path + '.mindir'))(ms.Tensor(x))
        for a, b in zip(outputs, expected):
            np.testing.assert_allclose(a.asnumpy(), b, rtol=1e-5, atol=1e-6)
    shorter = waveform(1, 12000, seed=8)
    outputs = nn.GraphCell(ms.load(dynamic + '.mindir'))(ms.Tensor(shorter))
    for a, b in zip(outputs, cnn6(ms.Tensor(shorter))):
        np.testing.assert_allclose(a.asnumpy(), b.asnumpy(), rtol=1e-5, atol=1e-6)


def test_spec_augment_zeroes_at_most_the_configured_stripes():
    ms.set_seed(3)
    augment = SpecAugment(time_drop_width=10, time_stripes_num=2, freq_drop_width=8,
                          freq_stripes_num=2)
    x = np.ones((4, 1, 50, 64), np.float32)
    augment.set_train(False)
    np.testing.assert_array_equal(augment(ms.Tensor(x)).asnumpy(), x)
    augment.set_train(True)
    masked_any = False
    for _ in range(5):
        y = augment(ms.Tensor(x)).asnumpy()[:, 0]
        assert set(np.unique(y)) <= {0.0, 1.0}
        for example in y:
            dropped_frames = np.flatnonzero(~example.any(axis=1))
            dropped_bins = np.flatnonzero(~example.any(axis=0))
            # every zero lies in a dropped frame or a dropped bin: stripes, nothing else
            zeros = example == 0
            assert np.array_equal(zeros, np.logical_or.outer(~example.any(axis=1), ~example.any(axis=0)))
            assert len(dropped_frames) <= 2 * 9 and len(dropped_bins) <= 2 * 7
            masked_any |= len(dropped_frames) > 0 and len(dropped_bins) > 0
    assert masked_any


def test_spec_augment_is_off_by_default_and_inactive_in_eval(cnn6):
    assert isinstance(Cnn6(classes_num=2).spec_augmenter, nn.Identity)
    ms.set_seed(0)
    augmented = Cnn6(classes_num=10, spec_augment=True)
    ms.load_param_into_net(augmented, {n: p for n, p in cnn6.parameters_and_names()})
    augmented.set_train(False)
    x = ms.Tensor(waveform(1, 8000, seed=9))
    np.testing.assert_array_equal(augmented(x)[0].asnumpy(), cnn6(x)[0].asnumpy())


def test_one_training_step_updates_trainable_parameters_only():
    ms.set_seed(0)
    net = Cnn6(classes_num=4, spec_augment=True)
    net.set_train(True)
    x = ms.Tensor(waveform(2, 8000, seed=10))
    target = ms.Tensor(np.array([[1, 0, 0, 1], [0, 1, 0, 0]], np.float32))
    loss_fn = nn.BCELoss(reduction='mean')

    def forward(waveform_batch, labels):
        return loss_fn(net(waveform_batch)[0], labels)

    grad_fn = ms.value_and_grad(forward, None, net.trainable_params())
    loss, grads = grad_fn(x, target)
    assert np.isfinite(loss.asnumpy())
    names = [p.name for p in net.trainable_params()]
    assert 'spectrogram_extractor.conv.weight' not in names and 'logmel_extractor.melW' not in names
    norms = {n: float(np.abs(g.asnumpy()).sum()) for n, g in zip(names, grads)}
    assert all(np.isfinite(v) for v in norms.values())
    assert norms['conv_block1.conv1.weight'] > 0 and norms['bn0.gamma'] > 0
