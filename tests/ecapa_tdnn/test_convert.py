"""speechbrain ECAPA-TDNN state dicts -> this network: names, layouts, inferred configs, errors, CLI.

Synthetic speechbrain state dicts come from :func:`speechbrain_state`, written from speechbrain's
module structure (and checked against the real key list of the reference bundle), so that
configurations the bundle does not cover (shortcut convolutions, groups, no global context)
are converted too.
"""
import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import mindspore as ms

from src.ecapa_tdnn.convert import (convert_key, convert_speechbrain_state, ecapa_hparams_from_yaml,
                                    infer_ecapa_config, load_state_into)
from src.ecapa_tdnn.network import EcapaTdnn
from src.errors import CheckpointError, ConfigError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUNDLE = os.path.join(ROOT, 'tests', 'data', 'ecapa_tdnn.npz')
TOOL = os.path.join(ROOT, 'tools', 'convert_speechbrain_ecapa.py')
BUNDLE_CONFIG = dict(input_size=80, channels=[64, 64, 64, 64, 192], kernel_sizes=[5, 3, 3, 3, 1],
                     dilations=[1, 2, 3, 4, 1], attention_channels=128, res2net_scale=8,
                     se_channels=128, global_context=True, groups=[1, 1, 1, 1, 1], lin_neurons=32)
VARIANT = dict(input_size=24, channels=[16, 32, 32, 48], kernel_sizes=[3, 5, 3, 1],
               dilations=[1, 2, 3, 1], attention_channels=8, res2net_scale=4, se_channels=4,
               global_context=False, groups=[1, 2, 4, 2], lin_neurons=12)


