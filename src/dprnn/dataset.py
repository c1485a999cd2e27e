"""Speech-separation data for DPRNN: LibriMix, wsj0-2mix and WHAM! mixtures with their sources.

Every layout gives the same items, :class:`MixtureItem` (a mixture file, its ``n_src`` source
files, the noise file of a noisy mixture, the length in samples), from :func:`separation_items`.
:class:`SeparationTrainSet` cuts random crops of them into training batches,
:class:`SeparationEvalSet` gives whole utterances one at a time, :func:`load_mixture` reads one
item. Bad input is a one-line :class:`DataError` or :class:`ConfigError`.

Layouts (``data.layout``; ``{k}k`` is ``data.sample_rate`` in kHz, ``{mode}`` is ``data.mode``):

* ``librimix`` (Cosentino et al. 2020, github.com/JorisCos/LibriMix): ``data.root`` holds
  ``Libri{n}Mix/wav{k}k/{mode}/{split}/{mix_clean,mix_both,s1,s2[,s3],noise}/<mixture_ID>.wav``
  and the metadata ``Libri{n}Mix/wav{k}k/{mode}/metadata/mixture_{split}_{mix_clean|mix_both}.csv``
  (``mixture_ID,mixture_path,source_1_path,...[,noise_path],length``, length in samples; splits
  ``train-360``, ``train-100``, ``dev``, ``test``). The CSVs hold absolute paths of the machine
  that generated them: a path that is not a file here is re-rooted onto ``data.root`` from its
  ``Libri{n}Mix`` folder on.
* ``wsj0-2mix`` (wsj0-2mix / wsj0-3mix, what the MindSpore model zoo's DPRNN reads):
  ``{split}/{mix,s1,s2[,s3]}/<name>.wav``, splits ``tr``, ``cv``, ``tt``, directly under
  ``data.root`` or under ``data.root/wav{k}k/{mode}`` (the tree the wsj0-mix scripts write).
  Clean mixtures only.
* ``wham`` (WHAM!, Wichern et al. 2019): ``data.root/wav{k}k/{mode}/{tr,cv,tt}/{mix_clean,
  mix_both,s1,s2,noise}/<name>.wav``; two speakers.
* ``manifest``: the output folder of ``python preprocess.py librimix|wsj0-2mix|wham``
  (:func:`prepare_separation`): ``{split}.csv`` per split (:func:`manifest_columns`, paths of
  this machine) and ``dataset.json`` (what it was prepared for, checked against ``data``). The
  wsj0 layouts need a header read per mixture to learn its length; a manifest does not.

Tasks, as asteroid's LibriMix and WHAM! datasets define them: ``sep_clean`` separates the clean
mixture (``mix_clean``; wsj0-2mix's ``mix``) into ``s1 ... sN``, ``sep_noisy`` separates the
noisy one (``mix_both``) into the same clean sources.
"""
import functools
import json
import logging
import os
import re
from dataclasses import dataclass
from typing import Literal

import numpy as np

from src.audio import audio_format, audio_info, read_audio
from src.data.items import UnreadableItems
from src.data.manifest import read_table, write_table, write_text
from src.data.prepare import CORPORA, CorpusPreparer
from src.errors import ConfigError, DataError

log = logging.getLogger(__name__)

LAYOUTS = ('librimix', 'wsj0-2mix', 'wham', 'manifest')
TASKS = ('sep_clean', 'sep_noisy')
MODES = ('min', 'max')
N_SRC = (2, 3)
# The most sources per mixture of each layout (WHAM! is two-speaker only).
MAX_SOURCES = {'librimix': 3, 'wsj0-2mix': 3, 'wham': 2, 'manifest': 3}
# LibriMix and WHAM! are generated at these rates, in wav8k/ and wav16k/ folders.
FOLDER_RATES = (8000, 16000)
# The mixture folder of each task, per folder layout.
MIXTURE_FOLDERS = {
    'librimix': {'sep_clean': 'mix_clean', 'sep_noisy': 'mix_both'},
    'wham': {'sep_clean': 'mix_clean', 'sep_noisy': 'mix_both'},
    'wsj0-2mix': {'sep_clean': 'mix'},
}
LIBRIMIX_SPLITS = ('train-360', 'train-100', 'dev', 'test')
WSJ0_SPLITS = ('tr', 'cv', 'tt')
DATASET_JSON = 'dataset.json'
DEMO_HINT = '`python preprocess.py demo librimix` writes a demo LibriMix'

