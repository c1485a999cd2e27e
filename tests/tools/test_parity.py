"""tools/parity.py: the ECAPA-TDNN and PANNs ports reproduce their bundles, a wrong weight fails,
and outputs in dB are compared as levels."""
import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

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


def load_tool():
    spec = importlib.util.spec_from_file_location('parity_tool', TOOL)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


def test_compare_applies_relative_and_absolute_tolerance():
    tool = load_tool()
    reference = np.array([100.0, 1.0, 0.0])
    assert tool.compare('a', reference + [9e-3, 0, 9e-6], reference, 1e-4, 1e-5)['ok']
    line = tool.compare('a', reference + [2e-2, 0, 0], reference, 1e-4, 1e-5)
    assert not line['ok'] and np.isclose(line['max_abs_diff'], 2e-2)
    assert not tool.compare('a', reference[:2], reference, 1e-4, 1e-5)['ok']


def test_db_outputs_get_the_power_tolerance_as_decibels():
    tool = load_tool()
    rtol, atol, loss_rtol = 1e-4, 1e-5, 1e-3
    db_rtol, db_atol = tool.tolerances('db', rtol, atol, loss_rtol)
    assert db_rtol == 0 and db_atol == pytest.approx(4.3429e-4, rel=1e-4)   # 10 log10(1 + 1e-4)
    assert tool.tolerances('activation', rtol, atol, loss_rtol) == (rtol, atol)
    assert tool.tolerances('loss', rtol, atol, loss_rtol) == (loss_rtol, atol)
    # the PANNs CNN10 case: 0.02048 dB against 0.02050 dB, a power error of 4e-6
    reference = np.array([0.02050, 0.0, -6.0, 20.0, -100.0])
    float32_noise = reference + [-2e-5, 3e-6, -1e-5, 2e-5, 0.0]
    assert not tool.compare('logmel', float32_noise, reference, rtol, atol)['ok']     # the old rule
    assert tool.compare('logmel', float32_noise, reference, db_rtol, db_atol)['ok']
    # a real error still fails: 1e-3 dB near 0 dB is a power error of 2.3e-4, and so is 1e-3 dB
    # at 20 dB, which a relative tolerance (2e-3 dB there) would pass
    for index in (1, 3):
        off = reference.copy()
        off[index] += 1e-3
        assert not tool.compare('logmel', off, reference, db_rtol, db_atol)['ok']
    assert tool.compare('logmel', off, reference, rtol, atol)['ok']


def test_panns_cnn6_bundle_passes():
    # audioset_tagging_cnn Cnn6 (via audioldm_eval): raw audio -> log-mel -> tags and embedding
    result, lines = run_parity(os.path.join(ROOT, 'tests', 'data', 'panns_cnn6.npz'))
    assert result.returncode == 0, result.stderr
    assert [line['output'] for line in lines] == ['clipwise_output', 'embedding', 'logmel']
    assert all(line['ok'] for line in lines)
    assert all(line['max_abs_diff'] < 1e-5 for line in lines[:2])
    assert lines[2]['max_abs_diff'] < 1e-3            # dB
    assert lines[2]['unit'] == 'dB' and lines[2]['atol'] == pytest.approx(4.3429e-4, rel=1e-4)
    assert 'unit' not in lines[0]


DPRNN_OUTPUTS = ['est_sources', 'pit_neg_sisdr_loss', 'reordered_est']
# tests/data/dprnn_<name>.npz, written with asteroid 0.7.0 by tools/make_dprnn_references.py:
# 3 and 4 sources (4: asteroid's Hungarian path), kernel 2 / stride 1 / chunk 250 (hop 125),
# odd input lengths (8001 at 64 filters / 16 / 8, 7993 unidirectional with chunk 50 / hop 20),
# a 2-layer GRU with cLN and ReLU masks, MulCat RNNs with fgLN, softmax masks, a ReLU encoder,
# chunk 10 / hop 3 and the default stride
DPRNN_REFERENCES = ['3src', '4src', 'k2', 'odd', 'uni', 'gru', 'mulcat']


