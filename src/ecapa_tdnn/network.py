"""ECAPA-TDNN speaker embedding network, laid out as speechbrain's ``ECAPA_TDNN``.

The cells, their attribute names and their order follow speechbrain 1.1
(``speechbrain/lobes/models/ECAPA_TDNN.py``) so that a speechbrain checkpoint converts by renaming
(:mod:`src.ecapa_tdnn.convert`) and reproduces speechbrain's embeddings:

    blocks.0                 TDNN block: conv (kernel 5) -> ReLU -> BatchNorm
    blocks.1 .. blocks.N-2   SE-Res2Net blocks: tdnn1 (1x1) -> res2net_block -> tdnn2 (1x1)
                             -> se_block, plus the input (through ``shortcut`` if widths differ)
    mfa                      TDNN block over the concatenated outputs of the SE-Res2Net blocks
    asp                      attentive statistics pooling (with global context)
    asp_bn                   BatchNorm of the pooled [mean, std]
    fc                       1x1 convolution to the embedding

Every convolution pads "same" by reflection the way speechbrain does: ``dilation * (k - 1) // 2``
frames on each side. BatchNorm uses eps 1e-5 and PyTorch's momentum 0.1 (MindSpore's 0.9).
Relative lengths mask padded frames in the squeeze-excitation means and in the pooling, as
speechbrain's ``length_to_mask(lengths * L)``: frame ``t`` counts when ``t < lengths * L`` in
float32, no rounding. As in speechbrain, the convolutions still see the padded frames, so a padded
utterance's embedding differs a little from the one it gets alone (frames within the receptive
field of its end). ``pad_at_lengths=True`` makes them equal: every convolution then reflects at
the utterance's own last frame, which is what batched evaluation over a few padded lengths needs.

References: Desplanques et al., "ECAPA-TDNN: Emphasized Channel Attention, Propagation and
Aggregation in TDNN Based Speaker Verification", Interspeech 2020 (arXiv:2005.07143).
"""
import numpy as np

import mindspore as ms
from mindspore import nn, ops

from src.errors import ConfigError
from src.layers import BatchNorm1d, Conv1d

BN_EPS = 1e-5
BN_MOMENTUM = 0.9      # MindSpore convention: new = 0.9 * old + 0.1 * batch (PyTorch momentum 0.1)
POOLING_EPS = 1e-12    # variance floor of the attentive statistics


def ecapa_conv(in_channels, out_channels, kernel_size, dilation=1, groups=1):
    """A biased 1-D convolution with speechbrain's reflect "same" padding.

    speechbrain pads ``floor(dilation * (k - 1) / 2)`` frames by reflection on both sides, so the
    length is kept for odd spans (and shrinks by one for even spans, as there).

    Returns:
        :class:`src.layers.Conv1d` mapping (batch, in_channels, time) -> (batch, out_channels, time').
    """
    pad = dilation * (kernel_size - 1) // 2
    if pad == 0:
        return Conv1d(in_channels, out_channels, kernel_size, pad_mode='valid', dilation=dilation,
                      group=groups, has_bias=True)
    return Conv1d(in_channels, out_channels, kernel_size, pad_mode='pad', padding=pad,
                  dilation=dilation, group=groups, has_bias=True, padding_mode='reflect')


def batch_norm(channels):
    """BatchNorm over (batch, channels, time) with PyTorch's defaults (eps 1e-5, momentum 0.1)."""
    return BatchNorm1d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


def length_mask(lengths, x):
    """Frames of ``x`` inside each relative length, exactly as speechbrain's ``length_to_mask``.

    Args:
        lengths: (batch,) relative lengths in (0, 1].
        x: (batch, channels, time); only its time axis is used (it may be known only at run time).

    Returns:
        (batch, 1, time) float mask, 1 where ``t < lengths * time`` (float32 product, no rounding).
    """
    # Frame numbers 1..T from a cumulative sum: unlike arange, it needs no compile-time length.
    ones = ops.ones_like(ops.stop_gradient(x[:1, :1, :]))
    position = ops.cumsum(ones, 2)                                   # (1, 1, T): 1 .. T
    frames = position[:, :, -1:]                                     # T as a float, exact
    limit = ops.cast(lengths, x.dtype).reshape(-1, 1, 1) * frames    # (N, 1, 1)
    return ops.cast(position - 1 < limit, x.dtype)


