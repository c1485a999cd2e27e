"""bench/layers.py runs and prints what it promises (a smoke test; timings are not asserted)."""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_benchmark_prints_one_json_line_per_case_and_a_summary(tmp_path):
    reference = tmp_path / 'torch.json'
    reference.write_text(json.dumps({'cases': [
        {'case': 'conv_transpose1d_64_1_k16_s8', 'forward_s': 0.001, 'forward_backward_s': 0.002}]}))
    out = subprocess.run(
        [sys.executable, os.path.join(ROOT, 'bench', 'layers.py'), '--cases',
         'conv_transpose1d_64_1_k16_s8', '--repeat', '2', '--native-repeat', '1',
         '--reference', str(reference)],
        capture_output=True, text=True, timeout=300, env={**os.environ, 'GLOG_v': '3'})
    assert out.returncode == 0, out.stderr[-2000:]
    lines = [json.loads(line) for line in out.stdout.splitlines() if line.startswith('{')]
    header, row, summary = lines
    assert header['threads'] >= 1
    assert row['case'] == 'conv_transpose1d_64_1_k16_s8'
    for key in ('native_forward_s', 'gemm_forward_s', 'gemm_forward_backward_s',
                'gemm_forward_backward_min_s'):
        assert row[key] > 0
    assert row['gemm_forward_backward_min_s'] <= row['gemm_forward_backward_s']
    # the printed times are rounded to 10 us, hence the tolerance
    assert abs(row['ratio_forward_backward'] - row['gemm_forward_backward_s'] / 0.002) <= 0.01
    assert summary['cases'] == 1
