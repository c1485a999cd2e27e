"""Speech data for wav2vec 2.0: LibriSpeech preparation, fairseq manifests, CTC batches.

Manifests are fairseq's (``examples/wav2vec/wav2vec_manifest.py`` and ``libri_labels.py``), so
folders written by fairseq's scripts read unchanged, and ours train fairseq:

* ``<name>.tsv``: the first line the audio root, then ``relative/path.flac<TAB>num_samples``;
* ``<name>.ltr``: one transcript per line in letters, ``H E L L O | W O R L D |``;
* ``<name>.wrd``: the same transcripts in words, ``HELLO WORLD``;
* ``dict.ltr.txt``: the letters of the training transcripts, ``SYMBOL COUNT`` by frequency.

``python preprocess.py librispeech --root LibriSpeech --out DIR --splits ...``
(:func:`prepare_librispeech`) writes, for every split named, ``<split>.{tsv,ltr,wrd}`` with
fairseq's names (``dev-clean`` -> ``dev_clean``; ``train-960`` = the three training splits in one
manifest, ``train_960``), and the subsets the recipe reads by default (``data.train_subset``,
``valid_subset``, ``test_subsets``): ``train`` = all the training splits named, together;
``valid`` = ``--valid`` (default: the first dev split named); ``test`` = ``--test`` (default: the
first test split named). Paths are relative to the LibriSpeech folder (the first line).

What is skipped and what is an error (a one-line :class:`DataError` naming the file):

* error: a missing manifest or audio file (how many, the first named), a label file with another
  number of lines than its manifest, characters of the training transcripts outside the letter
  dictionary (listed; evaluation compares words and never encodes its references);
* skipped and counted (:attr:`Manifest.skipped`, logged): audio shorter than the receptive field
  of the feature encoder (400 samples: no output frame); in training (``drop_empty``) empty
  transcripts. Evaluation keeps empty references (the words of its hypothesis count as
  insertions);
* CTC training (:class:`CtcTrainSet`) drops and counts (:attr:`CtcTrainSet.dropped`, logged at
  load time, where they are known) the utterances longer than ``data.max_tokens`` (no batch holds
  them: fairseq's ``skip_invalid_size_inputs_valid_test``) and those whose transcript cannot be
  aligned to their frames (CTC needs a frame per letter and one more per repeated letter; fairseq
  keeps them with ``zero_infinity``, a zero loss; dropping them saves the compute).
  ``min_sample_size`` / ``max_sample_size`` are pretraining's crop bounds only: fine-tuning
  reads whole utterances, as fairseq does;
* a file that cannot be decoded at training time is replaced by another item and counted under
  ``'_bad'`` (:mod:`src.data.items`); in evaluation it is an error.
"""
import logging
import os
from collections import Counter
from dataclasses import dataclass

import numpy as np

from src.audio import audio_format, read_audio
from src.data.items import UnreadableItems
from src.data.manifest import write_text
from src.data.prepare import CORPORA, CorpusPreparer
from src.data.sampler import BucketBatches, LengthGrid, pad_batch
from src.errors import ConfigError, DataError

from .frames import KERNELS, STRIDES, output_frames, receptive_field
from .letters import Letters, ltr_line, words_from_ltr

log = logging.getLogger(__name__)

LABELS = ('ltr', 'wrd')
TRAIN_SPLITS = ('train-clean-100', 'train-clean-360', 'train-other-500')
DEV_SPLITS = ('dev-clean', 'dev-other')
TEST_SPLITS = ('test-clean', 'test-other')
LIBRISPEECH_SPLITS = TRAIN_SPLITS + DEV_SPLITS + TEST_SPLITS
# a name for the three training splits in one manifest (wav2vec 2.0's "LS-960")
TRAIN_960 = 'train-960'
DICTIONARY = 'dict.ltr.txt'
# fairseq's layer_norm epsilon of its per-utterance normalisation (task.normalize)
NORMALIZE_EPS = 1e-5
DEMO_HINT = ('`python preprocess.py demo librispeech --out data/demo` then `python preprocess.py '
             'librispeech --root data/demo/LibriSpeech --out data/demo/w2v` writes a demo')

