"""What the top-level scripts share: common arguments, config loading, one-line errors."""
import argparse
import os
import sys

from .errors import UserError


def config_parser(description):
    """An argument parser with ``--config``, the common flags and free ``key=value`` overrides."""
    p = argparse.ArgumentParser(description=description,
                                epilog="Any config key can be overridden: section.key=value, "
                                       "e.g. train.epochs=3 model.args.channels=[512,512,512,512,1536]")
    p.add_argument('--config', required=True, help='YAML config, e.g. configs/ecapa_tdnn/demo.yaml')
    p.add_argument('--device_target', choices=('Ascend', 'GPU', 'CPU'), help='runtime.device_target')
    p.add_argument('--device_id', type=int, help='runtime.device_id')
    p.add_argument('--mode', choices=('graph', 'pynative'), help='runtime.mode')
    p.add_argument('--run_dir', help='run directory (default runs/<config name>)')
    p.add_argument('--fold', type=int, help='cross-validation fold held out for evaluation '
                   '(models with folds, e.g. ESC-50: 1-5); default run directory runs/<config name>/fold<k>')
    p.add_argument('overrides', nargs='*', metavar='key=value', help='config overrides')
    return p


def load_run_config(args, extra=()):
    """The checked config of ``args`` (its file, named flags, then key=value overrides)."""
    from .config import load_config
    flags = []
    for flag, key in (('device_target', 'runtime.device_target'), ('device_id', 'runtime.device_id'),
                      ('mode', 'runtime.mode'), ('run_dir', 'run_dir'),
                      ('amp_level', 'train.amp_level'), ('seed', 'train.seed')):
        value = getattr(args, flag, None)
        if value is not None:
            flags.append(f"{key}={value}")
    cfg = load_config(args.config, list(flags) + list(extra) + list(args.overrides))
    default_dir = not cfg.run_dir
    if default_dir:
        cfg.run_dir = os.path.join('runs', os.path.splitext(os.path.basename(args.config))[0])
    if getattr(args, 'fold', None) is not None:
        set_fold(cfg, args.fold, subdir=default_dir)
    return cfg


def set_fold(cfg, fold, subdir=True):
    """Hold out ``fold`` (the ``data`` field of the recipe's ``folds.key``); ``subdir``: train in
    ``<run_dir>/fold<k>`` so that the folds of one config do not share a run directory."""
    from .errors import ConfigError
    from .recipes import get_recipe
    recipe = get_recipe(cfg.model.name)
    if not recipe.folds:
        raise ConfigError(f"--fold: model {cfg.model.name} has no cross-validation folds")
    if fold not in recipe.folds.values:
        raise ConfigError(f"--fold {fold}: the folds of {cfg.model.name} are "
                          f"{', '.join(map(str, recipe.folds.values))}")
    setattr(cfg.data, recipe.folds.key, fold)
    if subdir:
        cfg.run_dir = os.path.join(cfg.run_dir, f"fold{fold}")
    return cfg


def set_up(cfg, mode=None):
    """Runtime set-up from the config's ``runtime`` section; returns (rank, world)."""
    from .distributed import init_distributed
    from .runtime import set_up_runtime
    r = cfg.runtime
    set_up_runtime(r.device_target, mode or r.mode, threads=r.threads or None,
                   device_id=None if r.device_id < 0 else r.device_id)
    return init_distributed(r.device_target)


def run_main(main, argv=None):
    """Run ``main(argv)`` (None: the command line); a UserError is printed as one line (exit
    status 2), not as a traceback."""
    try:
        return main(argv)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted: the last complete checkpoint is intact; continue with --resume", file=sys.stderr)
        sys.exit(130)
