"""Pretraining batches (src.wav2vec2.pretrain_set): fairseq's crop to the shortest item, items
too short left out, masks and negatives per batch, determinism, and the crop levels that bound
the number of graph shapes."""
import os
from types import SimpleNamespace

import numpy as np
import pytest

from src.audio.io import read_audio, write_audio
from src.data.sampler import BucketBatches, LengthGrid
from src.errors import ConfigError, DataError
from src.wav2vec2.frames import output_frames
from src.wav2vec2.pretrain_set import PretrainSet
from tests.helpers import raises_one_line

RATE = 16000
LENGTHS = (3000, 5000, 8000, 15000, 20000, 9000)


@pytest.fixture(scope='module')
def items(tmp_path_factory):
    folder = tmp_path_factory.mktemp('pretrain')
    rng = np.random.default_rng(0)
    out = []
    for i, n in enumerate(LENGTHS):
        path = os.path.join(folder, f'utt{i}.wav')
        write_audio(path, 0.3 * rng.standard_normal(n) + 0.05, RATE)
        out.append((path, n))
    return out


def make_set(items, **kw):
    args = dict(min_sample_size=4000, max_sample_size=12000, mask_length=3, num_negatives=10)
    args.update(kw)
    return PretrainSet(items, RATE, **args)


def offset_of(crop, wave):
    """Where ``crop`` sits in ``wave`` (None if it is not a contiguous piece of it)."""
    for start in range(len(wave) - len(crop) + 1):
        if np.array_equal(wave[start:start + len(crop)], crop):
            return start
    return None


def test_short_items_left_out_and_lengths_capped(items):
    train_set = make_set(items)
    assert len(train_set) == 5 and train_set.skipped == 1
    assert list(train_set.lengths) == [5000, 8000, 12000, 12000, 9000]
    as_objects = make_set([SimpleNamespace(path=p, num_samples=n) for p, n in items])
    assert as_objects.paths == train_set.paths
    raises_one_line(DataError, lambda: make_set(items[:1]), 'min_sample_size 4000', 'the pretraining manifest')
    raises_one_line(ConfigError, lambda: make_set(items, min_sample_size=20000), 'max_sample_size')


def test_batch_crops_to_the_shortest_item_with_masks_and_negatives(items):
    train_set = make_set(items)
    batch = train_set.make_batch([1, 2, 4], np.random.default_rng(1))      # 8000, 15000, 9000
    audio, mask, negatives = batch['audio'], batch['mask_time'], batch['negatives']
    assert audio.dtype == np.float32 and audio.shape == (3, 8000)
    for row, index in zip(audio, [1, 2, 4]):
        assert offset_of(row, read_audio(train_set.paths[index], RATE)) is not None
    frames = output_frames(8000)
    assert mask.dtype == np.float32 and mask.shape == (3, frames)
    counts = mask.sum(1)
    assert (counts == counts[0]).all() and counts[0] >= 3
    assert negatives.dtype == np.int32 and negatives.shape == (3, frames, 10)
    flat = mask.reshape(-1).astype(bool)
    for b in range(3):
        for f in np.flatnonzero(mask[b]):
            assert flat[negatives[b, f]].all() and (negatives[b, f] // frames == b).all()
            assert (negatives[b, f] != b * frames + f).all()
    assert batch['_bad'] == 0
    # the longest crop is max_sample_size, at random offsets
    long = train_set.make_batch([2, 3], np.random.default_rng(2))
    assert long['audio'].shape == (2, 12000)
    starts = {offset_of(train_set.make_batch([2], np.random.default_rng(s))['audio'][0],
                        read_audio(train_set.paths[2], RATE)) for s in range(5)}
    assert len(starts) > 1


def test_batches_deterministic_per_generator(items):
    train_set = make_set(items)
    a = train_set.make_batch([1, 2, 3], np.random.default_rng(5))
    b = train_set.make_batch([1, 2, 3], np.random.default_rng(5))
    c = train_set.make_batch([1, 2, 3], np.random.default_rng(6))
    for key in ('audio', 'mask_time', 'negatives'):
        assert np.array_equal(a[key], b[key])
    assert not np.array_equal(a['mask_time'], c['mask_time'])


def test_normalize_before_the_crop(items):
    train_set = make_set(items, normalize=True)
    batch = train_set.make_batch([0], np.random.default_rng(7))            # 5000 samples: whole
    assert abs(batch['audio'].mean()) < 1e-4 and abs(batch['audio'].std() - 1) < 1e-3
    crop = make_set(items, normalize=True).make_batch([2, 0], np.random.default_rng(8))['audio'][0]
    wave = read_audio(train_set.paths[2], RATE)
    whole = (wave - wave.mean()) / np.sqrt(wave.var() + 1e-5)
    assert offset_of(crop, whole.astype(np.float32)) is not None


def test_crop_levels_bound_the_shapes(items):
    grid = LengthGrid([4000, 6000, 9000, 12000])
    train_set = make_set(items, crop_levels=grid)
    assert list(train_set.lengths) == [4000, 6000, 12000, 12000, 9000]
    assert train_set.make_batch([1, 4], np.random.default_rng(9))['audio'].shape == (2, 6000)
    sampler = BucketBatches(train_set.lengths, grid, max_tokens=24000, seed=3)
    shapes = set()
    for epoch in range(4):
        for indices, pad_length in sampler.batches(epoch):
            batch = train_set.make_batch(indices, np.random.default_rng(epoch), pad_length)
            assert batch['audio'].shape[1] in grid.levels and batch['audio'].shape[1] <= pad_length
            shapes.add(batch['audio'].shape)
    assert len(shapes) <= len(grid.levels)
    # without levels the crops follow the shortest item, one shape per length
    assert make_set(items).make_batch([1, 4], np.random.default_rng(9))['audio'].shape == (2, 8000)
    # the sampler's pad length caps the crop
    assert make_set(items).make_batch([2, 3], np.random.default_rng(9), 10000)['audio'].shape == (2, 10000)
    raises_one_line(ConfigError, lambda: make_set(items, crop_levels=[5000, 12000]),
                    'crop level 5000', 'min_sample_size 4000')


def test_unreadable_item_replaced(items, tmp_path):
    broken = os.path.join(tmp_path, 'broken.wav')
    with open(broken, 'wb') as f:
        f.write(b'not audio')
    train_set = make_set(items + [(broken, 10000)])
    batch = train_set.make_batch([len(train_set) - 1, 1], np.random.default_rng(10))
    assert batch['_bad'] == 1 and batch['audio'].shape[0] == 2