# How many missing files an error names before it only counts them.
_MISSING_SHOWN = 3


@dataclass
class SpeechDataConfig:
    """``data`` section of the wav2vec 2.0 recipes: which fairseq manifests, how they batch."""
    root: str = ''                   # folder of the manifests (train.tsv, train.ltr, dict.ltr.txt ...)
    train_subset: str = 'train'      # manifest names without .tsv (fairseq's dataset.train_subset)
    valid_subset: str = 'valid'      # '' = no validation
    test_subsets: tuple = ('test',)  # what eval.py evaluates, each on its own
    labels: str = 'ltr'              # transcripts from <subset>.ltr, or 'wrd' (<subset>.wrd, spelled)
    dictionary: str = ''             # '' = <root>/dict.ltr.txt; or a fairseq dict / HF vocab.json
    sample_rate: int = 16000
    max_tokens: int = 1_400_000      # padded samples per batch and rank (fairseq's max_tokens)
    min_sample_size: int = 32000     # pretraining: shorter utterances are dropped
    max_sample_size: int = 250000    # pretraining: longer ones are cropped to it
    normalize: bool = False          # zero mean, unit variance per utterance (LARGE models)
    bucket_ratio: float = 1.2        # length grid: each pad length this much above the last
    max_valid_items: int = 0         # 0 = all; validate on the first N (shortest) utterances
    # masks drawn with each batch (fairseq's mask_prob, mask_length, mask_channel_*): time masks
    # are what pretraining predicts, and SpecAugment-like augmentation in fine-tuning
    mask_time_prob: float = 0.65
    mask_time_length: int = 10
    mask_time_min_masks: int = 2
    mask_channel_prob: float = 0.0
    mask_channel_length: int = 64
    num_negatives: int = 100         # pretraining: distractors per masked frame


@dataclass(frozen=True)
class SpeechItem:
    """One utterance of a manifest: an id (the file name without extension), the absolute audio
    path, its length in samples and its transcript in words ('' when read without labels)."""
    utterance_id: str
    path: str
    num_samples: int
    text: str = ''


@dataclass(frozen=True)
class Manifest:
    """A manifest as read: its usable items, the file they came from, and what was skipped
    (reason -> count)."""
    items: list
    source: str
    skipped: dict


# ---------------------------------------------------------------------------------- config

def check_data_config(data):
    """Values that type-check but cannot work.

    Raises:
        ConfigError: an empty root or training subset, an unknown label kind, non-positive
            rates or sizes, a ``max_tokens`` below one frame, crop bounds out of order, a grid
            ratio not above 1.
    """
    if not data.root:
        raise ConfigError(f"data.root is empty: set it to a folder of fairseq manifests "
                          f"(train.tsv, train.ltr, dict.ltr.txt ...); {DEMO_HINT}")
    if not data.train_subset:
        raise ConfigError("data.train_subset is empty: name the training manifest (train for "
                          "train.tsv)")
    if data.labels not in LABELS:
        raise ConfigError(f"data.labels must be one of {', '.join(LABELS)}, got {data.labels!r}")
    if data.sample_rate <= 0:
        raise ConfigError(f"data.sample_rate must be positive, got {data.sample_rate}")
    if data.max_tokens < receptive_field():
        raise ConfigError(f"data.max_tokens {data.max_tokens} is below one output frame "
                          f"({receptive_field()} samples); fairseq's BASE uses 1400000")
    if not 0 < data.min_sample_size <= data.max_sample_size:
        raise ConfigError(f"data.min_sample_size and data.max_sample_size must be positive with "
                          f"min <= max, got {data.min_sample_size} and {data.max_sample_size}")
    if not data.bucket_ratio > 1:
        raise ConfigError(f"data.bucket_ratio must be above 1, got {data.bucket_ratio}")
    if data.max_valid_items < 0:
        raise ConfigError(f"data.max_valid_items must be 0 (all) or positive, got "
                          f"{data.max_valid_items}")


