"""PIT negative SI-SDR against asteroid (the parity bundle), torchmetrics / asteroid values
(tests/data/metrics.npz) and the numpy SI-SDR of src.metrics; permutation invariance; the
Hungarian path against exhaustive search; the loss cell in a graph-mode training step."""
import itertools
import os

import numpy as np
import pytest

import mindspore as ms

from src.dprnn.loss import (PITNegSiSdr, SeparationLossNet, best_permutations, loss_of_permutations,
                            pairwise_neg_sisdr, pit_neg_sisdr, reorder_sources)
from src.dprnn.network import DPRNNTasNet
from src.errors import ConfigError, DataError
from src.metrics.separation import si_sdr
from tests.helpers import raises_one_line

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(ROOT, 'tests', 'data')


@pytest.fixture(scope='module')
def metrics():
    with np.load(os.path.join(DATA, 'metrics.npz')) as z:
        return {k[len('sep.'):]: z[k] for k in z.files if k.startswith('sep.')}


def tensor(array):
    return ms.Tensor(np.asarray(array, dtype=np.float32))


def test_pairwise_matrix_is_minus_si_sdr_of_every_pair(metrics):
    # [b, i, j] = -SI-SDR(estimate i, target j); src.metrics.separation in float64 as the reference
    pairwise = pairwise_neg_sisdr(tensor(metrics['est_swapped']), tensor(metrics['ref'])).asnumpy()
    expected = si_sdr(metrics['est_swapped'][:, :, None], metrics['ref'][:, None])
    np.testing.assert_allclose(-pairwise, expected, atol=1e-4)
    assert abs(pairwise[0, 0, 1] - pairwise[0, 1, 0]) > 1.0        # not symmetric: i is the estimate


def test_loss_and_permutation_equal_asteroid_and_torchmetrics(metrics):
    loss, perm = PITNegSiSdr(2)(tensor(metrics['est_swapped']), tensor(metrics['ref']))
    assert float(loss) == pytest.approx(float(metrics['asteroid_pit_neg_sisdr']), abs=1e-4)
    assert float(loss) == pytest.approx(-metrics['tm_pit_si_snr'].mean(), abs=1e-4)
    np.testing.assert_array_equal(perm.asnumpy(), metrics['tm_pit_perm'])


def test_loss_and_reordered_estimates_equal_the_dprnn_bundle():
    with np.load(os.path.join(DATA, 'dprnn_tasnet.npz')) as z:
        est, targets = z['__out__.est_sources'], z['__in__.targets']
        loss, reordered = float(z['__out__.pit_neg_sisdr_loss']), z['__out__.reordered_est']
    ours, perm = PITNegSiSdr(2)(tensor(est), tensor(targets))
    assert float(ours) == pytest.approx(loss, abs=1e-4)                 # dB
    np.testing.assert_array_equal(reorder_sources(tensor(est), perm).asnumpy(), reordered)
    host_loss, host_reordered = pit_neg_sisdr(tensor(est), tensor(targets), return_est=True)
    assert float(host_loss) == pytest.approx(loss, abs=1e-4)
    np.testing.assert_array_equal(host_reordered.asnumpy(), reordered)


def signals(batch, n_src, samples=400, seed=0):
    """Targets and estimates that are noisy copies of them in a shuffled order."""
    rng = np.random.default_rng(seed)
    targets = rng.standard_normal((batch, n_src, samples)).astype(np.float32)
    order = np.stack([rng.permutation(n_src) for _ in range(batch)])
    est = np.take_along_axis(targets, order[:, :, None], 1)
    est = est + rng.uniform(0.3, 1.0, (batch, n_src, 1)) * rng.standard_normal(est.shape)
    return est.astype(np.float32), targets, order


@pytest.mark.parametrize('n_src', [2, 3])
def test_every_permutation_of_targets_and_estimates_gives_the_same_loss(n_src):
    est, targets, _ = signals(2, n_src)
    pit = PITNegSiSdr(n_src)
    reference = float(pit(tensor(est), tensor(targets))[0])
    for perm in itertools.permutations(range(n_src)):
        perm = list(perm)
        assert float(pit(tensor(est[:, perm]), tensor(targets))[0]) == pytest.approx(reference, abs=1e-4)
        assert float(pit(tensor(est), tensor(targets[:, perm]))[0]) == pytest.approx(reference, abs=1e-4)
    # without the search the order matters
    identity = loss_of_permutations(pairwise_neg_sisdr(tensor(est), tensor(targets)),
                                    ms.Tensor(np.tile(np.arange(n_src, dtype=np.int32), (2, 1))))
    assert float(identity) > reference + 1.0


