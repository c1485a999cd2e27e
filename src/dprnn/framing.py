"""Framing and overlap-add along the time axis, by reshapes, slices and concatenation.

DPRNN cuts its feature sequence into overlapping chunks and adds them back (asteroid uses
``torch.nn.functional.unfold`` / ``fold``); its encoder and decoder are a strided convolution and
its transpose, i.e. framing + matrix product and matrix product + overlap-add. Here both are
written for channels-last tensors (batch, time, channels) without ``ops.unfold``/``ops.fold``
(MindSpore marks ``fold`` deprecated) and without gathers:

* the (zero-padded) signal is cut into blocks of ``hop`` samples, ``reshape(batch, blocks, hop, C)``;
* a frame of ``size = whole * hop + rest`` samples starting at block j is blocks j .. j+whole-1
  followed by the first ``rest`` samples of block j+whole: ``whole`` (+1) shifted slices of the
  block axis, concatenated;
* overlap-add is the adjoint: each of those slices of the frames, shifted by its block offset
  with zero blocks, summed: a plain sum, no normalisation, as ``fold``.

With hop = size / 2 (DPRNN's default chunking, and its 16/8 encoder) that is two slices. Every
slice bound is static or counted from the end of the axis, and the frame count is arithmetic
on the run-time length, so the graph has no control flow on shapes and the exported model takes
any input length.
"""
from mindspore import ops

from src.layers.padding import zeros_along


def _split(size, hop):
    """(whole hops in a frame, samples left over, blocks a frame touches)."""
    whole, rest = divmod(size, hop)
    return whole, rest, whole + (1 if rest else 0)


def frame_count(length, size, hop, pad=0):
    """Frames of :func:`frames`: ``(length + 2 pad - size) // hop + 1`` (``torch`` unfold's)."""
    return (length + 2 * pad - size) // hop + 1


def _pad_time(x, before, after):
    """Zeros before and after axis 1 of a (batch, time, channels) tensor (static counts)."""
    parts = []
    if before:
        parts.append(zeros_along(x, -2, before))
    parts.append(x)
    if after:
        parts.append(zeros_along(x, -2, after))
    return ops.concat(parts, 1) if len(parts) > 1 else x


def frames(x, size, hop, pad=0):
    """Overlapping frames of a (batch, time, channels) tensor.

    Frame j is ``padded[:, j * hop : j * hop + size]`` where ``padded`` is ``x`` with ``pad``
    zeros before and after the time axis; there are :func:`frame_count` frames, the last ones
    cut where the padded signal ends (as ``torch.nn.functional.unfold`` with ``padding=pad``).

    Args:
        x: (batch, time, channels).
        size, hop, pad: frame length, frame step and zero padding on each side (ints).

    Returns:
        (batch, frames, size, channels).
    """
    whole, rest, touched = _split(size, hop)
    count = frame_count(x.shape[1], size, hop, pad)
    # blocks needed: count + touched - 1; pad enough on the right for every remainder of the
    # length modulo hop, then cut to exactly that many blocks
    x = _pad_time(x, pad, max(pad + touched * hop - size, 0))
    x = x[:, :(count + touched - 1) * hop]
    blocks = x.reshape(x.shape[0], -1, hop, x.shape[2])                 # (B, blocks, hop, C)
    parts = []
    for i in range(whole):
        from_end = touched - 1 - i
        parts.append(blocks[:, i:-from_end] if from_end else blocks[:, i:])
    if rest:
        parts.append(blocks[:, whole:, :rest])
    return ops.concat(parts, 2) if len(parts) > 1 else parts[0]


def overlap_add(y, hop, start, length):
    """Sum of frames placed ``hop`` apart, then samples ``start .. start + length - 1``.

    The adjoint of :func:`frames` with ``pad = start`` (``torch.nn.functional.fold``): frame j
    is added at position ``j * hop`` of a zero signal; positions no frame reaches stay zero, up
    to one hop past the end of the last frame (``start + length`` may not reach further: the
    decoder's right padding to the input length is always shorter than that).

    Args:
        y: (batch, frames, size, channels).
        hop: frame step.
        start: samples dropped at the front (the padding of :func:`frames`).
        length: samples kept (may be a run-time size).

    Returns:
        (batch, length, channels).
    """
    whole, rest, touched = _split(y.shape[2], hop)    # the frame length is static in graphs too
    parts = []
    for i in range(touched):
        if i < whole:
            part = y[:, :, i * hop:(i + 1) * hop]
        else:   # the last rest samples, zero-filled to a whole block
            part = y[:, :, whole * hop:]
            part = ops.concat((part, zeros_along(part, -2, hop - rest)), 2)
        part = part.reshape(y.shape[0], y.shape[1], -1)                  # (B, frames, hop*C)
        # shifted by i blocks; one zero block more at the end than needed, so that the sum
        # always reaches start + length (the decoder asks for up to hop - 1 samples past the
        # last frame, asteroid's pad_x_to_y)
        tail = zeros_along(part, -2, touched - i)
        # (no list.insert here: in graphs it runs in the Python interpreter, and so would every
        # operation that uses its result)
        if i:
            parts.append(ops.concat((zeros_along(part, -2, i), part, tail), 1))
        else:
            parts.append(ops.concat((part, tail), 1))
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    signal = total.reshape(y.shape[0], -1, y.shape[3])                 # (B, blocks*hop, C)
    return signal[:, start:start + length]
