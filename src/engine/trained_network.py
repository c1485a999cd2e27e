"""A trained network out of a run: which checkpoint to take, and the network with it loaded.

``eval.py``, ``export.py`` and ``infer.py --config C --checkpoint X`` all start from here.
"""
import os


def find_checkpoint(run_dir, prefer='best'):
    """best.ckpt of a run directory (``prefer='best'``), else its latest checkpoint.

    The trainer keeps ``best.ckpt`` only when a validation split picked it (the test set never
    selects a model), so a run without one is evaluated and exported at its final checkpoint.

    Raises:
        CheckpointError: the run has no checkpoint.
    """
    from ..checkpoint import CheckpointManager
    from ..errors import CheckpointError
    manager = CheckpointManager(os.path.join(run_dir, 'checkpoints'))
    best = os.path.join(manager.directory, 'best.ckpt')
    if prefer == 'best' and os.path.exists(best):
        return best
    latest = manager.latest()
    if latest is None:
        raise CheckpointError(f"no checkpoint in {manager.directory}: train first or pass --checkpoint")
    return latest[0]


def load_network(cfg, checkpoint):
    """The recipe's network with ``checkpoint`` loaded (a training checkpoint or a bare network),
    in inference mode.

    Returns:
        (recipe, network).
    """
    from ..checkpoint import load_params_into, read_params
    from ..recipes import get_recipe
    from .recipe import network_params
    recipe = get_recipe(cfg.model.name)
    params = network_params(read_params(checkpoint))
    recipe.check_checkpoint(cfg, params, checkpoint)
    network = recipe.build_network(cfg)
    load_params_into(network, params, checkpoint)
    network.set_train(False)
    return recipe, network


def describe_checkpoint(path):
    """Which checkpoint ``path`` is, in words: the best on validation (with its metric), the
    final one of its run, or an earlier step."""
    import json
    folder, name = os.path.split(os.path.abspath(path))
    if name == 'best.ckpt':
        try:
            with open(os.path.join(folder, 'best.json')) as f:
                best = json.load(f)
            return (f"best on validation ({best['metric']} {best['value']:.4g} at update "
                    f"{best.get('step', '?')})")
        except (OSError, ValueError, KeyError):
            return "best on validation"
    try:
        with open(os.path.join(folder, 'latest.json')) as f:
            latest = json.load(f)['latest']
    except (OSError, ValueError, KeyError):
        return "given checkpoint"
    return "final checkpoint of the run" if name == latest + '.ckpt' else "an earlier checkpoint of the run"
