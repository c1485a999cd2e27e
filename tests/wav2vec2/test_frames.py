"""Lengths through the conv feature encoder: BASE's 20 ms frames, the 400-sample receptive field,
zero frames (never negative) for short inputs, int and array inputs alike."""
import numpy as np

from src.wav2vec2.frames import frame_hop, output_frames, receptive_field


def _layer_by_layer(length, kernels, strides):
    for kernel, stride in zip(kernels, strides):
        length = (length - kernel) // stride + 1 if length >= kernel else 0
    return length


def test_base_one_second_is_49_frames_of_a_400_sample_field():
    assert output_frames(16000) == 49
    assert isinstance(output_frames(16000), int)
    assert receptive_field() == 400
    assert frame_hop() == 320


def test_short_inputs_give_zero_frames_and_the_field_gives_one():
    assert output_frames(399) == 0
    assert output_frames(400) == 1
    assert output_frames(0) == 0
    # one more frame every 320 samples: 400 + 320 is the first input with two
    assert output_frames(719) == 1 and output_frames(720) == 2


def test_arrays_match_the_layer_by_layer_formula():
    lengths = np.arange(0, 3000)
    frames = output_frames(lengths)
    assert frames.shape == lengths.shape and frames.dtype == np.int64
    expected = [_layer_by_layer(int(n), (10, 3, 3, 3, 3, 2, 2), (5, 2, 2, 2, 2, 2, 2)) for n in lengths]
    np.testing.assert_array_equal(frames, expected)


def test_other_encoders():
    # one conv of kernel 4 stride 2, then kernel 3 stride 3
    kernels, strides = (4, 3), (2, 3)
    assert receptive_field(kernels, strides) == 4 + 2 * 2
    for n in range(0, 50):
        assert output_frames(n, kernels, strides) == _layer_by_layer(n, kernels, strides)
    assert output_frames(receptive_field(kernels, strides) - 1, kernels, strides) == 0
