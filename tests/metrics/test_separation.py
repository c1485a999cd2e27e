"""SI-SDR, PIT, SI-SDRi and BSS-eval against torchmetrics / asteroid / mir_eval / fast_bss_eval
reference values (tests/data/metrics.npz) and hand-computed cases."""
import itertools
import os

import numpy as np
import pytest

import src.metrics.separation as separation
from src.errors import DataError
from src.metrics.separation import bss_eval, pit_si_sdr, si_sdr, si_sdri

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
METRICS = os.path.join(ROOT, 'tests', 'data', 'metrics.npz')

# orthogonal, zero-mean signals of energy 4: SI-SDR of s1 + a * s2 against s1 is -20 log10 |a|
S1 = np.array([1.0, -1.0, 1.0, -1.0])
S2 = np.array([1.0, 1.0, -1.0, -1.0])
SIX_DB = 10 * np.log10(4.0)              # a = 0.5


@pytest.fixture(scope='module')
def ref():
    with np.load(METRICS) as z:
        return {k[len('sep.'):]: z[k] for k in z.files if k.startswith('sep.')}


def test_si_sdr_is_torchmetrics_si_snr_and_asteroid_sisdr(ref):
    # (3 mixtures, 2 sources, 8000 samples): the leading axes broadcast
    # torchmetrics adds the machine epsilon where asteroid (and we) add 1e-8: < 1e-7 dB apart
    values = si_sdr(ref['est'], ref['ref'])
    assert values.shape == (3, 2) and values.dtype == np.float64
    np.testing.assert_allclose(values, ref['tm_si_snr'], rtol=0, atol=1e-6)
    np.testing.assert_allclose(values, ref['tm_si_sdr_zero_mean'], rtol=0, atol=1e-6)
    # one pair at a time gives the same numbers
    assert si_sdr(ref['est'][1, 0], ref['ref'][1, 0]) == values[1, 0]


def test_pit_finds_torchmetrics_permutation_and_asteroid_loss(ref):
    means = []
    for mixture in range(3):
        values, perm = pit_si_sdr(ref['est_swapped'][mixture], ref['ref'][mixture])
        np.testing.assert_array_equal(perm, ref['tm_pit_perm'][mixture])
        assert values.mean() == pytest.approx(ref['tm_pit_si_snr'][mixture], abs=1e-6)
        # values[j] is source j's SI-SDR with the estimate perm[j]
        for j in range(2):
            assert values[j] == pytest.approx(
                float(si_sdr(ref['est_swapped'][mixture, perm[j]], ref['ref'][mixture, j])), abs=1e-12)
        means.append(values.mean())
    # asteroid's PITLossWrapper(pairwise_neg_sisdr): minus the mean over sources and batch (float32)
    assert -np.mean(means) == pytest.approx(float(ref['asteroid_pit_neg_sisdr']), rel=1e-6)


def test_bss_eval_is_mir_eval_and_fast_bss_eval(ref):
    # mixture 1 of the swapped estimates: the permutation is (1, 0)
    sdr, sir, sar, perm = bss_eval(ref['est_swapped'][1], ref['ref'][1])
    np.testing.assert_array_equal(perm, ref['mir_perm'])
    for ours, theirs in ((sdr, 'sdr'), (sir, 'sir'), (sar, 'sar')):
        np.testing.assert_allclose(ours, ref[f'mir_{theirs}'], rtol=0, atol=1e-9)
        np.testing.assert_allclose(ours, ref[f'fbe_{theirs}'], rtol=0, atol=1e-8)
    # the same estimates in reference order: the same numbers, the identity permutation
    unswapped = bss_eval(ref['est_swapped'][1][perm], ref['ref'][1])
    np.testing.assert_array_equal(unswapped[3], [0, 1])
    np.testing.assert_allclose(unswapped[0], sdr, rtol=0, atol=1e-9)


def test_hand_computed_si_sdr_and_its_invariances():
    estimate = S1 + 0.5 * S2
    assert si_sdr(estimate, S1) == pytest.approx(SIX_DB, abs=1e-7)
    assert si_sdr(3.0 * estimate + 7.0, S1) == pytest.approx(SIX_DB, abs=1e-7)   # scale, offset
    assert si_sdr(S1 + 0.1 * S2, S1) == pytest.approx(20.0, abs=1e-5)      # eps: -1.1e-6 dB
    # a perfect estimate: eps bounds it, 10 log10(4 / 1e-8)
    assert si_sdr(S1, S1) == pytest.approx(10 * np.log10(4e8), abs=1e-6)


