"""Published wav2vec 2.0 weights -> (network kwargs, state dict in the port's names, vocabulary).

Two sources, read without torch:

* a Hugging Face model folder (``save_pretrained``): ``config.json``, the weights as
  ``model.safetensors``, ``pytorch_model.bin`` (a ``torch.save`` state dict, read by
  :mod:`src.torchfile`) or either one sharded (``*.index.json``), and for a CTC model its
  ``vocab.json``;
* a fairseq checkpoint (``torch.save`` of ``{'cfg' or 'args', 'model', ...}``, zip or torch < 1.6
  format): a pretrained ``wav2vec2`` model (``wav2vec_small.pt``) or a fine-tuned ``wav2vec_ctc``
  one (``wav2vec_small_100h.pt``: the pretrained model under ``w2v_encoder.w2v_model.`` and the
  letter projection ``w2v_encoder.proj``), with fairseq's ``dict.ltr.txt``. The keys are renamed
  as transformers' ``convert_wav2vec2_original_pytorch_checkpoint_to_pytorch.py`` renames them;
  the model config in the checkpoint (``cfg['model']``, of a fine-tuned one
  ``cfg['model']['w2v_args']['model']``, or the legacy ``args`` Namespace) becomes the network
  kwargs.

The state's names are those of the port's ``Wav2Vec2ForCTC`` / ``Wav2Vec2ForPreTraining``
(transformers' names; the encoder under ``wav2vec2.``), whatever the head: a bare model's state is
the ``wav2vec2.*`` part alone (:func:`encoder_state` strips the prefix for a bare
``Wav2Vec2Model``). Arrays are float32.
"""
import ast
import collections
import json
import os

import numpy as np

from ..errors import CheckpointError, UserError
from ..torchfile import read_torch_file
from .convert import convert_hf_state, network_args_from_hf_config

HEADS = ('ctc', 'pretraining', 'model')
ENCODER_PREFIX = 'wav2vec2.'
# transformers' class of each head
HF_ARCHITECTURES = {'Wav2Vec2ForCTC': 'ctc', 'Wav2Vec2ForPreTraining': 'pretraining',
                    'Wav2Vec2Model': 'model'}
# the keys (prefixes) of each head outside the encoder
HEAD_PREFIXES = {'ctc': ('lm_head.',),
                 'pretraining': ('quantizer.', 'project_hid.', 'project_q.'),
                 'model': ()}
# transformers leaves masked_spec_embed out of a model configured without time or channel
# masking; a loader may skip it (never used at inference)
OPTIONAL_KEYS = ('wav2vec2.masked_spec_embed',)
# the weight files of a transformers folder, in the order transformers prefers them
HF_WEIGHT_FILES = ('model.safetensors', 'model.safetensors.index.json', 'pytorch_model.bin',
                   'pytorch_model.bin.index.json')
FAIRSEQ_DICTIONARY = 'dict.ltr.txt'
# fairseq Dictionary's special symbols before the file's (<s>, <pad>, </s>, <unk>)
FAIRSEQ_SPECIALS = 4


class VocabFile(collections.namedtuple('VocabFile', 'kind path')):
    """Where a CTC model's letters are: ``kind`` 'hf_vocab' (transformers' vocab.json) or
    'fairseq_dict' (fairseq's dict.ltr.txt), ``path`` the file."""

    def letters(self):
        """The :class:`src.wav2vec2.letters.Letters` of the file."""
        from .letters import Letters
        if self.kind == 'hf_vocab':
            return Letters.from_hf_vocab(self.path)
        return Letters.from_fairseq_dict(self.path)


def encoder_state(state):
    """The ``wav2vec2.*`` part of a state with the prefix stripped: the names of a bare
    ``Wav2Vec2Model`` (e.g. to fine-tune from a pretrained model)."""
    return {k[len(ENCODER_PREFIX):]: v for k, v in state.items() if k.startswith(ENCODER_PREFIX)}


def head_of(state):
    """The head a state in the port's names has: 'ctc', 'pretraining' or 'model'."""
    for head in ('ctc', 'pretraining'):
        if any(k.startswith(HEAD_PREFIXES[head]) for k in state):
            return head
    return 'model'


