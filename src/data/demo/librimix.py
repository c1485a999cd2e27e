"""The LibriMix demo: Libri2Mix (or Libri3Mix) made from the LibriSpeech demo the way LibriMix's
scripts (``create_librimix_metadata.py``, ``create_librimix_from_metadata.py``) make theirs, in
their output layout, with synthetic noise standing in for WHAM!.

For each split: utterances of different readers are paired (the training split uses every
utterance once; dev and test draw pairs until they have their number, without a pair twice);
each source, and a noise as long as the longest, is brought to a loudness drawn from
[-33, -25] LUFS (noise: [-38, -30]) by ITU-R BS.1770 integrated loudness (pyloudnorm, the meter
LibriMix uses); a source that would clip is scaled to a peak of 0.9 instead, and all are scaled
down together when their sum would peak above 0.9. The scaled sources are resampled (8 or
16 kHz), cut to the shortest ('min') or zero-padded to the longest ('max'), written as
``s1``, ``s2`` (, ``s3``) and ``noise``, and summed into ``mix_clean`` (the speakers),
``mix_both`` (with the noise) and ``mix_single`` (``s1`` and the noise). All files are 16-bit
PCM wav, as LibriMix writes them (soundfile's default), so a mixture equals the sum of its
written parts to within the quantisation (at most one step per part).
"""
import os

import numpy as np

from src.audio import read_audio, resample, write_audio
from src.data.manifest import write_table
from src.errors import ConfigError, UserError

from . import demo_corpus
from .dsp import SAMPLE_RATE
from .librispeech import SPLITS, write_librispeech_demo
from .musan import coloured_noise

# Target loudness ranges (LUFS) and the largest peak of a source or mixture, as in LibriMix.
SPEECH_LOUDNESS = (-33.0, -25.0)
NOISE_LOUDNESS = (-38.0, -30.0)
MAX_AMP = 0.9
TYPES = ('mix_clean', 'mix_both', 'mix_single')
MODES = ('min', 'max')
# LibriSpeech subset -> LibriMix split folder ('-clean' dropped, as LibriMix does)
SPLIT_NAMES = {'train-clean-100': 'train-100', 'dev-clean': 'dev', 'test-clean': 'test'}
# LibriMix gives up pairing a split's remaining utterances after this many draws in a row that
# pick one reader twice.
_PAIRING_FAILS = 200


def loudness_meter(sample_rate):
    """ITU-R BS.1770-4 integrated loudness (``meter(wave) -> LUFS``) by pyloudnorm.

    Raises:
        UserError: pyloudnorm is not installed.
    """
    try:
        import pyloudnorm
    except ImportError:
        raise UserError('the LibriMix demo measures loudness with pyloudnorm, which is not '
                        'installed: pip install pyloudnorm') from None
    return pyloudnorm.Meter(sample_rate).integrated_loudness


def draw_groups(rng, readers, n_src):
    """One round of LibriMix's pairing: groups of ``n_src`` utterances of different readers,
    each utterance at most once (a draw that picks a reader twice is a failure; the round ends
    after :data:`_PAIRING_FAILS` failures in a row or when fewer than ``n_src`` are left).

    Args:
        rng: ``np.random.Generator``.
        readers: reader id of each utterance of the split.
        n_src: utterances per group.

    Returns:
        list of tuples of utterance indices.
    """
    remaining = list(range(len(readers)))
    groups, fails = [], 0
    while len(remaining) >= n_src and fails < _PAIRING_FAILS:
        picks = rng.choice(len(remaining), n_src, replace=False)
        group = tuple(remaining[k] for k in picks)
        if len({readers[k] for k in group}) < n_src:
            fails += 1
            continue
        for k in sorted(picks, reverse=True):
            del remaining[k]
        groups.append(group)
        fails = 0
    return groups


def _split_groups(rng, readers, n_src, count, split):
    """The groups of one split: one round for training (``count`` None), else rounds until
    ``count`` distinct groups (as sets: [s1, s2] = [s2, s1])."""
    if len(set(readers)) < n_src:
        raise ConfigError(f'the {split} split has {len(set(readers))} readers, a mixture needs '
                          f'{n_src}; give it more speakers')
    if count is None:
        return draw_groups(rng, readers, n_src)
    groups, seen, idle = [], set(), 0
    while len(groups) < count:
        added = 0
        for group in draw_groups(rng, readers, n_src):
            if frozenset(group) not in seen and len(groups) < count:
                seen.add(frozenset(group))
                groups.append(group)
                added += 1
        idle = 0 if added else idle + 1
        if idle >= 20:
            raise ConfigError(f'the {split} split has too few utterances for {count} distinct '
                              f'mixtures; lower its number of mixtures or give it more utterances')
    return groups


