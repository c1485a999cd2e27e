"""Offline inference on raw files, and ``infer.py bins``, which does on any machine what the
Ascend 310 app (``ascend310_infer/``) does.

The layout that ``preprocess.py infer_inputs`` writes, the runtimes read and write, and
``postprocess.py`` scores:

    inputs   <feats>/<n>.bin                 a model with one input
             <feats>/<input name>/<n>.bin    a model with several inputs: one folder per input,
                                             named as in the sidecar's 'inputs'
    outputs  <result>/<n>_<i>.bin            output i of item n, for every output of the model

A file holds one example (batch 1), C order, in the dtype the sidecar gives for it; besides the
batch, one dynamic axis may be unknown: it follows from the file's size.
"""
import os

import numpy as np

from ..errors import UserError
from .commands import INFER_COMMANDS, InferCommand
from .models import load_mindir, read_sidecar
from .signature import BATCH_AXIS


def input_folders(feats_dir, names):
    """The folder of each input: ``feats_dir`` for a one-input model, else ``feats_dir/<name>``."""
    return [feats_dir] if len(names) == 1 else [os.path.join(feats_dir, name) for name in names]


def output_path(result_dir, stem, index):
    """Where output ``index`` of item ``stem`` goes: ``<result_dir>/<stem>_<index>.bin``."""
    return os.path.join(result_dir, f'{stem}_{index}.bin')


def offline_files(inputs, outputs):
    """The files of item ``<n>`` in this layout, as the sidecar states them: under the input folder
    (``feats``, what ``preprocess.py infer_inputs`` writes) and the result folder."""
    names = [entry['name'] for entry in inputs]
    return {'inputs': [os.path.join(folder, '<n>.bin') for folder in input_folders('feats', names)],
            'outputs': [output_path('result', '<n>', index) for index in range(len(outputs))]}


def write_binary(path, array):
    """``array``'s bytes (C order) to ``path``, atomically."""
    tmp = f"{path}.tmp{os.getpid()}"
    np.ascontiguousarray(array).tofile(tmp)
    os.replace(tmp, path)


def write_item(feats_dir, stem, arrays):
    """Write the inputs of one item: ``arrays`` maps input names to arrays, in the model's input
    order (the layout of this module)."""
    for folder, array in zip(input_folders(feats_dir, list(arrays)), arrays.values()):
        os.makedirs(folder, exist_ok=True)
        write_binary(os.path.join(folder, f'{stem}.bin'), array)


def remove_items_from(feats_dir, count):
    """Remove the one-input items ``<n>.bin`` of ``feats_dir`` with ``n >= count``: inputs of an
    earlier, larger run that a runtime would otherwise take for this one's."""
    for name in os.listdir(feats_dir):
        stem = name[:-4] if name.endswith('.bin') else ''
        if stem.isdigit() and int(stem) >= count:
            os.remove(os.path.join(feats_dir, name))


def _stems(folder):
    names = [f[:-4] for f in os.listdir(folder) if f.endswith('.bin') and os.path.isfile(os.path.join(folder, f))]
    return sorted(names, key=lambda stem: (len(stem), stem))       # '2' before '10'


def item_stems(feats_dir, names):
    """The items of ``feats_dir`` (stems of ``<n>.bin``), in numeric order; every input's folder
    must hold the same items.

    Raises:
        UserError: a missing folder, no items, or an input file missing for an item.
    """
    folders = input_folders(feats_dir, names)
    for folder in folders:
        if not os.path.isdir(folder):
            layout = (f"one folder per input ({', '.join(names)}) in {feats_dir}" if len(names) > 1
                      else f"{feats_dir} with <n>.bin files")
            raise UserError(f"input folder not found: {folder}; the model takes {layout}: write them "
                            "with `python preprocess.py infer_inputs`")
    stems = _stems(folders[0])
    if not stems:
        raise UserError(f"no .bin files in {folders[0]}: run `python preprocess.py infer_inputs` first")
    for folder in folders[1:]:
        missing = sorted(set(stems) - set(_stems(folder)), key=lambda stem: (len(stem), stem))
        if missing:
            raise UserError(f"{os.path.join(folder, missing[0] + '.bin')} not found, but "
                            f"{os.path.join(folders[0], missing[0] + '.bin')} is there: every input "
                            f"needs a file per item ({len(missing)} missing)")
    return stems


