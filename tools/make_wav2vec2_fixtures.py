"""Write tests/data/wav2vec2_fixtures/: tiny wav2vec 2.0 models in every pretrained-weights format
the port reads (run with torch and transformers).

    /path/to/torch-venv/bin/python tools/make_wav2vec2_fixtures.py [--out tests/data/wav2vec2_fixtures]

Needs torch and transformers 5.x (fairseq is not needed: its checkpoints are imitated). Not part
of the project's environment: the tests only read what this writes.

Two tiny seeded transformers models (``torch.manual_seed(0)`` default init, then every parameter
the init leaves constant - norm gains and biases - plus ``0.1 * N(0, 1)``, so that a mix-up of
such tensors shows): :data:`CTC` (``Wav2Vec2ForCTC``, group-norm feature encoder, post-norm
transformer, 12 letters) and :data:`PRETRAINING` (``Wav2Vec2ForPreTraining``, layer-norm feature
encoder with conv biases, pre-norm transformer as wav2vec 2.0 LARGE, 2 x 8 codevectors). Written:

* ``hf_ctc/``: ``save_pretrained`` (config.json, model.safetensors; transformers 5 names the
  positional conv's weight norm ``parametrizations.weight.original0/1``) + vocab.json;
* ``hf_ctc_bin/``: the same model as ``pytorch_model.bin`` (``torch.save`` of the state dict,
  weight norm renamed ``weight_g``/``weight_v`` as transformers < 4.3x saved it);
* ``hf_ctc_sharded/``: ``save_pretrained(max_shard_size=...)``: model.safetensors.index.json and
  its shards;
* ``hf_pretraining/``: the pretraining model, ``save_pretrained``;
* ``fairseq_pretraining.pt``: the pretraining weights under fairseq's ``Wav2Vec2Model`` keys (the
  inverse of transformers' convert_wav2vec2_original_pytorch_checkpoint_to_pytorch.py mapping)
  in a fairseq >= 0.10 checkpoint: ``{'cfg': {'model': {...}, 'task': {...}, ...}, 'model': ...}``,
  the config plain dicts and lists (``OmegaConf.to_container``);
* ``fairseq_pretraining_legacy.pt``: the same weights as fairseq < 0.10 saved them: ``{'args':
  argparse.Namespace(...), 'model': ...}`` in torch's pre-1.6 (non-zip) format;
* ``fairseq_ctc.pt``: the CTC weights as a fine-tuned ``wav2vec_ctc`` checkpoint
  (``w2v_encoder.w2v_model.*`` + ``w2v_encoder.proj``; the wav2vec2 config in
  ``cfg['model']['w2v_args']['model']``) and ``dict.ltr.txt`` beside it;
* ``fairseq_ctc_args.pt``: the same as fairseq < 0.10: ``args`` with ``w2v_args`` Namespaces;
* ``outputs.npz``: the transformers models' outputs (eval mode, float32) on fixed inputs:
  ``ctc.*`` (input_values (2, 1600), attention_mask (row 1: 1200 real samples), logits with and
  without the mask) and ``pretraining.*`` (input_values, mask_time_indices, last_hidden_state,
  extract_features, projected_states, projected_quantized_states, codevector_perplexity).
"""
import argparse
import json
import os
import shutil

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PERTURB = 0.1
SMALL = dict(hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=24,
             conv_dim=(8, 8, 8, 8), conv_kernel=(10, 3, 3, 2), conv_stride=(5, 2, 2, 2),
             num_conv_pos_embeddings=8, num_conv_pos_embedding_groups=2)
CTC = dict(SMALL, feat_extract_norm='group', do_stable_layer_norm=False, conv_bias=False,
           vocab_size=12, pad_token_id=0, bos_token_id=1, eos_token_id=2, layerdrop=0.05,
           final_dropout=0.0, architectures=['Wav2Vec2ForCTC'])
PRETRAINING = dict(SMALL, feat_extract_norm='layer', do_stable_layer_norm=True, conv_bias=True,
                   num_codevector_groups=2, num_codevectors_per_group=8, codevector_dim=16,
                   proj_codevector_dim=12, feat_quantizer_dropout=0.1, layerdrop=0.1,
                   architectures=['Wav2Vec2ForPreTraining'])
# fairseq's dict.ltr.txt (symbol, count); ids 0-3 are <s>, <pad>, </s>, <unk>
LETTERS = ['|', 'E', 'T', 'A', 'O', 'N', 'I', "'"]


