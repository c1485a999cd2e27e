"""Export a trained model: ``python export.py --config X.yaml [--checkpoint C] [--file_name F]``.

Writes ``F.mindir`` (dynamic time axis, or a static shape for devices that need one:
``--fixed_seconds S`` of audio, or ``--fixed_frames N`` in the model's input unit, fbank frames or
samples) and ``F.json``, a sidecar with what a user of the file needs (task, named inputs and
outputs with dtypes and shapes, sample rate, feature settings). The convolution kernels follow
the export target: MindSpore's native operators for Ascend / Ascend 310 / GPU, the fast im2col
path for CPU; ``--impl`` overrides. The work is done by :mod:`src.inference.export`.
"""
import os

from src.cli import config_parser, load_run_config, run_main, set_up


def main(argv=None):
    from src.inference.export import IMPL_FOR_TARGET
    p = config_parser(__doc__.splitlines()[0])
    p.add_argument('--checkpoint', help='default: the run\'s best checkpoint on validation, or its '
                   'final one when it has no validation split')
    p.add_argument('--file_name', help='output path without extension (default <run_dir>/export/<model>)')
    p.add_argument('--target', choices=tuple(IMPL_FOR_TARGET), help='export.target')
    p.add_argument('--impl', choices=('auto', 'native', 'gemm'), help='export.impl')
    p.add_argument('--fixed_frames', type=int, help='export.fixed_frames (0 = dynamic)')
    p.add_argument('--fixed_seconds', type=float, help='export.fixed_seconds: a static input of this '
                   'much audio, e.g. 5 for PANNs (160000 samples at 32 kHz)')
    args = p.parse_args(argv)
    extra = [f"export.{k}={getattr(args, k)}" for k in ('target', 'impl', 'fixed_frames', 'fixed_seconds')
             if getattr(args, k) is not None]
    cfg = load_run_config(args, extra)
    _, world = set_up(cfg)
    if world > 1:
        from src.errors import UserError
        raise UserError("export.py writes one file: run it as one process, not under msrun or a "
                        "rank table")
    from src.engine.trained_network import find_checkpoint
    from src.inference.export import export_model, fixed_length
    from src.recipes import get_recipe
    recipe = get_recipe(cfg.model.name)
    checkpoint = args.checkpoint or find_checkpoint(cfg.run_dir)
    file_name = args.file_name or os.path.join(cfg.run_dir, 'export', cfg.model.name)
    model, sidecar = export_model(cfg, checkpoint, file_name, cfg.export.target, cfg.export.impl,
                                  fixed_length(cfg, recipe))
    print(f"exported {model} (+ {sidecar})")
    return model


if __name__ == '__main__':
    run_main(main)
