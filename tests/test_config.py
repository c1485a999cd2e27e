"""Config loading: schema checks with the nearest valid key, overrides, round trip, shipped configs."""
import glob
import os

import pytest

from src.config import load_config, parse_override, save_config, to_dict
from src.errors import ConfigError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = sorted(glob.glob(os.path.join(ROOT, 'configs', '*', '*.yaml')))
VOX = os.path.join(ROOT, 'configs', 'ecapa_tdnn', 'voxceleb.yaml')


@pytest.mark.parametrize('path', CONFIGS, ids=[os.path.relpath(p, ROOT) for p in CONFIGS])
def test_every_shipped_config_loads_and_round_trips(path, tmp_path):
    cfg = load_config(path)
    out = tmp_path / 'config.yaml'
    save_config(cfg, str(out))
    assert to_dict(load_config(str(out))) == to_dict(cfg)


def test_overrides_are_parsed_as_yaml_and_applied():
    cfg = load_config(VOX, ['train.epochs=3', 'model.args.channels=[512,512,512,512,1536]',
                            'optim.lr=1e-3', 'data.musan=', 'train.amp_level=O2'])
    assert cfg.train.epochs == 3 and cfg.optim.lr == 1e-3
    assert cfg.model.args['channels'] == (512, 512, 512, 512, 1536)
    assert cfg.data.musan == '' and cfg.train.amp_level == 'O2'
    assert parse_override('a.b=null') == (['a', 'b'], None)


@pytest.mark.parametrize('override, message', [
    ('train.epoch=3', "unknown key 'train.epoch'; did you mean train.epochs?"),
    ('trian.epochs=3', "unknown key 'trian'; did you mean train?"),
    ('model.args.channel=[1]', "did you mean model.args.channels?"),
    ('loss.margn=0.3', "did you mean loss.margin?"),
    ('data.trails=x', "did you mean data.trials?"),
    ('eval.asnorm=true', "did you mean eval.as_norm?"),
    ('schedule.args.min_ration=1', "did you mean schedule.args.min_ratio?"),
    ('schedule.args.max_lr=1', "the learning rate has one source, optim.lr"),
    ('train.best_metric=eeer', "train.best_metric 'eeer' is not a metric of ecapa_tdnn"),
    ('train.accum_steps=0', "train.accum_steps must be at least 1"),
    ('train.freeze={encoder: some}', "train.freeze.encoder must be 'all' or a number of updates"),
    ('optim.lr_scales={head: -1}', "optim.lr_scales.head must be a number >= 0"),
    ('train.epochs=three', "train.epochs must be an integer, got str 'three'"),
    ('optim.lr=fast', "optim.lr must be a number"),
    ('train.amp_level=O4', "train.amp_level must be one of 'O0', 'O1', 'O2', 'O3', got 'O4'"),
    ('model.name=ecapa_tdn', "unknown model 'ecapa_tdn'; did you mean 'ecapa_tdnn'?"),
    ('schedule.name=cyclik', "did you mean 'cyclic'?"),
    ('eval.as_norm=1', "eval.as_norm must be true or false"),
    ('train', "must look like section.key=value"),
    ('export.fixed_seconds=-1', "export.fixed_frames and export.fixed_seconds must be 0 (dynamic) or positive"),
    ('export.fixed_frames=-5', "must be 0 (dynamic) or positive"),
])
def test_bad_keys_and_values_are_one_line_errors(override, message):
    with pytest.raises(ConfigError) as err:
        load_config(VOX, [override])
    assert message in str(err.value)
    assert '\n' not in str(err.value)


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match='config file not found'):
        load_config(str(tmp_path / 'nope.yaml'))
    bad = tmp_path / 'bad.yaml'
    bad.write_text('model: [unclosed\n')
    with pytest.raises(ConfigError, match='bad.yaml line 2: not valid YAML'):
        load_config(str(bad))
    nomodel = tmp_path / 'nomodel.yaml'
    nomodel.write_text('train: {epochs: 1}\n')
    with pytest.raises(ConfigError, match='model.name is required'):
        load_config(str(nomodel))