def perturb_constants(model, torch, seed):
    """Add PERTURB * N(0, 1) to every parameter whose values are all equal (from seed)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, p in model.named_parameters():
            if p.numel() and bool((p == p.flatten()[0]).all()):
                p.add_(PERTURB * torch.randn(p.shape, generator=generator))


def fairseq_key(name, layer_norm_extractor):
    """fairseq's Wav2Vec2Model / Wav2VecCtc key of a transformers key (None: no counterpart):
    the inverse of transformers' conversion mapping."""
    parts = name.split('.')
    top = {'quantizer.codevectors': 'quantizer.vars', 'lm_head.weight': 'w2v_encoder.proj.weight',
           'lm_head.bias': 'w2v_encoder.proj.bias'}
    if name in top:
        return top[name]
    if parts[0] in ('project_q', 'quantizer'):
        return name
    if parts[0] == 'project_hid':
        return 'final_proj.' + parts[-1]
    assert parts[0] == 'wav2vec2', name
    rest = '.'.join(parts[1:])
    if rest.startswith('feature_extractor.conv_layers.'):
        layer, module, kind = parts[3], parts[4], parts[5]
        if module == 'conv':
            return f'feature_extractor.conv_layers.{layer}.0.{kind}'
        return f"feature_extractor.conv_layers.{layer}.2.{'1.' if layer_norm_extractor else ''}{kind}"
    simple = {'feature_projection.layer_norm': 'layer_norm',
              'feature_projection.projection': 'post_extract_proj', 'masked_spec_embed': 'mask_emb',
              'encoder.layer_norm': 'encoder.layer_norm'}
    for theirs, ours in simple.items():
        if rest == theirs or rest.startswith(theirs + '.'):
            return ours + rest[len(theirs):]
    if rest.startswith('encoder.pos_conv_embed.conv.'):
        kind = {'parametrizations.weight.original0': 'weight_g',
                'parametrizations.weight.original1': 'weight_v'}.get('.'.join(parts[4:]), parts[-1])
        return f'encoder.pos_conv.0.{kind}'
    if rest.startswith('encoder.layers.'):
        layer, sub = parts[3], '.'.join(parts[4:])
        for theirs, ours in (('attention.', 'self_attn.'), ('layer_norm.', 'self_attn_layer_norm.'),
                             ('feed_forward.intermediate_dense.', 'fc1.'),
                             ('feed_forward.output_dense.', 'fc2.'),
                             ('final_layer_norm.', 'final_layer_norm.')):
            if sub.startswith(theirs):
                return f'encoder.layers.{layer}.{ours}{sub[len(theirs):]}'
    raise KeyError(name)


def conv_feature_layers(config):
    """fairseq's conv_feature_layers string of a config, runs of equal layers written as
    ``[(d, k, s)] * n`` as in fairseq's configs."""
    layers = list(zip(config['conv_dim'], config['conv_kernel'], config['conv_stride']))
    runs = []
    for layer in layers:
        if runs and runs[-1][0] == layer:
            runs[-1][1] += 1
        else:
            runs.append([layer, 1])
    return ' + '.join(f'[{layer}]' + (f' * {n}' if n > 1 else '') for layer, n in runs)


def fairseq_model_config(config, name='wav2vec2'):
    """The fairseq Wav2Vec2Config (as OmegaConf.to_container leaves it) of a transformers config."""
    return {
        '_name': name, 'extractor_mode': 'layer_norm' if config['feat_extract_norm'] == 'layer' else 'default',
        'encoder_layers': config['num_hidden_layers'], 'encoder_embed_dim': config['hidden_size'],
        'encoder_ffn_embed_dim': config['intermediate_size'],
        'encoder_attention_heads': config['num_attention_heads'], 'activation_fn': 'gelu',
        'layer_type': 'transformer', 'dropout': 0.1, 'attention_dropout': 0.1,
        'activation_dropout': 0.0, 'encoder_layerdrop': config['layerdrop'], 'dropout_input': 0.1,
        'dropout_features': config.get('feat_quantizer_dropout', 0.1),
        'final_dim': config.get('proj_codevector_dim', 0),
        'layer_norm_first': config['do_stable_layer_norm'],
        'conv_feature_layers': conv_feature_layers(config), 'conv_bias': config['conv_bias'],
        'logit_temp': 0.1, 'quantize_targets': True, 'quantize_input': False,
        'same_quantizer': False, 'target_glu': False, 'feature_grad_mult': 0.1,
        'quantizer_depth': 1, 'quantizer_factor': 3,
        'latent_vars': config.get('num_codevectors_per_group', 320),
        'latent_groups': config.get('num_codevector_groups', 2),
        'latent_dim': config.get('codevector_dim', 0), 'mask_length': 10, 'mask_prob': 0.65,
        'mask_selection': 'static', 'mask_other': 0.0, 'no_mask_overlap': False,
        'mask_min_space': 1, 'require_same_masks': True, 'mask_dropout': 0.0,
        'mask_channel_length': 10, 'mask_channel_prob': 0.0, 'mask_channel_before': False,
        'num_negatives': 100, 'negatives_from_everywhere': False, 'cross_sample_negatives': 0,
        'codebook_negatives': 0, 'conv_pos': config['num_conv_pos_embeddings'],
        'conv_pos_groups': config['num_conv_pos_embedding_groups'], 'pos_conv_depth': 1,
        'latent_temp': [2.0, 0.5, 0.999995], 'max_positions': 100000,
        'checkpoint_activations': False}


