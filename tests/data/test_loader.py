"""The batch loader: deterministic, resumable, sharded, the same with or without workers."""
import numpy as np
import pytest

from src.data.loader import BatchLoader
from src.errors import DataError


class Items:
    def __init__(self, n, bad=0):
        self.n, self.bad = n, bad

    def __len__(self):
        return self.n

    def make_batch(self, indices, rng):
        return {'index': np.asarray(indices), 'noise': rng.random(len(indices)), '_bad': self.bad}


def collect(loader, epoch, start=0):
    return [(b['index'].tolist(), b['noise'].tolist()) for b in loader.epoch(epoch, start)]


def test_same_batches_with_and_without_workers_and_after_resume():
    a = collect(BatchLoader(Items(40), 4, seed=3), 1)
    b = collect(BatchLoader(Items(40), 4, seed=3, num_workers=2, prefetch=2), 1)
    assert a == b and len(a) == 10
    assert collect(BatchLoader(Items(40), 4, seed=3), 1, start=6) == a[6:]
    assert sorted(i for idx, _ in a for i in idx) == list(range(40))
    assert collect(BatchLoader(Items(40), 4, seed=3), 2) != a          # new order each epoch
    assert collect(BatchLoader(Items(40), 4, seed=4), 1) != a          # and per seed


def test_ranks_take_disjoint_slices_of_each_global_batch():
    ranks = [collect(BatchLoader(Items(40), 4, seed=0, rank=r, world=2), 0) for r in range(2)]
    assert len(ranks[0]) == len(ranks[1]) == 5
    single = collect(BatchLoader(Items(40), 8, seed=0), 0)
    for step in range(5):
        assert ranks[0][step][0] + ranks[1][step][0] == single[step][0]


def test_too_few_items_and_too_many_bad_items():
    with pytest.raises(DataError, match='fewer than one global batch'):
        BatchLoader(Items(3), 4)
    loader = BatchLoader(Items(200, bad=1), 10, max_bad_fraction=0.05)
    with pytest.raises(DataError, match='unreadable'):
        collect(loader, 0)


def test_the_recipes_default_sampler_is_the_loaders_default_batching():
    """What the trainer gets from Recipe.batch_sampler unless a recipe overrides it."""
    from src.config import build_config
    from tests.engine.toy import register_toy
    recipe = register_toy()
    cfg = build_config({'model': {'name': 'toy_regression'}, 'train': {'batch_size': 4, 'seed': 3}})
    sampler = recipe.batch_sampler(cfg, Items(42))
    for rank in (0, 1):
        default = BatchLoader(Items(42), 4, seed=3, rank=rank, world=2)
        hooked = BatchLoader(Items(42), 4, seed=3, rank=rank, world=2, sampler=sampler)
        assert collect(hooked, 2) == collect(default, 2) and len(collect(hooked, 2)) == 5
