"""EER, minDCF and DET curve: reference values, hand-computed cases, a brute-force
re-implementation, invariances and input errors."""
import os

import numpy as np
import pytest

from src.errors import ConfigError, DataError
from src.metrics import (compute_eer, compute_eer_interpolated, compute_min_dcf, det_curve,
                         nearest_point_eer)

METRICS_NPZ = os.path.join(os.path.dirname(os.path.dirname(__file__)), 'data', 'metrics.npz')


@pytest.fixture(scope='module')
def reference():
    """sv.* of tests/data/metrics.npz: 2,500 trials (500 target), scikit-learn / speechbrain."""
    with np.load(METRICS_NPZ) as bundle:
        return {key[3:]: bundle[key] for key in bundle.files if key.startswith('sv.')}


# ---------------------------------------------------------------------------------------------
# Reference values (scikit-learn roc_curve, speechbrain EER / minDCF)

def test_det_curve_contains_every_reference_roc_point(reference):
    fpr, fnr, thresholds = det_curve(reference['scores'], reference['labels'])
    # Full curve: one point per distinct score plus the reject-all point at +inf.
    assert len(thresholds) == len(np.unique(reference['scores'])) + 1
    # The reference is scikit-learn's default (drop_intermediate=True) curve, a subset of ours.
    positions = {value: i for i, value in enumerate(thresholds)}
    index = [positions[value] for value in reference['thresholds']]
    np.testing.assert_allclose(fpr[index], reference['fpr'], rtol=0, atol=1e-12)
    np.testing.assert_allclose(fnr[index], 1 - reference['tpr'], rtol=0, atol=1e-12)


def test_nearest_point_rule_matches_reference_on_its_curve(reference):
    # sv.eer_nearest was taken on the reduced (drop_intermediate=True) curve stored beside it.
    eer, index = nearest_point_eer(reference['fpr'], 1 - reference['tpr'])
    assert eer == pytest.approx(float(reference['eer_nearest']), abs=1e-12)
    assert reference['thresholds'][index] == pytest.approx(0.015762480046912497, abs=1e-12)


def test_eer_matches_reference(reference):
    eer, threshold = compute_eer(reference['scores'], reference['labels'])
    # The full curve holds a point where fnr == fpr == 0.17 exactly, so the nearest-point EER
    # equals the interpolated (brentq) and speechbrain EERs; the reduced curve of
    # sv.eer_nearest lacks that point and gives 0.168.
    assert eer == pytest.approx(float(reference['eer_brentq']), abs=1e-6)
    assert eer == pytest.approx(float(reference['eer_speechbrain']), abs=1e-6)
    fpr, fnr, thresholds = det_curve(reference['scores'], reference['labels'])
    at = int(np.flatnonzero(thresholds == threshold)[0])
    assert fpr[at] == pytest.approx(0.17) and fnr[at] == pytest.approx(0.17)


def test_interpolated_eer_matches_brentq(reference):
    eer, _ = compute_eer_interpolated(reference['scores'], reference['labels'])
    assert eer == pytest.approx(float(reference['eer_brentq']), abs=1e-6)


def test_min_dcf_matches_speechbrain(reference):
    min_dcf, threshold = compute_min_dcf(reference['scores'], reference['labels'], p_target=0.01)
    # speechbrain returns the un-normalised cost; ours is divided by min(0.01, 0.99).
    assert min_dcf * 0.01 == pytest.approx(float(reference['mindcf_speechbrain']), abs=1e-6)
    assert min_dcf == pytest.approx(0.896, abs=1e-6)
    scores, labels = reference['scores'], reference['labels']
    accepted = scores >= threshold
    miss = np.mean(~accepted[labels == 1])
    false_alarm = np.mean(accepted[labels == 0])
    assert (0.01 * miss + 0.99 * false_alarm) / 0.01 == pytest.approx(min_dcf, abs=1e-12)


# ---------------------------------------------------------------------------------------------
# Hand-computed cases

