"""Tests of src.dprnn.evaluate: one mixture's scores (by hand and against BSS-eval's own
numbers), the averages, and the report files."""
import csv
import json
import os

import numpy as np

from src.dprnn.evaluate import format_separation, score_mixture, summarize, write_example, write_report
from src.metrics.separation import bss_eval


def sources(seed=0, n=2, length=4000):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, length))


def test_perfect_estimates_in_swapped_order():
    refs = sources()
    mixture = refs.sum(0)
    row = score_mixture(refs[::-1] * 3.0, refs, mixture, with_sdr=False)     # scale-invariant
    assert row['perm'] == [1, 0] and row['si_snr'] > 70
    # improvement = estimate's SI-SNR minus the mixture's, each source's mixture SI-SNR by hand
    def by_hand(target, estimate):
        target, estimate = target - target.mean(), estimate - estimate.mean()
        projection = (estimate @ target) / (target @ target + 1e-8) * target
        noise = estimate - projection
        return 10 * np.log10((projection @ projection) / (noise @ noise + 1e-8) + 1e-8)
    mixture_snr = np.mean([by_hand(r, mixture) for r in refs])
    assert abs(row['si_snri'] - (row['si_snr'] - mixture_snr)) < 1e-9
    assert np.isnan(row['sdr']) and np.isnan(row['sdri'])


def test_sdri_is_bss_eval_of_estimates_minus_that_of_the_mixture():
    refs = sources(1)
    mixture = refs.sum(0)
    estimates = refs + 0.3 * sources(2)
    row = score_mixture(estimates, refs, mixture)
    sdr = bss_eval(estimates, refs)[0]
    sdr_mix = bss_eval(np.stack([mixture, mixture]), refs)[0]
    assert abs(row['sdr'] - sdr.mean()) < 1e-9
    assert abs(row['sdri'] - (sdr - sdr_mix).mean()) < 1e-9 and row['sdri'] > 5


def test_a_silent_source_scores_finite_si_snr_and_no_sdr():
    refs = sources(3)
    refs[1] = 0.0
    row = score_mixture(refs + 0.01, refs, refs.sum(0))
    assert np.isfinite(row['si_snr']) and np.isfinite(row['si_snri']) and np.isnan(row['sdr'])
    metrics = summarize([row, dict(row, sdr=2.0, sdri=1.0)])
    assert metrics['sdr_utterances'] == 1 and metrics['sdri'] == 1.0 and metrics['utterances'] == 2


def test_report_files(tmp_path):
    refs = sources(4, length=800)
    rows = [score_mixture(refs, refs, refs.sum(0)), score_mixture(refs[::-1] + 0.5 * sources(5, length=800),
                                                                  refs, refs.sum(0))]
    metrics = summarize(rows, 'test')
    write_report(rows, ['a_b', 'c_d'], [800, 800], metrics, str(tmp_path))
    with open(tmp_path / 'per_utterance.csv') as f:
        table = list(csv.DictReader(f))
    assert [r['mixture_id'] for r in table] == ['a_b', 'c_d'] and table[1]['perm'] == '1 0'
    assert abs(np.mean([float(r['si_snri']) for r in table]) - metrics['si_snri']) < 1e-3
    assert json.loads((tmp_path / 'metrics.json').read_text())['utterances'] == 2
    assert format_separation(metrics).startswith(f"SI-SNRi = {metrics['si_snri']:.2f} dB  SDRi = ")
    folder = write_example(str(tmp_path / 'examples'), 'a_b', refs.sum(0), refs, refs[::-1], [1, 0], 8000)
    assert sorted(os.listdir(folder)) == ['mixture.wav', 's1.wav', 's1_estimate.wav', 's2.wav',
                                          's2_estimate.wav', 'spectrograms.png']
    import soundfile
    s1, _ = soundfile.read(os.path.join(folder, 's1.wav'))
    s1_estimate, _ = soundfile.read(os.path.join(folder, 's1_estimate.wav'))
    np.testing.assert_allclose(s1, s1_estimate, atol=1e-4)     # the estimate matched to source 1
