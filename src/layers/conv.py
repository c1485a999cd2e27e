"""Drop-in replacements for ``mindspore.nn.Conv1d``, ``Conv2d`` and ``Conv1dTranspose``.

Each class subclasses the MindSpore cell, so the constructor, defaults, initialisers, parameter
names and parameter shapes are MindSpore's own: a checkpoint of one loads into the other. Two
keyword arguments are added:

* ``padding_mode``: ``'zeros'`` (MindSpore's behaviour) or ``'reflect'`` (with ``pad_mode``
  ``'same'`` or ``'pad'``; speechbrain's ECAPA-TDNN pads "same" by reflection).
* ``impl``: ``'native'`` runs MindSpore's kernel, ``'gemm'`` computes the same result as
  im2col + matrix multiplication (:mod:`src.layers.conv_gemm`), ``'auto'`` picks by device target
  (see :mod:`src.layers.impl`).

"same" padding follows MindSpore (and TensorFlow): output length ceil(L / stride), total padding
``max((L_out - 1) * stride + dilation * (k - 1) + 1 - L, 0)``, the odd element on the right/bottom.
"""
from mindspore import Parameter, nn, ops

from .conv_gemm import Col2imConvTranspose1d, effective_size, make_gemm_conv
from .impl import resolve_impl
from .padding import PADDING_MODES, pad_last2, pad_last2_dynamic


