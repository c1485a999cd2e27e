"""The model benchmarks (bench/panns.py, ecapa_tdnn.py, engine.py, dprnn.py, wav2vec2.py) run and
print what they promise (smoke tests on small settings; timings are not asserted)."""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def bench(script, *args):
    done = subprocess.run([sys.executable, os.path.join(ROOT, 'bench', script), *args], cwd=ROOT,
                          env=dict(os.environ, GLOG_v='3'), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith('{')]


def test_panns_bench_reports_inference_and_ratios():
    lines = bench('panns.py', '--architecture', 'cnn6', '--iters', '1', '--skip-train')
    infer, summary = lines[0], lines[-1]
    assert infer['case'] == 'infer_10s' and infer['input'] == [1, 320000]
    assert 0 < infer['min_s'] <= infer['median_s'] and infer['dynamic_length_median_s'] > 0
    assert summary['case'] == 'summary'


def test_ecapa_bench_reports_a_train_step_and_evaluation_throughput():
    lines = bench('ecapa_tdnn.py', '--channels', '64', '--iters', '1', '--skip-data', '--eval-utterances', '3')
    train = lines[0]
    assert train['case'] == 'train_step' and train['channels'] == 64 and train['params'] > 0
    assert 0 < train['min_s'] <= train['median_s']
    assert lines[1]['case'] == 'infer_10s' and lines[-1]['case'] == 'summary'
    evaluation = lines[2]
    assert evaluation['case'] == 'evaluation' and evaluation['utterances'] == 3 and evaluation['audio_s'] >= 12
    before, after = evaluation['one_at_a_time'], evaluation['batched']
    assert before['static_graphs'] == 0 and before['alone'] == 3
    assert 1 <= after['static_graphs'] <= 3 and after['alone'] == 0
    for case in (before, after):
        assert case['utterances_per_s'] > 0 and case['rtf'] > 0 and case['first_pass_s'] > 0
    assert evaluation['max_abs_difference'] < 1e-4            # the same embeddings either way


def test_engine_bench_reports_the_frozen_and_accumulated_steps():
    lines = bench('engine.py', '--iters', '1', '--width', '32', '--depth', '2', '--batch', '8')
    cases = {line['case']: line for line in lines}
    assert set(cases) == {'all_trainable', 'frozen_encoder', 'accumulated_2x'}
    assert cases['frozen_encoder']['ratio_to_all_trainable'] > 0
    assert cases['accumulated_2x']['ratio_to_one_batch'] > 0


def test_dprnn_bench_reports_inference_and_its_dynamic_graph():
    lines = bench('dprnn.py', '--repeats', '1', '--iters', '1', '--skip-train')
    infer, summary = lines[0], lines[-1]
    assert infer['case'] == 'infer_10s' and infer['input'] == [1, 80000]
    assert 0 < infer['min_s'] <= infer['median_s'] and infer['dynamic_length_median_s'] > 0
    assert summary == {'case': 'summary', 'repeats': 1}     # ratios only for the FULL config


def test_wav2vec2_bench_reports_a_train_step_its_profile_and_inference():
    lines = bench('wav2vec2.py', '--tiny', '--iters', '1', '--profile')
    train, profile, infer, summary = lines
    assert train['case'] == 'train_step' and train['params'] > 0 and train['negatives'] == 100
    assert 0.3 < train['masked_fraction'] < 0.7               # the reference's masks: prob 0.65, length 10
    assert 0 < train['min_s'] <= train['median_s']
    assert profile['case'] == 'profile'
    assert set(profile['parts']) == {'feature_encoder_conv0', 'feature_encoder_conv1_6', 'positional_conv',
                                     'attention', 'feed_forward', 'quantizer_loss'}
    for part in profile['parts'].values():
        assert part['forward_s'] > 0 and part['forward_backward_s'] > 0 and part['share'] > 0
    assert abs(sum(p['forward_share'] for p in profile['parts'].values()) - 1) < 0.01
    assert profile['rest_share'] < 1 and profile['train_step_median_s'] == train['median_s']
    assert infer['case'] == 'infer_10s' and infer['input'] == [1, 3200]
    assert 0 < infer['min_s'] <= infer['median_s'] and infer['dynamic_length_median_s'] > 0
    assert summary['case'] == 'summary' and summary['config'] == 'tiny' and summary['peak_rss_mb'] > 0
    assert 'train_step_ratio_median' not in summary           # ratios only for BASE