def test_swapped_sources_and_improvement_over_the_mixture():
    references = np.stack([S1, S2])
    estimates = np.stack([S2 + 0.5 * S1, S1 + 0.5 * S2])       # estimate 1 is source 0
    values, perm = pit_si_sdr(estimates, references)
    np.testing.assert_array_equal(perm, [1, 0])
    np.testing.assert_allclose(values, [SIX_DB, SIX_DB], atol=1e-7)
    # the mixture S1 + S2 is at 0 dB against either source
    np.testing.assert_allclose(si_sdri(estimates, references, S1 + S2), [SIX_DB, SIX_DB], atol=1e-7)
    improvement = si_sdri(estimates, references, S1 + 0.5 * S2)       # 6 dB for source 0
    np.testing.assert_allclose(improvement, [0.0, 2 * SIX_DB], atol=1e-6)


def test_silent_source_is_finite():
    references = np.stack([S1, np.zeros(4)])
    estimates = np.stack([S1 + 0.5 * S2, 0.1 * S2])
    values, perm = pit_si_sdr(estimates, references)
    assert np.all(np.isfinite(values))
    np.testing.assert_array_equal(perm, [0, 1])
    assert values[1] == pytest.approx(-80.0, abs=1e-6)        # 10 log10(eps)
    assert np.isfinite(si_sdr(np.zeros(4), np.zeros(4)))
    assert np.all(np.isfinite(si_sdri(estimates, references, S1 + S2)))
    # BSS-eval has no value for it: a one-line error, not mir_eval's ValueError
    rng = np.random.default_rng(0)
    with pytest.raises(DataError, match='silent.*reference 1 of 2'):
        bss_eval(rng.standard_normal((2, 1000)), np.stack([rng.standard_normal(1000), np.zeros(1000)]))
    with pytest.raises(DataError, match='silent.*estimate 0 of 2'):
        bss_eval(np.stack([np.zeros(1000), rng.standard_normal(1000)]), rng.standard_normal((2, 1000)))


@pytest.mark.parametrize('n_src', [2, 3, 4, 5])
def test_permutation_is_the_best_of_all(n_src, monkeypatch):
    # up to 3 sources every permutation is tried, above the Hungarian algorithm: both must find
    # the permutation that an exhaustive search finds
    rng = np.random.default_rng(n_src)
    references = rng.standard_normal((n_src, 400))
    order = np.roll(np.arange(n_src), 1)       # a cycle: perm and its inverse differ from 3 on
    estimates = references[order] + 0.8 * rng.standard_normal((n_src, 400))
    best = max(itertools.permutations(range(n_src)),
               key=lambda p: np.mean([si_sdr(estimates[p[j]], references[j]) for j in range(n_src)]))
    values, perm = pit_si_sdr(estimates, references)
    np.testing.assert_array_equal(perm, best)
    np.testing.assert_array_equal(estimates[perm], estimates[np.argsort(order)])
    monkeypatch.setattr(separation, 'EXHAUSTIVE_MAX_SOURCES', 0)       # the Hungarian path
    np.testing.assert_array_equal(pit_si_sdr(estimates, references)[1], best)


def test_bad_shapes_are_one_line_errors():
    with pytest.raises(DataError, match='8 samples but references 4'):
        si_sdr(np.zeros(8), np.zeros(4))
    with pytest.raises(DataError, match='do not broadcast'):
        si_sdr(np.zeros((3, 4)), np.zeros((2, 4)))
    with pytest.raises(DataError, match=r'\(n_src, T\)'):
        pit_si_sdr(np.zeros((2, 4)), np.zeros((3, 4)))
    with pytest.raises(DataError, match='NaN'):
        pit_si_sdr(np.full((2, 4), np.nan), np.zeros((2, 4)))
    with pytest.raises(DataError, match='mixture must be one signal of 4 samples'):
        si_sdri(np.stack([S1, S2]), np.stack([S1, S2]), np.zeros(5))