def _check_head(head, source):
    if head is not None and head not in HEADS:
        raise UserError(f"{source}: head {head!r} is none of {', '.join(HEADS)}")


def _select_head(state, found, head, source):
    """The state of ``head`` (None: the file's, ``found``): a CTC or pretraining model gives its
    encoder alone for 'model'; anything else must be what the file holds."""
    if head is None or head == found:
        return found, state
    if head == 'model':
        return 'model', {k: v for k, v in state.items() if k.startswith(ENCODER_PREFIX)}
    raise CheckpointError(f"{source}: holds a wav2vec2 {found} model, not a {head} one; ask for "
                          f"head {found!r}, or 'model' for its encoder (to fine-tune from)")


def _float32(state):
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in state.items()}


# ----------------------------------------------------------------------------- Hugging Face


def _read_json(path, what):
    try:
        with open(path, encoding='utf-8') as f:
            return json.load(f)
    except ValueError as err:
        raise CheckpointError(f"{path}: {what} is not valid JSON ({err})") from None
    except OSError as err:
        raise CheckpointError(f"{path}: cannot read {what} ({err.strerror})") from None


def _read_safetensors(path):
    try:
        from safetensors import SafetensorError
        from safetensors.numpy import load_file
    except ImportError:
        raise UserError(f"reading {path} needs the safetensors package: pip install 'safetensors>=0.4'") from None
    try:
        return load_file(path)
    except (SafetensorError, OSError, ValueError, TypeError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"{path}: unreadable safetensors file ({first[:160]}); "
                              "download it again") from None


def _read_torch_state(path):
    state = read_torch_file(path)
    if not isinstance(state, dict) or not all(isinstance(v, np.ndarray) for v in state.values()):
        raise CheckpointError(f"{path}: holds a {type(state).__name__}, not a state dict of tensors")
    return dict(state)


def _read_weight_file(path):
    return _read_safetensors(path) if path.endswith('.safetensors') else _read_torch_state(path)


def _read_sharded(index_path):
    """The state of a sharded checkpoint: its index's ``weight_map`` (key -> shard file)."""
    index = _read_json(index_path, 'the shard index')
    weight_map = index.get('weight_map') if isinstance(index, dict) else None
    if not isinstance(weight_map, dict) or not weight_map:
        raise CheckpointError(f"{index_path}: no weight_map in the shard index")
    folder = os.path.dirname(index_path)
    state = {}
    for shard in sorted(set(weight_map.values())):
        path = os.path.join(folder, shard)
        if not os.path.isfile(path):
            raise CheckpointError(f"{index_path}: shard {shard} is missing; download it beside the index")
        shard_state = _read_weight_file(path)
        for key in (k for k, v in weight_map.items() if v == shard):
            if key not in shard_state:
                raise CheckpointError(f"{path}: has no {key}, which the shard index puts there")
            state[key] = shard_state[key]
    return state


def read_hf_weights(folder):
    """{transformers key: array} of a model folder's weights (see :data:`HF_WEIGHT_FILES`)."""
    for name in HF_WEIGHT_FILES:
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            return _read_sharded(path) if name.endswith('.index.json') else _read_weight_file(path)
    raise CheckpointError(f"{folder}: no weights ({' or '.join(HF_WEIGHT_FILES)}); download the "
                          "model's weight file into the folder")


def _hf_head(config, state, source):
    """The head of a transformers folder: its config's architectures, else its keys."""
    names = config.get('architectures') or []
    for name in names:
        if name in HF_ARCHITECTURES:
            return HF_ARCHITECTURES[name]
    if names:
        raise CheckpointError(f"{source}: a {names[0]}; the port has {', '.join(HF_ARCHITECTURES)}")
    return head_of(state)


def _check_hf_vocab(path, vocab_size):
    vocab = _read_json(path, 'vocab.json')
    if not isinstance(vocab, dict) or not vocab:
        raise CheckpointError(f"{path}: expected a JSON object of letter -> id")
    if any(isinstance(v, dict) for v in vocab.values()):
        raise CheckpointError(f"{path}: a vocabulary per language; the port reads one letter -> id map")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in vocab.values()):
        raise CheckpointError(f"{path}: letter ids must be integers")
    if max(vocab.values()) >= vocab_size or min(vocab.values()) < 0:
        raise CheckpointError(f"{path}: ids up to {max(vocab.values())} for a head of {vocab_size} "
                              "outputs; the vocabulary is not this model's")


