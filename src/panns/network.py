"""PANNs CNN audio taggers (Kong et al. 2020, "PANNs: Large-Scale Pretrained Audio Neural Networks").

The network takes raw 32 kHz audio, so an exported model does too:

    waveform (N, samples)
      -> power STFT (Hann 1024, hop 320, centred, reflect-padded)  frozen DFT kernels
      -> mel (librosa Slaney matrix, 64 bins, 50-14000 Hz)          frozen matrix ``melW``
      -> 10 log10(max(mel, 1e-10))                                   dB, ref 1, no top_db
      -> bn0: BatchNorm over the mel bins
      -> [SpecAugment, training only, off by default]
      -> conv blocks, each followed by 2x2 average pooling and dropout 0.2
      -> mean over frequency, then max + mean over time
      -> dropout 0.5, fc1 + ReLU = embedding -> fc_audioset + sigmoid = clipwise output

Block kinds: Cnn6 uses one 5x5 convolution + BatchNorm + ReLU per block (4 blocks, 64-512
channels); Cnn10 and Cnn14 use two 3x3 convolutions, each with BatchNorm + ReLU (4 blocks up to
512 channels, 6 blocks up to 2048; Cnn14's last block does not pool). Module names follow the
public PyTorch code (``spectrogram_extractor``, ``logmel_extractor.melW``, ``bn0``,
``conv_blockN.convM`` / ``bnM``, ``fc1``, ``fc_audioset``) so the converter
(:mod:`src.panns.convert`) maps keys one to one.

References: Kong et al., "PANNs", IEEE/ACM TASLP 2020 (arXiv:1912.10211); front end as
torchlibrosa's ``Spectrogram`` / ``LogmelFilterBank`` / ``SpecAugmentation``.
"""
import numpy as np

import mindspore as ms
from mindspore import Parameter, nn, ops

from src.layers import STFT, BatchNorm1d, Conv2d

# PyTorch BatchNorm defaults; MindSpore's momentum is the weight of the old running value.
BN_EPS = 1e-5
BN_MOMENTUM = 0.9
# power_to_db floor (torchlibrosa/librosa ``amin``): -100 dB; ref = 1.0 adds no offset.
POWER_FLOOR = 1e-10


def slaney_mel_matrix(sample_rate, n_fft, n_mels, fmin, fmax):
    """librosa's Slaney-style mel filterbank (area-normalised), transposed: (n_fft // 2 + 1, n_mels)."""
    import librosa   # imported on use: only building a network needs it
    mel = librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax,
                              htk=False, norm='slaney')
    return np.ascontiguousarray(mel.T, dtype=np.float32)


class LogMel(nn.Cell):
    """Power spectrogram (N, freq, frames) -> log-mel in dB (N, frames, mel).

    ``melW`` (freq, mel) is a frozen parameter, saved with checkpoints like torchlibrosa's.
    """

    def __init__(self, sample_rate, n_fft, n_mels, fmin, fmax):
        super().__init__()
        self.melW = Parameter(ms.Tensor(slaney_mel_matrix(sample_rate, n_fft, n_mels, fmin, fmax)),
                              name='melW', requires_grad=False)
        self.log10_scale = 10.0 / float(np.log(10.0))

    def construct(self, power):
        mel = ops.matmul(ops.transpose(power, (0, 2, 1)), self.melW)
        return self.log10_scale * ops.log(ops.maximum(mel, POWER_FLOOR))


class SpecAugment(nn.Cell):
    """Random time and frequency stripes set to zero, per example (torchlibrosa ``SpecAugmentation``).

    For each of ``time_stripes_num`` stripes a width w is drawn uniformly from
    {0, ..., time_drop_width - 1} and a start uniformly from {0, ..., frames - w - 1}; the same
    along frequency. Active only in training (``set_train(True)``); identity otherwise.

    Inputs: x (N, 1, frames, mel). Outputs: same shape.
    """

    def __init__(self, time_drop_width=64, time_stripes_num=2, freq_drop_width=8, freq_stripes_num=2):
        super().__init__()
        self.time_drop_width = time_drop_width
        self.time_stripes_num = time_stripes_num
        self.freq_drop_width = freq_drop_width
        self.freq_stripes_num = freq_stripes_num

    def _keep_mask(self, batch, size, drop_width, stripes):
        """(batch, size) float mask: 0 inside the random stripes, 1 elsewhere."""
        position = ops.arange(0, size, dtype=ms.float32).expand_dims(0)           # (1, size)
        keep = ops.ones((batch, size), ms.float32)
        for _ in range(stripes):
            width = ops.floor(ops.rand(batch, 1) * drop_width)
            start = ops.floor(ops.rand(batch, 1) * (size - width))
            inside = ops.logical_and(position >= start, position < start + width)
            keep = keep * (1.0 - inside.astype(ms.float32))
        return keep

    def construct(self, x):
        if not self.training:
            return x
        batch, frames, bins = x.shape[0], x.shape[2], x.shape[3]
        time_keep = self._keep_mask(batch, frames, self.time_drop_width, self.time_stripes_num)
        freq_keep = self._keep_mask(batch, bins, self.freq_drop_width, self.freq_stripes_num)
        return x * time_keep.reshape(batch, 1, frames, 1) * freq_keep.reshape(batch, 1, 1, bins)