# How many missing files an error names before it only counts them.
_MISSING_SHOWN = 3
# Mixtures whose files the preparer opens (rate, channels, length), spread over each split.
_CHECKED_MIXTURES = 20


@dataclass
class SeparationDataConfig:
    """``data`` section of the DPRNN recipe: which mixtures, and how they are cut."""
    root: str = ''              # LibriMix root (holding Libri2Mix/), a wsj0-2mix/WHAM! folder or a manifest folder
    layout: Literal['librimix', 'wsj0-2mix', 'wham', 'manifest'] = 'librimix'
    n_src: int = 2
    sample_rate: int = 8000
    mode: Literal['min', 'max'] = 'min'
    task: Literal['sep_clean', 'sep_noisy'] = 'sep_clean'
    train_split: str = 'train-360'   # wsj0-2mix / WHAM!: tr
    valid_split: str = 'dev'         # '' = no validation; wsj0-2mix / WHAM!: cv
    test_split: str = 'test'         # wsj0-2mix / WHAM!: tt
    segment: float = 4.0        # training crop in seconds; shorter mixtures are dropped
    valid_segment: float = 0.0  # 0 = full utterances in validation too; else the first seconds
    max_valid_items: int = 0    # 0 = all; validate on the first N mixtures (fast model selection)


@dataclass(frozen=True)
class MixtureItem:
    """One mixture: its file, its sources' files (in order), its noise file ('' if none) and its
    length in samples (every file of it has that length)."""
    mixture_id: str
    mixture_path: str
    source_paths: tuple
    noise_path: str
    num_samples: int


# ---------------------------------------------------------------------------------- config

def check_data_config(data):
    """Values that type-check but name no corpus folder.

    Raises:
        ConfigError: an unknown layout, task or mode (the allowed ones named), an empty root, a
            number of sources or a sample rate the layout does not have, or ``sep_noisy`` on
            wsj0-2mix (which has no noisy mixtures).
    """
    _check_choice('data.layout', data.layout, LAYOUTS)
    _check_choice('data.task', data.task, TASKS)
    _check_choice('data.mode', data.mode, MODES)
    if not data.root:
        raise ConfigError("data.root is empty: set it to the folder holding Libri2Mix/ (or a "
                          "wsj0-2mix / WHAM! folder, or a preprocess.py output with data.layout: "
                          f"manifest); {DEMO_HINT}")
    if data.n_src not in N_SRC or data.n_src > MAX_SOURCES[data.layout]:
        raise ConfigError(f"data.n_src is {data.n_src}: layout {data.layout} has mixtures of "
                          f"{' or '.join(map(str, range(2, MAX_SOURCES[data.layout] + 1)))} sources")
    if data.sample_rate <= 0:
        raise ConfigError(f"data.sample_rate must be positive, got {data.sample_rate}")
    if data.layout in ('librimix', 'wham') and data.sample_rate not in FOLDER_RATES:
        raise ConfigError(f"data.sample_rate is {data.sample_rate}: {data.layout} trees hold "
                          "wav8k/ and wav16k/ folders; set 8000 or 16000")
    folders = MIXTURE_FOLDERS.get(data.layout)
    if folders is not None and data.task not in folders:
        raise ConfigError(f"data.task {data.task} needs noisy mixtures, which layout "
                          f"{data.layout} does not have: use data.task: sep_clean, or WHAM! "
                          "(data.layout: wham)")


def _check_choice(key, value, allowed):
    if value not in allowed:
        raise ConfigError(f"{key} must be one of {', '.join(allowed)}, got {value!r}")


def _rate_folder(sample_rate):
    return f'wav{sample_rate // 1000}k'


# ---------------------------------------------------------------------------------- items

def separation_items(data, split):
    """The mixtures of one split of the configured corpus.

    Args:
        data: a :class:`SeparationDataConfig` (``root``, ``layout``, ``n_src``,
            ``sample_rate``, ``mode``, ``task`` are read).
        split: the split's name, e.g. ``data.train_split`` (``train-360``, ``dev``, ``tt`` ...).

    Returns:
        list of :class:`MixtureItem`, in the order of the metadata (LibriMix, manifest) or
        sorted by name (wsj0 layouts); every file they name exists.

    Raises:
        ConfigError: see :func:`check_data_config`; an empty split name; a manifest prepared
            for other settings.
        DataError: no metadata folder / split folder / manifest (where it looked named), a CSV
            lacking columns, files missing (the first few named, and how many), an empty split.
    """
    return _split_items(data, split)[0]


