"""Export a trained model: ``python export.py --config X.yaml [--checkpoint C] [--file_name F]``.

Writes ``F.mindir`` (dynamic time axis, or a static shape for devices that need one:
``--fixed_seconds S`` of audio, or ``--fixed_frames N`` in the model's input unit, fbank frames or
samples) and ``F.json``, a sidecar with what a user of the file needs (sample rate, feature
settings, input and output layout). The convolution kernels follow the export target: MindSpore's
native operators for Ascend / Ascend 310 / GPU, the fast im2col path for CPU; ``--impl`` overrides.
"""
import json
import os

from src.cli import config_parser, load_run_config, run_main, set_up

IMPL_FOR_TARGET = {'CPU': 'gemm', 'GPU': 'native', 'Ascend': 'native', 'Ascend310': 'native'}


def calibrated_threshold(run_dir, checkpoint):
    """The EER threshold eval.py measured for ``checkpoint`` on raw cosine scores, or None (not
    evaluated, evaluated with AS-norm, or evaluated with other weights than the file has now)."""
    from src.checkpoint import file_digest
    name = os.path.splitext(os.path.basename(checkpoint))[0]
    path = os.path.join(run_dir, 'eval', name, 'metrics.json')
    if not os.path.exists(path):
        return None
    try:
        with open(path) as f:
            metrics = json.load(f)
    except ValueError:
        return None
    if metrics.get('as_norm') or metrics.get('weights') != file_digest(checkpoint):
        return None
    return metrics.get('eer_threshold')


def export_model(cfg, checkpoint, file_name, target='CPU', impl='auto', fixed_frames=0):
    """Export ``checkpoint`` to ``file_name``.mindir + ``file_name``.json; returns both paths."""
    import mindspore as ms
    from src.layers import conv_impl
    from eval import load_network
    impl = IMPL_FOR_TARGET[target] if impl == 'auto' else impl
    with conv_impl(impl):
        recipe, network = load_network(cfg, checkpoint)
    inputs = recipe.export_inputs(cfg, fixed_frames or None)
    os.makedirs(os.path.dirname(os.path.abspath(file_name)), exist_ok=True)
    suffix = {'MINDIR': '.mindir', 'AIR': '.air', 'ONNX': '.onnx'}[cfg.export.file_format]
    # written under a temporary name, then renamed: a crash never leaves a half-written model
    tmp = f"{file_name}.tmp{os.getpid()}"
    try:
        ms.export(network, *inputs, file_name=tmp, file_format=cfg.export.file_format)
    except (RuntimeError, ValueError, TypeError) as err:
        from src.errors import UserError
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(f"export to {cfg.export.file_format} failed: {first[:160]}") from None
    os.replace(tmp + suffix, file_name + suffix)
    shape = [None if int(d) < 0 else int(d) for d in inputs[0].shape]
    sidecar = dict(recipe.sidecar(cfg), input_shape=shape, target=target, conv_impl=impl,
                   checkpoint=os.path.abspath(checkpoint), mindspore=ms.__version__)
    threshold = calibrated_threshold(cfg.run_dir, checkpoint)
    if threshold is not None:
        sidecar['threshold'] = threshold
    from src.checkpoint import atomic_write_json
    atomic_write_json(file_name + '.json', sidecar)
    return file_name + suffix, file_name + '.json'


def main():
    p = config_parser(__doc__.splitlines()[0])
    p.add_argument('--checkpoint', help='default: the best checkpoint of the run directory (the latest for '
                   'models validated on a cross-validation fold)')
    p.add_argument('--file_name', help='output path without extension (default <run_dir>/export/<model>)')
    p.add_argument('--target', choices=tuple(IMPL_FOR_TARGET), help='export.target')
    p.add_argument('--impl', choices=('auto', 'native', 'gemm'), help='export.impl')
    p.add_argument('--fixed_frames', type=int, help='export.fixed_frames (0 = dynamic)')
    p.add_argument('--fixed_seconds', type=float, help='export.fixed_seconds: a static input of this '
                   'much audio, e.g. 5 for PANNs (160000 samples at 32 kHz)')
    args = p.parse_args()
    extra = [f"export.{k}={getattr(args, k)}" for k in ('target', 'impl', 'fixed_frames', 'fixed_seconds')
             if getattr(args, k) is not None]
    cfg = load_run_config(args, extra)
    set_up(cfg)
    from eval import find_checkpoint
    from src.recipes import get_recipe
    checkpoint = args.checkpoint or find_checkpoint(cfg.run_dir)
    file_name = args.file_name or os.path.join(cfg.run_dir, 'export', cfg.model.name)
    fixed = cfg.export.fixed_frames
    if cfg.export.fixed_seconds:
        from src.errors import ConfigError
        from src.recipes import get_recipe
        if fixed:
            raise ConfigError("set export.fixed_frames or export.fixed_seconds, not both")
        fixed = get_recipe(cfg.model.name).input_length(cfg, cfg.export.fixed_seconds)
        if fixed < 1:
            raise ConfigError(f"export.fixed_seconds {cfg.export.fixed_seconds} is less than one "
                              "input step of the model: give a longer input")
    model, sidecar = export_model(cfg, checkpoint, file_name, cfg.export.target, cfg.export.impl,
                                  fixed)
    print(f"exported {model} (+ {sidecar})")
    return model


if __name__ == '__main__':
    run_main(main)