def read_hf_folder(path, head='ctc'):
    """A transformers wav2vec2 model folder in the port's terms.

    Args:
        path: the folder (config.json, weights, vocab.json for CTC).
        head: 'ctc', 'pretraining', 'model' (the encoder alone, from any of the three), or None
            for the head the folder holds (its config's ``architectures``, else its keys).

    Returns:
        (network kwargs, {port name: float32 array}, :class:`VocabFile` of vocab.json for a CTC
        head, else None).

    Raises:
        UserError: no such folder, a bad ``head``.
        CheckpointError: no config.json or weights, a model of another architecture, another
            head than ``head``, damaged files, a CTC model without (a fitting) vocab.json.
    """
    _check_head(head, path)
    if not os.path.isdir(path):
        raise UserError(f"{path}: no such folder (a Hugging Face model folder: config.json + weights)")
    config_path = os.path.join(path, 'config.json')
    if not os.path.isfile(config_path):
        raise CheckpointError(f"{path}: no config.json; a Hugging Face model folder has one "
                              "(save_pretrained writes it), download it with the weights")
    config = _read_json(config_path, 'config.json')
    if not isinstance(config, dict):
        raise CheckpointError(f"{config_path}: expected a JSON object")
    weights = read_hf_weights(path)
    found = _hf_head(config, weights, config_path)
    # a bare Wav2Vec2Model's keys lack the prefix (transformers strips base_model_prefix)
    prefix = '' if any(k.startswith(ENCODER_PREFIX) for k in weights) else ENCODER_PREFIX
    state = _float32(convert_hf_state(weights, prefix))
    head, state = _select_head(state, found, head, path)
    args = network_args_from_hf_config(config, head, config_path)
    vocab = None
    if head == 'ctc':
        vocab_path = os.path.join(path, 'vocab.json')
        if not os.path.isfile(vocab_path):
            raise CheckpointError(f"{path}: a CTC model without vocab.json; put the model's "
                                  "vocab.json (letter -> id) into the folder")
        rows = state['lm_head.weight'].shape[0] if 'lm_head.weight' in state else args.get('vocab_size', 32)
        _check_hf_vocab(vocab_path, rows)
        vocab = VocabFile('hf_vocab', vocab_path)
    return args, state, vocab


# ----------------------------------------------------------------------------- fairseq

FAIRSEQ_PRETRAINING = 'wav2vec2'
FAIRSEQ_CTC = 'wav2vec_ctc'
# fairseq's Wav2Vec2Config defaults (fairseq/models/wav2vec/wav2vec2.py) of the fields read here
FAIRSEQ_DEFAULTS = {
    'extractor_mode': 'default', 'encoder_layers': 12, 'encoder_embed_dim': 768,
    'encoder_ffn_embed_dim': 3072, 'encoder_attention_heads': 12, 'activation_fn': 'gelu',
    'layer_type': 'transformer', 'dropout': 0.1, 'attention_dropout': 0.1,
    'activation_dropout': 0.0, 'encoder_layerdrop': 0.0, 'dropout_input': 0.0,
    'dropout_features': 0.0, 'final_dim': 0, 'layer_norm_first': False,
    'conv_feature_layers': '[(512, 10, 5)] + [(512, 3, 2)] * 4 + [(512,2,2)] + [(512,2,2)]',
    'conv_bias': False, 'quantize_targets': False, 'quantize_input': False, 'target_glu': False,
    'feature_grad_mult': 1.0, 'quantizer_depth': 1, 'latent_vars': 320, 'latent_groups': 2,
    'latent_dim': 0, 'conv_pos': 128, 'conv_pos_groups': 16, 'pos_conv_depth': 1}
# fairseq choices the port's networks do not have: field -> the only value it has
FAIRSEQ_REQUIRED = {'activation_fn': 'gelu', 'layer_type': 'transformer', 'pos_conv_depth': 1,
                    'quantize_input': False, 'target_glu': False, 'quantizer_depth': 1}
