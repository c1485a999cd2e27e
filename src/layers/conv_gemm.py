"""Convolution and transposed convolution as im2col + GEMM, with hand-written gradients.

MindSpore 2.10's CPU convolution kernels are oneDNN's reference loops; its matrix
multiplication is fast. These cells compute the same results from ``ops.unfold`` (im2col),
``ops.fold`` (col2im) and large two-dimensional matrix products:

* forward      ``y = W @ cols(x)``            one GEMM of (O, C*k) x (C*k, N*P)
* input grad   ``dx = col2im(W^T @ dy)``      one GEMM and one fold
* weight grad  ``dW = dy @ cols(x)^T``        one GEMM

Layout: the batch is stacked along the image height *before* im2col. A batch (N, C, H, W) becomes
one image (1, C, N*H, W), so ``ops.unfold`` writes the columns directly in the (C*k, N*P) layout
the GEMM wants: no transposition of the k-times larger column matrix (which cost as much as the
GEMM itself), and one 2-D product instead of N broadcast batched ones (about 2x slower on CPU).
Only x and y, k times smaller, are transposed. When the kernel spans several rows (kh > 1) or
strides over rows, windows that straddle two samples produce a few rows of output that belong
to neither; they are computed and dropped (2 of 252 rows for a 3x3 kernel on 250 rows).
Groups become a batched product over the group axis.

The backward is written by hand (``bprop``). It calls im2col again for the weight gradient; in
graph mode the compiler merges that call with the forward's (the profiler shows one Im2Col per
training step), in PyNative mode it is recomputed rather than kept alive.

Inputs are padded by the caller (:mod:`src.layers.conv`): these cells never pad.
"""
from mindspore import nn, ops


# widest input for row taps (see make_gemm_conv); measured on CNN14: 256 keeps its first
# three blocks on row taps
ROW_TAP_MAX_CHANNELS = 256


def effective_size(kernel, dilation):
    """Span of a dilated kernel: dilation * (kernel - 1) + 1."""
    return dilation * (kernel - 1) + 1


