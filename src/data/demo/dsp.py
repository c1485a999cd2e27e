"""Signal helpers the demo corpora share: the synthesis STFT and its overlap-add inverse, noise,
gains and smoothing (numpy/scipy only)."""
from functools import lru_cache

import numpy as np
import scipy.fft

# The sample rate of the speech demo corpora (VoxCeleb, MUSAN, RIRS_NOISES), Hz.
SAMPLE_RATE = 16000
# The synthesis STFT: 32 ms frames, 8 ms hop (hop divides the frame: exact overlap-add).
N_FFT = 512
HOP = 128


@lru_cache(maxsize=None)
def _window():
    """Periodic Hann window of the synthesis STFT."""
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)


@lru_cache(maxsize=None)
def bin_freqs(sample_rate):
    return np.fft.rfftfreq(N_FFT, 1.0 / sample_rate)


def num_frames(num_samples):
    """STFT frames whose overlap-add covers ``num_samples`` samples plus the edges."""
    return -(-num_samples // HOP) + N_FFT // HOP - 1


def stft(wave, n_frames):
    """Frames ``t * hop : t * hop + n_fft`` of ``wave`` (zero-padded), windowed, rfft.

    Returns: complex64 ``(n_frames, n_fft // 2 + 1)``.
    """
    padded = np.zeros((n_frames - 1) * HOP + N_FFT, dtype=np.float32)
    padded[:min(len(wave), len(padded))] = wave[:len(padded)]
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP]
    return scipy.fft.rfft(frames * _window(), axis=-1)


def istft(spectrum, num_samples):
    """Overlap-add inverse of :func:`stft`, the ``num_samples`` samples after the first
    ``n_fft - hop`` (where every sample is covered by ``n_fft / hop`` frames).

    Needs ``n_frames >= num_frames(num_samples)``. The squared periodic Hann window at a
    quarter-frame hop sums to exactly 1.5 at every fully covered sample.
    """
    frames = scipy.fft.irfft(spectrum, n=N_FFT, axis=-1) * _window()
    n_frames = frames.shape[0]
    out = np.zeros((n_frames - 1) * HOP + N_FFT, dtype=np.float32)
    for part in range(N_FFT // HOP):
        # Part k of frame t lands at samples (t + k) * hop ...: one strided add per part.
        segment = frames[:, part * HOP:(part + 1) * HOP]
        out[part * HOP:(part + n_frames) * HOP] += segment.reshape(-1)
    start = N_FFT - HOP
    return out[start:start + num_samples] / 1.5


def complex_noise(rng, shape):
    """White complex STFT coefficients of unit mean power, complex64.

    Real and imaginary parts are uniform (five times cheaper to draw than normal ones); every
    output sample sums many of them, so the noise is Gaussian all the same.
    """
    parts = rng.random(tuple(shape) + (2,), dtype=np.float32)
    parts -= np.float32(0.5)
    parts *= np.float32(np.sqrt(6.0))           # uniform(-a, a) has variance a^2 / 3 = 1/2
    return parts.view(np.complex64)[..., 0]


def energy(spectrum):
    """Sum of ``|spectrum|^2`` over all entries (one BLAS pass, no temporary)."""
    flat = spectrum.reshape(-1)
    return float(np.vdot(flat, flat).real)


def db_to_gain(db):
    """Linear float32 amplitude gain of ``db`` decibels."""
    return (10.0 ** (np.asarray(db) / 20.0)).astype(np.float32)


def smooth(x, width):
    """Moving average over ``width`` frames along axis 0 (edges by repetition)."""
    if width <= 1:
        return x
    kernel = np.ones(width) / width
    pad = [(width // 2, width - 1 - width // 2)] + [(0, 0)] * (x.ndim - 1)
    padded = np.pad(x, pad, mode='edge')
    if x.ndim == 1:
        return np.convolve(padded, kernel, mode='valid')
    return np.stack([np.convolve(padded[:, j], kernel, mode='valid')
                     for j in range(x.shape[1])], axis=1)



def normalise(wave, level_db, rng):
    """``wave`` at an RMS level of about ``level_db`` dBFS (peak at most 0.95), float32."""
    wave = np.asarray(wave, dtype=np.float64)
    gain = 10 ** ((level_db + rng.normal(0, 2)) / 20) / (np.sqrt(np.mean(wave ** 2)) + 1e-12)
    gain = min(gain, 0.95 / (np.max(np.abs(wave)) + 1e-12))
    return (wave * gain).astype(np.float32)

