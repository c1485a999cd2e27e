"""Published wav2vec 2.0 weights without torch: every format of tests/data/wav2vec2_fixtures
(tools/make_wav2vec2_fixtures.py) gives the state of the transformers safetensors folder, with
transformers' names and shapes; heads; the one-line refusals (no vocabulary, other
architectures, options the port lacks, damaged files, pickles asking for other classes)."""
import importlib.util
import json
import os
import pickle
import shutil
import zipfile

import numpy as np
import pytest

from src.errors import CheckpointError, UserError
from src.wav2vec2.pretrained import (encoder_state, head_of, network_args_from_fairseq,
                                     parse_conv_feature_layers, read_fairseq_checkpoint,
                                     read_hf_folder, read_pretrained)
from tests.helpers import raises_one_line

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(ROOT, 'tests', 'data')
FIXTURES = os.path.join(DATA, 'wav2vec2_fixtures')
# network kwargs that describe the architecture (the rest are dropouts of the training run)
ARCHITECTURE = ('conv_dim', 'conv_kernel', 'conv_stride', 'conv_bias', 'feat_extract_norm',
                'hidden_size', 'num_hidden_layers', 'num_attention_heads', 'intermediate_size',
                'num_conv_pos_embeddings', 'num_conv_pos_embedding_groups', 'do_stable_layer_norm',
                'layer_norm_eps', 'vocab_size', 'num_codevector_groups', 'num_codevectors_per_group',
                'codevector_dim', 'proj_codevector_dim')


def fixture(name):
    return os.path.join(FIXTURES, name)


@pytest.fixture(scope='module')
def hf_ctc():
    return read_hf_folder(fixture('hf_ctc'))


@pytest.fixture(scope='module')
def hf_pretraining():
    return read_hf_folder(fixture('hf_pretraining'), head=None)


def assert_same_state(state, reference):
    assert list(state) == list(reference) or set(state) == set(reference), set(state) ^ set(reference)
    for key, value in reference.items():
        assert state[key].dtype == np.float32 and state[key].shape == value.shape, key
        np.testing.assert_array_equal(state[key], value, err_msg=key)


def architecture(kwargs):
    return {k: kwargs[k] for k in ARCHITECTURE if k in kwargs}


@pytest.mark.parametrize('source', ['hf_ctc_bin', 'hf_ctc_sharded', 'fairseq_ctc.pt', 'fairseq_ctc_args.pt'])
def test_every_ctc_format_gives_the_safetensors_state(hf_ctc, source):
    args, state, vocab = read_pretrained(fixture(source))
    assert_same_state(state, hf_ctc[1])
    assert architecture(args) == architecture(hf_ctc[0])
    assert args['vocab_size'] == 12
    assert vocab.kind == ('hf_vocab' if source.startswith('hf') else 'fairseq_dict')
    assert os.path.isfile(vocab.path)


@pytest.mark.parametrize('source', ['fairseq_pretraining.pt', 'fairseq_pretraining_legacy.pt'])
def test_every_pretraining_format_gives_the_safetensors_state(hf_pretraining, source):
    args, state, vocab = read_fairseq_checkpoint(fixture(source))
    assert vocab is None
    assert_same_state(state, hf_pretraining[1])
    assert architecture(args) == architecture(hf_pretraining[0])
    # fairseq's training options the transformers config lacks
    assert args['feature_grad_mult'] == 0.1 and args['feat_proj_dropout'] == 0.1


def test_fine_tuning_options_replace_the_pretrained_ones():
    args, _, _ = read_fairseq_checkpoint(fixture('fairseq_ctc.pt'))
    # cfg.model (fine-tuning) over cfg.model.w2v_args.model (pretraining), as fairseq's Wav2VecEncoder
    assert (args['hidden_dropout'], args['activation_dropout'], args['layerdrop'],
            args['feature_grad_mult'], args['final_dropout']) == (0.0, 0.1, 0.1, 0.0, 0.0)


