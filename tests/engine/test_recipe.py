"""Pretrained loading (src.engine.recipe.load_matching, Recipe.load_pretrained): the required
prefix loads completely or not at all; outside it, what does not fit is left and reported."""
import numpy as np
import pytest

from src.checkpoint import save_params
from src.engine.recipe import Recipe, load_matching
from src.errors import CheckpointError


def classifier(classes=3):
    """backbone (two dense layers) + head, as the fine-tuned models are built."""
    from mindspore import nn

    class Backbone(nn.Cell):
        def __init__(self):
            super().__init__()
            self.dense1 = nn.Dense(4, 6)
            self.dense2 = nn.Dense(6, 5)

    class Classifier(nn.Cell):
        def __init__(self):
            super().__init__()
            self.backbone = Backbone()
            self.head = nn.Dense(5, classes)

    return Classifier()


def state_of(net):
    return {name: p.asnumpy().copy() for name, p in net.parameters_and_names()}


def test_one_fitting_tensor_is_refused_and_nothing_changes():
    net = classifier()
    before = state_of(net)
    one = {'backbone.dense1.weight': np.ones((6, 4), np.float32)}
    with pytest.raises(CheckpointError) as info:
        load_matching(net, one, 'one.ckpt', must_fill='backbone.')
    message = str(info.value)
    assert '\n' not in message
    assert "3 of 4 parameters under 'backbone.' do not load" in message
    assert 'missing: backbone.dense1.bias, backbone.dense2.weight, backbone.dense2.bias' in message
    for name, value in state_of(net).items():
        np.testing.assert_array_equal(value, before[name])
    # the whole network required ('' prefix): the head counts too
    with pytest.raises(CheckpointError, match='5 of 6 parameters do not load'):
        load_matching(net, one, 'one.ckpt')


def test_full_backbone_with_another_head_loads_and_reports_the_head():
    pretrained = classifier(classes=10)
    state = state_of(pretrained)
    state['extra.running_step'] = np.zeros(1, np.float32)       # a name the network lacks: ignored
    net = classifier(classes=3)
    head_before = net.head.weight.asnumpy().copy()
    left = load_matching(net, state, 'pretrained.ckpt', must_fill='backbone.')
    assert left == ['head.weight', 'head.bias']
    for name, value in state_of(net).items():
        if name.startswith('backbone.'):
            np.testing.assert_array_equal(value, state[name])
    np.testing.assert_array_equal(net.head.weight.asnumpy(), head_before)
    # a head of the same size loads too
    same = classifier(classes=10)
    assert load_matching(same, state, 'pretrained.ckpt', must_fill='backbone.') == []
    np.testing.assert_array_equal(same.head.weight.asnumpy(), state['head.weight'])


def test_a_misshaped_required_parameter_is_named_with_both_shapes():
    net = classifier()
    state = state_of(classifier())
    state['backbone.dense2.weight'] = np.zeros((5, 7), np.float32)
    with pytest.raises(CheckpointError) as info:
        load_matching(net, state, 'other.ckpt', must_fill='backbone.', hint='same widths?')
    assert "1 of 4 parameters under 'backbone.' do not load" in str(info.value)
    assert 'backbone.dense2.weight (5, 7) vs (5, 6)' in str(info.value)
    assert str(info.value).endswith('(same widths?)')
    # a head prefix inside the required one may differ
    state = state_of(classifier())
    state['backbone.dense2.bias'] = np.zeros(9, np.float32)
    assert load_matching(net, state, 'other.ckpt', must_fill='backbone.',
                         may_skip=('backbone.dense2.bias',)) == ['backbone.dense2.bias']


def test_a_file_of_another_model_is_refused():
    with pytest.raises(CheckpointError, match='no parameter fits the network'):
        load_matching(classifier(), {'encoder.weight': np.zeros(3, np.float32)}, 'x.ckpt',
                      must_fill='backbone.')


def test_recipe_load_pretrained_states_its_prefix(tmp_path):
    class WholeNetwork(Recipe):
        pass

    class BackboneOnly(Recipe):
        pretrained_prefix = 'backbone.'

    path = str(tmp_path / 'run.ckpt')
    # a training checkpoint: the network's parameters under 'network.', the head of another size
    save_params({'network.' + k: v for k, v in state_of(classifier(classes=10)).items()}, path)
    assert BackboneOnly(classifier).load_pretrained(classifier(), path) == ['head.weight', 'head.bias']
    with pytest.raises(CheckpointError, match=r'2 of 6 parameters do not load.*shape mismatch'):
        WholeNetwork(classifier).load_pretrained(classifier(), path)
