"""Every registered model, built tiny: forward, one train step, save/reload, MindIR export.

Driven by the model registry: a newly registered model is tested here without new code.
"""
import os

import numpy as np
import pytest

from src.config import build_config
from src.recipes import load_recipes

MODEL_NAMES = load_recipes().names()


def tiny(name):
    from src.recipes import get_recipe
    recipe = get_recipe(name)
    cfg = build_config({'model': {'name': name, 'args': dict(recipe.tiny_args)}})
    return recipe, cfg


def forward(net, batch, recipe):
    import mindspore as ms
    return net(ms.Tensor(batch[recipe.batch_keys[0]])).asnumpy()


@pytest.mark.parametrize('name', MODEL_NAMES)
def test_train_step_changes_weights_and_lowers_the_loss(name):
    import mindspore as ms
    from src.distributed import gradient_reducer
    from src.engine.train_step import TrainStep, build_optimizer
    recipe, cfg = tiny(name)
    ms.set_seed(0)
    batch, info = recipe.example_batch(cfg, 4, np.random.default_rng(0))
    net = recipe.build_network(cfg)
    loss_net = recipe.build_loss_net(net, cfg, info)
    for _, cell in loss_net.cells_and_names():   # no dropout: the same batch's loss must fall
        if isinstance(cell, ms.nn.Dropout):
            cell.p, cell.keep_prob = 0.0, 1.0
    params = loss_net.trainable_params()
    step = TrainStep(loss_net, build_optimizer(cfg.optim, params, recipe.tiny_lr), gradient_reducer(params, 1))
    step.set_train(True)
    before = {p.name: p.asnumpy().copy() for p in params}
    inputs = [ms.Tensor(batch[k]) for k in recipe.batch_keys]
    lr = ms.Tensor(recipe.tiny_lr, ms.float32)
    losses = [float(step(ms.Tensor(1.0, ms.float32), lr, *inputs)[0].asnumpy()) for _ in range(5)]
    assert all(np.isfinite(losses)) and losses[-1] < losses[0]
    changed = [p.name for p in params if not np.allclose(before[p.name], p.asnumpy())]
    assert len(changed) > 0.8 * len(params)


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
    assert not np.allclose(forward(a, batch, recipe), forward(b, batch, recipe))
    load_params_into(b, str(tmp_path / 'a.ckpt'))
    np.testing.assert_array_equal(forward(a, batch, recipe), forward(b, batch, recipe))


@pytest.mark.parametrize('name', MODEL_NAMES)
@pytest.mark.parametrize('dynamic', [True, False], ids=['dynamic', 'fixed'])
def test_exported_mindir_matches_the_network(name, dynamic, tmp_path):
    import mindspore as ms
    recipe, cfg = tiny(name)
    batch, _ = recipe.example_batch(cfg, 1, np.random.default_rng(2))
    x = batch[recipe.batch_keys[0]]
    net = recipe.build_network(cfg)
    net.set_train(False)
    inputs = recipe.export_inputs(cfg, None if dynamic else x.shape[1])
    path = str(tmp_path / 'model')
    ms.export(net, *inputs, file_name=path, file_format='MINDIR')
    graph = ms.nn.GraphCell(ms.load(path + '.mindir'))
    np.testing.assert_allclose(graph(ms.Tensor(x)).asnumpy(), forward(net, batch, recipe), rtol=1e-5, atol=1e-6)
    if dynamic:   # another length through the same file
        longer = np.concatenate([x, x[:, :17]], axis=1)
        np.testing.assert_allclose(graph(ms.Tensor(longer)).asnumpy(),
                                   net(ms.Tensor(longer)).asnumpy(), rtol=1e-5, atol=1e-6)
    assert os.path.getsize(path + '.mindir') > 0