# fairseq wav2vec2 field -> network kwarg, copied as they are
FAIRSEQ_TO_KWARGS = {
    'encoder_layers': 'num_hidden_layers', 'encoder_embed_dim': 'hidden_size',
    'encoder_ffn_embed_dim': 'intermediate_size', 'encoder_attention_heads': 'num_attention_heads',
    'conv_pos': 'num_conv_pos_embeddings', 'conv_pos_groups': 'num_conv_pos_embedding_groups',
    'layer_norm_first': 'do_stable_layer_norm', 'conv_bias': 'conv_bias', 'dropout': 'hidden_dropout',
    'attention_dropout': 'attention_dropout', 'activation_dropout': 'activation_dropout',
    'dropout_input': 'feat_proj_dropout', 'encoder_layerdrop': 'layerdrop',
    'feature_grad_mult': 'feature_grad_mult'}
# a fine-tuning config's fields that replace the pretrained model's (fairseq's Wav2VecEncoder
# arg_overrides) -> network kwarg
FAIRSEQ_CTC_OVERRIDES = {'dropout': 'hidden_dropout', 'attention_dropout': 'attention_dropout',
                         'activation_dropout': 'activation_dropout',
                         'dropout_input': 'feat_proj_dropout', 'layerdrop': 'layerdrop',
                         'feature_grad_mult': 'feature_grad_mult', 'final_dropout': 'final_dropout'}
# what other fairseq models call themselves, for the refusal
FAIRSEQ_OTHERS = {'hubert': 'HuBERT', 'hubert_ctc': 'fine-tuned HuBERT', 'wav2vec': 'wav2vec (1.0)',
                  'data2vec_audio': 'data2vec audio', 'data2vec_multi': 'data2vec 2.0',
                  'wav2vec_seq2seq': 'wav2vec 2.0 seq2seq (a decoder the port lacks)',
                  'wav2vec2_conformer': 'wav2vec 2.0 conformer'}


def _as_dict(value):
    """A config section as a dict: fairseq >= 0.10 saves plain dicts (OmegaConf.to_container),
    older versions an argparse.Namespace."""
    if value is None:
        return None
    if isinstance(value, dict):
        return value
    if hasattr(value, '__dict__') and type(value).__name__ == 'Namespace':
        return vars(value)
    return None


def _model_name(cfg):
    return cfg.get('_name') or cfg.get('arch')


def _refuse_other(name, source):
    what = FAIRSEQ_OTHERS.get(name, f"{name!r}")
    raise CheckpointError(f"{source}: a fairseq {what} model, not wav2vec 2.0 ({FAIRSEQ_PRETRAINING} "
                          f"or {FAIRSEQ_CTC}); this converter reads wav2vec 2.0 only")


def parse_conv_feature_layers(text, source='conv_feature_layers'):
    """fairseq's ``conv_feature_layers`` (``"[(512, 10, 5)] + [(512, 3, 2)] * 4 + ..."``) ->
    ((dim, kernel, stride), ...). The list sums and products are expanded on the syntax tree and
    only literals evaluated (``ast.literal_eval``); nothing else in the string runs."""
    def expand(node):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return expand(node.left) + expand(node.right)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
            items, count = (node.left, node.right) if isinstance(node.left, ast.List) else (node.right, node.left)
            count = ast.literal_eval(count)
            if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= 1000:
                raise ValueError('a repeat count that is not a small integer')
            return expand(items) * count
        value = ast.literal_eval(node)
        if not isinstance(value, list):
            raise ValueError('not a list of layers')
        return value
    try:
        layers = expand(ast.parse(str(text).strip(), mode='eval').body)
    except (SyntaxError, ValueError, TypeError, RecursionError) as err:
        raise CheckpointError(f"{source}: conv_feature_layers {str(text)[:80]!r} is not a list of "
                              f"(dim, kernel, stride) ({err})") from None
    if not layers or not all(isinstance(layer, (tuple, list)) and len(layer) == 3 and
                             all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in layer)
                             for layer in layers):
        raise CheckpointError(f"{source}: conv_feature_layers {str(text)[:80]!r} is not a list of "
                              "(dim, kernel, stride) of positive integers")
    return tuple(tuple(layer) for layer in layers)


