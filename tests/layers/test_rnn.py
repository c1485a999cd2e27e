"""src.layers.LSTM and GRU: PyTorch's parameters and equations, both implementations.

Checked against a float64 numpy implementation of PyTorch's equations (outputs, final states,
gradients by central differences), against ``mindspore.nn.LSTM`` / ``nn.GRU`` (outputs and every
gradient, both execution modes), hand-computed steps, and an export round trip.
"""
import math

import numpy as np
import pytest

import mindspore as ms
from mindspore import nn

from src.layers import GRU, LSTM, conv_impl, layer_impl, resolve_impl
from tests.helpers import raises_one_line

GATES = {LSTM: 4, GRU: 3}


# ---------------------------------------------------------------- numpy reference (PyTorch's equations)

def _sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def _lstm_step(x, h, c, w_ih, w_hh, b_ih, b_hh):
    i, f, g, o = np.split(x @ w_ih.T + b_ih + h @ w_hh.T + b_hh, 4, axis=-1)
    c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
    return _sigmoid(o) * np.tanh(c), c


def _gru_step(x, h, w_ih, w_hh, b_ih, b_hh):
    x_r, x_z, x_n = np.split(x @ w_ih.T + b_ih, 3, axis=-1)
    h_r, h_z, h_n = np.split(h @ w_hh.T + b_hh, 3, axis=-1)
    r, z = _sigmoid(x_r + h_r), _sigmoid(x_z + h_z)
    n = np.tanh(x_n + r * h_n)
    return (1 - z) * n + z * h


def numpy_rnn(kind, params, x, h_0, c_0=None, num_layers=1, bidirectional=False):
    """PyTorch's multi-layer (bi)directional LSTM/GRU on batch-first x (N, T, C), float64.

    ``params``: PyTorch state-dict names -> arrays (no bias entries: no bias).
    Returns (output (N, T, D*H), h_n, c_n) with states (layers*D, N, H); c_n None for a GRU.
    """
    directions = 2 if bidirectional else 1
    layer_in = x.astype(np.float64)
    h_n, c_n = [], []
    for layer in range(num_layers):
        outputs = []
        for direction in range(directions):
            suffix = f'l{layer}' + ('_reverse' if direction else '')
            w_ih, w_hh = params[f'weight_ih_{suffix}'], params[f'weight_hh_{suffix}']
            b_ih = params.get(f'bias_ih_{suffix}', 0.0)
            b_hh = params.get(f'bias_hh_{suffix}', 0.0)
            state = layer * directions + direction
            h = h_0[state].astype(np.float64)
            c = None if c_0 is None else c_0[state].astype(np.float64)
            steps = range(x.shape[1])
            ys = [None] * x.shape[1]
            for t in (reversed(steps) if direction else steps):
                if kind == 'lstm':
                    h, c = _lstm_step(layer_in[:, t], h, c, w_ih, w_hh, b_ih, b_hh)
                else:
                    h = _gru_step(layer_in[:, t], h, w_ih, w_hh, b_ih, b_hh)
                ys[t] = h
            outputs.append(np.stack(ys, 1))
            h_n.append(h)
            c_n.append(c)
        layer_in = np.concatenate(outputs, -1)
    return layer_in, np.stack(h_n), None if c_0 is None else np.stack(c_n)


def pytorch_shapes(gates, input_size, hidden, num_layers, bidirectional, has_bias=True):
    """PyTorch's state-dict names and shapes of nn.LSTM (gates=4) / nn.GRU (gates=3)."""
    shapes = {}
    directions = 2 if bidirectional else 1
    for layer in range(num_layers):
        for direction in range(directions):
            suffix = f'l{layer}' + ('_reverse' if direction else '')
            inputs = input_size if layer == 0 else hidden * directions
            shapes[f'weight_ih_{suffix}'] = (gates * hidden, inputs)
            shapes[f'weight_hh_{suffix}'] = (gates * hidden, hidden)
            if has_bias:
                shapes[f'bias_ih_{suffix}'] = (gates * hidden,)
                shapes[f'bias_hh_{suffix}'] = (gates * hidden,)
    return shapes