def manifest_path(data, subset):
    """``<data.root>/<subset>.tsv``."""
    return os.path.join(os.path.abspath(data.root), f'{subset}.tsv')


def load_letters(data):
    """The letter dictionary of ``data``: ``data.dictionary`` (a ``vocab.json`` is read as
    transformers', anything else as fairseq's), else ``<data.root>/dict.ltr.txt``."""
    path = data.dictionary or os.path.join(os.path.abspath(data.root), DICTIONARY)
    if path.endswith('.json'):
        return Letters.from_hf_vocab(path)
    return Letters.from_fairseq_dict(path)


# ---------------------------------------------------------------------------------- manifests

def read_manifest(tsv_path, labels='ltr', letters=None, drop_empty=True):
    """The utterances of a fairseq manifest and its transcripts.

    Args:
        tsv_path: ``<name>.tsv`` (the audio root, then ``relpath<TAB>num_samples`` lines).
        labels: 'ltr' (``<name>.ltr``), 'wrd' (``<name>.wrd``) or None (no transcripts:
            pretraining).
        letters: a :class:`Letters` to check the transcripts against (None: not checked).
        drop_empty: skip (and count) the utterances with empty transcripts (training); False
            keeps them (evaluation).

    Returns:
        :class:`Manifest` of :class:`SpeechItem` in file order.

    Raises:
        DataError: a missing or malformed manifest or label file (file:line named), a label
            file with another line count, missing audio files (count, first ones named),
            characters outside ``letters`` (listed), no usable utterance left.
    """
    tsv_path = os.path.abspath(os.fspath(tsv_path))
    rows = _read_tsv(tsv_path)
    texts = [''] * len(rows) if labels is None else _read_labels(tsv_path, labels, len(rows))
    if letters is not None:
        _check_letters(texts, letters, os.path.splitext(tsv_path)[0] + f'.{labels}')
    missing = [path for _, path, _ in rows if not os.path.isfile(path)]
    if missing:
        raise DataError(f"{len(missing)} of the {len(rows)} audio files of {tsv_path} are missing "
                        f"(e.g. {', '.join(missing[:_MISSING_SHOWN])}); the first line of the "
                        "manifest is the folder its paths are relative to: fix it or re-run "
                        "preprocess.py")
    skipped, items = Counter(), []
    field = receptive_field()
    for (utterance_id, path, num_samples), text in zip(rows, texts):
        if num_samples < field:
            skipped[f'shorter than {field} samples'] += 1
        elif drop_empty and labels is not None and not text:
            skipped['empty transcript'] += 1
        else:
            items.append(SpeechItem(utterance_id, path, num_samples, text))
    for reason, count in skipped.items():
        log.warning('skipped %d of the %d utterances of %s: %s', count, len(rows), tsv_path, reason)
    if not items:
        raise DataError(f"no usable utterance in {tsv_path}: "
                        + ', '.join(f"{n} {reason}" for reason, n in skipped.items()))
    return Manifest(items, tsv_path, dict(skipped))


def _read_tsv(path):
    """``[(utterance_id, absolute path, num_samples)]`` of a manifest."""
    if not os.path.isfile(path):
        folder = os.path.dirname(path)
        present = sorted(n[:-4] for n in os.listdir(folder) if n.endswith('.tsv')) \
            if os.path.isdir(folder) else []
        raise DataError(f"manifest not found: {path} (the manifests of {folder}: "
                        f"{', '.join(present) or 'none'}); set data.root and the data.*_subset "
                        f"keys; {DEMO_HINT}")
    with open(path, encoding='utf-8') as handle:
        root = handle.readline().strip()
        if not root:
            raise DataError(f"{path}:1: the first line must be the audio root folder (fairseq's "
                            "manifest), got an empty line")
        rows = []
        for number, line in enumerate(handle, start=2):
            line = line.rstrip('\r\n')
            if not line.strip():
                continue
            fields = line.split('\t')
            if len(fields) != 2 or not fields[1].strip().isdigit():
                raise DataError(f"{path}:{number}: expected 'relative/path<TAB>num_samples', got "
                                f"{line[:80]!r}")
            relative = fields[0]
            name = os.path.basename(relative)
            rows.append((name.split('.')[0], os.path.join(root, relative), int(fields[1])))
    if not rows:
        raise DataError(f"manifest {path} lists no audio files")
    return rows


