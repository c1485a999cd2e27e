"""Evaluation metrics; speaker verification: EER, minDCF and the DET curve."""
from .verification import (compute_eer, compute_eer_interpolated, compute_min_dcf, det_curve,
                           nearest_point_eer)

__all__ = ['compute_eer', 'compute_eer_interpolated', 'compute_min_dcf', 'det_curve',
           'nearest_point_eer']
