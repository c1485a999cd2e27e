"""asteroid ``DPRNNTasNet`` checkpoints -> this project's :class:`~src.dprnn.network.DPRNNTasNet`.

asteroid publishes a model as the ``torch.save`` of ``BaseModel.serialize()``:
``{'model_name': 'DPRNNTasNet', 'state_dict': ..., 'model_args': ..., 'infos': ...}``, where
``model_args`` are the filterbank's and the masker's ``get_config()`` merged (``fb_name`` is then
the class name ``'FreeFB'``, ``in_chan``/``out_chan`` are filled in) and ``infos`` holds software
versions and, from the recipes, numpy scalars and arrays (final metrics).

The network's parameter names and shapes are asteroid's state-dict keys, so the conversion is
the identity plus checks: every key present, none unexpected, every shape that of the network
the ``model_args`` build, float32. A ``.npz`` of the state dict works too, with the model
arguments in a ``__meta__`` JSON entry (``{"model_args": {...}}``, the parity bundles' layout)
or given separately.

Reading a ``.pth`` needs no torch (:mod:`src.torchfile`): its unpickler rebuilds tensors as numpy
arrays and refuses any global but a short allow-list, which also admits the numpy values of
``infos`` (that ``torch.load(weights_only=True)`` refuses). Files of torch < 1.6 (not zip
archives) are read the same way.
"""
import json
import os

import numpy as np

from src.checkpoint import state_mismatches
from src.errors import CheckpointError, ConfigError, UserError
from src.torchfile import read_torch_file

MODEL_NAME = 'DPRNNTasNet'
# the keys of asteroid 0.7's DPRNNTasNet.get_model_args(): FreeFB.get_config() + DPRNN.get_config()
# + encoder_activation, with the DPRNNTasNet argument each one sets
ASTEROID_ARGS = ('fb_name', 'n_filters', 'kernel_size', 'stride', 'sample_rate', 'in_chan',
                 'out_chan', 'bn_chan', 'hid_size', 'chunk_size', 'hop_size', 'n_repeats', 'n_src',
                 'norm_type', 'mask_act', 'bidirectional', 'rnn_type', 'num_layers', 'dropout',
                 'use_mulcat', 'encoder_activation')
FREE_FILTERBANKS = ('FreeFB', 'free')


def _plain(value):
    """numpy scalars in model_args as Python values (asteroid's recipes may store them)."""
    return value.item() if isinstance(value, np.generic) else value


def _read_npz(path, model_args):
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError) as err:
        raise CheckpointError(f"{path}: unreadable .npz ({err})") from None
    meta = {}
    if '__meta__' in arrays:
        try:
            meta = json.loads(str(arrays['__meta__']))
        except ValueError:
            raise CheckpointError(f"{path}: __meta__ is not JSON") from None
    name = meta.get('model_name') or meta.get('module_prefixes', {}).get('') or meta.get('model')
    keys = meta.get('state_keys') or [k for k in arrays if not k.startswith('__')]
    return name, model_args or meta.get('model_args'), {k: arrays[k] for k in keys}


def read_asteroid_file(path, model_args=None, model_name=MODEL_NAME):
    """The model arguments and state dict of an asteroid model file.

    Args:
        path: ``.pth`` written by ``torch.save(model.serialize())`` (a bare state dict too, with
            ``model_args`` given), or ``.npz`` of the state dict (model arguments in ``__meta__``).
        model_args: the model arguments, when the file has none (or to replace the file's).
        model_name: the asteroid class the file must hold (when it says which).

    Returns:
        (model_args dict, {state-dict key: numpy array}).

    Raises:
        UserError: no such file.
        CheckpointError: unreadable, another model class, or no model arguments.
    """
    if not os.path.isfile(path):
        raise UserError(f"{path}: no such file")
    if path.endswith('.npz'):
        name, args, state = _read_npz(path, model_args)
    else:
        obj = read_torch_file(path)
        if not isinstance(obj, dict):
            raise CheckpointError(f"{path}: holds a {type(obj).__name__}, expected asteroid's "
                                  "serialized model (a dict with state_dict and model_args)")
        if 'state_dict' in obj:
            name, args, state = obj.get('model_name'), model_args or obj.get('model_args'), obj['state_dict']
        else:   # a bare state dict
            name, args, state = None, model_args, obj
    if name is not None and str(name).rsplit('.', 1)[-1] != model_name:
        raise CheckpointError(f"{path}: an asteroid {str(name).rsplit('.', 1)[-1]} model, not "
                              f"{model_name}; convert it with that model's converter")
    if not isinstance(args, dict):
        raise CheckpointError(f"{path}: no model_args in the file; pass them separately "
                              "(the DPRNNTasNet arguments it was trained with)")
    if not isinstance(state, dict) or not all(isinstance(v, np.ndarray) for v in state.values()):
        raise CheckpointError(f"{path}: state_dict is not a dict of tensors")
    return {k: _plain(v) for k, v in args.items()}, dict(state)


