"""Masks and negatives of wav2vec 2.0 (src.wav2vec2.masking): statistics of fairseq's span
masking, rows of one count, lengths, determinism, and the negatives' layout and rules."""
import numpy as np

from src.errors import ConfigError, DataError
from src.wav2vec2.masking import Masker, channel_mask, compute_mask_indices, sample_negatives
from tests.helpers import raises_one_line


def test_overlapping_spans_mask_one_minus_exp_of_the_probability():
    # n = p * F / L spans of L frames at random starts cover about 1 - exp(-p) of the frames
    mask = compute_mask_indices((32, 1000), 0.65, 10, np.random.default_rng(0),
                                require_same_masks=False)
    assert mask.dtype == bool and mask.shape == (32, 1000)
    assert abs(mask.mean() - (1 - np.exp(-0.65))) < 0.02


def test_non_overlapping_spans_mask_the_probability():
    mask = compute_mask_indices((16, 1000), 0.3, 10, np.random.default_rng(1),
                                require_same_masks=False, no_overlap=True)
    assert abs(mask.mean() - 0.3) < 0.02
    # every run of masked frames is a whole number of spans, and none is cut short
    for row in mask:
        edges = np.flatnonzero(np.diff(np.concatenate([[0], row.astype(int), [0]])))
        runs = edges[1::2] - edges[::2]
        assert (runs % 10 == 0).all()


def test_number_of_spans_rounds_probabilistically():
    # p * F / L = 2.3 spans: 2 or 3 (30 % of rows), never overlapping here, so 20 or 30 frames
    counts = compute_mask_indices((400, 100), 0.23, 10, np.random.default_rng(2),
                                  require_same_masks=False, no_overlap=True).sum(1)
    assert set(np.unique(counts)) == {20, 30}
    assert abs((counts == 30).mean() - 0.3) < 0.07


def test_same_count_per_row_and_lengths_respected():
    lengths = np.array([300, 120, 250, 200])
    mask = compute_mask_indices((4, 300), 0.65, 10, np.random.default_rng(3), lengths=lengths,
                                min_masks=2)
    counts = mask.sum(1)
    assert (counts == counts[0]).all() and counts[0] > 0
    for row, length in zip(mask, lengths):
        assert not row[length:].any()
    # without require_same_masks, the longer rows keep more
    free = compute_mask_indices((4, 300), 0.65, 10, np.random.default_rng(3), lengths=lengths,
                                min_masks=2, require_same_masks=False)
    assert free.sum(1)[0] > free.sum(1)[1]
    assert (mask <= free).all()                 # trimming only unmasks (same draws up to there)


def test_min_masks():
    mask = compute_mask_indices((50, 200), 0.0, 10, np.random.default_rng(4), min_masks=2,
                                require_same_masks=False)
    counts = mask.sum(1)
    assert (counts >= 10).all() and (counts <= 20).all() and (counts == 20).mean() > 0.5
    assert not compute_mask_indices((3, 200), 0.0, 10, np.random.default_rng(4)).any()


def test_mask_dropout_unmasks_that_fraction():
    rng = np.random.default_rng(5)
    full = compute_mask_indices((8, 400), 0.65, 10, np.random.default_rng(5))
    dropped = compute_mask_indices((8, 400), 0.65, 10, rng, mask_dropout=0.25)
    assert (dropped.sum(1) == np.rint(full.sum(1) * 0.75)).all()


def test_span_length_distributions():
    for mask_type, other in (('uniform', 2), ('normal', 3), ('poisson', 0)):
        mask = compute_mask_indices((16, 1000), 0.3, 10, np.random.default_rng(6),
                                    mask_type=mask_type, mask_other=other)
        assert 0.1 < mask.mean() < 0.35, mask_type
    raises_one_line(ConfigError, lambda: compute_mask_indices((1, 10), 0.5, 2, 0, mask_type='gauss'),
                    'gauss', 'static')


def test_deterministic_per_seed():
    def draw(seed):
        return compute_mask_indices((4, 250), 0.65, 10, np.random.default_rng(seed), min_masks=2)
    assert (draw(7) == draw(7)).all()
    assert (draw(7) != draw(8)).any()
    assert (compute_mask_indices((4, 250), 0.65, 10, 7) == draw(7)).all()      # a seed works too
    mask = draw(7)
    a = sample_negatives(mask, 20, np.random.default_rng(9))
    assert (a == sample_negatives(mask, 20, np.random.default_rng(9))).all()
    assert (a != sample_negatives(mask, 20, np.random.default_rng(10))).any()