def network_args_from_fairseq(model_cfg, head, source='checkpoint'):
    """Network kwargs of a fairseq wav2vec2 model config (a dict or Namespace of
    :data:`FAIRSEQ_DEFAULTS`' fields; missing ones take fairseq's defaults).

    Args:
        model_cfg: the ``Wav2Vec2Model``'s config (of a fine-tuned model: its ``w2v_args``').
        head: 'ctc', 'pretraining' or 'model': which head's kwargs to add (a CTC head's come
            from the fine-tuning config and the weights: see :func:`read_fairseq_checkpoint`).
        source: the checkpoint, for messages.

    Raises:
        CheckpointError: another architecture, or a fairseq option the port does not have.
    """
    cfg = dict(FAIRSEQ_DEFAULTS, **{k: v for k, v in model_cfg.items() if v is not None})
    name = _model_name(model_cfg)
    if name not in (None, FAIRSEQ_PRETRAINING):
        _refuse_other(name, source)
    for key, value in FAIRSEQ_REQUIRED.items():
        if cfg[key] != value:
            raise CheckpointError(f"{source}: {key}={cfg[key]!r}, which the port does not have "
                                  f"(only {value!r})")
    if cfg['extractor_mode'] not in ('default', 'layer_norm'):
        raise CheckpointError(f"{source}: extractor_mode {cfg['extractor_mode']!r} is neither "
                              "'default' nor 'layer_norm'")
    layers = parse_conv_feature_layers(cfg['conv_feature_layers'], source)
    args = {'conv_dim': tuple(d for d, _, _ in layers), 'conv_kernel': tuple(k for _, k, _ in layers),
            'conv_stride': tuple(s for _, _, s in layers),
            'feat_extract_norm': 'layer' if cfg['extractor_mode'] == 'layer_norm' else 'group',
            'layer_norm_eps': 1e-5}   # fairseq's LayerNorm: torch's default
    for theirs, ours in FAIRSEQ_TO_KWARGS.items():
        value = cfg[theirs]
        args[ours] = bool(value) if isinstance(FAIRSEQ_DEFAULTS[theirs], bool) else value
    if head == 'pretraining':
        if not cfg['quantize_targets']:
            raise CheckpointError(f"{source}: quantize_targets=False (targets are the unquantized "
                                  "features); the port's pretraining model quantizes them")
        final_dim = cfg['final_dim'] if cfg['final_dim'] > 0 else cfg['encoder_embed_dim']
        args.update(num_codevector_groups=cfg['latent_groups'],
                    num_codevectors_per_group=cfg['latent_vars'],
                    codevector_dim=cfg['latent_dim'] if cfg['latent_dim'] > 0 else final_dim,
                    proj_codevector_dim=final_dim, feat_quantizer_dropout=cfg['dropout_features'])
    return args


def _fairseq_config(checkpoint, source):
    """(outer model config, wav2vec2 model config) of a checkpoint: ``cfg['model']`` or the
    legacy ``args``; of a fine-tuned model, the pretrained model's config from ``w2v_args``."""
    cfg = _as_dict(checkpoint.get('cfg'))
    model_cfg = _as_dict(cfg.get('model')) if cfg else None
    if model_cfg is None:
        model_cfg = _as_dict(checkpoint.get('args'))
    if model_cfg is None:
        raise CheckpointError(f"{source}: no model config (neither cfg['model'] nor args); not a "
                              "fairseq checkpoint")
    name = _model_name(model_cfg)
    if name == FAIRSEQ_PRETRAINING:
        return model_cfg, model_cfg
    if name != FAIRSEQ_CTC:
        _refuse_other(name, source)
    w2v = _as_dict(model_cfg.get('w2v_args'))
    if w2v is None:
        raise CheckpointError(f"{source}: a fine-tuned model without w2v_args (the pretrained "
                              "model's config); re-save it with fairseq after loading it once")
    # a hydra config nests the model section; a legacy Namespace is flat
    inner = _as_dict(w2v.get('model')) if 'model' in w2v else w2v
    if inner is None:
        raise CheckpointError(f"{source}: w2v_args['model'] is not a config dict")
    return model_cfg, inner