def draw_gains(rng, waves, meter):
    """LibriMix's gains of one mixture's sources and noise (the last of ``waves``).

    Each wave is brought to a loudness drawn from :data:`SPEECH_LOUDNESS` (the noise:
    :data:`NOISE_LOUDNESS`), or to a peak of :data:`MAX_AMP` where that loudness would clip;
    then all together are scaled down where their sum would peak above :data:`MAX_AMP`.

    Args:
        rng: ``np.random.Generator``.
        waves: 16 kHz float arrays of one length (the sources padded to the longest, the noise).
        meter: ``meter(wave) -> LUFS`` (:func:`loudness_meter`).

    Returns:
        ``(gains, targets)``: float lists, the gain of each wave and the loudness it was given
        (before the common scaling).
    """
    gains, targets = [], []
    for index, wave in enumerate(waves):
        low, high = NOISE_LOUDNESS if index == len(waves) - 1 else SPEECH_LOUDNESS
        target = float(rng.uniform(low, high))
        gain = 10.0 ** ((target - meter(wave)) / 20.0)
        peak = float(np.max(np.abs(wave)))
        if gain * peak >= 1.0:
            gain = MAX_AMP / peak
            target = float(meter(wave * gain))
        gains.append(gain)
        targets.append(target)
    peak = float(np.max(np.abs(sum(g * w for g, w in zip(gains, waves)))))
    weight = MAX_AMP / peak if peak > MAX_AMP else 1.0
    return [g * weight for g in gains], targets


def _snr_db(signal, rest):
    return float(10 * np.log10(np.mean(signal ** 2) / (np.mean(rest ** 2) + 1e-10) + 1e-10))


@demo_corpus('librimix')
def make_librimix_demo(out_dir, seed=0, n_src=2, freqs=('8k',), modes=('min',), types=TYPES,
                       dev_mixtures=50, test_mixtures=50, train_speakers=40, dev_speakers=6,
                       test_speakers=6, chapters=2, utterances=8, words=(9, 18)):
    """A Libri2Mix (or Libri3Mix) made from the LibriSpeech demo, which it writes first
    (:func:`.librispeech.make_librispeech_demo` with the same seed and reader sizes).

    Layout under ``out_dir``: ``Libri{n_src}Mix/wav{freq}/{mode}/{split}/{type}/<mixture_ID>.wav``
    for the splits ``train-100``, ``dev``, ``test`` (from ``train-clean-100``, ``dev-clean``,
    ``test-clean``: disjoint readers), with ``s1``, ``s2`` (, ``s3``) and ``noise`` beside the
    mixture types; ``mixture_ID`` is the utterance ids joined by ``_``. Metadata in
    ``Libri{n_src}Mix/wav{freq}/{mode}/metadata/``: ``mixture_{split}_{type}.csv``
    (``mixture_ID,mixture_path,source_1_path,source_2_path[,noise_path],length``;
    ``mix_single``: ``source_1_path,noise_path``; absolute paths, length in samples) and
    ``metrics_{split}_{type}.csv`` (the SNR of each part in the mixture, dB).

    Args:
        out_dir: destination folder (``LibriSpeech`` is written there too).
        seed: random seed.
        n_src: speakers per mixture (2: Libri2Mix, 3: Libri3Mix).
        freqs: sample rates, of '8k' and '16k'.
        modes: of 'min' (mixtures as long as the shortest source) and 'max' (the longest).
        types: of 'mix_clean', 'mix_both', 'mix_single'.
        dev_mixtures, test_mixtures: mixtures of the dev and test splits (the training split
            uses each of its utterances once).
        train_speakers, dev_speakers, test_speakers, chapters, utterances, words: the sizes of
            the LibriSpeech demo.

    Returns:
        ``{'librispeech': root, 'librimix': Libri{n_src}Mix root}`` and, for every rate and
        mode, ``'metadata_wav{freq}_{mode}'``: its metadata folder.
    """
    freqs, modes, types = tuple(freqs), tuple(modes), tuple(types)
    for name, values, known in (('freqs', freqs, ('8k', '16k')), ('modes', modes, MODES),
                                ('types', types, TYPES)):
        unknown = [v for v in values if v not in known]
        if unknown or not values:
            raise ConfigError(f'librimix {name} {list(values)}: give some of {list(known)}')
    if n_src not in (2, 3):
        raise ConfigError(f'librimix n_src={n_src}: LibriMix has 2 or 3 speakers per mixture')
    speech_root, utterances_written = write_librispeech_demo(
        out_dir, seed, train_speakers, dev_speakers, test_speakers, chapters, utterances, words)
    root = os.path.join(os.path.abspath(out_dir), f'Libri{n_src}Mix')
    meter = loudness_meter(SAMPLE_RATE)
    counts = {'train-clean-100': None, 'dev-clean': dev_mixtures, 'test-clean': test_mixtures}
    rows = {}          # (freq, mode, split, type) -> (mixture rows, metrics rows)
    for split_index, subset in enumerate(SPLITS):
        split = SPLIT_NAMES[subset]
        pool = [u for u in utterances_written if u.reader.subset == subset]
        rng = np.random.default_rng([seed, 10, split_index])
        groups = _split_groups(rng, [u.reader.reader_id for u in pool], n_src, counts[subset],
                               subset)
        for number, group in enumerate(groups):
            parts = [pool[k] for k in group]
            mixture_id = '_'.join(u.utterance_id for u in parts)
            own = np.random.default_rng([seed, 11, split_index, number])
            sources = [read_audio(u.path, SAMPLE_RATE) for u in parts]
            longest = max(len(s) for s in sources)
            waves = [np.pad(s, (0, longest - len(s))) for s in sources]
            waves.append(coloured_noise(own, longest, SAMPLE_RATE))
            gains, _ = draw_gains(own, waves, meter)
            scaled = [g * w for g, w in zip(gains, waves)]
            for freq in freqs:
                rate = int(freq[:-1]) * 1000
                # the sources resampled at their own lengths, the noise at the longest
                resampled = [resample(g * s, SAMPLE_RATE, rate) for g, s in
                             zip(gains, sources)] + [resample(scaled[-1], SAMPLE_RATE, rate)]
                for mode in modes:
                    _write_mixture(root, freq, mode, split, mixture_id, resampled, rate, n_src,
                                   types, rows)
    written = {'librispeech': speech_root, 'librimix': root}
    for (freq, mode, split, kind), (mixture_rows, metric_rows) in sorted(rows.items()):
        metadata = os.path.join(root, f'wav{freq}', mode, 'metadata')
        written[f'metadata_wav{freq}_{mode}'] = metadata
        parts = _part_columns(kind, n_src)
        write_table(os.path.join(metadata, f'mixture_{split}_{kind}.csv'), mixture_rows,
                    ['mixture_ID', 'mixture_path'] + [f'{p}_path' for p in parts] + ['length'])
        write_table(os.path.join(metadata, f'metrics_{split}_{kind}.csv'), metric_rows,
                    ['mixture_ID'] + [f'{p}_SNR' for p in parts])
    return written


