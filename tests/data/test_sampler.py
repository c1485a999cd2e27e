"""Batch samplers: deterministic per (seed, epoch, rank), resumable, a bounded set of padded
lengths, max_tokens, the same steps and padded length on every rank."""
import numpy as np
import pytest

from src.data.loader import BatchLoader
from src.data.sampler import (BucketBatches, LengthGrid, RandomBatches, epoch_permutation, pad_batch,
                              plan_bucket_batches)
from src.errors import ConfigError, DataError

GRID = LengthGrid.geometric(10, 100, 1.25)


def lengths(n=300, seed=0, low=5, high=100):
    return np.random.default_rng(seed).integers(low, high + 1, n)


def as_lists(batches):
    return [(b.indices.tolist(), b.pad_length) for b in batches]


def test_random_batches_are_the_fixed_size_slices_of_the_epoch_permutation():
    sampler = RandomBatches(42, 4, seed=7)
    for world in (1, 2):
        order = epoch_permutation(42, 7, 3)
        steps = 42 // (4 * world)
        assert sampler.steps_per_epoch(world) == steps
        for rank in range(world):
            got = sampler.batches(3, rank, world)
            assert [b.pad_length for b in got] == [None] * steps
            expected = [order[s * 4 * world + rank * 4:][:4].tolist() for s in range(steps)]
            assert [b.indices.tolist() for b in got] == expected


def test_geometric_grid_and_multiples():
    assert GRID.levels == [10, 13, 17, 22, 28, 35, 44, 55, 69, 87, 100]
    assert all(b / a <= 1.25 + 1 / a for a, b in zip(GRID.levels, GRID.levels[1:]))
    assert LengthGrid.multiples(8, 30).levels == [8, 16, 24, 32]
    assert [GRID(v) for v in (1, 10, 11, 88, 100)] == [10, 10, 13, 100, 100]
    with pytest.raises(DataError, match='above the longest pad length 100'):
        GRID(101)
    with pytest.raises(ConfigError, match='increasing'):
        LengthGrid([4, 4, 8])
    with pytest.raises(ConfigError, match='ratio > 1'):
        LengthGrid.geometric(10, 100, 1.0)


def test_grid_floor_is_the_longest_level_not_above():
    grid = LengthGrid([4, 8, 16])
    assert list(grid.floor([3, 4, 7, 8, 15, 16, 100])) == [-1, 4, 4, 8, 8, 16, 16]
    assert int(grid.floor(9)) == 8


def test_bucket_batches_are_a_pure_function_of_seed_epoch_rank_and_world():
    lens = lengths()
    a = BucketBatches(lens, GRID, batch_size=4, seed=1)
    b = BucketBatches(lens, GRID, batch_size=4, seed=1)
    for rank, world in ((0, 1), (1, 2), (2, 3)):
        assert as_lists(a.batches(2, rank, world)) == as_lists(b.batches(2, rank, world))
    assert as_lists(a.batches(2)) != as_lists(a.batches(3))                  # new order each epoch
    assert as_lists(BucketBatches(lens, GRID, batch_size=4, seed=2).batches(2)) != as_lists(a.batches(2))
    assert a.steps_per_epoch() == len(a.batches(0)) == len(a.batches(5))
    # what a resumed run must match for the same order
    assert a.describe() == b.describe() != BucketBatches(lens, GRID, max_tokens=400, seed=1).describe()
    assert a.describe()['levels'] == GRID.levels and RandomBatches(9, 3).describe()['sampler'] == 'random'


