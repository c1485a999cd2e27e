"""A trained network out of a run: which checkpoint to take, and the network with it loaded.

``eval.py``, ``export.py`` and ``infer.py --config C --checkpoint X`` all start from here.
"""
import os


def find_checkpoint(run_dir, prefer='best'):
    """best.ckpt of a run directory (``prefer='best'``), else its latest checkpoint.

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
    network = recipe.build_network(cfg)
    load_params_into(network, network_params(read_params(checkpoint)), checkpoint)
    network.set_train(False)
    return recipe, network
