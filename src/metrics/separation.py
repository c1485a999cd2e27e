"""Speech separation: scale-invariant SDR, its permutation-invariant form and improvement over
the mixture, and BSS-eval SDR / SIR / SAR.

Every function works on one mixture, in numpy float64: ``estimates`` and ``references`` are
(n_src, T) arrays, source j of the references being ``references[j]``. A permutation ``perm``
assigns an estimate to each source: ``perm[j]`` is the index of the estimate taken for source j.

SI-SDR is asteroid's (``PairwiseNegSDR('sisdr')``, negated): both signals made zero-mean, the
estimate split into its projection on the reference (the target) and the rest (the noise),
``10 log10(|target|^2 / (|noise|^2 + eps) + eps)`` with eps 1e-8; torchmetrics'
``scale_invariant_signal_noise_ratio`` (SI-SNR) is the same number. The eps keep a silent
reference or estimate finite: -80 dB.

BSS-eval is mir_eval's ``bss_eval_sources`` (512-tap distortion filter, the permutation with the
best mean SIR), as the separation literature reports SDR. Measured cost: 0.20 s per 10 s
utterance of 2 sources at 8 kHz (median of 10; mir_eval 0.8.2, numpy 1.26, on the 2-core AMD
EPYC VM of CI), so the 3,000 mixtures of a LibriMix test set take about 10 minutes; SI-SDR and
its PIT take 0.7 ms.

References: Le Roux et al., "SDR - half-baked or well done?", ICASSP 2019 (SI-SDR); Vincent et
al., "Performance measurement in blind audio source separation", IEEE TASLP 2006 (BSS-eval);
Yu et al., "Permutation invariant training of deep models for speaker-independent multi-talker
speech separation", ICASSP 2017 (PIT).
"""
import itertools
import warnings

import numpy as np

from ..errors import DataError

EPS = 1e-8                 # asteroid's: energies and the ratio get it before division and log
EXHAUSTIVE_MAX_SOURCES = 3  # up to this many sources every permutation is tried; above, the
                            # Hungarian algorithm finds the best one in polynomial time