# what a module's parameters are called after its prefix; the positional conv's weight norm under
# both torch namings (weight_norm, parametrizations.weight_norm)
_PARAMETERS = ('weight', 'bias')
_WEIGHT_NORM_PARAMETERS = ('weight_g', 'weight_v', 'bias', 'parametrizations.weight.original0',
                           'parametrizations.weight.original1')
# fairseq module prefix -> transformers module prefix, outside the conv and transformer layers
_FAIRSEQ_MODULES = (('post_extract_proj.', ENCODER_PREFIX + 'feature_projection.projection.'),
                    ('layer_norm.', ENCODER_PREFIX + 'feature_projection.layer_norm.'),
                    ('encoder.layer_norm.', ENCODER_PREFIX + 'encoder.layer_norm.'),
                    ('quantizer.weight_proj.', 'quantizer.weight_proj.'),
                    ('project_q.', 'project_q.'), ('final_proj.', 'project_hid.'),
                    ('w2v_encoder.proj.', 'lm_head.'))
# fairseq TransformerSentenceEncoderLayer module -> transformers Wav2Vec2EncoderLayer module
_FAIRSEQ_LAYER_MODULES = {'self_attn.q_proj': 'attention.q_proj', 'self_attn.k_proj': 'attention.k_proj',
                          'self_attn.v_proj': 'attention.v_proj',
                          'self_attn.out_proj': 'attention.out_proj',
                          'self_attn_layer_norm': 'layer_norm', 'fc1': 'feed_forward.intermediate_dense',
                          'fc2': 'feed_forward.output_dense', 'final_layer_norm': 'final_layer_norm'}
_FAIRSEQ_PARAMETERS = {'mask_emb': ENCODER_PREFIX + 'masked_spec_embed',
                       'quantizer.vars': 'quantizer.codevectors'}


def _map_fairseq_key(key, layer_norm_extractor):
    """The transformers name of a fairseq wav2vec2 key (fine-tuned prefix already stripped), or
    None when there is none. Follows transformers' conversion script's MAPPING and
    load_conv_layer, strictly (a key of any other module is None)."""
    parts = key.split('.')
    if key.startswith('feature_extractor.conv_layers.') and parts[-1] in _PARAMETERS:
        layer, inner = parts[2], parts[3:-1]
        target = f'{ENCODER_PREFIX}feature_extractor.conv_layers.{layer}.'
        if inner == ['0']:
            return target + 'conv.' + parts[-1]
        # group norm: conv_layers.0.2.*; layer norm: conv_layers.N.2.1.* (TransposeLast, LN, ...)
        if (inner == ['2'] and not layer_norm_extractor and layer == '0') or \
                (inner == ['2', '1'] and layer_norm_extractor):
            return target + 'layer_norm.' + parts[-1]
        return None
    if key.startswith('encoder.layers.') and len(parts) >= 5 and parts[-1] in _PARAMETERS:
        module = _FAIRSEQ_LAYER_MODULES.get('.'.join(parts[3:-1]))
        return f'{ENCODER_PREFIX}encoder.layers.{parts[2]}.{module}.{parts[-1]}' if module else None
    if key.startswith('encoder.pos_conv.0.') and key[len('encoder.pos_conv.0.'):] in _WEIGHT_NORM_PARAMETERS:
        return ENCODER_PREFIX + 'encoder.pos_conv_embed.conv.' + key[len('encoder.pos_conv.0.'):]
    for theirs, ours in _FAIRSEQ_MODULES:
        if key.startswith(theirs) and key[len(theirs):] in _PARAMETERS:
            return ours + key[len(theirs):]
    return _FAIRSEQ_PARAMETERS.get(key)


