"""The shared training engine on a toy recipe: training, logs, checkpoints, exact resume, NaN stop."""
import json
import os

import numpy as np
import pytest

from src.checkpoint import read_params
from src.config import build_config
from src.engine.trainer import Trainer, TrainingStopped
from tests.engine.toy import register_toy


def toy_config(tmp_path, **sections):
    tree = {'model': {'name': 'toy_regression', 'args': {'hidden': 8}},
            'optim': {'name': 'adam', 'lr': 0.05},
            'schedule': {'name': 'constant'},
            'train': {'epochs': 3, 'batch_size': 8, 'num_workers': 0, 'log_every': 2,
                      'ckpt_every': 0, 'keep_last': 2, 'eval_every': 1},
            'runtime': {'mode': 'pynative'}, 'run_dir': str(tmp_path / 'run')}
    for name, values in sections.items():
        tree.setdefault(name, {}).update(values)
    register_toy()
    return build_config(tree)


def train(cfg, resume=False):
    from src.recipes import get_recipe
    trainer = Trainer(cfg, get_recipe(cfg.model.name), cfg.run_dir).build()
    if resume:
        assert trainer.resume()
    return trainer, trainer.fit()


def test_training_lowers_the_loss_and_writes_the_run_directory(tmp_path, mode):
    cfg = toy_config(tmp_path)
    trainer, state = train(cfg)
    assert state['step'] == 3 * 64 // 8 and state['epoch'] == 3
    records = trainer.log.read('train')
    assert records[0]['loss'] > 5 * records[-1]['loss']
    evals = trainer.log.read('eval')
    assert [e['epoch'] for e in evals] == [1, 2, 3]
    assert evals[-1]['mse'] < evals[0]['mse']
    run = cfg.run_dir
    for name in ('config.yaml', 'log.txt', 'train_log.jsonl', 'eval_log.jsonl',
                 'plots/training_curves.png', 'checkpoints/latest.json', 'checkpoints/best.ckpt'):
        assert os.path.exists(os.path.join(run, name)), name
    with open(os.path.join(run, 'checkpoints', 'latest.json')) as f:
        history = json.load(f)['history']
    assert len(history) == 2   # keep_last
    assert sorted(n for n in os.listdir(os.path.join(run, 'checkpoints')) if n.endswith('.ckpt')) == \
        sorted([h + '.ckpt' for h in history] + ['best.ckpt'])
    with open(os.path.join(run, 'checkpoints', 'best.json')) as f:
        assert json.load(f)['value'] == pytest.approx(min(e['mse'] for e in evals))


def test_resume_matches_an_uninterrupted_run(tmp_path):
    full = toy_config(tmp_path / 'a', train={'ckpt_every': 5})
    train(full)
    part = toy_config(tmp_path / 'b', train={'ckpt_every': 5, 'max_steps': 10})
    train(part)
    resumed = toy_config(tmp_path / 'b', train={'ckpt_every': 5})
    _, state = train(resumed, resume=True)
    assert state['step'] == 24
    a = read_params(os.path.join(full.run_dir, 'checkpoints', 'step_00000024.ckpt'))
    b = read_params(os.path.join(resumed.run_dir, 'checkpoints', 'step_00000024.ckpt'))
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    cfg = toy_config(tmp_path, data={'nan_item': 5}, train={'ckpt_every': 1})
    with pytest.raises(TrainingStopped, match='loss became nan'):
        train(cfg)
    latest = os.path.join(cfg.run_dir, 'checkpoints', 'latest.json')
    with open(latest) as f:
        name = json.load(f)['latest']
    params = read_params(os.path.join(cfg.run_dir, 'checkpoints', name + '.ckpt'))
    assert all(np.isfinite(v).all() for v in params.values())


def test_overflowing_steps_are_skipped_under_amp(tmp_path):
    # With a loss scale of 1e38 every float32 gradient overflows: steps are skipped (weights
    # unchanged) and the scale halves each time until the gradients are finite again.
    cfg = toy_config(tmp_path, train={'amp_level': 'O2', 'loss_scale': 2.0 ** 126, 'epochs': 1,
                                      'nan_patience': 200})
    trainer, state = train(cfg)
    skipped = [r for r in trainer.log.read('train') if r.get('skipped')]
    assert skipped, 'expected overflowing steps'
    assert trainer.loss_scale.scale < 2.0 ** 126


def test_too_many_bad_items_stop_with_a_data_error(tmp_path):
    from src.errors import DataError
    cfg = toy_config(tmp_path, data={'bad_items': 1}, train={'max_bad_fraction': 0.05})
    with pytest.raises(DataError, match='unreadable'):
        train(cfg)


def test_the_schedule_drives_the_compiled_step(tmp_path, mode):
    # The learning rate is written into the optimizer before every step: with a step schedule
    # that drops to 0 after 4 steps, the weights must stop moving exactly there.
    from src.checkpoint import read_params as read
    cfg = toy_config(tmp_path, schedule={'name': 'step', 'args': {'step_size': 4, 'gamma': 0.0}},
                     train={'epochs': 1, 'ckpt_every': 2, 'keep_last': 10, 'eval_every': 0})
    train(cfg)
    ckpt = os.path.join(cfg.run_dir, 'checkpoints')
    p2, p4, p8 = (read(os.path.join(ckpt, f'step_{s:08d}.ckpt')) for s in (2, 4, 8))
    weights = [k for k in p2 if k.startswith('network.')]
    assert any(not np.array_equal(p2[k], p4[k]) for k in weights)
    for k in weights:
        np.testing.assert_array_equal(p4[k], p8[k], err_msg=k)
