"""PANNs converter: key map, architecture inference, wrong-architecture and new-head loading, CLI tool."""
import json
import os

import numpy as np
import pytest

import mindspore as ms

from src.errors import CheckpointError
from src.panns.convert import convert_panns_state, infer_panns_config, load_panns_state
from src.panns.network import Cnn6, Cnn10

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUNDLE = os.path.join(ROOT, 'tests', 'data', 'panns_cnn6.npz')
KEYS = '/work/shared/reference/keys/panns_{}_full_keys.tsv'


@pytest.fixture(scope='module')
def bundle_state():
    with np.load(BUNDLE) as z:
        meta = json.loads(str(z['__meta__']))
        return {k: z[k] for k in meta['state_keys']}


def shapes_only_state(name):
    """{key: zero-size-in-memory array of the listed shape} from a reference key list."""
    path = KEYS.format(name)
    if not os.path.isfile(path):
        pytest.skip(f"{path} not available")
    state = {}
    with open(path) as f:
        next(f)
        for line in f:
            key, shape, _dtype, _kind = line.rstrip('\n').split('\t')
            state[key] = np.broadcast_to(np.float32(0), tuple(json.loads(shape)))
    return state


def test_converted_names_are_the_network_parameters(bundle_state):
    converted = convert_panns_state(bundle_state)
    net = Cnn6(classes_num=50)
    assert set(converted) == {name for name, _ in net.parameters_and_names()}
    for name, p in net.parameters_and_names():
        assert converted[name].shape == tuple(p.shape), name
    stft = converted['spectrogram_extractor.conv.weight']
    np.testing.assert_array_equal(stft[:513, :, 0], bundle_state['spectrogram_extractor.stft.conv_real.weight'])
    np.testing.assert_array_equal(stft[513:, :, 0], bundle_state['spectrogram_extractor.stft.conv_imag.weight'])
    np.testing.assert_array_equal(converted['conv_block2.bn1.moving_variance'],
                                  bundle_state['conv_block2.bn1.running_var'])
    np.testing.assert_array_equal(converted['bn0.gamma'], bundle_state['bn0.weight'])
    assert not any('num_batches_tracked' in k for k in converted)


def test_torchlibrosa_kernels_equal_our_stft_basis(bundle_state):
    # the frozen front end built from scratch equals the checkpoint's (so a backbone-only
    # checkpoint without them would still be exact)
    converted = convert_panns_state(bundle_state)
    net = Cnn6(classes_num=50)
    np.testing.assert_allclose(net.spectrogram_extractor.conv.weight.asnumpy(),
                               converted['spectrogram_extractor.conv.weight'], atol=1e-6)
    np.testing.assert_allclose(net.logmel_extractor.melW.asnumpy(),
                               converted['logmel_extractor.melW'], atol=1e-7)


@pytest.mark.parametrize('name,architecture,classes', [
    ('cnn14', 'cnn14', 527), ('cnn14_50cls', 'cnn14', 50), ('cnn10', 'cnn10', 527),
    ('cnn6', 'cnn6', 527)])
def test_infer_config_from_reference_key_lists(name, architecture, classes):
    config = infer_panns_config(shapes_only_state(name))
    assert config == {'architecture': architecture, 'classes_num': classes, 'mel_bins': 64,
                      'window_size': 1024}
    # the converted names give the same answer
    assert infer_panns_config(convert_panns_state(shapes_only_state(name)))['architecture'] == architecture


def test_loading_keeps_every_value(bundle_state):
    net = Cnn6(classes_num=50)
    assert load_panns_state(net, bundle_state) == []
    converted = convert_panns_state(bundle_state)
    for name, p in net.parameters_and_names():
        np.testing.assert_array_equal(p.asnumpy(), converted[name])


def test_other_architecture_is_a_clear_error(bundle_state):
    with pytest.raises(CheckpointError, match=r'holds a PANNs Cnn6, the network is Cnn10: build Cnn6'):
        load_panns_state(Cnn10(classes_num=50), bundle_state)
    with pytest.raises(CheckpointError, match=r'holds a PANNs Cnn10, the network is Cnn6'):
        load_panns_state(Cnn6(), shapes_only_state('cnn10'))


def test_other_class_count_keeps_the_backbone_and_a_fresh_head(bundle_state):
    ms.set_seed(0)
    net = Cnn6(classes_num=7)
    head_before = net.fc_audioset.weight.asnumpy().copy()
    skipped = load_panns_state(net, bundle_state)
    assert skipped == ['fc_audioset.weight', 'fc_audioset.bias']
    np.testing.assert_array_equal(net.fc_audioset.weight.asnumpy(), head_before)
    np.testing.assert_array_equal(net.fc1.weight.asnumpy(), bundle_state['fc1.weight'])
    np.testing.assert_array_equal(net.conv_block4.conv1.weight.asnumpy(),
                                  bundle_state['conv_block4.conv1.weight'])


def test_foreign_or_incomplete_keys_are_errors(bundle_state):
    with pytest.raises(CheckpointError, match=r"unexpected key 'att_block.att.weight'"):
        convert_panns_state(dict(bundle_state, **{'att_block.att.weight': np.zeros(1)}))
    without_imag = {k: v for k, v in bundle_state.items() if 'conv_imag' not in k}
    with pytest.raises(CheckpointError, match='both STFT kernels'):
        convert_panns_state(without_imag)
    without_bn = {k: v for k, v in bundle_state.items() if k != 'conv_block3.bn1.running_mean'}
    with pytest.raises(CheckpointError, match=r'missing: conv_block3\.bn1\.moving_mean'):
        load_panns_state(Cnn6(classes_num=50), without_bn)


def test_convert_tool_writes_a_loadable_checkpoint(tmp_path, capsys):
    import importlib.util
    spec = importlib.util.spec_from_file_location('convert_panns', os.path.join(ROOT, 'tools', 'convert_panns.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    out = tmp_path / 'cnn6.ckpt'
    assert tool.main([BUNDLE, '--out', str(out), '--classes-num', '5']) == 0
    assert 'fc_audioset.weight, fc_audioset.bias freshly initialised' in capsys.readouterr().out
    config = json.loads((tmp_path / 'cnn6.json').read_text())
    assert config['architecture'] == 'cnn6' and config['args']['classes_num'] == 5
    assert config['checkpoint_classes_num'] == 50
    assert config['args']['sample_rate'] == 32000 and config['args']['hop_size'] == 320  # from the window
    net = Cnn6(**config['args'])
    assert ms.load_param_into_net(net, ms.load_checkpoint(str(out)), strict_load=True) in ([], ([], []))
    with np.load(BUNDLE) as z:
        np.testing.assert_array_equal(net.conv_block1.conv1.weight.asnumpy(), z['conv_block1.conv1.weight'])
    assert tool.main([str(tmp_path / 'missing.pth'), '--out', str(out)]) == 2
    assert 'missing.pth: no such file' in capsys.readouterr().err
