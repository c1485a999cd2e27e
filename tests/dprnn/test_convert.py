"""asteroid DPRNNTasNet files -> DPRNNTasNet: the torch-free reader against the state dict that
torch wrote (the bundle of the same model), the converted network's output, .npz inputs, the
command-line tool, a torch < 1.6 file read without torch too, and the one-line refusals (another
architecture, another n_src, a pickle that asks to run code)."""
import json
import os
import pickle
import zipfile

import numpy as np
import pytest

import mindspore as ms

from src.checkpoint import load_state, read_params
from src.dprnn.convert import (convert_asteroid_state, dprnn_args_from_asteroid, load_asteroid,
                               read_asteroid_file)
from src.dprnn.network import DPRNNTasNet
from src.errors import CheckpointError
from src.torchfile import read_torch_zip
from tests.helpers import raises_one_line, run_script, script_error

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(ROOT, 'tests', 'data')
PTH = os.path.join(DATA, 'asteroid_dprnn_3src.pth')          # tools/make_dprnn_references.py
LEGACY = os.path.join(DATA, 'asteroid_dprnn_3src_legacy.pth')
BUNDLE = os.path.join(DATA, 'dprnn_3src.npz')                  # the same model, arrays from torch


@pytest.fixture(scope='module')
def bundle():
    with np.load(BUNDLE) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays.pop('__meta__')))
    return meta, {k: arrays[k] for k in meta['state_keys']}, arrays


def test_torch_free_reader_gives_the_arrays_torch_wrote(bundle):
    meta, state, _ = bundle
    model_args, read = read_asteroid_file(PTH)
    assert model_args == meta['model_args']
    assert list(read) == list(state)                                    # state_dict order kept
    for key, value in state.items():
        assert read[key].dtype == value.dtype and read[key].shape == value.shape, key
        np.testing.assert_array_equal(read[key], value)
    infos = read_torch_zip(PTH)['infos']                                # numpy values, as recipes leave
    assert infos['final_metrics']['si_sdr'] == -1.25 and isinstance(infos['final_metrics']['si_sdr'], np.float64)
    np.testing.assert_array_equal(infos['final_metrics']['si_sdr_per_source'], [-1.0, -1.5])
    assert infos['software_versions']['torch_version'].startswith('2.')


def test_loaded_network_reproduces_asteroid(bundle):
    _, _, arrays = bundle
    network, kwargs = load_asteroid(PTH)
    assert kwargs['n_src'] == 3 and 'fb_name' not in kwargs and 'in_chan' not in kwargs
    assert not network.training
    out = network(ms.Tensor(arrays['__in__.x'])).asnumpy()
    np.testing.assert_allclose(out, arrays['__out__.est_sources'], rtol=1e-4, atol=1e-5)


def test_npz_with_or_without_model_args(bundle, tmp_path):
    meta, state, _ = bundle
    args, read = read_asteroid_file(BUNDLE)                           # __meta__['model_args']
    assert args == meta['model_args'] and set(read) == set(state)
    bare = tmp_path / 'state.npz'
    np.savez(bare, **state)
    raises_one_line(CheckpointError, lambda: read_asteroid_file(str(bare)), str(bare), 'no model_args')
    network, kwargs = load_asteroid(str(bare), meta['model_args'])
    assert kwargs['n_src'] == 3


def test_another_architecture_is_refused(bundle, tmp_path):
    meta, state, _ = bundle
    other = tmp_path / 'convtasnet.npz'
    np.savez(other, __meta__=np.array(json.dumps({'model_name': 'ConvTasNet', 'model_args': {}})), **state)
    raises_one_line(CheckpointError, lambda: read_asteroid_file(str(other)), str(other),
                    'asteroid ConvTasNet model, not DPRNNTasNet')
    convtasnet_args = dict(n_src=2, n_blocks=8, n_repeats=3, skip_chan=128, fb_name='FreeFB')
    raises_one_line(CheckpointError, lambda: dprnn_args_from_asteroid(convtasnet_args, 'x.pth'),
                    'x.pth', "'n_blocks'", 'another architecture')
    raises_one_line(CheckpointError, lambda: dprnn_args_from_asteroid(
        dict(meta['model_args'], fb_name='ParamSincFB'), 'x.pth'), 'ParamSincFB filterbank')


