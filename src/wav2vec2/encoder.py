"""The parts of wav2vec 2.0's ``Wav2Vec2Model``: convolutional feature encoder, feature projection,
transformer with a convolutional positional embedding.

Cell and parameter names are those of Hugging Face transformers' ``modeling_wav2vec2`` (so a
transformers state dict loads one to one, see :mod:`.convert`), and so is the arithmetic: exact
(erf) GELU (:class:`src.layers.GELU`), LayerNorm eps ``layer_norm_eps``, GroupNorm eps 1e-5, PyTorch weight layouts.
Normalisations compute in float32 whatever the input dtype (mixed precision).

References: Baevski et al., "wav2vec 2.0: A framework for self-supervised learning of speech
representations", NeurIPS 2020; transformers ``models/wav2vec2/modeling_wav2vec2.py``; fairseq
``fairseq/models/wav2vec/wav2vec2.py``.
"""
import math

import mindspore as ms
from mindspore import nn, ops
from mindspore.common.initializer import HeNormal, Normal, Uniform, initializer

from src.layers import GELU, ChannelGroupNorm, LayerNorm, TorchLayoutConv1d, WeightNormConv1d

GROUP_NORM_EPS = 1e-5       # torch.nn.GroupNorm's default, what transformers uses
MASK_VALUE = -1e9           # additive attention mask of padded keys (exp() underflows to 0)


def dense(in_features, out_features, std=0.02, has_bias=True):
    """``nn.Dense`` with transformers' wav2vec2 init: weight N(0, std), bias 0."""
    return nn.Dense(in_features, out_features, weight_init=Normal(std), bias_init='zeros',
                    has_bias=has_bias)


class GradMultiply(nn.Cell):
    """fairseq's ``GradMultiply``: identity forward, gradient times ``scale`` (the feature
    encoder's ``feature_grad_mult``)."""

    def __init__(self, scale):
        super().__init__()
        self.scale = float(scale)

    def construct(self, x):
        return x * 1.0

    def bprop(self, x, out, dout):
        return (dout * self.scale,)


class ConvLayer(nn.Cell):
    """One feature encoder layer: conv (no padding) -> [norm] -> GELU. ``norm`` None, 'group'
    (GroupNorm with one group per channel, transformers' layer 0 of 'group') or 'layer'
    (LayerNorm over channels at every frame)."""

    def __init__(self, in_channels, out_channels, kernel, stride, bias, norm):
        super().__init__()
        self.conv = TorchLayoutConv1d(in_channels, out_channels, kernel, stride, pad_mode='valid',
                                      has_bias=bias, weight_init=HeNormal())
        self.norm = norm
        if norm == 'group':
            self.layer_norm = ChannelGroupNorm(out_channels, GROUP_NORM_EPS)
        elif norm == 'layer':
            self.layer_norm = LayerNorm(out_channels)
        self.activation = GELU()

    def construct(self, x):
        x = self.conv(x)                                                    # (N, C, T')
        if self.norm == 'group':
            x = self.layer_norm(x)
        elif self.norm == 'layer':
            x = self.layer_norm(x.transpose(0, 2, 1)).transpose(0, 2, 1)
        return self.activation(x)


class FeatureEncoder(nn.Cell):
    """Raw audio (N, T) -> conv features (N, conv_dim[-1], F)."""

    def __init__(self, conv_dim, conv_kernel, conv_stride, conv_bias, feat_extract_norm):
        super().__init__()
        if feat_extract_norm not in ('group', 'layer'):
            raise ValueError(f"feat_extract_norm must be 'group' or 'layer', got {feat_extract_norm!r}")
        if not len(conv_dim) == len(conv_kernel) == len(conv_stride):
            raise ValueError(f"conv_dim, conv_kernel and conv_stride must have the same length, got "
                             f"{len(conv_dim)}, {len(conv_kernel)}, {len(conv_stride)}")
        layers = []
        for i, (channels, kernel, stride) in enumerate(zip(conv_dim, conv_kernel, conv_stride)):
            norm = 'layer' if feat_extract_norm == 'layer' else ('group' if i == 0 else None)
            layers.append(ConvLayer(conv_dim[i - 1] if i else 1, channels, kernel, stride,
                                    conv_bias, norm))
        self.conv_layers = nn.CellList(layers)

    def construct(self, input_values):
        x = input_values.expand_dims(1)                                     # (N, 1, T)
        for layer in self.conv_layers:
            x = layer(x)
        return x


