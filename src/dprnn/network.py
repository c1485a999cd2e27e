"""DPRNN-TasNet: asteroid 0.7.0's ``DPRNNTasNet`` (free filterbank encoder, DPRNN masker, decoder).

    wave (B, T)
      -> encoder: free filterbank, conv 1 -> n_filters, kernel_size, stride, no bias, no padding
      -> [encoder_activation]                                   (B, F, n_filters), F frames
      -> bottleneck: norm + 1x1 conv n_filters -> bn_chan (with bias)
      -> chunks of chunk_size (K) frames every hop_size, K zeros padded on both sides
                                                                (B, S, K, bn_chan)
      -> n_repeats x DPRNN block:
           intra-chunk RNN (always bidirectional, over K) -> Linear -> norm, + input
           inter-chunk RNN (bidirectional or not, over S)  -> Linear -> norm, + input
      -> PReLU -> 1x1 conv2d bn_chan -> n_src * bn_chan
      -> overlap-add of the chunks (a plain sum), the K padding frames dropped  (B, F, n_src, bn)
      -> tanh(1x1 conv) * sigmoid(1x1 conv) -> 1x1 conv bn_chan -> n_filters (no bias)
      -> mask activation: masks (B, F, n_src, n_filters), times the encoder output
      -> decoder: transposed conv (free filterbank, no bias), right-padded to T   (B, n_src, T)

Inside, tensors are channels-last, (batch, time, channels): the RNNs and Linear layers read the
last axis, so each DPRNN block needs two transposes where asteroid's (B, C, K, S) layout needs
six; the 1x1 convolutions are matrix products, the encoder and decoder framing + matrix product
and matrix product + overlap-add (:mod:`src.dprnn.framing`, im2col/col2im by reshapes). The
normalisations are layout-independent (gLN: one mean and variance per example over channels,
chunk frames and chunks, padding included).

Parameter names and shapes are asteroid's state-dict keys (``encoder.filterbank._filters``
(n_filters, 1, kernel), ``masker.bottleneck.1.weight`` (bn, n_filters, 1),
``masker.net.0.intra_RNN.rnn.weight_ih_l0``, ``masker.first_out.1.weight`` (n_src*bn, bn, 1, 1),
...), so an asteroid checkpoint loads without renaming (:mod:`src.dprnn.convert`). Default
initialisation follows PyTorch's (uniform +-1/sqrt(fan_in) for convolutions and Linear layers,
Xavier-normal filterbanks, PReLU 0.25).

References: Luo, Chen and Yoshioka, "Dual-path RNN: efficient long sequence modeling for
time-domain single-channel speech separation", ICASSP 2020 (arXiv:1910.06379); asteroid
``asteroid/models/dprnn_tasnet.py``, ``asteroid/masknn/recurrent.py``.
"""
import math

import numpy as np

import mindspore as ms
from mindspore import Parameter, nn, ops
from mindspore.common.initializer import HeUniform, Uniform, XavierNormal, initializer

from src.errors import ConfigError
from src.registry import Registry

from .framing import frames, overlap_add

NORM_EPS = 1e-8           # asteroid's gLN / cLN epsilon, added to the variance
PRELU_INIT = 0.25         # torch.nn.PReLU's initial slope
LEAKY_RELU_SLOPE = 0.01   # torch.nn.LeakyReLU's default
RNN_TYPES = ('RNN', 'LSTM', 'GRU')
FREE_FILTERBANK_NAMES = ('free', 'FreeFB')   # asteroid's alias and the class name in model_args


def _rnn(rnn_type, input_size, hidden_size, num_layers, dropout, bidirectional):
    """The recurrent layer of a DPRNN path: batch-first, PyTorch's parameter names and layout.

    The one place that chooses the implementation: the project's LSTM and GRU
    (:mod:`src.layers.rnn`: on CPU one bidirectional oneDNN call per LSTM layer, 0.78x
    ``nn.LSTM``'s training time; a GEMM GRU with a hand-written backward, 0.5x ``nn.GRU``'s),
    MindSpore's ``nn.RNN`` for the plain RNN. Returns a cell mapping (batch, time, input_size) to
    ``(output (batch, time, hidden * directions), state)``.

    The LSTM runs in graphs whose lengths are known only at run time (the dynamic-length export);
    the GRU and RNN unroll their time steps, so they compile for fixed input shapes only (a
    GRU/RNN DPRNN runs in PyNative mode or in graphs of fixed length).
    """
    from src.layers.rnn import GRU, LSTM
    cell = {'RNN': nn.RNN, 'LSTM': LSTM, 'GRU': GRU}[rnn_type]
    return cell(input_size, hidden_size, num_layers=num_layers, has_bias=True, batch_first=True,
                dropout=float(dropout), bidirectional=bool(bidirectional))


