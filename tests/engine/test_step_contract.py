"""The step contract on the toy recipe: one learning-rate source, aux outputs, per-step inputs,
gradient accumulation, parameter groups, training phases, metric directions, validation only."""
import glob
import json
import os
import re

import numpy as np
import pytest

from src.checkpoint import read_params
from src.config import build_config, load_config
from src.errors import ConfigError
from tests.engine.test_trainer import toy_config, train
from tests.engine.toy import register_toy

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def checkpoints(cfg):
    folder = os.path.join(cfg.run_dir, 'checkpoints')
    return {int(re.search(r'step_(\d+)', p).group(1)): read_params(p)
            for p in glob.glob(os.path.join(folder, 'step_*.ckpt'))}


# ------------------------------------------------------------------------ one learning rate
def test_an_optim_lr_override_changes_the_applied_rate(tmp_path):
    import yaml
    register_toy()
    path = tmp_path / 'toy.yaml'
    path.write_text(yaml.safe_dump({
        'model': {'name': 'toy_regression'}, 'optim': {'lr': 0.05},
        'schedule': {'name': 'warmup_linear', 'args': {'warmup_steps': 2}},
        'train': {'epochs': 1, 'batch_size': 8, 'num_workers': 0, 'log_every': 1, 'eval_every': 0},
        'runtime': {'mode': 'pynative'}, 'run_dir': str(tmp_path / 'a')}))
    rates = {}
    for lr in (0.05, 0.02):
        cfg = load_config(str(path), [f'optim.lr={lr}', f'run_dir={tmp_path / str(lr)}'])
        trainer, _ = train(cfg)
        rates[lr] = [r['lr'] for r in trainer.log.read('train')]
        assert rates[lr][0] == pytest.approx(lr / 2)          # warm-up step 1 of 2
    assert np.allclose(np.array(rates[0.02]) / np.array(rates[0.05]), 0.4)
    # and the rate reaches the weights: optim.lr=0 leaves them where they started
    cfg = load_config(str(path), ['optim.lr=0', f'run_dir={tmp_path / "zero"}', 'train.ckpt_every=1',
                                  'train.keep_last=100'])
    train(cfg)
    saved = checkpoints(cfg)
    first, last = saved[min(saved)], saved[max(saved)]
    for k in first:
        if k.startswith('network.'):
            np.testing.assert_array_equal(first[k], last[k])


def test_schedule_learning_rates_point_at_optim_lr():
    register_toy()
    tree = {'model': {'name': 'toy_regression'}, 'schedule': {'name': 'constant', 'args': {'lr': 0.1}}}
    with pytest.raises(ConfigError, match='one source, optim.lr'):
        build_config(tree)


def test_a_loss_section_is_refused_for_a_model_without_a_configurable_loss():
    with pytest.raises(ConfigError, match='has no configurable loss'):
        build_config({'model': {'name': 'panns_cnn6'}, 'loss': {'margin': 0.2}})


def _schema_aliases():
    """Every config section's dataclass, with the names code reads it by (``cfg.train.x``,
    ``tc.x``, ``d.x`` for the recipe's ``data`` ...)."""
    from src import config
    from src.recipes import load_recipes
    aliases = {config.ModelConfig: 'model', config.OptimConfig: 'optim|cfg_optim',
               config.ScheduleConfig: 'schedule', config.TrainConfig: 'train|tc',
               config.ExportConfig: 'export', config.RuntimeConfig: 'runtime|r'}
    models = load_recipes()
    for name in models.names():
        recipe = models.get(name)
        if type(recipe).__module__.startswith('tests.'):
            continue                   # toys that tests register
        if recipe.data_schema is not None:
            aliases.setdefault(recipe.data_schema, 'data|d')
        if recipe.eval_schema is not None:
            aliases.setdefault(recipe.eval_schema, 'eval|e')
    return aliases