@pytest.mark.parametrize('kind', [dict(batch_size=4), dict(max_tokens=400)])
def test_every_item_once_per_epoch_padded_to_few_lengths(kind):
    lens = lengths()
    sampler = BucketBatches(lens, GRID, seed=3, **kind)
    for world in (1, 2):
        ranks = [sampler.batches(1, r, world) for r in range(world)]
        steps = sampler.steps_per_epoch(world)
        assert all(len(batches) == steps for batches in ranks)
        seen = np.concatenate([b.indices for batches in ranks for b in batches])
        assert len(seen) == len(set(seen.tolist()))                         # at most once
        # what is left over is less than one global batch of the top level
        top = (kind.get('batch_size') or kind['max_tokens'] // GRID.longest) * world
        assert len(lens) - len(seen) < top
        pads = set()
        for step in range(steps):
            batch_pads = {batches[step].pad_length for batches in ranks}
            assert len(batch_pads) == 1                                     # one graph on all ranks
            assert len({len(batches[step].indices) for batches in ranks}) == 1
            for batches in ranks:
                b = batches[step]
                assert lens[b.indices].max() <= b.pad_length
                if 'max_tokens' in kind:
                    assert len(b.indices) * b.pad_length <= kind['max_tokens']
                else:
                    assert len(b.indices) == 4
            pads |= batch_pads
        assert pads <= set(GRID.levels)
        assert len(pads) <= len(GRID.levels)
    # items of similar length: most batches hold lengths of one or two levels
    spans = [b.pad_length / max(1, lens[b.indices].min()) for b in sampler.batches(1)]
    assert np.median(spans) < 1.6


def test_a_plan_without_shuffling_keeps_every_item_once():
    lens = lengths(101, seed=4)
    plan = plan_bucket_batches(lens, GRID, [8] * len(GRID.levels), keep_remainder=True)
    assert sorted(np.concatenate([b.indices for b in plan]).tolist()) == list(range(101))
    # a single smaller batch at most: the remainder at the top level
    assert sum(len(b.indices) != 8 for b in plan) <= 1
    assert [b.pad_length for b in plan] == sorted(b.pad_length for b in plan)


def test_limits_are_checked():
    with pytest.raises(DataError, match='1 items are longer than the longest pad length 100'):
        BucketBatches(np.array([5, 120, 30]), GRID, batch_size=1)
    with pytest.raises(ConfigError, match='max_tokens 99 is below the longest pad length 100'):
        BucketBatches(lengths(), GRID, max_tokens=99)
    with pytest.raises(ConfigError, match='batch_size or max_tokens'):
        BucketBatches(lengths(), GRID)


class Sequences:
    """Items of varying length; make_batch pads them to the sampler's length."""

    def __init__(self, lens):
        self.lens = lens

    def __len__(self):
        return len(self.lens)

    def make_batch(self, indices, rng, pad_length):
        items = [np.full(self.lens[i], i, np.float32) for i in indices]
        x, valid = pad_batch(items, pad_length)
        return {'x': x, 'lengths': valid, 'noise': rng.random(len(indices))}


def test_loader_with_a_bucket_sampler_pads_and_resumes_exactly():
    lens = lengths(120, seed=5)
    sampler = BucketBatches(lens, GRID, max_tokens=300, seed=0)

    def collect(start=0, workers=0):
        loader = BatchLoader(Sequences(lens), None, seed=0, num_workers=workers, sampler=sampler)
        return [(b['x'].shape, b['lengths'].tolist(), b['noise'].tolist()) for b in loader.epoch(2, start)]
    full = collect()
    assert collect(start=5) == full[5:]
    assert collect(workers=2) == full
    assert len({shape for shape, _, _ in full}) <= 2 * len(GRID.levels)   # (items, length) shapes
    for shape, valid, _ in full:
        assert shape[1] in GRID.levels and max(valid) <= shape[1]


def test_pad_batch():
    x, valid = pad_batch([np.ones((3, 2)), np.ones((1, 2))], 4)
    assert x.shape == (2, 4, 2) and valid.tolist() == [3, 1]
    assert x[0, :3].all() and not x[0, 3:].any() and not x[1, 1:].any()
    with pytest.raises(DataError, match='does not fit'):
        pad_batch([np.ones(5)], 4)
