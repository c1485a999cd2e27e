"""Hugging Face transformers' wav2vec2 state dicts and configs -> this port's.

The networks (:mod:`.network`) carry transformers' parameter names, so a transformers state dict
maps one to one, but for the positional convolution's weight norm: transformers 5.x stores it as
``parametrizations.weight.original0`` / ``original1`` (torch.nn.utils.parametrize), older
releases and fairseq as ``weight_g`` / ``weight_v``; the port uses the latter.
"""
import numpy as np

from ..errors import CheckpointError

# transformers' torch.nn.utils.parametrize names of the weight norm -> the port's
_WEIGHT_NORM_NAMES = {'parametrizations.weight.original0': 'weight_g',
                      'parametrizations.weight.original1': 'weight_v'}

# Wav2Vec2Config fields that are network arguments of the port (the rest: tokenizer ids, other
# heads, SpecAugment probabilities that the data pipeline draws, ...)
NETWORK_CONFIG_KEYS = (
    'conv_dim', 'conv_kernel', 'conv_stride', 'conv_bias', 'feat_extract_norm', 'hidden_size',
    'num_hidden_layers', 'num_attention_heads', 'intermediate_size', 'hidden_dropout',
    'attention_dropout', 'activation_dropout', 'feat_proj_dropout', 'layerdrop', 'layer_norm_eps',
    'num_conv_pos_embeddings', 'num_conv_pos_embedding_groups', 'do_stable_layer_norm')
CTC_CONFIG_KEYS = ('vocab_size', 'final_dropout')
PRETRAINING_CONFIG_KEYS = ('num_codevector_groups', 'num_codevectors_per_group', 'codevector_dim',
                           'proj_codevector_dim', 'feat_quantizer_dropout')


def network_args_from_hf_config(config, head='ctc', source='config.json'):
    """Network keyword arguments of a transformers ``Wav2Vec2Config`` (its ``to_dict()``, or the
    parsed ``config.json`` of a model folder); ``head`` 'ctc', 'pretraining' or 'model' (no head).

    Raises:
        CheckpointError: a config of another architecture, or one whose activations the port
            does not have.
    """
    model_type = config.get('model_type', 'wav2vec2')
    if model_type != 'wav2vec2':
        raise CheckpointError(f"{source}: model_type {model_type!r} is not wav2vec2; this port "
                              "reads wav2vec2 models only (not HuBERT, WavLM, data2vec ...)")
    for key in ('hidden_act', 'feat_extract_activation'):
        if config.get(key, 'gelu') != 'gelu':
            raise CheckpointError(f"{source}: {key} {config[key]!r} is not supported (only 'gelu')")
    keys = NETWORK_CONFIG_KEYS + {'ctc': CTC_CONFIG_KEYS, 'pretraining': PRETRAINING_CONFIG_KEYS,
                                  'model': ()}[head]
    args = {k: config[k] for k in keys if k in config}
    for k in ('conv_dim', 'conv_kernel', 'conv_stride'):
        if k in args:
            args[k] = tuple(int(v) for v in args[k])
    return args


def convert_hf_state(state, prefix=''):
    """A transformers wav2vec2 state dict (name -> array) with this port's names: the weight-norm
    parametrization renamed; ``prefix`` is put before every name (e.g. ``'wav2vec2.'`` for the
    keys of a bare ``Wav2Vec2Model``)."""
    out = {}
    for name, value in state.items():
        for theirs, ours in _WEIGHT_NORM_NAMES.items():
            if name.endswith(theirs):
                name = name[:-len(theirs)] + ours
        out[prefix + name] = np.asarray(value)
    return out
