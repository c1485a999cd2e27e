"""Permutation-invariant negative SI-SDR: asteroid's ``PITLossWrapper(pairwise_neg_sisdr,
pit_from='pw_mtx')``.

The pairwise matrix ``pw[b, i, j]`` is minus the SI-SDR of estimate i against target j (both
made zero-mean, eps 1e-8, as asteroid's ``PairwiseNegSDR('sisdr')``). A permutation ``perm``
gives target i the estimate ``perm[i]``; its loss is the mean over sources of
``pw[b, perm[i], i]``; the loss of a batch is the mean over the batch of each example's best
(smallest) permutation loss, and ``reordered[:, i] = est[:, perm[i]]`` as asteroid's
``return_est=True``.

How the best permutation is found:

* **In the graph, every permutation** (:class:`PITNegSiSdr`): the permutation losses of all
  n! permutations are one product of the flattened (B, n*n) pairwise matrix with a constant
  (n*n, n!) 0/1 matrix; the first smallest is taken (``argmin``, then a gather, so that the
  gradient flows into the chosen permutation only, as ``torch.min``'s). asteroid does this for
  n_src <= 3; here it is also the fallback above 3 (up to :data:`MAX_GRAPH_SOURCES`, 40,320
  permutations), which finds the same minimum as the Hungarian algorithm.
* **On the host, the Hungarian algorithm** (:func:`best_permutations`): asteroid's choice above
  3 sources (``scipy.optimize.linear_sum_assignment`` per example). A graph cannot call scipy, so
  the permutation is computed outside it and passed in: :meth:`SeparationLossNet.best_permutation`
  runs the network (no gradient) and the assignment, then the training step gets the
  permutation as one more batch input, ``loss_net(mixture, sources, perm)``, at the cost of one
  extra forward pass per step. In PyNative mode :func:`pit_neg_sisdr` does it in one call.

References: Yu et al., "Permutation invariant training of deep models for speaker-independent
multi-talker speech separation", ICASSP 2017; Le Roux et al., "SDR - half-baked or well done?",
ICASSP 2019; asteroid ``asteroid/losses/pit_wrapper.py``, ``asteroid/losses/sdr.py``.
"""
import itertools
import math

import numpy as np

import mindspore as ms
from mindspore import nn, ops

from src.errors import ConfigError, DataError

EPS = 1e-8                  # asteroid's PairwiseNegSDR EPS: energies and the ratio get it
EXHAUSTIVE_MAX_SOURCES = 3  # asteroid's threshold: up to this many, every permutation; above, Hungarian
MAX_GRAPH_SOURCES = 8       # the in-graph search's limit: 8! = 40,320 permutations, a 2.6 M-entry matrix
_LOG10_SCALE = 10.0 / math.log(10.0)


def pairwise_neg_sisdr(est_targets, targets):
    """Minus the SI-SDR in dB of every (estimate, target) pair, as asteroid's
    ``pairwise_neg_sisdr``.

    Args:
        est_targets: (B, n_src, T) estimated sources.
        targets: (B, n_src, T) reference sources.

    Returns:
        (B, n_src, n_src): ``[b, i, j]`` = -SI-SDR(estimate i, target j).
    """
    targets = targets - targets.mean(axis=2, keep_dims=True)
    est_targets = est_targets - est_targets.mean(axis=2, keep_dims=True)
    s_target = targets.expand_dims(1)                                       # (B, 1, n, T)
    s_estimate = est_targets.expand_dims(2)                                 # (B, n, 1, T)
    pair_wise_dot = (s_estimate * s_target).sum(axis=3, keepdims=True)      # (B, n, n, 1)
    target_energy = (s_target * s_target).sum(axis=3, keepdims=True) + EPS  # (B, 1, n, 1)
    projection = pair_wise_dot * s_target / target_energy                   # (B, n, n, T)
    noise = s_estimate - projection
    ratio = (projection * projection).sum(axis=3) / ((noise * noise).sum(axis=3) + EPS)
    return -_LOG10_SCALE * ops.log(ratio + EPS)


def permutations(n_src):
    """Every permutation of ``range(n_src)`` in lexicographic order, (n_src!, n_src) int32."""
    return np.array(list(itertools.permutations(range(n_src))), dtype=np.int32).reshape(-1, n_src)


def permutation_selectors(n_src):
    """(n_src * n_src, n_src!) float32: column p has a 1 at ``target * n_src + perm_p[target]``,
    so ``pwl.reshape(B, n*n) @ selectors`` sums, for each permutation, the target-major pairwise
    losses ``pwl[b, target, estimate]`` it picks."""
    perms = permutations(n_src)
    selectors = np.zeros((n_src * n_src, len(perms)), np.float32)
    for p, perm in enumerate(perms):
        selectors[np.arange(n_src) * n_src + perm, p] = 1.0
    return selectors


def best_permutations(pairwise):
    """The best permutation of each example, on the host: every permutation up to 3 sources,
    the Hungarian algorithm above (asteroid's ``find_best_perm``).

    Args:
        pairwise: (B, n_src, n_src) numpy array, ``[b, estimate, target]`` losses
            (:func:`pairwise_neg_sisdr`).

    Returns:
        (B, n_src) int32: ``perm[b, i]`` is the estimate given to target i. Of equal
        permutations the exhaustive search takes the first in lexicographic order.
    """
    pwl = np.swapaxes(np.asarray(pairwise, dtype=np.float64), 1, 2)       # [b, target, estimate]
    batch, n_src = pwl.shape[0], pwl.shape[1]
    if n_src <= EXHAUSTIVE_MAX_SOURCES:
        perms = permutations(n_src)
        losses = pwl[:, np.arange(n_src), perms].mean(axis=2)                 # (B, P)
        return perms[np.argmin(losses, axis=1)]
    from scipy.optimize import linear_sum_assignment
    return np.stack([linear_sum_assignment(pwl[b])[1] for b in range(batch)]).astype(np.int32)


