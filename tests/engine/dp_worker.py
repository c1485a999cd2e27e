"""One rank of the data-parallel test (run under msrun by test_data_parallel.py)."""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def main(out_dir):
    from src.config import build_config
    from src.distributed import gather_to_rank0, init_distributed, shard
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
    # evaluation sharded over the ranks: shares of different sizes (7 rows; 1 row: an empty share)
    rows = np.arange(21, dtype=np.float32).reshape(7, 3) / 7
    gathered = gather_to_rank0({'rows': rows[shard(7, rank, world)], 'ids': shard(7, rank, world)}, rank, world)
    single = gather_to_rank0(np.array([[5.0]])[shard(1, rank, world)], rank, world)
    results = {} if rank else {'gathered.rows': gathered['rows'], 'gathered.ids': gathered['ids'],
                               'gathered.single': single}
    np.savez(os.path.join(out_dir, f'rank_{rank}_of_{world}.npz'), steps=state['step'],
             others_got_none=gathered is None and single is None, **results, **params)


if __name__ == '__main__':
    main(sys.argv[1])
