"""Speaker verification: trial scores (cosine scoring, AS-norm) and their error rates (DET
curve, equal error rate (EER), minimum DCF).

Scores: cosine similarity of the enrollment and test embeddings, optionally normalised by
adaptive symmetric score normalisation (AS-norm) against an impostor cohort.

Error rates: a trial is a score and a label (1 = target, same speaker; 0 = non-target). A
system accepts a trial when ``score >= threshold``. Sweeping the threshold over every distinct
score value, from ``+inf`` (accept nothing) down to the lowest score (accept everything), gives
the full DET curve: one operating point per distinct score, tied scores accepted together, as
scikit-learn's ``roc_curve(drop_intermediate=False)`` does. All error rates here are read off
that full curve.

References: NIST SRE evaluation plan (DCF and its normalisation); Martin et al., "The DET curve
in assessment of detection task performance", Eurospeech 1997; Matejka et al., "Analysis of
score normalization in multilingual speaker recognition", Interspeech 2017 (AS-norm, S-norm
variant).
"""
import numpy as np

from ..errors import ConfigError, DataError


def _check_trials(scores, labels):
    """Validate and convert trial scores and labels.

    Args:
        scores: array-like of shape (n,), real, finite.
        labels: array-like of shape (n,), values in {0, 1} (bool accepted).

    Returns:
        (scores float64 (n,), is_target bool (n,)).

    Raises:
        DataError: empty, not 1-D, different lengths, non-finite scores, labels outside {0, 1},
            or only one class present (the error rates need both).
    """
    try:
        scores = np.asarray(scores, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"trial scores must be real numbers ({exc})") from None
    labels = np.asarray(labels)
    if scores.ndim != 1 or labels.ndim != 1:
        raise DataError(f"trial scores and labels must be 1-D, got shapes {scores.shape} and "
                        f"{labels.shape}; flatten them first")
    if scores.size == 0:
        raise DataError("no trials: scores and labels are empty")
    if scores.size != labels.size:
        raise DataError(f"{scores.size} trial scores but {labels.size} labels; "
                        f"give one label per score")
    if not np.all(np.isfinite(scores)):
        bad = int(np.flatnonzero(~np.isfinite(scores))[0])
        raise DataError(f"trial score {bad} is {scores[bad]}; scores must be finite "
                        f"(NaN usually means a zero or corrupt embedding)")
    if labels.dtype == bool:
        is_target = labels
    else:
        try:
            valid = (labels == 0) | (labels == 1)
        except (TypeError, ValueError):
            valid = False
        valid = np.broadcast_to(valid, labels.shape)
        if not np.all(valid):
            bad = int(np.flatnonzero(~valid)[0])
            raise DataError(f"trial label {bad} is {labels[bad]!r}; labels must be 1 (target) "
                            f"or 0 (non-target)")
        is_target = labels == 1
    n_target = int(np.count_nonzero(is_target))
    if n_target == 0 or n_target == scores.size:
        kind = "non-target" if n_target == 0 else "target"
        raise DataError(f"all {scores.size} trials are {kind} trials; error rates need both "
                        f"target (1) and non-target (0) trials")
    return scores, is_target


