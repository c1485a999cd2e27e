"""The synthetic voices of the speech demo corpora (VoxCeleb, MUSAN speech).

A voice is a source-filter model built in the STFT domain: a glottal
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
naive baseline (:func:`src.ecapa_tdnn.baseline.naive_baseline_eer`,
cosine of the mean log-mel), are dominated by the
per-utterance nuisance, while a trained TDNN learns to find the resonances in mean-normalised
features.

Measured when the defaults of the VoxCeleb demo were chosen (default sizes, seed 0, ``configs/ecapa_tdnn/demo.yaml``):
naive baseline 42.7 % EER; the untrained demo ECAPA-TDNN 44.8 and 46.4 % (two initialisations);
trained on 2 CPU cores, 7.5 % after 3 epochs (120 steps, 1.5 min) and 5.3 % after 6 (the
whole 9-epoch run with its evaluations took 4.3 min). Without the per-utterance styles
(speakers differing in pitch and formants) an untrained network scored 7 %. Generating the
default VoxCeleb demo takes 12-15 s on one core.
"""
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .dsp import (HOP, N_FFT, SAMPLE_RATE, bin_freqs, complex_noise, db_to_gain, energy, istft,
                  num_frames, smooth, stft)

# Vowel templates (F1, F2, F3 in Hz, adult male): close to the averages of ten American
# English vowels in Hillenbrand et al. (1995), plus a neutral vowel.
_VOWELS = np.array([
    [340, 2320, 2950], [430, 2020, 2650], [480, 2090, 2670], [580, 1800, 2600],
    [590, 1950, 2600], [770, 1330, 2400], [650, 1000, 2500], [470, 1120, 2400],
    [380, 1000, 2350], [620, 1200, 2550], [500, 1450, 2450]], dtype=np.float64)


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
    return np.log1p(bin_freqs(sample_rate) / 700.0) / np.log1p(sample_rate / 2 / 700.0)


def _hz_to_unit_mel(hz, sample_rate=SAMPLE_RATE):
    """Frequencies in Hz on the mel axis scaled as in :func:`_unit_mel`."""
    return np.log1p(np.asarray(hz) / 700.0) / np.log1p(sample_rate / 2 / 700.0)


def _smooth_curve(rng, sample_rate, tilt_db, ripple_db):
    """A random smooth curve over the STFT bins in dB: a tilt in dB per octave around 1 kHz plus
    four cosine ripples on the mel axis (the ``k``-th with std ``ripple_db / sqrt(k)``)."""
    mel = _unit_mel(sample_rate)
    octaves = np.log2(np.maximum(bin_freqs(sample_rate), 60.0) / 1000.0)
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
    octaves = np.log2(np.maximum(bin_freqs(sample_rate), 60.0) / 1000.0)
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
    n_frames = num_frames(num_samples)
    frame_seconds = HOP / sample_rate
    voiced, fricative, vowel, accent = _plan(style, n_frames, rng, frame_seconds)

    # Intonation: a falling declination line plus smoothed pitch accents (semitones).
    semitones = np.linspace(1.0, -1.0, n_frames) * style.f0_range + smooth(accent, 9)
    f0_frames = style.f0 * 2.0 ** (semitones / 12.0)
    length = (n_frames - 1) * HOP + N_FFT
    f0 = np.interp(np.arange(length) / HOP, np.arange(n_frames), f0_frames)
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
    source_spec = stft(source, n_frames)
    source_spec /= np.sqrt(energy(source_spec) / source_spec.size) + 1e-12
    # One white noise serves the aspiration of vowels and the fricatives (they rarely overlap).
    aspiration = complex_noise(rng, source_spec.shape)
    source_spec += style.breathiness * aspiration

    # The vowel envelopes cross-fade in the log domain over ~50 ms (coarticulation). The
    # utterance's colour and the speaker's resonances shape every voiced frame; the resonances
    # leave the background noise alone, so mean normalisation does not remove them.
    freqs = bin_freqs(sample_rate)
    weights = smooth(np.eye(len(style.formants))[vowel], 7)                # (frames, vowels)
    identity = speaker_resonances_db(speaker, sample_rate) * (np.log(10) / 20)   # nepers
    log_envelope = weights.astype(np.float32) @ _log_vowel_envelopes(style, freqs).astype(
        np.float32) + (style.colour_db * (np.log(10) / 20) + identity).astype(np.float32)
    speech = np.exp(log_envelope, out=log_envelope) * voiced[:, None].astype(np.float32)
    speech = speech * source_spec
    speech /= np.sqrt(energy(speech) / max(np.count_nonzero(voiced), 1)) + 1e-12

    octaves = np.log2(np.maximum(freqs, 1.0) / style.fricative_hz)
    # The fricatives pass through the same vocal tract: they carry the resonances too (and,
    # having no formants or harmonics, show them most clearly).
    fric_shape = np.exp(-0.5 * (octaves / style.fricative_octaves) ** 2 + identity)
    fric_gain = 10 ** (style.fricative_db / 20) / np.sqrt(np.mean(fric_shape ** 2))
    fric_envelope = (smooth(fricative, 3)[:, None].astype(np.float32)
                     * (fric_gain * fric_shape).astype(np.float32))
    speech += fric_envelope * aspiration

    active = max(np.count_nonzero(voiced + fricative), 1)
    speech_power = energy(speech) / active
    noise = db_to_gain(channel.noise_db) * complex_noise(rng, speech.shape)
    noise *= np.sqrt(speech_power / (energy(noise) / noise.size) / 10 ** (channel.snr_db / 10))
    speech += noise
    speech *= db_to_gain(channel.eq_db)
    wave = istft(speech, num_samples)
    # Level per utterance around the channel's, and a peak limit (16-bit files clip at 1).
    level = 10 ** ((channel.level_db + rng.normal(0, 1.5)) / 20)
    gain = min(level / (np.sqrt(np.mean(wave ** 2)) + 1e-12),
               0.95 / (np.max(np.abs(wave)) + 1e-12))
    return (wave * gain).astype(np.float32)