def _split_items(data, split):
    """``(items, source)``: the items of ``split`` and the file or folder they were read from."""
    check_data_config(data)
    if not split:
        raise ConfigError("an empty split name: set data.train_split and data.test_split "
                          "(an empty data.valid_split means no validation)")
    readers = {'librimix': _librimix_items, 'wsj0-2mix': _folder_items, 'wham': _folder_items,
               'manifest': _manifest_items}
    return readers[data.layout](data, split)


def reroot(path, root, anchor):
    """``path`` when it is a file, else its part from its last ``anchor`` folder on, under
    ``root`` (``/gen/data/Libri2Mix/wav8k/...`` -> ``root/Libri2Mix/wav8k/...``); unchanged
    when it has no ``anchor`` folder. Both ``/`` and ``\\`` separate folders."""
    if os.path.isfile(path):
        return path
    parts = re.split(r'[\\/]', path)
    if anchor not in parts:
        return path
    last = len(parts) - 1 - parts[::-1].index(anchor)
    return os.path.join(root, *parts[last:])


def _librimix_mode_dir(data):
    return os.path.join(os.path.abspath(data.root), f'Libri{data.n_src}Mix',
                        _rate_folder(data.sample_rate), data.mode)


def _librimix_metadata_dir(data):
    folder = os.path.join(_librimix_mode_dir(data), 'metadata')
    if not os.path.isdir(folder):
        raise DataError(f"no LibriMix metadata folder {folder}: data.root must hold "
                        f"Libri{data.n_src}Mix/{_rate_folder(data.sample_rate)}/{data.mode}/"
                        "metadata (the folders of data.n_src, data.sample_rate and data.mode); "
                        f"{DEMO_HINT}")
    return folder


def _librimix_splits(folder, task):
    """The splits with a metadata CSV for ``task`` in ``folder``, LibriMix's first, in order."""
    pattern = re.compile(rf'mixture_(.+)_{MIXTURE_FOLDERS["librimix"][task]}\.csv')
    found = {match.group(1) for match in map(pattern.fullmatch, os.listdir(folder)) if match}
    return [s for s in LIBRIMIX_SPLITS if s in found] + sorted(found - set(LIBRIMIX_SPLITS))


def _librimix_items(data, split):
    folder = _librimix_metadata_dir(data)
    mixture_folder = MIXTURE_FOLDERS['librimix'][data.task]
    path = os.path.join(folder, f'mixture_{split}_{mixture_folder}.csv')
    if not os.path.isfile(path):
        present = _librimix_splits(folder, data.task)
        raise DataError(f"no LibriMix metadata {path} for split {split!r} (the splits there for "
                        f"{data.task}: {', '.join(present) or 'none'}): set the data.*_split "
                        f"keys to them; {DEMO_HINT}")
    sources = [f'source_{k}_path' for k in range(1, data.n_src + 1)]
    noisy = data.task == 'sep_noisy'
    columns = {'mixture_ID': str, 'mixture_path': str, **dict.fromkeys(sources, str),
               **({'noise_path': str} if noisy else {}), 'length': int}
    rows = read_table(path, columns)
    root, anchor = os.path.abspath(data.root), f'Libri{data.n_src}Mix'
    local = functools.partial(reroot, root=root, anchor=anchor)
    items = [MixtureItem(row['mixture_ID'], local(row['mixture_path']),
                         tuple(local(row[column]) for column in sources),
                         local(row['noise_path']) if noisy else '', row['length'])
             for row in rows]
    _check_lengths(items, path)
    _check_files(items, path, f"tried as written and re-rooted onto {root} from their {anchor}/ "
                              f"folder on: point data.root at the folder holding {anchor}/")
    return items, path


def _split_dirs(data, split):
    """The folders a wsj0-2mix / WHAM! split may be, in the order they are tried."""
    nested = os.path.join(os.path.abspath(data.root), _rate_folder(data.sample_rate), data.mode,
                          split)
    if data.layout == 'wham':
        return [nested]
    return [os.path.join(os.path.abspath(data.root), split), nested]


