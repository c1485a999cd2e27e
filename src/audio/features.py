"""Log-mel filterbank features identical to speechbrain's ``Fbank`` (numpy, for data loaders).

speechbrain's pretrained ECAPA-TDNN (``spkrec-ecapa-voxceleb``) was trained on
``speechbrain.lobes.features.Fbank(n_mels=80)`` followed by
``InputNormalization(norm_type='sentence', std_norm=False)``; :class:`Fbank` reproduces both, so
imported speechbrain weights see the features they were trained on.

References: speechbrain ``speechbrain/processing/features.py`` (``STFT``, ``spectral_magnitude``,
``Filterbank``, ``InputNormalization``) and ``speechbrain/lobes/features.py`` (``Fbank``).
"""
import numpy as np
import scipy.fft
from scipy.signal import get_window

from src.errors import ConfigError

# The floor of the power before the log (speechbrain Filterbank ``amin``): 1e-10 -> -100 dB.
POWER_FLOOR = 1e-10


def hz_to_mel(hz):
    """HTK mel scale, ``2595 * log10(1 + hz / 700)``."""
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def mel_to_hz(mel):
    """Inverse of :func:`hz_to_mel`."""
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


def mel_filters(sample_rate=16000, n_fft=400, n_mels=80, f_min=0.0, f_max=None):
    """speechbrain's triangular mel filterbank.

    ``n_mels + 2`` points equally spaced in mel between ``f_min`` and ``f_max`` give, in Hz,
    the centres ``hz[1:-1]`` and the widths ``band = (hz[1:] - hz[:-1])[:-1]`` (the distance to
    the left neighbour). Each filter is the symmetric triangle
    ``max(0, min(1 + s, 1 - s))``, ``s = (f - centre) / band``, evaluated at the FFT bin
    frequencies ``linspace(0, sample_rate // 2, n_fft // 2 + 1)``. The triangles are symmetric
    (both sides use the left width), unlike HTK/librosa filters, and are not area-normalised.

    Args:
        sample_rate: Hz.
        n_fft: FFT size.
        n_mels: number of filters.
        f_min: lowest edge in Hz.
        f_max: highest edge in Hz; ``None``: ``sample_rate / 2``.

    Returns:
        float32 ``(n_fft // 2 + 1, n_mels)``: ``power (frames, bins) @ filters`` is the fbank.
    """
    f_max = sample_rate / 2 if f_max is None else f_max
    hz = mel_to_hz(np.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2))
    centre = hz[1:-1]
    band = (hz[1:] - hz[:-1])[:-1]
    # speechbrain uses the integer Nyquist, sample_rate // 2, for the bin frequencies.
    bin_freqs = np.linspace(0.0, sample_rate // 2, n_fft // 2 + 1)
    slope = (bin_freqs[:, None] - centre[None, :]) / band[None, :]
    return np.maximum(0.0, np.minimum(1.0 + slope, 1.0 - slope)).astype(np.float32)


class Fbank:
    """80-dim log-mel filterbank of speechbrain (``lobes.features.Fbank`` defaults).

    Definition, for a wave x at 16 kHz:

    1. STFT: ``n_fft=400``, window ``win_length=400`` (25 ms) periodic Hamming
       (``torch.hamming_window`` = ``scipy.signal.get_window('hamming', N, fftbins=True)``,
       centred in ``n_fft`` when shorter), hop 160 (10 ms); ``center=True`` with zero padding of
       ``n_fft // 2`` on both sides, so ``frames = 1 + len(x) // hop``.
    2. Power spectrum ``|X|^2`` (speechbrain ``spectral_magnitude(power=1)``).
    3. ``power @ mel_filters(...)`` (:func:`mel_filters`, symmetric triangles).
    4. ``10 * log10(max(fbank, 1e-10))``, then the ``top_db`` clamp per utterance over time and
       frequency: ``max(x_db, x_db.max() - top_db)``.
    5. If ``mean_norm``: subtract the per-feature mean over the utterance's frames
       (``InputNormalization('sentence', std_norm=False)``).

    Args:
        sample_rate: Hz.
        n_mels: number of mel filters (output feature size).
        n_fft: FFT size in samples.
        win_length: window length in samples (``<= n_fft``).
        hop_length: hop in samples.
        f_min: lowest filter edge in Hz.
        f_max: highest filter edge in Hz; ``None``: ``sample_rate / 2``.
        top_db: dynamic range kept below each utterance's maximum, in dB; ``None``: no clamp.
        mean_norm: subtract each utterance's per-feature mean.

    Call: ``Fbank()(wave)`` with ``wave (samples,)`` -> float32 ``(frames, n_mels)``.
    """

    def __init__(self, sample_rate=16000, n_mels=80, n_fft=400, win_length=400, hop_length=160,
                 f_min=0.0, f_max=None, top_db=80.0, mean_norm=True):
        f_max = sample_rate / 2 if f_max is None else f_max
        if min(sample_rate, n_mels, n_fft, win_length, hop_length) <= 0:
            raise ConfigError('fbank sample_rate, n_mels, n_fft, win_length and hop_length must '
                              f'be positive, got {sample_rate}, {n_mels}, {n_fft}, {win_length}, '
                              f'{hop_length}')
        if win_length > n_fft:
            raise ConfigError(f'fbank win_length ({win_length}) must not exceed n_fft ({n_fft})')
        if not 0 <= f_min < f_max <= sample_rate / 2:
            raise ConfigError(f'fbank needs 0 <= f_min < f_max <= sample_rate / 2, got '
                              f'f_min={f_min}, f_max={f_max}, sample_rate={sample_rate}')
        if top_db is not None and top_db < 0:
            raise ConfigError(f'fbank top_db must be >= 0 or null, got {top_db}')
        self.sample_rate = int(sample_rate)
        self.n_mels = int(n_mels)
        self.n_fft = int(n_fft)
        self.win_length = int(win_length)
        self.hop_length = int(hop_length)
        self.f_min = float(f_min)
        self.f_max = float(f_max)
        self.top_db = None if top_db is None else float(top_db)
        self.mean_norm = bool(mean_norm)
        # A window shorter than n_fft is zero-padded to n_fft, centred (as torch.stft does).
        window = get_window('hamming', self.win_length, fftbins=True)
        left = (self.n_fft - self.win_length) // 2
        self.window = np.zeros(self.n_fft, dtype=np.float32)
        self.window[left:left + self.win_length] = window
        self.filters = mel_filters(self.sample_rate, self.n_fft, self.n_mels, self.f_min,
                                   self.f_max)

    def num_frames(self, num_samples):
        """Frames for a wave of ``num_samples`` samples: ``1 + num_samples // hop_length``."""
        return 1 + int(num_samples) // self.hop_length

    def power_spectrum(self, waves):
        """Centred, zero-padded STFT power ``|X|^2``.

        Args:
            waves: ``(samples,)`` or ``(batch, samples)``.

        Returns:
            float32 ``(..., frames, n_fft // 2 + 1)``.
        """
        waves = np.asarray(waves, dtype=np.float32)
        if waves.shape[-1] == 0:
            raise ValueError('Fbank got an empty wave')
        half = self.n_fft // 2
        padded = np.pad(waves, [(0, 0)] * (waves.ndim - 1) + [(half, half)])
        # A strided view: frame t = padded[t * hop : t * hop + n_fft], nothing is copied here.
        frames = np.lib.stride_tricks.sliding_window_view(padded, self.n_fft, axis=-1)
        frames = frames[..., ::self.hop_length, :]
        spectrum = scipy.fft.rfft(frames * self.window, axis=-1)
        return (spectrum.real ** 2 + spectrum.imag ** 2).astype(np.float32, copy=False)

    def __call__(self, wave):
        """Features of one utterance.

        Args:
            wave: ``(samples,)`` float audio at ``sample_rate``.

        Returns:
            float32 ``(frames, n_mels)``, ``frames = num_frames(len(wave))``.
        """
        wave = np.asarray(wave)
        if wave.ndim != 1:
            raise ValueError(f'Fbank expects a 1-D wave, got shape {wave.shape}; use batch()')
        return self.batch(wave[None])[0]

    def batch(self, waves, rel_lengths=None):
        """Features of a batch of equal-length (padded) waves, vectorised.

        Args:
            waves: ``(batch, samples)``.
            rel_lengths: optional ``(batch,)`` valid fraction of each wave in (0, 1] (speechbrain's
                relative lengths). Only the mean normalisation uses it: the mean is taken over
                the first ``ceil(rel * frames - 1e-6)`` frames (speechbrain >= 1.0.4
                ``make_padding_mask``) and subtracted from all frames. ``None``: all frames valid.

        Returns:
            float32 ``(batch, frames, n_mels)``.
        """
        waves = np.asarray(waves)
        if waves.ndim != 2:
            raise ValueError(f'Fbank.batch expects (batch, samples), got shape {waves.shape}')
        fbank = self.power_spectrum(waves) @ self.filters           # (batch, frames, n_mels)
        feats = 10.0 * np.log10(np.maximum(fbank, POWER_FLOOR))
        if self.top_db is not None:
            floor = feats.max(axis=(1, 2), keepdims=True) - self.top_db
            feats = np.maximum(feats, floor)
        if self.mean_norm:
            feats = feats - self._valid_mean(feats, rel_lengths)
        return feats.astype(np.float32, copy=False)

    @staticmethod
    def _valid_mean(feats, rel_lengths):
        """Per-utterance, per-feature mean over the valid frames: ``(batch, 1, n_mels)``."""
        if rel_lengths is None:
            return feats.mean(axis=1, keepdims=True)
        rel_lengths = np.asarray(rel_lengths, dtype=np.float64).reshape(-1)
        if rel_lengths.shape[0] != feats.shape[0]:
            raise ValueError(f'rel_lengths has {rel_lengths.shape[0]} entries for a batch of '
                             f'{feats.shape[0]}')
        n_frames = feats.shape[1]
        valid = np.arange(n_frames)[None, :] < (rel_lengths[:, None] * n_frames - 1e-6)
        valid = valid[:, :, None]
        count = np.maximum(valid.sum(axis=1, keepdims=True), 1)
        return (feats * valid).sum(axis=1, keepdims=True) / count

    def to_dict(self):
        """All settings as plain JSON-serialisable values; ``Fbank(**d)`` rebuilds the same."""
        return {
            'sample_rate': self.sample_rate,
            'n_mels': self.n_mels,
            'n_fft': self.n_fft,
            'win_length': self.win_length,
            'hop_length': self.hop_length,
            'f_min': self.f_min,
            'f_max': self.f_max,
            'top_db': self.top_db,
            'mean_norm': self.mean_norm,
        }

    def __repr__(self):
        args = ', '.join(f'{k}={v!r}' for k, v in self.to_dict().items())
        return f'Fbank({args})'