def exact_relative_lengths(frames, total):
    """Relative lengths that mark exactly ``frames`` of ``total`` frames as valid.

    speechbrain's ``frames / total`` can mark one frame more: the mask is ``t < lengths * total``
    in float32, and 15 / 50 * 50 is 15.000001 there. Half a frame less is exact for any length.

    Args:
        frames: (batch,) valid frames per utterance (numpy), each in [1, total].
        total: the padded length.

    Returns:
        float32 numpy (batch,).
    """
    return ((np.asarray(frames, np.float64) - 0.5) / total).astype(np.float32)


def reflect_at_lengths(x, frames, pad):
    """``x`` extended by ``pad`` frames, with each utterance mirrored about its own last frame.

    A convolution with reflect padding of ``pad`` then gives, on every valid frame, what it gives
    on the utterance alone: frame ``L + j`` holds ``x[L - 2 - j]`` (``L`` = ``frames``) where
    reflect padding of ``x[:, :, :L]`` puts it. Frames beyond are filler.

    Args:
        x: (batch, channels, time).
        frames: (batch, 1, 1) float, the valid frames of each utterance (whole numbers >= 1).
        pad: the convolution's padding on each side (a Python int < time).

    Returns:
        (batch, channels, time + pad).
    """
    ones = ops.ones_like(ops.stop_gradient(x[:1, :1, :]))                 # (1, 1, T)
    position = ops.cumsum(ops.concat((ones, ones[:, :, :pad]), 2), 2) - 1  # (1, 1, T + pad): 0 ..
    last = frames - 1                                                      # (N, 1, 1)
    mirrored = ops.maximum(2 * last - position, 0)
    index = ops.cast(ops.select(position <= last, ops.broadcast_to(position, mirrored.shape), mirrored),
                     ms.int32)                                             # (N, 1, T + pad)
    return ops.gather(x, index.reshape(index.shape[0], -1), 2, batch_dims=1)


def sum_over_time(x, weights=None):
    """Sum of ``x`` over its last axis, optionally weighted per frame, as a matrix product.

    MindSpore 2.10's CPU ReduceSum over the last axis of a 3-D tensor is about 10x slower than
    a product with a column (16 ms against 1.5 ms for (8, 3072, 200)).

    Args:
        x: (batch, channels, time).
        weights: optional (batch, time, 1) or (time, 1) frame weights; None: all 1.

    Returns:
        (batch, channels, 1).
    """
    if weights is None:
        weights = ops.ones_like(ops.stop_gradient(x[0, :1, :])).reshape(-1, 1)    # (T, 1)
    return ops.matmul(x, weights)


def uniform_frame_weights(x):
    """(time, 1) column of 1 / time for the frames of ``x`` (batch, channels, time)."""
    ones = ops.ones_like(ops.stop_gradient(x[0, :1, :])).reshape(-1, 1)
    return ones / ones.sum()


class TdnnBlock(nn.Cell):
    """Convolution -> ReLU -> BatchNorm (speechbrain ``TDNNBlock``, no dropout).

    Args:
        in_channels, out_channels, kernel_size, dilation, groups: of the convolution.
    """

    def __init__(self, in_channels, out_channels, kernel_size, dilation=1, groups=1):
        super().__init__()
        self.conv = ecapa_conv(in_channels, out_channels, kernel_size, dilation, groups)
        self.norm = batch_norm(out_channels)
        self.pad = dilation * (kernel_size - 1) // 2

    def construct(self, x, frames=None):
        """(batch, in_channels, time), optional (batch, 1, 1) valid frames (reflect at each
        utterance's end, :func:`reflect_at_lengths`) -> (batch, out_channels, time)."""
        if frames is None or self.pad == 0:
            return self.norm(ops.relu(self.conv(x)))
        y = self.conv(reflect_at_lengths(x, frames, self.pad))
        return self.norm(ops.relu(y[:, :, :x.shape[2]]))


