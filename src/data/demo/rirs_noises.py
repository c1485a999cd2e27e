"""The RIRS_NOISES demo: synthetic room impulse responses in the simulated_rirs layout."""
import os

import numpy as np

from src.audio import write_audio
from src.data.manifest import write_text

from . import demo_corpus
from .dsp import SAMPLE_RATE

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


@demo_corpus('rirs_noises')
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

