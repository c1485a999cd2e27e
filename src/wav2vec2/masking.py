"""wav2vec 2.0's masks and contrastive negatives, drawn in the data pipeline (numpy).

* :func:`compute_mask_indices`: fairseq's span masking of frames (``data_utils.compute_mask_indices``):
  each row masks ``int(mask_prob * length / mask_length + u)`` spans (``u`` uniform in [0, 1),
  probabilistic rounding; at least ``min_masks``) whose starts are drawn without replacement;
  spans may overlap, so fewer than ``mask_prob`` of the frames end up masked.
* :func:`channel_mask`: the same spans over hidden channels, one mask per utterance for all of
  its frames (fairseq's ``mask_channel_*``, SpecAugment's frequency masks, fine-tuning).
* :func:`sample_negatives`: for every masked frame, distractors drawn uniformly (with
  replacement) from the other masked frames of the same utterance (fairseq ``sample_negatives``),
  as flat indices into the batch's ``B * F`` frames (transformers' ``_sample_negative_indices``).
* :class:`Masker`: the time and channel masks of a fine-tuning batch, from the config.

Everything is drawn from the ``rng`` argument (a ``numpy.random.Generator``, or a seed for one),
so a batch's masks are a pure function of its generator's state.

References: Baevski et al. 2020, wav2vec 2.0 (section 3.1, masking; 3.2, the contrastive task);
fairseq ``fairseq/data/data_utils.py`` and ``fairseq/models/wav2vec/wav2vec2.py``.
"""
import numpy as np

from ..errors import ConfigError, DataError

MASK_TYPES = ('static', 'uniform', 'normal', 'poisson')


def compute_mask_indices(shape, mask_prob, mask_length, rng, lengths=None, min_masks=0,
                         require_same_masks=True, mask_other=0, mask_type='static',
                         no_overlap=False, mask_dropout=0.0, min_space=0):
    """Random spans to mask, per row of a (batch, frames) grid (fairseq's semantics).

    Args:
        shape: ``(B, F)``.
        mask_prob: chance of each frame to start a span; times ``length / mask_length`` gives the
            number of spans, so about ``mask_prob`` of the frames would be masked without overlaps.
        mask_length: span length (``'static'``), or the parameter of ``mask_type``.
        rng: ``numpy.random.Generator`` (or a seed).
        lengths: (B,) valid frames per row (the rest is padding and never masked); None = F.
        min_masks: at least this many spans per row.
        require_same_masks: trim every row, at random, to the smallest row's count of masked
            frames (so masked frames reshape to (B, M, ...)).
        mask_other: second parameter of the span length distribution (``'uniform'``: lowest
            length; ``'normal'``: standard deviation).
        mask_type: span lengths: 'static' (= mask_length), 'uniform' (in [mask_other,
            2 * mask_length]), 'normal' (mean mask_length, at least 1), 'poisson'.
        no_overlap: place spans so that they do not overlap (fairseq's recursive arrangement,
            ``min_space`` unmasked frames between spans).
        mask_dropout: unmask this fraction of each row's masked frames at random.
        min_space: see ``no_overlap``.

    Returns:
        bool (B, F), True = masked.

    Raises:
        ConfigError: an unknown ``mask_type``.
        DataError: a row that would be masked entirely (too short for these settings).
    """
    if mask_type not in MASK_TYPES:
        raise ConfigError(f"mask type {mask_type!r} is not one of {', '.join(MASK_TYPES)}")
    rng = np.random.default_rng(rng)
    batch, frames = (int(v) for v in shape)
    sizes = np.full(batch, frames) if lengths is None else np.asarray(lengths, np.int64)
    rows = [_row_mask_indices(int(size), mask_prob, mask_length, rng, min_masks, mask_other,
                              mask_type, no_overlap, min_space) for size in sizes]
    target = min(len(r) for r in rows) if (require_same_masks and rows) else None
    mask = np.zeros((batch, frames), bool)
    for i, row in enumerate(rows):
        if target is not None and len(row) > target:
            row = rng.choice(row, target, replace=False)
        mask[i, row] = True
        if mask_dropout > 0:
            masked = np.flatnonzero(mask[i])
            holes = int(np.rint(len(masked) * mask_dropout))
            mask[i, rng.choice(masked, holes, replace=False)] = False
    return mask


def _row_mask_indices(size, mask_prob, mask_length, rng, min_masks, mask_other, mask_type,
                      no_overlap, min_space):
    """Sorted unique masked positions of one row of ``size`` valid frames."""
    # probabilistic rounding: the expected number of spans is exactly mask_prob * size / length
    num_spans = max(int(min_masks), int(mask_prob * size / float(mask_length) + rng.random()))
    if mask_type == 'static':
        spans = np.full(num_spans, int(mask_length))
    elif mask_type == 'uniform':
        spans = rng.integers(mask_other, mask_length * 2 + 1, size=num_spans)
    elif mask_type == 'normal':
        spans = np.maximum(1, np.rint(rng.normal(mask_length, mask_other, size=num_spans))).astype(int)
    else:
        spans = np.rint(rng.poisson(mask_length, size=num_spans)).astype(int)
    if num_spans and spans.sum() == 0:
        spans = np.asarray([min(int(mask_length), size - 1)])
    if num_spans == 0 or size <= 0:
        return np.zeros(0, np.int64)
    if no_overlap:
        positions = _non_overlapping_spans(size, spans, min_space, rng)
    else:
        shortest = int(spans.min())
        if size - shortest <= num_spans:
            # too short for spans of this length: allow starts close to the end (cut there)
            shortest = size - num_spans - 1
        starts = rng.choice(size - shortest, num_spans, replace=False)
        positions = (starts[:, None] + np.arange(spans.max())[None, :])
        positions = positions[np.arange(spans.max())[None, :] < spans[:, None]]
    positions = np.unique(positions[(positions >= 0) & (positions < size)])
    if len(positions) >= size:
        raise DataError(f"an utterance of {size} frames would be masked entirely ({num_spans} "
                        f"spans of {mask_length}): drop shorter utterances (min_sample_size) or "
                        "lower the mask probability / min_masks")
    return positions


