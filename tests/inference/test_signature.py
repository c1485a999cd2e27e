"""Export signatures: every registered model's declaration fits its network, a fixed-length
export's shapes follow the axis names, malformed declarations are refused, and the task check
of ``infer.py``'s sub-commands names the commands that do run a model."""
import numpy as np
import pytest

from src.config import build_config
from src.engine.recipe import Recipe
from src.errors import UserError
from src.inference.signature import check_signature, describe, export_tensors
from src.recipes import get_recipe, load_recipes
from tests.helpers import raises_one_line

# the models that export (test-only recipes registered by other test modules may not)
EXPORTING = [name for name in load_recipes().names()
             if type(get_recipe(name)).export_signature is not Recipe.export_signature]


@pytest.mark.parametrize('name', EXPORTING)
def test_every_model_declares_what_its_network_takes_and_returns(name):
    import mindspore as ms
    recipe = get_recipe(name)
    cfg = build_config({'model': {'name': name, 'args': dict(recipe.tiny_args)}})
    signature = check_signature(recipe.export_signature(cfg), name)
    batch, _ = recipe.example_batch(cfg, 2, np.random.default_rng(0))
    # what is exported (a pretraining network's encoder) takes the declared inputs, batch keys
    net = recipe.inference_network(recipe.build_network(cfg))
    net.set_train(False)
    xs = [batch[entry['name']] for entry in signature['inputs']]
    for x, entry in zip(xs, signature['inputs']):
        assert x.dtype.name == entry['dtype'] and x.ndim == len(entry['axes'])
        assert all(a == d for a, d in zip(entry['axes'], x.shape) if isinstance(a, int))
    outputs = net(*(ms.Tensor(x) for x in xs))
    outputs = outputs if isinstance(outputs, tuple) else (outputs,)
    assert len(outputs) == len(signature['outputs'])
    for y, entry in zip(outputs, signature['outputs']):
        y = y.asnumpy()
        assert y.dtype.name == entry['dtype'] and y.ndim == len(entry['axes']), (entry, y.shape)
        assert [d for a, d in zip(entry['axes'], y.shape) if isinstance(a, int)] == \
            [a for a in entry['axes'] if isinstance(a, int)]
        assert y.shape[entry['axes'].index('batch')] == 2
    # the export's example tensors are the declared inputs, dynamic or fixed
    for length in (None, 123):
        tensors = recipe.export_inputs(cfg, length)
        assert [[None if d < 0 else d for d in t.shape] for t in tensors] == \
            [entry['shape'] for entry in describe(signature, length)['inputs']]


def test_fixed_length_follows_the_axis_names():
    signature = {'task': 'separation',
                 'inputs': [{'name': 'mix', 'dtype': 'float32', 'axes': ['batch', 'samples']},
                            {'name': 'mask', 'dtype': 'bool', 'axes': ['batch', 'samples']}],
                 'outputs': [{'name': 'sources', 'dtype': 'float32', 'axes': ['batch', 2, 'samples']},
                             {'name': 'frames', 'dtype': 'int64', 'axes': ['batch', 'out_frames']}]}
    fixed = describe(signature, 800)
    assert [x['shape'] for x in fixed['inputs']] == [[1, 800], [1, 800]]
    assert [y['shape'] for y in fixed['outputs']] == [[1, 2, 800], [1, None]]    # out_frames: no input has it
    assert [x['shape'] for x in describe(signature)['inputs']] == [[None, None], [None, None]]
    mix, mask = export_tensors(signature, 800)
    assert mix.shape == (1, 800) and mask.asnumpy().dtype == np.bool_
    assert [tuple(t.shape) for t in export_tensors(signature)] == [(-1, -1), (-1, -1)]


@pytest.mark.parametrize('broken, message', [
    ({'inputs': []}, "'inputs' must be a non-empty list"),
    ({'task': ''}, "non-empty 'task'"),
    ({'outputs': [{'name': 'y', 'dtype': 'float32', 'axes': ['batch']}] * 2}, 'repeat'),
    ({'inputs': [{'name': 'a b', 'dtype': 'float32', 'axes': ['batch']}]}, 'not an identifier'),
    ({'inputs': [{'name': 'x', 'dtype': 'complex64', 'axes': ['batch']}]}, "dtype 'complex64'"),
    ({'inputs': [{'name': 'x', 'dtype': 'float32', 'axes': ['batch', 0]}]}, 'must be sizes'),
])
def test_malformed_signatures_are_refused(broken, message):
    good = {'task': 't', 'inputs': [{'name': 'x', 'dtype': 'float32', 'axes': ['batch', 4]}],
            'outputs': [{'name': 'y', 'dtype': 'float32', 'axes': ['batch']}]}
    check_signature(good)
    with pytest.raises(ValueError, match=message):
        check_signature(dict(good, **broken))


def test_a_model_of_another_task_is_refused_naming_the_commands_that_run_it():
    from src.inference.commands import check_task
    check_task({'task': 'classification'}, 'm.json', 'tag')
    raises_one_line(UserError, lambda: check_task({'task': 'classification', 'model': 'panns_cnn6'}, 'm.json', 'embed'),
                    'm.json: panns_cnn6 is a sound classifier, not a speaker embedding model',
                    'run it with `infer.py tag`')
    raises_one_line(UserError, lambda: check_task({'task': 'separation'}, 'm.json', 'verify'),
                    'a source-separation model, not a speaker embedding model', 'run it with `infer.py separate`')
    raises_one_line(UserError, lambda: check_task({'task': 'no such task'}, 'm.json', 'separate'),
                    "a model of task 'no such task'", 'no infer.py sub-command but `bins` runs it')
