"""Sound-clip classification data for PANNs fine-tuning: ESC-50 and users' own labelled clips.

Every reader returns the same rows, dicts ``{'path', 'fold', 'target', 'category'}`` (absolute
path, fold 1-5 or ``None``, integer target, class name), and fails with a one-line
:class:`DataError`. :class:`SoundClipSet` turns rows into fixed-length waveform batches for
:class:`src.data.loader.BatchLoader`; the network computes its log-mel front end itself.

Layouts:

* ESC-50 (:func:`read_esc50`): ``ESC-50/audio/{fold}-{clip_id}-{take}-{target}.wav`` and
  ``ESC-50/meta/esc50.csv`` with ``filename,fold,target,category,esc10,src_file,take``.
* a folder of classes (:func:`read_folder_of_classes`): ``root/<class>/*.wav``.
* a labelled CSV (:func:`read_labelled_csv`): columns ``path,label[,fold]``.

``python preprocess.py esc50`` (:func:`prepare_esc50`) checks a downloaded ESC-50 tree before
training and lists its clips.
"""
import csv
import os

import numpy as np

from src.audio import read_audio
from src.data.items import MAX_TRIES, UnreadableItems
from src.data.manifest import read_table, write_table, write_text
from src.data.prepare import CORPORA, CorpusPreparer
from src.errors import ConfigError, DataError

FOLDS = (1, 2, 3, 4, 5)
AUDIO_SUFFIXES = ('.wav', '.flac', '.ogg')

# ESC-50's schema (Piczak, ACM MM 2015). The 50 categories, index = target (as in
# ``ESC-50/meta/esc50.csv``).
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
ESC50_SAMPLE_RATE = 44100          # Hz, 16-bit mono 5 s clips

# How many missing files an error names before it only counts them.
_MISSING_SHOWN = 3


def _check_fold(fold, where):
    if fold not in FOLDS:
        raise DataError(f'{where}: fold {fold} is outside 1-5 (ESC-50 style 5-fold '
                        'cross-validation)')


def missing_files(rows):
    """The paths of ``rows`` that are not files, in row order."""
    return [row['path'] for row in rows if not os.path.isfile(row['path'])]


def _check_files(rows, source):
    missing = missing_files(rows)
    if missing:
        raise DataError(f'{len(missing)} of the {len(rows)} audio files of {source} are missing '
                        f'(e.g. {", ".join(missing[:_MISSING_SHOWN])}); check the audio root')


def read_esc50(root, folds=None, esc10=False, check_files=True):
    """The clips of an ESC-50 tree.

    Args:
        root: the ``ESC-50`` folder (holding ``audio/`` and ``meta/esc50.csv``).
        folds: folds to keep (iterable of 1-5); ``None`` keeps all.
        esc10: keep only the ESC-10 subset (rows with ``esc10`` True).
        check_files: check that every kept clip exists under ``root/audio``.

    Returns:
        list of ``{'path', 'fold', 'target', 'category'}`` in file order; targets are the
        published ESC-50 targets (the index in :data:`ESC50_CATEGORIES`).

    Raises:
        DataError: missing root or csv, a wrong header, a malformed row or an unknown category
            (named by file:line), a fold outside 1-5, missing audio files, no rows left.
    """
    root = os.fspath(root)
    if not os.path.isdir(root):
        raise DataError(f'ESC-50 root not found: {root}; pass the ESC-50 folder that holds '
                        'audio/ and meta/esc50.csv')
    meta = os.path.join(root, 'meta', 'esc50.csv')
    if not os.path.isfile(meta):
        raise DataError(f'ESC-50 metadata not found: {meta}; the root must hold meta/esc50.csv')
    if folds is not None:
        folds = {int(fold) for fold in folds}
        for fold in sorted(folds):
            _check_fold(fold, f'read_esc50 folds={sorted(folds)}')
    rows = []
    with open(meta, encoding='utf-8', newline='') as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header != list(ESC50_HEADER):
            raise DataError(f'{meta}:1: header {",".join(header or [])!r}, expected '
                            f'{",".join(ESC50_HEADER)}')
        for fields in reader:
            if not fields:
                continue
            row = _esc50_row(fields, f'{meta}:{reader.line_num}', root)
            in_esc10 = row.pop('esc10')
            if (folds is None or row['fold'] in folds) and (in_esc10 or not esc10):
                rows.append(row)
    if not rows:
        raise DataError(f'no ESC-50 clips in {meta} for folds={folds} esc10={esc10}')
    if check_files:
        _check_files(rows, meta)
    return rows


