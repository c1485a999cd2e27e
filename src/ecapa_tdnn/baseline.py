"""The naive speaker-verification baseline a trained embedding must beat: cosine of the
utterance-mean log-mel (``eval.baseline``, printed beside the EER).

On the demo VoxCeleb (``preprocess.py demo voxceleb``) it scores about 43 % EER, since each video's
channel colours the mean spectrum; the trained demo ECAPA-TDNN about 5 %.
"""
import os

import numpy as np

from src.audio import Fbank, read_audio
from src.data.manifest import read_trials
from src.metrics import compute_eer


def naive_baseline_eer(trials, audio_root, sample_rate=16000):
    """EER of the naive baseline: cosine similarity of utterance-mean log-mel vectors.

    Each utterance is summarised by the time average of its 80-dim log-mel fbank without mean
    normalisation; a trial's score is the cosine of its two vectors. A trained speaker
    embedding must do clearly better.

    Args:
        trials: a trial-list file or the list of ``read_trials``.
        audio_root: the folder the trial paths are relative to.
        sample_rate: Hz.

    Returns:
        the EER as a fraction in [0, 1].
    """
    if isinstance(trials, (str, os.PathLike)):
        trials = read_trials(trials, audio_root)
    fbank = Fbank(sample_rate=sample_rate, mean_norm=False)
    utterances = sorted({utt for _, enroll, test in trials for utt in (enroll, test)})
    means = {}
    for utt in utterances:
        vector = fbank(read_audio(os.path.join(audio_root, utt), sample_rate)).mean(axis=0)
        means[utt] = vector / np.linalg.norm(vector)
    scores = [float(means[enroll] @ means[test]) for _, enroll, test in trials]
    return compute_eer(scores, [label for label, _, _ in trials])[0]
