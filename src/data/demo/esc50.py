"""The ESC-50 demo: synthetic sound classes in ESC-50's layout (audio/ and meta/esc50.csv).

The schema (category names and targets, the ESC-10 subset, the CSV header, the sample rate) is
the reader's, :mod:`src.panns.dataset`: the demo writes what the reader checks.
"""
import os
from dataclasses import dataclass

import numpy as np
import scipy.fft

from src.audio import write_audio
from src.data.manifest import write_text
from src.errors import ConfigError
from src.panns.dataset import ESC10_CATEGORIES, ESC50_CATEGORIES, ESC50_HEADER, ESC50_SAMPLE_RATE

from . import demo_corpus
from .dsp import normalise, smooth

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
        wave += np.sin(phase) * smooth(on.astype(np.float64), int(0.02 * sample_rate))
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
    return normalise(sound + noise, rng.uniform(-40.0, -15.0), rng)


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


@demo_corpus('esc50')
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

