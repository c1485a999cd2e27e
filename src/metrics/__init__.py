"""Evaluation metrics, one module per task: ``verification`` (cosine scoring, AS-norm, EER,
minDCF, DET curve), ``classification`` (accuracy, per-class accuracy, confusion matrix),
``separation`` (SI-SDR, PIT, BSS-eval), ``asr`` (WER, CER) and ``plots`` (their figures).
Import the module you need; the speaker-verification error rates are re-exported here."""
from .verification import (compute_eer, compute_eer_interpolated, compute_min_dcf, det_curve,
                           nearest_point_eer)

__all__ = ['compute_eer', 'compute_eer_interpolated', 'compute_min_dcf', 'det_curve',
           'nearest_point_eer']
