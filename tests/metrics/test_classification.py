"""Confusion matrix and accuracies: a hand-computed case, and random cases against plain loops."""
import numpy as np
import pytest

from src.errors import DataError
from src.metrics.classification import (accuracy, classification_summary, confusion_matrix,
                                        per_class_accuracy, pooled_confusion)


def test_hand_computed_case():
    # 3 classes; class 2 has no clips; one clip of class 0 is taken for class 1
    truth = [0, 0, 0, 1, 1]
    predicted = [0, 1, 0, 1, 1]
    confusion = confusion_matrix(truth, predicted, 3)
    np.testing.assert_array_equal(confusion, [[2, 1, 0], [0, 2, 0], [0, 0, 0]])
    assert confusion.dtype == np.int64
    assert accuracy(confusion) == pytest.approx(4 / 5)
    np.testing.assert_allclose(per_class_accuracy(confusion), [2 / 3, 1.0, 0.0])
    summary = classification_summary(confusion, ['dog', 'rain', 'siren'])
    assert summary == {'accuracy': pytest.approx(0.8),
                       'per_class_accuracy': {'dog': pytest.approx(2 / 3), 'rain': 1.0,
                                              'siren': 0.0}}


def loop_metrics(truth, predicted, k):
    """The same numbers by counting clip by clip."""
    confusion = [[0] * k for _ in range(k)]
    for t, p in zip(truth, predicted):
        confusion[t][p] += 1
    right = sum(1 for t, p in zip(truth, predicted) if t == p)
    recalls = []
    for c in range(k):
        clips = [p for t, p in zip(truth, predicted) if t == c]
        recalls.append(sum(1 for p in clips if p == c) / len(clips) if clips else 0.0)
    return np.array(confusion), right / len(truth), np.array(recalls)


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_random_cases_match_a_loop(seed):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 12))
    truth = rng.integers(0, k, 200)
    # mostly right, so the diagonal is not a chance-level one
    predicted = np.where(rng.random(200) < 0.6, truth, rng.integers(0, k, 200))
    confusion = confusion_matrix(truth, predicted, k)
    expected_confusion, expected_accuracy, expected_recalls = loop_metrics(truth, predicted, k)
    np.testing.assert_array_equal(confusion, expected_confusion)
    assert accuracy(confusion) == pytest.approx(expected_accuracy, abs=1e-15)
    assert accuracy(confusion) == pytest.approx(float(np.mean(truth == predicted)), abs=1e-15)
    np.testing.assert_allclose(per_class_accuracy(confusion), expected_recalls, rtol=0, atol=1e-15)


def test_pooled_folds_are_the_metrics_of_all_clips():
    rng = np.random.default_rng(4)
    truth, predicted = rng.integers(0, 5, 90), rng.integers(0, 5, 90)
    folds = [slice(0, 20), slice(20, 55), slice(55, 90)]
    pooled = pooled_confusion([confusion_matrix(truth[f], predicted[f], 5) for f in folds])
    np.testing.assert_array_equal(pooled, confusion_matrix(truth, predicted, 5))
    # pooled accuracy is clip-weighted, not the mean of the fold accuracies
    fold_mean = np.mean([np.mean(truth[f] == predicted[f]) for f in folds])
    assert accuracy(pooled) == pytest.approx(np.mean(truth == predicted))
    assert accuracy(pooled) != pytest.approx(fold_mean)


def test_bad_input_is_a_one_line_data_error():
    with pytest.raises(DataError, match=r'predictions\[1\] is class 3, outside 0..2'):
        confusion_matrix([0, 1], [0, 3], 3)
    with pytest.raises(DataError, match='2 true labels but 3 predictions'):
        confusion_matrix([0, 1], [0, 1, 1], 3)
    with pytest.raises(DataError, match='integer class indices'):
        confusion_matrix([0.0, 1.0], [0, 1], 3)
    with pytest.raises(DataError, match='no clips'):
        accuracy(np.zeros((3, 3), np.int64))
    with pytest.raises(DataError, match='different sizes'):
        pooled_confusion([np.eye(3), np.eye(4)])
    with pytest.raises(DataError, match='2 class names for a 3-class'):
        classification_summary(np.eye(3), ['a', 'b'])