def test_names_and_shapes_are_transformers(hf_ctc, hf_pretraining):
    _, state, _ = hf_ctc
    with np.load(os.path.join(DATA, 'wav2vec2.npz')) as z:   # a transformers Wav2Vec2ForCTC's keys
        reference = json.loads(str(z['__meta__']))['state_keys']

    def patterns(keys):
        return {'.'.join('N' if p.isdigit() else p for p in k.split('.'))
                .replace('parametrizations.weight.original0', 'weight_g')
                .replace('parametrizations.weight.original1', 'weight_v') for k in keys}
    assert patterns(state) == patterns(reference)
    assert state['wav2vec2.encoder.pos_conv_embed.conv.weight_g'].shape == (1, 1, 8)
    assert state['wav2vec2.encoder.pos_conv_embed.conv.weight_v'].shape == (16, 8, 8)   # (C, C/groups, K)
    assert state['wav2vec2.feature_extractor.conv_layers.1.conv.weight'].shape == (8, 8, 3)
    assert state['lm_head.weight'].shape == (12, 16)
    _, pre, _ = hf_pretraining
    assert head_of(pre) == 'pretraining' and head_of(state) == 'ctc'
    assert pre['quantizer.codevectors'].shape == (1, 2 * 8, 16 // 2)
    assert pre['project_hid.weight'].shape == (12, 16) and pre['project_q.weight'].shape == (12, 16)
    assert pre['wav2vec2.feature_extractor.conv_layers.3.layer_norm.bias'].shape == (8,)


def test_heads(hf_ctc, hf_pretraining, tmp_path):
    args, state, vocab = read_hf_folder(fixture('hf_ctc'), head='model')
    assert vocab is None and 'vocab_size' not in args and 'lm_head.weight' not in args
    assert set(state) == {k for k in hf_ctc[1] if k.startswith('wav2vec2.')}
    assert head_of(state) == 'model'
    raises_one_line(CheckpointError, lambda: read_hf_folder(fixture('hf_ctc'), head='pretraining'),
                    'hf_ctc: holds a wav2vec2 ctc model, not a pretraining one', "'model'")
    raises_one_line(CheckpointError, lambda: read_fairseq_checkpoint(fixture('fairseq_pretraining.pt'), head='ctc'),
                    'holds a wav2vec2 pretraining model, not a ctc one')
    _, fairseq_encoder, _ = read_fairseq_checkpoint(fixture('fairseq_ctc.pt'), head='model')
    assert_same_state(fairseq_encoder, state)
    raises_one_line(UserError, lambda: read_hf_folder(fixture('hf_ctc'), head='xvector'), "'xvector'")
    # a bare transformers Wav2Vec2Model: keys without the wav2vec2. prefix
    from safetensors.numpy import save_file
    bare = tmp_path / 'bare'
    bare.mkdir()
    with open(fixture('hf_pretraining/config.json')) as f:
        config = dict(json.load(f), architectures=['Wav2Vec2Model'])
    (bare / 'config.json').write_text(json.dumps(config))
    encoder = encoder_state(hf_pretraining[1])
    encoder = {k.replace('weight_g', 'parametrizations.weight.original0')
               .replace('weight_v', 'parametrizations.weight.original1'): v for k, v in encoder.items()}
    save_file(encoder, str(bare / 'model.safetensors'))
    args, state, vocab = read_hf_folder(str(bare), head=None)
    assert vocab is None and 'num_codevector_groups' not in args
    assert_same_state(state, {k: v for k, v in hf_pretraining[1].items() if k.startswith('wav2vec2.')})


def copy_folder(name, tmp_path, drop=()):
    folder = tmp_path / name
    shutil.copytree(fixture(name), folder)
    for file in drop:
        os.remove(folder / file)
    return str(folder)


def test_a_ctc_folder_needs_a_fitting_vocab(tmp_path):
    folder = copy_folder('hf_ctc', tmp_path, drop=['vocab.json'])
    raises_one_line(CheckpointError, lambda: read_hf_folder(folder), folder,
                    'a CTC model without vocab.json', 'put the model')
    assert read_hf_folder(folder, head='model')[2] is None              # the encoder needs none
    with open(os.path.join(folder, 'vocab.json'), 'w') as f:
        json.dump({'<pad>': 0, 'A': 12}, f)
    raises_one_line(CheckpointError, lambda: read_hf_folder(folder), 'vocab.json', 'ids up to 12',
                    '12 outputs')
    with open(os.path.join(folder, 'vocab.json'), 'w') as f:
        json.dump({'en': {'<pad>': 0}}, f)
    raises_one_line(CheckpointError, lambda: read_hf_folder(folder), 'a vocabulary per language')


def test_a_fine_tuned_checkpoint_needs_its_dictionary(tmp_path):
    path = tmp_path / 'ft.pt'
    shutil.copy(fixture('fairseq_ctc.pt'), path)
    raises_one_line(CheckpointError, lambda: read_fairseq_checkpoint(str(path)), str(path),
                    'dict.ltr.txt', '--dictionary')
    _, _, vocab = read_fairseq_checkpoint(str(path), dictionary=fixture('dict.ltr.txt'))
    assert vocab.path == fixture('dict.ltr.txt')
    short = tmp_path / 'dict.ltr.txt'
    short.write_text('| 10\nE 5\n')
    raises_one_line(CheckpointError, lambda: read_fairseq_checkpoint(str(path)), str(short),
                    '2 symbols + 4 specials', '12 outputs')


def test_missing_files_are_one_line_errors(tmp_path):
    raises_one_line(UserError, lambda: read_hf_folder(str(tmp_path / 'nowhere')), 'no such folder')
    raises_one_line(UserError, lambda: read_pretrained(str(tmp_path / 'nowhere.pt')), 'no such file')
    folder = copy_folder('hf_ctc', tmp_path, drop=['config.json'])
    raises_one_line(CheckpointError, lambda: read_hf_folder(folder), folder, 'no config.json')
    folder = copy_folder('hf_pretraining', tmp_path, drop=['model.safetensors'])
    raises_one_line(CheckpointError, lambda: read_hf_folder(folder), folder, 'no weights',
                    'model.safetensors or')
    folder = copy_folder('hf_ctc_sharded', tmp_path, drop=['model-00002-of-00002.safetensors'])
    raises_one_line(CheckpointError, lambda: read_hf_folder(folder), 'shard model-00002-of-00002'
                    '.safetensors is missing')


def test_damaged_files_are_one_line_errors(tmp_path):
    folder = copy_folder('hf_ctc', tmp_path)
    weights = os.path.join(folder, 'model.safetensors')
    with open(weights, 'r+b') as f:
        f.truncate(os.path.getsize(weights) // 2)
    raises_one_line(CheckpointError, lambda: read_hf_folder(folder), weights, 'unreadable safetensors')
    folder = copy_folder('hf_ctc_bin', tmp_path)
    weights = os.path.join(folder, 'pytorch_model.bin')
    with open(weights, 'r+b') as f:
        f.truncate(5000)
    raises_one_line(CheckpointError, lambda: read_hf_folder(folder), weights, 'damaged torch file')
    for name in ('fairseq_pretraining.pt', 'fairseq_pretraining_legacy.pt'):
        path = tmp_path / name
        path.write_bytes(open(fixture(name), 'rb').read()[:20000])
        raises_one_line(CheckpointError, lambda: read_fairseq_checkpoint(str(path)), str(path), 'damaged')
    text = tmp_path / 'notes.pt'
    text.write_text('not a checkpoint')
    raises_one_line(CheckpointError, lambda: read_fairseq_checkpoint(str(text)), 'not a torch file')


def torch_zip(path, obj):
    """A torch >= 1.6 file of ``obj`` (no tensors), written without torch."""
    with zipfile.ZipFile(path, 'w') as archive:
        archive.writestr('checkpoint/data.pkl', pickle.dumps(obj, protocol=2))
    return str(path)


@pytest.mark.parametrize('name, what', [('hubert', 'HuBERT'), ('data2vec_audio', 'data2vec audio'),
                                        ('wav2vec', 'wav2vec (1.0)'), ('transformer', "'transformer'")])
def test_other_fairseq_architectures_are_named(tmp_path, name, what):
    path = torch_zip(tmp_path / 'other.pt', {'cfg': {'model': {'_name': name}}, 'model': {}})
    raises_one_line(CheckpointError, lambda: read_fairseq_checkpoint(path), path,
                    f'a fairseq {what} model, not wav2vec 2.0')
    import argparse
    legacy = torch_zip(tmp_path / 'legacy.pt', {'args': argparse.Namespace(arch=name), 'model': {}})
    raises_one_line(CheckpointError, lambda: read_fairseq_checkpoint(legacy), f'a fairseq {what} model')
    # a fine-tuned model of another pretrained architecture
    tuned = torch_zip(tmp_path / 'tuned.pt', {'cfg': {'model': {'_name': 'wav2vec_ctc', 'w2v_args': {
        'model': {'_name': name}}}}, 'model': {}})
    raises_one_line(CheckpointError, lambda: read_fairseq_checkpoint(tuned), f'a fairseq {what} model')


def test_other_hf_architectures_are_named(tmp_path):
    folder = copy_folder('hf_ctc', tmp_path)
    config_path = os.path.join(folder, 'config.json')
    with open(config_path) as f:
        config = json.load(f)
    with open(config_path, 'w') as f:
        json.dump(dict(config, architectures=['Wav2Vec2ForSequenceClassification']), f)
    raises_one_line(CheckpointError, lambda: read_hf_folder(folder), 'a Wav2Vec2ForSequenceClassification')
    with open(config_path, 'w') as f:
        json.dump(dict(config, model_type='hubert', architectures=['HubertForCTC']), f)
    raises_one_line(CheckpointError, lambda: read_hf_folder(folder), 'a HubertForCTC; the port has')
    with open(config_path, 'w') as f:
        json.dump(dict(config, model_type='hubert', architectures=None), f)
    raises_one_line(CheckpointError, lambda: read_hf_folder(folder), "model_type 'hubert' is not wav2vec2")


def test_weights_of_another_layout_are_named(tmp_path):
    path = torch_zip(tmp_path / 'x.pt', {'cfg': {'model': {'_name': 'wav2vec2', 'quantize_targets': True}},
                                         'model': {'encoder.pos_conv.0.0.weight': np.zeros(3, np.float32),
                                                   'mask_emb': np.zeros(3, np.float32)}})
    raises_one_line(CheckpointError, lambda: read_fairseq_checkpoint(path), path,
                    '1 weights wav2vec 2.0 does not have (encoder.pos_conv.0.0.weight)')


def test_configs_are_read_as_plain_containers_only(tmp_path):
    class DictConfig(dict):   # stands for omegaconf's, pickled by reference
        pass
    DictConfig.__module__, DictConfig.__qualname__ = 'omegaconf.dictconfig', 'DictConfig'
    import sys
    import types
    package, module = types.ModuleType('omegaconf'), types.ModuleType('omegaconf.dictconfig')
    package.dictconfig, module.DictConfig = module, DictConfig
    sys.modules.update({'omegaconf': package, 'omegaconf.dictconfig': module})
    try:
        path = torch_zip(tmp_path / 'omega.pt', {'cfg': DictConfig(model={'_name': 'wav2vec2'}), 'model': {}})
    finally:
        del sys.modules['omegaconf'], sys.modules['omegaconf.dictconfig']
    raises_one_line(CheckpointError, lambda: read_fairseq_checkpoint(path), path,
                    'omegaconf.dictconfig.DictConfig', 'refused')
    raises_one_line(CheckpointError, lambda: read_fairseq_checkpoint(torch_zip(tmp_path / 'n.pt', {'model': {}})),
                    'no model config')


def test_conv_feature_layers_are_parsed_without_eval():
    base = "[(512, 10, 5)] + [(512, 3, 2)] * 4 + [(512,2,2)] + [(512,2,2)]"
    assert parse_conv_feature_layers(base) == ((512, 10, 5),) + ((512, 3, 2),) * 4 + ((512, 2, 2),) * 2
    assert parse_conv_feature_layers("[(8, 10, 5)] + 2 * [(8, 3, 2)]") == ((8, 10, 5), (8, 3, 2), (8, 3, 2))
    for bad in ("__import__('os').system('touch pwned')", "[(512, 10, 5)] * 10**9", "[(512, 10)]",
                "[(512, 10, 5)] - [(1, 1, 1)]", "[(0, 3, 2)]"):
        raises_one_line(CheckpointError, lambda: parse_conv_feature_layers(bad, 'x.pt'), 'x.pt: conv_feature_layers')
    assert not os.path.exists('pwned')


def test_fairseq_options_the_port_lacks_are_refused():
    args = network_args_from_fairseq({'_name': 'wav2vec2'}, 'model')     # fairseq's defaults: BASE
    assert args['conv_dim'] == (512,) * 7 and args['conv_stride'] == (5, 2, 2, 2, 2, 2, 2)
    assert args['hidden_size'] == 768 and args['feat_extract_norm'] == 'group'
    for option, value in (('layer_type', 'conformer'), ('pos_conv_depth', 5), ('activation_fn', 'relu'),
                          ('target_glu', True), ('extractor_mode', 'other')):
        raises_one_line(CheckpointError, lambda: network_args_from_fairseq({option: value}, 'model', 'x.pt'),
                        'x.pt', option)
    raises_one_line(CheckpointError, lambda: network_args_from_fairseq({'quantize_targets': False}, 'pretraining'),
                    'quantize_targets=False')
    large = network_args_from_fairseq({'extractor_mode': 'layer_norm', 'layer_norm_first': True,
                                       'encoder_embed_dim': 1024, 'final_dim': 768, 'latent_dim': 0,
                                       'quantize_targets': True}, 'pretraining')
    assert large['feat_extract_norm'] == 'layer' and large['do_stable_layer_norm'] is True
    assert large['codevector_dim'] == 768 and large['proj_codevector_dim'] == 768


def load_tool():
    spec = importlib.util.spec_from_file_location(
        'convert_wav2vec2', os.path.join(ROOT, 'tools', 'convert_wav2vec2.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


def test_converter_tool_refuses_in_one_line_and_writes_nothing(tmp_path, capsys):
    tool = load_tool()
    folder = copy_folder('hf_ctc', tmp_path, drop=['vocab.json'])
    out = tmp_path / 'out' / 'w2v.ckpt'
    assert tool.main([folder, '--out', str(out)]) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith('error:')]
    assert len(lines) == 1 and 'vocab.json' in lines[0]
    assert tool.main([fixture('hf_ctc'), '--out', str(tmp_path / 'w2v.pt')]) == 2
    assert '*.ckpt' in capsys.readouterr().err
    assert not (tmp_path / 'out').exists() and not list(tmp_path.glob('w2v*'))