def _attribute_reads():
    """Every ``<name>.<attribute>`` of the project's code outside src/config.py, as
    (name, attribute) pairs, from the syntax tree (docstrings and messages do not count)."""
    import ast
    reads = set()
    for pattern in ('src/**/*.py', '*.py', 'tools/*.py'):
        for path in glob.glob(os.path.join(ROOT, pattern), recursive=True):
            if os.path.normpath(path) == os.path.join(ROOT, 'src', 'config.py'):
                continue
            with open(path) as f:
                tree = ast.parse(f.read())
            for node in ast.walk(tree):
                if isinstance(node, ast.Attribute):
                    base = node.value
                    name = base.id if isinstance(base, ast.Name) else getattr(base, 'attr', None)
                    reads.add((name, node.attr))
    return reads


def test_no_config_key_is_silently_ignored():
    # Every field of every config section (the engine's and each registered model's) must be
    # read, as <section>.<field>, by code other than the config module itself (which only type-
    # and range-checks): optim.lr once was only range-checked and had no effect.
    import dataclasses
    reads = _attribute_reads()
    unread = [f"{cls.__name__}.{field.name}" for cls, names in _schema_aliases().items()
              for field in dataclasses.fields(cls)
              if not any((alias, field.name) in reads for alias in names.split('|'))]
    assert not unread, f"config keys nothing reads: {unread}"


# ------------------------------------------------------------------------------ aux values
def test_aux_values_are_logged_shown_and_drawn(tmp_path):
    cfg = toy_config(tmp_path, train={'epochs': 1})
    trainer, _ = train(cfg)
    records = [r for r in trainer.log.read('train') if not r.get('skipped')]
    assert records and all('abs_err' in r and r['abs_err'] > 0 for r in records)
    assert trainer._aux_names() == ['abs_err']
    assert os.path.getsize(os.path.join(cfg.run_dir, 'plots', 'training_curves.png')) > 0


# ------------------------------------------------------------------------- per-step inputs
def test_a_per_step_input_reaches_the_compiled_graph(mode):
    import mindspore as ms
    from src.engine.train_step import build_train_step
    register_toy()
    from src.recipes import get_recipe
    recipe = get_recipe('toy_regression')
    cfg = build_config({'model': {'name': 'toy_regression'}, 'data': {'step_input': True}})
    net = recipe.build_network(cfg)
    step, _ = build_train_step(recipe.build_loss_net(net, cfg, None), cfg.optim)
    batch = recipe.train_set(cfg).make_batch(np.arange(8), np.random.default_rng(0))
    inputs = [ms.Tensor(batch[k]) for k in recipe.batch_keys]
    zero = ms.Tensor(0.0, ms.float32)            # lr 0: the weights stay, only the input changes
    losses = [float(step(ms.Tensor(1.0, ms.float32), zero, *inputs, ms.Tensor(w, ms.float32))[0].asnumpy())
              for w in (1.0, 0.25, 1.0)]
    assert losses[1] == pytest.approx(0.25 * losses[0], rel=1e-6)
    assert losses[2] == pytest.approx(losses[0], rel=1e-6)


def test_per_step_inputs_are_logged_each_update(tmp_path):
    cfg = toy_config(tmp_path, data={'step_input': True}, train={'epochs': 1, 'log_every': 1})
    trainer, _ = train(cfg)
    for record in trainer.log.read('train'):
        assert record['weight'] == pytest.approx(1.0 / record['step'])   # logged after update step-1


def test_the_recipes_training_warnings_are_printed_with_the_update(tmp_path, monkeypatch, capsys):
    from src.recipes import get_recipe
    cfg = toy_config(tmp_path, train={'epochs': 1, 'log_every': 1})
    seen = []

    def warning(cfg, record):
        seen.append(record)
        return f"loss {record['loss']:.3g} looks odd" if record['step'] == 2 else None

    monkeypatch.setattr(get_recipe('toy_regression'), 'training_warning', warning)
    trainer, _ = train(cfg)
    assert [r['step'] for r in seen] == [r['step'] for r in trainer.log.read('train')]
    assert all('loss' in r and 'lr' in r for r in seen)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith('warning')]
    assert len(lines) == 1 and lines[0].startswith('warning (update 2): loss ')
    with open(trainer.log.path('log.txt')) as f:
        assert 'warning (update 2)' in f.read()