def _read_labels(tsv_path, labels, count):
    if labels not in LABELS:
        raise ConfigError(f"labels must be one of {', '.join(LABELS)} or None, got {labels!r}")
    path = os.path.splitext(tsv_path)[0] + f'.{labels}'
    if not os.path.isfile(path):
        raise DataError(f"no transcripts {path} for {tsv_path}; write them with preprocess.py "
                        "(or fairseq's libri_labels.py)")
    with open(path, encoding='utf-8') as handle:
        lines = handle.read().splitlines()
    if len(lines) != count:
        raise DataError(f"{path} has {len(lines)} lines but {tsv_path} lists {count} audio files; "
                        "they must match line by line: re-run preprocess.py")
    return [words_from_ltr(line) if labels == 'ltr' else ' '.join(line.split()) for line in lines]


def _check_letters(texts, letters, where):
    unknown = set(''.join(texts).replace(' ', '')) - set(letters.index)
    if unknown:
        raise letters.unknown_error(unknown, where)


# ---------------------------------------------------------------------------------- audio

def read_utterance(path, sample_rate, normalize=False, start=None, stop=None):
    """Samples ``[start, stop)`` of a mono file at ``sample_rate``, float32; with ``normalize``
    zero mean and unit variance over them (fairseq's ``layer_norm`` of ``task.normalize``).

    Raises:
        DataError: missing, unreadable or empty file, another sample rate.
    """
    wave = read_audio(path, sample_rate, on_mismatch='error', start=start, stop=stop)
    if normalize:
        wave = (wave - wave.mean()) / np.sqrt(wave.var() + NORMALIZE_EPS)
    return wave.astype(np.float32)


def pad_audio(waves, pad_length):
    """``(audio float32 (B, pad_length), padding_mask float32 (B, pad_length))``: the waves
    zero-padded, and 1 on their real samples."""
    audio, lengths = pad_batch(waves, pad_length)
    padding_mask = (np.arange(pad_length) < lengths[:, None]).astype(np.float32)
    return audio.astype(np.float32), padding_mask


def check_format(item, sample_rate, source):
    """One file's header: the rate and a single channel (a wrong corpus fails at once with its
    own message, not as a run of unreadable files)."""
    _, rate, channels = audio_format(item.path)
    if rate != sample_rate:
        raise DataError(f"audio file {item.path} of {source} has sample rate {rate} Hz but "
                        f"data.sample_rate is {sample_rate} Hz: resample the corpus (wav2vec 2.0 "
                        "models are trained at 16 kHz)")
    if channels != 1:
        raise DataError(f"audio file {item.path} of {source} has {channels} channels; wav2vec 2.0 "
                        "reads mono audio")


# ---------------------------------------------------------------------------------- CTC

def ctc_min_frames(ids):
    """Frames a CTC alignment of ``ids`` needs: one per label, one more per repeated label."""
    ids = np.asarray(ids)
    return int(len(ids) + np.count_nonzero(ids[1:] == ids[:-1]))


