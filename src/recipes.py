"""The model registry: ``model.name`` in a config -> the recipe that builds, trains and evaluates it.

A recipe (:class:`src.engine.recipe.Recipe`) is the small model-specific part of a run: its
network factory, its loss, its data and its evaluation. Model packages register their recipes in
``src/<model>/recipe.py``; :func:`load_recipes` imports those modules on first use (nothing is
imported or registered before a script asks for a model).
"""
import importlib

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


