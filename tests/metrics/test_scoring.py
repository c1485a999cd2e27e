"""Cosine scoring and AS-norm against brute-force loops and hand-computed values."""
import math

import numpy as np
import pytest

import src.metrics.verification as verification
from src.errors import ConfigError, DataError
from src.metrics.verification import as_norm, cohort_statistics, cosine_scores


def brute_cosine(a, b):
    dot = sum(x * y for x, y in zip(a, b))
    return dot / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


def brute_as_norm(scores, enroll, test, cohort, top_k):
    """Per trial: score both sides against every cohort row, sort, keep the top k."""
    out = []
    for score, e, t in zip(scores, enroll, test):
        normalised = []
        for side in (e, t):
            cohort_scores = sorted((brute_cosine(side, c) for c in cohort), reverse=True)
            top = cohort_scores[:top_k]
            mean = sum(top) / len(top)
            std = math.sqrt(sum((x - mean) ** 2 for x in top) / len(top))
            normalised.append((score - mean) / std)
        out.append(0.5 * (normalised[0] + normalised[1]))
    return np.array(out)


def test_cosine_scores_against_loop():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(20, 7)), rng.normal(size=(20, 7))
    expected = [brute_cosine(x, y) for x, y in zip(a, b)]
    np.testing.assert_allclose(cosine_scores(a, b), expected, rtol=0, atol=1e-12)
    # Scale-invariant, symmetric, 1 for a row with itself, float32 accepted.
    np.testing.assert_allclose(cosine_scores(3 * a, b), expected, atol=1e-12)
    np.testing.assert_allclose(cosine_scores(b, a), expected, atol=1e-12)
    np.testing.assert_allclose(cosine_scores(a, a), np.ones(20), atol=1e-12)
    np.testing.assert_allclose(cosine_scores(a.astype(np.float32), b.astype(np.float32)),
                               expected, atol=1e-6)


def test_cosine_of_a_zero_embedding_is_zero():
    assert cosine_scores([[0.0, 0.0]], [[1.0, 2.0]]).tolist() == [0.0]


@pytest.mark.parametrize('a, b, message', [
    (np.ones((3, 4)), np.ones((3, 5)), 'shape'),
    (np.ones((3, 4)), np.ones((2, 4)), 'shape'),
    (np.ones(4), np.ones(4), r'\(n, dim\)'),
    (np.full((2, 2), np.nan), np.ones((2, 2)), 'NaN'),
])
def test_cosine_bad_input(a, b, message):
    with pytest.raises(DataError, match=message):
        cosine_scores(a, b)


def test_as_norm_hand_computed():
    # e = t = (1, 0); cohort at 0, 90 and 180 degrees -> cohort scores 1, 0, -1.
    # top 2 = {1, 0}: mean 0.5, std 0.5; s = 1 -> 0.5 * ((1 - .5) / .5 + (1 - .5) / .5) = 1.
    cohort = np.array([[2.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    e = np.array([[1.0, 0.0]])
    assert as_norm([1.0], e, e, cohort, top_k=2) == pytest.approx([1.0])
    # Whole cohort {1, 0, -1}: mean 0, std sqrt(2/3); s = 0.5 -> 0.5 / sqrt(2/3).
    assert as_norm([0.5], e, e, cohort, top_k=3) == pytest.approx([0.5 / math.sqrt(2 / 3)])


@pytest.mark.parametrize('top_k', [2, 5, 40, 1000])  # 40 == whole cohort, 1000 > cohort
def test_as_norm_against_loop(top_k, monkeypatch):
    monkeypatch.setattr(verification, 'COHORT_CHUNK_ROWS', 3)  # exercise the chunked path
    rng = np.random.default_rng(1)
    utterances = rng.normal(size=(8, 6))
    # Trials reuse utterances, as real trial lists do.
    enroll = utterances[rng.integers(0, 8, 25)]
    test = utterances[rng.integers(0, 8, 25)]
    cohort = rng.normal(size=(40, 6))
    scores = cosine_scores(enroll, test)
    expected = brute_as_norm(scores, enroll, test, cohort, min(top_k, 40))
    np.testing.assert_allclose(as_norm(scores, enroll, test, cohort, top_k=top_k), expected,
                               rtol=1e-10, atol=1e-10)


def test_cohort_statistics_whole_cohort_equals_plain_mean_std():
    rng = np.random.default_rng(2)
    emb, cohort = rng.normal(size=(5, 4)), rng.normal(size=(9, 4))
    all_scores = np.array([[brute_cosine(x, c) for c in cohort] for x in emb])
    mean, std = cohort_statistics(emb, cohort, top_k=50)
    np.testing.assert_allclose(mean, all_scores.mean(axis=1), atol=1e-12)
    np.testing.assert_allclose(std, all_scores.std(axis=1), atol=1e-12)


@pytest.mark.parametrize('kwargs, error, message', [
    (dict(top_k=1), ConfigError, 'top_k'),
    (dict(top_k=2.5), ConfigError, 'top_k'),
    (dict(cohort_emb=np.ones((1, 3))), DataError, 'at least 2'),
    (dict(cohort_emb=np.ones((5, 4))), DataError, 'dimension'),
    (dict(scores=np.zeros(3)), DataError, 'one score'),
    (dict(test_emb=np.ones((3, 3))), DataError, 'one score'),
    (dict(scores=np.array([0.0, np.nan])), DataError, 'NaN'),
])
def test_as_norm_bad_input(kwargs, error, message):
    args = dict(scores=np.zeros(2), enroll_emb=np.ones((2, 3)), test_emb=np.ones((2, 3)),
                cohort_emb=np.eye(3), top_k=2)
    args.update(kwargs)
    with pytest.raises(error, match=message):
        as_norm(**args)
