"""Cross-validation: one training run per held-out fold, then the mean of their evaluations.

``python train.py --config configs/panns/esc50_cnn14.yaml --folds all`` trains fold k in
``<run_dir>/fold<k>`` (the same directories ``--fold k`` uses), evaluates each fold's final model
on its held-out fold, and writes ``<run_dir>/crossval.json`` with the per-fold values, their mean
and standard deviation (and what the recipe adds, e.g. a confusion matrix over all folds).

A fold is judged by its final model, not by ``best.ckpt``: with no separate validation set the
best checkpoint is picked on the test fold itself, which would flatter the result. A finished
fold leaves ``fold_result.json``; running the command again (with ``--resume`` for a fold that
was interrupted) skips the finished folds.
"""
import copy
import json
import os
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from ..checkpoint import atomic_write_json
from ..errors import ConfigError, UserError


@dataclass(frozen=True)
class Folds:
    """A recipe's cross-validation: the folds, the ``data`` field that holds the test fold out,
    and an optional ``summarize(fold_results, out_dir) -> dict`` of extra JSON-able facts over
    all folds (e.g. a confusion matrix summed over them) from the
    ``{fold: {'metrics': ..., 'eval_dir': ...}}`` of every fold."""
    values: tuple
    key: str
    summarize: Optional[Callable] = None


def parse_folds(text, recipe, model):
    """``'all'`` or a comma-separated list (``'1,3'``) -> the folds to run, checked."""
    if not recipe.folds:
        raise ConfigError(f"--folds: model {model} has no cross-validation folds")
    values = recipe.folds.values
    if text.strip().lower() == 'all':
        return list(values)
    try:
        folds = [int(part) for part in text.split(',') if part.strip()]
    except ValueError:
        raise ConfigError(f"--folds {text!r}: give 'all' or fold numbers such as 1,2,3") from None
    bad = [k for k in folds if k not in values]
    if bad or not folds:
        raise ConfigError(f"--folds {text!r}: the folds of {model} are "
                          f"{', '.join(map(str, values))}")
    return sorted(set(folds))


def summarize(results, metric, direction='max'):
    """Per-fold values, mean and standard deviation (over folds, ddof 0) of every numeric metric.

    Args:
        results: {fold: {'metrics': {name: value}, ...}}.
        metric: the main metric (listed first in the printed line).
        direction: the main metric's direction ('min'/'max'); the best and worst fold follow it.
    """
    folds = sorted(results)
    summary = {'metric': metric, 'direction': direction, 'folds': folds, 'per_fold': {},
               'mean': {}, 'std': {}}
    names = [n for n, v in results[folds[0]]['metrics'].items()
             if isinstance(v, (int, float)) and not isinstance(v, bool) and n != 'fold']
    for name in names:
        values = [float(results[k]['metrics'][name]) for k in folds if name in results[k]['metrics']]
        if len(values) != len(folds):
            continue
        summary['per_fold'][name] = dict(zip(map(str, folds), values))
        summary['mean'][name] = float(np.mean(values))
        summary['std'][name] = float(np.std(values))
    values = summary['per_fold'].get(metric)
    if values:
        order = sorted(values, key=values.get, reverse=direction == 'max')
        summary['best_fold'], summary['worst_fold'] = int(order[0]), int(order[-1])
    return summary


def format_summary(summary):
    """``Accuracy = 0.9500 +- 0.0100 (mean over folds 1, 2, 3, 4, 5; per fold: ...)``."""
    metric = summary['metric']
    per_fold = summary['per_fold'].get(metric, {})
    folds = ', '.join(per_fold)
    values = '  '.join(f"{k}: {v:.4f}" for k, v in per_fold.items())
    return (f"{metric.replace('_', ' ').capitalize()} = {summary['mean'][metric]:.4f} "
            f"+- {summary['std'][metric]:.4f} (mean over folds {folds}; per fold  {values})")


def config_digest(cfg):
    """A digest of what decides a fold's result: the config without run directory and runtime."""
    import hashlib
    from ..config import to_dict
    tree = {k: v for k, v in to_dict(cfg).items() if k not in ('run_dir', 'runtime')}
    return hashlib.sha256(json.dumps(tree, sort_keys=True, default=str).encode()).hexdigest()[:16]


def cross_validate(cfg, recipe, folds, rank=0, world=1, resume=False):
    """Train and evaluate every fold of ``folds`` in ``<cfg.run_dir>/fold<k>``.

    Returns:
        the summary dict (also written to ``<run_dir>/crossval.json``) on rank 0, None on the
        other ranks.
    """
    from ..cli import set_fold
    from .trainer import Trainer
    results = {}
    metric = cfg.train.best_metric or recipe.best_metric
    for fold in folds:      # every fold's config is checked before the first one trains
        recipe.has_validation(set_fold(copy.deepcopy(cfg), fold))
    for fold in folds:
        fold_cfg = set_fold(copy.deepcopy(cfg), fold)
        done = os.path.join(fold_cfg.run_dir, 'fold_result.json')
        digest = config_digest(fold_cfg)
        if os.path.exists(done):
            with open(done) as f:
                results[fold] = json.load(f)
            if results[fold].get('config') not in (None, digest):
                raise UserError(f"{done}: fold {fold} finished with another config; choose another "
                                "--run_dir, or delete that file to train the fold again")
            print(f"fold {fold}: finished before ({done}), {metric} "
                  f"{results[fold]['metrics'].get(metric)}")
            continue
        if not resume and os.path.exists(os.path.join(fold_cfg.run_dir, 'checkpoints', 'latest.json')):
            raise UserError(f"{fold_cfg.run_dir} already has checkpoints of an unfinished fold: pass "
                            "--resume to continue it, or choose another --run_dir")
        os.makedirs(fold_cfg.run_dir, exist_ok=True)
        trainer = Trainer(fold_cfg, recipe, fold_cfg.run_dir, rank, world).build()
        trainer.log.print(f"cross-validation: fold {fold} ({folds.index(fold) + 1} of {len(folds)})")
        if resume:
            trainer.resume()
        trainer.fit()
        # the fold's final model on its held-out test fold (never used to select anything)
        metrics = trainer.evaluate(split='test')
        if rank != 0:
            continue
        found = trainer.ckpt.latest()
        results[fold] = {'fold': fold, 'metrics': metrics, 'step': trainer.state['step'],
                         'checkpoint': os.path.abspath(found[0]) if found else None,
                         'eval_dir': os.path.abspath(trainer.last_eval_dir), 'config': digest}
        atomic_write_json(done, results[fold])
    if rank != 0:
        return None
    summary = summarize(results, metric, recipe.metric_direction(metric))
    if recipe.folds.summarize is not None:
        summary.update(recipe.folds.summarize(results, cfg.run_dir))
    atomic_write_json(os.path.join(cfg.run_dir, 'crossval.json'), summary)
    return summary