def _folder_items(data, split):
    candidates = _split_dirs(data, split)
    base = next((folder for folder in candidates if os.path.isdir(folder)), None)
    mixture_name = MIXTURE_FOLDERS[data.layout][data.task]
    if base is None:
        raise DataError(f"no {data.layout} split {split!r}: looked for {' and '.join(candidates)}; "
                        f"a split is a folder tr, cv or tt holding {mixture_name}/, s1/, s2/ ... "
                        "(set data.train_split: tr, data.valid_split: cv, data.test_split: tt); "
                        f"{DEMO_HINT}")
    mixtures = os.path.join(base, mixture_name)
    names = sorted(name for name in os.listdir(mixtures)
                   if name.lower().endswith('.wav')) if os.path.isdir(mixtures) else []
    if not names:
        raise DataError(f"no mixtures in {mixtures}: a {data.layout} split holds "
                        f"{mixture_name}/<name>.wav and its sources under the same names in "
                        f"s1/ ... s{data.n_src}/; {DEMO_HINT}")
    noisy = data.task == 'sep_noisy'
    items = []
    for name in names:
        path = os.path.join(mixtures, name)
        items.append(MixtureItem(
            os.path.splitext(name)[0], path,
            tuple(os.path.join(base, f's{k}', name) for k in range(1, data.n_src + 1)),
            os.path.join(base, 'noise', name) if noisy else '', audio_info(path)[0]))
    _check_files(items, base, f"every mixture of {mixtures} needs its sources under the same name "
                              f"in s1/ ... s{data.n_src}/" + (" and noise/" if noisy else ''))
    return items, base


def _manifest_items(data, split):
    folder = os.path.abspath(data.root)
    _check_prepared_for(data, folder)
    path = os.path.join(folder, f'{split}.csv')
    if not os.path.isfile(path):
        present = sorted(name[:-4] for name in os.listdir(folder)
                         if name.endswith('.csv')) if os.path.isdir(folder) else []
        raise DataError(f"no manifest {path} for split {split!r} (the splits of {folder}: "
                        f"{', '.join(present) or 'none'}): set the data.*_split keys to them, or "
                        f"write it with `python preprocess.py librimix --root ROOT --out {folder}`")
    sources = [f'source_{k}_path' for k in range(1, data.n_src + 1)]
    rows = read_table(path, {'mixture_id': str, 'mixture_path': str,
                             **dict.fromkeys(sources, str), 'num_samples': int})
    listed = sorted(column for column in rows[0] if re.fullmatch(r'source_\d+_path', column))
    if len(listed) != data.n_src:
        raise ConfigError(f"{path} lists {len(listed)} sources per mixture but data.n_src is "
                          f"{data.n_src}: set data.n_src: {len(listed)}")
    items = [MixtureItem(row['mixture_id'], row['mixture_path'],
                         tuple(row[column] for column in sources), row.get('noise_path', ''),
                         row['num_samples']) for row in rows]
    _check_lengths(items, path)
    _check_files(items, path, "the manifest names files of the machine it was written on: "
                              "re-run preprocess.py where the corpus is")
    return items, path


def _check_prepared_for(data, folder):
    """A manifest folder's ``dataset.json`` (when there is one) must match ``data``."""
    path = os.path.join(folder, DATASET_JSON)
    if not os.path.isfile(path):
        return
    try:
        with open(path, encoding='utf-8') as handle:
            prepared = json.load(handle)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"{path} is not valid JSON ({exc}); re-run preprocess.py") from None
    wanted = {'n_src': data.n_src, 'sample_rate': data.sample_rate, 'mode': data.mode,
              'task': data.task}
    for key, value in wanted.items():
        if key in prepared and prepared[key] != value:
            raise ConfigError(f"data.{key} is {value!r} but {folder} was prepared for {key} "
                              f"{prepared[key]!r} ({path}): set data.{key}: {prepared[key]}, or "
                              f"re-run preprocess.py with --{key} {value}")


def _check_lengths(items, source):
    bad = next((item for item in items if item.num_samples <= 0), None)
    if bad is not None:
        raise DataError(f"{source}: mixture {bad.mixture_id} has length {bad.num_samples}; "
                        "regenerate the metadata")


