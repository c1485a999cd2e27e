"""Drop-in replacements for ``mindspore.nn.LSTM`` and ``nn.GRU`` with a fast CPU path.

Each class subclasses the MindSpore cell, so the parameters are MindSpore's, which are PyTorch's:
``weight_ih_l{k}``, ``weight_hh_l{k}``, ``bias_ih_l{k}``, ``bias_hh_l{k}`` and ``..._reverse`` for
the backward direction, shaped (G*H, in) and (G*H, H) with the gates stacked in PyTorch's order
(LSTM: i, f, g, o; GRU: r, z, n). A PyTorch state dict copies across unchanged. As in PyTorch,
every parameter is drawn from U(-1/sqrt(H), 1/sqrt(H)) (by the MindSpore cell, from numpy's
generator, which ``ms.set_seed`` seeds).
Unlike the MindSpore cells, ``batch_first`` defaults to True.

``impl`` (see :mod:`src.layers.impl`):

* ``'native'``: the MindSpore cell's own computation. LSTM: one ``LSTM`` primitive (oneDNN on
  CPU) per layer and direction, the backward direction flipped in time by ``ReverseV2`` on the
  way in and out. GRU: on CPU a Python loop over the time steps that the compiler unrolls and
  differentiates; cuDNN on GPU, ``DynamicGRUV2`` on Ascend.
* ``'gemm'``, the CPU path:

  - LSTM: one ``LSTM`` primitive per layer for both directions: oneDNN's
    ``bidirectional_concat`` mode runs the backward direction over reversed time itself. That
    drops the four ``ReverseV2`` calls per layer (12 ms each for a (100, 162, 128) tensor on CPU,
    where a gather with reversed indices takes 0.45 ms) and half the primitive calls.
  - GRU: one GEMM gives the input projections of every time step and both directions; the
    recurrence is a (D, N, H) x (D, H, 3H) batched product per step, both directions in one
    (the backward one over reversed time). The backward pass is written by hand (``bprop``): the
    forward keeps its gates, every coefficient of the backward recursion is computed for all
    steps at once, so each step costs one product and five element-wise kernels, and the
    weight and input gradients are GEMMs over all steps at once.

  Timings against ``nn.LSTM`` / ``nn.GRU``, and the alternatives that lost: ``bench/rnn.py``,
  README (Performance on CPU, Recurrent layers).

The GRU's CPU path unrolls its time loop at compile time (11-13 s for 100 steps with the
backward), so the sequence length must be known when the graph is compiled; an export may leave
the batch size free. ``nn.GRU`` on CPU unrolls its loop too (and its exported graph fails on a
second batch size). The LSTM's CPU path takes any shape, like ``nn.LSTM``.

Inputs: ``x`` (N, T, C) with ``batch_first`` (else (T, N, C)); optional initial states ``hx``,
(h_0, c_0) for the LSTM, h_0 for the GRU, each (num_layers * D, N, H), D = 2 if bidirectional.
Outputs, as ``nn.LSTM`` / ``nn.GRU``: ``(output, (h_n, c_n))`` / ``(output, h_n)``, output
(N, T, D * H) (forward direction first along the last axis), the final states shaped as ``hx``.
``nn.LSTM``'s ``seq_length`` input is not supported.
"""
from mindspore import nn, ops
from mindspore.ops import functional as F

from .impl import resolve_impl


def _reverse_time(x):
    """Reverse axis 0 (time, of a static length) by a gather of reversed indices: ``ReverseV2``
    on CPU is 27x slower, ``x[::-1]`` 90x (a (100, 162, 128) tensor: 0.45 against 12 and 40 ms).
    The indices are a constant tuple: ``ops.arange`` fails to compile inside a ``bprop``."""
    return ops.gather(x, ops.tuple_to_array(tuple(range(x.shape[0] - 1, -1, -1))), 0)


def _stack_steps(steps):
    """T tensors (D, N, X) -> (D, T, N, X), as a concatenation along N and a reshape.

    Why not ``ops.stack``: a MindIR exported with a free batch size and reloaded runs every
    ``Stack`` with the shapes of its first call (MindSpore 2.10; graphs compiled in-process are
    not affected), so the next batch size fails to resize or gets an output of the wrong shape;
    a ``Stack`` of parameters, whose shape never changes, breaks the kernels after it as well.
    ``nn.GRU`` on CPU stacks its steps, hence fails that way. Concatenating unit-axis copies
    (``expand_dims``) works too but adds 2.7 s of compile time per 100 steps.
    """
    directions, _, width = steps[0].shape
    return ops.concat(steps, 1).reshape(directions, len(steps), -1, width)


