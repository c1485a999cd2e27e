"""The two sources of a model for inference: an exported MindIR with its JSON sidecar, or a
config with a checkpoint. Both come with the same facts (:func:`src.inference.signature.model_facts`):
task, inputs, outputs, sample rate ...
"""
import argparse
import copy
import json
import os

from ..errors import UserError
from .signature import check_sidecar


def set_up_inference():
    """CPU, graph mode: what every inference command runs on."""
    from ..runtime import set_up_runtime
    set_up_runtime('CPU', 'graph')


def sidecar_path(model):
    """``X.mindir`` -> ``X.json``."""
    return os.path.splitext(model)[0] + '.json'


def read_sidecar(model):
    """The JSON sidecar export.py writes beside ``model``.

    Returns:
        (sidecar dict, sidecar path).

    Raises:
        UserError: the model or its sidecar is missing or unreadable, or the sidecar does not
            state a task and the model's inputs and outputs (written by an older export.py).
    """
    path = sidecar_path(model)
    if not os.path.exists(model):
        raise UserError(f"model not found: {model}")
    if not os.path.exists(path):
        raise UserError(f"{path} not found: export.py writes it beside the MindIR; "
                        "re-export or copy it along")
    try:
        with open(path) as f:
            meta = json.load(f)
    except (OSError, ValueError) as err:
        raise UserError(f"{path}: not a readable JSON sidecar ({str(err).strip()[:100]}); "
                        "re-export the model with export.py") from None
    return check_sidecar(meta, path), path


def load_mindir(model, check=None):
    """An exported MindIR with its sidecar, ready to run.

    Args:
        model: ``.mindir`` path; its sidecar ``.json`` must be beside it.
        check: optional ``check(sidecar, sidecar_path)`` that raises a UserError for a model of
            the wrong kind; called before anything is loaded.

    Returns:
        (``mindspore.nn.GraphCell``, sidecar dict). The dynamic axes of every input (None in
        the sidecar's shapes) are declared, so that inputs of new lengths run without
        recompiling; a fixed-shape model must be fed exactly its inputs' shapes.

    Raises:
        UserError: missing or unreadable files, or ``check``'s objection.
    """
    meta, path = read_sidecar(model)
    if check is not None:
        check(meta, path)
    set_up_inference()
    import mindspore as ms
    import numpy as np
    from mindspore.common.dtype import pytype_to_dtype
    try:
        net = ms.nn.GraphCell(ms.load(model))
    except (RuntimeError, ValueError) as err:
        raise UserError(f"{model}: not a loadable MindIR ({str(err).strip()[:100]}); "
                        "re-export it with export.py") from None
    inputs = meta['inputs']
    if any(None in entry['shape'] for entry in inputs):
        # declare the dynamic axes: otherwise every new length is compiled anew (~1 s)
        net.set_inputs(*[ms.Tensor(shape=entry['shape'], dtype=pytype_to_dtype(np.dtype(entry['dtype']).type))
                         for entry in inputs])
    return net, meta


def load_checkpoint_model(config, checkpoint, check=None):
    """The network of ``config`` with ``checkpoint`` loaded, for inference.

    Args:
        config: a run's YAML config (no overrides).
        checkpoint: a checkpoint of that model.
        check: as for :func:`load_mindir`, given the model's facts and ``config``.

    Returns:
        (recipe, cfg, network, facts): ``facts`` is what a sidecar of its export would say, with
        the recipe's :meth:`~src.engine.recipe.Recipe.export_facts` of ``checkpoint`` (looked
        up in the run directory the checkpoint belongs to, ``<run_dir>/checkpoints/X.ckpt``).
    """
    from ..cli import load_run_config
    from ..engine.trained_network import load_network
    from ..recipes import get_recipe
    from .signature import model_facts
    cfg = load_run_config(argparse.Namespace(config=config, overrides=[]))
    recipe = get_recipe(cfg.model.name)
    facts = model_facts(recipe, cfg)
    if check is not None:
        check(facts, config)
    set_up_inference()
    recipe, network = load_network(cfg, checkpoint)
    # the evaluation of a run's checkpoint is in that run's directory, whatever the config says
    run_cfg = copy.copy(cfg)
    run_cfg.run_dir = os.path.dirname(os.path.dirname(os.path.abspath(checkpoint)))
    facts.update(recipe.export_facts(run_cfg, checkpoint))
    return recipe, cfg, network, facts
