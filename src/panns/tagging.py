"""Sound tagging of whole audio files with a clip classifier: the model-independent part.

A classifier sees clips of a fixed length (``clip_seconds`` of its training data). A file of
any length is tagged by cutting it into such windows, scoring every window and pooling the
window scores:

    file (samples) -> windows (W, window)     :func:`clip_windows` / :func:`cut_windows`
                   -> scores  (W, classes)     the model (a callable), :func:`predict_windows`
                   -> clip scores (classes,)   :func:`aggregate` (mean or max over windows)
                   -> top k (label, score)      :func:`top_k`, printed by :func:`format_tags`

A file shorter than a window is zero-padded at the end (as the training clips are); a longer
one gets windows every ``hop`` samples, the last one aligned to the end of the file so that no
sample is left out. Scores are probabilities: the softmax of a classifier's logits
(:func:`softmax`) or a tagger's sigmoid outputs as they are.

Also here: class names
(:func:`read_audioset_labels`, :func:`class_labels`) and the JSON-lines record of a file
(:func:`tag_record`, :func:`write_jsonl`). numpy only: the model is whatever callable maps
windows to scores.
"""
import csv
import json
import os

import numpy as np

from src.errors import DataError, UserError

AGGREGATES = ('mean', 'max')
# AudioSet's ontology in output order of the public PANNs taggers (index,mid,display_name)
AUDIOSET_LABELS = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'labels',
                               'audioset_class_labels_indices.csv')
AUDIOSET_CLASSES = 527


def clip_windows(num_samples, window, hop):
    """Start samples of the windows that cover a file.

    Args:
        num_samples: length of the file.
        window: window length in samples (the model's clip length).
        hop: samples between window starts (1 ... ``window``).

    Returns:
        list of starts: ``[0]`` when the file fits in one window (it is padded), else
        ``0, hop, 2 hop, ...`` while the window stays inside the file, then
        ``num_samples - window`` if the hops did not land there: the last window ends with
        the file.

    Raises:
        ValueError: a non-positive ``window`` or a ``hop`` outside 1 ... ``window``.
    """
    if window < 1:
        raise ValueError(f"window must be at least 1 sample, got {window}")
    if not 1 <= hop <= window:
        raise ValueError(f"hop must be 1 ... window ({window}) samples, got {hop}")
    last = num_samples - window
    if last <= 0:
        return [0]
    starts = list(range(0, last + 1, hop))
    if starts[-1] != last:
        starts.append(last)
    return starts


def cut_windows(wave, window, hop):
    """The windows of :func:`clip_windows` as rows: float32 ``(W, window)``.

    A wave shorter than ``window`` becomes one row, zero-padded at the end.
    """
    wave = np.asarray(wave, dtype=np.float32).reshape(-1)
    if len(wave) < window:
        return np.pad(wave, (0, window - len(wave)))[None]
    return np.stack([wave[start:start + window] for start in clip_windows(len(wave), window, hop)])


def predict_windows(windows, predict, batch_size=8, fixed_batch=False):
    """Scores of every window, computed ``batch_size`` windows at a time.

    Args:
        windows: ``(W, window)`` float32.
        predict: callable ``(B, window) -> (B, classes)`` scores.
        batch_size: windows per call.
        fixed_batch: the model takes exactly ``batch_size`` rows (a fixed-shape export): the
            last batch is completed with zero windows whose scores are dropped.

    Returns:
        float ``(W, classes)``.
    """
    scores = []
    for lo in range(0, len(windows), batch_size):
        batch = windows[lo:lo + batch_size]
        rows = len(batch)
        if fixed_batch and rows < batch_size:
            batch = np.concatenate([batch, np.zeros((batch_size - rows,) + batch.shape[1:], batch.dtype)])
        scores.append(np.asarray(predict(batch))[:rows])
    return np.concatenate(scores)


def softmax(logits):
    """Softmax over the last axis (float64 inside, so tiny probabilities keep their digits)."""
    x = np.asarray(logits, dtype=np.float64)
    x = np.exp(x - x.max(axis=-1, keepdims=True))
    return x / x.sum(axis=-1, keepdims=True)