# Eight trials, 4 target (T) and 4 non-target (N), in descending score order:
#   score   0.9 0.8 0.7 0.6 0.5 0.4 0.3 0.2
#   label    T   T   N   T   N   T   N   N
# Accept score >= t. Points (t: fpr, fnr): inf: 0, 1 | 0.9: 0, 3/4 | 0.8: 0, 1/2 |
# 0.7: 1/4, 1/2 | 0.6: 1/4, 1/4 | 0.5: 1/2, 1/4 | 0.4: 1/2, 0 | 0.3: 3/4, 0 | 0.2: 1, 0.
HAND_SCORES = [0.5, 0.9, 0.3, 0.6, 0.2, 0.8, 0.7, 0.4]  # shuffled on purpose
HAND_LABELS = [0, 1, 0, 1, 0, 1, 0, 1]


def test_hand_computed_det_curve():
    fpr, fnr, thresholds = det_curve(HAND_SCORES, HAND_LABELS)
    np.testing.assert_array_equal(thresholds, [np.inf, .9, .8, .7, .6, .5, .4, .3, .2])
    np.testing.assert_array_equal(fpr, [0, 0, 0, .25, .25, .5, .5, .75, 1])
    np.testing.assert_array_equal(fnr, [1, .75, .5, .5, .25, .25, 0, 0, 0])


def test_hand_computed_eer():
    # |fnr - fpr| is 0 at t = 0.6 (fpr = fnr = 1/4); the linear crossing is the same point.
    assert compute_eer(HAND_SCORES, HAND_LABELS) == pytest.approx((0.25, 0.6))
    assert compute_eer_interpolated(HAND_SCORES, HAND_LABELS) == pytest.approx((0.25, 0.6))


def test_hand_computed_min_dcf():
    # p_target 0.01: DCF = 0.01 fnr + 0.99 fpr -> inf .01, 0.9 .0075, 0.8 .005, then >= .2475
    # (every later point has fpr >= 1/4); min .005 at 0.8, / min(.01, .99) -> 0.5.
    assert compute_min_dcf(HAND_SCORES, HAND_LABELS) == pytest.approx((0.5, 0.8))
    # p_target 0.5, c_miss 10: DCF = 5 fnr + 0.5 fpr -> inf 5, 3.75, 2.5, 2.625, 1.375, 1.5,
    # 0.4: 0.25, 0.375, 0.5; min 0.25 at 0.4, / min(5, .5) -> 0.5.
    assert compute_min_dcf(HAND_SCORES, HAND_LABELS, p_target=0.5, c_miss=10.0) \
        == pytest.approx((0.5, 0.4))


def test_all_scores_tied_give_chance_level():
    # Points (0, 1) at inf and (1, 0) at 0.3: |fnr - fpr| = 1 at both -> first, mean 0.5.
    scores, labels = [0.3] * 6, [1, 0, 0, 1, 0, 1]
    assert compute_eer(scores, labels) == pytest.approx((0.5, np.inf))
    assert compute_eer_interpolated(scores, labels)[0] == pytest.approx(0.5)
    # Reject all costs 0.01, accept all 0.99: normalised minDCF 1 (no better than a trivial system).
    assert compute_min_dcf(scores, labels) == pytest.approx((1.0, np.inf))


def test_tied_scores_move_together():
    # A target and a non-target tied at 1.0: points inf (0, 1), 1.0 (1/2, 1/2), 0.0 (1, 0).
    fpr, fnr, thresholds = det_curve([1.0, 1.0, 0.0, 0.0], [1, 0, 1, 0])
    np.testing.assert_array_equal(thresholds, [np.inf, 1.0, 0.0])
    np.testing.assert_array_equal(fpr, [0, .5, 1])
    np.testing.assert_array_equal(fnr, [1, .5, 0])
    assert compute_eer([1.0, 1.0, 0.0, 0.0], [1, 0, 1, 0]) == pytest.approx((0.5, 1.0))


def test_perfect_separation_gives_zero_error():
    scores, labels = [0.1, 0.2, 0.35, 0.4, 0.9], [0, 0, 1, 1, 1]
    assert compute_eer(scores, labels) == pytest.approx((0.0, 0.35))
    assert compute_eer_interpolated(scores, labels)[0] == pytest.approx(0.0)
    assert compute_min_dcf(scores, labels) == pytest.approx((0.0, 0.35))