def test_too_short_utterance_is_a_one_line_error():
    raises_one_line(DataError, lambda: compute_mask_indices((2, 30), 0.65, 10, 0,
                                                            lengths=[30, 8], min_masks=2),
                    '8 frames', 'min_masks')


def test_negatives_are_other_masked_frames_of_the_same_utterance():
    batch, frames, num = 3, 120, 50
    mask = compute_mask_indices((batch, frames), 0.65, 10, np.random.default_rng(11), min_masks=2)
    negatives = sample_negatives(mask, num, np.random.default_rng(12))
    assert negatives.dtype == np.int32 and negatives.shape == (batch, frames, num)
    assert negatives.min() >= 0 and negatives.max() < batch * frames
    flat_mask = mask.reshape(-1)
    for b in range(batch):
        assert (negatives[b] // frames == b).all()                  # flat layout: offset b * F
        masked = np.flatnonzero(mask[b])
        for f in masked:
            row = negatives[b, f]
            assert flat_mask[row].all()                             # masked frames only
            assert (row != b * frames + f).all()                    # never the positive
        # uniform over the others: with 50 draws per frame, every other masked frame is drawn
        drawn = np.unique(negatives[b, masked] - b * frames)
        assert (drawn == masked).all()


def test_negatives_uniform_and_with_replacement():
    mask = np.zeros((1, 10), bool)
    mask[0, [2, 5, 7]] = True
    negatives = sample_negatives(mask, 4000, np.random.default_rng(13))
    for f, others in ((2, [5, 7]), (5, [2, 7]), (7, [2, 5])):
        values, counts = np.unique(negatives[0, f], return_counts=True)
        assert list(values) == others
        assert abs(counts[0] / 4000 - 0.5) < 0.03
    assert (negatives[0, [0, 1, 3]] == 0).all()                     # unmasked rows: valid index


def test_negatives_need_two_masked_frames():
    mask = np.zeros((2, 10), bool)
    mask[0, :4] = True
    mask[1, 3] = True
    raises_one_line(DataError, lambda: sample_negatives(mask, 5, 0), 'utterance 1', 'at least 2')
    mask[1] = False                                                 # none masked: nothing to draw
    assert (sample_negatives(mask, 5, 0)[1] == 10).all()


def test_channel_mask_same_count_per_utterance():
    mask = channel_mask(8, 768, 0.25, 64, np.random.default_rng(14))
    assert mask.shape == (8, 768) and mask.dtype == bool
    assert (mask.sum(1) == mask.sum(1)[0]).all() and mask.sum(1)[0] > 0
    assert not channel_mask(8, 768, 0.0, 64, 0).any()
    assert (channel_mask(2, 768, 0.0, 64, 0, min_masks=1).sum(1) == 64).all()


def test_masker_time_and_channel_masks_of_a_padded_batch():
    masker = Masker(time_prob=0.5, time_length=10, time_min_masks=2, channel_prob=0.25,
                    channel_length=16)
    frames = np.array([200, 150, 90])
    mask_time, mask_channel = masker(frames, 210, 64, np.random.default_rng(15))
    assert mask_time.dtype == np.float32 and mask_time.shape == (3, 210)
    assert mask_channel.dtype == np.float32 and mask_channel.shape == (3, 64)
    assert set(np.unique(mask_time)) == {0.0, 1.0} and set(np.unique(mask_channel)) == {0.0, 1.0}
    for row, length in zip(mask_time, frames):
        assert not row[length:].any()
    assert (mask_time.sum(1) == mask_time.sum(1)[0]).all()
    again = masker(frames, 210, 64, np.random.default_rng(15))
    assert (again[0] == mask_time).all() and (again[1] == mask_channel).all()
    off_time, off_channel = Masker()(frames, 210, 64, 0)
    assert not off_time.any() and not off_channel.any()
    raises_one_line(ConfigError, lambda: Masker(time_prob=1.5), 'time_prob', '[0, 1)')
    raises_one_line(ConfigError, lambda: Masker(channel_length=0), 'channel_length')
