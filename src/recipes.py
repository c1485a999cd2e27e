"""The model registry: ``model.name`` in a config -> the recipe that builds, trains and evaluates it.

This module is the one place where models are named. A recipe (:class:`src.engine.recipe.Recipe`,
the contract) is the small model-specific part of a run: its network factory, its loss, its data
and its evaluation. Model packages register their recipes in ``src/<model>/recipe.py``;
:func:`load_recipes` imports those modules on first use (nothing is imported or registered before
a script asks for a model). Variants of one network (ECAPA C=512, PANNs CNN14/10/6) are one
factory with other defaults: :func:`variant`. (:class:`src.registry.Registry` is the generic
name -> object table that this and the other registries use.)
"""
import functools
import inspect

from .registry import Registry

# Packages whose recipe modules register models; a new model adds one line.
RECIPE_MODULES = ('src.ecapa_tdnn.recipe', 'src.panns.recipe', 'src.dprnn.recipe',
                  'src.wav2vec2.recipe')
MODELS = Registry('model', modules=RECIPE_MODULES)


def load_recipes():
    """The model registry with every recipe module imported."""
    return MODELS.load()


def get_recipe(name):
    """The registered recipe for model ``name`` (ConfigError naming the nearest known model)."""
    return MODELS.get(name)


def variant(factory, fixed=None, **defaults):
    """``factory`` with other keyword defaults, and ``fixed`` arguments that no config may set.

    The result's signature shows the variant's own defaults (and lacks the fixed arguments):
    config checking (``model.args``) and the registry-driven tests read it, so a variant's
    defaults are stated once, where it is registered.
    """
    fixed = dict(fixed or {})
    signature = inspect.signature(factory)
    unknown = [k for k in (*fixed, *defaults) if k not in signature.parameters]
    if unknown:
        raise TypeError(f"{factory.__name__} has no argument(s) {', '.join(unknown)}")

    @functools.wraps(factory)
    def build(**kwargs):
        return factory(**{**defaults, **kwargs, **fixed})

    build.__signature__ = signature.replace(parameters=[
        p.replace(default=defaults[n]) if n in defaults else p
        for n, p in signature.parameters.items() if n not in fixed])
    return build
def demos():
    """The registered demos: a registry of demo name -> (model name, recipe)."""
    table = Registry('demo')
    for name, recipe in MODELS.items():
        if recipe.demo is not None:
            table.register(recipe.demo.name, (name, recipe))
    return table


def demo_stages(demo, run_dir):
    """(name, config, run directory, starting run directory or '-', '1' if exported else '0')
    of each training run of ``demo`` under ``run_dir``."""
    import os
    rows, where = [], {}
    for stage in demo.runs():
        folder = os.path.join(run_dir, stage.name) if stage.name else run_dir
        if stage.init_from and stage.init_from not in where:
            from .errors import ConfigError
            raise ConfigError(f"demo {demo.name}: stage {stage.name!r} starts from "
                              f"{stage.init_from!r}, which is not an earlier stage")
        where[stage.name] = folder
        rows.append((stage.name or demo.name, stage.config, folder,
                     where[stage.init_from] if stage.init_from else '-', '1' if stage.exported else '0'))
    return rows


def demo_summary(demo, run_dir):
    """One line per training run of ``demo``: its name, what it is and its evaluation, from the
    ``eval_summary.json`` eval.py wrote for the checkpoint it evaluates by default."""
    import json
    import os
    from .config import load_config
    from .engine.trained_network import find_checkpoint
    from .errors import UserError
    lines = []
    for stage, (name, config, folder, _, _) in zip(demo.runs(), demo_stages(demo, run_dir)):
        about = f" ({stage.about})" if stage.about else ''
        try:
            checkpoint = find_checkpoint(folder)
            summary = os.path.join(folder, 'eval', os.path.splitext(os.path.basename(checkpoint))[0],
                                   'eval_summary.json')
            with open(summary) as f:
                metrics = json.load(f)['metrics']
        except (UserError, OSError, ValueError, KeyError):
            lines.append(f"{name}{about}: not evaluated")
            continue
        cfg = load_config(config)
        text = get_recipe(cfg.model.name).format_metrics(metrics).replace('\n', '; ')
        lines.append(f"{name}{about}: {text}")
    return lines


def main(argv=None):
    """What ``scripts/run_demo.sh`` asks the registry (it never branches on a model's name).

        python -m src.recipes demos                    every demo: name and what it shows
        python -m src.recipes demo NAME                its config, model name, corpora and
                                                       description, one per line
        python -m src.recipes demo_infer NAME MODEL_PATH [key=value ...]
                                                       the infer.py arguments of its last step,
                                                       one per line, from the config's data
        python -m src.recipes demo_stages NAME RUN_DIR its training runs, one per line:
                                                       name, config, run directory, the run
                                                       directory it starts from (- = none),
                                                       1 for the exported one (tab-separated)
        python -m src.recipes demo_summary NAME RUN_DIR
                                                       each run's evaluation (eval.py's
                                                       eval_summary.json), one line per run
    """
    import argparse
    p = argparse.ArgumentParser(prog='python -m src.recipes', description=main.__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=main.__doc__)
    sub = p.add_subparsers(dest='command', required=True)
    sub.add_parser('demos')
    d = sub.add_parser('demo')
    d.add_argument('name')
    i = sub.add_parser('demo_infer')
    i.add_argument('name')
    i.add_argument('model_path', help='the exported model (export.py writes <run_dir>/export/<model>.mindir)')
    i.add_argument('overrides', nargs='*', metavar='key=value')
    for command in ('demo_stages', 'demo_summary'):
        st = sub.add_parser(command)
        st.add_argument('name')
        st.add_argument('run_dir')
    args = p.parse_args(argv)
    table = demos()
    if args.command == 'demos':
        lines = [f"{name}: {recipe.demo.about}" for name, (_, recipe) in table.items()]
    else:
        model, recipe = table.get(args.name)
        if args.command == 'demo':
            lines = [recipe.demo.config, model, ' '.join(recipe.demo.corpora), recipe.demo.about]
        elif args.command == 'demo_stages':
            lines = ['\t'.join(row) for row in demo_stages(recipe.demo, args.run_dir)]
        elif args.command == 'demo_summary':
            lines = demo_summary(recipe.demo, args.run_dir)
        else:
            from .config import load_config
            lines = recipe.demo_inference(load_config(recipe.demo.config, args.overrides), args.model_path)
    print('\n'.join(lines))
    return lines


if __name__ == '__main__':
    # through the package module: run as __main__, this file would hold a second, empty MODELS
    from src.cli import run_main
    from src.recipes import main as package_main
    run_main(package_main)