def speechbrain_state(input_size, channels, kernel_sizes, attention_channels, res2net_scale,
                      se_channels, global_context, groups, lin_neurons, dilations=None, seed=0):
    """A state dict shaped like speechbrain's ECAPA_TDNN(...).state_dict(), random values."""
    rng = np.random.default_rng(seed)
    state = {}

    def conv(path, cin, cout, k, g=1):      # speechbrain Conv1d wrapper at ``path``
        state[f'{path}.conv.weight'] = rng.standard_normal((cout, cin // g, k)).astype(np.float32)
        state[f'{path}.conv.bias'] = rng.standard_normal(cout).astype(np.float32)

    def norm(path, c):                      # speechbrain BatchNorm1d wrapper at ``path``
        for field in ('weight', 'bias', 'running_mean'):
            state[f'{path}.norm.{field}'] = rng.standard_normal(c).astype(np.float32)
        state[f'{path}.norm.running_var'] = rng.uniform(0.5, 1.5, c).astype(np.float32)
        state[f'{path}.norm.num_batches_tracked'] = np.array(7, np.int64)

    def tdnn(path, cin, cout, k, g=1):
        conv(f'{path}.conv', cin, cout, k, g)
        norm(f'{path}.norm', cout)

    tdnn('blocks.0', input_size, channels[0], kernel_sizes[0], groups[0])
    for i in range(1, len(channels) - 1):
        block, cin, c = f'blocks.{i}', channels[i - 1], channels[i]
        tdnn(f'{block}.tdnn1', cin, c, 1, groups[i])
        for j in range(res2net_scale - 1):
            tdnn(f'{block}.res2net_block.blocks.{j}', c // res2net_scale, c // res2net_scale,
                 kernel_sizes[i])
        tdnn(f'{block}.tdnn2', c, c, 1, groups[i])
        conv(f'{block}.se_block.conv1', c, se_channels, 1)
        conv(f'{block}.se_block.conv2', se_channels, c, 1)
        if cin != c:
            conv(f'{block}.shortcut', cin, c, 1)
    tdnn('mfa', channels[-2] * (len(channels) - 2), channels[-1], kernel_sizes[-1], groups[-1])
    tdnn('asp.tdnn', channels[-1] * (3 if global_context else 1), attention_channels, 1)
    conv('asp.conv', attention_channels, channels[-1], 1)
    norm('asp_bn', channels[-1] * 2)
    conv('fc', channels[-1] * 2, lin_neurons, 1)
    return state


@pytest.fixture(scope='module')
def bundle():
    z = np.load(BUNDLE)
    meta = json.loads(str(z['__meta__']))
    state = {k: z[k] for k in meta['state_keys']}
    return {'embedding': {k: v for k, v in state.items() if not k.startswith('classifier.')},
            'classifier': state['classifier.weight'], 'x': z['__in__.x'],
            'embedding_out': z['__out__.embedding']}


def test_the_synthetic_layout_is_speechbrains(bundle):
    synthetic = speechbrain_state(**BUNDLE_CONFIG)
    assert list(synthetic) == list(bundle['embedding'])          # same keys, same order
    for key, value in bundle['embedding'].items():
        assert synthetic[key].shape == value.shape, key


@pytest.mark.parametrize('key, expected', [
    ('blocks.0.conv.conv.weight', 'blocks.0.conv.weight'),
    ('blocks.3.res2net_block.blocks.6.norm.norm.running_var',
     'blocks.3.res2net_block.blocks.6.norm.moving_variance'),
    ('blocks.1.tdnn2.norm.norm.weight', 'blocks.1.tdnn2.norm.gamma'),
    ('blocks.2.se_block.conv1.conv.bias', 'blocks.2.se_block.conv1.bias'),
    ('blocks.1.shortcut.conv.weight', 'blocks.1.shortcut.weight'),
    ('asp.tdnn.norm.norm.running_mean', 'asp.tdnn.norm.moving_mean'),
    ('asp_bn.norm.bias', 'asp_bn.beta'),
    ('fc.conv.weight', 'fc.weight'),
    ('weight', 'weight'),
    ('mfa.norm.norm.num_batches_tracked', None),
])
def test_key_renaming(key, expected):
    assert convert_key(key) == expected


def test_bundle_converts_onto_every_network_parameter(bundle):
    state = bundle['embedding']
    converted = convert_speechbrain_state(state)
    net = EcapaTdnn(**infer_ecapa_config(state))
    names = {n: p for n, p in net.parameters_and_names()}
    assert set(converted) == set(names)
    assert len(converted) == len(state) - 31                      # num_batches_tracked dropped
    np.testing.assert_array_equal(converted['blocks.0.conv.weight'],
                                  state['blocks.0.conv.conv.weight'][:, :, None, :])
    np.testing.assert_array_equal(converted['asp_bn.moving_variance'], state['asp_bn.norm.running_var'])
    load_state_into(net, converted)
    np.testing.assert_array_equal(net.mfa.norm.gamma.asnumpy(), state['mfa.norm.norm.weight'])
    net.set_train(False)
    out = net(ms.Tensor(bundle['x'])).asnumpy()
    np.testing.assert_allclose(out, bundle['embedding_out'], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize('config', [BUNDLE_CONFIG, VARIANT], ids=['bundle', 'variant'])
def test_config_is_inferred_from_shapes(config):
    state = speechbrain_state(**config)
    inferred = infer_ecapa_config(state)
    expected = dict(config, dilations=[1] + list(range(2, len(config['channels']))) + [1])
    assert inferred == expected
    net = EcapaTdnn(**inferred)
    load_state_into(net, convert_speechbrain_state(state))       # every name and shape fits
    assert net.blocks[1].has_shortcut == (config['channels'][0] != config['channels'][1])


def test_hparams_give_dilations_and_must_agree_with_the_shapes():
    state = speechbrain_state(**VARIANT)
    assert infer_ecapa_config(state, {'dilations': [1, 3, 5, 1]})['dilations'] == [1, 3, 5, 1]
    with pytest.raises(CheckpointError, match=r'lin_neurons=192 disagrees .*lin_neurons=12'):
        infer_ecapa_config(state, {'lin_neurons': 192})


def test_prefix_map_places_embedding_and_head(bundle):
    state = dict(bundle['embedding'], **{'classifier.weight': bundle['classifier']})
    converted = convert_speechbrain_state(state, {'': 'network.', 'classifier.': 'head.'})
    assert converted['head.weight'].shape == (10, 32)
    assert 'network.fc.weight' in converted and 'weight' not in converted
    with pytest.raises(CheckpointError, match=r"'classifier.weight'"):
        convert_speechbrain_state(state)                          # no prefix for the head
    with pytest.raises(CheckpointError, match='both map to'):
        convert_speechbrain_state({'a.weight': bundle['classifier'], 'weight': bundle['classifier']},
                                  {'': '', 'a.': ''})


def test_unknown_keys_are_named():
    with pytest.raises(CheckpointError, match=r"'blocks.1.tdnn1.conv.conv.kernel'"):
        convert_key('blocks.1.tdnn1.conv.conv.kernel')
    with pytest.raises(CheckpointError, match=r"'encoder.layers.0.weight'"):
        convert_speechbrain_state({'encoder.layers.0.weight': np.zeros(3, np.float32)})


def test_load_errors_name_missing_unexpected_and_mismatched(bundle):
    converted = convert_speechbrain_state(bundle['embedding'])
    net = EcapaTdnn(**infer_ecapa_config(bundle['embedding']))
    incomplete = dict(converted)
    del incomplete['blocks.2.tdnn1.conv.weight']
    incomplete['blocks.9.extra'] = np.zeros(2, np.float32)
    with pytest.raises(CheckpointError,
                       match=r'missing: blocks.2.tdnn1.conv.weight.*unexpected: blocks.9.extra'):
        load_state_into(net, incomplete)
    smaller = EcapaTdnn(**dict(BUNDLE_CONFIG, lin_neurons=16))
    with pytest.raises(CheckpointError, match=r'fc.weight \(32, 384, 1, 1\) vs \(16, 384, 1, 1\)'):
        load_state_into(smaller, converted)
    with pytest.raises(CheckpointError, match=r"missing key 'mfa.conv.conv.weight'"):
        infer_ecapa_config({k: v for k, v in bundle['embedding'].items() if not k.startswith('mfa.')})


HPARAMS_TEMPLATE = """
n_mels: {input_size}
emb_dim: {lin_neurons}
compute_features: !new:speechbrain.lobes.features.Fbank
    n_mels: !ref <n_mels>
embedding_model: !new:speechbrain.lobes.models.ECAPA_TDNN.ECAPA_TDNN
    input_size: !ref <n_mels>
    activation: !name:torch.nn.ReLU
    channels: {channels}
    kernel_sizes: {kernel_sizes}
    dilations: {dilations}
    groups: {groups}
    attention_channels: {attention_channels}
    se_channels: {se_channels}
    res2net_scale: {res2net_scale}
    global_context: {global_context}
    lin_neurons: !ref <emb_dim>
pretrainer: !new:speechbrain.utils.parameter_transfer.Pretrainer
    loadables:
        embedding_model: !ref <embedding_model>
"""


def hparams_yaml(config):
    """A speechbrain-style hyperparams.yaml that builds ECAPA_TDNN(**config), with !ref values."""
    return HPARAMS_TEMPLATE.format(**config)


def test_hyperparams_yaml_is_read_without_speechbrain():
    variant = dict(VARIANT, dilations=[1, 2, 4, 1])
    text = hparams_yaml(variant)
    assert ecapa_hparams_from_yaml(text) == variant
    with pytest.raises(ConfigError, match=r'lin_neurons.*!ref'):
        ecapa_hparams_from_yaml(text.replace('!ref <emb_dim>', '!ref <emb_dim> * 2'))
    with pytest.raises(ConfigError, match='no .*ECAPA_TDNN'):
        ecapa_hparams_from_yaml('n_mels: 80\n')


def run_tool(*args):
    return subprocess.run([sys.executable, TOOL, *args], capture_output=True, text=True, cwd=ROOT,
                          env=dict(os.environ, GLOG_v='3'), timeout=300)


def test_tool_converts_npz_state_dicts_end_to_end(bundle, tmp_path):
    np.savez(tmp_path / 'embedding_model.npz', **bundle['embedding'])
    np.savez(tmp_path / 'classifier.npz', weight=bundle['classifier'])
    (tmp_path / 'hyperparams.yaml').write_text(hparams_yaml(BUNDLE_CONFIG))
    out = tmp_path / 'out' / 'model.ckpt'
    result = run_tool('--embedding', str(tmp_path / 'embedding_model.npz'),
                      '--classifier', str(tmp_path / 'classifier.npz'),
                      '--hparams', str(tmp_path / 'hyperparams.yaml'), '--out', str(out))
    assert result.returncode == 0, result.stderr
    assert '10 classes' in result.stdout
    config = json.loads((tmp_path / 'out' / 'model.json').read_text())
    assert config['args'] == BUNDLE_CONFIG and config['num_classes'] == 10
    params = {k: v.asnumpy() for k, v in ms.load_checkpoint(str(out)).items()}
    np.testing.assert_array_equal(params.pop('head.weight'), bundle['classifier'])
    net = EcapaTdnn(**config['args'])
    load_state_into(net, params)
    net.set_train(False)
    np.testing.assert_allclose(net(ms.Tensor(bundle['x'])).asnumpy(), bundle['embedding_out'],
                               rtol=1e-4, atol=1e-5)


def test_tool_errors_are_one_line(bundle, tmp_path):
    np.savez(tmp_path / 'embedding_model.npz', **bundle['embedding'])
    result = run_tool('--embedding', str(tmp_path / 'embedding_model.npz'),
                      '--out', str(tmp_path / 'model.bin'))
    assert result.returncode == 2 and result.stderr.startswith('error: --out')
    assert '*.ckpt' in result.stderr
    np.savez(tmp_path / 'wrong.npz', **{'classifier.weight': bundle['classifier']})
    result = run_tool('--embedding', str(tmp_path / 'wrong.npz'), '--out', str(tmp_path / 'model.ckpt'))
    assert result.returncode == 2 and 'blocks' in result.stderr and len(result.stderr.splitlines()) == 1
    if importlib.util.find_spec('torch') is None:       # torch files need torch: say so
        (tmp_path / 'embedding_model.ckpt').write_bytes(b'not read')
        result = run_tool('--embedding', str(tmp_path / 'embedding_model.ckpt'),
                          '--out', str(tmp_path / 'm.ckpt'))
        assert result.returncode == 2 and 'pip install torch' in result.stderr
        assert '.npz' in result.stderr


def test_recipe_loads_speechbrain_weights_as_model_pretrained(bundle, tmp_path):
    # model.pretrained=embedding_model.ckpt (here its .npz): converted on the fly, every
    # parameter filled, the same embeddings as speechbrain's
    from src.config import build_config
    from src.recipes import get_recipe
    path = str(tmp_path / 'embedding_model.npz')
    np.savez(path, **bundle['embedding'])
    recipe = get_recipe('ecapa_tdnn')
    cfg = build_config({'model': {'name': 'ecapa_tdnn', 'args': infer_ecapa_config(bundle['embedding'])}})
    net = recipe.build_network(cfg)
    assert recipe.load_pretrained(net, path) == []
    net.set_train(False)
    np.testing.assert_allclose(net(ms.Tensor(bundle['x'])).asnumpy(), bundle['embedding_out'],
                               rtol=1e-4, atol=1e-5)
    # a MindSpore checkpoint of the same network goes through the shared name/shape loader
    from src.checkpoint import save_params
    ckpt = str(tmp_path / 'net.ckpt')
    save_params({n: p.asnumpy() for n, p in net.parameters_and_names()}, ckpt)
    other = recipe.build_network(cfg)
    assert recipe.load_pretrained(other, ckpt) == []
    other.set_train(False)
    np.testing.assert_allclose(other(ms.Tensor(bundle['x'])).asnumpy(), bundle['embedding_out'],
                               rtol=1e-4, atol=1e-5)


def test_recipe_refuses_a_checkpoint_that_fills_part_of_the_network(bundle, tmp_path):
    # ECAPA is used whole: one fitting tensor, or a checkpoint of another width, is an error
    from src.checkpoint import save_params
    from src.config import build_config
    from src.recipes import get_recipe
    recipe = get_recipe('ecapa_tdnn')
    cfg = build_config({'model': {'name': 'ecapa_tdnn', 'args': infer_ecapa_config(bundle['embedding'])}})
    net = recipe.build_network(cfg)
    state = {n: p.asnumpy() for n, p in net.parameters_and_names()}
    one = str(tmp_path / 'one.ckpt')
    save_params({'blocks.0.conv.weight': state['blocks.0.conv.weight']}, one)
    with pytest.raises(CheckpointError) as info:
        recipe.load_pretrained(recipe.build_network(cfg), one)
    assert '\n' not in str(info.value)
    assert f"{len(state) - 1} of {len(state)} parameters do not load" in str(info.value)
    resized = str(tmp_path / 'resized.ckpt')
    state['fc.weight'] = np.zeros((7,) + state['fc.weight'].shape[1:], np.float32)
    save_params(state, resized)
    with pytest.raises(CheckpointError, match=r'1 of \d+ parameters do not load.*fc\.weight \(7, '):
        recipe.load_pretrained(recipe.build_network(cfg), resized)


def test_export_length_of_seconds_is_the_fbank_frame_count():
    # export.py --fixed_seconds S: the static input holds the frames of S seconds of audio
    from src.audio import Fbank
    from src.config import build_config
    from src.recipes import get_recipe
    cfg = build_config({'model': {'name': 'ecapa_tdnn'}})
    recipe = get_recipe('ecapa_tdnn')
    assert recipe.input_length(cfg, 3.0) == Fbank()(np.zeros(48000, np.float32)).shape[0] == 301
    assert recipe.input_length(cfg, 0.0) == 0
    assert get_recipe('panns_cnn6').input_length(build_config({'model': {'name': 'panns_cnn6'}}), 5) == 160000