def _check_static_length(length, owner):
    """ValueError unless ``length`` is known when the graph is compiled (``F.isconstant`` is
    False for a dimension left free in ``ms.export``, where ``range(length)`` would be empty)."""
    if not F.isconstant(length) or length < 1:
        raise ValueError(f"{owner}: the sequence length must be known when the graph is compiled "
                         "(impl='gemm' unrolls the time loop, and so does nn.GRU on CPU); export "
                         "with a fixed length")


class LSTM(nn.LSTM):
    """``mindspore.nn.LSTM`` with a fast CPU path (see the module doc).

    Args:
        input_size, hidden_size, num_layers, has_bias, dropout, bidirectional: as ``nn.LSTM``.
        batch_first: inputs and outputs (N, T, C) if True (the default here), else (T, N, C).
        impl: 'auto', 'native' or 'gemm' (:mod:`src.layers.impl`).

    Inputs: x, optional ``hx = (h_0, c_0)``. Outputs: ``(output, (h_n, c_n))``.
    """

    def __init__(self, input_size, hidden_size, num_layers=1, has_bias=True, batch_first=True,
                 dropout=0.0, bidirectional=False, impl='auto'):
        super().__init__(input_size, hidden_size, num_layers, has_bias, batch_first, float(dropout),
                         bidirectional)
        self.impl = resolve_impl(impl, 'LSTM')
        self.directions = 2 if bidirectional else 1
        if self.impl == 'gemm':
            # one primitive per layer: a multi-layer one lays out every layer's weights with the
            # first layer's input size
            self.layer_ops = [ops.LSTM(input_size if k == 0 else hidden_size * self.directions,
                                       hidden_size, 1, has_bias, bidirectional, 0.0)
                              for k in range(num_layers)]

    def _flat_weights(self, layer, dtype):
        """The primitive's weight vector for one layer: every direction's W_ih, then W_hh, then
        b_ih + b_hh (oneDNN has one bias per gate), each flattened row-major; (size, 1, 1)."""
        first = layer * self.directions
        rows = range(first, first + self.directions)
        parts = [self.w_ih_list[i].reshape(-1) for i in rows]
        parts += [self.w_hh_list[i].reshape(-1) for i in rows]
        if self.has_bias:
            parts += [self.b_ih_list[i] + self.b_hh_list[i] for i in rows]
        return ops.concat(parts).reshape(-1, 1, 1).astype(dtype)

    def construct(self, x, hx=None):
        if self.impl == 'native':
            return super().construct(x, hx)
        if self.batch_first:
            x = ops.transpose(x, (1, 0, 2))                                # (T, N, C)
        states = self.num_layers * self.directions
        if hx is None:
            h_0 = ops.zeros((states, x.shape[1], self.hidden_size), x.dtype)
            c_0 = h_0
        else:
            h_0, c_0 = hx
        h_n, c_n = (), ()
        for layer in range(self.num_layers):
            if layer > 0 and self.dropout > 0:
                x = self.dropout_op(x)
            first = layer * self.directions
            if self.num_layers == 1:
                h_l, c_l = h_0, c_0
            else:
                h_l, c_l = h_0[first:first + self.directions], c_0[first:first + self.directions]
            x, h, c, _, _ = self.layer_ops[layer](x, h_l, c_l, self._flat_weights(layer, x.dtype))
            h_n += (h,)
            c_n += (c,)
        if self.batch_first:
            x = ops.transpose(x, (1, 0, 2))                                # (N, T, D*H)
        if self.num_layers == 1:
            return x, (h_n[0], c_n[0])
        return x, (ops.concat(h_n, 0), ops.concat(c_n, 0))


