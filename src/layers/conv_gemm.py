"""Convolution and transposed convolution as im2col + GEMM, with hand-written gradients.

MindSpore 2.10's CPU convolution kernels are oneDNN's reference loops; its matrix
multiplication is fast. These cells compute the same results from ``ops.unfold`` (im2col),
``ops.fold`` (col2im) and large two-dimensional matrix products:

* forward      ``y = W @ cols(x)``            one GEMM of (O, C*k) x (C*k, N*L)
* input grad   ``dx = col2im(W^T @ dy)``      one GEMM and one fold
* weight grad  ``dW = dy @ cols(x)^T``        one GEMM

The batch is folded into the GEMM's column axis: a single (O, C*k) x (C*k, N*L) product is about
twice as fast on CPU as N broadcast batched products. Groups become a batched product over the
group axis. The backward is written by hand (``bprop``) so that autodiff does not differentiate
through the layout changes; the columns are recomputed there rather than kept alive between
forward and backward.

Everything is four-dimensional (N, C, H, W); a 1-D convolution is the H = 1 case.
Padding is not done here: callers pass the symmetric zero padding that ``ops.unfold`` applies
itself, or pad beforehand.
"""
from mindspore import nn, ops


def _to_gemm(t, group):
    """(N, X, L) -> (X, N*L), or (G, X/G, N*L) when ``group`` > 1."""
    n, x, length = t.shape
    t = t.transpose(1, 0, 2)
    if group == 1:
        return t.reshape(x, n * length)
    return t.reshape(group, x // group, n * length)


def _from_gemm(t, n):
    """Inverse of :func:`_to_gemm`: (X, N*L) or (G, X/G, N*L) -> (N, X, L)."""
    if t.ndim == 3:
        t = t.reshape(t.shape[0] * t.shape[1], t.shape[2])
    x = t.shape[0]
    return t.reshape(x, n, -1).transpose(1, 0, 2)


class _GemmCell(nn.Cell):
    """Shared set-up: kernel geometry and the (batched) matrix products for one group count."""

    def __init__(self, kernel_size, stride, dilation, group):
        super().__init__()
        self.kernel_size = tuple(kernel_size)
        self.stride = tuple(stride)
        self.dilation = tuple(dilation)
        self.group = group
        if group == 1:
            self.matmul = ops.MatMul()
            self.matmul_ta = ops.MatMul(transpose_a=True)
            self.matmul_tb = ops.MatMul(transpose_b=True)
        else:
            self.matmul = ops.BatchMatMul()
            self.matmul_ta = ops.BatchMatMul(transpose_a=True)
            self.matmul_tb = ops.BatchMatMul(transpose_b=True)

    def _weight_matrix(self, w, rows):
        """(rows_total, ...) weight -> (rows, cols) or (G, rows/G, cols)."""
        if self.group == 1:
            return w.reshape(rows, -1)
        return w.reshape(self.group, rows // self.group, -1)

    def _cols(self, x, padding):
        """im2col of x (N, C, H, W) -> (C*kh*kw, N*P) in GEMM layout, P = H_out * W_out."""
        cols = ops.unfold(x, self.kernel_size, self.dilation, padding, self.stride)
        return _to_gemm(cols, self.group)

    def _col2im(self, cols_gemm, n, size, padding):
        """Overlap-add (C*kh*kw, N*P) columns back onto an (N, C, size) image."""
        cols = _from_gemm(cols_gemm, n)
        return ops.fold(cols, ops.tuple_to_array(size), self.kernel_size, self.dilation, padding,
                        self.stride)


class Im2colConv2d(_GemmCell):
    """``conv2d(x, w)`` (cross-correlation, MindSpore/PyTorch convention) as im2col + GEMM.

    Args:
        kernel_size, stride, dilation: pairs (h, w).
        padding: symmetric zero padding (h, w), applied by ``ops.unfold``.
        group: number of channel groups.

    Inputs: x (N, C, H, W), w (O, C/group, kh, kw). Output: (N, O, H_out, W_out).
    """

    def __init__(self, kernel_size, stride, dilation, padding, group):
        super().__init__(kernel_size, stride, dilation, group)
        self.padding = tuple(padding)

    def _out_size(self, h, w):
        kh, kw = self.kernel_size
        dh, dw = self.dilation
        sh, sw = self.stride
        ph, pw = self.padding
        return (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1, (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1

    def construct(self, x, w):
        n = x.shape[0]
        out_channels = w.shape[0]
        h_out, w_out = self._out_size(x.shape[2], x.shape[3])
        cols = self._cols(x, self.padding)                                  # (C*k, N*P)
        y = self.matmul(self._weight_matrix(w, out_channels), cols)         # (O, N*P)
        return _from_gemm(y, n).reshape(n, out_channels, h_out, w_out)

    def bprop(self, x, w, out, dout):
        n = x.shape[0]
        out_channels = w.shape[0]
        dy = _to_gemm(dout.reshape(n, out_channels, -1), self.group)       # (O, N*P)
        w_mat = self._weight_matrix(w, out_channels)                        # (O, C*k)
        dw = self.matmul_tb(dy, self._cols(x, self.padding)).reshape(w.shape)
        dcols = self.matmul_ta(w_mat, dy)                                   # (C*k, N*P)
        dx = self._col2im(dcols, n, x.shape[2:], self.padding)
        return dx, dw


class Col2imConvTranspose2d(_GemmCell):
    """Transposed convolution without padding or cropping, as GEMM + col2im (overlap-add).

    Inputs: x (N, C_in, H, W), w (C_in, C_out/group, kh, kw).
    Output: (N, C_out, (H-1)*sh + dh*(kh-1) + 1, (W-1)*sw + dw*(kw-1) + 1), the full result;
    the caller crops it to its padding mode.
    """

    def _full_size(self, h, w):
        kh, kw = self.kernel_size
        dh, dw = self.dilation
        sh, sw = self.stride
        return (h - 1) * sh + dh * (kh - 1) + 1, (w - 1) * sw + dw * (kw - 1) + 1

    def construct(self, x, w):
        n, in_channels = x.shape[0], x.shape[1]
        xm = _to_gemm(x.reshape(n, in_channels, -1), self.group)            # (C_in, N*P)
        cols = self.matmul_ta(self._weight_matrix(w, in_channels), xm)      # (C_out*k, N*P)
        return self._col2im(cols, n, self._full_size(x.shape[2], x.shape[3]), (0, 0))

    def bprop(self, x, w, out, dout):
        n, in_channels = x.shape[0], x.shape[1]
        dcols = self._cols(dout, (0, 0))                                    # (C_out*k, N*P)
        xm = _to_gemm(x.reshape(n, in_channels, -1), self.group)            # (C_in, N*P)
        w_mat = self._weight_matrix(w, in_channels)                         # (C_in, C_out*k)
        dx = _from_gemm(self.matmul(w_mat, dcols), n).reshape(x.shape)
        dw = self.matmul_tb(xm, dcols).reshape(w.shape)
        return dx, dw
