"""tools/parity.py: the ECAPA-TDNN port reproduces the speechbrain bundle, and a wrong weight fails."""
import importlib.util
import json
import os
import subprocess
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOL = os.path.join(ROOT, 'tools', 'parity.py')
BUNDLE = os.path.join(ROOT, 'tests', 'data', 'ecapa_tdnn.npz')
ECAPA_OUTPUTS = ['embedding', 'embedding_with_lengths', 'cosine_logits', 'aam_loss']


def run_parity(*args):
    result = subprocess.run([sys.executable, TOOL, *args], capture_output=True, text=True, cwd=ROOT,
                            env=dict(os.environ, GLOG_v='3'), timeout=300)
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith('{')]
    return result, lines


def rewrite_bundle(path, changes=None, meta_changes=None):
    """A copy of the ECAPA bundle with some arrays / __meta__ entries replaced."""
    with np.load(BUNDLE) as z:
        arrays = {k: z[k] for k in z.files}
    arrays.update(changes or {})
    meta = json.loads(str(arrays['__meta__']))
    meta.update(meta_changes or {})
    arrays['__meta__'] = np.array(json.dumps(meta))
    np.savez(path, **arrays)
    return path


def test_ecapa_bundle_passes():
    result, lines = run_parity(BUNDLE)
    assert result.returncode == 0, result.stderr
    assert [line['output'] for line in lines] == ECAPA_OUTPUTS
    assert all(line['ok'] for line in lines)
    assert all(line['max_abs_diff'] < 1e-5 for line in lines)


def test_one_perturbed_weight_fails(tmp_path):
    # the first convolution's weight 0.1 % larger: the embedding moves by about 2e-4
    with np.load(BUNDLE) as z:
        weight = z['blocks.0.conv.conv.weight'] * np.float32(1.001)
    path = rewrite_bundle(tmp_path / 'perturbed.npz', {'blocks.0.conv.conv.weight': weight})
    result, lines = run_parity(str(path))
    assert result.returncode == 1
    failed = {line['output'] for line in lines if not line['ok']}
    assert {'embedding', 'embedding_with_lengths'} <= failed


def test_unknown_model_class_is_a_one_line_error(tmp_path):
    path = rewrite_bundle(tmp_path / 'other.npz',
                          meta_changes={'module_prefixes': {'': 'somewhere.ECAPA_TDNNX'}})
    result, lines = run_parity(str(path))
    assert result.returncode == 2 and not lines
    assert result.stderr.startswith('error: unknown parity bundle model class')
    assert 'speechbrain.lobes.models.ECAPA_TDNN.ECAPA_TDNN' in result.stderr


def test_compare_applies_relative_and_absolute_tolerance():
    spec = importlib.util.spec_from_file_location('parity_tool', TOOL)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    reference = np.array([100.0, 1.0, 0.0])
    assert tool.compare('a', reference + [9e-3, 0, 9e-6], reference, 1e-4, 1e-5)['ok']
    line = tool.compare('a', reference + [2e-2, 0, 0], reference, 1e-4, 1e-5)
    assert not line['ok'] and np.isclose(line['max_abs_diff'], 2e-2)
    assert not tool.compare('a', reference[:2], reference, 1e-4, 1e-5)['ok']


def test_panns_cnn6_bundle_passes():
    # audioset_tagging_cnn Cnn6 (via audioldm_eval): raw audio -> log-mel -> tags and embedding
    result, lines = run_parity(os.path.join(ROOT, 'tests', 'data', 'panns_cnn6.npz'))
    assert result.returncode == 0, result.stderr
    assert [line['output'] for line in lines] == ['clipwise_output', 'embedding', 'logmel']
    assert all(line['ok'] for line in lines)
    assert all(line['max_abs_diff'] < 1e-5 for line in lines[:2])
    assert lines[2]['max_abs_diff'] < 1e-3            # dB