class GemmGRULayer(nn.Cell):
    """One GRU layer over time-major inputs, every direction at once, with a hand-written backward.

    Gates as PyTorch: r, z = sigmoid(W_i{r,z} x + b_i{r,z} + W_h{r,z} h + b_h{r,z}),
    n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), h' = (1 - z) * n + z * h.
    Direction 1 (if any) runs over reversed time; internally both are laid out in step order,
    (D, T, N, .).

    Inputs: x (T, N, C), h_0 (D, N, H), w_ih (D, 3H, C), w_hh (D, 3H, H), b_ih and b_hh (D, 1, 3H).
    Outputs: output (T, N, D*H), h_n (D, N, H), then what the backward reuses: the hidden states,
    r and z, n, and W_hn h + b_hn, each (D, T, N, .) in step order.
    """

    def __init__(self, hidden_size, directions):
        super().__init__()
        self.hidden_size = hidden_size
        self.directions = directions
        self.bmm = ops.BatchMatMul()
        self.bmm_ta = ops.BatchMatMul(transpose_a=True)
        self.bmm_tb = ops.BatchMatMul(transpose_b=True)

    def _in_step_order(self, x):
        """(T, N, C) -> (D, T, N, C), direction 1 reversed in time."""
        if self.directions == 1:
            return x.expand_dims(0)
        return ops.concat((x, _reverse_time(x))).reshape(2, x.shape[0], -1, x.shape[2])

    def _from_step_order(self, y):
        """(D, T, N, H) -> (T, N, D*H): inverse of :meth:`_in_step_order`, directions concatenated."""
        if self.directions == 1:
            return y.squeeze(0)
        forward, backward = ops.unstack(y, 0)   # y[0] would copy all of y (33 ms for 16 MB)
        return ops.concat((forward, _reverse_time(backward)), -1)

    def _output_grad_in_step_order(self, dout):
        """(T, N, D*H) -> (D, T, N, H): the adjoint of :meth:`_from_step_order`."""
        if self.directions == 1:
            return dout.expand_dims(0)
        hidden = self.hidden_size
        dout = ops.concat((dout[..., :hidden], _reverse_time(dout[..., hidden:])))
        return dout.reshape(2, -1, dout.shape[1], hidden)

    def construct(self, x, h_0, w_ih, w_hh, b_ih, b_hh):
        length, batch, channels = x.shape
        hidden, directions = self.hidden_size, self.directions
        xs = self._in_step_order(x).reshape(directions, length * batch, channels)
        x_proj = self.bmm_tb(xs, w_ih) + b_ih                               # (D, T*N, 3H)
        # unstack once: x_proj[:, s] at every step would copy the whole tensor each time
        x_steps = ops.unstack(x_proj.reshape(directions, length, batch, 3 * hidden), 1)
        h = h_0
        hs, rzs, ns, hns = [], [], [], []
        for s in range(length):
            h_proj = self.bmm_tb(h, w_hh) + b_hh                            # (D, N, 3H)
            x_s = x_steps[s]
            rz = ops.sigmoid(x_s[..., :2 * hidden] + h_proj[..., :2 * hidden])
            hn = h_proj[..., 2 * hidden:]
            n = ops.tanh(x_s[..., 2 * hidden:] + rz[..., :hidden] * hn)
            h = n + rz[..., hidden:] * (h - n)
            hs.append(h)
            rzs.append(rz)
            ns.append(n)
            hns.append(hn)
        y = _stack_steps(hs)                                                # (D, T, N, H)
        return (self._from_step_order(y), h, y, _stack_steps(rzs), _stack_steps(ns),
                _stack_steps(hns))

    def bprop(self, x, h_0, w_ih, w_hh, b_ih, b_hh, out, dout):
        _, _, y, rz, n, hn = out
        length, batch, channels = x.shape
        hidden, directions = self.hidden_size, self.directions
        if length > 1:
            h_prev = ops.concat((h_0.expand_dims(1), y[:, :length - 1]), 1)  # (D, T, N, H)
        else:
            h_prev = h_0.expand_dims(1)
        r, z = rz[..., :hidden], rz[..., hidden:]
        # Every gradient of step s is dh_s (the hidden state's total gradient) times a
        # coefficient known from the forward: d n_pre = dh * a, d z_pre = dh * b,
        # d r_pre = dh * cr; the recurrent projection gets (cr, b, a * r), the input one (cr, b, a).
        a = (1 - z) * (1 - n * n)
        b = (h_prev - n) * z * (1 - z)
        cr = a * hn * r * (1 - r)
        coef_h = ops.unstack(ops.concat((cr, b, a * r), -1), 1)
        z_steps = ops.unstack(z, 1)
        dy_steps = ops.unstack(self._output_grad_in_step_order(dout[0]), 1)
        dh_rec = dout[1]
        dhs, dhps = [None] * length, [None] * length
        for s in range(length - 1, -1, -1):
            dh = dy_steps[s] + dh_rec
            dh_proj = ops.tile(dh, (1, 1, 3)) * coef_h[s]                   # (D, N, 3H)
            dh_rec = dh * z_steps[s] + self.bmm(dh_proj, w_hh)
            dhs[s] = dh
            dhps[s] = dh_proj
        dh_proj = _stack_steps(dhps).reshape(directions, length * batch, 3 * hidden)
        dx_proj = ops.tile(_stack_steps(dhs), (1, 1, 1, 3)) * ops.concat((cr, b, a), -1)
        dx_proj = dx_proj.reshape(directions, length * batch, 3 * hidden)
        xs = self._in_step_order(x).reshape(directions, length * batch, channels)
        dw_ih = self.bmm_ta(dx_proj, xs)
        dw_hh = self.bmm_ta(dh_proj, h_prev.reshape(directions, length * batch, hidden))
        dxs = self.bmm(dx_proj, w_ih).reshape(directions, length, batch, channels)
        if directions == 1:
            dx = dxs.squeeze(0)
        else:
            forward, backward = ops.unstack(dxs, 0)
            dx = forward + _reverse_time(backward)
        # bias gradients as products with a row of ones: ReduceSum over the middle axis of a
        # (2, 16200, 384) tensor takes 55 ms on CPU, this product 3 ms
        ones = ops.ones((directions, 1, length * batch), dx_proj.dtype)
        return dx, dh_rec, dw_ih, dw_hh, self.bmm(ones, dx_proj), self.bmm(ones, dh_proj)