# -------------------------------------------------------------------- gradient accumulation
def _toy_parts(seed, cfg):
    import mindspore as ms
    from src.recipes import get_recipe
    from src.engine.optim import OptimizerState
    recipe = get_recipe('toy_regression')
    ms.set_seed(seed)
    net = recipe.build_network(cfg)
    loss_net = recipe.build_loss_net(net, cfg, None)
    params = loss_net.trainable_params()
    return recipe, net, loss_net, params, OptimizerState(params, cfg.optim, recipe.parameter_sets)


@pytest.mark.parametrize('optimizer', ['adam', 'sgd'])
def test_k_accumulated_micro_batches_equal_one_k_times_larger_batch(optimizer, mode):
    import mindspore as ms
    from mindspore import nn
    from src.engine.train_step import AccumulateStep, ApplyAccumulated, TrainStep, compile_step
    register_toy()
    cfg = build_config({'model': {'name': 'toy_regression'}, 'optim': {'name': optimizer, 'lr': 0.05,
                                                                        'weight_decay': 0.01}})
    recipe, net_a, loss_a, params_a, state_a = _toy_parts(3, cfg)
    _, net_b, loss_b, params_b, state_b = _toy_parts(3, cfg)
    indices = range(len(params_a))
    big = compile_step(TrainStep(loss_a, state_a.updater(indices), nn.Identity()))
    accumulators = ms.ParameterTuple(state_b.parameters.clone(prefix='accum', init='zeros'))
    micro = compile_step(AccumulateStep(loss_b, state_b.updater(indices), accumulators))
    apply = compile_step(ApplyAccumulated(state_b.updater(indices), accumulators, nn.Identity()))
    data = recipe.train_set(cfg)
    one, rate = ms.Tensor(1.0, ms.float32), ms.Tensor(0.05, ms.float32)
    for update in range(3):
        batch = data.make_batch(np.arange(8 * update, 8 * update + 8), np.random.default_rng(update))
        tensors = lambda lo, hi: [ms.Tensor(batch[k][lo:hi]) if k != 'poison' else ms.Tensor(batch[k])
                                  for k in recipe.batch_keys]
        big(one, rate, *tensors(0, 8))
        for lo in (0, 4):
            micro(one, *tensors(lo, lo + 4))
        assert bool(apply(one, rate, ms.Tensor(2.0, ms.float32), ms.Tensor(True)).asnumpy())
    for a, b in zip(params_a, params_b):
        np.testing.assert_allclose(a.asnumpy(), b.asnumpy(), rtol=1e-5, atol=1e-7, err_msg=a.name)
    assert all(not np.any(acc.asnumpy()) for acc in accumulators)   # cleared after each update


def test_accumulation_in_the_trainer_counts_updates_and_resumes_exactly(tmp_path):
    full = toy_config(tmp_path / 'a', train={'batch_size': 4, 'accum_steps': 2, 'ckpt_every': 2,
                                             'keep_last': 20})
    trainer, state = train(full)
    assert trainer.steps_per_epoch == 64 // 8 and state['step'] == 3 * 8
    records = trainer.log.read('train')
    assert records[-1]['loss'] < 0.2 * records[0]['loss']
    part = toy_config(tmp_path / 'b', train={'batch_size': 4, 'accum_steps': 2, 'ckpt_every': 2,
                                             'keep_last': 20, 'max_steps': 6})
    train(part)
    resumed = toy_config(tmp_path / 'b', train={'batch_size': 4, 'accum_steps': 2, 'ckpt_every': 2,
                                                'keep_last': 20})
    train(resumed, resume=True)
    a, b = checkpoints(full)[24], checkpoints(resumed)[24]
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