# ---------------------------------------------------------------- helpers

def _random_params(shapes, seed):
    rng = np.random.default_rng(seed)
    return {name: rng.uniform(-0.6, 0.6, shape).astype(np.float32) for name, shape in shapes.items()}


def _load(layer, params):
    """Copy a PyTorch-named state dict into the layer through MindSpore's checkpoint loader."""
    not_loaded, unused = ms.load_param_into_net(
        layer, {name: ms.Parameter(ms.Tensor(value), name=name) for name, value in params.items()},
        strict_load=True)
    assert not not_loaded and not unused
    return layer


def _inputs(kind, batch, length, channels, hidden, states, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, length, channels)).astype(np.float32)
    h_0 = rng.standard_normal((states, batch, hidden)).astype(np.float32)
    c_0 = rng.standard_normal((states, batch, hidden)).astype(np.float32) if kind == 'lstm' else None
    return x, h_0, c_0


def _as_ms_states(h_0, c_0):
    return ms.Tensor(h_0) if c_0 is None else (ms.Tensor(h_0), ms.Tensor(c_0))


class _Objective(nn.Cell):
    """sum(output * a) + sum(h_n * b) [+ sum(c_n * c)]: every output element and state counts.

    The initial states are separate arguments: MindSpore returns no gradient for a tuple one."""

    def __init__(self, rnn, cotangents):
        super().__init__()
        self.rnn = rnn
        self.cotangents = [ms.Tensor(c) for c in cotangents]

    def construct(self, x, h_0, c_0=None):
        if c_0 is None:
            out, h_n = self.rnn(x, h_0)
            return (out * self.cotangents[0]).sum() + (h_n * self.cotangents[1]).sum()
        out, (h_n, c_n) = self.rnn(x, (h_0, c_0))
        return ((out * self.cotangents[0]).sum() + (h_n * self.cotangents[1]).sum()
                + (c_n * self.cotangents[2]).sum())


def _cotangents(kind, out_shape, state_shape, seed=2):
    rng = np.random.default_rng(seed)
    count = 3 if kind == 'lstm' else 2
    return [rng.standard_normal(out_shape if i == 0 else state_shape).astype(np.float32)
            for i in range(count)]


def _value_and_grads(rnn, x, h_0, c_0, cotangents):
    """The objective and its gradients: {'x', 'h_0', ['c_0'], parameter names...} -> array."""
    net = _Objective(rnn, cotangents)
    params = rnn.trainable_params()
    inputs = [ms.Tensor(x), ms.Tensor(h_0)] + ([] if c_0 is None else [ms.Tensor(c_0)])
    value, (input_grads, weight_grads) = ms.value_and_grad(
        net, grad_position=tuple(range(len(inputs))), weights=params)(*inputs)
    names = ['x', 'h_0', 'c_0'][:len(inputs)]
    grads = {name: g.asnumpy() for name, g in zip(names, input_grads)}
    for param, grad in zip(params, weight_grads):
        grads[param.name.split('.')[-1]] = grad.asnumpy()
    assert all(grads[name].shape == t.shape for name, t in zip(names, inputs))
    return float(value.asnumpy()), grads


def _build(cls, impl, *args, **kwargs):
    ms.set_seed(0)
    return cls(*args, impl=impl, **kwargs)


# ---------------------------------------------------------------- parameters

@pytest.mark.parametrize('cls', [LSTM, GRU])
@pytest.mark.parametrize('impl', ['gemm', 'native'])
def test_parameter_names_and_shapes_are_pytorchs(cls, impl):
    rnn = cls(5, 7, num_layers=2, bidirectional=True, impl=impl)
    assert {p.name: p.shape for p in rnn.get_parameters()} == pytorch_shapes(GATES[cls], 5, 7, 2, True)
    rnn = cls(5, 7, num_layers=2, has_bias=False, impl=impl)
    assert {p.name: p.shape for p in rnn.get_parameters()} == pytorch_shapes(GATES[cls], 5, 7, 2, False,
                                                                             has_bias=False)