def _item_paths(item):
    return [item.mixture_path, *item.source_paths] + ([item.noise_path] if item.noise_path else [])


def _check_files(items, source, hint):
    paths = [path for item in items for path in _item_paths(item)]
    missing = [path for path in paths if not os.path.isfile(path)]
    if missing:
        raise DataError(f"{len(missing)} of the {len(paths)} files of {source} are missing "
                        f"(e.g. {', '.join(missing[:_MISSING_SHOWN])}); {hint}")


# ---------------------------------------------------------------------------------- reading

def check_format(path, sample_rate):
    """The length of a mono audio file at ``sample_rate``, from its header.

    Raises:
        DataError: a missing or unreadable file, another rate (the file, its rate and
            ``data.sample_rate`` named) or more than one channel.
    """
    num_samples, rate, channels = audio_format(path)
    if rate != sample_rate:
        folder = (f", or the corpus's {_rate_folder(sample_rate)} folder (LibriMix and WHAM! "
                  "are written at 8 and 16 kHz)") if sample_rate in FOLDER_RATES else ''
        raise DataError(f"audio file {path} has sample rate {rate} Hz but data.sample_rate is "
                        f"{sample_rate} Hz: set data.sample_rate: {rate}{folder}")
    if channels != 1:
        raise DataError(f"audio file {path} has {channels} channels; separation reads mono "
                        "mixtures and sources: use the corpus's mono files or downmix this one")
    return num_samples


def read_mono(path, sample_rate, start=0, stop=None):
    """Samples ``[start, stop)`` (``stop`` None: to the end) of a mono file at ``sample_rate``.

    Raises:
        DataError: what :func:`check_format` rejects, or a file shorter than ``stop``.
    """
    num_samples = check_format(path, sample_rate)
    if stop is not None and stop > num_samples:
        raise DataError(f"audio file {path} has {num_samples} samples, fewer than the {stop} its "
                        "list gives; re-run preprocess.py or regenerate the file")
    return read_audio(path, mono=False, start=start, stop=stop)


def load_mixture(item, sample_rate, start=0, stop=None):
    """A mixture and its sources, whole or the samples ``[start, stop)``.

    Args:
        item: a :class:`MixtureItem`.
        sample_rate: Hz every file must have (``data.sample_rate``).
        start, stop: the samples to read (``stop`` None: to the end).

    Returns:
        ``(mixture float32 (T,), sources float32 (n_src, T))``.

    Raises:
        DataError: a missing, unreadable or stereo file, another rate, or a source whose length
            differs from the mixture's.
    """
    mixture = read_mono(item.mixture_path, sample_rate, start, stop)
    sources = [read_mono(path, sample_rate, start, stop) for path in item.source_paths]
    for path, source in zip(item.source_paths, sources):
        if len(source) != len(mixture):
            raise DataError(f"source {path} has {len(source)} samples from sample {start}, its "
                            f"mixture {item.mixture_path} {len(mixture)}: regenerate the mixture")
    return mixture, np.stack(sources)


def _check_item(item, sample_rate):
    """The files of one item have the rate and one channel (a wrong tree fails at once, with
    its own message, instead of as a run of unreadable files)."""
    for path in _item_paths(item):
        check_format(path, sample_rate)


def _drop_short(items, num_samples, seconds, key, source):
    """The items at least ``num_samples`` long, and how many were shorter (logged once)."""
    kept = [item for item in items if item.num_samples >= num_samples]
    if not kept:
        longest = max((item.num_samples for item in items), default=0)
        raise DataError(f"all {len(items)} mixtures of {source} are shorter than {key} "
                        f"{seconds:g} s (the longest has {longest} samples): lower {key}")
    dropped = len(items) - len(kept)
    if dropped:
        log.warning('dropped %d of the %d mixtures of %s: shorter than %s %g s', dropped,
                    len(items), source, key, seconds)
    return kept, dropped


def _check_sources(items, n_src, source):
    bad = next((item for item in items if len(item.source_paths) != n_src), None)
    if bad is not None:
        raise ConfigError(f"mixture {bad.mixture_id} of {source} has {len(bad.source_paths)} "
                          f"sources but data.n_src is {n_src}")


