"""CTC logits of long recordings in overlapping chunks, stitched on the network's frame grid.

As transformers' ASR pipeline does (``chunk_length_s``, ``stride_length_s``), a long waveform
is cut into chunks that overlap by a left and a right stride; each chunk is run alone, the
frames of its strides are dropped and the rest are concatenated, so memory is bounded by the
chunk length. Here every chunk starts on a multiple of the feature encoder's hop (320 samples
for wav2vec 2.0), so the frames of a chunk *are* frames of the whole recording's grid: the
stitched logits have exactly the frames one-shot inference has, and each frame is computed with
at least a stride of context on both sides.
"""
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from .frames import output_frames


@dataclass(frozen=True)
class Chunk:
    """Samples ``[start, stop)`` of the recording; its frames ``[keep_from, keep_to)`` (indices
    of the whole recording's frames) go into the stitched logits."""
    start: int
    stop: int
    keep_from: int
    keep_to: int


def plan_chunks(num_samples, chunk_samples, stride_samples, kernels, strides):
    """The chunks of a recording of ``num_samples`` samples.

    Args:
        chunk_samples: samples per chunk, rounded down to a multiple of the hop.
        stride_samples: (left, right) context of each chunk that is computed but not kept,
            rounded up to multiples of the hop; the right one must cover the receptive field
            beyond the hop.
        kernels, strides: the convolutional feature encoder's.

    Returns:
        list of :class:`Chunk`; one chunk (the whole recording) when it fits in one.
    """
    hop = int(np.prod(strides))
    total = int(output_frames(num_samples, kernels, strides))
    chunk = chunk_samples // hop * hop
    left, right = (-(-int(s) // hop) * hop for s in stride_samples)
    step = chunk - left - right
    reach = int(output_frames(chunk, kernels, strides))
    if step <= 0 or (chunk - right) // hop > reach:
        raise ConfigError(f"chunks of {chunk_samples} samples with strides {tuple(stride_samples)}: "
                          f"a chunk must be longer than its two strides, and the right stride at least "
                          f"the receptive field minus the hop ({hop}); lengthen the chunk or the stride")
    plan, start = [], 0
    while True:
        # the last chunk: it reaches the end, or the next one would keep no frame
        last = start + chunk >= num_samples or (start + left + step) // hop >= total
        keep_from = 0 if start == 0 else (start + left) // hop
        keep_to = total if last else (start + left + step) // hop
        plan.append(Chunk(start, min(start + chunk, num_samples), keep_from, keep_to))
        if last:
            return plan
        start += step


def chunked_logits(run, audio, chunk_samples, stride_samples, kernels, strides):
    """Logits (frames, vocab) of ``audio`` (1-D float32) from ``run`` ((1, T) array -> (1, F, V)
    logits), chunk by chunk (:func:`plan_chunks`)."""
    parts = []
    for chunk in plan_chunks(len(audio), chunk_samples, stride_samples, kernels, strides):
        logits = np.asarray(run(audio[None, chunk.start:chunk.stop]))[0]
        first = chunk.start // int(np.prod(strides))
        parts.append(logits[chunk.keep_from - first:chunk.keep_to - first])
    return np.concatenate(parts, axis=0)
