"""One rank of the data-parallel test (run under msrun by test_data_parallel.py)."""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def main(out_dir):
    from src.config import build_config
    from src.distributed import init_distributed
    from src.engine.trainer import Trainer
    from src.recipes import get_recipe
    from src.runtime import set_up_runtime
    from tests.engine.toy import register_toy
    set_up_runtime('CPU', 'graph', threads=1)
    rank, world = init_distributed('CPU')
    register_toy()
    cfg = build_config({'model': {'name': 'toy_regression'}, 'optim': {'lr': 0.05},
                        'schedule': {'name': 'constant'},
                        'train': {'epochs': 1, 'batch_size': 4, 'num_workers': 0, 'eval_every': 0},
                        'run_dir': os.path.join(out_dir, 'run')})
    trainer = Trainer(cfg, get_recipe('toy_regression'), cfg.run_dir, rank, world).build()
    state = trainer.fit()
    params = {p.name: p.asnumpy() for p in trainer.network.get_parameters()}
    np.savez(os.path.join(out_dir, f'rank_{rank}_of_{world}.npz'), steps=state['step'], **params)


if __name__ == '__main__':
    main(sys.argv[1])