def det_curve(scores, labels):
    """Full DET curve: false-alarm and miss rates at every distinct score threshold.

    Point ``i`` accepts the trials with ``score >= thresholds[i]``. Point 0 has threshold
    ``+inf`` (nothing accepted: fpr 0, fnr 1); the last has the lowest score (everything
    accepted: fpr 1, fnr 0). Thresholds decrease, fpr never decreases, fnr never increases.

    Args:
        scores: array-like (n,), higher = more likely the same speaker.
        labels: array-like (n,), 1 = target, 0 = non-target.

    Returns:
        fpr: float64 (k + 1,), false-alarm rate (non-targets accepted / non-targets).
        fnr: float64 (k + 1,), miss rate (targets rejected / targets).
        thresholds: float64 (k + 1,), ``inf`` then the k distinct scores, descending.

    Raises:
        DataError: see the input rules of :func:`compute_eer`.
    """
    scores, is_target = _check_trials(scores, labels)
    order = np.argsort(scores)[::-1]
    sorted_scores = scores[order]
    # The last trial of each run of equal scores: accepting down to that score accepts the run.
    run_ends = np.flatnonzero(np.diff(sorted_scores) != 0)
    run_ends = np.append(run_ends, sorted_scores.size - 1)
    targets_accepted = np.cumsum(is_target[order], dtype=np.int64)[run_ends]
    nontargets_accepted = run_ends + 1 - targets_accepted
    n_target = targets_accepted[-1]
    n_nontarget = nontargets_accepted[-1]
    fpr = np.concatenate(([0.0], nontargets_accepted / n_nontarget))
    fnr = np.concatenate(([1.0], (n_target - targets_accepted) / n_target))
    thresholds = np.concatenate(([np.inf], sorted_scores[run_ends]))
    return fpr, fnr, thresholds


def nearest_point_eer(fpr, fnr):
    """EER by the nearest-point rule on a given DET curve.

    The operating point where ``|fnr - fpr|`` is smallest (the first one on a tie); the EER is
    the mean of its two rates (exact when the curve has a point with fnr == fpr).

    Args:
        fpr: (k,) false-alarm rates along the curve.
        fnr: (k,) miss rates along the curve.

    Returns:
        (eer, index): the EER and the index of the chosen point.
    """
    fpr = np.asarray(fpr, dtype=np.float64)
    fnr = np.asarray(fnr, dtype=np.float64)
    index = int(np.argmin(np.abs(fnr - fpr)))
    return float((fpr[index] + fnr[index]) / 2), index


def compute_eer(scores, labels):
    """Equal error rate by the nearest-point rule on the full DET curve.

    Args:
        scores: array-like (n,), finite; higher = more likely the same speaker.
        labels: array-like (n,), 1 = target, 0 = non-target; both classes present.

    Returns:
        (eer, threshold): EER in [0, 1] (a fraction, not a percentage) and the threshold of the
        chosen operating point (accept ``score >= threshold``).

    Raises:
        DataError: empty input, different lengths, not 1-D, NaN/inf scores, labels outside
            {0, 1}, or only one class.
    """
    fpr, fnr, thresholds = det_curve(scores, labels)
    eer, index = nearest_point_eer(fpr, fnr)
    return eer, float(thresholds[index])


def compute_eer_interpolated(scores, labels):
    """Equal error rate where the linearly interpolated DET curve crosses fnr == fpr.

    The DET curve joined by straight segments crosses the diagonal exactly once (fnr - fpr
    never increases along it); this is the root a brentq search on the interpolated ROC finds.

    Args:
        scores: array-like (n,), as in :func:`compute_eer`.
        labels: array-like (n,), as in :func:`compute_eer`.

    Returns:
        (eer, threshold): EER in [0, 1] and the threshold of the curve point nearer the crossing.

    Raises:
        DataError: as :func:`compute_eer`.
    """
    fpr, fnr, thresholds = det_curve(scores, labels)
    gap = fnr - fpr  # 1 at the first point, -1 at the last, non-increasing in between
    end = int(np.argmax(gap <= 0))
    start = end - 1
    fraction = gap[start] / (gap[start] - gap[end])
    eer = fpr[start] + fraction * (fpr[end] - fpr[start])
    nearer = start if fraction < 0.5 else end
    return float(eer), float(thresholds[nearer])


