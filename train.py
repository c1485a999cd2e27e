"""Train any registered model: ``python train.py --config configs/ecapa_tdnn/demo.yaml [key=value ...]``.

The config picks the model (``model.name``); the shared engine (src/engine) does the rest. Under
``msrun`` / a rank table each process trains one data-parallel rank. Models with
cross-validation folds (PANNs on ESC-50) take ``--fold k`` (one fold held out) or
``--folds all`` (every fold in turn, then the mean: src/engine/crossval.py).
"""
import os

from src.cli import config_parser, load_run_config, run_main, set_up


def main(argv=None):
    p = config_parser(__doc__.splitlines()[0])
    p.add_argument('--amp_level', choices=('O0', 'O1', 'O2', 'O3'), help='train.amp_level')
    p.add_argument('--seed', type=int, help='train.seed')
    p.add_argument('--resume', action='store_true', help='continue from the run directory\'s latest checkpoint')
    p.add_argument('--folds', help="cross-validation: 'all' or a list such as 1,2,3; each fold "
                   "trains in <run_dir>/fold<k>, the mean goes to <run_dir>/crossval.json")
    args = p.parse_args(argv)
    from src.errors import UserError
    if args.folds and args.fold is not None:
        raise UserError("pass --fold k (one fold) or --folds (several), not both")
    cfg = load_run_config(args)
    from src.recipes import get_recipe
    if args.folds:
        from src.engine.crossval import cross_validate, format_summary, parse_folds
        recipe = get_recipe(cfg.model.name)
        folds = parse_folds(args.folds, recipe, cfg.model.name)
        rank, world = set_up(cfg)
        summary = cross_validate(cfg, recipe, folds, rank, world, resume=args.resume)
        if summary:
            print(format_summary(summary))
            print(f"summary: {os.path.join(cfg.run_dir, 'crossval.json')}")
        return summary
    rank, world = set_up(cfg)
    from src.engine.trainer import Trainer
    if not args.resume and os.path.exists(os.path.join(cfg.run_dir, 'checkpoints', 'latest.json')):
        raise UserError(f"{cfg.run_dir} already has checkpoints: pass --resume to continue it, "
                        "or choose another --run_dir")
    os.makedirs(cfg.run_dir, exist_ok=True)
    trainer = Trainer(cfg, get_recipe(cfg.model.name), cfg.run_dir, rank, world).build()
    if args.resume and not trainer.resume():
        trainer.log.print(f"--resume: no checkpoint in {cfg.run_dir}, starting from scratch")
    state = trainer.fit()
    trainer.log.print(f"done: {state['step']} steps; checkpoints in {trainer.ckpt.directory}")
    return state


if __name__ == '__main__':
    run_main(main)