def test_dprnn_checkpoint_keys():
    """Inside a network the names are asteroid's DPRNN keys (shared/reference/keys)."""

    class SingleRNN(nn.Cell):
        def __init__(self):
            super().__init__()
            self.rnn = LSTM(128, 128, bidirectional=True)

    names = {name: tuple(p.shape) for name, p in SingleRNN().parameters_and_names()}
    assert names == {f'rnn.{k}': v for k, v in pytorch_shapes(4, 128, 128, 1, True).items()}
    assert names['rnn.weight_ih_l0_reverse'] == (512, 128) and names['rnn.bias_hh_l0'] == (512,)


@pytest.mark.parametrize('cls', [LSTM, GRU])
def test_initialisation_is_pytorchs_and_follows_the_seed(cls):
    hidden = 16
    bound = 1 / math.sqrt(hidden)
    ms.set_seed(5)
    first = [p.asnumpy() for p in cls(8, hidden, bidirectional=True).get_parameters()]
    ms.set_seed(5)
    again = [p.asnumpy() for p in cls(8, hidden, bidirectional=True).get_parameters()]
    ms.set_seed(6)
    other = [p.asnumpy() for p in cls(8, hidden, bidirectional=True).get_parameters()]
    values = np.concatenate([v.ravel() for v in first])
    assert np.abs(values).max() <= bound
    assert np.abs(values).max() > 0.99 * bound                      # fills the interval
    assert abs(values.std() - bound / math.sqrt(3)) < 0.05 * bound   # uniform, not normal
    for a, b, c in zip(first, again, other):
        np.testing.assert_array_equal(a, b)
        assert not np.allclose(a, c)
    # every tensor drawn separately
    assert not np.allclose(first[0][:, :8], first[1][:, :8])


# ---------------------------------------------------------------- equations

@pytest.mark.parametrize('impl', ['gemm', 'native'])
def test_lstm_single_step_by_hand(impl):
    """H = C = 1, weights 0, bias only on the cell gate g (the third block): i = f = o = 1/2,
    g = tanh(1), so c = c_0 / 2 + tanh(1) / 2 and h = tanh(c) / 2. Another gate order gives
    g = tanh(0) = 0."""
    rnn = LSTM(1, 1, impl=impl)
    params = {name: np.zeros(shape, np.float32) for name, shape in pytorch_shapes(4, 1, 1, 1, False).items()}
    params['bias_ih_l0'] = np.array([0, 0, 1, 0], np.float32)
    _load(rnn, params)
    c_0 = 0.8
    out, (h_n, c_n) = rnn(ms.Tensor([[[3.0]]]), (ms.Tensor([[[0.4]]]), ms.Tensor([[[c_0]]])))
    c = c_0 / 2 + math.tanh(1) / 2
    np.testing.assert_allclose(c_n.asnumpy().ravel(), [c], rtol=1e-6)
    np.testing.assert_allclose(out.asnumpy().ravel(), [math.tanh(c) / 2], rtol=1e-6)
    np.testing.assert_allclose(h_n.asnumpy().ravel(), [math.tanh(c) / 2], rtol=1e-6)