def same_padding(size, kernel, stride, dilation):
    """(before, after) padding of MindSpore's 'same' mode along one axis of length ``size``.

    total = max((ceil(size / stride) - 1) * stride + e - size, 0) with e = dilation * (kernel - 1) + 1,
    written without max() or a conditional on ``size``: in a graph with run-time shapes those
    become control flow, which MindSpore 2.10 cannot run inside these layers.
    """
    effective = effective_size(kernel, dilation)
    total = effective - stride + (-size) % stride          # in [e - stride, e - 1]
    if effective < stride:                                 # static: may be negative, clip at 0
        total = total * ((total + stride) // stride)       # (total + stride) // stride is 0 or 1
    return total // 2, total - total // 2


def _check_choice(owner, name, value, allowed):
    if value not in allowed:
        raise ValueError(f"{owner}: {name} must be one of {', '.join(map(repr, allowed))}, "
                         f"got {value!r}")


class _GemmConvMixin:
    """Padding plan and the two forward paths shared by :class:`Conv1d` and :class:`Conv2d`.

    Works on 4-D (N, C, H, W) tensors; ``self.kernel_size`` etc. are MindSpore's (h, w) pairs.
    """

    def _init_gemm(self, padding_mode, impl, pads):
        owner = type(self).__name__
        _check_choice(owner, 'padding_mode', padding_mode, PADDING_MODES)
        self.padding_mode = padding_mode
        self.impl = resolve_impl(impl, owner)
        if padding_mode == 'reflect' and self.pad_mode == 'valid':
            raise ValueError(f"{owner}: padding_mode='reflect' needs pad_mode 'same' or 'pad', "
                             "got pad_mode='valid' (nothing to pad)")
        channels_last = getattr(self, 'data_format', 'NCHW') != 'NCHW'
        if channels_last and self.impl == 'gemm':
            raise ValueError(f"{owner}: impl='gemm' supports data_format='NCHW' only; use "
                             "impl='native' for NHWC")
        # pads: (top, bottom, left, right) for 'pad', None for 'same'/'valid'
        self._static_pads = pads
        # Stride-1 'same' padding does not depend on the input size: resolve it now.
        if self.pad_mode == 'same' and self.stride == (1, 1):
            (kh, kw), (dh, dw) = self.kernel_size, self.dilation
            self._static_pads = same_padding(1, kh, 1, dh) + same_padding(1, kw, 1, dw)
        elif self.pad_mode == 'valid':
            self._static_pads = (0, 0, 0, 0)
        # bounds of the size-dependent 'same' padding: total <= effective kernel - 1
        eff_h, eff_w = (effective_size(k, d) for k, d in zip(self.kernel_size, self.dilation))
        self._max_pads = ((eff_h - 1) // 2, eff_h // 2, (eff_w - 1) // 2, eff_w // 2)
        # MindSpore's kernel pads symmetrically with zeros; anything else is padded beforehand.
        # The gemm path always pads beforehand (by concatenation, see padding.py).
        self._explicit_pad = padding_mode == 'reflect' or self._static_pads is None or (
            self._static_pads[0] != self._static_pads[1] or self._static_pads[2] != self._static_pads[3])
        if self._explicit_pad and channels_last:
            raise ValueError(f"{owner}: data_format='NHWC' supports only MindSpore's own padding "
                             "(zeros, symmetric, stride-1 'same' with odd kernels): use NCHW")
        if self.impl == 'gemm':
            self.gemm = make_gemm_conv(self.in_channels, self.out_channels, self.kernel_size,
                                       self.stride, self.dilation, self.group)
        elif self._explicit_pad:
            self.conv_valid = ops.Conv2D(out_channel=self.out_channels, kernel_size=self.kernel_size,
                                         pad_mode='valid', stride=self.stride,
                                         dilation=self.dilation, group=self.group)

    def _pads_for(self, h, w):
        if self._static_pads is not None:
            return self._static_pads
        (kh, kw), (sh, sw), (dh, dw) = self.kernel_size, self.stride, self.dilation
        return same_padding(h, kh, sh, dh) + same_padding(w, kw, sw, dw)

    def _pad(self, x):
        if self._static_pads is None:   # 'same' with a stride: widths depend on the input size
            return pad_last2_dynamic(x, self._pads_for(x.shape[2], x.shape[3]), self._max_pads,
                                     self.padding_mode)
        return pad_last2(x, self._static_pads, self.padding_mode)

    def _conv4d(self, x, weight):
        """The convolution of a 4-D ``x`` with a 4-D ``weight`` (``self.weight``, or one computed
        from other parameters: :class:`src.layers.weight_norm.WeightNormConv1d`), plus the bias."""
        if self.impl == 'gemm':
            out = self.gemm(self._pad(x), weight)
        elif self._explicit_pad:
            out = self.conv_valid(self._pad(x), weight)
        else:
            out = self.conv2d(x, weight)
        if self.has_bias:
            out = self.bias_add(out, self.bias)
        return out


class Conv2d(_GemmConvMixin, nn.Conv2d):
    """``mindspore.nn.Conv2d`` with ``padding_mode`` and a fast CPU path (see module doc)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, pad_mode='same', padding=0,
                 dilation=1, group=1, has_bias=False, weight_init=None, bias_init=None,
                 data_format='NCHW', dtype=None, padding_mode='zeros', impl='auto'):
        _check_choice('Conv2d', 'pad_mode', pad_mode, ('same', 'valid', 'pad'))
        kwargs = {} if dtype is None else {'dtype': dtype}
        super().__init__(in_channels, out_channels, kernel_size, stride, pad_mode, padding, dilation,
                         group, has_bias, weight_init, bias_init, data_format, **kwargs)
        pads = self.padding if isinstance(self.padding, tuple) else (self.padding,) * 4
        self._init_gemm(padding_mode, impl, pads if pad_mode == 'pad' else None)

    def construct(self, x):
        return self._conv4d(x, self.weight)


class Conv1d(_GemmConvMixin, nn.Conv1d):
    """``mindspore.nn.Conv1d`` with ``padding_mode`` and a fast CPU path (see module doc)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, pad_mode='same', padding=0,
                 dilation=1, group=1, has_bias=False, weight_init=None, bias_init=None, dtype=None,
                 padding_mode='zeros', impl='auto'):
        _check_choice('Conv1d', 'pad_mode', pad_mode, ('same', 'valid', 'pad'))
        kwargs = {} if dtype is None else {'dtype': dtype}
        super().__init__(in_channels, out_channels, kernel_size, stride, pad_mode, padding, dilation,
                         group, has_bias, weight_init, bias_init, **kwargs)
        self._init_gemm(padding_mode, impl, (0, 0, padding, padding) if pad_mode == 'pad' else None)

    def construct(self, x):
        return self._conv4d(x.expand_dims(2), self.weight).squeeze(2)


class Conv1dTranspose(nn.Conv1dTranspose):
    """``mindspore.nn.Conv1dTranspose`` with a fast CPU path (``impl``, see module doc).

    Output length, as MindSpore: 'same' ``L * stride``; 'pad' ``(L - 1) * stride + e - 2 * padding``;
    'valid' ``(L - 1) * stride + e``, or ``L * stride`` when the effective kernel
    ``e = dilation * (k - 1) + 1`` is shorter than the stride (zeros at the end).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, pad_mode='same', padding=0,
                 dilation=1, group=1, has_bias=False, weight_init=None, bias_init=None, dtype=None,
                 padding_mode='zeros', impl='auto'):
        _check_choice('Conv1dTranspose', 'pad_mode', pad_mode, ('same', 'valid', 'pad'))
        _check_choice('Conv1dTranspose', 'padding_mode', padding_mode, ('zeros',))
        kwargs = {} if dtype is None else {'dtype': dtype}
        super().__init__(in_channels, out_channels, kernel_size, stride, pad_mode, padding, dilation,
                         group, has_bias, weight_init, bias_init, **kwargs)
        self.padding_mode = padding_mode
        self.impl = resolve_impl(impl, 'Conv1dTranspose')
        self.crop_padding = padding
        if self.impl == 'gemm':
            self.gemm = Col2imConvTranspose1d(self.kernel_size, self.stride, self.dilation,
                                              self.group)

    def _out_length(self, length):
        stride = self.stride[1]
        effective = effective_size(self.kernel_size[1], self.dilation[1])
        if self.is_pad:
            return (length - 1) * stride + effective - 2 * self.crop_padding
        if self.is_same:
            return length * stride
        return (length - 1) * stride + (effective if effective > stride else stride)

    def _crop(self, full, length):
        """Cut the full overlap-add result (N, C, 1, F) to MindSpore's output for pad_mode."""
        stride = self.stride[1]
        effective = effective_size(self.kernel_size[1], self.dilation[1])
        # start: samples cut at the front; missing: zeros MindSpore appends when the kernel is
        # shorter than the stride; excess: samples cut at the end. All static.
        start, missing, excess = 0, 0, 0
        if self.is_pad:
            start = excess = self.crop_padding
        elif self.is_same:
            if effective > stride:
                start = (effective - stride) // 2
                excess = effective - stride - start
            else:
                missing = stride - effective
        elif stride > effective:
            missing = stride - effective
        if missing:
            full = pad_last2(full, (0, 0, 0, missing))
        if start == 0 and excess == 0:     # e.g. the DPRNN decoder: the full result is the output
            return full
        return full[..., start:start + self._out_length(length)]

    def construct(self, x):
        x = x.expand_dims(2)                                                # (N, C_in, 1, L)
        length = x.shape[3]
        if self.impl == 'gemm':
            out = self._crop(self.gemm(x, self.weight), length)
        else:
            # MindSpore's own construct checks the rank with Python code that becomes a 'raise'
            # node in exported graphs whose rank it cannot prove; call the primitive directly.
            out = self.conv2d_transpose(x, self.weight,
                                        (x.shape[0], self.out_channels, 1, self._out_length(length)))
        if self.has_bias:
            out = self.bias_add(out, self.bias)
        return out.squeeze(2)


class TorchLayoutConv1d(Conv1d):
    """:class:`Conv1d` whose ``weight`` has PyTorch's shape (out, in/group, k) instead of
    MindSpore's (out, in/group, 1, k), so that PyTorch state dicts (wav2vec 2.0) load as they are.

    Same arguments, initialisers and outputs as :class:`Conv1d`; the weight is reshaped to 4-D at
    every call (a view, no copy).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        out_channels, in_per_group, _, kernel = self.weight.shape
        self.weight = Parameter(self.weight.data.reshape(out_channels, in_per_group, kernel),
                                name='weight')

    def construct(self, x):
        return self._conv4d(x.expand_dims(2), self.weight.expand_dims(2)).squeeze(2)