def convert_fairseq_state(state, layer_norm_extractor, source='checkpoint'):
    """A fairseq wav2vec2 / wav2vec_ctc state dict in the port's names (float32).

    Raises:
        CheckpointError: keys without a counterpart (another architecture or a fairseq option
            the port lacks), named.
    """
    renamed, unknown = {}, []
    for key, value in state.items():
        bare = key[len('w2v_encoder.w2v_model.'):] if key.startswith('w2v_encoder.w2v_model.') else key
        name = _map_fairseq_key(bare, layer_norm_extractor)
        if name is None:
            unknown.append(key)
        else:
            renamed[name] = value
    if unknown:
        more = f" (+{len(unknown) - 4} more)" if len(unknown) > 4 else ''
        raise CheckpointError(f"{source}: {len(unknown)} weights wav2vec 2.0 does not have "
                              f"({', '.join(unknown[:4])}{more}); not a wav2vec 2.0 checkpoint "
                              "of the architecture its config names")
    return _float32(convert_hf_state(renamed))   # weight norm by parametrization -> weight_g/_v


def _fairseq_dictionary(path, dictionary, rows):
    """The dict.ltr.txt of a fine-tuned checkpoint, checked against its projection's rows."""
    dict_path = dictionary or os.path.join(os.path.dirname(os.path.abspath(path)), FAIRSEQ_DICTIONARY)
    if not os.path.isfile(dict_path):
        raise CheckpointError(f"{path}: a fine-tuned CTC checkpoint needs its letter dictionary; "
                              f"put fairseq's {FAIRSEQ_DICTIONARY} beside it or pass it "
                              f"(--dictionary){f' ({dictionary} does not exist)' if dictionary else ''}")
    try:
        with open(dict_path, encoding='utf-8') as f:
            symbols = [line for line in f if line.strip()]
    except (OSError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{dict_path}: unreadable letter dictionary ({err})") from None
    if FAIRSEQ_SPECIALS + len(symbols) != rows:
        raise CheckpointError(f"{dict_path}: {len(symbols)} symbols + {FAIRSEQ_SPECIALS} specials "
                              f"for a projection of {rows} outputs; not this model's dictionary")
    return VocabFile('fairseq_dict', dict_path)


def read_fairseq_checkpoint(path, dictionary=None, head=None):
    """A fairseq wav2vec 2.0 checkpoint in the port's terms.

    Args:
        path: a pretrained ``wav2vec2`` or fine-tuned ``wav2vec_ctc`` checkpoint (``.pt``).
        dictionary: the fine-tuned model's ``dict.ltr.txt`` (default: beside ``path``).
        head: as :func:`read_hf_folder`'s; None (default) for the checkpoint's own.

    Returns:
        (network kwargs, {port name: float32 array}, :class:`VocabFile` for a CTC head, else
        None).

    Raises:
        UserError: no such file.
        CheckpointError: not a torch file or damaged, not a fairseq wav2vec 2.0 model (named:
            HuBERT, data2vec ...), an option the port lacks, a CTC model without (a fitting)
            dictionary.
    """
    _check_head(head, path)
    checkpoint = read_torch_file(path)
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get('model'), dict):
        raise CheckpointError(f"{path}: not a fairseq checkpoint (a dict with the 'model' weights "
                              "and its cfg or args)")
    outer, model_cfg = _fairseq_config(checkpoint, path)
    found = 'ctc' if _model_name(outer) == FAIRSEQ_CTC else 'pretraining'
    state = convert_fairseq_state(checkpoint['model'], model_cfg.get('extractor_mode') == 'layer_norm', path)
    if found == 'pretraining' and head in (None, 'pretraining') and 'quantizer.codevectors' not in state:
        raise CheckpointError(f"{path}: a wav2vec2 model without its quantizer; not a pretraining "
                              "checkpoint the port can continue (ask for head 'model')")
    head, state = _select_head(state, found, head, path)
    args = network_args_from_fairseq(model_cfg, head, path)
    vocab = None
    if head == 'ctc':
        if 'lm_head.weight' not in state:
            raise CheckpointError(f"{path}: a fine-tuned model without w2v_encoder.proj (the letter "
                                  "projection)")
        for theirs, ours in FAIRSEQ_CTC_OVERRIDES.items():
            if outer.get(theirs) is not None:
                args[ours] = outer[theirs]
        args['vocab_size'] = int(state['lm_head.weight'].shape[0])
        vocab = _fairseq_dictionary(path, dictionary, args['vocab_size'])
    return args, state, vocab