def compute_min_dcf(scores, labels, p_target=0.01, c_miss=1.0, c_fa=1.0):
    """Normalised minimum detection cost over the full DET curve.

    DCF(t) = c_miss * p_target * fnr(t) + c_fa * (1 - p_target) * fpr(t), divided by
    min(c_miss * p_target, c_fa * (1 - p_target)) -- the cost of the better trivial system
    (accept all or reject all) -- so 1.0 means no better than guessing, as papers report it.

    Args:
        scores: array-like (n,), as in :func:`compute_eer`.
        labels: array-like (n,), as in :func:`compute_eer`.
        p_target: prior probability of a target trial, in (0, 1).
        c_miss: cost of a miss, > 0.
        c_fa: cost of a false alarm, > 0.

    Returns:
        (min_dcf, threshold): the normalised minimum and its threshold (accept
        ``score >= threshold``; ``inf`` when rejecting every trial is cheapest).

    Raises:
        ConfigError: p_target outside (0, 1) or a cost that is not positive.
        DataError: as :func:`compute_eer`.
    """
    if not 0.0 < p_target < 1.0:
        raise ConfigError(f"minDCF p_target must be in (0, 1), got {p_target}")
    if not (c_miss > 0 and c_fa > 0):
        raise ConfigError(f"minDCF costs must be positive, got c_miss={c_miss}, c_fa={c_fa}")
    fpr, fnr, thresholds = det_curve(scores, labels)
    weight_miss = c_miss * p_target
    weight_fa = c_fa * (1.0 - p_target)
    dcf = weight_miss * fnr + weight_fa * fpr
    index = int(np.argmin(dcf))
    return float(dcf[index] / min(weight_miss, weight_fa)), float(thresholds[index])


# ------------------------------------------------------------------ scores
# Rows shorter than this are treated as having this norm, so a zero embedding scores 0, not NaN.
NORM_EPS = 1e-8
# Floor of a cohort standard deviation, so a degenerate cohort gives large but finite scores.
STD_EPS = 1e-8
# Embeddings scored against the cohort at a time: bounds the (rows, cohort) matrix in memory.
COHORT_CHUNK_ROWS = 4096