def aggregate(scores, how='mean'):
    """Clip scores from window scores ``(W, classes)``: their mean (default) or maximum.

    Raises:
        ValueError: ``how`` is not one of :data:`AGGREGATES`.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if how == 'mean':
        return scores.mean(axis=0)
    if how == 'max':
        return scores.max(axis=0)
    raise ValueError(f"aggregate must be one of {', '.join(AGGREGATES)}, got {how!r}")


def tag_wave(wave, predict, window, hop, how='mean', batch_size=8, fixed_batch=False):
    """Clip scores of one waveform: windows -> ``predict`` -> :func:`aggregate`.

    Args:
        wave: ``(samples,)`` at the model's rate.
        predict: callable ``(B, window) float32 -> (B, classes)`` probabilities.
        window, hop: in samples (:func:`clip_windows`).
        how: 'mean' or 'max' over the windows.
        batch_size, fixed_batch: see :func:`predict_windows`.

    Returns:
        (clip scores float64 ``(classes,)``, number of windows).
    """
    windows = cut_windows(wave, window, hop)
    return aggregate(predict_windows(windows, predict, batch_size, fixed_batch), how), len(windows)


def top_k(scores, labels, k):
    """The ``k`` best (label, score) pairs, highest score first (ties: lower class index first).

    Args:
        scores: ``(classes,)``.
        labels: class names in output order (``len(labels) == classes``).
        k: how many; more than the classes gives all of them.

    Raises:
        ValueError: ``k`` < 1, or labels and scores of different lengths.
    """
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if len(labels) != len(scores):
        raise ValueError(f"{len(labels)} labels for {len(scores)} scores")
    order = np.argsort(-scores, kind='stable')[:k]
    return [(labels[i], float(scores[i])) for i in order]


def format_score(score, digits=4):
    """A score as a plain decimal with ``digits`` significant digits, never in scientific
    notation, trailing zeros dropped: 0.99991 -> '0.9999', 1e-05 -> '0.00001', 0 -> '0'."""
    return np.format_float_positional(float(score), precision=digits, unique=False,
                                      fractional=False, trim='-')


def format_tags(name, tags, digits=4):
    """One output line: ``[name] label: score  label: score ...`` (two spaces between tags)."""
    return f"[{name}] " + '  '.join(f"{label}: {format_score(score, digits)}" for label, score in tags)


def read_audioset_labels(path=AUDIOSET_LABELS):
    """AudioSet display names in class-index order, from ``class_labels_indices.csv``.

    Args:
        path: CSV with the header ``index,mid,display_name`` (the copy shipped in
            ``src/panns/labels`` by default).

    Returns:
        list of names; ``names[i]`` is output ``i`` of a PANNs AudioSet tagger.

    Raises:
        DataError: a missing file, another header, or indices that are not 0, 1, 2, ...
    """
    if not os.path.isfile(path):
        raise DataError(f"AudioSet label file not found: {path}")
    with open(path, newline='', encoding='utf-8') as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header != ['index', 'mid', 'display_name']:
            raise DataError(f"{path}: header {header} is not index,mid,display_name")
        names = []
        for line, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) != 3 or row[0] != str(len(names)):
                raise DataError(f"{path} line {line}: expected index {len(names)},mid,display_name, "
                                f"got {','.join(row)}")
            names.append(row[2])
    return names


def default_labels(num_classes):
    """Names for classes without names: 'class 0', 'class 1', ..."""
    return [f"class {i}" for i in range(num_classes)]


def class_labels(labels, num_classes, source='the model'):
    """Names for ``num_classes`` outputs: ``labels`` when given, else :func:`default_labels`.

    Returns:
        (names, named): ``named`` is False when the names were made up.

    Raises:
        UserError: ``labels`` given but not one per output.
    """
    if labels is None:
        return default_labels(num_classes), False
    if len(labels) != num_classes:
        raise UserError(f"{source} names {len(labels)} classes but the model has "
                        f"{num_classes} outputs; re-export it or fix its labels")
    return [str(name) for name in labels], True


def tag_record(path, tags, windows):
    """The JSON-able record of one file: path, top-k labels and scores, number of windows."""
    return {'path': path, 'labels': [label for label, _ in tags],
            'scores': [score for _, score in tags], 'windows': int(windows)}


def write_jsonl(path, records):
    """Write one JSON object per line, atomically (a temporary file, then ``os.replace``)."""
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, 'w', encoding='utf-8') as f:
            for record in records:
                f.write(json.dumps(record, ensure_ascii=False) + '\n')
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