@pytest.mark.parametrize('mode_name', ['pynative', 'graph'])
def test_dprnn_tasnet_bundle_passes(mode_name):
    # asteroid 0.7.0 DPRNNTasNet (n_repeats 2) + PITLossWrapper(pairwise_neg_sisdr)
    result, lines = run_parity(os.path.join(ROOT, 'tests', 'data', 'dprnn_tasnet.npz'), '--mode', mode_name)
    assert result.returncode == 0, result.stderr
    assert [line['output'] for line in lines] == DPRNN_OUTPUTS
    assert all(line['ok'] for line in lines)
    assert lines[0]['max_abs_diff'] < 1e-6 and lines[2]['max_abs_diff'] < 1e-6
    assert lines[1]['unit'] == 'dB' and lines[1]['max_abs_diff'] < 1e-4     # the loss is -SI-SDR


def dprnn_results(tool, path):
    """(results, reference outputs) of the DPRNN handler on a bundle, in this process."""
    meta, state, inputs, outputs = tool.load_bundle(path)
    return tool.HANDLERS.get(tool.model_class(meta))(meta, state, inputs), outputs


@pytest.mark.parametrize('name', DPRNN_REFERENCES)
def test_dprnn_reference_configurations_pass(name, mode):
    tool = load_tool()
    results, outputs = dprnn_results(tool, os.path.join(ROOT, 'tests', 'data', f'dprnn_{name}.npz'))
    assert [r[0] for r in results] == DPRNN_OUTPUTS
    for output, actual, kind in results:
        rtol, atol = tool.tolerances(kind, 1e-4, 1e-5, 1e-3)
        line = tool.compare(output, actual, outputs[output], rtol, atol)
        assert line['ok'], (name, mode, line)
        assert line['max_abs_diff'] < (1e-4 if kind == 'db' else 1e-6), (name, mode, line)


def test_dprnn_one_perturbed_norm_gain_fails(tmp_path):
    tool = load_tool()
    source = os.path.join(ROOT, 'tests', 'data', 'dprnn_uni.npz')
    with np.load(source) as z:
        arrays = {k: z[k] for k in z.files}
    arrays['masker.net.0.inter_norm.gamma'] = arrays['masker.net.0.inter_norm.gamma'] * np.float32(1.001)
    np.savez(tmp_path / 'perturbed.npz', **arrays)
    results, outputs = dprnn_results(tool, str(tmp_path / 'perturbed.npz'))
    lines = {name: tool.compare(name, actual, outputs[name], *tool.tolerances(kind, 1e-4, 1e-5, 1e-3))
             for name, actual, kind in results}
    assert not lines['est_sources']['ok'] and not lines['reordered_est']['ok']


WAV2VEC2_CTC_OUTPUTS = ['last_hidden_state', 'extract_features', 'ctc_logits', 'ctc_loss']
WAV2VEC2_PRETRAINING_OUTPUTS = ['projected_states', 'projected_quantized_states',
                                'codevector_perplexity']


@pytest.mark.parametrize('name, outputs', [('wav2vec2', WAV2VEC2_CTC_OUTPUTS),
                                           ('wav2vec2_pretraining', WAV2VEC2_PRETRAINING_OUTPUTS)])
def test_wav2vec2_bundles_pass(name, outputs):
    # transformers 5.23 Wav2Vec2ForCTC / Wav2Vec2ForPreTraining (the other wav2vec2 bundles run
    # in process in tests/wav2vec2/test_network.py)
    result, lines = run_parity(os.path.join(ROOT, 'tests', 'data', f'{name}.npz'))
    assert result.returncode == 0, result.stderr
    assert [line['output'] for line in lines] == outputs
    assert all(line['ok'] for line in lines)
    assert all(line['max_abs_diff'] < 1e-4 for line in lines)


def test_wav2vec2_one_perturbed_weight_fails(tmp_path):
    tool = load_tool()
    with np.load(os.path.join(ROOT, 'tests', 'data', 'wav2vec2_padded.npz')) as z:
        arrays = {k: z[k] for k in z.files}
    key = 'wav2vec2.encoder.pos_conv_embed.conv.parametrizations.weight.original0'
    arrays[key] = arrays[key] * np.float32(1.001)
    np.savez(tmp_path / 'perturbed.npz', **arrays)
    meta, state, inputs, outputs = tool.load_bundle(str(tmp_path / 'perturbed.npz'))
    lines = {name: tool.compare(name, actual, outputs[name], *tool.tolerances(kind, 1e-4, 1e-5, 1e-3))
             for name, actual, kind in tool.HANDLERS.get(tool.model_class(meta))(meta, state, inputs)}
    assert not lines['last_hidden_state']['ok'] and not lines['ctc_logits']['ok']
    assert lines['extract_features']['ok']      # before the positional convolution