class SeparationTrainSet:
    """Random crops of ``segment`` seconds of the mixtures and their sources: the training set.

    Mixtures shorter than the segment are dropped (:attr:`dropped`, logged once); each crop's
    offset is drawn from the batch's random generator, so a new one per item and epoch.
    Unreadable files follow the policy of :mod:`src.data.items` (:attr:`unreadable`).

    Args:
        items: :class:`MixtureItem` list (:func:`separation_items`).
        sample_rate: Hz every file must have.
        segment: crop length in seconds.
        n_src: sources per mixture.
        source: the list the items come from, named in messages.

    Attributes:
        num_samples: the crop length in samples.
        dropped: how many of ``items`` were shorter than the crop.

    Raises:
        ConfigError: a segment that is not positive, items with another number of sources.
        DataError: every mixture shorter than the segment; the first mixture's files at another
            rate or not mono.
    """

    def __init__(self, items, sample_rate, segment, n_src, source='the mixture list'):
        if segment <= 0:
            raise ConfigError(f"data.segment must be positive (the training crop in seconds), "
                              f"got {segment}")
        self.sample_rate, self.n_src = int(sample_rate), int(n_src)
        self.num_samples = int(round(segment * sample_rate))
        _check_sources(items, self.n_src, source)
        self.items, self.dropped = _drop_short(items, self.num_samples, segment, 'data.segment',
                                               source)
        _check_item(self.items[0], self.sample_rate)
        self.unreadable = UnreadableItems(source, noun='mixtures')

    def __len__(self):
        return len(self.items)

    def get(self, index, rng):
        """``(mixture (T,), sources (n_src, T))`` of a random crop of item ``index``, or None
        when one of its files is unreadable (recorded, logged once)."""
        item = self.items[index]
        start = int(rng.integers(0, item.num_samples - self.num_samples + 1))
        return self.unreadable.read(item.mixture_path, lambda: load_mixture(
            item, self.sample_rate, start, start + self.num_samples))

    def make_batch(self, indices, rng):
        """A batch of crops; unreadable items are replaced by random others.

        Args:
            indices: item indices.
            rng: ``np.random.Generator`` (crop offsets, replacements).

        Returns:
            ``{'mixture': float32 (batch, T), 'sources': float32 (batch, n_src, T), '_bad':
            number of unreadable items met}``, ``T`` = :attr:`num_samples`.
        """
        pairs, _, bad = self.unreadable.gather(lambda index: self.get(index, rng), indices,
                                               len(self), rng)
        return {'mixture': np.stack([mixture for mixture, _ in pairs]),
                'sources': np.stack([sources for _, sources in pairs]), '_bad': bad}


class SeparationEvalSet:
    """Whole mixtures (or their first ``segment`` seconds), one at a time: validation and test.

    Args:
        items: :class:`MixtureItem` list.
        sample_rate: Hz every file must have.
        n_src: sources per mixture.
        segment: 0 = whole utterances; else the first ``segment`` seconds of each mixture, the
            shorter mixtures dropped (:attr:`dropped`).
        max_items: 0 = all; else the first ``max_items`` mixtures (after dropping).
        source: the list the items come from, named in messages.
        key: the config key of ``segment``, named in messages.

    Items are ``{'mixture_id': str, 'mixture': float32 (T,), 'sources': float32 (n_src, T)}``;
    an unreadable file is a DataError (an evaluation does not skip mixtures).
    """

    def __init__(self, items, sample_rate, n_src, segment=0.0, max_items=0,
                 source='the mixture list', key='data.valid_segment'):
        if segment < 0 or max_items < 0:
            raise ConfigError(f"{key} and the item limit must be 0 (off) or positive, got "
                              f"{segment} and {max_items}")
        self.sample_rate, self.n_src = int(sample_rate), int(n_src)
        self.num_samples = int(round(segment * sample_rate))
        _check_sources(items, self.n_src, source)
        if not items:
            raise DataError(f"no mixtures in {source}")
        self.items, self.dropped = _drop_short(items, self.num_samples, segment, key, source)
        if max_items:
            self.items = self.items[:max_items]
        _check_item(self.items[0], self.sample_rate)

    def __len__(self):
        return len(self.items)

    def __getitem__(self, index):
        item = self.items[index]
        mixture, sources = load_mixture(item, self.sample_rate, 0, self.num_samples or None)
        return {'mixture_id': item.mixture_id, 'mixture': mixture, 'sources': sources}