class _GemmCell(nn.Cell):
    """Kernel geometry, the (batched) matrix products for one group count, and the batch stacking."""

    def __init__(self, kernel_size, stride, dilation, group):
        super().__init__()
        self.kernel_size = tuple(kernel_size)
        self.stride = tuple(stride)
        self.dilation = tuple(dilation)
        self.group = group
        self.effective_h = effective_size(self.kernel_size[0], self.dilation[0])
        # Rows of different samples never share a window: the batch needs no separating rows.
        self.rows_independent = self.effective_h == 1 and self.stride[0] == 1
        if group == 1:
            self.matmul = ops.MatMul()
            self.matmul_ta = ops.MatMul(transpose_a=True)
            self.matmul_tb = ops.MatMul(transpose_b=True)
        else:
            self.matmul = ops.BatchMatMul()
            self.matmul_ta = ops.BatchMatMul(transpose_a=True)
            self.matmul_tb = ops.BatchMatMul(transpose_b=True)

    def _matrix(self, t, rows):
        """(rows, ...) -> (rows, cols) or, with groups, (G, rows/G, cols)."""
        if self.group == 1:
            return t.reshape(rows, -1)
        return t.reshape(self.group, rows // self.group, -1)

    def _stack_batch(self, x):
        """(N, C, H, W) -> (1, C, N*H' + tail, W): samples one under the other, each padded with
        zero rows to H' (a multiple of the row stride), and ``tail`` zero rows at the bottom so
        that im2col gives exactly H' / stride output rows per sample (see ``_rows_to_batch``)."""
        n, c, h, w = x.shape
        x = ops.transpose(x, (1, 0, 2, 3))
        if self.stride[0] > 1:   # a static test: the number of rows may be known only at run time
            x = ops.concat((x, ops.zeros((c, n, -h % self.stride[0], w), x.dtype)), 2)
        x = x.reshape(1, c, -1, w)
        tail = self.effective_h - self.stride[0]
        if tail > 0:
            x = ops.concat((x, ops.zeros((1, c, tail, w), x.dtype)), 2)
        return x

    def _unstack_batch(self, img, n, h):
        """Inverse of :meth:`_stack_batch`: (1, C, N*H' + tail, W) -> (N, C, H, W)."""
        c, w = img.shape[1], img.shape[3]
        if self.effective_h > self.stride[0]:
            img = img[:, :, :img.shape[2] - (self.effective_h - self.stride[0])]
        img = img.reshape(c, n, -1, w)
        if self.stride[0] > 1:
            img = img[:, :, :h]
        return ops.transpose(img, (1, 0, 2, 3))

    def _cols(self, img):
        """im2col of a stacked image -> (C*kh*kw, N*H'/sh*W_out) (or grouped)."""
        cols = ops.unfold(img, self.kernel_size, self.dilation, 0, self.stride)
        return self._matrix(cols, cols.shape[1])

    def _rows_to_batch(self, y, n, h_out, w_out):
        """(O, N*H'/sh*W_out) GEMM output -> (N, O, H_out, W_out), dropping the rows computed
        over windows that straddle two samples."""
        channels = y.shape[0] * y.shape[1] if self.group > 1 else y.shape[0]
        y = y.reshape(channels, n, -1, w_out)
        if not self.rows_independent:
            y = y[:, :, :h_out]
        return ops.transpose(y, (1, 0, 2, 3))

    def _batch_to_rows(self, dy, h):
        """Adjoint of :meth:`_rows_to_batch`: (N, O, H_out, W_out) -> (O, N*H'/sh*W_out) (or grouped)."""
        n, channels, h_out, w_out = dy.shape
        dy = ops.transpose(dy, (1, 0, 2, 3))
        if not self.rows_independent:
            rows_per_sample = (h + self.stride[0] - 1) // self.stride[0]
            dy = ops.concat((dy, ops.zeros((channels, n, rows_per_sample - h_out, w_out), dy.dtype)), 2)
        return self._matrix(dy, channels)

    def _weight_grad(self, dy, cols, shape):
        """dW = dy @ cols^T: (O, P) x (P, C*k), the long position axis reduced."""
        return self.matmul_tb(dy, cols).reshape(shape)


class Im2colConv2d(_GemmCell):
    """``conv2d(x, w)`` without padding (cross-correlation, MindSpore/PyTorch convention).

    Args:
        kernel_size, stride, dilation: pairs (h, w).
        group: number of channel groups.

    Inputs: x (N, C, H, W) already padded, w (O, C/group, kh, kw).
    Output: (N, O, (H - eh) // sh + 1, (W - ew) // sw + 1), e = dilation * (kernel - 1) + 1.
    """

    def _out_size(self, h, w):
        effective_w = effective_size(self.kernel_size[1], self.dilation[1])
        return (h - self.effective_h) // self.stride[0] + 1, (w - effective_w) // self.stride[1] + 1

    def construct(self, x, w):
        n, _, h, wd = x.shape
        h_out, w_out = self._out_size(h, wd)
        cols = self._cols(self._stack_batch(x))                             # (C*k, R*W_out)
        y = self.matmul(self._matrix(w, w.shape[0]), cols)                  # (O, R*W_out)
        return self._rows_to_batch(y, n, h_out, w_out)

    def bprop(self, x, w, out, dout):
        n, h = x.shape[0], x.shape[2]
        img = self._stack_batch(x)
        dy = self._batch_to_rows(dout, h)                                   # (O, R*W_out)
        dw = self._weight_grad(dy, self._cols(img), w.shape)
        dcols = self.matmul_ta(self._matrix(w, w.shape[0]), dy)             # (C*k, R*W_out)
        dcols = dcols.reshape(1, -1, dcols.shape[-1])
        dimg = ops.fold(dcols, ops.tuple_to_array(img.shape[2:]), self.kernel_size, self.dilation,
                        0, self.stride)
        return self._unstack_batch(dimg, n, h), dw


class Col2imConvTranspose1d(_GemmCell):
    """Transposed 1-D convolution (on (N, C, 1, L) tensors) without padding or cropping.

    Inputs: x (N, C_in, 1, L), w (C_in, C_out/group, 1, k).
    Output: (N, C_out, 1, (L - 1) * stride + dilation * (k - 1) + 1), the full overlap-add;
    the caller crops it to its padding mode.
    """

    def __init__(self, kernel_size, stride, dilation, group):
        super().__init__(kernel_size, stride, dilation, group)
        if self.kernel_size[0] != 1 or self.stride[0] != 1:
            raise ValueError("Col2imConvTranspose1d: kernel and stride must be 1 along the height")

    def _full_length(self, length):
        return (length - 1) * self.stride[1] + effective_size(self.kernel_size[1], self.dilation[1])

    def construct(self, x, w):
        n, in_channels, _, length = x.shape
        xm = self._matrix(ops.transpose(x, (1, 0, 2, 3)), in_channels)  # (C_in, N*L)
        cols = self.matmul_ta(self._matrix(w, in_channels), xm)             # (C_out*k, N*L)
        cols = cols.reshape(1, -1, cols.shape[-1])
        img = ops.fold(cols, ops.tuple_to_array((n, self._full_length(length))), self.kernel_size,
                       self.dilation, 0, self.stride)                       # (1, C_out, N, F)
        return ops.transpose(img, (2, 1, 0, 3))

    def bprop(self, x, w, out, dout):
        n, in_channels, _, length = x.shape
        dcols = self._cols(ops.transpose(dout, (2, 1, 0, 3)))  # (C_out*k, N*L)
        xm = self._matrix(ops.transpose(x, (1, 0, 2, 3)), in_channels)  # (C_in, N*L)
        dx = self.matmul(self._matrix(w, in_channels), dcols)              # (C_in, N*L)
        dx = ops.transpose(dx.reshape(in_channels, n, 1, length), (1, 0, 2, 3))
        dw = self._weight_grad(xm, dcols, w.shape)
        return dx, dw


class RowTapConv2d(Im2colConv2d):
    """``conv2d(x, w)`` for kernels several rows high (kh > 1, row stride 1, one group).

    Full im2col copies every input value kh*kw times; with few channels (PANNs: 64 channels,
    3x3 and 5x5 kernels) that copying, not the arithmetic, is what costs. Here im2col runs over
    the kernel's width only, and one GEMM gives the contribution of every kernel row at once:

        Z = W_rows (O*kh, C*kw) @ cols (C*kw, R*W_out)
        y[r] = sum_i Z_i[r + i * dilation_h]       (Z_i: the rows of Z for kernel row i)

    The shifted sum is exactly col2im (``ops.fold``) with a (kh, 1) kernel when the blocks are
    ordered with the kernel row reversed, and its padding argument drops the partial sums at
    the border; the backward builds every shifted copy of dy with the matching im2col. The
    columns are kh times smaller than full im2col's and the GEMM has kh*O rows instead of O.

    Same inputs and output as :class:`Im2colConv2d`.
    """

    def __init__(self, kernel_size, stride, dilation, group):
        super().__init__(kernel_size, stride, dilation, group)
        if group != 1 or self.stride[0] != 1 or self.kernel_size[0] == 1:
            raise ValueError("RowTapConv2d: needs group=1, row stride 1 and a kernel of several rows")
        self.row_kernel = (1, self.kernel_size[1])
        self.row_dilation = (1, self.dilation[1])
        self.row_stride = (1, self.stride[1])
        self.tap_kernel = (self.kernel_size[0], 1)
        self.tap_dilation = (self.dilation[0], 1)
        self.tap_padding = (self.effective_h - 1, 0)

    def _row_cols(self, img):
        """im2col over the kernel width: (1, C, R, W) -> (C*kw, R*W_out)."""
        cols = ops.unfold(img, self.row_kernel, self.row_dilation, 0, self.row_stride)
        return cols.reshape(cols.shape[1], -1)

    def _reverse_rows(self, t):
        """Reverse axis 1 (the kh kernel rows) of an (O, kh, ...) tensor by concatenating its
        slices: whole contiguous blocks are copied (MindSpore's ReverseV2 on CPU took 92 ms for
        a 2048 x 2048 x 3 x 3 weight, half of a CNN14 inference)."""
        return ops.concat([t[:, i:i + 1] for i in range(self.kernel_size[0] - 1, -1, -1)], 1)

    def _row_weight(self, w):
        """(O, C, kh, kw) -> (O*kh, C*kw), rows ordered (output channel, kernel row reversed)."""
        out_channels, channels, rows, width = w.shape
        w = self._reverse_rows(ops.transpose(w, (0, 2, 1, 3)))
        return w.reshape(out_channels * rows, channels * width)

    def construct(self, x, w):
        n, _, h, wd = x.shape
        h_out, w_out = self._out_size(h, wd)
        z = self.matmul(self._row_weight(w), self._row_cols(self._stack_batch(x)))  # (O*kh, R*W_out)
        y = ops.fold(z.reshape(1, z.shape[0], -1), ops.tuple_to_array((n * h, w_out)),
                     self.tap_kernel, self.tap_dilation, self.tap_padding, 1)       # (1, O, N*H, W_out)
        return self._rows_to_batch(y.reshape(y.shape[1], -1), n, h_out, w_out)

    def bprop(self, x, w, out, dout):
        n, channels, h, _ = x.shape
        out_channels, rows = w.shape[0], self.kernel_size[0]
        img = self._stack_batch(x)
        cols = self._row_cols(img)                                          # (C*kw, R*W_out)
        dy = self._batch_to_rows(dout, h)                                   # (O, N*H*W_out)
        dy = dy.reshape(1, out_channels, -1, dout.shape[3])
        dz = ops.unfold(dy, self.tap_kernel, self.tap_dilation, self.tap_padding, 1)
        dz = dz.reshape(out_channels * rows, -1)                            # (O*kh, R*W_out)
        dw = self._weight_grad(dz, cols, (out_channels, rows, channels, -1))
        dw = ops.transpose(self._reverse_rows(dw), (0, 2, 1, 3))            # (O, C, kh, kw)
        dcols = self.matmul_ta(self._row_weight(w), dz)                     # (C*kw, R*W_out)
        dimg = ops.fold(dcols.reshape(1, -1, dcols.shape[-1]), ops.tuple_to_array(img.shape[2:]),
                        self.row_kernel, self.row_dilation, 0, self.row_stride)
        return self._unstack_batch(dimg, n, h), dw


def make_gemm_conv(in_channels, out_channels, kernel_size, stride, dilation, group):
    """The gemm cell for a convolution: row taps where they move less memory, else im2col.

    Row taps trade columns of C*kh*kw rows for C*kw rows plus a GEMM output of O*kh rows: worth
    it for 64 -> 64 3x3 (384 rows against 576), not for 1 -> 64 3x3 (195 rows against 9, which
    made it 3x slower). They also re-lay the weight out on every call (O*C*kh*kw values, where
    im2col only reshapes it), which pays off only when the positions far outnumber the
    channels: true of the early, wide layers of a 2-D CNN, not of its deep ones (CNN14's
    1024/2048-channel blocks see a few hundred positions), hence the channel limit.
    """
    (kh, kw), row_stride = kernel_size, stride[0]
    row_taps = (group == 1 and row_stride == 1 and kh > 1 and in_channels <= ROW_TAP_MAX_CHANNELS
                and in_channels * kw + out_channels * kh < in_channels * kh * kw)
    cell = RowTapConv2d if row_taps else Im2colConv2d
    return cell(kernel_size, stride, dilation, group)
