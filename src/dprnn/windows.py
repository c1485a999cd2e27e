"""Separating a long recording in overlapping windows, with the sources kept in one order.

A separation network's memory grows with the input length (DPRNN's recurrences run over the
whole file), so a long file is cut into windows of ``window`` samples every ``hop`` samples, each
window is separated on its own, and the windows' estimates are overlap-added under a Hann
weighting, divided by the summed weights (so any hop gives unit gain). A separator returns its
sources in no fixed order, and that order can change from one window to the next: before adding
a window, its sources are permuted to match the previous window's where the two overlap (the
permutation with the largest summed correlation of the mean-removed overlaps), as asteroid's
``LambdaOverlapAdd`` does. numpy only: the separator is any callable (window,) -> (n_src, window).
"""
import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.signal import get_window


def window_starts(num_samples, window, hop):
    """Start samples of the windows over a signal of ``num_samples``, relative to the signal;
    the first starts ``window - hop`` before it (so the signal's first sample already has two
    windows' weight when hop = window / 2), the last ends ``window - hop`` or more after its end
    (so do its last samples)."""
    first = -(window - hop)
    count = max(1, -(-(num_samples - first - hop) // hop) + 1)
    return first + hop * np.arange(count)


def match_previous(current, previous_tail):
    """``current`` (n_src, window) with its sources reordered to continue ``previous_tail``
    (n_src, overlap), the previous window's last ``overlap`` samples, which overlap
    ``current[:, :overlap]``."""
    overlap = previous_tail.shape[-1]
    head = current[:, :overlap] - current[:, :overlap].mean(axis=-1, keepdims=True)
    tail = previous_tail - previous_tail.mean(axis=-1, keepdims=True)
    similarity = tail @ head.T                   # [previous source, current source]
    rows, columns = linear_sum_assignment(similarity, maximize=True)
    return current[columns[np.argsort(rows)]]


def separate_in_windows(separate, wave, window, hop=None):
    """Separate ``wave`` (T,) window by window.

    Args:
        separate: ``separate(chunk (window,)) -> (n_src, window)``.
        wave: the whole signal.
        window: samples per window.
        hop: samples between window starts (default ``window // 2``), at most ``window``; the
            overlap ``window - hop`` is what consecutive windows are matched on.

    Returns:
        float32 (n_src, T).
    """
    wave = np.asarray(wave, np.float32)
    hop = window // 2 if hop is None else int(hop)
    if not 0 < hop <= window:
        raise ValueError(f"hop must be in 1 .. window ({window}), got {hop}")
    total = len(wave)
    starts = window_starts(total, window, hop)
    weights = get_window('hann', window).astype(np.float32) if hop < window else np.ones(window, np.float32)
    out, norm, previous = None, np.zeros(total, np.float32), None
    for start in starts:
        lo, hi = max(start, 0), min(start + window, total)
        chunk = np.zeros(window, np.float32)
        chunk[lo - start:hi - start] = wave[lo:hi]
        estimate = np.asarray(separate(chunk), np.float32)
        if out is None:
            out = np.zeros((len(estimate), total), np.float32)
        if previous is not None and hop < window:
            estimate = match_previous(estimate, previous[:, hop:])
        previous = estimate
        out[:, lo:hi] += weights[lo - start:hi - start] * estimate[:, lo - start:hi - start]
        norm[lo:hi] += weights[lo - start:hi - start]
    return out / np.maximum(norm, 1e-8)