@pytest.mark.parametrize('impl', ['gemm', 'native'])
def test_gru_single_step_by_hand(impl):
    """H = C = 1: W_hn = 0.5, b_hn = 1, x-weights 0 except b_in = 0.25, r and z biases 0, so
    r = z = sigmoid(0) = 1/2 at h_0 = 0... with h_0 = 2: r and z see W_hr h_0 = W_hz h_0 = 0.
    PyTorch: n = tanh(b_in + r * (W_hn h_0 + b_hn)) = tanh(0.25 + 0.5 * 2) = tanh(1.25);
    h = (1 - z) n + z h_0 = tanh(1.25) / 2 + 1. (The reset-before-product form would give
    tanh(0.25 + W_hn (r h_0) + b_hn) = tanh(1.75).)"""
    rnn = GRU(1, 1, impl=impl)
    params = {name: np.zeros(shape, np.float32) for name, shape in pytorch_shapes(3, 1, 1, 1, False).items()}
    params['weight_hh_l0'] = np.array([[0], [0], [0.5]], np.float32)
    params['bias_hh_l0'] = np.array([0, 0, 1], np.float32)
    params['bias_ih_l0'] = np.array([0, 0, 0.25], np.float32)
    _load(rnn, params)
    out, h_n = rnn(ms.Tensor([[[3.0]]]), ms.Tensor([[[2.0]]]))
    want = math.tanh(1.25) / 2 + 1
    np.testing.assert_allclose(out.asnumpy().ravel(), [want], rtol=1e-6)
    np.testing.assert_allclose(h_n.asnumpy().ravel(), [want], rtol=1e-6)


CASES = [   # (num_layers, bidirectional, has_bias, batch_first)
    (1, False, True, True),
    (1, True, True, False),
    (2, True, True, True),
    (2, False, False, True),
]


@pytest.mark.parametrize('cls', [LSTM, GRU])
@pytest.mark.parametrize('impl', ['gemm', 'native'])
@pytest.mark.parametrize('layers,bidirectional,has_bias,batch_first', CASES)
def test_matches_numpy_reference(cls, impl, layers, bidirectional, has_bias, batch_first, mode):
    kind = cls.__name__.lower()
    batch, length, channels, hidden = 3, 5, 4, 6                       # odd sizes
    directions = 2 if bidirectional else 1
    shapes = pytorch_shapes(GATES[cls], channels, hidden, layers, bidirectional, has_bias)
    params = _random_params(shapes, seed=layers + 2 * bidirectional)
    rnn = _load(cls(channels, hidden, num_layers=layers, has_bias=has_bias, batch_first=batch_first,
                    bidirectional=bidirectional, impl=impl), params)
    x, h_0, c_0 = _inputs(kind, batch, length, channels, hidden, layers * directions)
    want_out, want_h, want_c = numpy_rnn(kind, params, x, h_0, c_0, layers, bidirectional)
    x_in = x if batch_first else x.transpose(1, 0, 2)
    out, states = rnn(ms.Tensor(x_in), _as_ms_states(h_0, c_0))
    out = out.asnumpy() if batch_first else out.asnumpy().transpose(1, 0, 2)
    np.testing.assert_allclose(out, want_out, atol=2e-6)
    if kind == 'lstm':
        np.testing.assert_allclose(states[0].asnumpy(), want_h, atol=2e-6)
        np.testing.assert_allclose(states[1].asnumpy(), want_c, atol=2e-6)
    else:
        np.testing.assert_allclose(states.asnumpy(), want_h, atol=2e-6)


@pytest.mark.parametrize('cls', [LSTM, GRU])
def test_default_states_are_zeros(cls):
    kind = cls.__name__.lower()
    rnn = _build(cls, 'gemm', 4, 6, bidirectional=True)
    params = {p.name: p.asnumpy() for p in rnn.get_parameters()}
    x = np.random.default_rng(3).standard_normal((2, 5, 4)).astype(np.float32)
    zeros = np.zeros((2, 2, 6), np.float32)
    want_out, want_h, _ = numpy_rnn(kind, params, x, zeros, zeros if kind == 'lstm' else None,
                                    1, True)
    out, states = rnn(ms.Tensor(x))
    np.testing.assert_allclose(out.asnumpy(), want_out, atol=2e-6)
    np.testing.assert_allclose((states[0] if kind == 'lstm' else states).asnumpy(), want_h, atol=2e-6)


# ---------------------------------------------------------------- gradients

