"""Synthetic stand-ins for the public corpora, written in their exact on-disk layouts.

The demo recipes train and evaluate on these, so every script runs end to end in minutes on a
CPU without downloading anything. Each generator is registered in :data:`DEMO_CORPORA` as
``(out_dir, seed=0, **sizes) -> {name: written path}`` and is deterministic: the same seed and
sizes give byte-identical files.

* ``voxceleb``: ``voxceleb2/dev/wav/idNNNNN/<video>/NNNNN.wav`` training speakers,
  ``voxceleb1/wav/id1NNNN/<video>/NNNNN.wav`` disjoint test speakers and
  ``voxceleb1/veri_test2.txt`` (``label enroll test`` trials, balanced, target pairs from
  different videos).
* ``musan``: ``musan/{noise,music,speech}/<source>/<name>.wav``.
* ``rirs_noises``:
  ``RIRS_NOISES/simulated_rirs/{small,medium,large}room/RoomNNN/RoomNNN-NNNNN.wav``.
* ``esc50``: ``ESC-50/audio/{fold}-{clip_id}-{take}-{target}.wav`` (5 s, 44.1 kHz) and
  ``ESC-50/meta/esc50.csv``; synthetic sound classes told apart by their spectro-temporal
  pattern (:func:`make_esc50_demo`).

The synthetic speakers. A voice is a source-filter model built in the STFT domain: a glottal
pulse train (Rosenberg pulse with jitter, shimmer and breathiness) shaped by the formant
resonances of a random vowel sequence, with fricative noise between syllables. What makes a
speaker is deliberately subtle: six narrow resonances (peaks and notches of 10-16 dB, about one
mel band wide, between 1 and 5 kHz; :class:`Speaker`) that colour every voiced and fricative
frame. Everything gross is drawn afresh for every utterance from one distribution shared by all
speakers (:class:`Style`, :func:`draw_style`): pitch (85-255 Hz) and intonation, pulse shape,
breathiness, vocal-tract length (formant scale 0.85-1.2) and vowels, a smooth colouring of the
voiced sounds, speaking rate and fricatives. Every video has its own "channel": a random smooth
equaliser and spectral tilt, a recording level and coloured background noise at 40-60 dB SNR
(:func:`draw_channel`). So the pooled statistics of a randomly initialised network, and the
naive baseline (:func:`naive_baseline_eer`, cosine of the mean log-mel), are dominated by the
per-utterance nuisance, while a trained TDNN learns to find the resonances in mean-normalised
features.

Measured when the defaults were chosen (default sizes, seed 0, ``configs/ecapa_tdnn/demo.yaml``):
naive baseline 42.7 % EER; the untrained demo ECAPA-TDNN 44.8 and 46.4 % (two initialisations);
trained on 2 CPU cores, 7.5 % after 3 epochs (120 steps, 1.5 min) and 5.3 % after 6 (the
whole 9-epoch run with its evaluations took 4.3 min). Without the per-utterance styles
(speakers differing in pitch and formants) an untrained network scored 7 %. Generating the
default VoxCeleb demo takes 12-15 s on one core.
"""
import os
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import scipy.fft

from src.audio import Fbank, read_audio, write_audio
from src.data.manifest import read_trials, write_text, write_trials
from src.errors import ConfigError
from src.registry import Registry

DEMO_CORPORA = Registry('demo corpus')

SAMPLE_RATE = 16000
# The synthesis STFT: 32 ms frames, 8 ms hop (hop divides the frame: exact overlap-add).
_N_FFT = 512
_HOP = 128
# Vowel templates (F1, F2, F3 in Hz, adult male): close to the averages of ten American
# English vowels in Hillenbrand et al. (1995), plus a neutral vowel.
_VOWELS = np.array([
    [340, 2320, 2950], [430, 2020, 2650], [480, 2090, 2670], [580, 1800, 2600],
    [590, 1950, 2600], [770, 1330, 2400], [650, 1000, 2500], [470, 1120, 2400],
    [380, 1000, 2350], [620, 1200, 2550], [500, 1450, 2450]], dtype=np.float64)
_VIDEO_ID_CHARS = np.array(list('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
                                '0123456789-_'))


def make_demo(name, out_dir, seed=0, **sizes):
    """Write the demo corpus ``name`` under ``out_dir``.

    Args:
        name: a name of :data:`DEMO_CORPORA` (``DEMO_CORPORA.names()`` lists them).
        out_dir: destination folder (created).
        seed: random seed; the same seed and sizes give byte-identical files.
        **sizes: the generator's size arguments (see each ``make_*_demo``).

    Returns:
        dict name -> written path (corpus roots and list files).
    """
    return DEMO_CORPORA.get(name)(out_dir, seed=seed, **sizes)


# ---------------------------------------------------------------------------------------------
# Signal helpers

@lru_cache(maxsize=None)
def _window():
    """Periodic Hann window of the synthesis STFT."""
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(_N_FFT) / _N_FFT)).astype(np.float32)


@lru_cache(maxsize=None)
def _bin_freqs(sample_rate):
    return np.fft.rfftfreq(_N_FFT, 1.0 / sample_rate)