class Res2NetBlock(nn.Cell):
    """Hierarchical residual convolutions over ``scale`` channel groups (speechbrain ``Res2NetBlock``).

    The channels are cut into ``scale`` equal groups; group 0 passes through, group 1 goes
    through ``blocks[0]``, and group i > 1 through ``blocks[i-1]`` after adding the output of
    group i-1. Each block sees ``channels / scale`` channels.
    """

    def __init__(self, channels, scale=8, kernel_size=3, dilation=1):
        super().__init__()
        if channels % scale:
            raise ConfigError(f"ECAPA-TDNN: channels ({channels}) must be divisible by "
                              f"res2net_scale ({scale})")
        self.width = channels // scale
        self.blocks = nn.CellList([TdnnBlock(self.width, self.width, kernel_size, dilation)
                                   for _ in range(scale - 1)])

    def construct(self, x, frames=None):
        """(batch, channels, time), optional (batch, 1, 1) valid frames -> (batch, channels, time)."""
        if not self.blocks:                       # scale 1: speechbrain returns the input
            return x
        # slices, not ops.split: that fails to compile when the time axis is dynamic
        width = self.width
        y = self.blocks[0](x[:, width:2 * width], frames)
        outputs = [x[:, :width], y]
        for i in range(1, len(self.blocks)):
            y = self.blocks[i](x[:, (i + 1) * width:(i + 2) * width] + y, frames)
            outputs.append(y)
        return ops.concat(outputs, 1)


class SEBlock(nn.Cell):
    """Squeeze-and-excitation: channel gates from the (masked) time average (speechbrain ``SEBlock``)."""

    def __init__(self, in_channels, se_channels, out_channels):
        super().__init__()
        self.conv1 = ecapa_conv(in_channels, se_channels, 1)
        self.conv2 = ecapa_conv(se_channels, out_channels, 1)

    def construct(self, x, lengths=None):
        """(batch, channels, time), optional (batch,) relative lengths -> (batch, channels, time)."""
        if lengths is None:
            s = sum_over_time(x, uniform_frame_weights(x))
        else:
            mask = length_mask(lengths, x)                              # (N, 1, T)
            s = sum_over_time(x, ops.transpose(mask, (0, 2, 1))) / mask.sum(2, keepdims=True)
        s = ops.sigmoid(self.conv2(ops.relu(self.conv1(s))))           # (N, C, 1)
        return s * x


class SERes2NetBlock(nn.Cell):
    """TDNN (1x1) -> Res2Net -> TDNN (1x1) -> SE, plus a residual (speechbrain ``SERes2NetBlock``)."""

    def __init__(self, in_channels, out_channels, res2net_scale=8, se_channels=128, kernel_size=1,
                 dilation=1, groups=1):
        super().__init__()
        self.tdnn1 = TdnnBlock(in_channels, out_channels, 1, 1, groups)
        self.res2net_block = Res2NetBlock(out_channels, res2net_scale, kernel_size, dilation)
        self.tdnn2 = TdnnBlock(out_channels, out_channels, 1, 1, groups)
        self.se_block = SEBlock(out_channels, se_channels, out_channels)
        self.has_shortcut = in_channels != out_channels
        if self.has_shortcut:
            self.shortcut = ecapa_conv(in_channels, out_channels, 1)

    def construct(self, x, lengths=None, frames=None):
        """(batch, in_channels, time), optional (batch,) relative lengths and (batch, 1, 1) valid
        frames -> (batch, out_channels, time)."""
        residual = self.shortcut(x) if self.has_shortcut else x
        x = self.tdnn2(self.res2net_block(self.tdnn1(x), frames))
        return self.se_block(x, lengths) + residual


