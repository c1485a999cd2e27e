"""PyTorch ``torch.save`` files read without torch, tensors as numpy arrays.

A file written since torch 1.6 is a zip archive of one pickle (``data.pkl``) and one raw file per
tensor storage; a file of torch < 1.6 (``_use_new_zipfile_serialization=False``) is a run of
pickles: a magic number, a protocol version, system information (byte order), the object itself,
the list of storage keys, then each storage's raw bytes after an int64 element count. The object's
pickle is read with an unpickler that knows only how to rebuild tensors
(``torch._utils._rebuild_tensor_v2`` and ``_rebuild_parameter``, as numpy arrays over the
storages), ordered dicts, ``argparse.Namespace`` (fairseq's legacy ``args``), torch's version
string, latin-1 bytes (pickle protocol 2's ``_codecs.encode``) and numpy scalars, dtypes and
arrays; any other global in the file is refused. That is safer than what torch itself needs for
these files: the numpy objects that training recipes leave in them make
``torch.load(weights_only=True)`` fail, so reading them with torch takes ``weights_only=False``,
which runs whatever code the pickle names.
"""
import argparse
import collections
import pickle
import zipfile

import numpy as np

from .errors import CheckpointError, UserError

# torch storage class -> numpy dtype of its raw bytes (bfloat16 is widened to float32 below)
_STORAGE_DTYPES = {'FloatStorage': np.float32, 'DoubleStorage': np.float64, 'HalfStorage': np.float16,
                   'BFloat16Storage': np.uint16, 'LongStorage': np.int64, 'IntStorage': np.int32,
                   'ShortStorage': np.int16, 'CharStorage': np.int8, 'ByteStorage': np.uint8,
                   'BoolStorage': np.bool_}
# torch.serialization's MAGIC_NUMBER and PROTOCOL_VERSION of the pre-1.6 format
_LEGACY_MAGIC = 0x1950a86a20f9469cfc6c
_LEGACY_PROTOCOL = 1001
_ZIP_HEAD = b'PK\x03\x04'


class _StorageType:
    """Stands for ``torch.<Kind>Storage`` in a pickle: what dtype its raw bytes have."""

    def __init__(self, name):
        self.name = name
        self.dtype = np.dtype(_STORAGE_DTYPES[name])


def _rebuild_tensor(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None,
                    metadata=None):
    """``torch._utils._rebuild_tensor_v2`` for numpy: the strided view of a storage, copied.
    ``storage`` is None in the first pass over a legacy file (its storages come after the
    pickle), and so is the result."""
    if storage is None:
        return None
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


def numpy_globals():
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
    """Unpickles a torch file's object with tensors rebuilt as numpy arrays and every global
    outside a short allow-list refused (no code of the file's choosing runs).

    Args:
        file: the pickle stream.
        path: the file, for messages.
        read_storage: (key, numpy dtype, element count) -> the storage's 1-D array, or None
            while the storage is not known yet (a legacy file's first pass).
    """

    def __init__(self, file, path, read_storage):
        super().__init__(file)
        self.path = path
        self.read_storage = read_storage
        self.allowed = {('collections', 'OrderedDict'): collections.OrderedDict,
                        ('torch._utils', '_rebuild_tensor_v2'): _rebuild_tensor,
                        ('torch._utils', '_rebuild_parameter'): _rebuild_parameter,
                        ('torch._utils', '_rebuild_parameter_with_state'): _rebuild_parameter,
                        # fairseq < 0.10 stores its command-line arguments as a Namespace
                        ('argparse', 'Namespace'): argparse.Namespace,
                        # serialize() stores torch.__version__, a str subclass
                        ('torch.torch_version', 'TorchVersion'): str,
                        ('_codecs', 'encode'): _latin1_bytes}
        self.allowed.update(numpy_globals())
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
        # zip: ('storage', type, key, location, numel); legacy: the same + view metadata
        if not (isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] == 'storage'
                and isinstance(pid[1], _StorageType)):
            raise CheckpointError(f"{self.path}: unknown persistent id in the pickle; not a torch "
                                  "tensor storage")
        storage_type, key, numel = pid[1], str(pid[2]), pid[4]
        view = pid[5] if len(pid) == 6 else None
        if key not in self.storages:
            data = self.read_storage(key, storage_type.dtype.newbyteorder('<'), numel)
            if data is None:
                return None
            self.storages[key] = (data, storage_type.name == 'BFloat16Storage')
        data, is_bfloat16 = self.storages[key]
        if view is not None:   # torch < 1.0 views: (view key, offset, size) into the root storage
            _, offset, size = view
            data = data[offset:offset + size]
        return data, is_bfloat16


