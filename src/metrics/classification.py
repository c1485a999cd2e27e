"""Single-label classification: the confusion matrix and the accuracies read off it.

Every metric here is a function of the confusion matrix (rows: true class, columns: predicted
class, entries: clip counts), so the metrics of several disjoint test sets (cross-validation
folds) are those of their summed matrices.
"""
import numpy as np

from ..errors import DataError


def _class_indices(values, name, num_classes):
    """``values`` as a 1-D int64 array of class indices in [0, num_classes), or DataError."""
    array = np.asarray(values)
    if array.ndim != 1:
        raise DataError(f"{name} must be 1-D class indices, got shape {array.shape}")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise DataError(f"{name} must be integer class indices, got dtype {array.dtype}")
    array = array.astype(np.int64)
    outside = (array < 0) | (array >= num_classes)
    if np.any(outside):
        bad = int(np.flatnonzero(outside)[0])
        raise DataError(f"{name}[{bad}] is class {array[bad]}, outside 0..{num_classes - 1}: "
                        f"does the network's number of classes match the data's?")
    return array


def confusion_matrix(truth, predicted, num_classes):
    """Clip counts per (true class, predicted class).

    Args:
        truth: (n,) true class indices.
        predicted: (n,) predicted class indices.
        num_classes: k, the number of classes.

    Returns:
        int64 (k, k): ``[i, j]`` = clips of class i predicted as class j.

    Raises:
        DataError: not 1-D, different lengths, not integers, or indices outside [0, k).
    """
    truth = _class_indices(truth, 'true labels', num_classes)
    predicted = _class_indices(predicted, 'predictions', num_classes)
    if truth.shape != predicted.shape:
        raise DataError(f"{truth.size} true labels but {predicted.size} predictions; give one "
                        f"prediction per clip")
    confusion = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(confusion, (truth, predicted), 1)
    return confusion


def _check_confusion(confusion):
    confusion = np.asarray(confusion)
    if confusion.ndim != 2 or confusion.shape[0] != confusion.shape[1]:
        raise DataError(f"a confusion matrix is square (classes, classes), got {confusion.shape}")
    if confusion.sum() == 0:
        raise DataError("the confusion matrix counts no clips: nothing was evaluated")
    return confusion


def accuracy(confusion):
    """Fraction of clips predicted as their true class: trace / total.

    Raises:
        DataError: not a square matrix, or no clips counted.
    """
    confusion = _check_confusion(confusion)
    return float(np.trace(confusion) / confusion.sum())


def per_class_accuracy(confusion):
    """Recall of each class: float64 (k,), ``confusion[i, i] / clips of class i``; 0.0 for a
    class without clips (it has nothing right).

    Raises:
        DataError: not a square matrix, or no clips counted.
    """
    confusion = _check_confusion(confusion)
    return np.diag(confusion) / np.maximum(1, confusion.sum(axis=1))


def pooled_confusion(matrices):
    """The confusion matrix of the union of disjoint test sets: the sum of theirs.

    Raises:
        DataError: no matrices, or matrices of different sizes (another class list).
    """
    matrices = [np.asarray(m, np.int64) for m in matrices]
    if not matrices:
        raise DataError("no confusion matrices to pool")
    shapes = sorted({m.shape for m in matrices})
    if len(shapes) > 1:
        raise DataError(f"confusion matrices of different sizes {shapes} cannot be pooled: the "
                        f"folds were evaluated with different class lists")
    return np.sum(matrices, axis=0)


def classification_summary(confusion, names):
    """``{'accuracy': float, 'per_class_accuracy': {name: float}}`` of a confusion matrix whose
    classes are ``names`` (in index order), as written to ``metrics.json``.

    Raises:
        DataError: as :func:`accuracy`, or a name count that differs from the matrix's classes.
    """
    confusion = _check_confusion(confusion)
    if len(names) != confusion.shape[0]:
        raise DataError(f"{len(names)} class names for a {confusion.shape[0]}-class confusion "
                        f"matrix")
    recalls = per_class_accuracy(confusion)
    return {'accuracy': accuracy(confusion),
            'per_class_accuracy': {name: float(r) for name, r in zip(names, recalls)}}