def read_pretrained(path, dictionary=None, head=None):
    """:func:`read_hf_folder` for a folder, :func:`read_fairseq_checkpoint` for a file."""
    if os.path.isdir(path):
        if dictionary:
            raise UserError(f"{path}: a Hugging Face folder brings its vocab.json; drop the dictionary")
        return read_hf_folder(path, head)
    return read_fairseq_checkpoint(path, dictionary, head)


# the port's network class of each head (src.wav2vec2.network)
NETWORK_CLASSES = {'ctc': 'Wav2Vec2ForCTC', 'pretraining': 'Wav2Vec2ForPreTraining',
                   'model': 'Wav2Vec2Model'}


def load_pretrained(path, dictionary=None, head=None):
    """Build the port's network of a HF folder or fairseq checkpoint and load its weights.

    Args:
        path, dictionary, head: as :func:`read_pretrained`.

    Returns:
        (network in eval mode, network kwargs, :class:`VocabFile` or None, head).

    Raises:
        CheckpointError: as :func:`read_pretrained`, or weights that do not fit the network the
            kwargs build (named, on one line).
    """
    from src.checkpoint import load_state

    args, state, vocab = read_pretrained(path, dictionary, head)
    from . import network as networks   # after reading: a bad source fails without MindSpore
    head = head_of(state) if head is None else head
    net = getattr(networks, NETWORK_CLASSES[head])(**args)
    if head == 'model':
        state = encoder_state(state)
        optional = tuple(k[len(ENCODER_PREFIX):] for k in OPTIONAL_KEYS)
    else:
        optional = OPTIONAL_KEYS
    load_state(net, state, skip=tuple(k for k in optional if k not in state),
               subject=f"{path} does not fit {NETWORK_CLASSES[head]}",
               hint='the config and the weights disagree; the file is damaged or edited')
    net.set_train(False)
    return net, args, vocab, head


def load_pretrained_into(recipe, network, path, head):
    """``model.pretrained`` of the wav2vec 2.0 recipes (``head`` 'ctc' or 'pretraining'): a
    Hugging Face folder or fairseq checkpoint, whose parameters load where the recipe's
    ``pretrained_prefix`` / ``pretrained_heads`` say (a CTC network takes the encoder of a
    pretraining file, and its letters head too when the file has one of the same size); else a
    checkpoint of this project (a run's or a converted one).

    Returns:
        the names of the network's parameters left as initialised.
    """
    from src.checkpoint import is_foreign_state
    from src.engine.recipe import Recipe, load_matching
    if not os.path.isdir(path) and not is_foreign_state(path):
        return Recipe.load_pretrained(recipe, network, path)
    _, state, _ = read_pretrained(path, head=None)
    return load_matching(network, state, path, recipe.pretrained_prefix, recipe.pretrained_heads,
                         hint="set model.args as in the file's config (tools/convert_wav2vec2.py "
                              "--config-out writes them)")


def load_ctc_network(path, dictionary=None):
    """A Hugging Face CTC folder or fairseq fine-tuned checkpoint for ``infer.py transcribe``:
    (network in eval mode, the facts a sidecar would state: letters, blank, sample rate, the
    feature encoder's kernels and strides, normalize)."""
    net, args, vocab, _ = load_pretrained(path, dictionary, head='ctc')
    letters = vocab.letters()
    normalize = False
    preprocessor = os.path.join(path, 'preprocessor_config.json')
    if os.path.isdir(path) and os.path.isfile(preprocessor):
        normalize = bool(_read_json(preprocessor, 'feature extractor config').get('do_normalize', False))
    from .network import Wav2Vec2Model
    import inspect
    defaults = inspect.signature(Wav2Vec2Model).parameters
    return net, {'letters': list(letters.symbols), 'blank': letters.blank, 'sample_rate': 16000,
                 'conv_kernel': list(args.get('conv_kernel', defaults['conv_kernel'].default)),
                 'conv_stride': list(args.get('conv_stride', defaults['conv_stride'].default)),
                 'normalize': normalize}
