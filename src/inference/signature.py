"""What an exported model takes and returns: named inputs and outputs with dtypes and named axes.

A recipe declares it with :meth:`src.engine.recipe.Recipe.export_signature`::

    {'task': 'speaker_verification',
     'inputs': [{'name': 'feats', 'dtype': 'float32', 'axes': ['batch', 'frames', 80],
                 'doc': 'fbank features'}],
     'outputs': [{'name': 'embedding', 'dtype': 'float32', 'axes': ['batch', 1, 192],
                  'doc': 'speaker embedding'}]}

An axis is a size (int) or a name (str): a named axis is dynamic. The axis named ``batch`` is the
batch; every other named axis is a length (frames, samples). Inputs that share an axis name must
agree on its size (a waveform and its padding mask). A fixed-length export (``length``) gives the
batch axis 1 and every other named input axis ``length``.

The sidecar of an export (``export.py``) states the task and lists ``inputs`` and ``outputs``
with ``name``, ``dtype``, ``shape`` (None where dynamic), ``axes`` and ``doc``; the offline
runtimes (``infer.py bins``, ``ascend310_infer``) and ``infer.py``'s sub-commands read it.
"""
import re

import numpy as np

from ..errors import UserError

# dtypes an input or output may have: what the offline runtimes can read from and write to files
DTYPES = ('float32', 'float16', 'float64', 'int8', 'int16', 'int32', 'int64', 'uint8', 'bool')
BATCH_AXIS = 'batch'
# names become folder names of the offline inputs (<feats>/<name>/<n>.bin)
_NAME = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*$')


def check_signature(signature, where='export_signature'):
    """``signature`` unchanged if well formed, else ValueError naming the fault (a recipe bug)."""
    if not isinstance(signature, dict) or not isinstance(signature.get('task'), str) or not signature['task']:
        raise ValueError(f"{where}: a dict with a non-empty 'task', 'inputs' and 'outputs' expected")
    for side in ('inputs', 'outputs'):
        entries = signature.get(side)
        if not isinstance(entries, (list, tuple)) or not entries:
            raise ValueError(f"{where}: '{side}' must be a non-empty list")
        names = [entry.get('name') for entry in entries]
        if len(set(names)) != len(names):
            raise ValueError(f"{where}: {side} names {names} repeat")
        for entry in entries:
            name = entry.get('name')
            if not isinstance(name, str) or not _NAME.match(name):
                raise ValueError(f"{where}: {side} name {name!r} is not an identifier")
            if entry.get('dtype') not in DTYPES:
                raise ValueError(f"{where}: {name}: dtype {entry.get('dtype')!r} is not one of {DTYPES}")
            axes = entry.get('axes')
            if not isinstance(axes, (list, tuple)) or not all(
                    (isinstance(a, str) and a) or (isinstance(a, int) and not isinstance(a, bool) and a > 0)
                    for a in axes):
                raise ValueError(f"{where}: {name}: axes {axes!r} must be sizes (int > 0) or names (str)")
    return signature


def fixed_axes(signature, length=None):
    """{axis name: size} of a fixed-length export (``length``): the batch 1, other axes
    ``length``; empty for a dynamic export."""
    if not length:
        return {}
    names = {a for entry in signature['inputs'] for a in entry['axes'] if isinstance(a, str)}
    return {a: 1 if a == BATCH_AXIS else int(length) for a in names}


def shape_of(entry, fixed):
    """The shape of an input or output: sizes, the fixed axes' sizes, None for a dynamic axis."""
    return [a if isinstance(a, int) else fixed.get(a) for a in entry['axes']]


def export_tensors(signature, length=None):
    """Example tensors of the inputs for ``mindspore.export``: dynamic axes declared as None
    (``length`` None), or zeros of the fixed-length shape."""
    import mindspore as ms
    from mindspore.common.dtype import pytype_to_dtype
    fixed = fixed_axes(check_signature(signature), length)
    tensors = []
    for entry in signature['inputs']:
        shape, dtype = shape_of(entry, fixed), np.dtype(entry['dtype'])
        if None in shape:
            tensors.append(ms.Tensor(shape=shape, dtype=pytype_to_dtype(dtype.type)))
        else:
            tensors.append(ms.Tensor(np.zeros(shape, dtype)))
    return tensors


def describe(signature, length=None):
    """The sidecar's ``task``, ``inputs`` and ``outputs`` of an export of ``signature``.

    An output axis that shares its name with a fixed input axis has that size in a fixed-length
    export; other named output axes stay dynamic (None).
    """
    fixed = fixed_axes(check_signature(signature), length)

    def entries(side):
        return [{'name': e['name'], 'dtype': e['dtype'], 'shape': shape_of(e, fixed),
                 'axes': list(e['axes']), 'doc': e.get('doc', '')} for e in signature[side]]
    return {'task': signature['task'], 'inputs': entries('inputs'), 'outputs': entries('outputs')}


def model_facts(recipe, cfg, length=None):
    """What a sidecar says about the model of ``cfg``: the recipe's facts (sample rate,
    features ...) with its task, inputs and outputs. Also what ``infer.py`` knows of a model
    given as a config + checkpoint (then dynamic, ``length`` None)."""
    return {**recipe.sidecar(cfg), **describe(recipe.export_signature(cfg), length)}


def check_sidecar(meta, path):
    """UserError unless ``meta`` states a task and lists the inputs and outputs (name, dtype,
    shape) of the model: a sidecar of this project's ``export.py``."""
    fix = "re-export the model with export.py"
    if not isinstance(meta, dict):
        raise UserError(f"{path} is not a JSON object: it is not an export.py sidecar; {fix}")
    if not meta.get('task'):
        raise UserError(f"{path} has no 'task': it was written by an older export.py (or by "
                        f"hand); {fix}")
    for side in ('inputs', 'outputs'):
        entries = meta.get(side)
        ok = isinstance(entries, list) and entries and all(
            isinstance(e, dict) and isinstance(e.get('name'), str) and e.get('dtype') in DTYPES
            and isinstance(e.get('shape'), list) for e in entries)
        if not ok:
            raise UserError(f"{path}: '{side}' must list the model's {side} (name, dtype, shape); {fix}")
    return meta
