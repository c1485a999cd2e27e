"""The model registry: variants state their defaults once, fixed arguments are not settable,
every model declares its metrics' directions; the demo queries (what scripts/run_demo.sh asks)."""
import inspect
import os

import pytest

from src.config import build_config, load_config
from src.data.demo import DEMO_CORPORA
from src.errors import ConfigError
from src.recipes import demos, get_recipe, load_recipes, main, variant
from tests.helpers import ROOT


def test_variants_show_their_own_defaults():
    c512 = inspect.signature(get_recipe('ecapa_tdnn_c512').network_factory)
    assert c512.parameters['channels'].default == (512, 512, 512, 512, 1536)
    assert inspect.signature(get_recipe('ecapa_tdnn').network_factory).parameters['channels'].default[0] == 1024
    for name in ('panns_cnn14', 'panns_cnn10', 'panns_cnn6'):
        assert 'architecture' not in inspect.signature(get_recipe(name).network_factory).parameters


def test_a_fixed_argument_is_no_config_key():
    with pytest.raises(ConfigError, match="unknown key 'model.args.architecture'"):
        build_config({'model': {'name': 'panns_cnn6', 'args': {'architecture': 'cnn14'}}})


def test_variant_passes_defaults_overrides_and_fixed_values():
    def factory(a=1, b=2, c=3):
        return a, b, c
    v = variant(factory, fixed={'c': 30}, b=20)
    assert v() == (1, 20, 30) and v(a=5, b=6) == (5, 6, 30)
    assert list(inspect.signature(v).parameters) == ['a', 'b']
    with pytest.raises(TypeError, match='no argument'):
        variant(factory, d=1)


def test_every_model_declares_the_direction_of_its_selection_metric():
    models = load_recipes()
    for name in models.names():
        recipe = models.get(name)
        if not type(recipe).__module__.startswith('src.'):
            continue                       # toys that tests register
        assert recipe.best_metric in recipe.metrics, name
        assert set(recipe.metrics.values()) <= {'min', 'max'}, name


def test_every_demo_names_its_models_config_and_registered_corpora():
    table = demos()
    assert table.names() == ['dprnn', 'ecapa_tdnn', 'panns']
    for name, (model, recipe) in table.items():
        cfg = load_config(os.path.join(ROOT, recipe.demo.config))
        assert cfg.model.name == model                    # the export is <run>/export/<model>.mindir
        assert recipe.demo.corpora and set(recipe.demo.corpora) <= set(DEMO_CORPORA.names())
        assert recipe.demo.about and '\n' not in recipe.demo.about


def test_queries(capsys):
    assert main(['demo', 'panns']) == ['configs/panns/demo.yaml', 'panns_cnn6', 'esc50',
                                       demos().get('panns')[1].demo.about]
    assert capsys.readouterr().out.splitlines()[:3] == ['configs/panns/demo.yaml', 'panns_cnn6', 'esc50']
    assert [line.split(':')[0] for line in main(['demos'])] == ['dprnn', 'ecapa_tdnn', 'panns']
    with pytest.raises(ConfigError, match="unknown demo 'pans'; did you mean 'panns'"):
        main(['demo', 'pans'])
