"""Waveform augmentation of the published ECAPA-TDNN recipes: MUSAN noise, music, babble, and
reverberation with simulated room impulse responses (RIRS_NOISES).

As in the Kaldi/wespeaker recipes, each utterance is left clean with probability ``1 - prob``;
otherwise one augmentation is drawn uniformly among the enabled kinds. Additive kinds crop (or
tile) a noise file to the utterance's length and scale it to an SNR drawn uniformly from the
kind's range; babble sums several MUSAN speech files. Reverberation convolves with a unit-energy
RIR, aligned to the RIR's direct path so that the output stays time-aligned with the input.

Runs in data-loader workers (numpy/scipy/soundfile). Every random choice comes from the
``numpy.random.Generator`` passed in, so a seeded generator reproduces the output exactly.

References: Snyder et al., "X-vectors: robust DNN embeddings for speaker recognition" (ICASSP 2018,
the Kaldi augmentation recipe); wespeaker ``wespeaker/dataset/processor.py``; speechbrain
``speechbrain/augment/time_domain.py``.
"""
import glob
import math
import os

import numpy as np
from scipy.signal import fftconvolve

from src.errors import ConfigError, DataError

from .io import audio_info, read_audio

MUSAN_KINDS = ('noise', 'music', 'speech')
KINDS = ('noise', 'music', 'babble', 'reverb')
# The MUSAN subtree each additive kind draws from.
MUSAN_SUBTREE = {'noise': 'noise', 'music': 'music', 'babble': 'speech'}
ROOM_SIZES = ('smallroom', 'mediumroom', 'largeroom')


def musan_sources(root):
    """The wav files of a MUSAN copy, by subtree.

    Args:
        root: the ``musan`` directory (holding ``noise/``, ``music/``, ``speech/``) or its parent.

    Returns:
        dict ``kind -> sorted list of paths`` for the kinds of :data:`MUSAN_KINDS` that have
        wav files (searched recursively).

    Raises:
        DataError: ``root`` is missing or holds no wav file in any of the three subtrees.
    """
    root = os.fspath(root)
    if not os.path.isdir(root):
        raise DataError(f'MUSAN directory not found: {root}; set data.musan to the '
                        'folder holding noise/, music/ and speech/')
    base = root
    if not any(os.path.isdir(os.path.join(root, kind)) for kind in MUSAN_KINDS):
        base = os.path.join(root, 'musan')
    sources = {}
    for kind in MUSAN_KINDS:
        files = _wav_files(os.path.join(glob.escape(base), kind, '**', '*'))
        if files:
            sources[kind] = files
    if not sources:
        raise DataError(f'no .wav files under {base}/{{noise,music,speech}}; point '
                        'data.musan at an unpacked MUSAN copy')
    return sources


def rir_sources(root, include_real=True):
    """The room impulse responses of an RIRS_NOISES copy.

    Takes ``simulated_rirs/{smallroom,mediumroom,largeroom}/Room*/Room*-*.wav`` and, if
    ``include_real`` and present, the impulse responses (not the noises: only names containing
    'rir') of ``real_rirs_isotropic_noises/*.wav``.

    Args:
        root: the ``RIRS_NOISES`` directory or its parent.
        include_real: also take the real RIRs.

    Returns:
        sorted list of paths.

    Raises:
        DataError: ``root`` is missing or holds no RIR.
    """
    root = os.fspath(root)
    if not os.path.isdir(root):
        raise DataError(f'RIR directory not found: {root}; set data.rirs to the '
                        'RIRS_NOISES folder')
    base = root
    if not os.path.isdir(os.path.join(root, 'simulated_rirs')) and \
            not os.path.isdir(os.path.join(root, 'real_rirs_isotropic_noises')):
        base = os.path.join(root, 'RIRS_NOISES')
    files = []
    for size in ROOM_SIZES:
        files += _wav_files(os.path.join(glob.escape(base), 'simulated_rirs', size, 'Room*',
                                         'Room*-*'))
    if include_real:
        real = _wav_files(os.path.join(glob.escape(base), 'real_rirs_isotropic_noises', '*'))
        files += [path for path in real if 'rir' in os.path.basename(path).lower()]
    if not files:
        raise DataError(f'no RIR .wav files under {base}/simulated_rirs/'
                        '{smallroom,mediumroom,largeroom}/Room*/; point data.rirs at '
                        'an unpacked RIRS_NOISES copy')
    return sorted(files)


