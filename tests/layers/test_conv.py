"""The gemm path of src.layers equals MindSpore's own convolution kernels.

Every case builds the layer twice (impl='gemm' and impl='native') with the same weights and
compares outputs and gradients with respect to input, weight and bias.
"""
import itertools
import random

import numpy as np
import pytest

import mindspore as ms
from mindspore import nn

from src.layers import Conv1d, Conv1dTranspose, Conv2d, same_padding

ATOL = 2e-5


def _grid_1d():
    """Conv1d cases: the full grid of kernel x stride x dilation x groups (the other arguments
    drawn with a fixed seed), plus the edge cases that matter."""
    rng = random.Random(0)
    cases = []
    for kernel, stride, dilation, group in itertools.product((1, 2, 3, 4, 5, 16), (1, 2, 3, 8),
                                                              (1, 2, 4), (1, 2, 4)):
        pad_mode = rng.choice(('same', 'valid', 'pad'))
        padding_mode = rng.choice(('zeros', 'reflect')) if pad_mode != 'valid' else 'zeros'
        padding = rng.randint(0, 3) if pad_mode == 'pad' else 0
        effective = dilation * (kernel - 1) + 1
        length = effective + rng.randint(0, 9) * 2 + 1                   # odd lengths
        if padding_mode == 'reflect':                                    # reflect needs pad < length
            length = max(length, effective + 1)
        cases.append(dict(kernel=kernel, stride=stride, dilation=dilation, group=group,
                          pad_mode=pad_mode, padding=padding, padding_mode=padding_mode,
                          length=length, batch=rng.choice((1, 3)), has_bias=rng.random() < 0.5))
    cases += [  # wav2vec2 positional convolution (k=128, groups), 'same' with even kernels, odd strides
        dict(kernel=128, stride=1, dilation=1, group=4, pad_mode='pad', padding=64,
             padding_mode='zeros', length=37, batch=1, has_bias=True),
        dict(kernel=128, stride=3, dilation=1, group=2, pad_mode='valid', padding=0,
             padding_mode='zeros', length=131, batch=3, has_bias=False),
        dict(kernel=4, stride=1, dilation=3, group=1, pad_mode='same', padding=0,
             padding_mode='reflect', length=17, batch=3, has_bias=True),
        dict(kernel=6, stride=5, dilation=1, group=2, pad_mode='same', padding=0,
             padding_mode='zeros', length=23, batch=1, has_bias=True),
        dict(kernel=10, stride=5, dilation=1, group=1, pad_mode='valid', padding=0,
             padding_mode='zeros', length=401, batch=3, has_bias=False),
        dict(kernel=3, stride=7, dilation=2, group=4, pad_mode='pad', padding=5,
             padding_mode='reflect', length=19, batch=3, has_bias=True),
    ]
    return cases


def _copy_params(src, dst):
    for (_, p), (_, q) in zip(src.parameters_and_names(), dst.parameters_and_names()):
        q.set_data(p.data.copy())


def _outputs_and_grads(layer, x):
    out = layer(x)
    # A random cotangent, so that every output element's gradient is checked, not just their sum.
    cot = ms.Tensor(np.random.default_rng(1).standard_normal(out.shape), out.dtype)

    class Dot(nn.Cell):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def construct(self, x):
            return (self.inner(x) * cot).sum()

    grads = ms.grad(Dot(layer), grad_position=0, weights=layer.trainable_params())(x)
    return [out.asnumpy(), grads[0].asnumpy()] + [g.asnumpy() for g in grads[1]]


def _compare(cls, args, kwargs, shape):
    ms.set_seed(0)
    gemm = cls(*args, impl='gemm', **kwargs)
    native = cls(*args, impl='native', **kwargs)
    _copy_params(gemm, native)
    x = ms.Tensor(np.random.default_rng(0).standard_normal(shape).astype(np.float32))
    got, want = _outputs_and_grads(gemm, x), _outputs_and_grads(native, x)
    names = ['output', 'd input'] + [n for n, _ in gemm.parameters_and_names()]
    assert len(got) == len(want)
    for name, g, w in zip(names, got, want):
        assert g.shape == w.shape, f"{name}: shape {g.shape} != native {w.shape}"
        scale = max(1.0, float(np.abs(w).max()))
        np.testing.assert_allclose(g, w, atol=ATOL * scale, rtol=1e-4, err_msg=name)


