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
    if not cfg.run_dir:
        cfg.run_dir = os.path.join('runs', os.path.splitext(os.path.basename(args.config))[0])
    return cfg


def set_up(cfg, mode=None):
    """Runtime set-up from the config's ``runtime`` section; returns (rank, world)."""
    from .distributed import init_distributed
    from .runtime import set_up_runtime
    r = cfg.runtime
    set_up_runtime(r.device_target, mode or r.mode, threads=r.threads or None,
                   device_id=None if r.device_id < 0 else r.device_id)
    return init_distributed(r.device_target)


def run_main(main):
    """Run ``main()``; a UserError is printed as one line (exit status 2), not as a traceback."""
    try:
        return main()
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted: the last complete checkpoint is intact; continue with --resume", file=sys.stderr)
        sys.exit(130)
