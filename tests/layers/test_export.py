"""A small network of src.layers exports to MindIR with a dynamic time axis, for both impls."""
import numpy as np
import pytest

import mindspore as ms
from mindspore import nn, ops

from src.layers import STFT, Conv1d, Conv1dTranspose, Conv2d


class TinyAudioNet(nn.Cell):
    """Waveform -> log power spectrogram -> every layer type of src.layers."""

    def __init__(self, impl):
        super().__init__()
        self.stft = STFT(64, 16, pad_mode='reflect', impl=impl)
        self.conv1 = Conv1d(33, 8, 3, pad_mode='same', padding_mode='reflect', has_bias=True, impl=impl)
        self.conv2 = Conv1d(8, 8, 4, stride=2, pad_mode='valid', group=2, impl=impl)
        self.deconv = Conv1dTranspose(8, 4, 4, stride=2, pad_mode='valid', impl=impl)
        self.conv3 = Conv2d(1, 2, 3, pad_mode='pad', padding=1, has_bias=True, impl=impl)
        self.conv4 = Conv2d(2, 2, 3, pad_mode='same', impl=impl)      # row-tap gemm kernel

    def construct(self, wav):
        spec = ops.log(self.stft(wav) + 1e-6)                # (N, 33, frames)
        hidden = self.deconv(self.conv2(self.conv1(spec)))  # (N, 4, ~frames)
        image = ops.transpose(hidden.expand_dims(1), (0, 1, 3, 2))   # time on the rows, as PANNs
        return self.conv4(self.conv3(image))                 # (N, 2, ~frames, 4)


@pytest.fixture(scope='module')
def graph_mode():
    ms.set_context(mode=ms.GRAPH_MODE)
    yield
    ms.set_context(mode=ms.PYNATIVE_MODE)


def test_export_dynamic_time_axis_both_impls(tmp_path, graph_mode):
    outputs = {}
    for impl in ('native', 'gemm'):
        ms.set_seed(0)
        net = TinyAudioNet(impl)
        net.set_train(False)
        path = str(tmp_path / f'tiny_{impl}')
        ms.export(net, ms.Tensor(shape=[None, None], dtype=ms.float32), file_name=path,
                  file_format='MINDIR')
        loaded = nn.GraphCell(ms.load(path + '.mindir'))
        for length in (1000, 1537):   # two lengths through one exported graph
            wav = ms.Tensor(np.random.default_rng(length).standard_normal((2, length)).astype(np.float32))
            want = net(wav).asnumpy()
            got = loaded(wav).asnumpy()
            assert got.shape == want.shape
            np.testing.assert_allclose(got, want, atol=1e-5)
            outputs[impl, length] = got
    for length in (1000, 1537):
        np.testing.assert_allclose(outputs['gemm', length], outputs['native', length], atol=1e-4)


class StridedSameNet(nn.Cell):
    """'same' padding with a stride: the pad widths depend on the run-time length."""

    def __init__(self, impl):
        super().__init__()
        self.conv1 = Conv1d(2, 4, 2, stride=2, pad_mode='same', padding_mode='reflect', impl=impl)
        self.conv2 = Conv2d(1, 2, 3, stride=(3, 2), pad_mode='same', impl=impl)

    def construct(self, x):
        return self.conv2(self.conv1(x).expand_dims(1))


def test_export_same_padding_with_stride(tmp_path, graph_mode):
    for impl in ('native', 'gemm'):
        ms.set_seed(0)
        net = StridedSameNet(impl)
        net.set_train(False)
        path = str(tmp_path / f'strided_{impl}')
        ms.export(net, ms.Tensor(shape=[None, 2, None], dtype=ms.float32), file_name=path,
                  file_format='MINDIR')
        loaded = nn.GraphCell(ms.load(path + '.mindir'))
        for length in (40, 41, 46):   # even lengths need no padding in conv1, odd ones need one
            x = ms.Tensor(np.random.default_rng(length).standard_normal((3, 2, length)).astype(np.float32))
            want = net(x).asnumpy()
            assert want.shape == (3, 2, 2, (length + 1) // 2 // 2 + ((length + 1) // 2) % 2)
            np.testing.assert_allclose(loaded(x).asnumpy(), want, atol=1e-5)
