"""Parameters of src.layers are those of the mindspore.nn cells: names, shapes, checkpoints."""
import numpy as np
import pytest

import mindspore as ms
from mindspore import nn

from src import layers

CELLS = [
    ('Conv1d', (4, 6, 5), dict(stride=2, group=2, has_bias=True), (3, 4, 21)),
    ('Conv1d', (4, 6, 3), dict(pad_mode='pad', padding=1), (3, 4, 21)),
    ('Conv2d', (4, 6, (3, 5)), dict(has_bias=True), (2, 4, 9, 11)),
    ('Conv1dTranspose', (4, 2, 16), dict(stride=8, pad_mode='valid', has_bias=True), (2, 4, 9)),
]


class Holder(nn.Cell):
    """Puts the layer under an attribute name, as inside a real network."""

    def __init__(self, conv):
        super().__init__()
        self.conv = conv

    def construct(self, x):
        return self.conv(x)


def _shapes(net):
    return [(name, tuple(p.shape)) for name, p in net.parameters_and_names()]


@pytest.mark.parametrize('name,args,kwargs,shape', CELLS)
@pytest.mark.parametrize('impl', ['gemm', 'native'])
def test_checkpoint_round_trip_with_mindspore_cell(tmp_path, name, args, kwargs, shape, impl):
    ms.set_seed(0)
    theirs = Holder(getattr(nn, name)(*args, **kwargs))
    ms.set_seed(1)
    ours = Holder(getattr(layers, name)(*args, impl=impl, **kwargs))
    assert _shapes(ours) == _shapes(theirs)
    x = ms.Tensor(np.random.default_rng(0).standard_normal(shape).astype(np.float32))
    assert not np.allclose(ours(x).asnumpy(), theirs(x).asnumpy())   # different seeds

    path = str(tmp_path / 'theirs.ckpt')
    ms.save_checkpoint(theirs, path)
    not_loaded, _ = ms.load_param_into_net(ours, ms.load_checkpoint(path), strict_load=True)
    assert not not_loaded
    np.testing.assert_allclose(ours(x).asnumpy(), theirs(x).asnumpy(), atol=1e-5)

    # and back: our checkpoint into the MindSpore cell
    ms.set_seed(2)
    fresh = Holder(getattr(nn, name)(*args, **kwargs))
    path = str(tmp_path / 'ours.ckpt')
    ms.save_checkpoint(ours, path)
    ms.load_param_into_net(fresh, ms.load_checkpoint(path), strict_load=True)
    np.testing.assert_allclose(fresh(x).asnumpy(), ours(x).asnumpy(), atol=1e-5)


def test_default_initialisation_is_mindspores():
    ms.set_seed(3)
    theirs = nn.Conv1d(8, 16, 3, has_bias=True)
    ms.set_seed(3)
    ours = layers.Conv1d(8, 16, 3, has_bias=True, impl='gemm')
    for (_, p), (_, q) in zip(theirs.parameters_and_names(), ours.parameters_and_names()):
        np.testing.assert_array_equal(p.asnumpy(), q.asnumpy())
