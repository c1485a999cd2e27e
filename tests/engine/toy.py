"""A tiny regression model registered as a recipe, to test the engine without a real model."""
from dataclasses import dataclass

import numpy as np

from src.engine.recipe import Recipe
from src.recipes import MODELS, load_recipes


@dataclass
class ToyData:
    items: int = 64
    nan_item: int = -1          # the batch holding this item gets a NaN loss
    bad_items: int = 0          # items reported unreadable per batch
    validation: bool = True     # a validation split (fresh samples of the same function)
    step_input: bool = False    # the loss is multiplied by a per-step input, 'weight'


@dataclass
class ToyEval:
    pass


def toy_network(features=4, hidden=8):
    from mindspore import nn

    class ToyNet(nn.Cell):
        def __init__(self):
            super().__init__()
            self.dense1 = nn.Dense(features, hidden)
            self.dense2 = nn.Dense(hidden, 1)
            self.act = nn.Tanh()

        def construct(self, x):
            return self.dense2(self.act(self.dense1(x)))

    return ToyNet()


class ToyBatches:
    """y = x . w for fixed random x; make_batch adds a little seeded noise (tests rng use)."""

    def __init__(self, n, nan_item=-1, bad_items=0):
        rng = np.random.default_rng(123)
        self.x = rng.standard_normal((n, 4)).astype(np.float32)
        self.y = (self.x @ np.array([1.0, -2.0, 0.5, 3.0], np.float32))[:, None]
        self.nan_item, self.bad_items = nan_item, bad_items

    def __len__(self):
        return len(self.x)

    def make_batch(self, indices, rng):
        x = self.x[indices] + 0.01 * rng.standard_normal((len(indices), 4)).astype(np.float32)
        poison = np.float32(np.nan) if self.nan_item in set(indices.tolist()) else np.float32(0)
        return {'x': x.astype(np.float32), 'y': self.y[indices].copy(),
                'poison': np.full((1,), poison, np.float32), '_bad': self.bad_items}


class ToyRecipe(Recipe):
    data_schema = ToyData
    eval_schema = ToyEval
    batch_keys = ('x', 'y', 'poison')
    metrics = {'mse': 'min', 'r2': 'max'}
    best_metric = 'mse'
    parameter_sets = {'first': ('dense1.',), 'second': ('dense2.',)}

    def train_set(self, cfg):
        return ToyBatches(cfg.data.items, cfg.data.nan_item, cfg.data.bad_items)

    def step_inputs(self, cfg, step):
        return {'weight': 1.0 / (1 + step)} if cfg.data.step_input else {}

    def has_validation(self, cfg):
        return cfg.data.validation

    def build_loss_net(self, network, cfg, train_set):
        from mindspore import nn, ops

        class Loss(nn.Cell):
            """Mean squared error (times the per-step weight), with its mean |error| as aux."""

            def __init__(self, network):
                super().__init__()
                self.network = network

            def construct(self, x, y, poison, *weight):
                err = self.network(x) - y
                loss = ops.mean(err * err) + poison.sum()
                for w in weight:
                    loss = loss * w
                return loss, {'abs_err': ops.abs(err).mean()}

        return Loss(network)

    def evaluate(self, network, cfg, out_dir, progress=True, cache_key='', split='test',
                 loss_net=None, rank=0, world=1):
        import mindspore as ms
        if rank != 0:
            return {}
        rng = np.random.default_rng(7 if split == 'valid' else 8)
        x = rng.standard_normal((32, 4)).astype(np.float32)
        y = (x @ np.array([1.0, -2.0, 0.5, 3.0], np.float32))[:, None]
        pred = network(ms.Tensor(x)).asnumpy()
        mse = float(np.mean((pred - y) ** 2))
        return {'mse': mse, 'r2': 1.0 - mse / float(np.var(y))}

    def export_inputs(self, cfg, length=None):
        import mindspore as ms
        return [ms.Tensor(np.zeros((2, 4), np.float32))]


def register_toy():
    load_recipes()
    if 'toy_regression' not in MODELS:
        MODELS.register('toy_regression', ToyRecipe(toy_network))
    return MODELS.get('toy_regression')
