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
import importlib
import inspect

from .registry import Registry

MODELS = Registry('model')
# Packages whose recipe modules register models; a new model adds one line.
RECIPE_MODULES = ('src.ecapa_tdnn.recipe', 'src.panns.recipe')
_loaded = False


def load_recipes():
    global _loaded
    if not _loaded:
        for module in RECIPE_MODULES:
            importlib.import_module(module)
        _loaded = True
    return MODELS


def get_recipe(name):
    """The registered recipe for model ``name`` (ConfigError naming the nearest known model)."""
    return load_recipes().get(name)




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
