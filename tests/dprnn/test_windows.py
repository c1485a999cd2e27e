"""Tests of src.dprnn.windows: windowed separation equals one-shot separation for a separator that
works locally, whatever order it returns its sources in from one window to the next."""
import itertools

import numpy as np
import pytest
from scipy.signal import lfilter

from src.dprnn.windows import match_previous, separate_in_windows, window_starts

# a "separator" that is linear and time-invariant: two fixed filters of the mixture
FILTERS = (np.array([0.5, 0.3, 0.2]), np.array([1.0, -0.9]))


def filters_of(chunk):
    return np.stack([lfilter(f, [1.0], chunk) for f in FILTERS]).astype(np.float32)


class ShufflingSeparator:
    """``filters_of``, with its sources in a new random order at every call."""

    def __init__(self, seed=0):
        self.rng = np.random.default_rng(seed)
        self.calls = 0

    def __call__(self, chunk):
        self.calls += 1
        return filters_of(chunk)[self.rng.permutation(len(FILTERS))]


def test_windows_cover_the_signal_twice_at_half_overlap():
    for total, window in ((1000, 200), (1001, 200), (150, 200), (200, 200)):
        hop = window // 2
        starts = window_starts(total, window, hop)
        assert starts[0] == -(window - hop) and np.all(np.diff(starts) == hop)
        assert starts[-1] + window >= total + window - hop and starts[-1] < total
        coverage = np.zeros(total, int)
        for s in starts:
            coverage[max(s, 0):min(s + window, total)] += 1
        assert coverage.min() >= 2 or total <= hop


@pytest.mark.parametrize('hop', [100, 150, 60])
def test_windowed_equals_one_shot_for_a_local_separator_up_to_one_order(hop):
    rng = np.random.default_rng(1)
    wave = rng.standard_normal(2345).astype(np.float32)
    separator = ShufflingSeparator()
    out = separate_in_windows(separator, wave, window=200, hop=hop)
    assert separator.calls == len(window_starts(len(wave), 200, hop)) > 10
    whole = filters_of(wave)
    # one order for the whole file: either the identity or the swap, everywhere
    errors = [np.abs(out[list(p)] - whole) for p in itertools.permutations(range(2))]
    best = min(errors, key=lambda e: e.max())
    # differences only where a window edge cuts a filter's memory (2 samples), at window weight ~0
    assert np.median(best) < 1e-6 and best.max() < 0.05 * np.abs(whole).max()


def test_windowed_output_has_unit_gain_with_an_identity_separator():
    wave = np.random.default_rng(2).standard_normal(1000).astype(np.float32)
    out = separate_in_windows(lambda chunk: np.stack([chunk, 0.5 * chunk]), wave, window=128)
    np.testing.assert_allclose(out[0], wave, atol=1e-5)
    np.testing.assert_allclose(out[1], 0.5 * wave, atol=1e-5)


def test_matching_follows_the_overlap():
    rng = np.random.default_rng(3)
    previous_tail = rng.standard_normal((3, 50))
    current = np.concatenate([previous_tail[[2, 0, 1]], rng.standard_normal((3, 30))], axis=1)
    np.testing.assert_array_equal(match_previous(current, previous_tail)[:, :50], previous_tail)


def test_bad_hop_is_refused():
    with pytest.raises(ValueError, match='hop'):
        separate_in_windows(filters_of, np.zeros(10, np.float32), window=8, hop=9)
