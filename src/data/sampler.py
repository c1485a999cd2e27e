"""Which items make each batch, and to which length a batch is padded.

A batch sampler decides, for one epoch, the items of every step of every data-parallel rank:

    steps_per_epoch(world) -> int                    the same on every rank
    batches(epoch, rank, world) -> [Batch, ...]      this rank's batches, in step order
    describe() -> dict                               what the order depends on (for resume checks)

A :class:`Batch` is ``(indices, pad_length)``: the dataset pads the batch's items to
``pad_length`` (None: the items have one length already). Every sampler's batches are a pure
function of ``(seed, epoch, rank, world)``, so a run resumed at ``(epoch, step)`` sees the batches
the uninterrupted run would have seen.

* :class:`RandomBatches` (the default): fixed-size batches of a new random permutation per epoch.
* :class:`BucketBatches`: items of similar length together, each batch padded to its bucket's
  length from a :class:`LengthGrid` (a handful of lengths, so graph mode compiles a handful of
  graphs), with a fixed number of items per batch or up to ``max_tokens`` padded frames or samples
  (fairseq's ``max_tokens``). All ranks pad a step to the same length: they run the same graph.

:func:`plan_bucket_batches` is the grouping both use, also for evaluation (no shuffling, nothing
dropped); :func:`pad_batch` pads the items of one batch.
"""
from collections import namedtuple

import numpy as np

from ..errors import ConfigError, DataError

Batch = namedtuple('Batch', 'indices pad_length')


def epoch_permutation(n, seed, epoch, shuffle=True):
    """The order of ``n`` items in ``epoch``: a permutation drawn from ``(seed, epoch)``."""
    if not shuffle:
        return np.arange(n)
    return np.random.default_rng([seed, epoch, 0x5EED]).permutation(n)


class RandomBatches:
    """Batches of ``batch_size`` items per rank from a permutation per epoch.

    Rank ``r`` of ``world`` takes the ``r``-th slice of each global batch of ``batch_size * world``
    items; the items left over (fewer than a global batch) are not used in that epoch.
    """

    def __init__(self, num_items, batch_size, seed=0, shuffle=True):
        self.num_items, self.batch_size, self.seed, self.shuffle = num_items, batch_size, seed, shuffle

    def steps_per_epoch(self, world=1):
        return self.num_items // (self.batch_size * world)

    def batches(self, epoch, rank=0, world=1):
        order = epoch_permutation(self.num_items, self.seed, epoch, self.shuffle)
        size, out = self.batch_size * world, []
        for step in range(self.steps_per_epoch(world)):
            lo = step * size + rank * self.batch_size
            out.append(Batch(order[lo:lo + self.batch_size], None))
        return out

    def global_batch(self, world=1):
        """Items of one step over all ranks (for messages)."""
        return f"{self.batch_size * world}"

    def describe(self):
        return {'sampler': 'random', 'batch_size': self.batch_size, 'seed': self.seed}


