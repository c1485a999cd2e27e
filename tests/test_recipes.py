"""The registry's demo queries (what scripts/run_demo.sh asks): every declared demo is complete
and consistent with its config."""
import os

import pytest

from src.config import load_config
from src.data.demo import DEMO_CORPORA
from src.errors import ConfigError
from src.recipes import demos, main
from tests.helpers import ROOT


def test_every_demo_names_its_models_config_and_registered_corpora():
    table = demos()
    assert table.names() == ['ecapa_tdnn', 'panns']
    for name, (model, recipe) in table.items():
        cfg = load_config(os.path.join(ROOT, recipe.demo.config))
        assert cfg.model.name == model                    # the export is <run>/export/<model>.mindir
        assert recipe.demo.corpora and set(recipe.demo.corpora) <= set(DEMO_CORPORA.names())
        assert recipe.demo.about and '\n' not in recipe.demo.about


def test_queries(capsys):
    assert main(['demo', 'panns']) == ['configs/panns/demo.yaml', 'panns_cnn6', 'esc50',
                                       demos().get('panns')[1].demo.about]
    assert capsys.readouterr().out.splitlines()[:3] == ['configs/panns/demo.yaml', 'panns_cnn6', 'esc50']
    assert [line.split(':')[0] for line in main(['demos'])] == ['ecapa_tdnn', 'panns']
    with pytest.raises(ConfigError, match="unknown demo 'pans'; did you mean 'panns'"):
        main(['demo', 'pans'])