class CtcTrainSet:
    """Whole utterances with their letter targets, padded per batch: CTC fine-tuning.

    Batches (``make_batch(indices, rng, pad_length)``, ``F = output_frames(pad_length)``):

    * ``audio`` float32 (B, pad_length), zero after each utterance;
    * ``padding_mask`` float32 (B, pad_length), 1 on real samples;
    * ``targets`` int32 (B, F): letter ids, 0 after ``target_lengths``. F is the most letters
      CTC can align to F frames, so every batch of one pad length has one shape (one graph per
      level of the length grid);
    * ``target_lengths`` int32 (B,);
    * ``mask_time`` float32 (B, F), ``mask_channel`` float32 (B, hidden_size): 1 = masked, from
      ``masker`` (zeros without one);
    * ``_bad``: unreadable files replaced in this batch (:mod:`src.data.items`).

    Args:
        items: :class:`SpeechItem` list (:func:`read_manifest`).
        letters: the :class:`Letters` the targets are encoded with.
        data: the :class:`SpeechDataConfig` (``sample_rate``, ``normalize``, ``max_tokens``,
            ``bucket_ratio``).
        masker: ``masker(frame_lengths int (B,), num_frames F, hidden_size, rng) -> (mask_time
            (B, F), mask_channel (B, hidden_size))`` (the recipe's SpecAugment), or None.
        hidden_size: the encoder's width (``mask_channel``'s second axis).
        kernels, strides: the feature encoder's convolutions.
        source: the manifest, named in messages.

    Attributes:
        lengths: int64 (n,) samples per utterance (for :class:`~src.data.sampler.BucketBatches`).
        target_ids: int32 targets per utterance.
        dropped: reason -> count of the utterances left out (logged).

    Raises:
        DataError: no utterance left, the first file at another rate or not mono, characters
            outside the dictionary.
    """

    def __init__(self, items, letters, data, masker=None, hidden_size=768, kernels=KERNELS,
                 strides=STRIDES, source='the training manifest'):
        self.letters, self.masker, self.hidden_size = letters, masker, int(hidden_size)
        self.sample_rate, self.normalize = int(data.sample_rate), bool(data.normalize)
        self.kernels, self.strides, self.bucket_ratio = tuple(kernels), tuple(strides), data.bucket_ratio
        self.source = str(source)
        dropped, kept, targets = Counter(), [], []
        for item in items:
            ids = letters.encode(item.text, where=source)
            if item.num_samples > data.max_tokens:
                dropped[f'longer than data.max_tokens {data.max_tokens} samples'] += 1
            elif ctc_min_frames(ids) > output_frames(item.num_samples, kernels, strides):
                dropped['more letters than CTC can align to their frames'] += 1
            else:
                kept.append(item)
                targets.append(ids)
        for reason, count in dropped.items():
            log.warning('dropped %d of the %d training utterances of %s: %s', count, len(items),
                        source, reason)
        if not kept:
            raise DataError(f"no training utterance left of the {len(items)} of {source}: "
                            + ', '.join(f"{n} {reason}" for reason, n in dropped.items()))
        self.items, self.target_ids, self.dropped = kept, targets, dict(dropped)
        self.lengths = np.array([item.num_samples for item in kept], np.int64)
        check_format(kept[0], self.sample_rate, source)
        self.unreadable = UnreadableItems(source, noun='training utterances')

    def __len__(self):
        return len(self.items)

    def length_grid(self):
        """The pad lengths: geometric (``data.bucket_ratio``) from the shortest utterance to the
        longest."""
        return LengthGrid.geometric(int(self.lengths.min()), int(self.lengths.max()),
                                    self.bucket_ratio)

    def get(self, index):
        """The audio of utterance ``index``, or None when unreadable (recorded, logged once)."""
        item = self.items[index]
        return self.unreadable.read(item.path, lambda: read_utterance(
            item.path, self.sample_rate, self.normalize))

    def make_batch(self, indices, rng, pad_length=None):
        """The CTC batch of ``indices`` padded to ``pad_length`` samples (None: the longest);
        see the class docstring for its arrays."""
        waves, used, bad = self.unreadable.gather(self.get, indices, len(self), rng)
        lengths = np.array([len(wave) for wave in waves], np.int64)
        pad_length = int(lengths.max()) if pad_length is None else int(pad_length)
        if lengths.max() > pad_length:
            raise DataError(f"an utterance of {lengths.max()} samples of {self.source} does not "
                            f"fit the pad length {pad_length}: its manifest gives another length; "
                            "re-run preprocess.py")
        batch = len(waves)
        audio, padding_mask = pad_audio(waves, pad_length)
        num_frames = output_frames(pad_length, self.kernels, self.strides)
        targets = np.zeros((batch, num_frames), np.int32)
        target_lengths = np.zeros(batch, np.int32)
        for row, index in enumerate(used):
            ids = self.target_ids[index]
            targets[row, :len(ids)] = ids
            target_lengths[row] = len(ids)
        frame_lengths = output_frames(lengths, self.kernels, self.strides)
        if self.masker is None:
            mask_time = np.zeros((batch, num_frames), np.float32)
            mask_channel = np.zeros((batch, self.hidden_size), np.float32)
        else:
            mask_time, mask_channel = self.masker(frame_lengths, num_frames, self.hidden_size, rng)
            mask_time = np.asarray(mask_time, np.float32)
            mask_channel = np.asarray(mask_channel, np.float32)
            if mask_time.shape != (batch, num_frames) or \
                    mask_channel.shape != (batch, self.hidden_size):
                raise ValueError(f"the masker returned masks of shapes {mask_time.shape} and "
                                 f"{mask_channel.shape}, expected {(batch, num_frames)} and "
                                 f"{(batch, self.hidden_size)}")
        return {'audio': audio, 'padding_mask': padding_mask, 'targets': targets,
                'target_lengths': target_lengths, 'mask_time': mask_time,
                'mask_channel': mask_channel, '_bad': bad}


