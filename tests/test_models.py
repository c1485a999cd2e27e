"""Every registered model, built tiny: the compiled graph-mode train step, save/reload, MindIR export.

Driven by the model registry: a newly registered model is tested here without new code. Models
may take several inputs (``Recipe.input_keys``), return several outputs, and declare frozen
parts for the train-step test (``Recipe.tiny_freeze``).
"""
import os

import numpy as np
import pytest

from src.config import build_config
from src.recipes import load_recipes

MODEL_NAMES = load_recipes().names()


def tiny(name, **train):
    from src.recipes import get_recipe
    recipe = get_recipe(name)
    cfg = build_config({'model': {'name': name, 'args': dict(recipe.tiny_args)},
                        'optim': {'lr': recipe.tiny_lr}, 'train': train})
    return recipe, cfg


def outputs(net, batch, recipe):
    """The network's outputs on ``batch`` as a list of numpy arrays."""
    import mindspore as ms
    out = net(*(ms.Tensor(batch[k]) for k in recipe.network_input_keys))
    return [o.asnumpy() for o in (out if isinstance(out, (tuple, list)) else (out,))]


@pytest.fixture
def graph_mode():
    import mindspore as ms
    ms.set_context(mode=ms.GRAPH_MODE)
    yield
    ms.set_context(mode=ms.PYNATIVE_MODE)


@pytest.mark.parametrize('name', MODEL_NAMES)
def test_compiled_train_step_trains_what_is_not_frozen(name, graph_mode):
    # the step the configs use: graph mode, compiled, over the phase's trainable parameters
    import mindspore as ms
    from src.engine.optim import OptimizerState
    from src.engine.phases import plan_phases
    from src.engine.train_step import TrainStep, compile_step
    from src.distributed import gradient_reducer
    recipe, cfg = tiny(name, freeze=dict(recipe_freeze(name)))
    ms.set_seed(0)
    batch, info = recipe.example_batch(cfg, 4, np.random.default_rng(0))
    net = recipe.build_network(cfg)
    loss_net = recipe.build_loss_net(net, cfg, info)
    for _, cell in loss_net.cells_and_names():   # no dropout: the same batch's loss must fall
        if isinstance(cell, ms.nn.Dropout):
            cell.p, cell.keep_prob = 0.0, 1.0
    params = loss_net.trainable_params()
    state = OptimizerState(params, cfg.optim, recipe.parameter_sets)
    phase = plan_phases(cfg.train.freeze, params, recipe.parameter_sets, 100)[0]
    trained = [params[i] for i in phase.trainable]
    cell = TrainStep(loss_net, state.updater(phase.trainable), gradient_reducer(trained, 1))
    cell.set_train(True)
    step = compile_step(cell)
    before = {p.name: p.asnumpy().copy() for p in params}
    # the batch, then the recipe's per-update inputs (wav2vec 2.0's Gumbel temperature)
    inputs = [ms.Tensor(batch[k]) for k in recipe.batch_keys] + \
        [ms.Tensor(v, ms.float32) for v in recipe.step_inputs(cfg, 0).values()]
    lr = ms.Tensor(recipe.tiny_lr, ms.float32)
    losses = []
    for _ in range(5):
        loss, finite, aux = step(ms.Tensor(1.0, ms.float32), lr, *inputs)
        assert bool(finite.asnumpy())
        assert all(np.isfinite(v.asnumpy()) for v in aux.values())
        losses.append(float(loss.asnumpy()))
    assert all(np.isfinite(losses)) and losses[-1] < losses[0]
    changed = [p.name for p in trained if not np.allclose(before[p.name], p.asnumpy())]
    assert len(changed) > 0.8 * len(trained)
    frozen = [p for i, p in enumerate(params) if i not in phase.trainable]
    assert bool(frozen) == bool(recipe.tiny_freeze)
    for p in frozen:
        np.testing.assert_array_equal(before[p.name], p.asnumpy(), err_msg=p.name)


def recipe_freeze(name):
    from src.recipes import get_recipe
    return get_recipe(name).tiny_freeze


@pytest.mark.parametrize('name', MODEL_NAMES)
def test_save_reload_gives_the_same_outputs(name, tmp_path):
    import mindspore as ms
    from src.checkpoint import load_params_into, save_params
    recipe, cfg = tiny(name)
    batch, _ = recipe.example_batch(cfg, 2, np.random.default_rng(1))
    ms.set_seed(1)
    a = recipe.build_network(cfg)
    a.set_train(False)
    save_params(a, str(tmp_path / 'a.ckpt'))
    ms.set_seed(2)
    b = recipe.build_network(cfg)
    b.set_train(False)
    assert not all(np.allclose(x, y) for x, y in zip(outputs(a, batch, recipe), outputs(b, batch, recipe)))
    load_params_into(b, str(tmp_path / 'a.ckpt'))
    for x, y in zip(outputs(a, batch, recipe), outputs(b, batch, recipe)):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize('name', MODEL_NAMES)
@pytest.mark.parametrize('dynamic', [True, False], ids=['dynamic', 'fixed'])
def test_exported_mindir_matches_the_network(name, dynamic, tmp_path):
    import mindspore as ms
    recipe, cfg = tiny(name)
    batch, _ = recipe.example_batch(cfg, 1, np.random.default_rng(2))
    # what is exported (a pretraining network exports its encoder) and takes the signature's inputs
    arrays = [batch[entry['name']] for entry in recipe.export_signature(cfg)['inputs']]
    net = recipe.inference_network(recipe.build_network(cfg))
    net.set_train(False)
    inputs = recipe.export_inputs(cfg, None if dynamic else arrays[0].shape[1])
    path = str(tmp_path / 'model')
    ms.export(net, *inputs, file_name=path, file_format='MINDIR')
    graph = ms.nn.GraphCell(ms.load(path + '.mindir'))

    def run(cell, xs):
        out = cell(*(ms.Tensor(x) for x in xs))
        return [o.asnumpy() for o in (out if isinstance(out, (tuple, list)) else (out,))]

    for got, want in zip(run(graph, arrays), run(net, arrays)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    if dynamic:   # another length through the same file
        longer = [np.concatenate([x, x[:, :17]], axis=1) for x in arrays]
        for got, want in zip(run(graph, longer), run(net, longer)):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert os.path.getsize(path + '.mindir') > 0
