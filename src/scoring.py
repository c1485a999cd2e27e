"""Speaker-verification back end: cosine scoring of embedding pairs and adaptive score
normalisation (AS-norm) against an impostor cohort.

References: Matejka et al., "Analysis of score normalization in multilingual speaker
recognition", Interspeech 2017 (adaptive symmetric normalisation, S-norm variant).
"""
import numpy as np

from .errors import ConfigError, DataError

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
