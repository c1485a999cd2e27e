"""Lengths through wav2vec 2.0's convolutional feature encoder.

Each layer is an unpadded 1-D convolution, so ``L`` samples give ``floor((L - k) / s) + 1``
frames per layer (kernel ``k``, stride ``s``), and none at all once an input is shorter than the
kernel. BASE and LARGE: kernels (10, 3, 3, 3, 3, 2, 2), strides (5, 2, 2, 2, 2, 2, 2): one frame
per 320 samples (20 ms at 16 kHz), the first after 400 samples (25 ms).
"""
import numpy as np

KERNELS = (10, 3, 3, 3, 3, 2, 2)
STRIDES = (5, 2, 2, 2, 2, 2, 2)


def output_frames(num_samples, kernels=KERNELS, strides=STRIDES):
    """Frames the feature encoder makes of ``num_samples`` samples.

    Args:
        num_samples: an int, or a numpy array of ints (one length per utterance).
        kernels, strides: the encoder's convolutions, first layer first.

    Returns:
        an int for an int input, else an int64 array of the input's shape; 0 (never negative)
        where an input is shorter than :func:`receptive_field`.
    """
    length = np.asarray(num_samples, dtype=np.int64)
    for kernel, stride in zip(kernels, strides):
        length = (length - kernel) // stride + 1
    # a too-short input goes negative at some layer and stays negative after it
    length = np.maximum(length, 0)
    return int(length) if length.ndim == 0 else length


def receptive_field(kernels=KERNELS, strides=STRIDES):
    """Samples one output frame sees: the shortest input that gives a frame (400 for BASE)."""
    field, hop = 1, 1
    for kernel, stride in zip(kernels, strides):
        field += (kernel - 1) * hop
        hop *= stride
    return field


def frame_hop(strides=STRIDES):
    """Samples between consecutive output frames (320 for BASE)."""
    return int(np.prod(strides))