class GRU(nn.GRU):
    """``mindspore.nn.GRU`` with a fast CPU path (see the module doc).

    Args:
        input_size, hidden_size, num_layers, has_bias, dropout, bidirectional: as ``nn.GRU``.
        batch_first: inputs and outputs (N, T, C) if True (the default here), else (T, N, C).
        impl: 'auto', 'native' or 'gemm' (:mod:`src.layers.impl`).

    Inputs: x, optional h_0. Outputs: ``(output, h_n)``.
    """

    def __init__(self, input_size, hidden_size, num_layers=1, has_bias=True, batch_first=True,
                 dropout=0.0, bidirectional=False, impl='auto'):
        super().__init__(input_size, hidden_size, num_layers, has_bias, batch_first, float(dropout),
                         bidirectional)
        self.impl = resolve_impl(impl, 'GRU')
        self.directions = 2 if bidirectional else 1
        if self.impl == 'gemm':
            self.layer_cells = nn.CellList([GemmGRULayer(hidden_size, self.directions)
                                            for _ in range(num_layers)])

    def _stacked(self, params, layer):
        """One layer's parameters of every direction, stacked: (D, ...)."""
        first = layer * self.directions
        parts = [params[i] for i in range(first, first + self.directions)]
        # not ops.stack, see _stack_steps
        return ops.concat(parts).reshape((self.directions,) + parts[0].shape)

    def construct(self, x, hx=None):
        if self.impl == 'native':
            return super().construct(x, hx)
        if self.batch_first:
            x = ops.transpose(x, (1, 0, 2))                                # (T, N, C)
        _check_static_length(x.shape[0], 'GRU')
        states = self.num_layers * self.directions
        h_0 = ops.zeros((states, x.shape[1], self.hidden_size), x.dtype) if hx is None else hx
        gates = 3 * self.hidden_size
        h_n = ()
        for layer in range(self.num_layers):
            if layer > 0 and self.dropout > 0:
                x = self.dropout_op(x)
            first = layer * self.directions
            h_l = h_0 if self.num_layers == 1 else h_0[first:first + self.directions]
            if self.has_bias:
                b_ih = self._stacked(self.b_ih_list, layer).expand_dims(1)
                b_hh = self._stacked(self.b_hh_list, layer).expand_dims(1)
            else:
                b_ih = b_hh = ops.zeros((self.directions, 1, gates), x.dtype)
            out = self.layer_cells[layer](x, h_l, self._stacked(self.w_ih_list, layer),
                                          self._stacked(self.w_hh_list, layer), b_ih, b_hh)
            x = out[0]
            h_n += (out[1],)
        if self.batch_first:
            x = ops.transpose(x, (1, 0, 2))                                # (N, T, D*H)
        return x, h_n[0] if self.num_layers == 1 else ops.concat(h_n, 0)