def weighted_statistics(x, weights, eps=POOLING_EPS):
    """Mean and standard deviation over time under per-channel weights.

    Args:
        x: (batch, channels, time).
        weights: (batch, channels, time), summing to 1 over time.
        eps: floor of the variance (keeps the square root differentiable).

    Returns:
        mean, std: (batch, channels, 1) each.
    """
    mean = sum_over_time(weights * x)
    var = sum_over_time(weights * ops.square(x - mean))
    return mean, ops.sqrt(ops.clamp(var, min=eps))


def frame_weighted_statistics(x, weights, eps=POOLING_EPS):
    """:func:`weighted_statistics` for weights shared by all channels.

    Args:
        x: (batch, channels, time).
        weights: (batch, time, 1) or (time, 1), summing to 1 over time.
        eps: floor of the variance.

    Returns:
        mean, std: (batch, channels, 1) each.
    """
    mean = sum_over_time(x, weights)
    var = sum_over_time(ops.square(x - mean), weights)
    return mean, ops.sqrt(ops.clamp(var, min=eps))


class AttentiveStatisticsPooling(nn.Cell):
    """Channel-wise attentive mean and std over time (speechbrain ``AttentiveStatisticsPooling``).

    With ``global_context`` the attention also sees the (masked) mean and std of the whole
    utterance, repeated over time. Padded frames get no attention weight.

    The attention's first 1x1 convolution (``tdnn.conv``, weight (A, 3C, 1, 1)) is not run on
    speechbrain's concatenation [x; mean; std] of (batch, 3C, time): the mean and std columns
    are the same at every frame, so their part of the product is computed once per utterance:
    ``W_x x + (W_mean mean + W_std std + b)``. Same result and parameters, a third of the
    multiply-adds and no 3C-channel copy: with C = 3072 the pooling's forward and backward took
    0.4 s instead of 0.6 s (batch 8 x 200 frames, 2 CPU threads).
    """

    def __init__(self, channels, attention_channels=128, global_context=True):
        super().__init__()
        self.eps = POOLING_EPS
        self.channels = channels
        self.global_context = global_context
        self.tdnn = TdnnBlock(channels * 3 if global_context else channels, attention_channels, 1, 1)
        self.conv = ecapa_conv(attention_channels, channels, 1)
        self.split_weight = ops.Split(1, 3)

    def _context_attention(self, x, mean, std):
        """``tdnn`` on [x; mean; std] (mean and std repeated over time) -> (batch, A, time)."""
        weight = self.tdnn.conv.weight                                   # (A, 3C, 1, 1)
        # columns [x | mean | std]; split, not indexing: strided slices of it cost 15 ms on CPU
        w_x, w_mean, w_std = self.split_weight(weight.reshape(weight.shape[0], -1))
        context = (ops.matmul(w_mean, mean) + ops.matmul(w_std, std)
                   + self.tdnn.conv.bias.reshape(-1, 1))                  # (N, A, 1)
        hidden = ops.matmul(w_x, x) + context                            # (N, A, T)
        return self.tdnn.norm(ops.relu(hidden))

    def construct(self, x, lengths=None):
        """(batch, channels, time), optional (batch,) relative lengths -> (batch, 2 * channels, 1)."""
        if self.global_context:
            if lengths is None:     # speechbrain: an all-ones mask, i.e. weights 1 / T
                frame_weights = uniform_frame_weights(x)                 # (T, 1)
            else:
                mask = ops.transpose(length_mask(lengths, x), (0, 2, 1))   # (N, T, 1)
                frame_weights = mask / mask.sum(1, keepdims=True)
            mean, std = frame_weighted_statistics(x, frame_weights, self.eps)
            attn = self._context_attention(x, mean, std)
        else:
            attn = self.tdnn(x)
        attn = self.conv(ops.tanh(attn))                                 # (N, C, T)
        if lengths is not None:
            attn = ops.masked_fill(attn, length_mask(lengths, x) == 0, float('-inf'))
        attn = ops.softmax(attn, 2)
        mean, std = weighted_statistics(x, attn, self.eps)
        return ops.concat((mean, std), 1)                                # (N, 2C, 1)


