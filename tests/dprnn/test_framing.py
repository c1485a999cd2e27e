"""Framing and overlap-add against a loop-by-loop numpy model of torch's unfold / fold, their
adjointness, their gradients, and run-time lengths in graph mode."""
import numpy as np
import pytest

import mindspore as ms
from mindspore import nn

from src.dprnn.framing import frame_count, frames, overlap_add

# (length, frame size, hop, zero padding on each side): DPRNN's chunking (hop = size / 2, pad =
# size), its 16/8 and 2/1 encoders (no padding), hops that divide the size three and four times,
# a hop that does not divide it, a hop longer than the frame; odd and even lengths
CASES = [(37, 10, 5, 10), (38, 10, 5, 10), (40, 16, 8, 0), (41, 16, 8, 0), (20, 2, 1, 0),
         (33, 9, 3, 9), (35, 12, 3, 12), (33, 10, 3, 10), (29, 10, 4, 0), (30, 4, 6, 4), (16, 16, 8, 0)]


def unfold_reference(x, size, hop, pad):
    """torch.nn.functional.unfold(kernel (size, 1), padding (pad, 0), stride (hop, 1)) on
    (B, T, C), by a loop: (B, frames, size, C)."""
    padded = np.pad(x, ((0, 0), (pad, pad), (0, 0)))
    count = (padded.shape[1] - size) // hop + 1
    return np.stack([padded[:, j * hop:j * hop + size] for j in range(count)], axis=1)


def fold_reference(y, hop, start, length):
    """torch.nn.functional.fold's plain sum of frames ``hop`` apart, samples start..start+length."""
    batch, count, size, channels = y.shape
    signal = np.zeros((batch, max((count - 1) * hop + size, start + length), channels))
    for j in range(count):
        signal[:, j * hop:j * hop + size] += y[:, j]
    return signal[:, start:start + length]


@pytest.mark.parametrize('length,size,hop,pad', CASES)
def test_frames_and_overlap_add_equal_unfold_and_fold(length, size, hop, pad):
    rng = np.random.default_rng(length + size)
    x = rng.standard_normal((2, length, 3)).astype(np.float32)
    ours = frames(ms.Tensor(x), size, hop, pad).asnumpy()
    reference = unfold_reference(x, size, hop, pad)
    assert ours.shape == reference.shape
    assert ours.shape[1] == frame_count(length, size, hop, pad)
    np.testing.assert_array_equal(ours, reference)          # copies: exact
    y = rng.standard_normal(reference.shape).astype(np.float32)
    np.testing.assert_allclose(overlap_add(ms.Tensor(y), hop, pad, length).asnumpy(),
                               fold_reference(y, hop, pad, length), rtol=0, atol=1e-6)


def test_dprnn_chunk_count_and_padding_by_hand():
    # 7 frames, chunks of 4 every 2 with 4 zeros each side: (7 + 4) // 2 + 1 = 6 chunks starting
    # at padded positions 0, 2, ..., 10; the first is all padding, the second half of it
    x = np.arange(1, 8, dtype=np.float32).reshape(1, 7, 1)
    chunks = frames(ms.Tensor(x), 4, 2, 4).asnumpy()[0, :, :, 0]
    np.testing.assert_array_equal(chunks, [[0, 0, 0, 0], [0, 0, 1, 2], [1, 2, 3, 4], [3, 4, 5, 6],
                                           [5, 6, 7, 0], [7, 0, 0, 0]])
    # adding them back counts every frame twice (50 % overlap, no normalisation, as fold)
    np.testing.assert_array_equal(overlap_add(ms.Tensor(chunks[None, :, :, None]), 2, 4, 7)
                                  .asnumpy().ravel(), 2 * x.ravel())


def test_overlap_add_pads_with_zeros_past_the_last_frame():
    # a decoder of kernel 4, stride 3 over 3 frames covers 10 samples; asking for 12 gives two zeros
    y = np.ones((1, 3, 4, 1), np.float32)
    np.testing.assert_array_equal(overlap_add(ms.Tensor(y), 3, 0, 12).asnumpy().ravel(),
                                  [1, 1, 1, 2, 1, 1, 2, 1, 1, 1, 0, 0])


@pytest.mark.parametrize('length,size,hop,pad', [(37, 10, 5, 10), (33, 10, 3, 10), (30, 4, 6, 4)])
def test_overlap_add_is_the_adjoint_of_framing_and_its_gradient(length, size, hop, pad):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((1, length, 2)).astype(np.float32)
    y = rng.standard_normal((1, frame_count(length, size, hop, pad), size, 2)).astype(np.float32)
    framed = frames(ms.Tensor(x), size, hop, pad).asnumpy()
    added = overlap_add(ms.Tensor(y), hop, pad, length).asnumpy()
    assert np.isclose(np.sum(framed * y), np.sum(x * added), rtol=1e-5)

    def weighted_frames(signal):
        return (frames(signal, size, hop, pad) * ms.Tensor(y)).sum()
    np.testing.assert_allclose(ms.grad(weighted_frames)(ms.Tensor(x)).asnumpy(), added, atol=1e-5)


class _FrameThenAdd(nn.Cell):
    def construct(self, x):
        return overlap_add(frames(x, 10, 3, 10) * 2.0, 3, 10, x.shape[1])


def test_run_time_lengths_in_graph_mode():
    net = _FrameThenAdd()
    rng = np.random.default_rng(2)
    inputs = [rng.standard_normal((2, length, 3)).astype(np.float32) for length in (31, 40, 17)]
    expected = [2 * fold_reference(unfold_reference(x, 10, 3, 10), 3, 10, x.shape[1]) for x in inputs]
    ms.set_context(mode=ms.GRAPH_MODE)
    try:
        net.set_inputs(ms.Tensor(shape=[None, None, 3], dtype=ms.float32))
        for x, reference in zip(inputs, expected):
            np.testing.assert_allclose(net(ms.Tensor(x)).asnumpy(), reference, atol=1e-5)
    finally:
        ms.set_context(mode=ms.PYNATIVE_MODE)