def _conv(in_channels, out_channels, kernel):
    """Bias-free 'same' convolution (PyTorch padding kernel // 2), Xavier-uniform as the reference."""
    return Conv2d(in_channels, out_channels, kernel, pad_mode='pad', padding=kernel // 2,
                  has_bias=False, weight_init='xavier_uniform')


def _batch_norm(channels):
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


class ConvBlock(nn.Cell):
    """``convs`` x (k x k conv + BatchNorm + ReLU), then average pooling (``pool`` x ``pool``).

    ``convs=2, kernel=3`` is PANNs' ``ConvBlock`` (Cnn10/Cnn14), ``convs=1, kernel=5`` its
    ``ConvBlock5x5`` (Cnn6). Parameters ``conv1``/``bn1`` (and ``conv2``/``bn2``).
    Inputs: (N, C_in, frames, mel). Outputs: (N, C_out, frames // pool, mel // pool).
    """

    def __init__(self, in_channels, out_channels, kernel=3, convs=2, pool=2):
        super().__init__()
        self.conv1 = _conv(in_channels, out_channels, kernel)
        self.bn1 = _batch_norm(out_channels)
        self.convs = convs
        if convs == 2:
            self.conv2 = _conv(out_channels, out_channels, kernel)
            self.bn2 = _batch_norm(out_channels)
        elif convs != 1:
            raise ValueError(f"ConvBlock: convs must be 1 or 2, got {convs}")
        self.relu = nn.ReLU()
        self.pool = nn.AvgPool2d(pool, pool) if pool > 1 else nn.Identity()

    def construct(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        if self.convs == 2:
            x = self.relu(self.bn2(self.conv2(x)))
        return self.pool(x)


class PannsCnn(nn.Cell):
    """A PANNs CNN tagger; build it through :func:`Cnn14`, :func:`Cnn10` or :func:`Cnn6`.

    Args:
        architecture: 'cnn14', 'cnn10' or 'cnn6' (recorded for the converter's checks).
        channels: output channels of the conv blocks.
        kernel, convs: block kind, see :class:`ConvBlock`.
        last_pool: pooling of the last block (Cnn14: 1, no pooling).
        sample_rate, window_size, hop_size, mel_bins, fmin, fmax: the log-mel front end.
        classes_num: outputs of ``fc_audioset``.
        spec_augment: apply :class:`SpecAugment` (64-frame / 8-bin stripes, 2 each) in training.

    Inputs: waveform (N, samples) float32 at ``sample_rate``.
    Outputs: (clipwise_output (N, classes_num) in [0, 1], embedding (N, channels[-1])).
    Frames: 1 + samples // hop_size (centred STFT); at least 2 ** (pooling blocks) frames are
    needed for a non-empty time axis (16 for Cnn6/Cnn10, 32 for Cnn14: ~0.3 s at 32 kHz).
    """

    def __init__(self, architecture, channels, kernel, convs, last_pool=2, sample_rate=32000,
                 window_size=1024, hop_size=320, mel_bins=64, fmin=50, fmax=14000, classes_num=527,
                 spec_augment=False):
        super().__init__()
        self.architecture = architecture
        self.spectrogram_extractor = STFT(window_size, hop_size, window_size, window='hann',
                                          center=True, pad_mode='reflect', power=2.0)
        self.logmel_extractor = LogMel(sample_rate, window_size, mel_bins, fmin, fmax)
        self.bn0 = BatchNorm1d(mel_bins, eps=BN_EPS, momentum=BN_MOMENTUM)
        self.use_spec_augment = spec_augment
        self.spec_augmenter = SpecAugment() if spec_augment else nn.Identity()
        blocks = []
        in_channels = 1
        for i, out_channels in enumerate(channels):
            pool = last_pool if i == len(channels) - 1 else 2
            block = ConvBlock(in_channels, out_channels, kernel, convs, pool)
            # named conv_block1 ... as in the reference (keys map one to one)
            setattr(self, f'conv_block{i + 1}', block)
            blocks.append(block)
            in_channels = out_channels
        self.blocks = blocks
        self.block_dropout = nn.Dropout(p=0.2)
        self.head_dropout = nn.Dropout(p=0.5)
        width = channels[-1]
        self.fc1 = nn.Dense(width, width, weight_init='xavier_uniform', bias_init='zeros')
        self.fc_audioset = nn.Dense(width, classes_num, weight_init='xavier_uniform',
                                    bias_init='zeros')
        self.relu = nn.ReLU()
        self.sigmoid = nn.Sigmoid()

    def logmel(self, waveform):
        """Log-mel spectrogram in dB, before ``bn0``: (N, samples) -> (N, 1, frames, mel_bins).

        The reference's ``logmel_extractor(spectrogram_extractor(x))``.
        """
        return self.logmel_extractor(self.spectrogram_extractor(waveform)).expand_dims(1)

    def construct(self, waveform):
        """(N, samples) -> (clipwise_output (N, classes), embedding (N, width))."""
        x = self.logmel_extractor(self.spectrogram_extractor(waveform))    # (N, frames, mel)
        # bn0 normalises each mel bin: mel bins as channels
        x = self.bn0(ops.transpose(x, (0, 2, 1)))                         # (N, mel, frames)
        x = ops.transpose(x, (0, 2, 1)).expand_dims(1)                     # (N, 1, frames, mel)
        x = self.spec_augmenter(x)
        for block in self.blocks:
            x = self.block_dropout(block(x))
        x = x.mean(axis=3)                                                 # (N, C, frames')
        x = x.max(axis=2) + x.mean(axis=2)                                 # (N, C)
        x = self.relu(self.fc1(self.head_dropout(x)))
        embedding = self.head_dropout(x)
        # as the reference: the tagging head sees fc1's output without the embedding's dropout
        clipwise_output = self.sigmoid(self.fc_audioset(x))
        return clipwise_output, embedding


def Cnn14(sample_rate=32000, window_size=1024, hop_size=320, mel_bins=64, fmin=50, fmax=14000,
          classes_num=527, spec_augment=False):
    """PANNs Cnn14: six double-3x3 blocks (64 ... 2048 channels), 2048-d embedding, 80.8 M params."""
    return PannsCnn('cnn14', (64, 128, 256, 512, 1024, 2048), kernel=3, convs=2, last_pool=1,
                    sample_rate=sample_rate, window_size=window_size, hop_size=hop_size,
                    mel_bins=mel_bins, fmin=fmin, fmax=fmax, classes_num=classes_num,
                    spec_augment=spec_augment)


def Cnn10(sample_rate=32000, window_size=1024, hop_size=320, mel_bins=64, fmin=50, fmax=14000,
          classes_num=527, spec_augment=False):
    """PANNs Cnn10: four double-3x3 blocks (64 ... 512 channels), 512-d embedding, 5.2 M params."""
    return PannsCnn('cnn10', (64, 128, 256, 512), kernel=3, convs=2, sample_rate=sample_rate,
                    window_size=window_size, hop_size=hop_size, mel_bins=mel_bins, fmin=fmin,
                    fmax=fmax, classes_num=classes_num, spec_augment=spec_augment)


def Cnn6(sample_rate=32000, window_size=1024, hop_size=320, mel_bins=64, fmin=50, fmax=14000,
         classes_num=527, spec_augment=False):
    """PANNs Cnn6: four single-5x5 blocks (64 ... 512 channels), 512-d embedding, 4.8 M params."""
    return PannsCnn('cnn6', (64, 128, 256, 512), kernel=5, convs=1, sample_rate=sample_rate,
                    window_size=window_size, hop_size=hop_size, mel_bins=mel_bins, fmin=fmin,
                    fmax=fmax, classes_num=classes_num, spec_augment=spec_augment)


# architecture name (as :func:`src.panns.convert.infer_panns_config` reports it) -> factory
ARCHITECTURES = {'cnn14': Cnn14, 'cnn10': Cnn10, 'cnn6': Cnn6}
