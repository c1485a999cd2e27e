"""The MUSAN demo: coloured noise, synthetic music and synthetic talkers in MUSAN's layout."""
import os

import numpy as np

from src.audio import write_audio

from . import demo_corpus
from .dsp import HOP, SAMPLE_RATE, bin_freqs, complex_noise, db_to_gain, istft, normalise, num_frames
from .voice import draw_channel, draw_speaker, synthesize


def coloured_noise(rng, num_samples, sample_rate):
    """Coloured noise, sometimes amplitude-modulated (traffic, fans, rain-like textures)."""
    n_frames = num_frames(num_samples)
    octaves = np.log2(np.maximum(bin_freqs(sample_rate), 50.0) / 1000.0)
    colour = rng.uniform(-6.0, 1.0) * octaves + rng.normal(0, 5.0) * np.exp(
        -0.5 * ((octaves - rng.uniform(-2, 2)) / rng.uniform(0.3, 1.0)) ** 2)
    spectrum = db_to_gain(colour) * complex_noise(rng, (n_frames, len(octaves)))
    if rng.random() < 0.5:
        rate = rng.uniform(0.2, 4.0) * HOP / sample_rate
        modulation = 1 + rng.uniform(0.3, 0.9) * np.sin(
            2 * np.pi * rate * np.arange(n_frames) + rng.uniform(0, 2 * np.pi))
        spectrum *= modulation[:, None].astype(np.float32)
    return istft(spectrum, num_samples)


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



@demo_corpus('musan')
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
                wave = coloured_noise(rng, num_samples, sample_rate)
            elif kind == 'music':
                wave = _music(rng, num_samples, sample_rate)
            else:
                wave = synthesize(draw_speaker(rng), draw_channel(rng, sample_rate, **clean),
                                  num_samples, rng, sample_rate)
            path = os.path.join(root, kind, source, f'{kind}-{source}-{number:04d}.wav')
            write_audio(path, normalise(wave, -26.0, rng), sample_rate)
    return {'musan': root}