class FeatureProjection(nn.Cell):
    """LayerNorm -> Linear -> dropout; returns (projected, normalised) (the quantizer's input)."""

    def __init__(self, conv_channels, hidden_size, layer_norm_eps, dropout):
        super().__init__()
        self.layer_norm = LayerNorm(conv_channels, layer_norm_eps)
        bound = 1.0 / math.sqrt(conv_channels)
        self.projection = nn.Dense(conv_channels, hidden_size, weight_init=Uniform(bound),
                                   bias_init=Uniform(bound))
        self.dropout = nn.Dropout(p=dropout)

    def construct(self, x):
        normed = self.layer_norm(x)
        return self.dropout(self.projection(normed)), normed


class Attention(nn.Cell):
    """Multi-head self-attention with transformers' names (``q_proj``, ``k_proj``, ``v_proj``,
    ``out_proj``); ``key_bias`` (N, 1, 1, F) is added to the scores (0 or :data:`MASK_VALUE`)."""

    def __init__(self, hidden_size, num_heads, dropout):
        super().__init__()
        if hidden_size % num_heads:
            raise ValueError(f"hidden_size {hidden_size} is not a multiple of num_attention_heads "
                             f"{num_heads}")
        self.num_heads = num_heads
        self.head_dim = hidden_size // num_heads
        self.scaling = self.head_dim ** -0.5
        self.k_proj = dense(hidden_size, hidden_size)
        self.v_proj = dense(hidden_size, hidden_size)
        self.q_proj = dense(hidden_size, hidden_size)
        self.out_proj = dense(hidden_size, hidden_size)
        self.dropout = nn.Dropout(p=dropout)
        self.batch_matmul = ops.BatchMatMul()
        self.batch_matmul_tb = ops.BatchMatMul(transpose_b=True)

    def _heads(self, x, n, f):
        return x.reshape(n, f, self.num_heads, self.head_dim).transpose(0, 2, 1, 3)

    def construct(self, x, key_bias):
        n, f, h = x.shape
        q = self._heads(self.q_proj(x) * self.scaling, n, f)                # (N, heads, F, d)
        k = self._heads(self.k_proj(x), n, f)
        v = self._heads(self.v_proj(x), n, f)
        scores = self.batch_matmul_tb(q, k)                                 # (N, heads, F, F)
        if key_bias is not None:
            scores = scores + key_bias.astype(scores.dtype)
        weights = self.dropout(ops.softmax(scores, -1))
        out = self.batch_matmul(weights, v).transpose(0, 2, 1, 3).reshape(n, f, h)
        return self.out_proj(out)


class FeedForward(nn.Cell):
    """intermediate_dense -> GELU -> dropout -> output_dense -> dropout."""

    def __init__(self, hidden_size, intermediate_size, activation_dropout, hidden_dropout):
        super().__init__()
        self.intermediate_dropout = nn.Dropout(p=activation_dropout)
        self.intermediate_dense = dense(hidden_size, intermediate_size)
        self.intermediate_act_fn = GELU()
        self.output_dense = dense(intermediate_size, hidden_size)
        self.output_dropout = nn.Dropout(p=hidden_dropout)

    def construct(self, x):
        x = self.intermediate_dropout(self.intermediate_act_fn(self.intermediate_dense(x)))
        return self.output_dropout(self.output_dense(x))


class EncoderLayer(nn.Cell):
    """A transformer layer: post-LN (BASE, ``stable=False``) or pre-LN (LARGE, ``stable=True``)."""

    def __init__(self, hidden_size, num_heads, intermediate_size, hidden_dropout, attention_dropout,
                 activation_dropout, layer_norm_eps, stable):
        super().__init__()
        self.stable = stable
        self.attention = Attention(hidden_size, num_heads, attention_dropout)
        self.dropout = nn.Dropout(p=hidden_dropout)
        self.layer_norm = LayerNorm(hidden_size, layer_norm_eps)
        self.feed_forward = FeedForward(hidden_size, intermediate_size, activation_dropout,
                                        hidden_dropout)
        self.final_layer_norm = LayerNorm(hidden_size, layer_norm_eps)

    def construct(self, x, key_bias):
        if self.stable:
            x = x + self.dropout(self.attention(self.layer_norm(x), key_bias))
            return x + self.feed_forward(self.final_layer_norm(x))
        x = self.layer_norm(x + self.dropout(self.attention(x, key_bias)))
        return self.final_layer_norm(x + self.feed_forward(x))