def ctc_batches(train_set, data, seed=0):
    """The training batch sampler of a :class:`CtcTrainSet`: up to ``data.max_tokens`` padded
    samples per batch and rank, bucketed on :meth:`CtcTrainSet.length_grid`."""
    return BucketBatches(train_set.lengths, train_set.length_grid(), max_tokens=data.max_tokens,
                         seed=seed)


def ctc_train_set(data, masker=None, hidden_size=768, kernels=KERNELS, strides=STRIDES):
    """The :class:`CtcTrainSet` of ``data.train_subset`` with the letters of
    :func:`load_letters`."""
    check_data_config(data)
    letters = load_letters(data)
    manifest = read_manifest(manifest_path(data, data.train_subset), data.labels, letters)
    return CtcTrainSet(manifest.items, letters, data, masker, hidden_size, kernels, strides,
                       source=manifest.source)


# ---------------------------------------------------------------------------------- evaluation

class SpeechEvalSet:
    """Whole utterances one at a time, shortest first (batches of similar lengths pad least):
    validation and test.

    Items (``eval_set[i]``) are ``{'utterance_id': str, 'audio': float32 (T,), 'text': str}``;
    an unreadable file is a DataError (an evaluation does not skip utterances). Empty
    references are kept; :attr:`skipped` counts what :func:`read_manifest` left out.

    Args:
        items: :class:`SpeechItem` list (``read_manifest(..., drop_empty=False)``).
        letters: the :class:`Letters` (``decode`` of the hypotheses).
        sample_rate, normalize: as the ``data`` keys.
        max_items: 0 = all, else the ``max_items`` shortest.
        source: the manifest, named in messages.
        skipped: reason -> count of the manifest's utterances not in ``items``.

    Attributes:
        lengths: int64 samples per utterance, increasing.
    """

    def __init__(self, items, letters, sample_rate=16000, normalize=False, max_items=0,
                 source='the evaluation manifest', skipped=None):
        if not items:
            raise DataError(f"no utterances in {source}")
        order = sorted(range(len(items)), key=lambda i: (items[i].num_samples, i))
        self.items = [items[i] for i in order][:max_items or None]
        self.letters, self.sample_rate, self.normalize = letters, int(sample_rate), bool(normalize)
        self.source, self.skipped = str(source), dict(skipped or {})
        self.lengths = np.array([item.num_samples for item in self.items], np.int64)
        self.empty_references = sum(not item.text for item in self.items)
        check_format(self.items[0], self.sample_rate, source)

    def __len__(self):
        return len(self.items)

    def __getitem__(self, index):
        item = self.items[index]
        return {'utterance_id': item.utterance_id, 'text': item.text,
                'audio': read_utterance(item.path, self.sample_rate, self.normalize)}

    def make_batch(self, indices, pad_length=None):
        """``{'audio': float32 (B, pad_length), 'padding_mask': float32 (B, pad_length)}`` of
        ``indices`` (None: padded to the longest), for batched inference."""
        waves = [self[int(i)]['audio'] for i in indices]
        pad_length = max(len(w) for w in waves) if pad_length is None else int(pad_length)
        audio, padding_mask = pad_audio(waves, pad_length)
        return {'audio': audio, 'padding_mask': padding_mask}


