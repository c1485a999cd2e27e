"""speechbrain ECAPA-TDNN checkpoints -> this project's parameter names, shapes and network config.

speechbrain wraps every ``torch.nn.Conv1d`` and ``BatchNorm1d`` in a module of its own, so its
keys carry one extra level (``blocks.0.conv.conv.weight``, ``asp_bn.norm.running_mean``). This
network (:mod:`src.ecapa_tdnn.network`) keeps speechbrain's module names without that level:

    speechbrain                              MindSpore
    <path>.conv.weight  (out, in/g, k)       <path>.weight  (out, in/g, 1, k)
    <path>.conv.bias                         <path>.bias
    <path>.norm.weight / bias                <path>.gamma / beta
    <path>.norm.running_mean / running_var   <path>.moving_mean / moving_variance
    <path>.norm.num_batches_tracked          (dropped: MindSpore keeps no step count)
    weight  (classifier.ckpt, classes x in)  weight (cosine head, same shape)

Inputs are plain ``{key: numpy array}`` dicts (a ``torch`` state dict after ``.numpy()``), so
this module needs no torch.
"""
import re

import numpy as np

from src.checkpoint import load_state
from src.errors import CheckpointError, ConfigError

_CONV_FIELDS = {'weight': 'weight', 'bias': 'bias'}
_NORM_FIELDS = {'weight': 'gamma', 'bias': 'beta', 'running_mean': 'moving_mean',
                'running_var': 'moving_variance'}
_DROPPED_FIELDS = ('num_batches_tracked',)
# Module paths that may hold a wrapped convolution / BatchNorm in speechbrain's ECAPA_TDNN.
_CONV_PATHS = re.compile(r'(blocks\.0|blocks\.\d+\.(tdnn[12]|res2net_block\.blocks\.\d+)|mfa|asp\.tdnn)'
                         r'\.conv|blocks\.\d+\.(se_block\.conv[12]|shortcut)|asp\.conv|fc')
_NORM_PATHS = re.compile(r'(blocks\.0|blocks\.\d+\.(tdnn[12]|res2net_block\.blocks\.\d+)|mfa|asp\.tdnn)'
                         r'\.norm|asp_bn')
_HEAD_KEYS = {'weight': 'weight'}   # speechbrain Classifier (lin_blocks=0): the cosine weights


def convert_key(key):
    """Map one speechbrain ECAPA_TDNN / Classifier key to this project's parameter name.

    Args:
        key: e.g. ``'blocks.1.tdnn1.norm.norm.running_var'`` or ``'weight'``.

    Returns:
        The MindSpore name (``'blocks.1.tdnn1.norm.moving_variance'``), or None for a key
        that has no counterpart (``num_batches_tracked``).

    Raises:
        CheckpointError: the key is not part of speechbrain's ECAPA_TDNN or Classifier.
    """
    if key in _HEAD_KEYS:
        return _HEAD_KEYS[key]
    parts = key.split('.')
    if len(parts) >= 3:
        path, inner, field = '.'.join(parts[:-2]), parts[-2], parts[-1]
        if inner == 'conv' and field in _CONV_FIELDS and _CONV_PATHS.fullmatch(path):
            return f'{path}.{_CONV_FIELDS[field]}'
        if inner == 'norm' and _NORM_PATHS.fullmatch(path):
            if field in _NORM_FIELDS:
                return f'{path}.{_NORM_FIELDS[field]}'
            if field in _DROPPED_FIELDS:
                return None
    raise CheckpointError(f"unexpected key {key!r}: not a speechbrain ECAPA_TDNN or Classifier "
                          "parameter (is this an ECAPA-TDNN embedding_model.ckpt / classifier.ckpt?)")


def convert_array(key, value):
    """speechbrain tensor layout -> MindSpore's: conv weights (out, in/g, k) -> (out, in/g, 1, k)."""
    value = np.asarray(value)
    if key.endswith('.conv.weight') and value.ndim == 3:
        value = value[:, :, None, :]
    return np.ascontiguousarray(value, dtype=np.float32)


def _target_prefix(key, prefix_map):
    """(source prefix, target prefix) of the longest source prefix that ``key`` starts with."""
    matches = [p for p in prefix_map if key.startswith(p)]
    if not matches:
        raise CheckpointError(f"unexpected key {key!r}: under none of the prefixes "
                              f"{sorted(prefix_map)}")
    source = max(matches, key=len)
    return source, prefix_map[source]