class EcapaTdnn(nn.Cell):
    """ECAPA-TDNN speaker embedding network (speechbrain ``ECAPA_TDNN``).

    Args:
        input_size: features per frame (e.g. 80 filterbanks).
        channels: output channels of blocks.0, of each SE-Res2Net block, and of ``mfa`` (last).
        kernel_sizes, dilations, groups: per entry of ``channels``.
        attention_channels: hidden channels of the attentive pooling.
        res2net_scale: channel groups of the Res2Net blocks.
        se_channels: bottleneck of the squeeze-excitation.
        global_context: let the pooling attention see utterance mean and std.
        lin_neurons: embedding size.

    Inputs:
        x: (batch, time, input_size) features.
        lengths: optional (batch,) relative lengths in (0, 1]; None = every frame counts.
        pad_at_lengths: (needs ``lengths``) convolutions reflect at each utterance's own end, so
            that a padded utterance gets the embedding it gets alone; pass lengths from
            :func:`exact_relative_lengths`. False: speechbrain's batches (padding seen).

    Returns:
        (batch, 1, lin_neurons) embeddings.
    """

    def __init__(self, input_size=80, channels=(1024, 1024, 1024, 1024, 3072),
                 kernel_sizes=(5, 3, 3, 3, 1), dilations=(1, 2, 3, 4, 1), attention_channels=128,
                 res2net_scale=8, se_channels=128, global_context=True, groups=(1, 1, 1, 1, 1),
                 lin_neurons=192):
        super().__init__()
        channels, kernel_sizes, dilations, groups = (list(v) for v in (channels, kernel_sizes,
                                                                       dilations, groups))
        lists = {'kernel_sizes': kernel_sizes, 'dilations': dilations, 'groups': groups}
        for name, values in lists.items():
            if len(values) != len(channels):
                raise ConfigError(f"ECAPA-TDNN: {name} has {len(values)} entries, channels has "
                                  f"{len(channels)}; give one per layer")
        if len(channels) < 3:
            raise ConfigError(f"ECAPA-TDNN: channels needs at least 3 entries (first TDNN, one "
                              f"SE-Res2Net block, mfa), got {channels}")
        self.channels = channels
        blocks = [TdnnBlock(input_size, channels[0], kernel_sizes[0], dilations[0], groups[0])]
        for i in range(1, len(channels) - 1):
            blocks.append(SERes2NetBlock(channels[i - 1], channels[i], res2net_scale, se_channels,
                                         kernel_sizes[i], dilations[i], groups[i]))
        self.blocks = nn.CellList(blocks)
        self.mfa = TdnnBlock(channels[-2] * (len(channels) - 2), channels[-1], kernel_sizes[-1],
                             dilations[-1], groups[-1])
        self.asp = AttentiveStatisticsPooling(channels[-1], attention_channels, global_context)
        self.asp_bn = batch_norm(channels[-1] * 2)
        self.fc = ecapa_conv(channels[-1] * 2, lin_neurons, 1)

    def construct(self, x, lengths=None, pad_at_lengths=False):
        """(batch, time, input_size), optional (batch,) relative lengths -> (batch, 1, lin_neurons)."""
        x = ops.transpose(x, (0, 2, 1))                                 # (N, F, T)
        frames = None
        if pad_at_lengths:
            frames = length_mask(lengths, x).sum(2, keepdims=True)      # (N, 1, 1)
        x = self.blocks[0](x, frames)
        outputs = []
        for i in range(1, len(self.blocks)):
            x = self.blocks[i](x, lengths, frames)
            outputs.append(x)
        x = self.mfa(ops.concat(outputs, 1), frames)                    # (N, C_last, T)
        x = self.asp_bn(self.asp(x, lengths))                           # (N, 2 C_last, 1)
        x = self.fc(x)                                                  # (N, lin_neurons, 1)
        return ops.transpose(x, (0, 2, 1))

