"""The pretraining batches of wav2vec 2.0: unlabelled audio cropped to a common length, with
the time masks and the contrastive negatives (fairseq's ``audio_pretraining`` task).

fairseq (``RawAudioDataset``) drops the files shorter than ``min_sample_size`` and crops every
item of a batch, at a random offset, to the batch's shortest item (at most ``max_sample_size``):
no padding, so the convolutional encoder sees only real audio. The masks (``mask_prob`` 0.65,
spans of 10 frames, at least 2, the same count in every row) and the negatives (100 other masked
frames per masked frame) are drawn here, in the data pipeline, from the batch's generator
(:mod:`src.wav2vec2.masking`).

Graph shapes. Cropping to the shortest item gives every batch a new length, and graph mode
compiles a graph per input shape. With ``crop_levels`` (a :class:`~src.data.sampler.LengthGrid`)
every crop is rounded down to a level of the grid, so a run compiles at most one graph per level
(and batch size); each crop loses at most a factor ``ratio`` of a geometric grid on top of
fairseq's. Use the same grid for the sampler, on :attr:`PretrainSet.lengths` (the lengths after
that rounding)::

    grid = LengthGrid.geometric(min_sample_size, max_sample_size, 1.1)
    train_set = PretrainSet(items, 16000, crop_levels=grid)
    sampler = BucketBatches(train_set.lengths, grid, max_tokens=1_400_000)

Each item then sits at its own level, a batch's pad length is the crop of its items (those
carried up from a fuller level below are cropped to their own level, still a level of the grid),
and ``max_tokens`` counts the samples the step really has. Without ``crop_levels`` the crops are
fairseq's exactly (PyNative, or a test).
"""
import logging
from types import SimpleNamespace

import numpy as np

from src.data.items import UnreadableItems
from src.data.sampler import LengthGrid
from src.errors import ConfigError, DataError

from .dataset import check_format, read_utterance
from .frames import KERNELS, STRIDES, output_frames
from .masking import compute_mask_indices, sample_negatives

log = logging.getLogger(__name__)