class LengthGrid:
    """The lengths batches are padded to: an increasing list; a length is padded to the first
    entry at least as long.

    Args:
        levels: increasing positive ints (frames, samples ...); the last is the longest item a
            batch may hold.
    """

    def __init__(self, levels):
        levels = [int(v) for v in levels]
        if not levels or levels[0] < 1 or any(b <= a for a, b in zip(levels, levels[1:])):
            raise ConfigError(f"pad lengths must be increasing positive integers, got {levels}")
        self.levels = levels

    @classmethod
    def geometric(cls, shortest, longest, ratio):
        """``shortest``, then each level ``ratio`` times the one before (rounded up), the last
        one ``longest``. Padding then costs at most ``ratio - 1`` of the frames."""
        if not ratio > 1 or shortest < 1 or longest < shortest:
            raise ConfigError(f"a geometric length grid needs ratio > 1 and 1 <= shortest <= longest, "
                              f"got ratio {ratio}, shortest {shortest}, longest {longest}")
        levels = [int(shortest)]
        while levels[-1] < longest:
            levels.append(min(int(longest), max(levels[-1] + 1, int(np.ceil(levels[-1] * ratio)))))
        return cls(levels)

    @classmethod
    def multiples(cls, step, longest):
        """Every multiple of ``step`` up to the first one >= ``longest``."""
        if step < 1 or longest < 1:
            raise ConfigError(f"a grid of multiples needs step >= 1 and longest >= 1, got {step}, {longest}")
        return cls(range(step, -(-int(longest) // step) * step + 1, step))

    @property
    def longest(self):
        return self.levels[-1]

    def level(self, lengths):
        """Index of the level each length is padded to; ``len(levels)`` for lengths above the last."""
        return np.searchsorted(np.asarray(self.levels), np.asarray(lengths), side='left')

    def floor(self, lengths):
        """The longest level not above each length (for data cropped to the grid); -1 where a
        length is below the first level."""
        levels = np.asarray(self.levels)
        k = np.searchsorted(levels, np.asarray(lengths), side='right') - 1
        return np.where(k >= 0, levels[np.maximum(k, 0)], -1)

    def __call__(self, length):
        """The padded length of ``length`` (a DataError when it is above the last level)."""
        k = int(self.level(length))
        if k == len(self.levels):
            raise DataError(f"length {length} is above the longest pad length {self.longest}")
        return self.levels[k]


def plan_bucket_batches(lengths, grid, sizes, order=None, keep_remainder=False):
    """Group items into batches of one padded length each.

    Items go to the level of their length. The items of a level that do not fill a last batch
    join the next level's (padded longer), so every level ends with whole batches: one batch
    shape per level, and at most one smaller batch at the top (``keep_remainder``).

    Args:
        lengths: (n,) item lengths, each at most ``grid.longest``.
        grid: a :class:`LengthGrid`.
        sizes: items per batch at each level (a list as long as ``grid.levels``).
        order: the items in the order they are taken within a level (default: by index).
        keep_remainder: keep the last items (fewer than a batch of the top level) as a smaller
            batch; False drops them.

    Returns:
        list of :class:`Batch` (indices, pad_length), shortest level first.
    """
    lengths = np.asarray(lengths)
    order = np.arange(len(lengths)) if order is None else np.asarray(order)
    level = grid.level(lengths[order])
    if (level == len(grid.levels)).any():
        raise DataError(f"{int((level == len(grid.levels)).sum())} items are longer than the longest "
                        f"pad length {grid.longest}: crop them or raise the longest length")
    plan, carry = [], order[:0]
    for k, (pad_length, size) in enumerate(zip(grid.levels, sizes)):
        items = np.concatenate([carry, order[level == k]])
        full = len(items) // size
        plan += [Batch(items[i * size:(i + 1) * size], pad_length) for i in range(full)]
        carry = items[full * size:]
    if keep_remainder and len(carry):
        plan.append(Batch(carry, grid.longest))
    return plan


class BucketBatches:
    """Batches of items of similar length, padded to the lengths of ``grid``.

    Each epoch, the items of each level are shuffled (from ``(seed, epoch)``), cut into global
    batches (:func:`plan_bucket_batches`; fewer than one global batch of the top level is left
    over and not used in that epoch), and the global batches are shuffled. Rank ``r`` takes the
    ``r``-th slice of every global batch, so all ranks take the same number of steps and pad each
    step to the same length.

    Args:
        lengths: (n,) item lengths (after any cropping the dataset does).
        grid: :class:`LengthGrid` of the padded lengths.
        batch_size: items per rank and batch; or
        max_tokens: padded length x items per rank and batch at most (the items per batch then
            shrink as the level grows).
        seed, shuffle: as :class:`RandomBatches`.
    """

    def __init__(self, lengths, grid, batch_size=None, max_tokens=None, seed=0, shuffle=True):
        if (batch_size is None) == (max_tokens is None):
            raise ConfigError("bucketed batches take batch_size or max_tokens (one of them)")
        if max_tokens is not None and max_tokens < grid.longest:
            raise ConfigError(f"max_tokens {max_tokens} is below the longest pad length {grid.longest}: "
                              "one item would not fit a batch; raise max_tokens or lower the longest length")
        self.lengths, self.grid = np.asarray(lengths), grid
        self.batch_size, self.max_tokens, self.seed, self.shuffle = batch_size, max_tokens, seed, shuffle
        self.sizes = [batch_size] * len(grid.levels) if batch_size else [max_tokens // v for v in grid.levels]
        self._plan(0, 1)                # too-long items are an error now, not at the first epoch

    def _plan(self, epoch, world):
        rng = np.random.default_rng([self.seed, epoch, 0xB0C7])
        order = rng.permutation(len(self.lengths)) if self.shuffle else None
        plan = plan_bucket_batches(self.lengths, self.grid, [s * world for s in self.sizes], order)
        if self.shuffle:
            plan = [plan[i] for i in rng.permutation(len(plan))]
        return plan

    def steps_per_epoch(self, world=1):
        return len(self._plan(0, world))

    def batches(self, epoch, rank=0, world=1):
        out = []
        for batch in self._plan(epoch, world):
            size = len(batch.indices) // world
            out.append(Batch(batch.indices[rank * size:(rank + 1) * size], batch.pad_length))
        return out

    def global_batch(self, world=1):
        return f"{self.sizes[-1] * world} at the longest pad length {self.grid.longest}"

    def describe(self):
        return {'sampler': 'bucket', 'levels': self.grid.levels, 'batch_size': self.batch_size,
                'max_tokens': self.max_tokens, 'seed': self.seed}


def pad_batch(items, pad_length, axis=0):
    """Stack arrays of different lengths along ``axis``, zero-padded to ``pad_length``.

    Args:
        items: arrays that differ only in the length of ``axis``, each at most ``pad_length``.
        pad_length: the batch's length.
        axis: the length axis of each item.

    Returns:
        (batch array with a new leading axis, int32 (batch,) lengths).
    """
    lengths = np.asarray([item.shape[axis] for item in items], np.int32)
    if lengths.max() > pad_length:
        raise DataError(f"an item of length {lengths.max()} does not fit the pad length {pad_length}")
    padded = []
    for item in items:
        widths = [(0, 0)] * item.ndim
        widths[axis] = (0, pad_length - item.shape[axis])
        padded.append(np.pad(item, widths))
    return np.stack(padded), lengths