def speech_eval_set(data, subset, max_items=0):
    """The :class:`SpeechEvalSet` of the manifest ``subset`` (e.g. ``data.valid_subset``)."""
    check_data_config(data)
    if not subset:
        raise ConfigError("an empty subset name: data.valid_subset is '' (no validation) or "
                          "data.test_subsets lists ''")
    letters = load_letters(data)
    # references are compared in words, never encoded: letters the dictionary lacks (a dev set
    # has a few the training set had not) are errors of the hypothesis, as in fairseq
    manifest = read_manifest(manifest_path(data, subset), data.labels, drop_empty=False)
    return SpeechEvalSet(manifest.items, letters, data.sample_rate, data.normalize, max_items,
                         source=manifest.source, skipped=manifest.skipped)


# ---------------------------------------------------------------------------------- preparer

def manifest_name(split):
    """fairseq's manifest name of a LibriSpeech split: ``dev-clean`` -> ``dev_clean``."""
    return split.replace('-', '_')


def _split_parts(split):
    return TRAIN_SPLITS if split == TRAIN_960 else (split,)


def _scan_split(root, split):
    """``[(relative path, num_samples, transcript)]`` of one LibriSpeech split, sorted by path;
    every header read (rate and channels checked)."""
    folder = os.path.join(root, split)
    rows = []
    for directory, _, names in os.walk(folder):
        flacs = sorted(name for name in names if name.endswith('.flac'))
        if not flacs:
            continue
        texts = _read_trans(directory)
        for name in flacs:
            path = os.path.join(directory, name)
            utterance_id = name[:-len('.flac')]
            if utterance_id not in texts:
                raise DataError(f"{path} has no line in the transcripts of its folder "
                                f"({directory}/*.trans.txt): re-extract the chapter")
            num_samples, rate, channels = audio_format(path)
            if rate != 16000 or channels != 1:
                raise DataError(f"{path} is {rate} Hz with {channels} channel(s); LibriSpeech is "
                                "16 kHz mono: re-extract the corpus")
            rows.append((os.path.relpath(path, root), num_samples, texts[utterance_id]))
    if not rows:
        raise DataError(f"no .flac files under {folder}; LibriSpeech's layout is "
                        f"<split>/<reader>/<chapter>/<reader>-<chapter>-NNNN.flac; {DEMO_HINT}")
    return sorted(rows)


def _read_trans(directory):
    """``{utterance id: transcript}`` of the ``*.trans.txt`` files of a chapter folder."""
    texts = {}
    for name in sorted(n for n in os.listdir(directory) if n.endswith('.trans.txt')):
        path = os.path.join(directory, name)
        with open(path, encoding='utf-8') as handle:
            for line in handle:
                fields = line.split(maxsplit=1)
                if fields:
                    texts[fields[0]] = ' '.join(fields[1:]).strip()
    return texts


def _write_subset(out_dir, name, root, rows):
    tsv = ''.join(f"{path}\t{num_samples}\n" for path, num_samples, _ in rows)
    write_text(os.path.join(out_dir, f'{name}.tsv'), f"{root}\n{tsv}")
    write_text(os.path.join(out_dir, f'{name}.wrd'), ''.join(f"{text}\n" for _, _, text in rows))
    write_text(os.path.join(out_dir, f'{name}.ltr'),
               ''.join(f"{ltr_line(text)}\n" for _, _, text in rows))