def _esc50_row(fields, where, root):
    """One row of ``esc50.csv`` as a row dict plus ``'esc10'``; ``where`` is ``file:line``."""
    if len(fields) != len(ESC50_HEADER):
        raise DataError(f'{where}: {len(fields)} fields, expected {len(ESC50_HEADER)} '
                        f'({",".join(ESC50_HEADER)})')
    values = dict(zip(ESC50_HEADER, fields))
    try:
        fold, target = int(values['fold']), int(values['target'])
    except ValueError:
        raise DataError(f'{where}: fold {values["fold"]!r} and target {values["target"]!r} '
                        'must be integers') from None
    if values['esc10'] not in ('True', 'False'):
        raise DataError(f'{where}: esc10 {values["esc10"]!r} must be True or False')
    _check_fold(fold, where)
    category = values['category']
    if category not in ESC50_CATEGORIES:
        raise DataError(f'{where}: unknown ESC-50 category {category!r}; expected one of the 50 '
                        f'(dog, rooster, ... hand_saw)')
    if target != ESC50_CATEGORIES.index(category):
        raise DataError(f'{where}: target {target} does not match category {category!r} '
                        f'(target {ESC50_CATEGORIES.index(category)})')
    name = values['filename']
    if not name.endswith(f'-{target}.wav') or not name.startswith(f'{fold}-'):
        raise DataError(f'{where}: file name {name!r} does not match fold {fold} and target '
                        f'{target} ({{fold}}-{{clip_id}}-{{take}}-{{target}}.wav)')
    esc10 = values['esc10'] == 'True'
    if esc10 != (category in ESC10_CATEGORIES):
        raise DataError(f'{where}: esc10 is {values["esc10"]} but {category!r} is '
                        f'{"" if category in ESC10_CATEGORIES else "not "}an ESC-10 class')
    return {'path': os.path.abspath(os.path.join(root, 'audio', name)), 'fold': fold,
            'target': target, 'category': category, 'esc10': esc10}


# The manifest of :func:`prepare_esc50`: what :func:`read_labelled_csv` reads (``label`` is the
# category), plus the published target.
CLIP_COLUMNS = ('path', 'label', 'fold', 'target')


def prepare_esc50(root, out_dir, esc10=False):
    """Check an ESC-50 tree and write the list of its clips: the ``esc50`` corpus preparer
    (``python preprocess.py esc50``).

    Training reads the tree itself (``data.esc50_root``, classes in ESC-50's target order); the
    check finds a broken download before a run does, and the manifest lists the clips for other
    tools (or for ``data.csv``, which orders the classes by name).

    Args:
        root: the ``ESC-50`` folder (``audio/``, ``meta/esc50.csv``).
        out_dir: output folder: ``clips.csv`` (:data:`CLIP_COLUMNS`, absolute paths, csv
            order), or, when audio files are missing, ``missing.txt`` (all of them, one per
            line) instead.
        esc10: only the ESC-10 subset.

    Returns:
        path of the written ``clips.csv``.

    Raises:
        DataError: what :func:`read_esc50` rejects (no tree, a malformed csv named by
            file:line), or audio files missing (counted, the first named, all listed in
            ``missing.txt``).
    """
    rows = read_esc50(root, esc10=esc10, check_files=False)
    out_dir = os.path.abspath(out_dir)
    missing_list, manifest = os.path.join(out_dir, 'missing.txt'), os.path.join(out_dir, 'clips.csv')
    missing = missing_files(rows)
    if missing:
        if os.path.exists(manifest):                 # of an earlier, complete tree: stale now
            os.remove(manifest)
        write_text(missing_list, ''.join(path + '\n' for path in missing))
        raise DataError(f'{len(missing)} of the {len(rows)} audio files of '
                        f'{os.path.join(root, "meta", "esc50.csv")} are missing (e.g. {missing[0]}); '
                        f'all are listed in {missing_list}: complete the download')
    if os.path.exists(missing_list):                 # of an earlier, incomplete tree
        os.remove(missing_list)
    write_table(manifest, [dict(row, label=row['category']) for row in rows], CLIP_COLUMNS)
    return manifest


def esc50_arguments(parser):
    """The options of ``preprocess.py esc50`` (the keywords of :func:`prepare_esc50`)."""
    parser.add_argument('--root', required=True, help='the ESC-50 folder (audio/, meta/esc50.csv)')
    parser.add_argument('--out', dest='out_dir', metavar='DIR', required=True, help='output folder')
    parser.add_argument('--esc10', action='store_true', help='only the ESC-10 subset')


