"""bench/rnn.py runs and prints what it promises (a smoke test; timings are not asserted)."""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_benchmark_prints_both_paths_ratios_and_the_dprnn_summary():
    cases = ['lstm_bi_162x100x128', 'lstm_bi_200x81x128']
    out = subprocess.run([sys.executable, os.path.join(ROOT, 'bench', 'rnn.py'), '--cases', *cases,
                          '--repeat', '1'],
                         capture_output=True, text=True, timeout=300, env={**os.environ, 'GLOG_v': '3'})
    assert out.returncode == 0, out.stderr[-2000:]
    header, first, second, summary = [json.loads(line) for line in out.stdout.splitlines()
                                      if line.startswith('{')]
    assert header['threads'] >= 1
    assert [first['case'], second['case']] == cases
    for row in (first, second):
        for impl in ('gemm', 'native'):
            for key in ('forward', 'forward_backward'):
                assert 0 < row[f'{impl}_{key}_min_s'] <= row[f'{impl}_{key}_s']
                assert row[f'{impl}_{key}_compile_s'] > 0
        # printed times are rounded to 0.1 ms, hence the tolerance
        assert abs(row['ratio_native_forward_backward']
                   - row['gemm_forward_backward_s'] / row['native_forward_backward_s']) < 0.01
    assert first['torch_forward_backward_s'] == 0.26 and 'torch_forward_backward_s' not in second
    assert abs(first['ratio_torch_forward_backward'] - first['gemm_forward_backward_s'] / 0.26) < 0.01
    want = 6 * (first['gemm_forward_backward_s'] + second['gemm_forward_backward_s'])
    assert abs(summary['gemm_train_step_forward_backward_s'] - want) < 0.01
    assert 'gemm_infer_10s_forward_s' not in summary          # its cases were not run