def _wav_files(pattern):
    """Sorted files matching the glob ``pattern`` + ``.wav`` (any case), ``**`` recursive."""
    return sorted(path for path in glob.glob(pattern + '.[wW][aA][vV]', recursive=True)
                  if os.path.isfile(path))


def add_at_snr(wave, noise, snr_db):
    """Add ``noise`` scaled so that ``10 log10(P(wave) / P(scaled noise)) = snr_db``.

    P is the mean power over the whole signal. A silent noise adds nothing (no scale reaches the
    SNR); a silent wave gets a zero scale.

    Args:
        wave: ``(samples,)``.
        noise: ``(samples,)``, same length.
        snr_db: wanted signal-to-noise ratio in dB.

    Returns:
        float32 ``(samples,)``.
    """
    wave = np.asarray(wave, dtype=np.float64)
    noise = np.asarray(noise, dtype=np.float64)
    if wave.shape != noise.shape:
        raise ValueError(f'wave {wave.shape} and noise {noise.shape} differ in shape')
    noise_power = np.mean(noise ** 2)
    if noise_power == 0.0:
        return wave.astype(np.float32)
    scale = math.sqrt(np.mean(wave ** 2) / (noise_power * 10.0 ** (snr_db / 10.0)))
    return (wave + scale * noise).astype(np.float32)


def reverberate(wave, rir):
    """Convolve with a room impulse response, keeping length and timing.

    The RIR is scaled to unit energy, and the output starts at the RIR's direct path (its
    largest tap), so a delayed delta returns the input unchanged.

    Args:
        wave: ``(samples,)``.
        rir: ``(taps,)``.

    Returns:
        float32 ``(samples,)``.
    """
    wave = np.asarray(wave, dtype=np.float64)
    rir = np.asarray(rir, dtype=np.float64)
    energy = np.sum(rir ** 2)
    if energy == 0.0:
        return wave.astype(np.float32)
    rir = rir / math.sqrt(energy)
    direct = int(np.argmax(np.abs(rir)))
    # len(full) = len(wave) + len(rir) - 1 >= direct + len(wave), as direct < len(rir).
    full = fftconvolve(wave, rir, mode='full')
    return full[direct:direct + wave.shape[0]].astype(np.float32)


class NoiseSource:
    """A set of noise files to draw random, length-matched excerpts from.

    Args:
        files: audio paths.
        kind: what they hold ('noise', 'music', 'speech'), for messages.
        sample_rate: rate of the excerpts; files at another rate are resampled.
    """

    def __init__(self, files, kind, sample_rate=16000):
        self.files = [os.fspath(path) for path in files]
        if not self.files:
            raise DataError(f'no {kind} files to draw augmentation noise from')
        self.kind = kind
        self.sample_rate = int(sample_rate)
        self._info = {}  # path -> (num_samples, sample_rate), filled on first use

    def __len__(self):
        return len(self.files)

    def sample(self, rng, num_samples):
        """A random excerpt of a random file.

        A file longer than needed is read only over a random window (no full decode); a shorter
        one is read whole and tiled.

        Args:
            rng: ``numpy.random.Generator``.
            num_samples: wanted length at ``sample_rate``.

        Returns:
            ``(excerpt, path)``: float32 ``(num_samples,)`` and the file it came from.
        """
        path = self.files[int(rng.integers(len(self.files)))]
        if path not in self._info:
            self._info[path] = audio_info(path)
        file_samples, file_rate = self._info[path]
        # Frames of the file that cover num_samples after resampling.
        needed = math.ceil(num_samples * file_rate / self.sample_rate)
        if file_samples > needed:
            start = int(rng.integers(file_samples - needed + 1))
            excerpt = read_audio(path, self.sample_rate, 'resample', start=start,
                                 stop=start + needed)
        else:
            excerpt = read_audio(path, self.sample_rate, 'resample')
        return fit_length(excerpt, num_samples), path