def _case_id(case):
    return '-'.join(f'{k[:3]}{v}' for k, v in case.items())


@pytest.mark.parametrize('case', _grid_1d(), ids=_case_id)
def test_conv1d_gemm_equals_native(case):
    _compare_conv1d(case)


@pytest.mark.parametrize('case', _grid_1d()[::12], ids=_case_id)
def test_conv1d_gemm_equals_native_in_graph_mode(case, graph_only):
    _compare_conv1d(case)


@pytest.fixture
def graph_only():
    ms.set_context(mode=ms.GRAPH_MODE)
    yield
    ms.set_context(mode=ms.PYNATIVE_MODE)


def _compare_conv1d(case):
    channels_in, channels_out = 2 * case['group'], 3 * case['group']
    args = (channels_in, channels_out, case['kernel'])
    kwargs = dict(stride=case['stride'], dilation=case['dilation'], group=case['group'],
                  pad_mode=case['pad_mode'], padding=case['padding'],
                  padding_mode=case['padding_mode'], has_bias=case['has_bias'])
    _compare(Conv1d, args, kwargs, (case['batch'], channels_in, case['length']))


CONV2D_CASES = [
    # (kernel, stride, dilation, group, pad_mode, padding, padding_mode, (H, W), batch, bias)
    (3, 1, 1, 1, 'pad', 1, 'zeros', (9, 7), 3, True),            # PANNs 3x3
    (5, 1, 1, 1, 'pad', 2, 'zeros', (11, 8), 1, False),          # PANNs 5x5
    (3, 1, 1, 2, 'same', 0, 'zeros', (9, 6), 3, True),
    ((3, 2), (2, 1), 1, 1, 'pad', (1, 2, 0, 1), 'zeros', (9, 7), 3, False),  # asymmetric padding
    (4, 3, 2, 1, 'same', 0, 'zeros', (13, 11), 1, True),         # even kernel, stride, dilation
    ((2, 5), (1, 3), (2, 1), 4, 'same', 0, 'reflect', (9, 13), 3, True),
    (3, 2, 1, 1, 'pad', (2, 1, 1, 3), 'reflect', (8, 9), 1, False),
    (1, 1, 1, 1, 'valid', 0, 'zeros', (5, 6), 3, True),
    (7, 4, 1, 2, 'valid', 0, 'zeros', (15, 17), 3, True),
    # kernels several rows high with row stride 1 and one group take the row-tap path
    ((3, 2), (1, 2), (2, 1), 1, 'pad', (2, 1, 0, 1), 'zeros', (10, 9), 3, True),
    ((4, 1), 1, (3, 1), 1, 'same', 0, 'reflect', (13, 5), 1, False),
    ((2, 3), (1, 3), 1, 1, 'valid', 0, 'zeros', (6, 11), 3, False),
    ((3, 3), 1, (1, 2), 1, 'same', 0, 'zeros', (8, 13), 3, True),
    # row stride >= kernel rows: no rows shared between samples (2x2 stride 2, 1x1 stride 2)
    (2, 2, 1, 1, 'valid', 0, 'zeros', (9, 8), 3, True),
    (1, 2, 1, 2, 'valid', 0, 'zeros', (7, 7), 3, False),
    # reflect with a row stride
    (3, (2, 1), 1, 1, 'same', 0, 'reflect', (10, 6), 3, True),
]
# channels (in, out) per case; the row-tap cases need in * kw + out * kh < in * kh * kw
CONV2D_CHANNELS = [(2, 3)] * 9 + [(4, 3), (6, 2), (5, 4), (4, 3), (2, 3), (2, 3), (2, 3)]


@pytest.mark.parametrize('case', CONV2D_CASES, ids=lambda c: '-'.join(map(str, c)))
def test_conv2d_gemm_equals_native(case):
    kernel, stride, dilation, group, pad_mode, padding, padding_mode, hw, batch, bias = case
    channels_in, channels_out = CONV2D_CHANNELS[CONV2D_CASES.index(case)]
    channels_in, channels_out = channels_in * group, channels_out * group
    _compare(Conv2d, (channels_in, channels_out, kernel),
             dict(stride=stride, dilation=dilation, group=group, pad_mode=pad_mode, padding=padding,
                  padding_mode=padding_mode, has_bias=bias), (batch, channels_in) + hw)