class PretrainSet:
    """Crops of unlabelled utterances with their masks and negatives: wav2vec 2.0 pretraining.

    Batches (``make_batch(indices, rng, pad_length=None)``, ``F = output_frames(T)``):

    * ``audio`` float32 (B, T): a random crop of each item, ``T`` the shortest item's length
      capped at ``max_sample_size`` (and at ``pad_length``), rounded down to ``crop_levels``;
    * ``mask_time`` float32 (B, F): 1 = masked, the same count in every row;
    * ``negatives`` int32 (B, F, N): per masked frame, N other masked frames of the same item,
      flat indices into the batch's ``B * F`` frames (:func:`~src.wav2vec2.masking.sample_negatives`);
    * ``_bad``: unreadable files replaced in this batch (:mod:`src.data.items`).

    Args:
        items: ``(path, num_samples)`` pairs, or objects with ``path`` and ``num_samples``
            (the manifest's items).
        sample_rate: Hz every file must have.
        min_sample_size: shorter items are left out (:attr:`skipped`).
        max_sample_size: the longest crop.
        mask_prob, mask_length, min_masks: the time masks (fairseq's names).
        num_negatives: N.
        normalize: zero mean and unit variance per utterance (before the crop, as fairseq).
        kernels, strides: the feature encoder's convolutions (for F).
        crop_levels: a :class:`~src.data.sampler.LengthGrid` (or increasing sample counts) the
            crops are rounded down to; its first level at most ``min_sample_size``. None: crops
            of any length (one graph per length in graph mode).
        source: the manifest, named in messages.

    Attributes:
        lengths: int64 (n,) samples each item gives a batch at most (capped at
            ``max_sample_size``, rounded down to ``crop_levels``): the sampler's lengths.
        skipped: how many items were shorter than ``min_sample_size``.

    Raises:
        ConfigError: bounds or mask settings out of range.
        DataError: no item as long as ``min_sample_size``; the first file at another rate or
            not mono.
    """

    def __init__(self, items, sample_rate, min_sample_size=32000, max_sample_size=250000,
                 mask_prob=0.65, mask_length=10, min_masks=2, num_negatives=100, normalize=False,
                 kernels=KERNELS, strides=STRIDES, crop_levels=None, source='the pretraining manifest'):
        if not 0 < min_sample_size <= max_sample_size:
            raise ConfigError(f"pretraining crops need 0 < min_sample_size <= max_sample_size, got "
                              f"{min_sample_size} and {max_sample_size}")
        if not 0.0 <= mask_prob < 1.0 or int(mask_length) < 1 or int(num_negatives) < 1:
            raise ConfigError(f"pretraining masks need mask_prob in [0, 1), mask_length >= 1 and "
                              f"num_negatives >= 1, got {mask_prob}, {mask_length}, {num_negatives}")
        if crop_levels is not None and not isinstance(crop_levels, LengthGrid):
            crop_levels = LengthGrid(crop_levels)
        if crop_levels is not None and crop_levels.levels[0] > min_sample_size:
            raise ConfigError(f"the shortest crop level {crop_levels.levels[0]} is above "
                              f"min_sample_size {min_sample_size}: the shorter items would have "
                              "no level; start the levels at min_sample_size")
        self.sample_rate, self.normalize, self.source = int(sample_rate), bool(normalize), str(source)
        self.min_sample_size, self.max_sample_size = int(min_sample_size), int(max_sample_size)
        self.mask_prob, self.mask_length, self.min_masks = mask_prob, int(mask_length), int(min_masks)
        self.num_negatives = int(num_negatives)
        self.kernels, self.strides, self.crop_levels = tuple(kernels), tuple(strides), crop_levels
        pairs = [_path_and_length(item) for item in items]
        kept = [(path, n) for path, n in pairs if n >= self.min_sample_size]
        self.skipped = len(pairs) - len(kept)
        if self.skipped:
            log.warning('left out %d of the %d utterances of %s: shorter than min_sample_size %d '
                        'samples', self.skipped, len(pairs), source, self.min_sample_size)
        if not kept:
            raise DataError(f"no utterance of {source} is as long as min_sample_size "
                            f"{self.min_sample_size} samples ({len(pairs)} listed): lower "
                            "min_sample_size or check the manifest")
        self.paths = [path for path, _ in kept]
        self.lengths = self._crop_length(np.array([n for _, n in kept], np.int64))
        check_format(SimpleNamespace(path=kept[0][0]), self.sample_rate, source)
        self.unreadable = UnreadableItems(source, noun='pretraining utterances')

    def __len__(self):
        return len(self.paths)

    def _crop_length(self, lengths, pad_length=None):
        """Crop length(s) of items of ``lengths`` samples: capped, then rounded down to the levels."""
        crop = np.minimum(lengths, self.max_sample_size if pad_length is None
                          else min(self.max_sample_size, int(pad_length)))
        return crop if self.crop_levels is None else self.crop_levels.floor(crop)

    def get(self, index):
        """The whole (normalized) audio of item ``index``, or None when unreadable."""
        path = self.paths[index]
        return self.unreadable.read(path, lambda: read_utterance(path, self.sample_rate,
                                                                 self.normalize))

    def make_batch(self, indices, rng, pad_length=None):
        """The pretraining batch of ``indices``; see the class docstring for its arrays.

        Args:
            indices: item indices.
            rng: ``np.random.Generator`` (replacements, crop offsets, masks, negatives).
            pad_length: the sampler's length for this batch (bucketed samplers): the crop is
                at most this long.
        """
        waves, _, bad = self.unreadable.gather(self.get, indices, len(self), rng)
        shortest = min(len(wave) for wave in waves)
        length = int(self._crop_length(shortest, pad_length))
        if length < 1 or (self.crop_levels is not None and length < self.crop_levels.levels[0]):
            raise DataError(f"an utterance of {self.source} has {shortest} samples, fewer than its "
                            f"manifest gives (at least min_sample_size {self.min_sample_size}); "
                            "re-run preprocess.py")
        audio = np.empty((len(waves), length), np.float32)
        for row, wave in enumerate(waves):
            start = int(rng.integers(0, len(wave) - length + 1))
            audio[row] = wave[start:start + length]
        frames = output_frames(length, self.kernels, self.strides)
        mask = compute_mask_indices((len(waves), frames), self.mask_prob, self.mask_length, rng,
                                    min_masks=self.min_masks, require_same_masks=True)
        negatives = sample_negatives(mask, self.num_negatives, rng)
        return {'audio': audio, 'mask_time': mask.astype(np.float32), 'negatives': negatives,
                '_bad': bad}


def _path_and_length(item):
    if hasattr(item, 'path') and hasattr(item, 'num_samples'):
        return item.path, int(item.num_samples)
    path, num_samples = item
    return path, int(num_samples)