CORPORA.register('esc50', CorpusPreparer(
    prepare_esc50, esc50_arguments, 'check an ESC-50 tree (csv, missing clips) and list its clips'))


def class_targets(rows):
    """The distinct targets of ``rows``, sorted: the classifier's label ``i`` is target
    ``class_targets(rows)[i]`` (e.g. ESC-10's ten ESC-50 targets become labels 0-9)."""
    return sorted({row['target'] for row in rows})


def class_names(rows):
    """Class names ordered by target (one per distinct target), matching :func:`class_targets`.

    Raises:
        DataError: one target with two names.
    """
    names = {}
    for row in rows:
        if names.setdefault(row['target'], row['category']) != row['category']:
            raise DataError(f'target {row["target"]} is named both {names[row["target"]]!r} '
                            f'and {row["category"]!r}')
    return [names[target] for target in sorted(names)]


def read_folder_of_classes(root):
    """Clips in one folder per class: ``root/<class>/*.wav`` (also ``.flac``, ``.ogg``).

    Args:
        root: folder holding one sub-folder per class.

    Returns:
        rows sorted by class then file, targets = index of the class in the sorted class
        names, ``fold`` None.

    Raises:
        DataError: missing root, no class folders, or a class folder without audio.
    """
    root = os.fspath(root)
    if not os.path.isdir(root):
        raise DataError(f'audio folder not found: {root}; expected root/<class>/*.wav')
    classes = sorted(entry.name for entry in os.scandir(root)
                     if entry.is_dir() and not entry.name.startswith('.'))
    if not classes:
        raise DataError(f'no class folders under {root}; expected root/<class>/*.wav')
    rows = []
    for target, category in enumerate(classes):
        folder = os.path.join(root, category)
        names = sorted(name for name in os.listdir(folder)
                       if os.path.splitext(name)[1].lower() in AUDIO_SUFFIXES)
        if not names:
            raise DataError(f'class folder {folder} has no audio files '
                            f'({", ".join(AUDIO_SUFFIXES)}); add clips or remove the folder')
        rows.extend({'path': os.path.abspath(os.path.join(folder, name)), 'fold': None,
                     'target': target, 'category': category} for name in names)
    return rows


def read_labelled_csv(path, audio_root):
    """Clips listed in a CSV with columns ``path,label`` and optionally ``fold`` (1-5).

    Args:
        path: the CSV file (header row required).
        audio_root: the folder relative paths are joined to (absolute paths are kept).

    Returns:
        rows in file order; targets = index of the label in the sorted labels; ``fold`` None
        without a fold column.

    Raises:
        DataError: missing or malformed file (file:line), a fold outside 1-5, missing audio.
    """
    path = os.fspath(path)
    table = read_table(path, {'path': str, 'label': str})
    has_fold = 'fold' in table[0]
    labels = {label: index for index, label in enumerate(sorted({r['label'] for r in table}))}
    rows = []
    for line, entry in enumerate(table, start=2):
        fold = None
        if has_fold:
            try:
                fold = int(entry['fold'])
            except ValueError:
                raise DataError(f'{path}:{line}: bad fold {entry["fold"]!r} (expected an '
                                'integer 1-5)') from None
            _check_fold(fold, f'{path}:{line}')
        if not entry['path'] or not entry['label']:
            raise DataError(f'{path}:{line}: empty path or label')
        rows.append({'path': os.path.abspath(os.path.join(audio_root, entry['path'])),
                     'fold': fold, 'target': labels[entry['label']], 'category': entry['label']})
    _check_files(rows, path)
    return rows


def fold_split(rows, test_fold):
    """Cross-validation split: ``test_fold`` is held out, the other folds train.

    Args:
        rows: rows with folds (ESC-50 or a CSV with a fold column).
        test_fold: 1-5.

    Returns:
        ``(train_rows, test_rows)``.

    Raises:
        DataError: ``test_fold`` outside 1-5, rows without folds, or an empty side.
    """
    _check_fold(test_fold, 'fold_split test_fold')
    if any(row['fold'] is None for row in rows):
        raise DataError('these clips have no folds; use an ESC-50 tree or a CSV with a fold '
                        'column to split by fold')
    train = [row for row in rows if row['fold'] != test_fold]
    test = [row for row in rows if row['fold'] == test_fold]
    if not train or not test:
        raise DataError(f'fold {test_fold} split leaves {len(train)} training and {len(test)} '
                        'test clips; every side needs some')
    return train, test