def _num_frames(num_samples):
    """STFT frames whose overlap-add covers ``num_samples`` samples plus the edges."""
    return -(-num_samples // _HOP) + _N_FFT // _HOP - 1


def _stft(wave, n_frames):
    """Frames ``t * hop : t * hop + n_fft`` of ``wave`` (zero-padded), windowed, rfft.

    Returns: complex64 ``(n_frames, n_fft // 2 + 1)``.
    """
    padded = np.zeros((n_frames - 1) * _HOP + _N_FFT, dtype=np.float32)
    padded[:min(len(wave), len(padded))] = wave[:len(padded)]
    frames = np.lib.stride_tricks.sliding_window_view(padded, _N_FFT)[::_HOP]
    return scipy.fft.rfft(frames * _window(), axis=-1)


def _istft(spectrum, num_samples):
    """Overlap-add inverse of :func:`_stft`, the ``num_samples`` samples after the first
    ``n_fft - hop`` (where every sample is covered by ``n_fft / hop`` frames).

    Needs ``n_frames >= _num_frames(num_samples)``. The squared periodic Hann window at a
    quarter-frame hop sums to exactly 1.5 at every fully covered sample.
    """
    frames = scipy.fft.irfft(spectrum, n=_N_FFT, axis=-1) * _window()
    n_frames = frames.shape[0]
    out = np.zeros((n_frames - 1) * _HOP + _N_FFT, dtype=np.float32)
    for part in range(_N_FFT // _HOP):
        # Part k of frame t lands at samples (t + k) * hop ...: one strided add per part.
        segment = frames[:, part * _HOP:(part + 1) * _HOP]
        out[part * _HOP:(part + n_frames) * _HOP] += segment.reshape(-1)
    start = _N_FFT - _HOP
    return out[start:start + num_samples] / 1.5


def _complex_noise(rng, shape):
    """White complex STFT coefficients of unit mean power, complex64.

    Real and imaginary parts are uniform (five times cheaper to draw than normal ones); every
    output sample sums many of them, so the noise is Gaussian all the same.
    """
    parts = rng.random(tuple(shape) + (2,), dtype=np.float32)
    parts -= np.float32(0.5)
    parts *= np.float32(np.sqrt(6.0))           # uniform(-a, a) has variance a^2 / 3 = 1/2
    return parts.view(np.complex64)[..., 0]


def _energy(spectrum):
    """Sum of ``|spectrum|^2`` over all entries (one BLAS pass, no temporary)."""
    flat = spectrum.reshape(-1)
    return float(np.vdot(flat, flat).real)


def _gain(db):
    """Linear float32 amplitude gain of ``db`` decibels."""
    return (10.0 ** (np.asarray(db) / 20.0)).astype(np.float32)


def _smooth(x, width):
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


# ---------------------------------------------------------------------------------------------
# The voice model

@dataclass
class Speaker:
    """What stays the same in all utterances of one synthetic voice: its fine resonances."""
    resonance_mel: np.ndarray     # (K,) centre of each resonance on the unit mel axis (0 ... 1)
    resonance_db: np.ndarray      # (K,) gain at the centre, dB (> 0: a peak, < 0: a notch)
    resonance_width: float        # Gaussian std of every resonance on the unit mel axis


@dataclass
class Style:
    """How one utterance is spoken: everything about the voice except its identity."""
    f0: float                 # median fundamental frequency, Hz
    f0_range: float           # intonation depth, semitones (std of the accents)
    jitter: float             # per-period relative f0 perturbation (std)
    shimmer: float            # per-period relative amplitude perturbation (std)
    open_quotient: float      # Rosenberg opening phase, fraction of the period
    close_quotient: float     # Rosenberg closing phase, fraction of the period
    breathiness: float        # aspiration noise relative to the voiced source
    formants: np.ndarray      # (5 vowels, 5 formants) Hz: the vowels of this utterance
    bandwidths: np.ndarray    # (5,) formant bandwidths, Hz
    colour_db: np.ndarray     # (bins,) smooth colouring of the voiced sounds, dB
    syllable_seconds: float   # mean vowel duration (speaking rate)
    consonant_prob: float     # chance of a fricative before a vowel
    fricative_hz: float       # fricative noise centre frequency
    fricative_octaves: float  # fricative noise bandwidth (Gaussian std in octaves)
    fricative_db: float       # fricative level relative to vowels


@dataclass
class Channel:
    """One recording session ("video"): equaliser, level and background noise."""
    eq_db: np.ndarray         # (bins,) equaliser gain in dB over the STFT bins
    noise_db: np.ndarray      # (bins,) background-noise colour in dB
    snr_db: float             # speech-to-noise ratio over the active frames
    level_db: float           # output RMS in dBFS


@lru_cache(maxsize=None)
def _unit_mel(sample_rate):
    """The STFT bins on the mel axis scaled to 0 (0 Hz) ... 1 (Nyquist)."""
    return np.log1p(_bin_freqs(sample_rate) / 700.0) / np.log1p(sample_rate / 2 / 700.0)


def _hz_to_unit_mel(hz, sample_rate=SAMPLE_RATE):
    """Frequencies in Hz on the mel axis scaled as in :func:`_unit_mel`."""
    return np.log1p(np.asarray(hz) / 700.0) / np.log1p(sample_rate / 2 / 700.0)


def _smooth_curve(rng, sample_rate, tilt_db, ripple_db):
    """A random smooth curve over the STFT bins in dB: a tilt in dB per octave around 1 kHz plus
    four cosine ripples on the mel axis (the ``k``-th with std ``ripple_db / sqrt(k)``)."""
    mel = _unit_mel(sample_rate)
    octaves = np.log2(np.maximum(_bin_freqs(sample_rate), 60.0) / 1000.0)
    order = np.arange(1, 5)
    ripple = rng.normal(0, ripple_db, 4) / np.sqrt(order)
    phase = rng.uniform(0, 2 * np.pi, 4)
    return rng.normal(0, tilt_db) * octaves + (
        ripple[:, None] * np.cos(np.pi * order[:, None] * mel[None] + phase[:, None])).sum(0)


def draw_speaker(rng, resonances=6, band_hz=(1000.0, 5000.0), gain_db=(10.0, 16.0),
                 width=0.015):
    """A random voice identity: ``resonances`` narrow spectral peaks or notches of the voiced
    and fricative sounds at random places of the mel axis.

    Args:
        rng: ``np.random.Generator``.
        resonances: number of peaks and notches.
        band_hz: (low, high) where their centres lie (uniform on the mel axis), Hz.
        gain_db: (low, high) of the uniform magnitude of each gain, dB (sign random).
        width: Gaussian std of each on the unit mel axis (0.0125 is one of 80 mel bands).

    Returns:
        :class:`Speaker`.
    """
    low, high = _hz_to_unit_mel(band_hz)
    centres = np.sort(rng.uniform(low, high, resonances))
    gains = rng.uniform(*gain_db, resonances) * rng.choice([-1.0, 1.0], resonances)
    return Speaker(resonance_mel=centres, resonance_db=gains, resonance_width=float(width))


def draw_style(rng, sample_rate=SAMPLE_RATE, f0_hz=(85.0, 255.0), formant_scale=(0.85, 1.2),
               colour_tilt_db=3.0, colour_ripple_db=3.0):
    """How one utterance is spoken, from one distribution shared by all speakers.

    Pitch, vocal-tract length (formant scale), vowels, glottal pulse, breathiness, speaking rate,
    fricatives and the colour of the voiced sounds change from utterance to utterance, so none
    of them tells the speakers apart.

    Args:
        rng: ``np.random.Generator``.
        sample_rate: Hz.
        f0_hz: (low, high) of the log-uniform median fundamental frequency, Hz.
        formant_scale: (low, high) of the uniform formant scale factor.
        colour_tilt_db: std of the colour's tilt, dB per octave.
        colour_ripple_db: std of the colour's ripples, dB.

    Returns:
        :class:`Style`.
    """
    f0 = float(f0_hz[0] * (f0_hz[1] / f0_hz[0]) ** rng.uniform(0.0, 1.0))
    scale = rng.uniform(*formant_scale)
    vowels = np.sort(rng.choice(len(_VOWELS), size=5, replace=False))
    f123 = _VOWELS[vowels] * scale * np.exp(rng.normal(0, 0.06, (5, 3)))
    f45 = np.array([3500.0, 4500.0]) * scale * np.exp(rng.normal(0, 0.04, 2))
    formants = np.concatenate([f123, np.broadcast_to(f45, (5, 2))], axis=1)
    bandwidths = np.array([70.0, 100.0, 150.0, 220.0, 300.0]) * rng.uniform(0.7, 1.5)
    return Style(
        f0=f0, f0_range=float(rng.uniform(1.0, 3.0)), jitter=float(rng.uniform(0.005, 0.03)),
        shimmer=float(rng.uniform(0.02, 0.12)), open_quotient=float(rng.uniform(0.3, 0.55)),
        close_quotient=float(rng.uniform(0.08, 0.25)), breathiness=float(rng.uniform(0.02, 0.3)),
        formants=formants, bandwidths=bandwidths,
        colour_db=_smooth_curve(rng, sample_rate, colour_tilt_db, colour_ripple_db),
        syllable_seconds=float(rng.uniform(0.1, 0.24)),
        consonant_prob=float(rng.uniform(0.2, 0.7)),
        fricative_hz=float(rng.uniform(2500, 6500)),
        fricative_octaves=float(rng.uniform(0.2, 0.6)),
        fricative_db=float(rng.uniform(-18, -6)))


def draw_channel(rng, sample_rate=SAMPLE_RATE, eq_db=2.0, tilt_db=1.0, snr_db=(40.0, 60.0),
                 level_db=(-32.0, -20.0), noise_colour_db=1.5):
    """A random recording channel.

    Args:
        rng: ``np.random.Generator``.
        sample_rate: Hz.
        eq_db: std of each of the four cosine ripples of the equaliser (on the mel axis), dB.
        tilt_db: std of the spectral tilt, dB per octave around 1 kHz.
        snr_db: (low, high) of the uniform SNR, dB.
        level_db: (low, high) of the uniform recording level (RMS), dBFS.
        noise_colour_db: std of the broad bump in the background noise's spectrum, dB.

    Returns:
        :class:`Channel`.
    """
    eq = _smooth_curve(rng, sample_rate, tilt_db, eq_db)
    mel = _unit_mel(sample_rate)
    octaves = np.log2(np.maximum(_bin_freqs(sample_rate), 60.0) / 1000.0)
    # Background noise: a gentle downward slope (flat below 250 Hz) and one broad bump.
    noise = rng.uniform(-4.0, -2.0) * np.maximum(octaves, -2.0) + rng.normal(
        0, noise_colour_db) * np.cos(np.pi * rng.uniform(1, 3) * mel + rng.uniform(0, 2 * np.pi))
    return Channel(eq_db=eq, noise_db=noise, snr_db=float(rng.uniform(*snr_db)),
                   level_db=float(rng.uniform(*level_db)))


def _rosenberg_derivative(phase, open_q, close_q, table_size=4096):
    """Glottal flow (Rosenberg pulse) over the fractional period ``phase``, differentiated.

    The pulse is tabulated over one period and looked up (a gather is much cheaper than two
    cosines per sample). Differentiating adds the lip radiation's +6 dB/octave.
    """
    grid = np.arange(table_size) / table_size
    opening = 0.5 * (1 - np.cos(np.pi * grid / open_q))
    closing = np.cos(np.pi * (grid - open_q) / (2 * close_q))
    table = np.where(grid < open_q, opening, np.where(grid < open_q + close_q, closing, 0.0))
    flow = table[(phase * table_size).astype(np.int64) % table_size]
    return np.diff(flow, prepend=0.0)


def _plan(style, n_frames, rng, frame_seconds):
    """Frame-level score of an utterance: which vowel or fricative sounds when.

    Returns:
        voiced (n_frames,) gain of the voiced source, fricative (n_frames,) gain of the
        fricative noise, vowel (n_frames,) int index into the style's vowels, accent
        (n_frames,) pitch accents in semitones.
    """
    voiced = np.zeros(n_frames)
    fricative = np.zeros(n_frames)
    vowel = np.zeros(n_frames, dtype=np.int64)
    accent = np.zeros(n_frames)
    t = int(rng.uniform(0.05, 0.25) / frame_seconds)
    end = n_frames - int(rng.uniform(0.05, 0.2) / frame_seconds)
    current = int(rng.integers(5))
    while t < end:
        if rng.random() < 0.08:                                    # a pause
            t += int(rng.uniform(0.1, 0.3) / frame_seconds)
            continue
        if rng.random() < style.consonant_prob:
            length = max(2, int(rng.uniform(0.04, 0.1) / frame_seconds))
            fricative[t:min(t + length, end)] = 1.0
            t += length
        length = max(3, int(style.syllable_seconds * np.exp(rng.normal(0, 0.3))
                            / frame_seconds))
        stop = min(t + length, end)
        if stop <= t:
            break
        # A rounded rise and fall of energy over the syllable.
        ramp = np.sin(np.linspace(0, np.pi, stop - t)) ** 0.5
        voiced[t:stop] = ramp * np.exp(rng.normal(0, 0.2))
        current = (current + 1 + int(rng.integers(4))) % 5           # never the same vowel twice
        vowel[t:stop] = current
        accent[t:stop] = rng.normal(0, style.f0_range)
        t = stop
    return voiced, fricative, vowel, accent


def _log_vowel_envelopes(style, freqs):
    """Log magnitude of each vowel's cascade of formant resonators (unit gain at 0 Hz).

    Returns: ``(vowels, bins)``.
    """
    f2 = freqs[None, :, None] ** 2
    centre2 = style.formants[:, None, :] ** 2                               # (vowels, 1, 5)
    resonance = centre2 / np.sqrt((centre2 - f2) ** 2 + f2 * style.bandwidths ** 2)
    return np.log(resonance).sum(axis=2)


def speaker_resonances_db(speaker, sample_rate=SAMPLE_RATE):
    """The speaker's fine resonances as a gain over the STFT bins.

    Returns: ``(bins,)`` dB.
    """
    distance = (_unit_mel(sample_rate)[:, None] - speaker.resonance_mel[None]) / \
        speaker.resonance_width
    return (speaker.resonance_db[None] * np.exp(-0.5 * distance ** 2)).sum(axis=1)


def synthesize(speaker, channel, num_samples, rng, sample_rate=SAMPLE_RATE, style=None):
    """One utterance of ``speaker`` recorded through ``channel``.

    Args:
        speaker: :class:`Speaker`.
        channel: :class:`Channel`.
        num_samples: length of the result.
        rng: ``np.random.Generator`` (the utterance's style, content and noise).
        sample_rate: Hz.
        style: :class:`Style`; ``None`` draws one from ``rng`` (:func:`draw_style`).

    Returns:
        float32 ``(num_samples,)``, peak below 1.
    """
    if style is None:
        style = draw_style(rng, sample_rate)
    n_frames = _num_frames(num_samples)
    frame_seconds = _HOP / sample_rate
    voiced, fricative, vowel, accent = _plan(style, n_frames, rng, frame_seconds)

    # Intonation: a falling declination line plus smoothed pitch accents (semitones).
    semitones = np.linspace(1.0, -1.0, n_frames) * style.f0_range + _smooth(accent, 9)
    f0_frames = style.f0 * 2.0 ** (semitones / 12.0)
    length = (n_frames - 1) * _HOP + _N_FFT
    f0 = np.interp(np.arange(length) / _HOP, np.arange(n_frames), f0_frames)
    # Jitter and shimmer are drawn per glottal period: the period index of each sample comes
    # from the unperturbed phase.
    phase = np.cumsum(f0 / sample_rate)
    periods = int(phase[-1] * 1.2) + 2
    period = np.minimum(phase.astype(np.int64), periods - 1)
    phase = np.cumsum(f0 * (1 + style.jitter * rng.standard_normal(periods))[period]
                      / sample_rate)
    period = np.minimum(phase.astype(np.int64), periods - 1)
    source = _rosenberg_derivative(phase - np.floor(phase), style.open_quotient,
                                   style.close_quotient)
    source *= 1 + style.shimmer * rng.standard_normal(periods)[period]
    source_spec = _stft(source, n_frames)
    source_spec /= np.sqrt(_energy(source_spec) / source_spec.size) + 1e-12
    # One white noise serves the aspiration of vowels and the fricatives (they rarely overlap).
    aspiration = _complex_noise(rng, source_spec.shape)
    source_spec += style.breathiness * aspiration

    # The vowel envelopes cross-fade in the log domain over ~50 ms (coarticulation). The
    # utterance's colour and the speaker's resonances shape every voiced frame; the resonances
    # leave the background noise alone, so mean normalisation does not remove them.
    freqs = _bin_freqs(sample_rate)
    weights = _smooth(np.eye(len(style.formants))[vowel], 7)                # (frames, vowels)
    identity = speaker_resonances_db(speaker, sample_rate) * (np.log(10) / 20)   # nepers
    log_envelope = weights.astype(np.float32) @ _log_vowel_envelopes(style, freqs).astype(
        np.float32) + (style.colour_db * (np.log(10) / 20) + identity).astype(np.float32)
    speech = np.exp(log_envelope, out=log_envelope) * voiced[:, None].astype(np.float32)
    speech = speech * source_spec
    speech /= np.sqrt(_energy(speech) / max(np.count_nonzero(voiced), 1)) + 1e-12

    octaves = np.log2(np.maximum(freqs, 1.0) / style.fricative_hz)
    # The fricatives pass through the same vocal tract: they carry the resonances too (and,
    # having no formants or harmonics, show them most clearly).
    fric_shape = np.exp(-0.5 * (octaves / style.fricative_octaves) ** 2 + identity)
    fric_gain = 10 ** (style.fricative_db / 20) / np.sqrt(np.mean(fric_shape ** 2))
    fric_envelope = (_smooth(fricative, 3)[:, None].astype(np.float32)
                     * (fric_gain * fric_shape).astype(np.float32))
    speech += fric_envelope * aspiration

    active = max(np.count_nonzero(voiced + fricative), 1)
    speech_power = _energy(speech) / active
    noise = _gain(channel.noise_db) * _complex_noise(rng, speech.shape)
    noise *= np.sqrt(speech_power / (_energy(noise) / noise.size) / 10 ** (channel.snr_db / 10))
    speech += noise
    speech *= _gain(channel.eq_db)
    wave = _istft(speech, num_samples)
    # Level per utterance around the channel's, and a peak limit (16-bit files clip at 1).
    level = 10 ** ((channel.level_db + rng.normal(0, 1.5)) / 20)
    gain = min(level / (np.sqrt(np.mean(wave ** 2)) + 1e-12),
               0.95 / (np.max(np.abs(wave)) + 1e-12))
    return (wave * gain).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# VoxCeleb

def _video_id(rng):
    """An 11-character YouTube-like id."""
    return ''.join(rng.choice(_VIDEO_ID_CHARS, 11))


def _write_speaker(folder, speaker_id, rng, videos, utterances, seconds, sample_rate):
    """All utterances of one synthetic speaker: ``folder/speaker_id/<video>/NNNNN.wav``.

    Returns:
        list of ``(video, relative path)``.
    """
    speaker = draw_speaker(rng)
    written = []
    video_ids = set()
    for _ in range(videos):
        video = _video_id(rng)
        while video in video_ids:
            video = _video_id(rng)
        video_ids.add(video)
        channel = draw_channel(rng, sample_rate)
        for number in range(1, utterances + 1):
            num_samples = int(rng.uniform(*seconds) * sample_rate)
            relative = f'{speaker_id}/{video}/{number:05d}.wav'
            wave = synthesize(speaker, channel, num_samples, rng, sample_rate)
            write_audio(os.path.join(folder, relative), wave, sample_rate)
            written.append((video, relative))
    return written


def _draw_trials(utterances, num_trials, rng):
    """Balanced trials: targets from different videos of a speaker, non-targets across speakers.

    Args:
        utterances: list of ``(speaker, video, path)``.
        num_trials: total; half targets (rounded down), the rest non-targets.
        rng: ``np.random.Generator``.

    Returns:
        list of ``(label, enroll, test)`` in random order.
    """
    speaker = np.array([u[0] for u in utterances])
    video = np.array([u[0] + '/' + u[1] for u in utterances])
    first, second = np.triu_indices(len(utterances), k=1)
    same_speaker = speaker[first] == speaker[second]
    target = np.flatnonzero(same_speaker & (video[first] != video[second]))
    nontarget = np.flatnonzero(~same_speaker)
    num_target = num_trials // 2
    num_nontarget = num_trials - num_target
    if num_target > len(target) or num_nontarget > len(nontarget):
        raise ConfigError(f'num_trials={num_trials} needs {num_target} target pairs from '
                          f'different videos and {num_nontarget} non-target pairs; the test set '
                          f'has {len(target)} and {len(nontarget)}: lower num_trials or add '
                          'test speakers, videos or utterances')
    chosen = np.concatenate([rng.choice(target, num_target, replace=False),
                             rng.choice(nontarget, num_nontarget, replace=False)])
    labels = np.concatenate([np.ones(num_target, int), np.zeros(num_nontarget, int)])
    order = rng.permutation(len(chosen))
    swap = rng.random(len(chosen)) < 0.5
    trials = []
    for k in order:
        a, b = utterances[first[chosen[k]]][2], utterances[second[chosen[k]]][2]
        trials.append((int(labels[k]),) + ((b, a) if swap[k] else (a, b)))
    return trials


@DEMO_CORPORA.register('voxceleb')
def make_voxceleb_demo(out_dir, seed=0, train_speakers=40, train_videos=8, train_utterances=4,
                       train_seconds=(1.5, 2.5), test_speakers=20, test_videos=4,
                       test_utterances=3, test_seconds=(3.0, 6.0), num_trials=2000,
                       sample_rate=SAMPLE_RATE):
    """A synthetic VoxCeleb: VoxCeleb2-dev-like training set, VoxCeleb1-like test set, trials.

    Layout under ``out_dir``:
    ``voxceleb2/dev/wav/id0NNNN/<video>/NNNNN.wav`` (training speakers ``id00001`` ...),
    ``voxceleb1/wav/id1NNNN/<video>/NNNNN.wav`` (test speakers ``id10270`` ..., disjoint) and
    ``voxceleb1/veri_test2.txt``. 16-bit mono wav files. Each speaker has a random stream of
    its own, so changing the number of speakers leaves the other speakers' files unchanged.

    Args:
        out_dir: destination folder.
        seed: random seed.
        train_speakers, train_videos, train_utterances: training speakers, videos per speaker,
            utterances per video.
        train_seconds: (low, high) uniform utterance duration of the training set.
        test_speakers, test_videos, test_utterances: the same for the test set.
        test_seconds: (low, high) duration of the test utterances.
        num_trials: trials in ``veri_test2.txt`` (half of them target trials).
        sample_rate: Hz.

    Returns:
        ``{'voxceleb2': root, 'voxceleb1': root, 'trials': trial list, 'audio_root':
        folder the trial paths are relative to}``.
    """
    out_dir = os.path.abspath(out_dir)
    vox2 = os.path.join(out_dir, 'voxceleb2')
    vox1 = os.path.join(out_dir, 'voxceleb1')
    for index in range(train_speakers):
        rng = np.random.default_rng([seed, 2, index])
        _write_speaker(os.path.join(vox2, 'dev', 'wav'), f'id{1 + index:05d}', rng,
                       train_videos, train_utterances, train_seconds, sample_rate)
    test = []
    for index in range(test_speakers):
        rng = np.random.default_rng([seed, 1, index])
        speaker_id = f'id{10270 + index:05d}'
        for video, path in _write_speaker(os.path.join(vox1, 'wav'), speaker_id, rng,
                                          test_videos, test_utterances, test_seconds,
                                          sample_rate):
            test.append((speaker_id, video, path))
    trials = os.path.join(vox1, 'veri_test2.txt')
    write_trials(trials, _draw_trials(test, num_trials, np.random.default_rng([seed, 3])))
    return {'voxceleb2': vox2, 'voxceleb1': vox1, 'trials': trials,
            'audio_root': os.path.join(vox1, 'wav')}


def naive_baseline_eer(trials, audio_root, sample_rate=SAMPLE_RATE):
    """EER of the naive baseline: cosine similarity of utterance-mean log-mel vectors.

    Each utterance is summarised by the time average of its 80-dim log-mel fbank without mean
    normalisation; a trial's score is the cosine of its two vectors. A trained speaker
    embedding must do clearly better.

    Args:
        trials: a trial-list file or the list of ``read_trials``.
        audio_root: the folder the trial paths are relative to.
        sample_rate: Hz.

    Returns:
        the EER as a fraction in [0, 1].
    """
    from src.metrics import compute_eer   # the metrics package is only needed here

    if isinstance(trials, (str, os.PathLike)):
        trials = read_trials(trials, audio_root)
    fbank = Fbank(sample_rate=sample_rate, mean_norm=False)
    utterances = sorted({utt for _, enroll, test in trials for utt in (enroll, test)})
    means = {}
    for utt in utterances:
        vector = fbank(read_audio(os.path.join(audio_root, utt), sample_rate)).mean(axis=0)
        means[utt] = vector / np.linalg.norm(vector)
    scores = [float(means[enroll] @ means[test]) for _, enroll, test in trials]
    return compute_eer(scores, [label for label, _, _ in trials])[0]


# ---------------------------------------------------------------------------------------------
# MUSAN and RIRS_NOISES

def _noise(rng, num_samples, sample_rate):
    """Coloured noise, sometimes amplitude-modulated (traffic, fans, rain-like textures)."""
    n_frames = _num_frames(num_samples)
    octaves = np.log2(np.maximum(_bin_freqs(sample_rate), 50.0) / 1000.0)
    colour = rng.uniform(-6.0, 1.0) * octaves + rng.normal(0, 5.0) * np.exp(
        -0.5 * ((octaves - rng.uniform(-2, 2)) / rng.uniform(0.3, 1.0)) ** 2)
    spectrum = _gain(colour) * _complex_noise(rng, (n_frames, len(octaves)))
    if rng.random() < 0.5:
        rate = rng.uniform(0.2, 4.0) * _HOP / sample_rate
        modulation = 1 + rng.uniform(0.3, 0.9) * np.sin(
            2 * np.pi * rate * np.arange(n_frames) + rng.uniform(0, 2 * np.pi))
        spectrum *= modulation[:, None].astype(np.float32)
    return _istft(spectrum, num_samples)


def _music(rng, num_samples, sample_rate):
    """Notes of a few harmonic instruments on a random scale and tempo, with drum hits."""
    t = np.arange(num_samples) / sample_rate
    wave = np.zeros(num_samples)
    beat = rng.uniform(0.2, 0.6)
    root = rng.uniform(110, 330)
    scale = np.array([0, 2, 4, 5, 7, 9, 11, 12])
    for _ in range(int(rng.integers(1, 4))):                        # instruments
        harmonics = rng.uniform(0.1, 1.0, int(rng.integers(2, 8))) ** 2
        note_start = 0.0
        while note_start < t[-1]:
            length = beat * int(rng.integers(1, 4))
            f0 = root * 2 ** ((scale[rng.integers(len(scale))] + 12 * rng.integers(-1, 2)) / 12)
            inside = (t >= note_start) & (t < note_start + length)
            local = t[inside] - note_start
            envelope = np.minimum(local / 0.02, 1.0) * np.exp(-local / (0.5 * length))
            for order, amplitude in enumerate(harmonics, start=1):
                if order * f0 < sample_rate / 2:
                    wave[inside] += amplitude * envelope * np.sin(2 * np.pi * order * f0 * local)
            note_start += length
    for hit in np.arange(0, t[-1], beat):                            # drum: decaying noise bursts
        start = int(hit * sample_rate)
        burst = min(int(0.08 * sample_rate), num_samples - start)
        wave[start:start + burst] += 0.5 * rng.standard_normal(burst) * np.exp(
            -np.arange(burst) / (0.015 * sample_rate))
    return wave


def _normalise(wave, level_db, rng):
    """``wave`` at an RMS level of about ``level_db`` dBFS (peak at most 0.95), float32."""
    wave = np.asarray(wave, dtype=np.float64)
    gain = 10 ** ((level_db + rng.normal(0, 2)) / 20) / (np.sqrt(np.mean(wave ** 2)) + 1e-12)
    gain = min(gain, 0.95 / (np.max(np.abs(wave)) + 1e-12))
    return (wave * gain).astype(np.float32)


@DEMO_CORPORA.register('musan')
def make_musan_demo(out_dir, seed=0, noise_files=4, music_files=3, speech_files=3,
                    seconds=(5.0, 10.0), sample_rate=SAMPLE_RATE):
    """A synthetic MUSAN: ``musan/noise/free-sound/noise-free-sound-NNNN.wav``,
    ``musan/music/fma/music-fma-NNNN.wav``, ``musan/speech/librivox/speech-librivox-NNNN.wav``.

    Noise: coloured, partly modulated noise; music: harmonic notes and drum hits; speech: one
    synthetic talker per file (voices unrelated to the VoxCeleb demo's speakers).

    Args:
        out_dir: destination folder.
        seed: random seed.
        noise_files, music_files, speech_files: files of each kind.
        seconds: (low, high) uniform file duration.
        sample_rate: Hz.

    Returns:
        ``{'musan': root}``.
    """
    root = os.path.join(os.path.abspath(out_dir), 'musan')
    clean = dict(eq_db=0.0, tilt_db=0.0, snr_db=(60.0, 60.0))
    kinds = [('noise', 'free-sound', noise_files), ('music', 'fma', music_files),
             ('speech', 'librivox', speech_files)]
    for kind_index, (kind, source, count) in enumerate(kinds):
        for number in range(count):
            rng = np.random.default_rng([seed, 4, kind_index, number])
            num_samples = int(rng.uniform(*seconds) * sample_rate)
            if kind == 'noise':
                wave = _noise(rng, num_samples, sample_rate)
            elif kind == 'music':
                wave = _music(rng, num_samples, sample_rate)
            else:
                wave = synthesize(draw_speaker(rng), draw_channel(rng, sample_rate, **clean),
                                  num_samples, rng, sample_rate)
            path = os.path.join(root, kind, source, f'{kind}-{source}-{number:04d}.wav')
            write_audio(path, _normalise(wave, -26.0, rng), sample_rate)
    return {'musan': root}


_ROOM_SIZES = {'smallroom': (0.15, 0.35), 'mediumroom': (0.35, 0.7), 'largeroom': (0.7, 1.2)}


def _impulse_response(rng, rt60, sample_rate):
    """A room impulse response: direct path, sparse early reflections, exponential tail.

    Args:
        rng: ``np.random.Generator``.
        rt60: reverberation time (60 dB decay), seconds.
        sample_rate: Hz.

    Returns:
        float64 ``(samples,)``, ``1.2 * rt60`` seconds long.
    """
    num_samples = int(1.2 * rt60 * sample_rate)
    t = np.arange(num_samples) / sample_rate
    direct = int(rng.uniform(0.002, 0.012) * sample_rate)          # 0.7 - 4 m from the source
    rir = np.zeros(num_samples)
    rir[direct] = 1.0
    decay = np.exp(-6.9 * t / rt60)                                 # ln(1000) = 6.9: -60 dB
    for _ in range(int(rng.integers(6, 14))):
        delay = direct + int(rng.uniform(0.002, 0.05) * sample_rate)
        if delay < num_samples:
            rir[delay] += rng.choice([-1, 1]) * rng.uniform(0.2, 0.7) * decay[delay - direct]
    tail = rng.standard_normal(num_samples) * decay * rng.uniform(0.05, 0.2)
    # Air and wall absorption: higher frequencies die faster (a gently lowpassed tail).
    tail = np.convolve(tail, np.ones(3) / 3, mode='same')
    tail[:direct + 1] = 0.0
    return rir + tail


@DEMO_CORPORA.register('rirs_noises')
def make_rirs_demo(out_dir, seed=0, rooms_per_size=2, rirs_per_room=3, sample_rate=SAMPLE_RATE):
    """A synthetic RIRS_NOISES: ``RIRS_NOISES/simulated_rirs/{smallroom,mediumroom,largeroom}/
    RoomNNN/RoomNNN-NNNNN.wav`` and each size's Kaldi ``rir_list``.

    Args:
        out_dir: destination folder.
        seed: random seed.
        rooms_per_size: rooms of each size.
        rirs_per_room: impulse responses per room (one reverberation time per room).
        sample_rate: Hz.

    Returns:
        ``{'rirs_noises': root}``.
    """
    root = os.path.join(os.path.abspath(out_dir), 'RIRS_NOISES')
    for size_index, (size, (low, high)) in enumerate(_ROOM_SIZES.items()):
        lines = []
        for room in range(1, rooms_per_size + 1):
            rng = np.random.default_rng([seed, 5, size_index, room])
            rt60 = rng.uniform(low, high)
            for number in range(1, rirs_per_room + 1):
                rir = _impulse_response(rng, rt60, sample_rate)
                relative = f'simulated_rirs/{size}/Room{room:03d}/Room{room:03d}-{number:05d}.wav'
                write_audio(os.path.join(root, relative), 0.9 * rir / np.max(np.abs(rir)),
                            sample_rate)
                lines.append(f'--rir-id {size}-Room{room:03d}-{number:05d} --room-id '
                             f'{size}-Room{room:03d} RIRS_NOISES/{relative}\n')
        write_text(os.path.join(root, 'simulated_rirs', size, 'rir_list'), ''.join(lines))
    return {'rirs_noises': root}


# ---------------------------------------------------------------------------------------------
# ESC-50

# The 50 ESC-50 categories, index = target (as in ``ESC-50/meta/esc50.csv``).
ESC50_CATEGORIES = (
    'dog', 'rooster', 'pig', 'cow', 'frog', 'cat', 'hen', 'insects', 'sheep', 'crow',
    'rain', 'sea_waves', 'crackling_fire', 'crickets', 'chirping_birds', 'water_drops', 'wind',
    'pouring_water', 'toilet_flush', 'thunderstorm',
    'crying_baby', 'sneezing', 'clapping', 'breathing', 'coughing', 'footsteps', 'laughing',
    'brushing_teeth', 'snoring', 'drinking_sipping',
    'door_wood_knock', 'mouse_click', 'keyboard_typing', 'door_wood_creaks', 'can_opening',
    'washing_machine', 'vacuum_cleaner', 'clock_alarm', 'clock_tick', 'glass_breaking',
    'helicopter', 'chainsaw', 'siren', 'car_horn', 'engine', 'train', 'church_bells', 'airplane',
    'fireworks', 'hand_saw')
# The ESC-10 subset (``esc10`` column True), in target order.
ESC10_CATEGORIES = ('dog', 'rooster', 'rain', 'sea_waves', 'crackling_fire', 'crying_baby',
                    'sneezing', 'clock_tick', 'helicopter', 'chainsaw')
ESC50_HEADER = ('filename', 'fold', 'target', 'category', 'esc10', 'src_file', 'take')
ESC50_SAMPLE_RATE = 44100
# How a synthetic sound class is built: target % 5 picks the kind (see _sound_class).
_SOUND_KINDS = ('clicks', 'chirps', 'bursts', 'harmonic', 'warble')


@dataclass
class SoundClass:
    """What all clips of one synthetic ESC-50 class share: a kind of event and its parameters.

    The frequency band overlaps between classes (every clip shifts it at random by up to half
    an octave), so the long-term spectrum alone is a weak cue; the class is in the
    spectro-temporal pattern: event kind, event rate, sweep direction, harmonic structure.
    """
    kind: str            # one of _SOUND_KINDS
    centre_hz: float     # centre of the class's frequency band
    rate_hz: float       # events per second (clicks, chirps, bursts, notes) or modulation rate
    shape: float         # kind-specific: chirp octaves (signed), burst seconds, harmonics, depth


def _sound_class(target, seed):
    """The synthetic class of ESC-50 ``target`` (deterministic in ``seed`` and ``target``).

    Classes of the same kind (targets ``t`` and ``t + 5`` ...) differ in rate and shape on a
    spread grid, so no two classes are near duplicates.
    """
    rng = np.random.default_rng([seed, 6, target])
    kind = _SOUND_KINDS[target % 5]
    step = target // 5                                    # 0 ... 9: position on the kind's grid
    jitter = np.exp(rng.uniform(-0.08, 0.08))
    centre = float(600.0 * 2.0 ** ((3 * step) % 10 / 2.5) * jitter)   # 600 Hz ... 9 kHz
    if kind == 'clicks':
        rate, shape = 2.0 * 1.35 ** step, 0.004 * (1 + step % 3)     # clicks/s, decay seconds
    elif kind == 'chirps':
        rate = 1.0 + 0.6 * (step // 2)
        shape = (1.0 if step % 2 == 0 else -1.0) * (0.6 + 0.25 * (step // 2))   # octaves
    elif kind == 'bursts':
        rate, shape = 0.8 + 0.35 * step, 0.05 * 1.4 ** step                      # seconds
    elif kind == 'harmonic':
        rate, shape = 0.7 + 0.25 * step, float(2 + step)                         # harmonics
        centre = float(120.0 * 2.0 ** (step / 3.0) * jitter)                     # f0
    else:
        rate, shape = 0.5 * 1.45 ** step, 0.15 + 0.08 * (step % 4)      # octaves of FM
    return SoundClass(kind=kind, centre_hz=centre, rate_hz=float(rate * jitter),
                      shape=float(shape))


def _event_times(rng, rate, seconds, regular):
    """Onsets in ``[0, seconds)``: a jittered periodic train or a Poisson process."""
    if regular:
        period = 1.0 / rate
        times = np.arange(rng.uniform(0, period), seconds, period)
        return times + rng.normal(0, 0.03 * period, len(times))
    count = rng.poisson(rate * seconds) + 1
    return np.sort(rng.uniform(0, seconds, count))


def _band_noise(rng, num_samples, centre_hz, octaves, sample_rate):
    """White noise through a Gaussian band on the log-frequency axis (FFT filter)."""
    spectrum = scipy.fft.rfft(rng.standard_normal(num_samples))
    freqs = np.fft.rfftfreq(num_samples, 1.0 / sample_rate)
    distance = np.log2(np.maximum(freqs, 1.0) / centre_hz) / octaves
    out = scipy.fft.irfft(spectrum * np.exp(-0.5 * distance ** 2), n=num_samples)
    return out / (np.std(out) + 1e-12)


def _synthesize_sound(sound, rng, num_samples, sample_rate):
    """One clip of ``sound`` (no background, arbitrary level), float64 ``(num_samples,)``."""
    seconds = num_samples / sample_rate
    nyquist = 0.45 * sample_rate
    wave = np.zeros(num_samples)
    shift = 2.0 ** rng.uniform(-0.5, 0.5)                  # per-clip band shift, +- half octave
    rate = sound.rate_hz * np.exp(rng.normal(0, 0.1))
    centre = min(sound.centre_hz * shift, nyquist / 2)

    def add(start_s, event):
        start = int(start_s * sample_rate)
        if 0 <= start < num_samples:
            part = event[:num_samples - start]
            wave[start:start + len(part)] += part

    if sound.kind == 'clicks':
        length = int(12 * sound.shape * sample_rate)
        t = np.arange(length) / sample_rate
        for onset in _event_times(rng, rate, seconds, regular=True):
            f = centre * 2.0 ** rng.normal(0, 0.05)
            add(onset, rng.uniform(0.6, 1.0) * np.exp(-t / sound.shape)
                * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi)))
    elif sound.kind == 'chirps':
        duration = min(0.6 / rate, 0.5)
        t = np.arange(int(duration * sample_rate)) / sample_rate
        envelope = np.sin(np.pi * t / duration) ** 2
        for onset in _event_times(rng, rate, seconds, regular=False):
            f0 = centre * 2.0 ** (-sound.shape / 2 + rng.normal(0, 0.1))
            # Exponential sweep over ``shape`` octaves: f(t) = f0 * 2 ** (shape * t / duration).
            k = sound.shape / duration * np.log(2.0)
            phase = 2 * np.pi * f0 * np.expm1(k * t) / k
            add(onset, rng.uniform(0.5, 1.0) * envelope * np.sin(phase))
    elif sound.kind == 'bursts':
        for onset in _event_times(rng, rate, seconds, regular=False):
            length = int(sound.shape * np.exp(rng.normal(0, 0.15)) * sample_rate) + 16
            t = np.arange(length) / length
            envelope = np.minimum(t / 0.1, 1.0) * np.exp(-3.0 * t)
            add(onset, rng.uniform(0.5, 1.0) * envelope
                * _band_noise(rng, length, centre, 0.35, sample_rate))
    elif sound.kind == 'harmonic':
        for onset in _event_times(rng, rate, seconds, regular=True):
            duration = min(0.8 / rate, 1.2) * rng.uniform(0.7, 1.0)
            t = np.arange(int(duration * sample_rate)) / sample_rate
            envelope = np.minimum(t / 0.02, 1.0) * np.exp(-2.5 * t / duration)
            f0 = centre * shift ** 0.5 * 2.0 ** rng.normal(0, 0.05)
            vibrato = 0.01 * np.sin(2 * np.pi * 5.5 * t)
            note = np.zeros(len(t))
            for order in range(1, int(sound.shape) + 1):
                if order * f0 < nyquist:
                    note += np.sin(2 * np.pi * order * f0 * (t + vibrato / (2 * np.pi * 5.5)))
            add(onset, rng.uniform(0.6, 1.0) * envelope * note / np.sqrt(sound.shape))
    else:                                                  # warble: a siren-like FM tone
        t = np.arange(num_samples) / sample_rate
        octaves = sound.shape * np.sin(2 * np.pi * rate * t + rng.uniform(0, 2 * np.pi))
        frequency = centre * 2.0 ** octaves
        phase = 2 * np.pi * np.cumsum(frequency) / sample_rate
        on = (t > rng.uniform(0, 0.3 * seconds)) & (t < seconds - rng.uniform(0, 0.3 * seconds))
        wave += np.sin(phase) * _smooth(on.astype(np.float64), int(0.02 * sample_rate))
    return wave


def _background(rng, num_samples, sample_rate):
    """Coloured background noise (random spectral tilt), unit RMS."""
    spectrum = scipy.fft.rfft(rng.standard_normal(num_samples))
    freqs = np.maximum(np.fft.rfftfreq(num_samples, 1.0 / sample_rate), 50.0)
    out = scipy.fft.irfft(spectrum * (freqs / 1000.0) ** (rng.uniform(-6.0, 0.0) / 20 * 3.32),
                          n=num_samples)
    return out / (np.std(out) + 1e-12)


def esc50_clip(target, rng, seconds=5.0, sample_rate=ESC50_SAMPLE_RATE, seed=0):
    """One synthetic clip of ESC-50 class ``target``: the class's events in coloured background
    noise at 3-30 dB SNR, at a random level (RMS -40 ... -15 dBFS, peak at most 0.95).

    Args:
        target: ESC-50 target (0 ... 49).
        rng: ``np.random.Generator`` of this clip.
        seconds: clip length.
        sample_rate: Hz.
        seed: corpus seed (selects the class prototypes).

    Returns:
        float32 ``(round(seconds * sample_rate),)``.
    """
    num_samples = int(round(seconds * sample_rate))
    sound = _synthesize_sound(_sound_class(target, seed), rng, num_samples, sample_rate)
    sound /= np.sqrt(np.mean(sound ** 2)) + 1e-12
    noise = _background(rng, num_samples, sample_rate) * 10 ** (-rng.uniform(3.0, 30.0) / 20)
    return _normalise(sound + noise, rng.uniform(-40.0, -15.0), rng)


def esc50_demo_categories(classes):
    """The categories of a demo with ``classes`` classes: the ESC-10 ones first, then the others
    in target order; returned sorted by target.

    Raises:
        ConfigError: ``classes`` outside 2 ... 50.
    """
    if not 2 <= int(classes) <= len(ESC50_CATEGORIES):
        raise ConfigError(f'the ESC-50 demo has 2 ... 50 classes, got classes={classes}')
    order = list(ESC10_CATEGORIES) + [c for c in ESC50_CATEGORIES if c not in ESC10_CATEGORIES]
    return sorted(order[:int(classes)], key=ESC50_CATEGORIES.index)


@DEMO_CORPORA.register('esc50')
def make_esc50_demo(out_dir, seed=0, classes=10, clips_per_class=20, seconds=5.0,
                    sample_rate=ESC50_SAMPLE_RATE):
    """A synthetic ESC-50: ``ESC-50/audio/{fold}-{clip_id}-{take}-{target}.wav`` and
    ``ESC-50/meta/esc50.csv`` (header ``filename,fold,target,category,esc10,src_file,take``,
    rows sorted by file name, as published).

    Classes keep their real names and targets (:func:`esc50_demo_categories`; the default 10
    are ESC-10). Each class is split into 5 folds of equal size (sizes differ by at most one
    when ``clips_per_class`` is not a multiple of 5); like the real set, some clips are a second
    take (``B``) of the previous clip's source file, always in the same fold. Every class has
    its own random stream, so changing ``classes`` leaves the other classes' files unchanged.

    Args:
        out_dir: destination folder.
        seed: random seed.
        classes: number of classes (2 ... 50).
        clips_per_class: clips of each class (at least 5).
        seconds: clip length (5 s in ESC-50).
        sample_rate: Hz (44.1 kHz in ESC-50); 16-bit mono files.

    Returns:
        ``{'esc50': root}``.
    """
    if clips_per_class < 5:
        raise ConfigError(f'the ESC-50 demo needs clips_per_class >= 5 (one per fold), '
                          f'got {clips_per_class}')
    root = os.path.join(os.path.abspath(out_dir), 'ESC-50')
    # Source ids (freesound ids in the real set): unique, and the same whatever ``classes``.
    source_ids = np.random.default_rng([seed, 7]).choice(
        np.arange(10000, 300000), size=(len(ESC50_CATEGORIES), clips_per_class), replace=False)
    rows = []
    for category in esc50_demo_categories(classes):
        target = ESC50_CATEGORIES.index(category)
        rng = np.random.default_rng([seed, 8, target])
        previous = None  # (fold, source id, take) of the last clip
        for number in range(clips_per_class):
            fold = 1 + number * 5 // clips_per_class
            if (previous is not None and previous[0] == fold and previous[2] == 'A'
                    and rng.random() < 0.25):
                source, take = previous[1], 'B'
            else:
                source, take = int(source_ids[target, number]), 'A'
            previous = (fold, source, take)
            name = f'{fold}-{source}-{take}-{target}.wav'
            write_audio(os.path.join(root, 'audio', name),
                        esc50_clip(target, rng, seconds, sample_rate, seed), sample_rate)
            rows.append((name, fold, target, category, category in ESC10_CATEGORIES, source, take))
    rows.sort()
    lines = [','.join(ESC50_HEADER)] + [','.join(map(str, row)) for row in rows]
    write_text(os.path.join(root, 'meta', 'esc50.csv'), '\n'.join(lines) + '\n')
    return {'esc50': root}
