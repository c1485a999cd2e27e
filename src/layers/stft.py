"""Framing and short-time Fourier transform as matrix products (CPU-friendly, exportable).

The STFT is a strided 1-D convolution of the waveform with a windowed DFT basis: one output
channel per (frequency, real/imaginary part). It runs through :class:`src.layers.Conv1d`, so on
CPU it is a single im2col + GEMM and on GPU/Ascend the native convolution, and an exported MindIR
takes raw audio. Conventions follow ``librosa.stft``: periodic window of ``win_length`` centred
in ``n_fft``, ``center=True`` pads ``n_fft // 2`` on both sides (``pad_mode`` 'constant' as
librosa >= 0.10, or 'reflect' as torchlibrosa/PANNs), frame t starts at sample ``t * hop_length``
of the padded signal, ``n_fft // 2 + 1`` frequencies.
"""
import numpy as np
from scipy.signal import get_window

import mindspore as ms
from mindspore import nn, ops

from .conv import Conv1d
from .padding import pad_last2

PAD_MODES = ('constant', 'reflect')


def frame_signal(x, frame_length, hop_length):
    """Overlapping frames of ``x`` (N, T): (N, n_frames, frame_length), n_frames = 1 + (T - frame_length) // hop."""
    n = x.shape[0]
    cols = ops.unfold(x.reshape(n, 1, 1, -1), (1, frame_length), 1, 0, (1, hop_length))
    return ops.transpose(cols, (0, 2, 1))


def dft_basis(n_fft, win_length=None, window='hann'):
    """Windowed DFT basis (2 * (n_fft // 2 + 1), n_fft): rows of real parts, then imaginary parts.

    ``X[f] = sum_n w[n] x[n] exp(-2 pi i f n / n_fft)``, the sign convention of numpy and librosa.
    """
    win_length = win_length or n_fft
    if win_length > n_fft:
        raise ValueError(f"win_length ({win_length}) must not exceed n_fft ({n_fft})")
    win = get_window(window, win_length, fftbins=True).astype(np.float64)
    left = (n_fft - win_length) // 2
    win = np.pad(win, (left, n_fft - win_length - left))
    freqs = np.arange(n_fft // 2 + 1)[:, None]
    phase = 2 * np.pi * freqs * np.arange(n_fft)[None, :] / n_fft
    return np.concatenate([np.cos(phase) * win, -np.sin(phase) * win]).astype(np.float32)


class STFT(nn.Cell):
    """Short-time Fourier transform of a batch of waveforms.

    Args:
        n_fft, hop_length, win_length, window: as ``librosa.stft`` (hop defaults to n_fft // 4).
        center: pad ``n_fft // 2`` on both sides so that frame t is centred on sample t * hop.
        pad_mode: 'constant' (zeros, librosa's default) or 'reflect' (torchlibrosa, PANNs).
        power: None returns (real, imag); 1.0 the magnitude; 2.0 the power spectrogram.
        impl: convolution implementation, see :mod:`src.layers.impl`.

    Inputs: x (N, T) float32. Outputs: (N, n_fft // 2 + 1, n_frames), or a (real, imag) pair,
    n_frames = 1 + (T + 2 * (n_fft // 2) - n_fft) // hop with ``center`` (1 + T // hop for even
    n_fft), else 1 + (T - n_fft) // hop.
    The basis is a frozen parameter (``conv.weight``), saved with checkpoints like torchlibrosa's.
    """

    def __init__(self, n_fft, hop_length=None, win_length=None, window='hann', center=True,
                 pad_mode='constant', power=2.0, impl='auto'):
        super().__init__()
        if pad_mode not in PAD_MODES:
            raise ValueError(f"STFT: pad_mode must be one of {', '.join(map(repr, PAD_MODES))}, "
                             f"got {pad_mode!r}")
        if power not in (None, 1.0, 2.0):
            raise ValueError(f"STFT: power must be None, 1.0 or 2.0, got {power!r}")
        self.n_fft = n_fft
        self.hop_length = hop_length or n_fft // 4
        if n_fft < 2 or self.hop_length < 1:
            raise ValueError(f"STFT: need n_fft >= 2 and hop_length >= 1, got n_fft={n_fft}, "
                             f"hop_length={self.hop_length}")
        self.n_freq = n_fft // 2 + 1
        self.center = center
        self.pad_mode = pad_mode
        self.power = power
        basis = dft_basis(n_fft, win_length, window)[:, None, :]           # (O, 1, K)
        self.conv = Conv1d(1, 2 * self.n_freq, n_fft, stride=self.hop_length, pad_mode='valid',
                           weight_init=ms.Tensor(basis), impl=impl)
        self.conv.weight.requires_grad = False

    def construct(self, x):
        x = x.expand_dims(1)                                                # (N, 1, T)
        if self.center:
            half = self.n_fft // 2
            x = pad_last2(x, (0, 0, half, half), 'zeros' if self.pad_mode == 'constant' else 'reflect')
        spec = self.conv(x)                                                 # (N, 2F, frames)
        real, imag = spec[:, :self.n_freq], spec[:, self.n_freq:]
        if self.power is None:
            return real, imag
        power = real * real + imag * imag
        if self.power == 1.0:
            # the floor keeps the gradient finite where the power is exactly 0 (silence)
            return ops.sqrt(ops.maximum(power, 1e-30))
        return power