def convert_speechbrain_state(state, prefix_map=None):
    """Convert a speechbrain ECAPA-TDNN (and/or cosine Classifier) state dict.

    Args:
        state: {speechbrain key: numpy array}, e.g. ``embedding_model.ckpt`` loaded with torch.
        prefix_map: {source prefix: target prefix}. Each key is converted under the longest
            source prefix it starts with, which is replaced by the target prefix; a key under
            none is an error. Default ``{'': ''}``. Example: a bundle holding both modules,
            ``{'': 'embedding.', 'classifier.': 'classifier.'}``.

    Returns:
        {MindSpore parameter name: float32 array in MindSpore's layout}.

    Raises:
        CheckpointError: a key that is not an ECAPA_TDNN / Classifier key, or two keys that
            map to one name.
    """
    prefix_map = {'': ''} if prefix_map is None else dict(prefix_map)
    converted, origin = {}, {}
    for key, value in state.items():
        source, target = _target_prefix(key, prefix_map)
        name = convert_key(key[len(source):])
        if name is None:
            continue
        name = target + name
        if name in converted:
            raise CheckpointError(f"keys {origin[name]!r} and {key!r} both map to {name!r}: "
                                  "check prefix_map")
        converted[name] = convert_array(key, value)
        origin[name] = key
    return converted


def _shape(state, key):
    if key not in state:
        raise CheckpointError(f"missing key {key!r}: not a speechbrain ECAPA_TDNN state dict")
    return tuple(np.shape(state[key]))