def dprnn_args_from_asteroid(model_args, source='model_args'):
    """:class:`~src.dprnn.network.DPRNNTasNet` keyword arguments from asteroid's ``model_args``.

    Args:
        model_args: asteroid's ``get_model_args()`` dict (or a subset: missing keys take the
            defaults, ``n_src`` is required as in asteroid).
        source: the file they come from, for messages.

    Returns:
        dict of DPRNNTasNet arguments (``fb_name`` 'free', ``in_chan``/``out_chan`` checked
        against ``n_filters`` and dropped when equal).

    Raises:
        CheckpointError: keys that are not DPRNNTasNet's (another architecture), no n_src, or a
            filterbank other than the free one.
    """
    unknown = sorted(set(model_args) - set(ASTEROID_ARGS))
    if unknown:
        raise CheckpointError(f"{source}: model_args with {', '.join(map(repr, unknown[:5]))}, which "
                              "asteroid's DPRNNTasNet does not take: another architecture or filterbank")
    if 'n_src' not in model_args:
        raise CheckpointError(f"{source}: model_args without n_src; not a DPRNNTasNet's")
    args = dict(model_args)
    fb_name = args.pop('fb_name', 'free')
    if fb_name not in FREE_FILTERBANKS:
        raise CheckpointError(f"{source}: the {fb_name} filterbank is not ported; only FreeFB is")
    n_filters = args.get('n_filters', 64)
    for key in ('in_chan', 'out_chan'):
        if args.get(key) is not None and args[key] != n_filters:
            raise CheckpointError(f"{source}: {key} {args[key]} differs from n_filters {n_filters}; "
                                  "not a free-filterbank DPRNNTasNet")
        args.pop(key, None)
    return args


def _expected_shapes(network_args):
    from .network import DPRNNTasNet
    return {name: tuple(p.shape) for name, p in DPRNNTasNet(**network_args).parameters_and_names()}


def convert_asteroid_state(state, network_args, source='checkpoint'):
    """An asteroid DPRNNTasNet state dict as this network's parameters.

    Args:
        state: {asteroid key: numpy array}.
        network_args: the DPRNNTasNet arguments (:func:`dprnn_args_from_asteroid`).
        source: the file, for messages.

    Returns:
        {parameter name: float32 array}, the names being the keys.

    Raises:
        CheckpointError: a state dict of another number of sources (checked first, named as
            such), or missing, unexpected or wrongly shaped keys.
    """
    try:
        expected = _expected_shapes(network_args)
    except ConfigError as err:
        raise CheckpointError(f"{source}: model_args build no network here ({err})") from None
    n_src = network_args.get('n_src', 2)
    head = 'masker.first_out.1.weight'
    if head in state and head in expected and np.shape(state[head])[0] != expected[head][0]:
        theirs = np.shape(state[head])[0] / (expected[head][0] // n_src)
        raise CheckpointError(f"{source}: the weights separate {theirs:g} sources, the arguments ask "
                              f"for n_src={n_src}; use the checkpoint's n_src")
    problems = state_mismatches(expected, state, shown=3)
    if problems:
        hint = ''
        if any(k.startswith('model.') and k not in expected for k in state):
            hint = " (keys start with 'model.': a training-system checkpoint; strip the prefix)"
        raise CheckpointError(f"{source} does not fit DPRNNTasNet({_describe(network_args)}): "
                              + '; '.join(problems) + hint)
    return {k: np.ascontiguousarray(state[k], dtype=np.float32) for k in expected}


def _describe(network_args):
    keys = ('n_src', 'n_repeats', 'bn_chan', 'hid_size', 'rnn_type', 'bidirectional')
    return ', '.join(f"{k}={network_args[k]!r}" for k in keys if k in network_args)


def load_asteroid(path, model_args=None):
    """Build the DPRNNTasNet an asteroid file describes and load its weights (eval mode).

    Args:
        path: see :func:`read_asteroid_file`.
        model_args: asteroid model arguments for a file without them.

    Returns:
        (network, DPRNNTasNet keyword arguments).
    """
    from src.checkpoint import load_state
    from .network import DPRNNTasNet

    asteroid_args, state = read_asteroid_file(path, model_args)
    kwargs = dprnn_args_from_asteroid(asteroid_args, path)
    params = convert_asteroid_state(state, kwargs, path)
    network = DPRNNTasNet(**kwargs)
    load_state(network, params, subject=f"{path} does not fit DPRNNTasNet")
    network.set_train(False)
    return network, kwargs