class PositionalConvEmbedding(nn.Cell):
    """Grouped convolution over time with weight norm (dim 2), 'same' output length (pad K // 2 on
    both sides, the last frame dropped for even K), GELU. (N, F, H) -> (N, F, H)."""

    def __init__(self, hidden_size, kernel, groups):
        super().__init__()
        # fairseq's init (dropout 0): N(0, sqrt(4 / (K * C))), bias 0
        std = math.sqrt(4.0 / (kernel * hidden_size))
        self.conv = WeightNormConv1d(hidden_size, hidden_size, kernel, padding=kernel // 2,
                                     groups=groups, dim=2, weight_init=Normal(std))
        self.conv.bias.set_data(initializer('zeros', (hidden_size,), ms.float32))
        self.num_pad_remove = 1 if kernel % 2 == 0 else 0
        self.activation = GELU()

    def construct(self, x):
        y = self.conv(x.transpose(0, 2, 1))                                 # (N, H, F + 1 - K % 2)
        if self.num_pad_remove:
            y = y[:, :, :-self.num_pad_remove]
        return self.activation(y).transpose(0, 2, 1)


class Encoder(nn.Cell):
    """Positional embedding, LayerNorm (before the layers when post-LN, after them when
    ``do_stable_layer_norm``), the layers with LayerDrop in training.

    LayerDrop (fairseq, transformers): in training every layer is skipped with probability
    ``layerdrop``. A skipped layer is computed and its output discarded (a 0/1 select drawn in the
    graph): graph mode then needs no control flow, the gradient of a skipped layer is zero.
    """

    def __init__(self, hidden_size, num_hidden_layers, num_attention_heads, intermediate_size,
                 hidden_dropout, attention_dropout, activation_dropout, layerdrop, layer_norm_eps,
                 num_conv_pos_embeddings, num_conv_pos_embedding_groups, do_stable_layer_norm):
        super().__init__()
        self.stable = do_stable_layer_norm
        self.pos_conv_embed = PositionalConvEmbedding(hidden_size, num_conv_pos_embeddings,
                                                      num_conv_pos_embedding_groups)
        self.layer_norm = LayerNorm(hidden_size, layer_norm_eps)
        self.dropout = nn.Dropout(p=hidden_dropout)
        self.layers = nn.CellList([
            EncoderLayer(hidden_size, num_attention_heads, intermediate_size, hidden_dropout,
                         attention_dropout, activation_dropout, layer_norm_eps, do_stable_layer_norm)
            for _ in range(num_hidden_layers)])
        self.layerdrop = float(layerdrop)
        self.num_layers = num_hidden_layers
        self.uniform = ops.UniformReal()

    def construct(self, x, frame_mask):
        """x (N, F, H); frame_mask (N, F) float32 1 = real frame, or None (all real)."""
        key_bias = None
        if frame_mask is not None:
            x = x * frame_mask.expand_dims(-1).astype(x.dtype)
            key_bias = ((1.0 - frame_mask) * MASK_VALUE).reshape(frame_mask.shape[0], 1, 1, -1)
        x = x + self.pos_conv_embed(x)
        if not self.stable:
            x = self.layer_norm(x)
        x = self.dropout(x)
        drop_layers = self.training and self.layerdrop > 0
        keep = None
        if drop_layers:
            keep = (self.uniform((self.num_layers,)) >= self.layerdrop).astype(x.dtype)
        i = 0
        for layer in self.layers:
            y = layer(x, key_bias)
            if drop_layers:
                x = x + keep[i] * (y - x)
            else:
                x = y
            i += 1
        if self.stable:
            x = self.layer_norm(x)
        return x
