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
RECIPE_MODULES = ('src.ecapa_tdnn.recipe', 'src.panns.recipe', 'src.dprnn.recipe')
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


def main(argv=None):
    """What ``scripts/run_demo.sh`` asks the registry (it never branches on a model's name).

        python -m src.recipes demos                    every demo: name and what it shows
        python -m src.recipes demo NAME                its config, model name, corpora and
                                                       description, one per line
        python -m src.recipes demo_infer NAME MODEL_PATH [key=value ...]
                                                       the infer.py arguments of its last step,
                                                       one per line, from the config's data
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
    args = p.parse_args(argv)
    table = demos()
    if args.command == 'demos':
        lines = [f"{name}: {recipe.demo.about}" for name, (_, recipe) in table.items()]
    else:
        model, recipe = table.get(args.name)
        if args.command == 'demo':
            lines = [recipe.demo.config, model, ' '.join(recipe.demo.corpora), recipe.demo.about]
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