def _part_columns(kind, n_src):
    """The parts of a mixture type, as LibriMix's metadata names them."""
    speakers = [f'source_{i + 1}' for i in range(n_src)]
    return {'mix_clean': speakers, 'mix_both': speakers + ['noise'],
            'mix_single': ['source_1', 'noise']}[kind]


def _write_mixture(root, freq, mode, split, mixture_id, resampled, rate, n_src, types, rows):
    """Write one mixture's parts and mixtures at one rate and mode; add its metadata rows."""
    # 'min': cut to the shortest source (LibriMix counts the noise, which is the longest);
    # 'max': pad to the longest.
    lengths = [len(w) for w in resampled]
    length = min(lengths) if mode == 'min' else max(lengths)
    fitted = [np.pad(w[:length], (0, length - len(w[:length]))) for w in resampled]
    folder = os.path.join(root, f'wav{freq}', mode, split)
    name = f'{mixture_id}.wav'
    paths = {}
    kinds = [f's{i + 1}' for i in range(n_src)]
    if types != ('mix_clean',):
        kinds.append('noise')
    for kind, wave in zip(kinds, fitted):
        paths[kind] = os.path.join(folder, kind, name)
        write_audio(paths[kind], wave, rate)
    members = {'mix_clean': list(range(n_src)), 'mix_both': list(range(n_src + 1)),
               'mix_single': [0, n_src]}
    part_paths = [paths[k] for k in kinds]
    for kind in types:
        chosen = [fitted[i] for i in members[kind]]
        mixture = np.sum(chosen, axis=0)
        path = os.path.join(folder, kind, name)
        write_audio(path, mixture, rate)
        columns = _part_columns(kind, n_src)
        mixture_rows, metric_rows = rows.setdefault((freq, mode, split, kind), ([], []))
        row = {'mixture_ID': mixture_id, 'mixture_path': path, 'length': length}
        row.update({f'{c}_path': part_paths[i] for c, i in zip(columns, members[kind])})
        mixture_rows.append(row)
        metrics = {'mixture_ID': mixture_id}
        metrics.update({f'{c}_SNR': _snr_db(w, mixture - w) for c, w in zip(columns, chosen)})
        metric_rows.append(metrics)
