"""Evaluate a checkpoint: ``python eval.py --config configs/ecapa_tdnn/demo.yaml [--checkpoint X.ckpt]``.

Without ``--checkpoint`` the run directory's best checkpoint on validation is used, or its final
one when the run had no validation split (the test set never selects a model); the first line
says which. Prints the model's metrics on the test set (speaker verification: ``EER = x.xx%``
and minDCF) and writes them, with score files and plots, to ``<run_dir>/eval/<checkpoint name>/``
(``eval_summary.json``: the checkpoint, its role and the metrics).
"""
import json
import os

from src.cli import config_parser, load_run_config, run_main, set_up


def main(argv=None):
    p = config_parser(__doc__.splitlines()[0])
    p.add_argument('--checkpoint', help='checkpoint to evaluate (default: best of the run directory)')
    p.add_argument('--out', help='output directory (default <run_dir>/eval/<checkpoint name>)')
    args = p.parse_args(argv)
    cfg = load_run_config(args)
    # under msrun / a rank table every rank evaluates its share, rank 0 scores and prints
    rank, world = set_up(cfg)
    from src.engine.trained_network import describe_checkpoint, find_checkpoint, load_network
    checkpoint = args.checkpoint or find_checkpoint(cfg.run_dir)
    role = describe_checkpoint(checkpoint)
    if rank == 0:
        print(f"checkpoint: {role}: {checkpoint}")
    recipe, network = load_network(cfg, checkpoint)
    from src.checkpoint import file_digest
    name = os.path.splitext(os.path.basename(checkpoint))[0]
    out_dir = args.out or os.path.join(cfg.run_dir, 'eval', name)
    metrics = recipe.evaluate(network, cfg, out_dir, cache_key=file_digest(checkpoint),
                              rank=rank, world=world)
    if rank != 0:
        return metrics
    from src.checkpoint import atomic_write_json
    os.makedirs(out_dir, exist_ok=True)
    atomic_write_json(os.path.join(out_dir, 'eval_summary.json'),
                      {'checkpoint': checkpoint, 'checkpoint_role': role, 'metrics': metrics})
    print(recipe.format_metrics(metrics))
    print(f"metrics, scores and plots: {out_dir}")
    print(json.dumps({'checkpoint': checkpoint, 'checkpoint_role': role, **metrics}))
    return metrics


if __name__ == '__main__':
    run_main(main)