def _non_overlapping_spans(size, spans, min_space, rng):
    """fairseq's ``no_overlap`` placement: longest span first, each into a free part drawn with
    probability proportional to its length, which it splits in two."""
    parts, positions, keep = [(0, size)], [], int(min(spans))
    for length in sorted((int(v) for v in spans), reverse=True):
        room = np.asarray([e - s if e - s >= length + min_space else 0 for s, e in parts], float)
        if room.sum() == 0:
            break
        s, e = parts.pop(int(rng.choice(len(parts), p=room / room.sum())))
        start = int(rng.integers(s, e - length))
        positions.extend(range(start, start + length))
        if start - s - min_space >= keep:
            parts.append((s, start - min_space + 1))
        if e - start - length - min_space > keep:
            parts.append((start + length + min_space, e))
    return np.asarray(positions, np.int64)


def channel_mask(batch, channels, mask_prob, mask_length, rng, min_masks=0):
    """Masked hidden channels per utterance, the same for all its frames (fairseq's
    ``mask_channel_prob`` / ``mask_channel_length``, static spans, same count per row).

    Returns:
        bool (batch, channels), True = channel set to zero.
    """
    return compute_mask_indices((batch, channels), mask_prob, mask_length, rng,
                                min_masks=min_masks)


def sample_negatives(mask, num_negatives, rng):
    """Distractor frames for the contrastive task.

    For each masked frame of utterance ``b``, ``num_negatives`` frames drawn uniformly, with
    replacement, from the OTHER masked frames of ``b`` (never the frame itself).

    Args:
        mask: bool (B, F) time mask.
        num_negatives: N.
        rng: ``numpy.random.Generator`` (or a seed).

    Returns:
        int32 (B, F, N): flat indices into the ``B * F`` frames (utterance ``b``'s are offset by
        ``b * F``); rows of unmasked frames hold ``b * F`` (valid, ignored by the loss).

    Raises:
        DataError: an utterance with exactly one masked frame (it has no other to contrast with).
    """
    rng = np.random.default_rng(rng)
    mask = np.asarray(mask, bool)
    batch, frames = mask.shape
    out = np.repeat((np.arange(batch) * frames)[:, None, None], frames, 1)
    out = np.repeat(out, num_negatives, 2)
    for b in range(batch):
        masked = np.flatnonzero(mask[b])
        count = len(masked)
        if count == 0:
            continue
        if count == 1:
            raise DataError(f"utterance {b} of the batch has a single masked frame; contrastive "
                            "negatives need at least 2: raise the mask probability or min_masks")
        # draw among the count - 1 others: skip over the frame's own position
        draws = rng.integers(0, count - 1, size=(count, num_negatives))
        draws += draws >= np.arange(count)[:, None]
        out[b, masked] = masked[draws] + b * frames
    return out.astype(np.int32)


class Masker:
    """The time and channel masks of fine-tuning batches (fairseq ``mask_prob`` / ``mask_length``
    / ``mask_channel_prob`` / ``mask_channel_length``; the time masks keep fairseq's
    ``min_masks=2`` by default and the same count per row).

    Args:
        time_prob, time_length, time_min_masks: time (frame) masking; ``time_prob`` 0 = none.
        channel_prob, channel_length, channel_min_masks: channel masking; 0 = none.

    ``masker(frames, num_frames, channels, rng)`` -> ``(mask_time (B, num_frames) float32,
    mask_channel (B, channels) float32)``, 1 = masked; ``frames`` (B,) the valid frames per row
    (padding is never masked).
    """

    def __init__(self, time_prob=0.0, time_length=10, time_min_masks=2, channel_prob=0.0,
                 channel_length=10, channel_min_masks=0):
        for name, prob in (('time_prob', time_prob), ('channel_prob', channel_prob)):
            if not 0.0 <= prob < 1.0:
                raise ConfigError(f"mask {name} must be in [0, 1), got {prob}")
        for name, length in (('time_length', time_length), ('channel_length', channel_length)):
            if int(length) < 1:
                raise ConfigError(f"mask {name} must be a positive number of frames, got {length}")
        self.time_prob, self.time_length, self.time_min_masks = time_prob, int(time_length), time_min_masks
        self.channel_prob, self.channel_length = channel_prob, int(channel_length)
        self.channel_min_masks = channel_min_masks

    def __call__(self, frames, num_frames, channels, rng):
        rng = np.random.default_rng(rng)
        frames = np.asarray(frames, np.int64)
        batch = len(frames)
        mask_time = np.zeros((batch, num_frames), np.float32)
        mask_channel = np.zeros((batch, channels), np.float32)
        if self.time_prob > 0:
            mask_time[:] = compute_mask_indices((batch, num_frames), self.time_prob, self.time_length,
                                                rng, lengths=frames, min_masks=self.time_min_masks)
        if self.channel_prob > 0:
            mask_channel[:] = channel_mask(batch, channels, self.channel_prob, self.channel_length,
                                           rng, min_masks=self.channel_min_masks)
        return mask_time, mask_channel
