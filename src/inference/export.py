"""Export a trained network: the model file (MindIR, AIR or ONNX) and its JSON sidecar.

The sidecar holds what a user of the file needs: the task, the inputs and outputs (names,
dtypes, shapes, named axes: :mod:`src.inference.signature`), where the offline runtimes read and
write their files (``offline_files``: :mod:`src.inference.bins`), the recipe's facts (sample rate,
feature settings, class names ...), the recipe's facts of the checkpoint (e.g. a calibrated
threshold) and how the file was made (target, convolution kernels, checkpoint, MindSpore).
"""
import os

from ..errors import ConfigError, UserError

# the convolution kernels each target runs best: MindSpore's own operators on accelerators,
# the im2col path on CPU (src.layers)
IMPL_FOR_TARGET = {'CPU': 'gemm', 'GPU': 'native', 'Ascend': 'native', 'Ascend310': 'native'}
SUFFIXES = {'MINDIR': '.mindir', 'AIR': '.air', 'ONNX': '.onnx'}


def fixed_length(cfg, recipe):
    """The fixed input length of ``cfg.export`` (``fixed_frames``, or ``fixed_seconds`` in the
    model's input unit), 0 for a dynamic export.

    Raises:
        ConfigError: both are set, or the seconds are less than one input step.
    """
    fixed = cfg.export.fixed_frames
    if cfg.export.fixed_seconds:
        if fixed:
            raise ConfigError("set export.fixed_frames or export.fixed_seconds, not both")
        fixed = recipe.input_length(cfg, cfg.export.fixed_seconds)
        if fixed < 1:
            raise ConfigError(f"export.fixed_seconds {cfg.export.fixed_seconds} is less than one "
                              "input step of the model: give a longer input")
    return fixed


def export_model(cfg, checkpoint, file_name, target='CPU', impl='auto', fixed_frames=0):
    """Export ``checkpoint`` to ``file_name`` + suffix and ``file_name.json``.

    Args:
        cfg: the model's config (``export.file_format`` picks the format).
        checkpoint: the weights.
        file_name: output path without extension.
        target: a key of :data:`IMPL_FOR_TARGET`, recorded in the sidecar.
        impl: convolution kernels, 'auto' (the target's), 'native' or 'gemm'.
        fixed_frames: a fixed input length (0: every named axis dynamic).

    Returns:
        (model path, sidecar path). Both are written under temporary names, then renamed: a
        crash never leaves a half-written file.
    """
    import mindspore as ms
    from ..checkpoint import atomic_write_json
    from ..engine.trained_network import load_network
    from ..layers import conv_impl
    from .bins import offline_files
    from .signature import model_facts
    impl = IMPL_FOR_TARGET[target] if impl == 'auto' else impl
    with conv_impl(impl):
        recipe, network = load_network(cfg, checkpoint)
    inputs = recipe.export_inputs(cfg, fixed_frames or None)
    facts = model_facts(recipe, cfg, fixed_frames or None)
    check_export_inputs(inputs, facts['inputs'], cfg.model.name)
    os.makedirs(os.path.dirname(os.path.abspath(file_name)), exist_ok=True)
    suffix = SUFFIXES[cfg.export.file_format]
    tmp = f"{file_name}.tmp{os.getpid()}"
    try:
        ms.export(recipe.inference_network(network), *inputs, file_name=tmp,
                  file_format=cfg.export.file_format)
    except (RuntimeError, ValueError, TypeError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(f"export to {cfg.export.file_format} failed: {first[:160]}") from None
    os.replace(tmp + suffix, file_name + suffix)
    sidecar = dict(facts, offline_files=offline_files(facts['inputs'], facts['outputs']), target=target,
                   conv_impl=impl, checkpoint=os.path.abspath(checkpoint), mindspore=ms.__version__,
                   **recipe.export_facts(cfg, checkpoint))
    atomic_write_json(file_name + '.json', sidecar)
    return file_name + suffix, file_name + '.json'


def check_export_inputs(tensors, inputs, model):
    """ValueError unless the example tensors of an export are the declared inputs (a recipe bug)."""
    import numpy as np
    from mindspore.common.dtype import dtype_to_nptype
    got = [([None if int(d) < 0 else int(d) for d in t.shape], np.dtype(dtype_to_nptype(t.dtype)).name)
           for t in tensors]
    want = [(entry['shape'], entry['dtype']) for entry in inputs]
    if got != want:
        raise ValueError(f"{model}: export_inputs gives (shape, dtype) {got}, its export_signature "
                         f"declares {want}")