def test_reversed_scores_give_full_error():
    scores, labels = [0.1, 0.2, 0.35, 0.4, 0.9], [1, 1, 0, 0, 0]
    assert compute_eer(scores, labels)[0] == pytest.approx(1.0)
    assert compute_eer_interpolated(scores, labels)[0] == pytest.approx(1.0)


def test_eer_at_a_point_of_the_curve():
    # T 6, N 5, T 4, N 3, N 2, T 1 -> (fpr, fnr): inf (0, 1), 6 (0, 2/3), 5 (1/3, 2/3),
    # 4 (1/3, 1/3), ...: fnr == fpr == 1/3 at t = 4, for both rules.
    scores, labels = [6, 5, 4, 3, 2, 1], [1, 0, 1, 0, 0, 1]
    assert compute_eer(scores, labels) == pytest.approx((1 / 3, 4))
    assert compute_eer_interpolated(scores, labels) == pytest.approx((1 / 3, 4))


def test_eer_inside_a_segment():
    # T 3, (T 2, N 2 tied), N 1 -> inf (0, 1), 3 (0, 1/2), 2 (1/2, 0), 1 (1, 0).
    # fnr - fpr: 1, 1/2, -1/2, -1. The diagonal segment (0, 1/2) -> (1/2, 0) crosses fnr == fpr
    # at 1/4. Nearest rule: t = 3 and t = 2 are equally near; the first (t = 3) gives
    # mean(0, 1/2) = 1/4.
    scores, labels = [3, 2, 2, 1], [1, 1, 0, 0]
    assert compute_eer_interpolated(scores, labels)[0] == pytest.approx(0.25)
    assert compute_eer(scores, labels) == pytest.approx((0.25, 3))


# ---------------------------------------------------------------------------------------------
# Independent brute-force implementation


def brute_force_curve(scores, labels):
    """Loop over candidate thresholds: +inf and every distinct score, descending."""
    scores, labels = np.asarray(scores, float), np.asarray(labels)
    points = []
    for threshold in [np.inf] + sorted(set(scores.tolist()), reverse=True):
        false_alarms = sum(1 for s, y in zip(scores, labels) if y == 0 and s >= threshold)
        misses = sum(1 for s, y in zip(scores, labels) if y == 1 and s < threshold)
        points.append((false_alarms / np.sum(labels == 0), misses / np.sum(labels == 1),
                       threshold))
    return points