def prepare_librispeech(root, out_dir, splits=('train-clean-100', 'dev-clean', 'test-clean'),
                        valid='', test=''):
    """Check a LibriSpeech tree and write fairseq's manifests of its splits (the ``librispeech``
    corpus preparer; see the module docstring for the files).

    Args:
        root: the ``LibriSpeech`` folder (holding ``train-clean-100/`` ...).
        out_dir: the manifest folder (``data.root`` of the recipe).
        splits: LibriSpeech split names, ``train-960`` for the three training splits.
        valid: the split written as ``valid`` too ('' = the first dev split of ``splits``).
        test: the split written as ``test`` too ('' = the first test split of ``splits``).

    Returns:
        the path of ``train.tsv``.

    Raises:
        DataError: no training split named, a split or ``valid``/``test`` not found (the present
            ones named), a file without a transcript, a file that is not 16 kHz mono.
    """
    root = os.path.realpath(root)
    splits = list(dict.fromkeys(splits))
    unknown = [s for s in splits if s not in LIBRISPEECH_SPLITS + (TRAIN_960,)]
    if unknown:
        raise DataError(f"unknown LibriSpeech split(s) {', '.join(unknown)}: the splits are "
                        f"{', '.join(LIBRISPEECH_SPLITS)} and {TRAIN_960}")
    present = [s for s in LIBRISPEECH_SPLITS if os.path.isdir(os.path.join(root, s))]
    absent = [part for s in splits for part in _split_parts(s) if part not in present]
    if absent:
        raise DataError(f"no split {', '.join(absent)} in {root} (present: "
                        f"{', '.join(present) or 'none'}): point --root at the LibriSpeech folder "
                        f"or name the splits it has with --splits; {DEMO_HINT}")
    training = [s for s in splits if s in TRAIN_SPLITS or s == TRAIN_960]
    if not training:
        raise DataError(f"--splits {' '.join(splits)} names no training split (one of "
                        f"{', '.join(TRAIN_SPLITS)} or {TRAIN_960}): the letter dictionary is "
                        "counted on the training transcripts")
    roles = {'valid': valid or next((s for s in splits if s in DEV_SPLITS), ''),
             'test': test or next((s for s in splits if s in TEST_SPLITS), '')}
    for role, split in roles.items():
        if split and split not in splits:
            raise DataError(f"--{role} {split} is not among --splits {' '.join(splits)}")
    scanned = {s: [row for part in _split_parts(s) for row in _scan_split(root, part)]
               for s in splits}
    out_dir = os.path.abspath(out_dir)
    subsets = {manifest_name(s): scanned[s] for s in splits}
    subsets['train'] = sorted({row for s in training for row in scanned[s]})
    subsets.update({role: scanned[split] for role, split in roles.items() if split})
    for name, rows in subsets.items():
        _write_subset(out_dir, name, root, rows)
        hours = sum(n for _, n, _ in rows) / 16000 / 3600
        print(f"{name}: {len(rows)} utterances, {hours:.2f} h")
    letters = Letters.from_transcripts(text for _, _, text in subsets['train'])
    letters.write_fairseq_dict(os.path.join(out_dir, DICTIONARY))
    return os.path.join(out_dir, 'train.tsv')


def librispeech_arguments(parser):
    """The options of ``preprocess.py librispeech`` (the keywords of
    :func:`prepare_librispeech`)."""
    parser.add_argument('--root', required=True, help='the LibriSpeech folder')
    parser.add_argument('--out', dest='out_dir', metavar='DIR', required=True,
                        help='output folder of the manifests (the recipe\'s data.root)')
    parser.add_argument('--splits', nargs='+', default=['train-clean-100', 'dev-clean', 'test-clean'],
                        choices=LIBRISPEECH_SPLITS + (TRAIN_960,), metavar='SPLIT',
                        help=f"of {', '.join(LIBRISPEECH_SPLITS)}, {TRAIN_960} (the training "
                             "splits together); default: train-clean-100 dev-clean test-clean")
    parser.add_argument('--valid', default='', metavar='SPLIT',
                        help='the split also written as valid.* (default: the first dev split)')
    parser.add_argument('--test', default='', metavar='SPLIT',
                        help='the split also written as test.* (default: the first test split)')


CORPORA.register('librispeech', CorpusPreparer(
    prepare_librispeech, librispeech_arguments,
    "check a LibriSpeech tree and write fairseq's manifests (.tsv, .ltr, .wrd, dict.ltr.txt)"))