@pytest.mark.parametrize('cls', [LSTM, GRU])
@pytest.mark.parametrize('layers,bidirectional,has_bias,batch_first', CASES)
def test_gradients_equal_mindspore_cells(cls, layers, bidirectional, has_bias, batch_first, mode):
    """Output, final states and the gradients with respect to the input, the initial states
    and every parameter equal those of nn.LSTM / nn.GRU with the same weights."""
    kind = cls.__name__.lower()
    batch, length, channels, hidden = 3, 5, 4, 6
    directions = 2 if bidirectional else 1
    kwargs = dict(num_layers=layers, has_bias=has_bias, batch_first=batch_first,
                  bidirectional=bidirectional)
    gemm = _build(cls, 'gemm', channels, hidden, **kwargs)
    native = _load(_build(cls, 'native', channels, hidden, **kwargs),
                   {p.name: p.asnumpy() for p in gemm.get_parameters()})
    x, h_0, c_0 = _inputs(kind, batch, length, channels, hidden, layers * directions)
    if not batch_first:
        x = x.transpose(1, 0, 2)
    cotangents = _cotangents(kind, x.shape[:2] + (directions * hidden,), h_0.shape)
    got_value, got = _value_and_grads(gemm, x, h_0, c_0, cotangents)
    want_value, want = _value_and_grads(native, x, h_0, c_0, cotangents)
    assert sorted(got) == sorted(want) == sorted(['x', 'h_0'] + (['c_0'] if c_0 is not None else [])
                                                  + list(pytorch_shapes(GATES[cls], channels, hidden,
                                                                        layers, bidirectional, has_bias)))
    np.testing.assert_allclose(got_value, want_value, rtol=1e-5)
    for name in want:
        np.testing.assert_allclose(got[name], want[name], atol=1e-5, rtol=1e-5, err_msg=name)


@pytest.mark.parametrize('cls', [LSTM, GRU])
@pytest.mark.parametrize('impl', ['gemm', 'native'])
def test_gradients_match_central_differences_of_numpy_reference(cls, impl):
    """Gradients independent of MindSpore: central differences of the float64 reference."""
    kind = cls.__name__.lower()
    batch, length, channels, hidden, layers = 2, 4, 3, 5, 2
    shapes = pytorch_shapes(GATES[cls], channels, hidden, layers, True)
    params = _random_params(shapes, seed=7)
    rnn = _load(cls(channels, hidden, num_layers=layers, bidirectional=True, impl=impl), params)
    x, h_0, c_0 = _inputs(kind, batch, length, channels, hidden, 2 * layers)
    cotangents = _cotangents(kind, (batch, length, 2 * hidden), h_0.shape)
    _, grads = _value_and_grads(rnn, x, h_0, c_0, cotangents)

    def objective(values):
        out, h_n, c_n = numpy_rnn(kind, {k: v for k, v in values.items() if k in shapes},
                                  values['x'], values['h_0'], values.get('c_0'), layers, True)
        total = (out * cotangents[0]).sum() + (h_n * cotangents[1]).sum()
        return total + ((c_n * cotangents[2]).sum() if c_n is not None else 0.0)

    values = {k: v.astype(np.float64) for k, v in params.items()}
    values.update(x=x.astype(np.float64), h_0=h_0.astype(np.float64))
    if c_0 is not None:
        values['c_0'] = c_0.astype(np.float64)
    rng, eps = np.random.default_rng(8), 1e-5
    assert sorted(grads) == sorted(values)
    for name, value in values.items():
        for flat in rng.choice(value.size, size=min(4, value.size), replace=False):
            index = np.unravel_index(flat, value.shape)
            saved = value[index]
            value[index] = saved + eps
            up = objective(values)
            value[index] = saved - eps
            down = objective(values)
            value[index] = saved
            np.testing.assert_allclose(grads[name][index], (up - down) / (2 * eps), atol=2e-5,
                                       rtol=1e-4, err_msg=f'{name}{index}')