# ------------------------------------------------------------------------- parameter groups
def test_no_decay_on_biases_and_norms_and_per_set_learning_rates(mode):
    import mindspore as ms
    register_toy()
    cfg = build_config({'model': {'name': 'toy_regression'},
                        'optim': {'name': 'sgd', 'momentum': 0.0, 'weight_decay': 0.5,
                                  'no_decay_bias_and_norm': True, 'lr_scales': {'second': 2.0}}})
    recipe, net, loss_net, params, state = _toy_parts(0, cfg)
    names = [p.name for p in params]
    assert dict(zip(names, state.weight_decay)) == {
        'network.dense1.weight': 0.5, 'network.dense1.bias': 0.0,
        'network.dense2.weight': 0.5, 'network.dense2.bias': 0.0}
    assert dict(zip(names, state.lr_scale))['network.dense2.weight'] == 2.0
    before = [p.asnumpy().copy() for p in params]
    update = state.updater(range(len(params)))
    zeros = tuple(ms.Tensor(np.zeros(p.shape, np.float32)) for p in params)
    ms.jit(update.construct)(zeros, ms.Tensor(0.1, ms.float32))
    # zero gradients: only weight decay moves a parameter, p -= lr * scale * wd * p
    expected = {'network.dense1.weight': 1 - 0.1 * 0.5, 'network.dense2.weight': 1 - 0.2 * 0.5,
                'network.dense1.bias': 1.0, 'network.dense2.bias': 1.0}
    for p, b in zip(params, before):
        np.testing.assert_allclose(p.asnumpy(), b * expected[p.name], rtol=1e-6, err_msg=p.name)


def test_an_unknown_parameter_set_is_a_config_error(tmp_path):
    cfg = toy_config(tmp_path, optim={'lr_scales': {'thrid': 0.5}})
    with pytest.raises(ConfigError, match="parameter set 'thrid' matches no trainable parameter"):
        train(cfg)


# ---------------------------------------------------------------------------------- phases
def test_frozen_sets_stay_bit_identical_with_their_moments_and_phases_survive_resume(tmp_path):
    sections = dict(train={'epochs': 1, 'ckpt_every': 1, 'keep_last': 100, 'eval_every': 0,
                           'freeze': {'first': 4, 'network.dense2.bias': 'all'}})
    cfg = toy_config(tmp_path / 'a', **sections)
    trainer, _ = train(cfg)
    assert [p.start for p in trainer.phases] == [0, 4]
    saved = checkpoints(cfg)
    start = read_params(os.path.join(cfg.run_dir, 'checkpoints', 'step_00000001.ckpt'))
    for step, params in saved.items():
        for key in params:
            always = key.endswith('dense2.bias')          # frozen for the whole run
            first_frozen = 'dense1' in key and step <= 4
            if always or first_frozen:
                np.testing.assert_array_equal(params[key], start[key], err_msg=f'{key} @ {step}')
        if step > 4:
            assert not np.array_equal(params['network.dense1.weight'], saved[4]['network.dense1.weight'])
            assert not np.array_equal(params['moment1.network.dense1.weight'],
                                      saved[4]['moment1.network.dense1.weight'])
    # the frozen part's moments never moved from zero, nor its update count
    assert not np.any(saved[8]['moment1.network.dense2.bias'])
    assert not np.array_equal(saved[8]['network.dense2.weight'], start['network.dense2.weight'])
    assert float(saved[8]['optim_step.network.dense1.weight']) == 4.0
    # interrupted inside the first phase, resumed into the second: the same weights
    part = toy_config(tmp_path / 'b', **{k: dict(v, max_steps=3) for k, v in sections.items()})
    train(part)
    resumed = toy_config(tmp_path / 'b', **sections)
    train(resumed, resume=True)
    final = checkpoints(resumed)[8]
    for key in final:
        np.testing.assert_array_equal(final[key], saved[8][key], err_msg=key)


def test_freezing_everything_is_refused(tmp_path):
    cfg = toy_config(tmp_path, train={'freeze': {'first': 'all', 'second': 'all'}})
    with pytest.raises(ConfigError, match='leaves nothing to train'):
        train(cfg)