def infer_ecapa_config(state, hparams=None):
    """Network kwargs of :class:`~src.ecapa_tdnn.network.EcapaTdnn` that fit a speechbrain state dict.

    Read from tensor shapes: ``channels``, ``kernel_sizes``, ``attention_channels``,
    ``res2net_scale``, ``se_channels``, ``global_context``, ``lin_neurons``, and ``groups`` of
    all but the first layer. Shapes cannot tell ``dilations`` nor the first layer's groups
    (its weight is (C, input_size / groups, k)): they come from ``hparams`` when given, else
    speechbrain's defaults (1, 2, 3, ..., 1) and 1.

    Args:
        state: {speechbrain key: array} of the embedding model (speechbrain keys, no prefix).
        hparams: optional dict of ECAPA_TDNN arguments (from the recipe's hyperparams.yaml);
            they override the defaults and must agree with the shapes.

    Returns:
        dict with input_size, channels, kernel_sizes, dilations, attention_channels,
        res2net_scale, se_channels, global_context, groups, lin_neurons (lists as lists).

    Raises:
        CheckpointError: keys missing, or shapes that disagree with ``hparams``.
    """
    hparams = dict(hparams or {})
    block_ids = sorted({int(m.group(1)) for k in state for m in [re.match(r'blocks\.(\d+)\.', k)] if m})
    if not block_ids or block_ids != list(range(len(block_ids))) or len(block_ids) < 2:
        raise CheckpointError(f"expected keys blocks.0.* .. blocks.N.* (N >= 1), found blocks "
                              f"{block_ids}: not a speechbrain ECAPA_TDNN state dict")
    n_blocks = len(block_ids)
    first = _shape(state, 'blocks.0.conv.conv.weight')                  # (C0, in/g0, k0)
    mfa = _shape(state, 'mfa.conv.conv.weight')                          # (C_last, in/g, k)
    channels, kernel_sizes, groups = [first[0]], [first[2]], [int(hparams.get('groups', [1])[0])]
    for i in range(1, n_blocks):
        tdnn1 = _shape(state, f'blocks.{i}.tdnn1.conv.conv.weight')     # (C_i, C_{i-1}/g, 1)
        res2 = _shape(state, f'blocks.{i}.res2net_block.blocks.0.conv.conv.weight')
        channels.append(tdnn1[0])
        kernel_sizes.append(res2[2])
        groups.append(channels[i - 1] // tdnn1[1])
    channels.append(mfa[0])
    kernel_sizes.append(mfa[2])
    groups.append(channels[-2] * (n_blocks - 1) // mfa[1])
    scale = 1 + len({k.split('.')[4] for k in state
                     if k.startswith('blocks.1.res2net_block.blocks.')})
    asp_tdnn = _shape(state, 'asp.tdnn.conv.conv.weight')               # (A, 3 C_last or C_last, 1)
    config = {
        'input_size': first[1] * groups[0],
        'channels': channels,
        'kernel_sizes': kernel_sizes,
        'dilations': [1] + list(range(2, n_blocks + 1)) + [1],
        'attention_channels': asp_tdnn[0],
        'res2net_scale': scale,
        'se_channels': _shape(state, 'blocks.1.se_block.conv1.conv.weight')[0],
        'global_context': asp_tdnn[1] == 3 * channels[-1],
        'groups': groups,
        'lin_neurons': _shape(state, 'fc.conv.weight')[0],
    }
    for name, value in hparams.items():
        if name not in config:
            continue       # other ECAPA_TDNN arguments (device, activation, dropout) do not shape it
        value = list(value) if isinstance(value, (list, tuple)) else value
        if name in ('dilations',):
            config[name] = value
        elif value != config[name]:
            raise CheckpointError(f"hyperparameter {name}={value} disagrees with the checkpoint's "
                                  f"tensor shapes ({name}={config[name]})")
    return config


def load_state_into(net, state):
    """Copy converted parameters into ``net``, strictly.

    Names are relative to ``net`` (as ``net.parameters_and_names()`` gives them), so the cell
    may sit inside a bigger one.

    Args:
        net: a MindSpore cell.
        state: {name: array} as returned by :func:`convert_speechbrain_state`.

    Raises:
        CheckpointError: names missing from ``state``, names ``net`` does not have, or shapes
            that differ; the message lists (the first few of) each.
    """
    load_state(net, state, hint="does the network config match the checkpoint's?")


# ------------------------------------------------------------------ speechbrain hyperparams.yaml
ECAPA_ARGS = ('input_size', 'channels', 'kernel_sizes', 'dilations', 'attention_channels',
              'res2net_scale', 'se_channels', 'global_context', 'groups', 'lin_neurons')


class _Tagged:
    """A value carrying a hyperpyyaml tag (``!new:...``, ``!ref``, ``!name:...``)."""

    def __init__(self, tag, value):
        self.tag, self.value = tag, value


def _tag_tolerant_loader():
    import yaml

    class Loader(yaml.SafeLoader):
        """SafeLoader that keeps hyperpyyaml's tags as :class:`_Tagged` values instead of failing."""

    def construct(loader, suffix, node):
        if isinstance(node, yaml.MappingNode):
            value = loader.construct_mapping(node, deep=True)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_scalar(node)
        return _Tagged(node.tag, value)

    Loader.add_multi_constructor('!', construct)
    return Loader


def _find_ecapa(tree):
    """(key, mapping) of the first ``!new:...ECAPA_TDNN`` object, preferring ``embedding_model``."""
    found = []

    def walk(key, value):
        if isinstance(value, _Tagged):
            if value.tag.startswith('!new:') and value.tag.endswith('.ECAPA_TDNN'):
                found.append((key, value.value))
            walk(key, value.value)
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(k, v)
        elif isinstance(value, list):
            for v in value:
                walk(key, v)

    walk(None, tree)
    found.sort(key=lambda kv: kv[0] != 'embedding_model')
    return found[0] if found else (None, None)


def _resolve(value, tree, name, source, depth=0):
    """Plain value of ``value``: ``!ref <key>`` looked up at the top level of ``tree``."""
    if isinstance(value, _Tagged):
        match = re.fullmatch(r'\s*<([A-Za-z_][\w]*)>\s*', str(value.value))
        if value.tag != '!ref' or not match or depth > 10:
            raise ConfigError(f"{source}: cannot evaluate ECAPA_TDNN argument {name}: "
                              f"{value.tag} {value.value!r}; write the value itself there or leave "
                              "--hparams out (shapes give all but dilations)")
        key = match.group(1)
        if not isinstance(tree, dict) or key not in tree:
            raise ConfigError(f"{source}: {name} refers to <{key}>, which is not a top-level key")
        return _resolve(tree[key], tree, name, source, depth + 1)
    if isinstance(value, list):
        return [_resolve(v, tree, name, source, depth) for v in value]
    return value


def ecapa_hparams_from_yaml(text, source='hyperparams.yaml'):
    """The ECAPA_TDNN arguments of a speechbrain recipe / model-card ``hyperparams.yaml``.

    Reads the ``!new:speechbrain.lobes.models.ECAPA_TDNN.ECAPA_TDNN`` object (the one under
    ``embedding_model`` if there are several) without hyperpyyaml or speechbrain; ``!ref <key>``
    values are looked up among the file's top-level keys.

    Args:
        text: the YAML text.
        source: file name for messages.

    Returns:
        {argument: value} for the arguments in :data:`ECAPA_ARGS` that the file sets.

    Raises:
        ConfigError: no ECAPA_TDNN object, or an argument that is an expression.
    """
    import yaml
    try:
        tree = yaml.load(text, Loader=_tag_tolerant_loader())
    except yaml.YAMLError as err:
        raise ConfigError(f"{source}: not valid YAML ({str(err).splitlines()[0]})") from None
    _, args = _find_ecapa(tree)
    if args is None:
        raise ConfigError(f"{source}: no '!new:speechbrain.lobes.models.ECAPA_TDNN.ECAPA_TDNN' "
                          "object found; pass the embedding model's hyperparams.yaml")
    return {k: _resolve(v, tree, k, source) for k, v in (args or {}).items() if k in ECAPA_ARGS}