def separation_train_set(data):
    """The training set of ``data``: crops of ``data.segment`` s of ``data.train_split``."""
    items, source = _split_items(data, data.train_split)
    return SeparationTrainSet(items, data.sample_rate, data.segment, data.n_src, source=source)


def separation_eval_set(data, split='test'):
    """The evaluation set of ``data``: ``'valid'`` (``data.valid_split``, ``data.valid_segment``,
    ``data.max_valid_items``) or ``'test'`` (``data.test_split``, whole utterances).

    Raises:
        ConfigError: ``'valid'`` with an empty ``data.valid_split``.
        ValueError: another ``split``.
    """
    if split == 'valid':
        if not data.valid_split:
            raise ConfigError("data.valid_split is empty: there is no validation split (set "
                              "data.valid_split, e.g. dev or cv)")
        items, source = _split_items(data, data.valid_split)
        return SeparationEvalSet(items, data.sample_rate, data.n_src, data.valid_segment,
                                 data.max_valid_items, source=source, key='data.valid_segment')
    if split == 'test':
        items, source = _split_items(data, data.test_split)
        return SeparationEvalSet(items, data.sample_rate, data.n_src, source=source)
    raise ValueError(f"split must be 'valid' or 'test', got {split!r}")


# ---------------------------------------------------------------------------------- preparer

def manifest_columns(n_src):
    """The columns of a prepared split: ``mixture_id,mixture_path,source_1_path, ...
    source_{n_src}_path,noise_path,num_samples`` (``noise_path`` empty for clean mixtures)."""
    return ('mixture_id', 'mixture_path', *(f'source_{k}_path' for k in range(1, n_src + 1)),
            'noise_path', 'num_samples')


def find_splits(data):
    """The splits of the configured tree: LibriMix's with metadata for ``data.task``, or the
    wsj0-2mix / WHAM! folders tr, cv, tt that exist.

    Raises:
        DataError: no metadata folder (LibriMix) or no split at all (where it looked named).
    """
    check_data_config(data)
    if data.layout == 'librimix':
        folder = _librimix_metadata_dir(data)
        splits = _librimix_splits(folder, data.task)
        where = f"{folder}/mixture_*_{MIXTURE_FOLDERS['librimix'][data.task]}.csv"
    elif data.layout == 'manifest':
        raise ConfigError("a manifest folder is prepared already: train from it with "
                          "data.layout: manifest")
    else:
        splits = [split for split in WSJ0_SPLITS
                  if any(os.path.isdir(folder) for folder in _split_dirs(data, split))]
        where = ' and '.join(os.path.dirname(folder) for folder in _split_dirs(data, 'tr'))
        where = f"tr/, cv/, tt/ under {where}"
    if not splits:
        raise DataError(f"no {data.layout} split in {where}; {DEMO_HINT}")
    return splits


def check_sample(items, sample_rate, source, count=_CHECKED_MIXTURES):
    """Open the files of ``count`` mixtures spread over ``items`` (0 = all): rate, one channel,
    and the length the list gives.

    Raises:
        DataError: a file at another rate, not mono, or of another length than its list says.
    """
    chosen = range(len(items)) if count <= 0 or count >= len(items) else \
        np.unique(np.linspace(0, len(items) - 1, count).round().astype(int))
    for index in chosen:
        item = items[int(index)]
        for path in _item_paths(item):
            num_samples = check_format(path, sample_rate)
            if num_samples != item.num_samples:
                raise DataError(f"audio file {path} has {num_samples} samples but {source} gives "
                                f"{item.num_samples} for mixture {item.mixture_id}: regenerate "
                                "the mixture or its metadata")


