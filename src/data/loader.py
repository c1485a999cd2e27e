"""Deterministic, resumable, sharded batch loading with worker processes.

Every batch is a pure function of ``(seed, epoch, step, rank)``: a batch sampler
(:mod:`src.data.sampler`) picks each step's items from ``(seed, epoch)``, and each batch's random
numbers (crop positions, augmentation) come from ``(seed, epoch, step, rank)``. So the data order
does not depend on the number of workers, and a resumed run starting at ``(epoch, step)`` sees
exactly the batches the uninterrupted run would have seen. The default sampler gives rank ``r``
of ``world`` the ``r``-th slice of each global batch of ``batch_size * world`` random items.

A dataset is any object with ``__len__`` and ``make_batch(indices, rng) -> dict`` of numpy
arrays; with a sampler that pads (its batches have a ``pad_length``), ``make_batch(indices, rng,
pad_length)``. It may report unreadable items it replaced under the key ``'_bad'`` (an int).
"""
import multiprocessing as mp

import numpy as np

from ..errors import DataError
from .sampler import RandomBatches


def batch_rng(seed, epoch, step, rank):
    return np.random.default_rng([seed, epoch, step, rank, 0xBA7C])


class _Job:
    """Picklable batch maker for worker processes."""

    def __init__(self, dataset):
        self.dataset = dataset

    def __call__(self, job):
        (indices, pad_length), seed, epoch, step, rank = job
        rng = batch_rng(seed, epoch, step, rank)
        if pad_length is None:
            return self.dataset.make_batch(indices, rng)
        return self.dataset.make_batch(indices, rng, pad_length=pad_length)


class BatchLoader:
    """Batches of ``dataset`` for one rank.

    Args:
        dataset: see the module docstring.
        batch_size: items per batch on this rank.
        seed: the run's seed.
        shuffle: a new permutation every epoch.
        num_workers: worker processes (0 = make batches in this process).
        prefetch: batches in flight per worker.
        rank, world: this process's data-parallel rank and the number of ranks.
        max_bad_fraction: stop with a DataError when more than this fraction of the items seen
            so far were unreadable (checked once 50 items have been seen).
        sampler: which items make each step (:mod:`src.data.sampler`, e.g. the recipe's
            ``batch_sampler``); None: :class:`~src.data.sampler.RandomBatches` of ``batch_size``.
    """

    def __init__(self, dataset, batch_size, seed=0, shuffle=True, num_workers=0, prefetch=4,
                 rank=0, world=1, max_bad_fraction=0.01, name='training data', sampler=None):
        self.dataset, self.seed = dataset, seed
        self.sampler = RandomBatches(len(dataset), batch_size, seed, shuffle) if sampler is None else sampler
        self.num_workers, self.prefetch = num_workers, max(1, prefetch)
        self.rank, self.world = rank, world
        self.max_bad_fraction, self.name = max_bad_fraction, name
        self.seen = self.bad = 0
        if self.steps_per_epoch() == 0:
            raise DataError(f"{name}: {len(dataset)} items are fewer than one global batch of "
                            f"{self.sampler.global_batch(world)}; lower train.batch_size or add data")

    def steps_per_epoch(self):
        return self.sampler.steps_per_epoch(self.world)

    def _jobs(self, epoch, start_step):
        batches = self.sampler.batches(epoch, self.rank, self.world)
        for step in range(start_step, len(batches)):
            yield batches[step], self.seed, epoch, step, self.rank

    def epoch(self, epoch, start_step=0):
        """Yield the batches of ``epoch`` from ``start_step`` on."""
        make = _Job(self.dataset)
        if self.num_workers <= 0:
            for job in self._jobs(epoch, start_step):
                yield self._count(make(job))
            return
        # fork: the workers only run numpy/soundfile code of the dataset (never MindSpore), and
        # start instantly; the parent's MindSpore threads are not used in the children.
        ctx = mp.get_context('fork')
        with ctx.Pool(self.num_workers) as pool:
            jobs = self._jobs(epoch, start_step)
            pending = []
            for job in jobs:
                pending.append(pool.apply_async(make, (job,)))
                if len(pending) >= self.num_workers * self.prefetch:
                    break
            while pending:
                batch = pending.pop(0).get()
                job = next(jobs, None)
                if job is not None:
                    pending.append(pool.apply_async(make, (job,)))
                yield self._count(batch)

    def _count(self, batch):
        self.seen += len(next(iter(v for k, v in batch.items() if not k.startswith('_'))))
        self.bad += int(batch.pop('_bad', 0))
        if self.seen >= 50 and self.bad > self.max_bad_fraction * self.seen:
            raise DataError(f"{self.name}: {self.bad} of {self.seen} items were unreadable "
                            f"(more than train.max_bad_fraction={self.max_bad_fraction}); "
                            "fix or remove the bad files (the warnings name them)")
        return batch