def _as_embeddings(emb, name):
    """Return ``emb`` as a 2-D float64 array, or raise DataError naming it."""
    try:
        emb = np.asarray(emb, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{name} must be a numeric array ({exc})") from None
    if emb.ndim != 2:
        raise DataError(f"{name} must have shape (n, dim), got {emb.shape}")
    if not np.all(np.isfinite(emb)):
        raise DataError(f"{name} contains NaN or inf values")
    return emb


def _unit_rows(emb):
    """Rows scaled to unit L2 norm (norms below NORM_EPS are treated as NORM_EPS)."""
    norms = np.linalg.norm(emb, axis=1, keepdims=True)
    return emb / np.maximum(norms, NORM_EPS)


def cosine_scores(emb_a, emb_b):
    """Cosine similarity of paired rows.

    Args:
        emb_a: (n, d) embeddings, e.g. enrollment.
        emb_b: (n, d) embeddings, e.g. test; row i is scored against ``emb_a[i]``.

    Returns:
        float64 (n,), values in [-1, 1].

    Raises:
        DataError: not 2-D, shapes differ, or non-finite values.
    """
    emb_a = _as_embeddings(emb_a, "emb_a")
    emb_b = _as_embeddings(emb_b, "emb_b")
    if emb_a.shape != emb_b.shape:
        raise DataError(f"cosine scoring pairs rows: emb_a has shape {emb_a.shape} but emb_b "
                        f"has {emb_b.shape}")
    return np.einsum('nd,nd->n', _unit_rows(emb_a), _unit_rows(emb_b))


def cohort_statistics(emb, cohort_emb, top_k=300):
    """Mean and standard deviation of each embedding's top-k cosine scores against a cohort.

    Args:
        emb: (n, d) embeddings.
        cohort_emb: (m, d) impostor cohort embeddings.
        top_k: how many of the highest cohort scores to use; more than m uses all m.

    Returns:
        (mean, std): float64 (n,) each; std is the population one (ddof 0).

    Raises:
        ConfigError: top_k < 2 (one score has no spread).
        DataError: bad arrays, fewer than 2 cohort embeddings, or different dimensions.
    """
    if int(top_k) != top_k or top_k < 2:
        raise ConfigError(f"AS-norm top_k must be an integer >= 2, got {top_k}")
    emb = _as_embeddings(emb, "embeddings")
    cohort_emb = _as_embeddings(cohort_emb, "cohort_emb")
    if cohort_emb.shape[0] < 2:
        raise DataError(f"the AS-norm cohort needs at least 2 embeddings, got "
                        f"{cohort_emb.shape[0]}")
    if emb.shape[1] != cohort_emb.shape[1]:
        raise DataError(f"embedding dimension {emb.shape[1]} differs from the cohort's "
                        f"{cohort_emb.shape[1]}")
    k = min(int(top_k), cohort_emb.shape[0])
    cohort_unit_t = _unit_rows(cohort_emb).T
    mean = np.empty(emb.shape[0])
    std = np.empty(emb.shape[0])
    for begin in range(0, emb.shape[0], COHORT_CHUNK_ROWS):
        rows = slice(begin, begin + COHORT_CHUNK_ROWS)
        scores = _unit_rows(emb[rows]) @ cohort_unit_t  # (chunk, m)
        if k < scores.shape[1]:
            # The k largest in any order: mean and std do not need them sorted.
            scores = np.partition(scores, scores.shape[1] - k, axis=1)[:, -k:]
        mean[rows] = scores.mean(axis=1)
        std[rows] = scores.std(axis=1)
    return mean, std


def _cohort_statistics_of_unique(emb, cohort_emb, top_k):
    """cohort_statistics, computed once per distinct row (trial lists repeat utterances)."""
    unique_rows, inverse = np.unique(emb, axis=0, return_inverse=True)
    mean, std = cohort_statistics(unique_rows, cohort_emb, top_k)
    inverse = inverse.reshape(-1)
    return mean[inverse], std[inverse]


def as_norm(scores, enroll_emb, test_emb, cohort_emb, top_k=300):
    """Adaptive symmetric score normalisation (AS-norm, S-norm variant).

    For trial i with raw score s, enrollment e and test t:
    ``0.5 * ((s - mu_e) / sd_e + (s - mu_t) / sd_t)``, where mu/sd are the mean and population
    standard deviation of the top_k highest cosine scores of e (resp. t) against the cohort.

    Args:
        scores: (n,) raw trial scores (normally ``cosine_scores(enroll_emb, test_emb)``).
        enroll_emb: (n, d) enrollment embedding of each trial.
        test_emb: (n, d) test embedding of each trial.
        cohort_emb: (m, d) impostor cohort (speakers absent from the trials).
        top_k: cohort scores kept per embedding; larger than m uses the whole cohort.

    Returns:
        float64 (n,) normalised scores.

    Raises:
        ConfigError: top_k < 2.
        DataError: shapes that do not match, non-finite values, a cohort of fewer than 2.
    """
    try:
        scores = np.asarray(scores, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"AS-norm scores must be real numbers ({exc})") from None
    enroll_emb = _as_embeddings(enroll_emb, "enroll_emb")
    test_emb = _as_embeddings(test_emb, "test_emb")
    if scores.ndim != 1 or not (scores.shape[0] == enroll_emb.shape[0] == test_emb.shape[0]):
        raise DataError(f"AS-norm needs one score, enrollment and test row per trial, got "
                        f"scores {scores.shape}, enroll_emb {enroll_emb.shape}, test_emb "
                        f"{test_emb.shape}")
    if not np.all(np.isfinite(scores)):
        raise DataError("AS-norm scores contain NaN or inf values")
    mean_e, std_e = _cohort_statistics_of_unique(enroll_emb, cohort_emb, top_k)
    mean_t, std_t = _cohort_statistics_of_unique(test_emb, cohort_emb, top_k)
    return 0.5 * ((scores - mean_e) / np.maximum(std_e, STD_EPS)
                  + (scores - mean_t) / np.maximum(std_t, STD_EPS))
