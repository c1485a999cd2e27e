"""The naive verification baseline (cosine of the utterance-mean log-mel)."""
import numpy as np
import soundfile

from src.data.manifest import write_trials
from src.ecapa_tdnn.baseline import naive_baseline_eer


def test_naive_baseline_scores_mean_spectra(tmp_path):
    # Targets are copies of one file and non-targets are two very different sounds: EER 0;
    # with the labels swapped every decision is wrong: EER 1.
    rng = np.random.default_rng(0)
    low = np.sin(2 * np.pi * 200 * np.arange(16000) / 16000) * 0.3
    high = rng.standard_normal(16000) * 0.05
    for name, wave in [('a1', low), ('a2', low), ('b1', high), ('b2', high)]:
        soundfile.write(str(tmp_path / f'{name}.wav'), wave, 16000, subtype='PCM_16')
    trials = [(1, 'a1.wav', 'a2.wav'), (1, 'b1.wav', 'b2.wav'), (0, 'a1.wav', 'b1.wav'),
              (0, 'a2.wav', 'b2.wav')]
    assert naive_baseline_eer(trials, tmp_path) == 0.0
    swapped = [(1 - label, a, b) for label, a, b in trials]
    write_trials(tmp_path / 'swapped.txt', swapped)
    assert naive_baseline_eer(str(tmp_path / 'swapped.txt'), tmp_path) == 1.0