def _as_signals(array, name):
    """``array`` as float64 with a time axis last, or DataError naming it."""
    try:
        array = np.asarray(array, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{name} must be a numeric array ({exc})") from None
    if array.ndim == 0 or array.shape[-1] == 0:
        raise DataError(f"{name} must have a non-empty time axis last, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise DataError(f"{name} contains NaN or inf values")
    return array


def _as_sources(estimates, references):
    """Both as (n_src, T) float64 arrays of the same shape, or DataError."""
    estimates = _as_signals(estimates, 'estimates')
    references = _as_signals(references, 'references')
    if estimates.ndim != 2 or estimates.shape != references.shape:
        raise DataError(f"estimates and references must both be (n_src, T) arrays of one "
                        f"mixture, got {estimates.shape} and {references.shape}")
    return estimates, references


def si_sdr(estimates, references):
    """Scale-invariant SDR in dB along the last axis.

    Args:
        estimates: (..., T) estimated signals.
        references: (..., T) reference signals; the leading axes broadcast against the
            estimates' (e.g. (n_src, 1, T) against (1, n_src, T) for every pair).

    Returns:
        float64 array of the broadcast leading shape (a 0-d array for two (T,) signals).

    Raises:
        DataError: non-numeric or non-finite values, an empty time axis, lengths that differ
            or leading axes that do not broadcast.
    """
    estimates = _as_signals(estimates, 'estimates')
    references = _as_signals(references, 'references')
    if estimates.shape[-1] != references.shape[-1]:
        raise DataError(f"estimates have {estimates.shape[-1]} samples but references "
                        f"{references.shape[-1]}; cut or pad them to one length")
    try:
        np.broadcast_shapes(estimates.shape, references.shape)
    except ValueError:
        raise DataError(f"estimates {estimates.shape} and references {references.shape} do "
                        f"not broadcast") from None
    estimates = estimates - estimates.mean(axis=-1, keepdims=True)
    references = references - references.mean(axis=-1, keepdims=True)
    scale = (np.sum(estimates * references, axis=-1, keepdims=True)
             / (np.sum(references ** 2, axis=-1, keepdims=True) + EPS))
    target = scale * references
    noise = estimates - target
    ratio = np.sum(target ** 2, axis=-1) / (np.sum(noise ** 2, axis=-1) + EPS)
    return 10.0 * np.log10(ratio + EPS)


def _best_assignment(pairwise):
    """The permutation ``perm`` (perm[j] = estimate of source j) with the largest mean of
    ``pairwise[j, perm[j]]``; of equal ones, the first in lexicographic order."""
    n_src = pairwise.shape[0]
    if n_src <= EXHAUSTIVE_MAX_SOURCES:
        sources = np.arange(n_src)
        perms = list(itertools.permutations(range(n_src)))
        means = [pairwise[sources, perm].mean() for perm in perms]
        return np.array(perms[int(np.argmax(means))], dtype=np.int64)
    from scipy.optimize import linear_sum_assignment
    rows, columns = linear_sum_assignment(pairwise, maximize=True)
    return columns[np.argsort(rows)].astype(np.int64)


def pit_si_sdr(estimates, references):
    """SI-SDR of each source under the permutation of estimates with the best mean.

    Args:
        estimates: (n_src, T) estimated sources, in any order.
        references: (n_src, T) reference sources.

    Returns:
        (values, perm): float64 (n_src,) and int64 (n_src,), with ``perm[j]`` the estimate
        assigned to source j and ``values[j] = si_sdr(estimates[perm[j]], references[j])``.

    Raises:
        DataError: shapes that differ or are not (n_src, T), non-finite values.
    """
    estimates, references = _as_sources(estimates, references)
    pairwise = si_sdr(estimates[None, :, :], references[:, None, :])   # [source, estimate]
    perm = _best_assignment(pairwise)
    return pairwise[np.arange(len(perm)), perm], perm


def si_sdri(estimates, references, mixture):
    """SI-SDR improvement of each source over the mixture, under the PIT permutation.

    Args:
        estimates: (n_src, T) estimated sources, in any order.
        references: (n_src, T) reference sources.
        mixture: (T,) the mixture the estimates were separated from.

    Returns:
        float64 (n_src,): ``pit_si_sdr(estimates, references)[0][j]
        - si_sdr(mixture, references[j])``.

    Raises:
        DataError: as :func:`pit_si_sdr`, or a mixture that is not (T,).
    """
    values, _ = pit_si_sdr(estimates, references)
    mixture = _as_signals(mixture, 'mixture')
    if mixture.shape != (np.shape(references)[-1],):
        raise DataError(f"the mixture must be one signal of {np.shape(references)[-1]} samples, "
                        f"got shape {mixture.shape}")
    return values - si_sdr(mixture[None, :], references)


def bss_eval(estimates, references):
    """BSS-eval SDR, SIR and SAR in dB, under the permutation with the best mean SIR:
    ``mir_eval.separation.bss_eval_sources(references, estimates)``.

    Args:
        estimates: (n_src, T) estimated sources, in any order.
        references: (n_src, T) reference sources.

    Returns:
        (sdr, sir, sar, perm): float64 (n_src,) each, ``[j]`` of source j and its estimate
        ``perm[j]`` (int64 (n_src,)).

    Raises:
        DataError: shapes that differ, non-finite values, or a silent (all-zero) reference or
            estimate, for which BSS-eval is undefined.
    """
    import mir_eval.separation
    estimates, references = _as_sources(estimates, references)
    for name, signals in (('reference', references), ('estimate', estimates)):
        silent = np.flatnonzero(~np.any(signals, axis=-1))
        if silent.size:
            raise DataError(f"BSS-eval is undefined for a silent (all-zero) {name}: {name} "
                            f"{int(silent[0])} of {len(signals)}; report SI-SDR for it instead")
    with warnings.catch_warnings():
        # 0.8 deprecates bss_eval_sources in favour of a later API; its numbers are the ones
        # papers report
        warnings.simplefilter('ignore', FutureWarning)
        sdr, sir, sar, perm = mir_eval.separation.bss_eval_sources(references, estimates)
    return sdr, sir, sar, np.asarray(perm, dtype=np.int64)