def solve_shape(shape, size, name):
    """The shape of a file of ``size`` values under an input ``shape``: a leading unknown batch
    is 1 and one other unknown axis is solved from the size (as the Ascend 310 app does)."""
    dims = list(shape)
    if len(dims) > 1 and dims[0] is None:
        dims[0] = 1
    known = int(np.prod([d for d in dims if d is not None]))
    unknown = [i for i, d in enumerate(dims) if d is None]
    if len(unknown) > 1:
        raise UserError(f"input shape {shape} has more than one unknown axis besides the batch")
    if unknown:
        dims[unknown[0]] = size // known if known else 0
    if int(np.prod(dims)) != size or size == 0:
        raise UserError(f"{name}: {size} values do not fit the model's input shape {shape}; "
                        "write the inputs with `python preprocess.py infer_inputs` for this model")
    return dims


def read_item(folders, stem, inputs):
    """The input arrays of item ``stem``, shaped; inputs sharing a named axis must agree on it.

    Args:
        folders: :func:`input_folders`.
        inputs: the sidecar's ``inputs`` (name, dtype, shape, axes).
    """
    arrays, seen = [], {}
    for folder, entry in zip(folders, inputs):
        path = os.path.join(folder, f'{stem}.bin')
        x = np.fromfile(path, np.dtype(entry['dtype']))
        x = x.reshape(solve_shape(entry['shape'], x.size, path))
        for axis, size in zip(entry.get('axes') or (), x.shape):
            if isinstance(axis, str) and axis != BATCH_AXIS:
                first = seen.setdefault(axis, (size, path))
                if first[0] != size:
                    raise UserError(f"{path}: its {axis} axis is {size} long, {first[1]}'s is {first[0]}: "
                                    f"the inputs of item {stem} must agree on it")
        arrays.append(x)
    return arrays


def run_bins(model, input_dir, output_dir):
    """Every item of ``input_dir`` through the MindIR; every output ``i`` to
    ``<output_dir>/<n>_<i>.bin`` (in the model's output dtype). Returns the number of items."""
    meta, _ = read_sidecar(model)          # the layout is checked before the (slow) loading
    names = [entry['name'] for entry in meta['inputs']]
    if not os.path.isdir(input_dir):
        raise UserError(f"input folder not found: {input_dir}")
    stems = item_stems(input_dir, names)
    folders = input_folders(input_dir, names)
    net, meta = load_mindir(model)
    import mindspore as ms
    from ..engine.trainer import progress
    os.makedirs(output_dir, exist_ok=True)
    for stem in progress(stems, desc='inference'):
        outputs = net(*[ms.Tensor(x) for x in read_item(folders, stem, meta['inputs'])])
        if not isinstance(outputs, (tuple, list)):
            outputs = (outputs,)
        for index, y in enumerate(outputs):
            write_binary(output_path(output_dir, stem, index), y.asnumpy())
    print(f"{len(stems)} items -> {output_dir} ({len(meta['outputs'])} output(s) each)")
    return len(stems)


def add_bins_arguments(parser):
    parser.add_argument('--model', required=True, help='exported .mindir (its .json sidecar beside it)')
    parser.add_argument('--input', required=True,
                        help='folder of <n>.bin inputs (preprocess.py infer_inputs writes <out>/feats); '
                             'a model with several inputs: one subfolder per input, named as in the sidecar')
    parser.add_argument('--output', required=True, help='folder for the <n>_<i>.bin outputs (every output i)')


def run_bins_command(args):
    return run_bins(args.model, args.input, args.output)


INFER_COMMANDS.register('bins', InferCommand(
    about='MindIR on preprocess.py infer_inputs .bin files (as the Ascend 310 app)',
    add_arguments=add_bins_arguments, run=run_bins_command))
