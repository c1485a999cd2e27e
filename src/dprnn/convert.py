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

Reading a ``.pth`` needs no torch: a file written by ``torch.save`` since torch 1.6 is a zip
archive of one pickle (``data.pkl``) and one raw file per tensor storage. Its pickle is read with
an unpickler that knows only how to rebuild tensors (``torch._utils._rebuild_tensor_v2`` and
``_rebuild_parameter``, as numpy arrays over the storages), ordered dicts, torch's version
string, latin-1 bytes (pickle protocol 2's ``_codecs.encode``) and numpy scalars, dtypes and
arrays; any other global in the file is refused. That is safer than what torch itself
needs for these files: the numpy objects in ``infos`` make ``torch.load(weights_only=True)``
fail, so reading them with torch takes ``weights_only=False``, which runs whatever code the
pickle names. Files of torch < 1.6 (not zip archives) are read with torch when it is installed,
with its weights-only unpickler and the numpy reconstructors allowed.
"""
import collections
import json
import os
import pickle
import zipfile

import numpy as np

from src.checkpoint import state_mismatches
from src.errors import CheckpointError, ConfigError, UserError

MODEL_NAME = 'DPRNNTasNet'
# the keys of asteroid 0.7's DPRNNTasNet.get_model_args(): FreeFB.get_config() + DPRNN.get_config()
# + encoder_activation, with the DPRNNTasNet argument each one sets
ASTEROID_ARGS = ('fb_name', 'n_filters', 'kernel_size', 'stride', 'sample_rate', 'in_chan',
                 'out_chan', 'bn_chan', 'hid_size', 'chunk_size', 'hop_size', 'n_repeats', 'n_src',
                 'norm_type', 'mask_act', 'bidirectional', 'rnn_type', 'num_layers', 'dropout',
                 'use_mulcat', 'encoder_activation')
FREE_FILTERBANKS = ('FreeFB', 'free')

# torch storage class -> numpy dtype of its raw bytes (bfloat16 is widened to float32 below)
_STORAGE_DTYPES = {'FloatStorage': np.float32, 'DoubleStorage': np.float64, 'HalfStorage': np.float16,
                   'BFloat16Storage': np.uint16, 'LongStorage': np.int64, 'IntStorage': np.int32,
                   'ShortStorage': np.int16, 'CharStorage': np.int8, 'ByteStorage': np.uint8,
                   'BoolStorage': np.bool_}


class _StorageType:
    """Stands for ``torch.<Kind>Storage`` in a pickle: what dtype its raw bytes have."""

    def __init__(self, name):
        self.name = name
        self.dtype = np.dtype(_STORAGE_DTYPES[name])


def _rebuild_tensor(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None,
                    metadata=None):
    """``torch._utils._rebuild_tensor_v2`` for numpy: the strided view of a storage, copied."""
    data, is_bfloat16 = storage
    itemsize = data.dtype.itemsize
    view = np.lib.stride_tricks.as_strided(data[storage_offset:], shape=tuple(size),
                                           strides=tuple(s * itemsize for s in stride))
    array = np.array(view)
    if is_bfloat16:   # the high half of a float32
        array = (array.astype(np.uint32) << 16).view(np.float32)
    return array


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None, *state):
    """``torch._utils._rebuild_parameter`` (and ``_with_state``): the array itself."""
    return data


def _latin1_bytes(text, encoding='latin1'):
    """``_codecs.encode`` as pickle protocol 2 uses it for bytes (numpy scalars' data): str ->
    bytes in latin-1, nothing else."""
    if not isinstance(text, str) or encoding not in ('latin1', 'latin-1'):
        raise pickle.UnpicklingError("_codecs.encode is allowed for latin-1 bytes only")
    return text.encode('latin1')


def _numpy_globals():
    """The numpy reconstructors a pickle of numpy scalars, dtypes and arrays names."""
    allowed = {('numpy', 'dtype'): np.dtype, ('numpy', 'ndarray'): np.ndarray}
    try:   # numpy >= 2 pickles as numpy._core, numpy 1.x as numpy.core; both load on either
        from numpy._core import multiarray
    except ImportError:
        from numpy.core import multiarray
    for module in ('numpy.core.multiarray', 'numpy._core.multiarray'):
        allowed[(module, 'scalar')] = multiarray.scalar
        allowed[(module, '_reconstruct')] = multiarray._reconstruct
    return allowed


class _TensorOnlyUnpickler(pickle.Unpickler):
    """Unpickles ``data.pkl`` of a torch zip archive with tensors rebuilt as numpy arrays and
    every global outside a short allow-list refused (no code of the file's choosing runs)."""

    def __init__(self, file, archive, prefix, path):
        super().__init__(file)
        self.archive = archive
        self.prefix = prefix
        self.path = path
        self.allowed = {('collections', 'OrderedDict'): collections.OrderedDict,
                        ('torch._utils', '_rebuild_tensor_v2'): _rebuild_tensor,
                        ('torch._utils', '_rebuild_parameter'): _rebuild_parameter,
                        ('torch._utils', '_rebuild_parameter_with_state'): _rebuild_parameter,
                        # serialize() stores torch.__version__, a str subclass
                        ('torch.torch_version', 'TorchVersion'): str,
                        ('_codecs', 'encode'): _latin1_bytes}
        self.allowed.update(_numpy_globals())
        self.storages = {}

    def find_class(self, module, name):
        if module == 'torch' and name in _STORAGE_DTYPES:
            return _StorageType(name)
        if (module, name) in self.allowed:
            return self.allowed[(module, name)]
        raise CheckpointError(f"{self.path}: the file asks to run {module}.{name}, which a "
                              "checkpoint of tensors, dicts and numpy values does not need; "
                              "refused (convert it to .npz with torch if you trust it)")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == 'storage'
                and isinstance(pid[1], _StorageType)):
            raise CheckpointError(f"{self.path}: unknown persistent id in the pickle; not a torch "
                                  "tensor storage")
        _, storage_type, key, _location, numel = pid
        if key not in self.storages:
            raw = self.archive.read(f"{self.prefix}data/{key}")
            data = np.frombuffer(raw, dtype=storage_type.dtype.newbyteorder('<'), count=numel)
            self.storages[key] = (data, storage_type.name == 'BFloat16Storage')
        return self.storages[key]


def read_torch_zip(path):
    """The object a torch >= 1.6 ``torch.save`` wrote to ``path``, tensors as numpy arrays,
    without torch (see the module doc).

    Raises:
        CheckpointError: not a torch zip archive, a big-endian one, a damaged one, or a pickle
            that names anything but tensors, ordered dicts and numpy values.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            pickles = [n for n in archive.namelist() if n.endswith('data.pkl')]
            if len(pickles) != 1:
                raise CheckpointError(f"{path}: a zip archive without one data.pkl; not a torch file")
            prefix = pickles[0][:-len('data.pkl')]
            if f"{prefix}byteorder" in archive.namelist() and \
                    archive.read(f"{prefix}byteorder").strip() != b'little':
                raise CheckpointError(f"{path}: a big-endian torch file; re-save it on a little-endian machine")
            with archive.open(pickles[0]) as handle:
                return _TensorOnlyUnpickler(handle, archive, prefix, path).load()
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, KeyError, EOFError, pickle.UnpicklingError, ValueError,
            TypeError, AttributeError) as err:
        raise CheckpointError(f"{path}: damaged torch file ({type(err).__name__}: "
                              f"{str(err).splitlines()[0] if str(err) else ''})") from None


def _read_legacy_torch(path):
    """A torch < 1.6 file, read with torch's weights-only unpickler (numpy values allowed)."""
    try:
        import torch
    except ImportError:
        raise UserError(f"{path}: a torch < 1.6 file (not a zip archive); reading it needs "
                        "PyTorch: pip install torch, or re-save it with a recent torch") from None
    try:
        # torch also wants the classes of the dtypes it rebuilds (numpy.dtypes.Float64DType ...)
        allowed = list(_numpy_globals().values()) + [torch.torch_version.TorchVersion] + \
            [type(np.dtype(code)) for code in '?bBhHiIlLqQefdgFD']
        with torch.serialization.safe_globals(allowed):
            obj = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as err:   # torch raises many types for a bad file
        raise CheckpointError(f"{path}: not a readable torch file ({type(err).__name__}: "
                              f"{str(err).splitlines()[0] if str(err) else ''})") from None

    def to_numpy(value):
        if isinstance(value, torch.Tensor):
            return value.detach().cpu().numpy()
        if isinstance(value, dict):
            return type(value)((k, to_numpy(v)) for k, v in value.items())
        return value
    return to_numpy(obj)


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
        UserError: no such file, or a torch < 1.6 file and no torch installed.
        CheckpointError: unreadable, another model class, or no model arguments.
    """
    if not os.path.isfile(path):
        raise UserError(f"{path}: no such file")
    if path.endswith('.npz'):
        name, args, state = _read_npz(path, model_args)
    else:
        with open(path, 'rb') as f:
            head = f.read(4)
        if head == b'PK\x03\x04':          # a zip archive: torch >= 1.6 (or damaged)
            obj = read_torch_zip(path)
        elif head[:1] == b'\x80':           # a bare pickle: torch < 1.6
            obj = _read_legacy_torch(path)
        else:
            raise CheckpointError(f"{path}: neither a torch file nor an .npz")
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