def _damaged(path, err):
    return CheckpointError(f"{path}: damaged torch file ({type(err).__name__}: "
                           f"{str(err).splitlines()[0] if str(err) else ''})")


_READ_ERRORS = (zipfile.BadZipFile, KeyError, EOFError, pickle.UnpicklingError, ValueError,
                TypeError, AttributeError, IndexError, OSError)


def read_torch_zip(path):
    """The object a torch >= 1.6 ``torch.save`` wrote to ``path``, tensors as numpy arrays,
    without torch (see the module doc).

    Raises:
        CheckpointError: not a torch zip archive, a big-endian one, a damaged one, or a pickle
            that names anything but tensors, ordered dicts, namespaces and numpy values.
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

            def read_storage(key, dtype, numel):
                return np.frombuffer(archive.read(f"{prefix}data/{key}"), dtype=dtype, count=numel)
            with archive.open(pickles[0]) as handle:
                return _TensorOnlyUnpickler(handle, path, read_storage).load()
    except CheckpointError:
        raise
    except _READ_ERRORS as err:
        raise _damaged(path, err) from None


def _safe_pickle_load(handle, path):
    """One of a legacy file's plain pickles (numbers, a dict of flags, a list of keys)."""
    return _TensorOnlyUnpickler(handle, path, lambda *_: None).load()


def read_torch_legacy(path):
    """The object a torch < 1.6 ``torch.save`` wrote to ``path`` (not a zip archive), tensors as
    numpy arrays, without torch.

    The object's pickle is read twice: first to find where the storages begin (they follow it),
    then with the storages, read from their offsets.

    Raises:
        CheckpointError: not such a file, a big-endian one, a damaged one, or a pickle that
            names anything but tensors, ordered dicts, namespaces and numpy values.
    """
    try:
        with open(path, 'rb') as handle:
            if _safe_pickle_load(handle, path) != _LEGACY_MAGIC:
                raise CheckpointError(f"{path}: a pickle, but not one torch.save wrote")
            if _safe_pickle_load(handle, path) != _LEGACY_PROTOCOL:
                raise CheckpointError(f"{path}: a torch file of an unknown legacy protocol")
            sys_info = _safe_pickle_load(handle, path)
            if isinstance(sys_info, dict) and not sys_info.get('little_endian', True):
                raise CheckpointError(f"{path}: a big-endian torch file; re-save it on a little-endian machine")
            start = handle.tell()
            dtypes = {}

            def note_storage(key, dtype, numel):
                dtypes[key] = dtype
            _TensorOnlyUnpickler(handle, path, note_storage).load()
            keys = [str(k) for k in _safe_pickle_load(handle, path)]
            storages = {}
            for key in keys:   # int64 element count, then the raw bytes
                numel = int(np.frombuffer(handle.read(8), dtype='<i8')[0])
                dtype = dtypes[key]
                raw = handle.read(numel * dtype.itemsize)
                if len(raw) != numel * dtype.itemsize:
                    raise EOFError(f"storage {key} ends early")
                storages[key] = np.frombuffer(raw, dtype=dtype)
            handle.seek(start)

            def read_storage(key, dtype, numel):
                return storages[key]
            return _TensorOnlyUnpickler(handle, path, read_storage).load()
    except CheckpointError:
        raise
    except _READ_ERRORS as err:
        raise _damaged(path, err) from None


def read_torch_file(path):
    """The object in a ``torch.save`` file of any torch version, tensors as numpy arrays.

    Raises:
        UserError: no such file.
        CheckpointError: neither kind of torch file, or unreadable (see :func:`read_torch_zip`).
    """
    try:
        with open(path, 'rb') as f:
            head = f.read(4)
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except OSError as err:
        raise UserError(f"{path}: cannot be read ({err.strerror})") from None
    if head == _ZIP_HEAD:          # torch >= 1.6 (or damaged)
        return read_torch_zip(path)
    if head[:1] == b'\x80':        # a bare pickle: torch < 1.6
        return read_torch_legacy(path)
    raise CheckpointError(f"{path}: not a torch file (neither a zip archive nor a pickle)")