TRANSPOSE_CASES = [
    # (kernel, stride, dilation, group, pad_mode, padding, length, batch, bias)
    (16, 8, 1, 1, 'valid', 0, 37, 3, False),    # DPRNN decoder
    (16, 8, 1, 1, 'same', 0, 21, 1, True),
    (5, 2, 1, 1, 'pad', 2, 11, 3, True),
    (2, 3, 1, 1, 'valid', 0, 9, 3, False),      # kernel shorter than stride: zeros appended
    (2, 5, 1, 1, 'same', 0, 9, 1, True),
    (3, 2, 2, 2, 'same', 0, 10, 3, True),
    (4, 1, 3, 1, 'pad', 1, 13, 1, False),
    (1, 1, 1, 4, 'valid', 0, 8, 3, True),
    (4, 2, 1, 2, 'pad', 1, 9, 3, True),        # groups with padding
    (2, 4, 1, 1, 'pad', 1, 7, 1, False),       # kernel shorter than the stride, padded
    (3, 2, 3, 1, 'valid', 0, 6, 3, True),      # dilation
]


@pytest.mark.parametrize('case', TRANSPOSE_CASES, ids=lambda c: '-'.join(map(str, c)))
def test_conv1d_transpose_gemm_equals_native(case):
    kernel, stride, dilation, group, pad_mode, padding, length, batch, bias = case
    channels_in = 2 * group
    _compare(Conv1dTranspose, (channels_in, 3 * group, kernel),
             dict(stride=stride, dilation=dilation, group=group, pad_mode=pad_mode, padding=padding,
                  has_bias=bias), (batch, channels_in, length))


@pytest.mark.parametrize('cls,args,kwargs,shape', [
    (Conv1d, (4, 6, 3), dict(stride=2, pad_mode='same', padding_mode='reflect', has_bias=True),
     (3, 4, 15)),
    (Conv2d, (4, 6, 3), dict(pad_mode='pad', padding=1, group=2, has_bias=True), (2, 4, 9, 7)),
    (Conv2d, (4, 6, 3), dict(pad_mode='pad', padding=1, has_bias=True), (2, 4, 9, 7)),
    (Conv2d, (4, 6, (5, 3)), dict(pad_mode='same', dilation=(2, 1), stride=(1, 2)), (3, 4, 11, 7)),
    (Conv1dTranspose, (4, 2, 16), dict(stride=8, pad_mode='valid'), (2, 4, 11)),
])
def test_graph_and_pynative_agree_with_native(mode, cls, args, kwargs, shape):
    _compare(cls, args, kwargs, shape)


def test_same_padding_matches_mindspore_convention():
    # hand-computed: L=10, k=4, s=3 -> L_out=4, total=(4-1)*3+4-10=3 -> (1, 2)
    assert same_padding(10, 4, 3, 1) == (1, 2)
    assert same_padding(10, 3, 1, 2) == (2, 2)
    assert same_padding(10, 2, 5, 1) == (0, 0)      # windows fit without padding
    # the branch-free formula against the definition, everywhere on a grid
    for size, kernel, stride, dilation in itertools.product(range(1, 30), range(1, 9), range(1, 9),
                                                            range(1, 4)):
        out = -(-size // stride)
        total = max((out - 1) * stride + dilation * (kernel - 1) + 1 - size, 0)
        assert same_padding(size, kernel, stride, dilation) == (total // 2, total - total // 2)


@pytest.mark.parametrize('cls,args,kwargs,shape', [
    (Conv1d, (4, 6, 3), dict(pad_mode='same', padding_mode='reflect', has_bias=True), (2, 4, 15)),
    (Conv2d, (4, 6, 3), dict(pad_mode='pad', padding=1), (2, 4, 9, 7)),
    (Conv1dTranspose, (4, 2, 16), dict(stride=8, pad_mode='valid'), (2, 4, 11)),
])
def test_float16_gemm_equals_native(cls, args, kwargs, shape):
    ms.set_seed(0)
    gemm = cls(*args, impl='gemm', dtype=ms.float16, **kwargs)
    native = cls(*args, impl='native', dtype=ms.float16, **kwargs)
    _copy_params(gemm, native)
    x = ms.Tensor(np.random.default_rng(0).standard_normal(shape), ms.float16)
    got, want = _outputs_and_grads(gemm, x), _outputs_and_grads(native, x)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype == np.float16
        np.testing.assert_allclose(g.astype(np.float32), w.astype(np.float32), atol=2e-2, rtol=2e-2)