def test_a_wrong_n_src_or_missing_keys_are_one_line_errors(bundle):
    meta, state, _ = bundle
    two_sources = dprnn_args_from_asteroid(dict(meta['model_args'], n_src=2))
    raises_one_line(CheckpointError, lambda: convert_asteroid_state(state, two_sources, 'x.pth'),
                    'x.pth', 'separate 3 sources', 'n_src=2')
    args = dprnn_args_from_asteroid(meta['model_args'])
    partial = {k: v for k, v in state.items() if k != 'masker.mask_net.weight'}
    raises_one_line(CheckpointError, lambda: convert_asteroid_state(partial, args, 'x.pth'),
                    'x.pth does not fit DPRNNTasNet(n_src=3', 'missing: masker.mask_net.weight')
    prefixed = {'model.' + k: v for k, v in state.items()}
    raises_one_line(CheckpointError, lambda: convert_asteroid_state(prefixed, args, 'x.pth'),
                    "strip the prefix")
    deeper = dprnn_args_from_asteroid(dict(meta['model_args'], n_repeats=2))
    raises_one_line(CheckpointError, lambda: convert_asteroid_state(state, deeper, 'x.pth'),
                    'missing: masker.net.1.')


class _RunsCode:
    def __reduce__(self):
        return (os.system, ('touch pwned',))


def test_a_pickle_that_asks_to_run_code_is_refused(tmp_path):
    path = tmp_path / 'evil.pth'
    with zipfile.ZipFile(path, 'w') as archive:
        archive.writestr('evil/data.pkl', pickle.dumps({'state_dict': _RunsCode()}, protocol=2))
    raises_one_line(CheckpointError, lambda: read_asteroid_file(str(path)),
                    str(path), 'run posix.system', 'refused')
    assert not os.path.exists('pwned') and not (tmp_path / 'pwned').exists()
    # and a damaged archive is an error naming the file, not a traceback
    damaged = tmp_path / 'damaged.pth'
    with open(PTH, 'rb') as f:
        damaged.write_bytes(f.read()[:4000])
    with pytest.raises(CheckpointError, match='damaged'):
        read_asteroid_file(str(damaged))


def test_a_torch_1_5_file_is_read_without_torch():
    legacy_args, legacy = read_asteroid_file(LEGACY)
    model_args, state = read_asteroid_file(PTH)
    assert legacy_args == model_args and list(legacy) == list(state)
    for key, value in state.items():
        assert legacy[key].dtype == value.dtype, key
        np.testing.assert_array_equal(legacy[key], value)


def test_converter_tool_writes_a_checkpoint_that_reloads(bundle, tmp_path):
    _, _, arrays = bundle
    out = tmp_path / 'out' / 'dprnn.ckpt'
    run_script('tools/convert_asteroid_dprnn.py', PTH, '--out', str(out))
    with open(tmp_path / 'out' / 'dprnn.json') as f:
        config = json.load(f)
    assert config['model'] == 'dprnn' and config['args']['n_src'] == 3 and config['source'] == PTH
    network = DPRNNTasNet(**config['args'])
    network.set_train(False)
    load_state(network, read_params(str(out)))
    np.testing.assert_allclose(network(ms.Tensor(arrays['__in__.x'])).asnumpy(),
                               arrays['__out__.est_sources'], rtol=1e-4, atol=1e-5)
    # a file of another model: one error line, nothing written
    other = tmp_path / 'other.npz'
    np.savez(other, __meta__=np.array(json.dumps({'model_name': 'ConvTasNet'})), w=np.zeros(1))
    done = run_script('tools/convert_asteroid_dprnn.py', str(other), '--out', str(tmp_path / 'x.ckpt'), ok=False)
    script_error(done, 'ConvTasNet')
    assert not (tmp_path / 'x.ckpt').exists()