def test_the_search_finds_the_shuffled_order():
    est, targets, order = signals(3, 3, seed=1)
    _, perm = PITNegSiSdr(3)(tensor(est), tensor(targets))
    # est[:, i] is a noisy targets[:, order[i]], so target j's estimate is the i with order[i] == j
    np.testing.assert_array_equal(perm.asnumpy(), np.argsort(order, axis=1))


def test_hungarian_for_four_sources_agrees_with_exhaustive_search():
    rng = np.random.default_rng(5)
    pairwise = rng.standard_normal((6, 4, 4))
    perms = best_permutations(pairwise)                                  # Hungarian (n_src > 3)
    for b in range(6):
        losses = {p: np.mean([pairwise[b, p[i], i] for i in range(4)])
                  for p in itertools.permutations(range(4))}
        assert np.mean([pairwise[b, perms[b, i], i] for i in range(4)]) == pytest.approx(min(losses.values()))
        assert tuple(perms[b]) == min(losses, key=losses.get)           # no ties in random data
    # and on signals: the in-graph exhaustive search and the host Hungarian path
    est, targets, order = signals(2, 4, seed=2)
    graph_loss, graph_perm = PITNegSiSdr(4)(tensor(est), tensor(targets))
    host_loss, reordered = pit_neg_sisdr(tensor(est), tensor(targets), return_est=True)
    assert float(host_loss) == pytest.approx(float(graph_loss), abs=1e-5)
    np.testing.assert_array_equal(graph_perm.asnumpy(), np.argsort(order, axis=1))
    np.testing.assert_array_equal(reordered.asnumpy(), np.take_along_axis(est, np.argsort(order, 1)[:, :, None], 1))


def test_four_source_bundle_reordered_as_asteroid():
    with np.load(os.path.join(DATA, 'dprnn_4src.npz')) as z:      # asteroid's Hungarian path
        est, targets = z['__out__.est_sources'], z['__in__.targets']
        loss, reordered = float(z['__out__.pit_neg_sisdr_loss']), z['__out__.reordered_est']
    ours, ours_reordered = pit_neg_sisdr(tensor(est), tensor(targets), return_est=True)
    assert float(ours) == pytest.approx(loss, abs=1e-4)
    np.testing.assert_array_equal(ours_reordered.asnumpy(), reordered)


def tiny_network(n_src=2):
    ms.set_seed(0)
    return DPRNNTasNet(n_src=n_src, n_filters=8, kernel_size=4, stride=2, bn_chan=6, hid_size=4,
                       chunk_size=6, n_repeats=1)


def test_loss_cell_with_and_without_a_given_permutation():
    rng = np.random.default_rng(6)
    mixture = rng.standard_normal((2, 60)).astype(np.float32)
    sources = rng.standard_normal((2, 2, 60)).astype(np.float32)
    loss_net = SeparationLossNet(tiny_network(), with_aux=True)
    loss, aux = loss_net(ms.Tensor(mixture), ms.Tensor(sources))
    assert float(aux['si_sdr']) == -float(loss)
    perm = loss_net.best_permutation(mixture, sources)
    assert perm.shape == (2, 2) and perm.dtype == np.int32
    given, _ = loss_net(ms.Tensor(mixture), ms.Tensor(sources), ms.Tensor(perm))
    assert float(given) == pytest.approx(float(loss), abs=1e-6)
    worse, _ = loss_net(ms.Tensor(mixture), ms.Tensor(sources), ms.Tensor(perm[:, ::-1].copy()))
    assert float(worse) > float(loss)


def test_graph_mode_training_step_reaches_every_parameter():
    rng = np.random.default_rng(7)
    mixture = ms.Tensor(rng.standard_normal((2, 64)).astype(np.float32))
    sources = ms.Tensor(rng.standard_normal((2, 3, 64)).astype(np.float32))
    loss_net = SeparationLossNet(tiny_network(n_src=3))
    weights = loss_net.trainable_params()
    expected = float(loss_net(mixture, sources))
    ms.set_context(mode=ms.GRAPH_MODE)
    try:
        loss, grads = ms.value_and_grad(loss_net, None, weights)(mixture, sources)
    finally:
        ms.set_context(mode=ms.PYNATIVE_MODE)
    assert float(loss) == pytest.approx(expected, abs=1e-4)
    for weight, grad in zip(weights, grads):
        grad = grad.asnumpy()
        assert np.all(np.isfinite(grad)) and np.abs(grad).max() > 0, weight.name


def test_bad_inputs():
    raises_one_line(ConfigError, lambda: PITNegSiSdr(9), '1 to 8 sources', 'best_permutations')
    est = ms.Tensor(np.zeros((1, 2, 10), np.float32))
    raises_one_line(DataError, lambda: pit_neg_sisdr(est, ms.Tensor(np.zeros((1, 3, 10), np.float32))),
                    '(1, 2, 10) and (1, 3, 10)')
