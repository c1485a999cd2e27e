"""Deterministic, resumable, sharded batch loading with worker processes.

Every batch is a pure function of ``(seed, epoch, step)``: the epoch's permutation comes from
``(seed, epoch)`` and each batch's random numbers (crop positions, augmentation) from
``(seed, epoch, step, rank)``. So the data order does not depend on the number of workers, and a
resumed run starting at ``(epoch, step)`` sees exactly the batches the uninterrupted run would
have seen. With data parallelism, rank ``r`` of ``world`` takes the ``r``-th slice of each global
batch of ``batch_size * world`` items.

A dataset is any object with ``__len__`` and ``make_batch(indices, rng) -> dict`` of numpy
arrays; it may report unreadable items it replaced under the key ``'_bad'`` (an int).
"""
import multiprocessing as mp

import numpy as np

from ..errors import DataError


def epoch_permutation(n, seed, epoch, shuffle=True):
    if not shuffle:
        return np.arange(n)
    return np.random.default_rng([seed, epoch, 0x5EED]).permutation(n)


def batch_rng(seed, epoch, step, rank):
    return np.random.default_rng([seed, epoch, step, rank, 0xBA7C])


class _Job:
    """Picklable batch maker for worker processes."""

    def __init__(self, dataset):
        self.dataset = dataset

    def __call__(self, job):
        indices, seed, epoch, step, rank = job
        return self.dataset.make_batch(indices, batch_rng(seed, epoch, step, rank))


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
    """

    def __init__(self, dataset, batch_size, seed=0, shuffle=True, num_workers=0, prefetch=4,
                 rank=0, world=1, max_bad_fraction=0.01, name='training data'):
        self.dataset, self.batch_size, self.seed, self.shuffle = dataset, batch_size, seed, shuffle
        self.num_workers, self.prefetch = num_workers, max(1, prefetch)
        self.rank, self.world = rank, world
        self.max_bad_fraction, self.name = max_bad_fraction, name
        self.seen = self.bad = 0
        if self.steps_per_epoch() == 0:
            raise DataError(f"{name}: {len(dataset)} items are fewer than one global batch of "
                            f"{batch_size * world}; lower train.batch_size or add data")

    def steps_per_epoch(self):
        return len(self.dataset) // (self.batch_size * self.world)

    def _jobs(self, epoch, start_step):
        order = epoch_permutation(len(self.dataset), self.seed, epoch, self.shuffle)
        global_batch = self.batch_size * self.world
        for step in range(start_step, self.steps_per_epoch()):
            lo = step * global_batch + self.rank * self.batch_size
            yield order[lo:lo + self.batch_size], self.seed, epoch, step, self.rank

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