class SoundClipSet:
    """Fixed-length waveforms of labelled clips for classification.

    Args:
        rows: rows of the readers of this module.
        sample_rate: Hz of the network (PANNs: 32 kHz); files at other rates are resampled.
        clip_seconds: window length; shorter clips are zero-padded at the end, longer ones
            cropped (at random when ``train``, else the centre).
        train: random crops (training) or centre crops (evaluation).
        targets: the label space, sorted ESC-50 / row targets (label ``i`` = ``targets[i]``);
            default :func:`class_targets` of ``rows``. Pass the training set's to a test set.
        max_tries: replacements tried per unreadable item before a DataError
            (:mod:`src.data.items`).
        source: the list the rows come from (ESC-50's csv, a folder, a CSV), named in messages.
        mixup_alpha: mixup in training batches (Zhang et al. 2018): each clip is mixed with
            another of the batch, waveform and target probabilities alike, with weights
            ``lam ~ Beta(alpha, alpha)``; 0 = off.

    Raises:
        ConfigError: a non-positive ``clip_seconds`` or no rows.
        DataError: a row whose target is not in ``targets``.
    """

    def __init__(self, rows, sample_rate=32000, clip_seconds=5.0, train=True, targets=None,
                 max_tries=MAX_TRIES, source='the clip list', mixup_alpha=0.0):
        if not rows:
            raise ConfigError('SoundClipSet needs at least one clip')
        if clip_seconds <= 0:
            raise ConfigError(f'clip_seconds must be positive, got {clip_seconds}')
        if mixup_alpha < 0:
            raise ConfigError(f'data.mixup_alpha must be 0 (off) or positive, got {mixup_alpha}')
        self.mixup_alpha = float(mixup_alpha)
        self.targets = list(class_targets(rows) if targets is None else targets)
        label = {target: index for index, target in enumerate(self.targets)}
        unknown = sorted({row['target'] for row in rows} - set(label))
        if unknown:
            raise DataError(f'target {unknown[0]} of the clips is not among the classes '
                            f'{self.targets}; build the label space from all folds')
        self.paths = [row['path'] for row in rows]
        self.labels = np.array([label[row['target']] for row in rows], dtype=np.int32)
        self.sample_rate = int(sample_rate)
        self.num_samples = int(round(clip_seconds * sample_rate))
        self.train = bool(train)
        self.unreadable = UnreadableItems(source, noun='clips', max_tries=max_tries)

    def __len__(self):
        return len(self.paths)

    @property
    def num_classes(self):
        """Number of classes (size of the classifier)."""
        return len(self.targets)

    def get(self, index, rng):
        """The window of clip ``index``: float32 ``(num_samples,)``, or ``None`` when the file
        is unreadable (recorded in :attr:`unreadable`, logged once)."""
        path = self.paths[index]
        wave = self.unreadable.read(path, lambda: read_audio(path, self.sample_rate))
        if wave is None:
            return None
        excess = len(wave) - self.num_samples
        if excess > 0:
            start = int(rng.integers(0, excess + 1)) if self.train else excess // 2
            wave = wave[start:start + self.num_samples]
        elif excess < 0:
            wave = np.pad(wave, (0, -excess))
        return wave

    def make_batch(self, indices, rng):
        """A batch of windows; unreadable clips are replaced by random others
        (:mod:`src.data.items`).

        Args:
            indices: clip indices.
            rng: ``np.random.Generator`` (crop positions, replacements).

        Returns:
            ``{'waveform': float32 (batch, num_samples), 'target': int32 (batch,) class of each
            clip, 'target_probs': float32 (batch, classes) one-hot (mixed under mixup),
            '_bad': number of unreadable files met}``.

        Raises:
            DataError: ``max_tries`` replacements in a row were unreadable.
        """
        waves, used, bad = self.unreadable.gather(lambda index: self.get(index, rng), indices,
                                                  len(self), rng)
        labels = self.labels[used]
        waves = np.stack(waves).astype(np.float32, copy=False)
        probs = np.eye(self.num_classes, dtype=np.float32)[labels]
        if self.train and self.mixup_alpha > 0 and len(labels) > 1:
            lam = rng.beta(self.mixup_alpha, self.mixup_alpha, len(labels)).astype(np.float32)[:, None]
            partner = rng.permutation(len(labels))
            waves = lam * waves + (1 - lam) * waves[partner]
            probs = lam * probs + (1 - lam) * probs[partner]
        return {'waveform': waves, 'target': labels, 'target_probs': probs, '_bad': bad}
