"""Normalisations: a BatchNorm over (batch, channels, time) that compiles quickly when the time
axis is dynamic, a fast per-channel GroupNorm, a LayerNorm with PyTorch's names.

BatchNorm1d: ``mindspore.nn.BatchNorm1d`` reshapes its input to 4-D with sizes read from the
input's shape (``reshape(x, (N, C, L, 1))``). In a graph whose batch or time size is known
only at run time, those shape computations pile up along a chain of layers: eight convolution +
BatchNorm pairs took 6 s to compile and one ECAPA-TDNN SE-Res2Net block 30 s (MindSpore 2.10,
CPU), the whole network did not finish in 10 minutes. This subclass adds and removes the unit axis
with ``expand_dims``/``squeeze``, which need no sizes. Same constructor, parameters, names and
results as the MindSpore cell.
"""
import mindspore as ms
from mindspore import Parameter, nn, ops
from mindspore.common.initializer import initializer


class BatchNorm1d(nn.BatchNorm1d):
    """``mindspore.nn.BatchNorm1d`` for 3-D inputs (batch, channels, length), dynamic-shape friendly.

    Note MindSpore's ``momentum`` convention: ``moving = momentum * moving + (1 - momentum) *
    batch``, so PyTorch's default 0.1 is 0.9 here. The moving variance is updated with the
    unbiased batch variance, as PyTorch does.
    """

    def construct(self, x):
        """(batch, channels, length) -> same shape, normalised per channel."""
        x = x.expand_dims(3)
        if self.use_batch_statistics is None:
            use_batch = self.training
        else:
            use_batch = self.use_batch_statistics
        if use_batch:
            y = self.bn_train(x, self.gamma, self.beta, self.moving_mean, self.moving_variance)[0]
        else:
            y = self.bn_infer(x, self.gamma, self.beta, self.moving_mean, self.moving_variance)[0]
        return y.squeeze(3)


class ChannelGroupNorm(nn.Cell):
    """``torch.nn.GroupNorm(C, C)`` on (N, C, L): every channel of every sample normalised over the
    last axis (biased variance, ``eps`` inside the square root), then scaled and shifted per
    channel (parameters ``weight``, ``bias``: (C,)). Computed in float32, returned in the input's
    dtype.

    The statistics are reduced over a 2-D (N*C, L) view: MindSpore 2.10's CPU ReduceSum over the
    last axis of the 3-D tensor took 20x as long (41 ms against 2 ms on (2, 512, 12799), the first
    layer of wav2vec 2.0's feature encoder), and its fused LayerNorm kernel's backward as long as
    the whole of this one's forward and backward.
    """

    def __init__(self, channels, eps=1e-5):
        super().__init__()
        self.eps = float(eps)
        self.weight = Parameter(initializer('ones', (channels,), ms.float32), name='weight')
        self.bias = Parameter(initializer('zeros', (channels,), ms.float32), name='bias')

    def construct(self, x):
        n, c, length = x.shape
        rows = x.astype(ms.float32).reshape(n * c, length)                  # (N*C, L)
        inv_length = 1.0 / length
        centred = rows - rows.sum(-1, keepdims=True) * inv_length
        var = (centred * centred).sum(-1, keepdims=True) * inv_length      # (N*C, 1)
        scale = self.weight.reshape(1, c, 1) / ops.sqrt(var.reshape(n, c, 1) + self.eps)
        shift = ops.broadcast_to(self.bias.reshape(1, c, 1), (n, c, 1))
        y = centred * scale.reshape(n * c, 1) + shift.reshape(n * c, 1)
        return y.reshape(n, c, length).astype(x.dtype)


class LayerNorm(nn.Cell):
    """LayerNorm over the last axis with PyTorch's parameter names (``weight``, ``bias``: (C,)),
    biased variance, ``eps`` inside the square root; computed in float32, returned in the input's
    dtype.

    In training the statistics are reduced over a 2-D (rows, C) view with MindSpore's elementwise
    and ReduceSum operators, whose automatic gradient is faster than the fused LayerNormGrad
    kernel (eight LayerNorms on (2, 199, 768), forward + backward: 47 ms against 26 ms); in eval
    mode the fused kernel (its forward is faster: 10 ms against 13 ms).
    """

    def __init__(self, channels, eps=1e-5):
        super().__init__()
        self.eps = float(eps)
        self.weight = Parameter(initializer('ones', (channels,), ms.float32), name='weight')
        self.bias = Parameter(initializer('zeros', (channels,), ms.float32), name='bias')
        self.norm = ops.LayerNorm(begin_norm_axis=-1, begin_params_axis=-1, epsilon=self.eps)

    def construct(self, x):
        x32 = x.astype(ms.float32)
        if not self.training:
            return self.norm(x32, self.weight, self.bias)[0].astype(x.dtype)
        channels = x.shape[-1]
        rows = x32.reshape(-1, channels)                                    # (rows, C)
        inv_channels = 1.0 / channels
        centred = rows - rows.sum(-1, keepdims=True) * inv_channels
        var = (centred * centred).sum(-1, keepdims=True) * inv_channels
        y = centred * ops.rsqrt(var + self.eps) * self.weight + self.bias
        return y.reshape(x.shape).astype(x.dtype)