def prepare_separation(root, out_dir, layout='librimix', n_src=2, sample_rate=8000, mode='min',
                       task='sep_clean', segment=4.0, check_mixtures=_CHECKED_MIXTURES):
    """Check a LibriMix, wsj0-2mix or WHAM! tree and write its mixtures per split: the
    ``librimix``, ``wsj0-2mix`` and ``wham`` corpus preparers (``python preprocess.py librimix
    --root ROOT --out DIR``). Train from the output with ``data.layout: manifest`` and
    ``data.root: DIR``.

    Every split is checked before anything is written: the metadata's columns, that every file
    it names exists (re-rooted as :func:`separation_items` does), and for ``check_mixtures``
    mixtures spread over the split the rate, the channels and the length of each file.

    Args:
        root: ``data.root`` of the layout (the folder holding ``Libri2Mix/``, a wsj0-2mix or
            WHAM! folder).
        out_dir: output folder: ``{split}.csv`` per split (:func:`manifest_columns`, absolute
            paths of this machine) and ``dataset.json`` (layout, root, n_src, sample_rate, mode,
            task, mixtures per split).
        layout, n_src, sample_rate, mode, task: as the ``data`` keys of the same names.
        segment: the training crop in seconds; the summary counts the mixtures shorter than it
            (which training drops).
        check_mixtures: mixtures opened per split (0 = all).

    Returns:
        path of the first split's manifest (the training split's for LibriMix and wsj0).

    Raises:
        ConfigError, DataError: what :func:`find_splits`, :func:`separation_items` and
            :func:`check_sample` reject.
    """
    data = SeparationDataConfig(root=os.path.abspath(root), layout=layout, n_src=n_src,
                                sample_rate=sample_rate, mode=mode, task=task)
    prepared = []
    for split in find_splits(data):
        items, source = _split_items(data, split)
        check_sample(items, sample_rate, source, check_mixtures)
        prepared.append((split, items))
    out_dir = os.path.abspath(out_dir)
    columns = manifest_columns(n_src)
    crop = int(round(segment * sample_rate))
    for split, items in prepared:
        rows = [dict(zip(columns, (item.mixture_id, item.mixture_path, *item.source_paths,
                                   item.noise_path, item.num_samples))) for item in items]
        write_table(os.path.join(out_dir, f'{split}.csv'), rows, columns)
        hours = sum(item.num_samples for item in items) / sample_rate / 3600
        short = sum(item.num_samples < crop for item in items)
        print(f"{split}: {len(items)} mixtures, {hours:.2f} h"
              + (f", {short} shorter than the {segment:g} s training segment (dropped in "
                 "training)" if short else ''))
    info = {'layout': layout, 'root': data.root, 'n_src': n_src, 'sample_rate': sample_rate,
            'mode': mode, 'task': task, 'splits': {split: len(items) for split, items in prepared}}
    write_text(os.path.join(out_dir, DATASET_JSON), json.dumps(info, indent=1) + '\n')
    return os.path.join(out_dir, f'{prepared[0][0]}.csv')


def separation_arguments(parser):
    """The options of ``preprocess.py librimix|wsj0-2mix|wham`` (the keywords of
    :func:`prepare_separation`)."""
    parser.add_argument('--root', required=True,
                        help='the folder holding Libri2Mix/ (or a wsj0-2mix / WHAM! folder)')
    parser.add_argument('--out', dest='out_dir', metavar='DIR', required=True,
                        help='output folder: <split>.csv per split and dataset.json')
    parser.add_argument('--n_src', '--n-src', dest='n_src', type=int, choices=N_SRC, default=2)
    parser.add_argument('--sample_rate', '--sample-rate', dest='sample_rate', type=int,
                        default=8000, help='Hz (LibriMix, WHAM!: 8000 or 16000)')
    parser.add_argument('--mode', choices=MODES, default='min')
    parser.add_argument('--task', choices=TASKS, default='sep_clean')
    parser.add_argument('--segment', type=float, default=4.0,
                        help='training crop in seconds: the mixtures shorter than it are counted')
    parser.add_argument('--check', dest='check_mixtures', type=int, default=_CHECKED_MIXTURES,
                        help='mixtures per split whose files are opened (rate, channels, '
                             'length); 0 = all')


CORPORA.register('librimix', CorpusPreparer(
    functools.partial(prepare_separation, layout='librimix'), separation_arguments,
    'check a LibriMix tree (metadata, files, rates) and list its mixtures per split'))
CORPORA.register('wsj0-2mix', CorpusPreparer(
    functools.partial(prepare_separation, layout='wsj0-2mix'), separation_arguments,
    'check a wsj0-2mix / wsj0-3mix tree (tr, cv, tt) and list its mixtures per split'))
CORPORA.register('wham', CorpusPreparer(
    functools.partial(prepare_separation, layout='wham'), separation_arguments,
    'check a WHAM! tree (wav8k|wav16k/min|max/tr, cv, tt) and list its mixtures per split'))