def brute_force_interpolated_eer(points):
    """Walk the segments until fnr - fpr changes sign; intersect the segment with fnr == fpr."""
    for (fpr0, fnr0, _), (fpr1, fnr1, _) in zip(points, points[1:]):
        if fnr1 - fpr1 <= 0:
            # Solve fnr0 + a (fnr1 - fnr0) == fpr0 + a (fpr1 - fpr0) for a.
            a = (fnr0 - fpr0) / ((fnr0 - fpr0) - (fnr1 - fpr1))
            return fpr0 + a * (fpr1 - fpr0)
    raise AssertionError('the curve must end at fnr 0, fpr 1')


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_against_brute_force(seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, 300)
    # Rounded scores: many ties, some between a target and a non-target.
    scores = np.round(rng.normal(size=300) + 1.2 * labels, 1)
    points = brute_force_curve(scores, labels)
    fpr, fnr, thresholds = det_curve(scores, labels)
    np.testing.assert_allclose(fpr, [p[0] for p in points], rtol=0, atol=1e-12)
    np.testing.assert_allclose(fnr, [p[1] for p in points], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(thresholds, [p[2] for p in points])

    best = min(points, key=lambda p: abs(p[1] - p[0]))  # min() keeps the first on a tie
    assert compute_eer(scores, labels) == pytest.approx(((best[0] + best[1]) / 2, best[2]))
    assert compute_eer_interpolated(scores, labels)[0] == pytest.approx(
        brute_force_interpolated_eer(points), abs=1e-12)
    for p_target, c_miss, c_fa in [(0.01, 1, 1), (0.05, 1, 1), (0.5, 1, 10)]:
        costs = [c_miss * p_target * fnr_ + c_fa * (1 - p_target) * fpr_
                 for fpr_, fnr_, _ in points]
        index = int(np.argmin(costs))
        expected = costs[index] / min(c_miss * p_target, c_fa * (1 - p_target))
        assert compute_min_dcf(scores, labels, p_target, c_miss, c_fa) == pytest.approx(
            (expected, points[index][2]), abs=1e-12)


def test_against_scikit_learn_roc_curve():
    metrics = pytest.importorskip('sklearn.metrics')
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, 200_000)
    scores = np.round(rng.normal(size=labels.size) + labels, 3)  # ~7,000 distinct values
    fpr, fnr, thresholds = det_curve(scores, labels)
    ref_fpr, ref_tpr, ref_thresholds = metrics.roc_curve(labels, scores, drop_intermediate=False)
    np.testing.assert_allclose(fpr, ref_fpr, rtol=0, atol=1e-12)
    np.testing.assert_allclose(fnr, 1 - ref_tpr, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(thresholds, ref_thresholds)


# ---------------------------------------------------------------------------------------------
# Invariances and input forms


def test_invariant_to_monotone_transform_and_order():
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 2, 1000)
    scores = rng.normal(size=1000) + labels
    transformed = np.exp(2 * scores) + 5  # strictly increasing
    permutation = rng.permutation(1000)
    for other_scores, other_labels in [(transformed, labels),
                                       (scores[permutation], labels[permutation])]:
        assert compute_eer(other_scores, other_labels)[0] == pytest.approx(
            compute_eer(scores, labels)[0], abs=1e-12)
        assert compute_eer_interpolated(other_scores, other_labels)[0] == pytest.approx(
            compute_eer_interpolated(scores, labels)[0], abs=1e-12)
        assert compute_min_dcf(other_scores, other_labels)[0] == pytest.approx(
            compute_min_dcf(scores, labels)[0], abs=1e-12)
    # The threshold maps through the transform.
    assert compute_eer(transformed, labels)[1] == pytest.approx(
        np.exp(2 * compute_eer(scores, labels)[1]) + 5)


def test_accepts_lists_bools_and_float_labels():
    expected = compute_eer(HAND_SCORES, HAND_LABELS)
    assert compute_eer(tuple(HAND_SCORES), np.array(HAND_LABELS, dtype=bool)) == expected
    assert compute_eer(np.float32(HAND_SCORES), np.array(HAND_LABELS, dtype=float)) \
        == pytest.approx(expected)


# ---------------------------------------------------------------------------------------------
# Errors


@pytest.mark.parametrize('scores, labels, message', [
    ([], [], 'empty'),
    ([0.1, 0.2, 0.3], [0, 1], '3 trial scores but 2 labels'),
    ([0.1, 0.2, 0.3], [0, 1, 2], 'labels must be 1'),
    ([0.1, 0.2], [0, -1], 'labels must be 1'),
    ([0.1, 0.2], [0.5, 1], 'labels must be 1'),
    ([0.1, 0.2], ['no', 'yes'], 'labels must be 1'),
    ([0.1, 0.2, 0.3], [1, 1, 1], 'all 3 trials are target'),
    ([0.1, 0.2, 0.3], [0, 0, 0], 'all 3 trials are non-target'),
    ([0.1, np.nan, 0.3], [0, 1, 1], 'nan'),
    ([0.1, np.inf, 0.3], [0, 1, 1], 'finite'),
    ([[0.1, 0.2]], [[0, 1]], '1-D'),
    (['a', 'b'], [0, 1], 'real numbers'),
])
def test_bad_input_raises_data_error(scores, labels, message):
    for metric in (compute_eer, compute_eer_interpolated, compute_min_dcf, det_curve):
        with pytest.raises(DataError, match=message) as caught:
            metric(scores, labels)
        assert '\n' not in str(caught.value)


@pytest.mark.parametrize('kwargs', [dict(p_target=0.0), dict(p_target=1.0),
                                    dict(c_miss=0.0), dict(c_fa=-1.0)])
def test_bad_min_dcf_parameters_raise_config_error(kwargs):
    with pytest.raises(ConfigError):
        compute_min_dcf(HAND_SCORES, HAND_LABELS, **kwargs)