def _uniform_fan_in(shape, fan_in):
    """PyTorch's default bias init: U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    return initializer(Uniform(1.0 / math.sqrt(fan_in)), shape, ms.float32)


class PReLU(nn.Cell):
    """``torch.nn.PReLU()``: one learnt slope for negative inputs, parameter ``weight`` (1,)."""

    def __init__(self):
        super().__init__()
        self.weight = Parameter(ms.Tensor(np.full((1,), PRELU_INIT, np.float32)), name='weight')

    def construct(self, x):
        return ops.maximum(x, 0.0) + self.weight * ops.minimum(x, 0.0)


class Pointwise(nn.Cell):
    """A 1x1 convolution over the last axis of a channels-last tensor (a matrix product).

    The weight keeps PyTorch's convolution layout, (out, in, 1) or with ``dims=2`` (out, in, 1, 1),
    so that checkpoints map one to one. Inputs (..., in); outputs (..., out).
    """

    def __init__(self, in_channels, out_channels, has_bias=True, dims=1):
        super().__init__()
        shape = (out_channels, in_channels) + (1,) * dims
        self.weight = Parameter(initializer(HeUniform(negative_slope=math.sqrt(5)), shape, ms.float32),
                                name='weight')
        self.has_bias = has_bias
        if has_bias:
            self.bias = Parameter(_uniform_fan_in((out_channels,), in_channels), name='bias')
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.matmul = ops.MatMul(transpose_b=True)

    def construct(self, x):
        flat = self.matmul(x.reshape(-1, self.in_channels),
                           self.weight.reshape(self.out_channels, self.in_channels))
        if self.has_bias:
            flat = flat + self.bias
        return flat.reshape(x.shape[:-1] + (self.out_channels,))


class _Normalisation(nn.Cell):
    """z-normalisation over ``axes`` of a channels-last tensor, then a per-channel gain and bias
    (parameters ``gamma`` and ``beta``, asteroid's names); the biased variance, eps 1e-8."""

    def __init__(self, channels, axes):
        super().__init__()
        self.gamma = Parameter(ms.Tensor(np.ones(channels, np.float32)), name='gamma')
        self.beta = Parameter(ms.Tensor(np.zeros(channels, np.float32)), name='beta')
        self.axes = tuple(axes)

    def construct(self, x):
        mean = x.mean(axis=self.axes, keep_dims=True)
        centred = x - mean
        var = (centred * centred).mean(axis=self.axes, keep_dims=True)
        return centred / ops.sqrt(var + NORM_EPS) * self.gamma + self.beta


# asteroid norm name -> the axes it normalises over, for a tensor of ``rank`` axes whose last is
# the channel axis: gLN everything but the batch, cLN the channels at each position, fgLN
# (feature-wise global) each channel over everything but the batch
NORMS = Registry('norm_type')
NORMS.register('gLN', lambda rank: tuple(range(1, rank)))
NORMS.register('cLN', lambda rank: (rank - 1,))
NORMS.register('fgLN', lambda rank: tuple(range(1, rank - 1)))
NORM_ALIASES = {'GlobLN': 'gLN', 'ChanLN': 'cLN', 'FeatsGlobLN': 'fgLN'}


def make_norm(norm_type, channels, rank):
    """asteroid's ``norms.get(norm_type)(channels)`` for a channels-last tensor of ``rank`` axes."""
    axes = NORMS.get(NORM_ALIASES.get(norm_type, norm_type))(rank)
    return _Normalisation(channels, axes)


class _Lambda(nn.Cell):
    """A parameter-free elementwise activation given as a MindSpore function."""

    def __init__(self, function):
        super().__init__()
        self.function = function

    def construct(self, x):
        return self.function(x)


def _swish(x):
    return x * ops.sigmoid(x)


def _exact_gelu(x):
    return ops.gelu(x, approximate='none')     # torch.nn.GELU(); MindSpore's default is tanh


def _identity(x):
    return x


def _leaky_relu(x):
    return ops.leaky_relu(x, LEAKY_RELU_SLOPE)


def _softmax_last(x):
    # asteroid applies Softmax(dim=1) to (batch * n_src, out_chan, frames): over the mask bins
    return ops.softmax(x, axis=-1)


# asteroid's ``activations.get`` names -> cells; 'prelu' has a parameter (``weight``)
ACTIVATIONS = Registry('activation')
for _name, _function in (('linear', _identity), ('relu', ops.relu), ('sigmoid', ops.sigmoid),
                         ('tanh', ops.tanh), ('leaky_relu', _leaky_relu), ('gelu', _exact_gelu),
                         ('swish', _swish), ('softmax', _softmax_last)):
    ACTIVATIONS.register(_name, lambda function=_function: _Lambda(function))
ACTIVATIONS.register('prelu', PReLU)


def make_activation(name):
    """asteroid's ``activations.get(name)()`` (softmax over the channel axis); None is linear."""
    return ACTIVATIONS.get('linear' if name is None else name)()


class SingleRNN(nn.Cell):
    """asteroid's ``SingleRNN``: one (stacked) RNN, batch-first; parameters under ``rnn``."""

    def __init__(self, rnn_type, input_size, hidden_size, n_layers=1, dropout=0, bidirectional=False):
        super().__init__()
        self.rnn = _rnn(rnn_type, input_size, hidden_size, n_layers, dropout, bidirectional)
        self.output_size = hidden_size * (2 if bidirectional else 1)

    def construct(self, x):
        return self.rnn(x)[0]


class MulCatRNN(nn.Cell):
    """asteroid's ``MulCatRNN`` (Nachmani et al. 2020): ``concat(rnn1(x) * rnn2(x), x)``."""

    def __init__(self, rnn_type, input_size, hidden_size, n_layers=1, dropout=0, bidirectional=False):
        super().__init__()
        self.rnn1 = _rnn(rnn_type, input_size, hidden_size, n_layers, dropout, bidirectional)
        self.rnn2 = _rnn(rnn_type, input_size, hidden_size, n_layers, dropout, bidirectional)
        self.output_size = hidden_size * (2 if bidirectional else 1) + input_size

    def construct(self, x):
        return ops.concat((self.rnn1(x)[0] * self.rnn2(x)[0], x), 2)


class DPRNNBlock(nn.Cell):
    """One dual-path block on chunks (B, S, K, C): intra-chunk then inter-chunk path, each
    RNN -> Linear -> norm with a residual connection (asteroid's ``DPRNNBlock``).

    The intra-chunk RNN runs over the K frames of each of the B*S chunks and is always
    bidirectional; the inter-chunk RNN runs over the S chunks at each of the B*K positions.
    """

    def __init__(self, in_chan, hid_size, norm_type='gLN', bidirectional=True, rnn_type='LSTM',
                 use_mulcat=False, num_layers=1, dropout=0):
        super().__init__()
        rnn = MulCatRNN if use_mulcat else SingleRNN
        self.intra_RNN = rnn(rnn_type, in_chan, hid_size, num_layers, dropout=dropout, bidirectional=True)
        self.inter_RNN = rnn(rnn_type, in_chan, hid_size, num_layers, dropout=dropout,
                             bidirectional=bidirectional)
        self.intra_linear = nn.Dense(self.intra_RNN.output_size, in_chan)
        self.intra_norm = make_norm(norm_type, in_chan, 4)
        self.inter_linear = nn.Dense(self.inter_RNN.output_size, in_chan)
        self.inter_norm = make_norm(norm_type, in_chan, 4)
        self.in_chan = in_chan

    def construct(self, x):
        """(B, S, K, C) -> (B, S, K, C)."""
        chunk = x.shape[2]
        intra = self.intra_linear(self.intra_RNN(x.reshape(-1, chunk, self.in_chan)))  # (B*S, K, C)
        x = x + self.intra_norm(intra.reshape(x.shape))
        across = ops.transpose(x, (0, 2, 1, 3))                                         # (B, K, S, C)
        inter = self.inter_linear(self.inter_RNN(across.reshape(-1, across.shape[2], self.in_chan)))
        inter = ops.transpose(inter.reshape(across.shape), (0, 2, 1, 3))                # (B, S, K, C)
        return x + self.inter_norm(inter)


class DPRNN(nn.Cell):
    """asteroid's ``DPRNN`` mask network: encoder frames (B, F, in_chan) -> masks
    (B, F, n_src, out_chan). Arguments as :class:`DPRNNTasNet`'s."""

    def __init__(self, in_chan, n_src, out_chan=None, bn_chan=128, hid_size=128, chunk_size=100,
                 hop_size=None, n_repeats=6, norm_type='gLN', mask_act='relu', bidirectional=True,
                 rnn_type='LSTM', use_mulcat=False, num_layers=1, dropout=0):
        super().__init__()
        self.in_chan = in_chan
        self.out_chan = out_chan if out_chan is not None else in_chan
        self.bn_chan = bn_chan
        self.n_src = n_src
        self.chunk_size = chunk_size
        self.hop_size = hop_size if hop_size is not None else chunk_size // 2
        self.bottleneck = nn.SequentialCell([make_norm(norm_type, in_chan, 3),
                                             Pointwise(in_chan, bn_chan)])
        self.net = nn.SequentialCell([
            DPRNNBlock(bn_chan, hid_size, norm_type=norm_type, bidirectional=bidirectional,
                       rnn_type=rnn_type, use_mulcat=use_mulcat, num_layers=num_layers,
                       dropout=dropout)
            for _ in range(n_repeats)])
        self.first_out = nn.SequentialCell([PReLU(), Pointwise(bn_chan, n_src * bn_chan, dims=2)])
        self.net_out = nn.SequentialCell([Pointwise(bn_chan, bn_chan), nn.Tanh()])
        self.net_gate = nn.SequentialCell([Pointwise(bn_chan, bn_chan), nn.Sigmoid()])
        self.mask_net = Pointwise(bn_chan, self.out_chan, has_bias=False)
        self.output_act = make_activation(mask_act)

    def construct(self, mixture_w):
        """(B, F, in_chan) -> (B, F, n_src, out_chan)."""
        n_frames = mixture_w.shape[1]
        x = self.bottleneck(mixture_w)                                          # (B, F, bn)
        x = frames(x, self.chunk_size, self.hop_size, self.chunk_size)          # (B, S, K, bn)
        x = self.first_out(self.net(x))                                         # (B, S, K, n_src*bn)
        x = overlap_add(x, self.hop_size, self.chunk_size, n_frames)            # (B, F, n_src*bn)
        x = x.reshape(x.shape[0], -1, self.n_src, self.bn_chan)                 # (B, F, n_src, bn)
        x = self.net_out(x) * self.net_gate(x)
        return self.output_act(self.mask_net(x))                                # (B, F, n_src, out)


class FreeFilterbank(nn.Cell):
    """asteroid-filterbanks' ``FreeFB``: unconstrained filters ``_filters`` (n_filters, 1, kernel),
    Xavier-normal initialised."""

    def __init__(self, n_filters, kernel_size, stride):
        super().__init__()
        self._filters = Parameter(initializer(XavierNormal(), (n_filters, 1, kernel_size), ms.float32),
                                  name='_filters')
        self.n_filters = n_filters
        self.kernel_size = kernel_size
        self.stride = stride

    def construct(self):
        return self._filters.reshape(self.n_filters, self.kernel_size)


class Encoder(nn.Cell):
    """Strided convolution with a filterbank, no padding: wave (B, T) -> (B, F, n_filters),
    F = (T - kernel) // stride + 1 (framing + matrix product)."""

    def __init__(self, filterbank):
        super().__init__()
        self.filterbank = filterbank
        self.matmul = ops.MatMul(transpose_b=True)

    def construct(self, wave):
        fb = self.filterbank
        windows = frames(wave.expand_dims(2), fb.kernel_size, fb.stride)        # (B, F, k, 1)
        flat = self.matmul(windows.reshape(-1, fb.kernel_size), fb())           # (B*F, n_filters)
        return flat.reshape(wave.shape[0], -1, fb.n_filters)


class Decoder(nn.Cell):
    """Transposed convolution with a filterbank (overlap-add of filter-weighted frames), padded
    with zeros or cut on the right to ``length`` samples (asteroid's ``pad_x_to_y``), where
    ``length`` is less than one stride past the decoded samples (as for the encoder's input)."""

    def __init__(self, filterbank):
        super().__init__()
        self.filterbank = filterbank

    def construct(self, x, length):
        """x (B, F, n_src, n_filters) -> (B, n_src, length)."""
        fb = self.filterbank
        n_src = x.shape[2]
        pieces = ops.matmul(x, fb())                                            # (B, F, n_src, k)
        pieces = ops.transpose(pieces, (0, 2, 1, 3)).reshape(-1, x.shape[1], fb.kernel_size, 1)
        wave = overlap_add(pieces, fb.stride, 0, length)                        # (B*n_src, T, 1)
        return wave.reshape(-1, n_src, wave.shape[1])


def _positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigError(f"DPRNNTasNet: {name} must be a positive integer, got {value!r}")
    return int(value)


class DPRNNTasNet(nn.Cell):
    """DPRNN-TasNet separation network (asteroid's ``DPRNNTasNet``, same arguments and defaults;
    ``n_src`` defaults to 2 here).

    Args:
        n_src: sources to separate.
        out_chan: mask bins; None = ``n_filters`` (the only value a free filterbank can use).
        bn_chan: channels after the bottleneck; hid_size: RNN hidden units per direction.
        chunk_size, hop_size: chunk length and step in encoder frames; hop None = chunk // 2.
        n_repeats: DPRNN blocks.
        norm_type: 'gLN' (global layer norm), 'cLN' (channel-wise) or 'fgLN' (feature-wise global).
        mask_act: 'sigmoid', 'relu', 'softmax' (over the mask bins), 'linear', 'tanh',
            'leaky_relu', 'prelu', 'gelu' or 'swish'.
        bidirectional: bidirectional inter-chunk RNN (the intra-chunk one always is).
        rnn_type: 'LSTM', 'GRU' or 'RNN'; num_layers, dropout: per RNN, as torch's.
        in_chan: must be None or ``n_filters``.
        fb_name: the filterbank: 'free' only (asteroid's ``FreeFB``).
        kernel_size, n_filters, stride: filterbank length, count and hop (stride None =
            kernel // 2).
        encoder_activation: activation after the encoder (names as mask_act), None = linear.
        sample_rate: operating rate, recorded only.
        use_mulcat: MulCat RNNs (``concat(rnn1(x) * rnn2(x), x)``) in both paths.

    Inputs: wave (B, T) float32. Outputs: (B, n_src, T), the separated sources.

    Raises:
        ConfigError: an argument asteroid would reject or that has no port here (another
            filterbank, a norm other than gLN/cLN/fgLN).
    """

    def __init__(self, n_src=2, out_chan=None, bn_chan=128, hid_size=128, chunk_size=100,
                 hop_size=None, n_repeats=6, norm_type='gLN', mask_act='sigmoid', bidirectional=True,
                 rnn_type='LSTM', num_layers=1, dropout=0, in_chan=None, fb_name='free',
                 kernel_size=16, n_filters=64, stride=8, encoder_activation=None, sample_rate=8000,
                 use_mulcat=False):
        super().__init__()
        if fb_name not in FREE_FILTERBANK_NAMES:
            raise ConfigError(f"DPRNNTasNet: fb_name {fb_name!r} is not ported; only the free "
                              "filterbank ('free') is")
        for name, value in (('n_src', n_src), ('bn_chan', bn_chan), ('hid_size', hid_size),
                            ('chunk_size', chunk_size), ('n_repeats', n_repeats),
                            ('num_layers', num_layers), ('kernel_size', kernel_size),
                            ('n_filters', n_filters)):
            _positive_int(name, value)
        stride = _positive_int('stride', stride) if stride else kernel_size // 2
        hop_size = _positive_int('hop_size', hop_size) if hop_size is not None else chunk_size // 2
        _positive_int('hop_size (chunk_size // 2)', hop_size)
        if in_chan is not None and in_chan != n_filters:
            raise ConfigError(f"DPRNNTasNet: in_chan {in_chan} must equal n_filters {n_filters} "
                              "(the filterbank's output channels)")
        if out_chan is not None and out_chan != n_filters:
            raise ConfigError(f"DPRNNTasNet: out_chan {out_chan} must equal n_filters {n_filters}: "
                              "the masks multiply the free filterbank's output")
        if str(rnn_type).upper() not in RNN_TYPES:
            raise ConfigError(f"DPRNNTasNet: rnn_type must be one of {', '.join(RNN_TYPES)}, "
                              f"got {rnn_type!r}")
        if not 0 <= dropout < 1:
            raise ConfigError(f"DPRNNTasNet: dropout must be in [0, 1), got {dropout!r}")
        self.n_src = n_src
        self.sample_rate = sample_rate
        self.encoder = Encoder(FreeFilterbank(n_filters, kernel_size, stride))
        self.enc_activation = make_activation(encoder_activation)
        self.masker = DPRNN(n_filters, n_src, out_chan=out_chan, bn_chan=bn_chan, hid_size=hid_size,
                            chunk_size=chunk_size, hop_size=hop_size, n_repeats=n_repeats,
                            norm_type=norm_type, mask_act=mask_act, bidirectional=bidirectional,
                            rnn_type=str(rnn_type).upper(), use_mulcat=use_mulcat,
                            num_layers=num_layers, dropout=dropout)
        self.decoder = Decoder(FreeFilterbank(n_filters, kernel_size, stride))

    def construct(self, wave):
        """wave (B, T) -> separated sources (B, n_src, T)."""
        tf_rep = self.enc_activation(self.encoder(wave))                       # (B, F, n_filters)
        masks = self.masker(tf_rep)                                             # (B, F, n_src, n_filters)
        return self.decoder(masks * tf_rep.expand_dims(2), wave.shape[1])