def test_dropout_between_layers_in_training_only():
    ms.set_seed(0)
    rnn = LSTM(4, 6, num_layers=2, dropout=0.5, impl='gemm')
    plain = _load(LSTM(4, 6, num_layers=2, impl='gemm'), {p.name: p.asnumpy() for p in rnn.get_parameters()})
    x = ms.Tensor(np.random.default_rng(0).standard_normal((3, 5, 4)).astype(np.float32))
    rnn.set_train(False)
    np.testing.assert_allclose(rnn(x)[0].asnumpy(), plain(x)[0].asnumpy(), atol=1e-6)
    rnn.set_train(True)
    assert not np.allclose(rnn(x)[0].asnumpy(), plain(x)[0].asnumpy(), atol=1e-3)


# ---------------------------------------------------------------- implementation choice and export

def test_impl_choice_follows_the_layer_impl_mechanism():
    assert ms.get_context('device_target') == 'CPU' and resolve_impl('auto') == 'gemm'
    assert LSTM(2, 3).impl == 'gemm' and GRU(2, 3).impl == 'gemm'
    with layer_impl('native'):
        assert LSTM(2, 3).impl == 'native' and GRU(2, 3).impl == 'native'
        assert GRU(2, 3, impl='gemm').impl == 'gemm'
    with conv_impl('native'):                 # the older name sets the same override
        assert LSTM(2, 3).impl == 'native'
    assert LSTM(2, 3).impl == 'gemm'
    raises_one_line(ValueError, lambda: LSTM(2, 3, impl='fast'), 'LSTM', "'gemm'")
    raises_one_line(ValueError, lambda: GRU(2, 3, impl='cudnn'), 'GRU', "'native'")


class _Tagger(nn.Cell):
    def __init__(self, cls, impl):
        super().__init__()
        self.rnn = cls(4, 5, num_layers=2, bidirectional=True, impl=impl)
        self.head = nn.Dense(10, 3)

    def construct(self, x):
        return self.head(self.rnn(x)[0])


@pytest.fixture
def graph_mode():
    ms.set_context(mode=ms.GRAPH_MODE)
    yield
    ms.set_context(mode=ms.PYNATIVE_MODE)


@pytest.mark.parametrize('cls,impl,shape', [
    (LSTM, 'gemm', [None, None, 4]),
    (LSTM, 'native', [None, None, 4]),
    (GRU, 'gemm', [None, 6, 4]),        # the GRU's CPU path unrolls time: a free batch only
])
def test_export_round_trip(tmp_path, graph_mode, cls, impl, shape):
    ms.set_seed(0)
    net = _Tagger(cls, impl)
    net.set_train(False)
    path = str(tmp_path / 'tagger')
    ms.export(net, ms.Tensor(shape=shape, dtype=ms.float32), file_name=path, file_format='MINDIR')
    loaded = nn.GraphCell(ms.load(path + '.mindir'))
    lengths = (6, 9) if shape[1] is None else (6, 6)
    for batch, length in zip((3, 2), lengths):   # a second batch size through the same graph
        x = ms.Tensor(np.random.default_rng(batch).standard_normal((batch, length, 4)).astype(np.float32))
        want = net(x).asnumpy()
        got = loaded(x).asnumpy()
        assert got.shape == want.shape == (batch, length, 3)
        np.testing.assert_allclose(got, want, atol=1e-6)


def test_gru_gemm_export_with_a_free_length_names_the_fix(tmp_path, graph_mode):
    """Graph mode appends MindSpore's trace to the message; src.inference.export reports the
    first line."""
    net = _Tagger(GRU, 'gemm')
    with pytest.raises(ValueError) as info:
        ms.export(net, ms.Tensor(shape=[None, None, 4], dtype=ms.float32),
                  file_name=str(tmp_path / 'gru'), file_format='MINDIR')
    first = str(info.value).strip().splitlines()[0]
    for part in ('GRU', 'known when the graph is compiled', 'export with a fixed length'):
        assert part in first, first