# ----------------------------------------------------------------------- metric direction
def test_best_checkpoint_follows_a_max_metric(tmp_path):
    cfg = toy_config(tmp_path, train={'best_metric': 'r2', 'epochs': 4})
    trainer, _ = train(cfg)
    evals = trainer.log.read('eval')
    assert all(e['split'] == 'valid' for e in evals)
    with open(os.path.join(cfg.run_dir, 'checkpoints', 'best.json')) as f:
        best = json.load(f)
    assert best['metric'] == 'r2' and best['value'] == pytest.approx(max(e['r2'] for e in evals))


def test_plateau_keeps_the_rate_while_a_max_metric_improves(tmp_path):
    # (read as 'min', a rising r2 would look like a stall and halve the rate after epoch 2)
    cfg = toy_config(tmp_path, train={'best_metric': 'r2', 'epochs': 3},
                     schedule={'name': 'plateau', 'args': {'patience': 0, 'factor': 0.5}})
    trainer, _ = train(cfg)
    r2 = [e['r2'] for e in trainer.log.read('eval')]
    assert all(b > a for a, b in zip(r2, r2[1:]))                  # improving all along
    assert {r['lr'] for r in trainer.log.read('train')} == {0.05}  # so never halved


# ---------------------------------------------------- model selection never sees the test set
def test_without_a_validation_split_nothing_selects_a_model(tmp_path):
    cfg = toy_config(tmp_path, data={'validation': False})
    trainer, _ = train(cfg)
    assert trainer.log.read('eval') == []
    assert not os.path.exists(os.path.join(cfg.run_dir, 'checkpoints', 'best.ckpt'))
    plateau = toy_config(tmp_path / 'p', data={'validation': False}, schedule={'name': 'plateau'})
    with pytest.raises(ConfigError, match='no validation split'):
        train(plateau)


@pytest.mark.parametrize('every, train_args, steps', [
    (5, {}, [5, 10, 15, 16]),                  # and at the end of the run
    (4, {}, [4, 8, 12, 16]),                   # 8 updates an epoch: on the epoch ends too
    (5, {'max_steps': 10}, [5, 10]),           # a run that stops on a multiple: once
])
def test_validation_every_n_updates(tmp_path, every, train_args, steps):
    cfg = toy_config(tmp_path, train={'eval_every': 0, 'eval_every_steps': every, 'epochs': 2, **train_args})
    trainer, _ = train(cfg)
    assert [e['step'] for e in trainer.log.read('eval')] == steps


def test_a_plateau_schedule_that_never_sees_a_validation_is_refused(tmp_path):
    cfg = toy_config(tmp_path, schedule={'name': 'plateau'}, train={'eval_every': 0})
    with pytest.raises(ConfigError, match='would never see one'):
        train(cfg)


def test_a_nan_loss_with_finite_gradients_applies_no_update(mode):
    # the toy's poison adds NaN to the loss without reaching the gradients
    import mindspore as ms
    from src.engine.train_step import build_train_step
    register_toy()
    from src.recipes import get_recipe
    recipe = get_recipe('toy_regression')
    cfg = build_config({'model': {'name': 'toy_regression'}, 'data': {'nan_item': 0}})
    net = recipe.build_network(cfg)
    step, state = build_train_step(recipe.build_loss_net(net, cfg, None), cfg.optim)
    batch = recipe.train_set(cfg).make_batch(np.arange(8), np.random.default_rng(0))
    before = [p.asnumpy().copy() for p in state.parameters]
    loss, finite, _ = step(ms.Tensor(1.0, ms.float32), ms.Tensor(0.1, ms.float32),
                           *(ms.Tensor(batch[k]) for k in recipe.batch_keys))
    assert np.isnan(float(loss.asnumpy())) and not bool(finite.asnumpy())
    for p, b in zip(state.parameters, before):
        np.testing.assert_array_equal(p.asnumpy(), b)
    assert not any(np.any(m.asnumpy()) for m in state.moment1)


def test_aux_names_that_clash_with_record_fields_are_refused(tmp_path, monkeypatch):
    from src.recipes import get_recipe
    cfg = toy_config(tmp_path)
    monkeypatch.setattr(get_recipe('toy_regression'), 'step_inputs', lambda cfg, step: {'lr': 1.0})
    with pytest.raises(ConfigError, match='named lr, a field of every training record'):
        train(cfg)