def fairseq_state(model, config, finetuned):
    state = {}
    for name, value in model.state_dict().items():
        key = fairseq_key(name, config['feat_extract_norm'] == 'layer')
        if finetuned and not key.startswith('w2v_encoder.'):
            key = 'w2v_encoder.w2v_model.' + key
        state[key] = value.detach().clone()
    return state


def training_extras():
    """What a fairseq trainer saves besides the model (plain containers)."""
    return {'optimizer_history': [{'criterion_name': 'Wav2vecCriterion', 'optimizer_name': 'FairseqAdam',
                                   'lr_scheduler_state': {'best': None}, 'num_updates': 400000}],
            'extra_state': {'metrics': {}, 'train_iterator': {'epoch': 1, 'iterations_in_epoch': 0}},
            'last_optimizer_state': None}


def save_folder(model, folder, vocab=None, **kwargs):
    model.save_pretrained(folder, **kwargs)
    for extra in ('generation_config.json',):
        if os.path.exists(os.path.join(folder, extra)):
            os.remove(os.path.join(folder, extra))
    if vocab:
        with open(os.path.join(folder, 'vocab.json'), 'w') as f:
            json.dump(vocab, f)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out', default=os.path.join(ROOT, 'tests', 'data', 'wav2vec2_fixtures'))
    args = parser.parse_args(argv)
    import torch
    import transformers
    from transformers import Wav2Vec2Config, Wav2Vec2ForCTC, Wav2Vec2ForPreTraining

    out = args.out
    if os.path.isdir(out):
        shutil.rmtree(out)
    os.makedirs(out)
    outputs = {}

    # --- CTC
    torch.manual_seed(0)
    ctc = Wav2Vec2ForCTC(Wav2Vec2Config(**CTC)).eval()
    perturb_constants(ctc, torch, 1)
    vocab = {'<pad>': 0, '<s>': 1, '</s>': 2, '<unk>': 3, **{c: 4 + i for i, c in enumerate(LETTERS)}}
    save_folder(ctc, os.path.join(out, 'hf_ctc'), vocab)
    save_folder(ctc, os.path.join(out, 'hf_ctc_sharded'), vocab, max_shard_size='20KB')
    bin_folder = os.path.join(out, 'hf_ctc_bin')
    os.makedirs(bin_folder)
    shutil.copy(os.path.join(out, 'hf_ctc', 'config.json'), bin_folder)
    shutil.copy(os.path.join(out, 'hf_ctc', 'vocab.json'), bin_folder)
    old_names = {k.replace('parametrizations.weight.original0', 'weight_g')
                  .replace('parametrizations.weight.original1', 'weight_v'): v
                 for k, v in ctc.state_dict().items()}
    torch.save(old_names, os.path.join(bin_folder, 'pytorch_model.bin'))

    ctc_config = ctc.config.to_dict()
    w2v_model = fairseq_model_config(ctc_config)
    ft_model = {'_name': 'wav2vec_ctc', 'w2v_path': '/checkpoint/wav2vec_small.pt',
                'no_pretrained_weights': False, 'dropout_input': 0.0, 'final_dropout': 0.0,
                'dropout': 0.0, 'attention_dropout': 0.0, 'activation_dropout': 0.1,
                'apply_mask': True, 'mask_length': 10, 'mask_prob': 0.5, 'mask_channel_length': 64,
                'mask_channel_prob': 0.1, 'layerdrop': 0.1, 'feature_grad_mult': 0.0,
                'freeze_finetune_updates': 0,
                'w2v_args': {'model': w2v_model, 'task': {'_name': 'audio_pretraining', 'normalize': False}}}
    torch.save({'cfg': {'_name': None, 'model': ft_model,
                        'task': {'_name': 'audio_finetuning', 'normalize': False, 'labels': 'ltr'},
                        'criterion': {'_name': 'ctc', 'zero_infinity': True}},
                'model': fairseq_state(ctc, ctc_config, True), **training_extras()},
               os.path.join(out, 'fairseq_ctc.pt'))
    w2v_args = argparse.Namespace(**{k: v for k, v in w2v_model.items() if k != '_name'},
                                  arch='wav2vec2', task='audio_pretraining', normalize=False)
    ft_args = argparse.Namespace(**{k: v for k, v in ft_model.items() if k not in ('_name', 'w2v_args')},
                                 arch='wav2vec_ctc', task='audio_pretraining', labels='ltr',
                                 w2v_args=w2v_args)
    torch.save({'args': ft_args, 'model': fairseq_state(ctc, ctc_config, True), **training_extras()},
               os.path.join(out, 'fairseq_ctc_args.pt'))
    with open(os.path.join(out, 'dict.ltr.txt'), 'w') as f:
        f.writelines(f'{c} {1000 - 10 * i}\n' for i, c in enumerate(LETTERS))

    rng = np.random.default_rng(1234)
    x = rng.standard_normal((2, 1600)).astype(np.float32)
    mask = np.ones((2, 1600), np.int32)
    mask[1, 1200:] = 0
    x[1, 1200:] = 0.0
    with torch.no_grad():
        logits = ctc(torch.from_numpy(x), attention_mask=torch.from_numpy(mask)).logits
        logits_unmasked = ctc(torch.from_numpy(x)).logits
    outputs.update({'ctc.input_values': x, 'ctc.attention_mask': mask,
                    'ctc.logits': logits.numpy(), 'ctc.logits_unmasked': logits_unmasked.numpy()})

    # --- pretraining
    torch.manual_seed(0)
    pre = Wav2Vec2ForPreTraining(Wav2Vec2Config(**PRETRAINING)).eval()
    perturb_constants(pre, torch, 2)
    save_folder(pre, os.path.join(out, 'hf_pretraining'))
    pre_config = pre.config.to_dict()
    pre_model = fairseq_model_config(pre_config)
    torch.save({'cfg': {'_name': None, 'model': pre_model,
                        'task': {'_name': 'audio_pretraining', 'normalize': True, 'sample_rate': 16000},
                        'criterion': {'_name': 'wav2vec', 'infonce': True, 'loss_weights': [0.1, 10.0]}},
                'model': fairseq_state(pre, pre_config, False), **training_extras()},
               os.path.join(out, 'fairseq_pretraining.pt'))
    legacy_args = argparse.Namespace(**{k: v for k, v in pre_model.items() if k != '_name'},
                                     arch='wav2vec2', task='audio_pretraining', normalize=True)
    torch.save({'args': legacy_args, 'model': fairseq_state(pre, pre_config, False), **training_extras()},
               os.path.join(out, 'fairseq_pretraining_legacy.pt'), _use_new_zipfile_serialization=False)

    xp = rng.standard_normal((2, 1600)).astype(np.float32)
    frames = 39
    mask_time = np.zeros((2, frames), bool)
    mask_time[0, 5:25] = True
    mask_time[1, 40:60] = True
    with torch.no_grad():
        result = pre(torch.from_numpy(xp), mask_time_indices=torch.from_numpy(mask_time))
        base = pre.wav2vec2(torch.from_numpy(xp), mask_time_indices=torch.from_numpy(mask_time))
    assert result.projected_states.shape[1] == frames
    outputs.update({'pretraining.input_values': xp, 'pretraining.mask_time_indices': mask_time,
                    'pretraining.last_hidden_state': base.last_hidden_state.numpy(),
                    'pretraining.extract_features': base.extract_features.numpy(),
                    'pretraining.projected_states': result.projected_states.numpy(),
                    'pretraining.projected_quantized_states': result.projected_quantized_states.numpy(),
                    'pretraining.codevector_perplexity': result.codevector_perplexity.numpy()})
    np.savez(os.path.join(out, 'outputs.npz'), **outputs,
             __versions__=np.array(json.dumps({'torch': torch.__version__,
                                               'transformers': transformers.__version__})))
    for folder, _, names in sorted(os.walk(out)):
        for name in sorted(names):
            path = os.path.join(folder, name)
            print(f"{os.path.relpath(path, out)}: {os.path.getsize(path)} bytes")


if __name__ == '__main__':
    main()
