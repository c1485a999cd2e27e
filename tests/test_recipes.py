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
    assert table.names() == ['dprnn', 'ecapa_tdnn', 'panns', 'wav2vec2']
    for name, (model, recipe) in table.items():
        cfg = load_config(os.path.join(ROOT, recipe.demo.config))
        assert cfg.model.name == model                    # the export is <run>/export/<model>.mindir
        assert recipe.demo.corpora and set(recipe.demo.corpora) <= set(DEMO_CORPORA.names())
        assert recipe.demo.about and '\n' not in recipe.demo.about
        stages = recipe.demo.runs()
        assert [s.config for s in stages if s.exported] == [recipe.demo.config]
        for stage in stages:                               # every stage's config loads
            load_config(os.path.join(ROOT, stage.config))


def test_demo_stages_and_their_summary(tmp_path):
    import json
    # wav2vec 2.0: pretraining, fine-tuning started from it (exported), a from-scratch baseline
    rows = main(['demo_stages', 'wav2vec2', str(tmp_path)])
    fields = [row.split('\t') for row in rows]
    assert [f[0] for f in fields] == ['pretrain', 'finetune', 'scratch']
    assert fields[1][2:] == [str(tmp_path / 'finetune'), str(tmp_path / 'pretrain'), '1']
    assert fields[0][3] == fields[2][3] == '-' and fields[2][4] == '0'
    # a one-stage demo is trained in the run directory itself
    assert main(['demo_stages', 'panns', str(tmp_path)]) == \
        [f"panns\tconfigs/panns/demo.yaml\t{tmp_path}\t-\t1"]
    # the summary: each stage's eval.py result, or that it was not evaluated
    folder = tmp_path / 'finetune'
    (folder / 'checkpoints').mkdir(parents=True)
    (folder / 'checkpoints' / 'best.ckpt').write_bytes(b'')
    (folder / 'eval' / 'best').mkdir(parents=True)
    (folder / 'eval' / 'best' / 'eval_summary.json').write_text(json.dumps(
        {'metrics': {'wer': 12.5, 'cer': 3.25, 'test_wer': 12.5, 'test_cer': 3.25,
                     'test_utterances': 9, 'test_words': 80}}))
    lines = main(['demo_summary', 'wav2vec2', str(tmp_path)])
    assert lines[0].startswith('pretrain (self-supervised pretraining): not evaluated')
    assert lines[1] == ('finetune (CTC fine-tuning of the pretrained network): test: WER = 12.50%  '
                        'CER = 3.25%  (9 utterances, 80 words)')


def test_a_stage_must_start_from_an_earlier_one():
    from src.engine.recipe import Demo, DemoStage
    from src.recipes import demo_stages
    demo = Demo('x', 'b.yaml', ('esc50',), 'x', stages=(DemoStage('a', 'a.yaml', init_from='b'),
                                                       DemoStage('b', 'b.yaml', exported=True)))
    with pytest.raises(ConfigError, match="stage 'a' starts from 'b', which is not an earlier stage"):
        demo_stages(demo, 'runs')


def test_queries(capsys):
    assert main(['demo', 'panns']) == ['configs/panns/demo.yaml', 'panns_cnn6', 'esc50',
                                       demos().get('panns')[1].demo.about]
    assert capsys.readouterr().out.splitlines()[:3] == ['configs/panns/demo.yaml', 'panns_cnn6', 'esc50']
    assert [line.split(':')[0] for line in main(['demos'])] == ['dprnn', 'ecapa_tdnn', 'panns', 'wav2vec2']
    with pytest.raises(ConfigError, match="unknown demo 'pans'; did you mean 'panns'"):
        main(['demo', 'pans'])
