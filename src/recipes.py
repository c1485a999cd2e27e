"""The model registry: ``model.name`` in a config -> the recipe that builds, trains and evaluates it.

A recipe (:class:`src.engine.recipe.Recipe`) is the small model-specific part of a run: its
network factory, its loss, its data and its evaluation. Model packages register their recipes in
``src/<model>/recipe.py``; :func:`load_recipes` imports those modules on first use (nothing is
imported or registered before a script asks for a model).
"""
from .registry import Registry

# Packages whose recipe modules register models; a new model adds one line.
RECIPE_MODULES = ('src.ecapa_tdnn.recipe', 'src.panns.recipe')
MODELS = Registry('model', modules=RECIPE_MODULES)


def load_recipes():
    """The model registry with every recipe module imported."""
    return MODELS.load()


def get_recipe(name):
    """The registered recipe for model ``name`` (ConfigError naming the nearest known model)."""
    return MODELS.get(name)