def loss_of_permutations(pairwise, perm):
    """Mean over the batch and the sources of ``pairwise[b, perm[b, i], i]``.

    Args:
        pairwise: (B, n_src, n_src) tensor, ``[b, estimate, target]``.
        perm: (B, n_src) int32 tensor, the estimate of each target.
    """
    pwl = ops.transpose(pairwise, (0, 2, 1))                                # [b, target, estimate]
    return ops.gather_elements(pwl, 2, perm.expand_dims(2)).mean()


def reorder_sources(sources, perm):
    """``sources[b, perm[b, i]]`` for every b and i: (B, n_src, T), as asteroid's
    ``reorder_source``."""
    index = ops.broadcast_to(perm.expand_dims(2), sources.shape)
    return ops.gather_elements(sources, 1, index)


class PITNegSiSdr(nn.Cell):
    """PIT negative SI-SDR with the best permutation searched in the graph (see the module doc).

    Args:
        n_src: sources, at most :data:`MAX_GRAPH_SOURCES`.

    Inputs: est_targets, targets (B, n_src, T).
    Outputs: (loss, perm): the scalar mean over the batch of the best permutation loss, and the
    best permutations (B, n_src) int32 (``perm[b, i]`` the estimate of target i).
    """

    def __init__(self, n_src):
        super().__init__()
        if not 1 <= n_src <= MAX_GRAPH_SOURCES:
            raise ConfigError(f"PIT in the graph supports 1 to {MAX_GRAPH_SOURCES} sources, got "
                              f"{n_src}; pass the permutations (best_permutations) instead")
        self.n_src = n_src
        self.selectors = ms.Tensor(permutation_selectors(n_src) / n_src)
        self.perms = ms.Tensor(permutations(n_src))

    def construct(self, est_targets, targets):
        pairwise = pairwise_neg_sisdr(est_targets, targets)
        pwl = ops.transpose(pairwise, (0, 2, 1)).reshape(-1, self.n_src * self.n_src)
        perm_losses = ops.matmul(pwl, self.selectors)                          # (B, n!)
        best = ops.argmin(perm_losses, 1)                                       # first smallest
        min_loss = ops.gather_elements(perm_losses, 1, best.expand_dims(1))
        return min_loss.mean(), ops.gather(self.perms, best, 0)


def _check_sources(est_targets, targets):
    if est_targets.ndim != 3 or tuple(est_targets.shape) != tuple(targets.shape):
        raise DataError(f"PIT loss: estimates and targets must both be (batch, n_src, time), got "
                        f"{tuple(est_targets.shape)} and {tuple(targets.shape)}")


def pit_neg_sisdr(est_targets, targets, return_est=False):
    """asteroid's ``PITLossWrapper(pairwise_neg_sisdr, pit_from='pw_mtx')(est, targets,
    return_est)`` outside a graph (PyNative), for any number of sources: every permutation up
    to 3 sources, the Hungarian algorithm above, on the host.

    Args:
        est_targets, targets: (B, n_src, T) tensors.
        return_est: also return the estimates in the best order.

    Returns:
        The scalar loss tensor, or ``(loss, reordered (B, n_src, T))``.

    Raises:
        DataError: shapes that differ or are not (B, n_src, T).
    """
    _check_sources(est_targets, targets)
    pairwise = pairwise_neg_sisdr(est_targets, targets)
    perm = ms.Tensor(best_permutations(pairwise.asnumpy()))
    loss = loss_of_permutations(pairwise, perm)
    if not return_est:
        return loss
    return loss, reorder_sources(est_targets, perm)


class SeparationLossNet(nn.Cell):
    """Mixture -> separated sources (the network) -> PIT negative SI-SDR against the sources.

    Args:
        network: the separation network (mixture (B, T) -> (B, n_src, T), with an ``n_src``
            attribute); held as ``network`` so that checkpoint names start with ``network.``.
        with_aux: return ``(loss, {'si_sdr': -loss})`` for the trainer's log.

    Inputs:
        mixture: float32 (B, T).
        sources: float32 (B, n_src, T).
        perm: optional int32 (B, n_src), the estimate of each source
            (:meth:`best_permutation`); without it every permutation is searched in the graph.

    Returns:
        The scalar loss (mean over the batch of minus the SI-SDR under the best permutation,
        dB), or ``(loss, aux)``.
    """

    def __init__(self, network, with_aux=False):
        super().__init__()
        self.network = network
        self.n_src = network.n_src
        self.with_aux = with_aux
        self.pit = PITNegSiSdr(self.n_src) if self.n_src <= MAX_GRAPH_SOURCES else None

    def construct(self, mixture, sources, perm=None):
        est = self.network(mixture)
        if perm is None:
            loss, _ = self.pit(est, sources)
        else:
            loss = loss_of_permutations(pairwise_neg_sisdr(est, sources), perm)
        if self.with_aux:
            return loss, {'si_sdr': -loss}
        return loss

    def best_permutation(self, mixture, sources):
        """The best permutations for a batch, on the host (every permutation up to 3 sources, the
        Hungarian algorithm above): one forward pass of the network, no gradient. Returns
        (B, n_src) int32 numpy, the ``perm`` input of the training step."""
        est = ops.stop_gradient(self.network(ms.Tensor(mixture)))
        return best_permutations(pairwise_neg_sisdr(est, ms.Tensor(sources)).asnumpy())