def fit_length(wave, num_samples):
    """Crop ``wave`` to ``num_samples``, or repeat it from the start until it is that long."""
    if wave.shape[0] >= num_samples:
        return wave[:num_samples]
    return np.resize(wave, num_samples)


class Augmenter:
    """Kaldi/wespeaker-style random augmentation of one utterance.

    With probability ``prob`` one kind, drawn uniformly among the active ones, is applied:

    * 'noise': a MUSAN ``noise`` excerpt at an SNR drawn from ``noise_snr`` (dB);
    * 'music': a MUSAN ``music`` excerpt at an SNR from ``music_snr``;
    * 'babble': the sum of N MUSAN ``speech`` excerpts (N uniform in ``babble_speakers``,
      inclusive) at an SNR from ``babble_snr``;
    * 'reverb': convolution with a random RIR (:func:`reverberate`).

    Kinds whose data root is ``None`` (MUSAN for the additive kinds, RIRs for 'reverb') are not
    active; ``kinds`` lists the active ones and :meth:`summary` says so in one line. A root that
    is given must hold the files of every requested kind.

    Args:
        musan_root: MUSAN directory (see :func:`musan_sources`) or ``None``.
        rir_root: RIRS_NOISES directory (see :func:`rir_sources`) or ``None``.
        sample_rate: rate of the waves in Hz.
        noise_snr, music_snr, babble_snr: ``(low, high)`` SNR ranges in dB.
        babble_speakers: ``(low, high)`` number of speech files summed for babble.
        reverb: allow 'reverb' (a switch kept apart from ``kinds`` for configs).
        prob: probability of augmenting an utterance.
        kinds: requested kinds, a subset of :data:`KINDS`.

    Raises:
        ConfigError: an unknown kind or an invalid range or probability.
        DataError: a given root that is missing or lacks the files of a requested kind.
    """

    def __init__(self, musan_root=None, rir_root=None, sample_rate=16000, noise_snr=(0, 15),
                 music_snr=(5, 15), babble_snr=(13, 20), babble_speakers=(3, 7), reverb=True,
                 prob=0.6, kinds=KINDS):
        unknown = [kind for kind in kinds if kind not in KINDS]
        if unknown:
            raise ConfigError(f'augment kinds {unknown} unknown; choose from {list(KINDS)}')
        if not 0.0 <= prob <= 1.0:
            raise ConfigError(f'augment prob must be in [0, 1], got {prob}')
        for name, (low, high) in (('noise_snr', noise_snr), ('music_snr', music_snr),
                                  ('babble_snr', babble_snr)):
            if low > high:
                raise ConfigError(f'augment {name} must be [low, high] with low <= high, '
                                  f'got {[low, high]}')
        if not 1 <= babble_speakers[0] <= babble_speakers[1]:
            raise ConfigError('augment babble_speakers must be [low, high] with 1 <= low <= high, '
                              f'got {list(babble_speakers)}')
        self.musan_root = None if musan_root is None else os.fspath(musan_root)
        self.rir_root = None if rir_root is None else os.fspath(rir_root)
        self.sample_rate = int(sample_rate)
        self.snr_ranges = {'noise': tuple(noise_snr), 'music': tuple(music_snr),
                           'babble': tuple(babble_snr)}
        self.babble_speakers = (int(babble_speakers[0]), int(babble_speakers[1]))
        self.reverb = bool(reverb)
        self.prob = float(prob)
        self.requested_kinds = tuple(kind for kind in kinds if kind != 'reverb' or self.reverb)

        self.sources = {}  # additive kind -> NoiseSource
        self.rirs = []
        active = []
        additive = [kind for kind in self.requested_kinds if kind in MUSAN_SUBTREE]
        if additive and self.musan_root is not None:
            musan = musan_sources(self.musan_root)
            for kind in additive:
                subtree = MUSAN_SUBTREE[kind]
                if subtree not in musan:
                    raise DataError(f'MUSAN at {self.musan_root} has no {subtree}/ wav files for '
                                    f"augment kind '{kind}'; add them or drop '{kind}' from "
                                    'data.augment_kinds')
                self.sources[kind] = NoiseSource(musan[subtree], subtree, self.sample_rate)
                active.append(kind)
        if 'reverb' in self.requested_kinds and self.rir_root is not None:
            self.rirs = rir_sources(self.rir_root)
            active.append('reverb')
        # Keep the order of the request so that the kind drawn for an rng state is stable.
        self.kinds = tuple(kind for kind in self.requested_kinds if kind in active)

    def __call__(self, wave, rng):
        """Augment one utterance (or return it unchanged, with probability ``1 - prob``).

        Args:
            wave: ``(samples,)`` at ``sample_rate``.
            rng: ``numpy.random.Generator``; the only source of randomness.

        Returns:
            float32 ``(samples,)``.
        """
        wave = np.asarray(wave, dtype=np.float32)
        if rng.random() >= self.prob or not self.kinds or wave.shape[0] == 0:
            return wave
        kind = self.kinds[int(rng.integers(len(self.kinds)))]
        return self.apply(wave, kind, rng)[0]

    def apply(self, wave, kind, rng):
        """Apply one given kind (always, no ``prob`` draw).

        Args:
            wave: ``(samples,)``.
            kind: one of :attr:`kinds`.
            rng: ``numpy.random.Generator``.

        Returns:
            ``(augmented, info)``: float32 ``(samples,)`` and a dict of what was drawn:
            ``kind``, ``files`` and, for additive kinds, ``snr_db``.
        """
        if kind not in self.kinds:
            raise ValueError(f'augment kind {kind!r} is not active; active: {list(self.kinds)}')
        wave = np.asarray(wave, dtype=np.float32)
        length = wave.shape[0]
        if kind == 'reverb':
            path = self.rirs[int(rng.integers(len(self.rirs)))]
            rir = read_audio(path, self.sample_rate, 'resample', mono=False)
            # Channels of a real multi-microphone RIR have different delays: averaging them
            # would smear the response, so take the first microphone.
            rir = rir[:, 0] if rir.ndim == 2 else rir
            return reverberate(wave, rir), {'kind': kind, 'files': [path]}
        source = self.sources[kind]
        count = int(rng.integers(self.babble_speakers[0], self.babble_speakers[1] + 1)) \
            if kind == 'babble' else 1
        noise = np.zeros(length, dtype=np.float64)
        files = []
        for _ in range(count):
            excerpt, path = source.sample(rng, length)
            noise += excerpt
            files.append(path)
        snr_db = float(rng.uniform(*self.snr_ranges[kind]))
        return add_at_snr(wave, noise, snr_db), {'kind': kind, 'files': files, 'snr_db': snr_db}

    def summary(self):
        """One line: the probability and the active kinds with their file counts."""
        if not self.kinds or self.prob == 0.0:
            return 'augment: off'
        parts = []
        for kind in self.kinds:
            count = len(self.rirs) if kind == 'reverb' else len(self.sources[kind])
            parts.append(f'{kind} ({count} files)')
        inactive = [kind for kind in self.requested_kinds if kind not in self.kinds]
        off = f'; no data root for {", ".join(inactive)}' if inactive else ''
        return f'augment: p={self.prob:g} of {", ".join(parts)}{off}'

    def to_dict(self):
        """The constructor's arguments, JSON-serialisable; ``Augmenter(**d)`` rebuilds it."""
        return {
            'musan_root': self.musan_root,
            'rir_root': self.rir_root,
            'sample_rate': self.sample_rate,
            'noise_snr': list(self.snr_ranges['noise']),
            'music_snr': list(self.snr_ranges['music']),
            'babble_snr': list(self.snr_ranges['babble']),
            'babble_speakers': list(self.babble_speakers),
            'reverb': self.reverb,
            'prob': self.prob,
            'kinds': list(self.requested_kinds),
        }
