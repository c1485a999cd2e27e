"""The training loop every model shares.

:class:`Trainer` builds the network, loss, data and optimizer through the model's recipe, runs
the compiled train step over the epochs, logs, evaluates, checkpoints and resumes. Model-specific
behaviour lives in the recipe (:mod:`src.engine.recipe`), never here.
"""
import math
import os
import time

import numpy as np

from ..checkpoint import CheckpointManager, load_params_into
from ..config import save_config
from ..data.loader import BatchLoader
from ..distributed import gradient_reducer
from ..errors import UserError
from .run_log import RunLog
from .schedules import build_schedule
from .train_step import DynamicLossScale, TrainStep, build_optimizer, compile_step


class TrainingStopped(UserError):
    """Training cannot go on (a NaN loss, endless overflow); the last good checkpoint is intact."""


def progress(iterable=None, **kwargs):
    """tqdm that stays quiet when the output is not a terminal (log files, CI)."""
    from tqdm import tqdm
    kwargs.setdefault('disable', None)
    kwargs.setdefault('dynamic_ncols', True)
    return tqdm(iterable, **kwargs)


class Trainer:
    """Train the model of ``cfg`` with ``recipe``; rank 0 writes ``run_dir``.

    Args:
        cfg: checked :class:`src.config.Config`.
        recipe: the model's recipe.
        run_dir: the run directory.
        rank, world: data-parallel position (from :func:`src.distributed.init_distributed`).
    """

    def __init__(self, cfg, recipe, run_dir, rank=0, world=1):
        self.cfg, self.recipe, self.run_dir = cfg, recipe, run_dir
        self.rank, self.world = rank, world
        self.log = RunLog(run_dir, rank)
        self.ckpt = CheckpointManager(os.path.join(run_dir, 'checkpoints'), cfg.train.keep_last,
                                      mode=recipe.best_mode)

    def build(self):
        import mindspore as ms
        cfg, tc = self.cfg, self.cfg.train
        ms.set_seed(tc.seed)            # the same initial weights on every rank
        np.random.seed(tc.seed)
        if self.recipe.folds and cfg.schedule.name == 'plateau':
            from ..errors import ConfigError
            raise ConfigError(f"schedule.name=plateau adapts the learning rate to the evaluation, "
                              f"which for {cfg.model.name} is the held-out test fold: use a schedule "
                              "that does not look at it (constant, cyclic, warmup_cosine, step ...)")
        self.train_set = self.recipe.train_set(cfg)
        self.network = self.recipe.build_network(cfg)
        self.loss_net = self.recipe.build_loss_net(self.network, cfg, self.train_set)
        if tc.amp_level != 'O0':
            self.loss_net = ms.amp.auto_mixed_precision(self.loss_net, tc.amp_level)
        self.loader = BatchLoader(self.train_set, tc.batch_size, seed=tc.seed, shuffle=True,
                                  num_workers=tc.num_workers, prefetch=tc.prefetch, rank=self.rank,
                                  world=self.world, max_bad_fraction=tc.max_bad_fraction)
        self.steps_per_epoch = self.loader.steps_per_epoch()
        total = self.steps_per_epoch * tc.epochs
        self.total_steps = min(total, tc.max_steps) if tc.max_steps else total
        self.schedule = build_schedule(cfg.schedule.name, cfg.schedule.args, self.total_steps)
        params = self.loss_net.trainable_params()
        self.optimizer = build_optimizer(cfg.optim, params, self.schedule.lr(0))
        self.step_cell = TrainStep(self.loss_net, self.optimizer,
                                   gradient_reducer(params, self.world), cfg.optim.grad_clip)
        self.step_cell.set_train(True)
        self.train_step = compile_step(self.step_cell)
        self.loss_scale = DynamicLossScale(tc.loss_scale, tc.loss_scale_window,
                                           enabled=tc.amp_level != 'O0')
        self.state = {'epoch': 0, 'step_in_epoch': 0, 'step': 0, 'best': None}
        return self

    # ------------------------------------------------------------------------- checkpoints
    def _state(self):
        return dict(self.state, loss_scale=self.loss_scale.state_dict(),
                    schedule=self.schedule.state_dict(), world=self.world,
                    batch_size=self.cfg.train.batch_size, seed=self.cfg.train.seed)

    def save(self):
        if self.rank != 0:
            return None
        return self.ckpt.save(self.step_cell, self._state())

    def resume(self):
        """Continue from the latest checkpoint of the run directory; False when there is none."""
        found = self.ckpt.latest()
        if found is None:
            return False
        path, state = found
        # the data order of a step depends on these: resuming with others is not a continuation
        for key, now in (('world', self.world), ('batch_size', self.cfg.train.batch_size),
                         ('seed', self.cfg.train.seed)):
            if key in state and state[key] != now:
                from ..errors import CheckpointError
                raise CheckpointError(f"{path}: trained with {key} {state[key]}, this run has {now}; "
                                      f"resume with the same {key} or start a new --run_dir")
        load_params_into(self.step_cell, path)
        self.state = {k: state[k] for k in ('epoch', 'step_in_epoch', 'step', 'best')}
        self.loss_scale.load_state_dict(state['loss_scale'])
        self.schedule.load_state_dict(state['schedule'])
        self.log.print(f"resumed from {path}: epoch {state['epoch']}, step {state['step']}")
        return True

    # ------------------------------------------------------------------------------ training
    def fit(self):
        """Train to the end; returns the final state dict (with the last evaluation)."""
        import mindspore as ms
        cfg, tc = self.cfg, self.cfg.train
        if self.rank == 0:
            save_config(cfg, self.log.path('config.yaml'))
        self.log.print(f"model {cfg.model.name}: {sum(p.size for p in self.network.trainable_params()):,} "
                       f"parameters; {len(self.train_set)} training items, {self.steps_per_epoch} "
                       f"steps per epoch x {tc.epochs} epochs on {self.world} rank(s)")
        if cfg.model.pretrained and self.state['step'] == 0:
            self.load_pretrained(cfg.model.pretrained)
        keys = self.recipe.batch_keys
        bad_streak, last = 0, {}
        while self.state['epoch'] < tc.epochs and not self._done():
            epoch = self.state['epoch']
            bar = progress(total=self.steps_per_epoch, initial=self.state['step_in_epoch'],
                           desc=f"epoch {epoch + 1}/{tc.epochs}", disable=None if self.rank == 0 else True)
            t0, losses = time.perf_counter(), []
            for batch in self.loader.epoch(epoch, self.state['step_in_epoch']):
                lr = self.schedule.lr(self.state['step'])
                inputs = tuple(ms.Tensor(batch[k]) for k in keys)
                loss, finite = self.train_step(ms.Tensor(self.loss_scale.scale, ms.float32),
                                               ms.Tensor(lr, ms.float32), *inputs)
                loss, finite = float(loss.asnumpy()), bool(finite.asnumpy())
                self.loss_scale.update(finite)
                if not (finite and math.isfinite(loss)):
                    bad_streak += 1
                    self.log.record('train', step=self.state['step'], epoch=epoch, loss=loss,
                                    skipped=True, loss_scale=self.loss_scale.scale)
                    # Without loss scaling non-finite gradients mean a NaN/inf somewhere; the
                    # gradients are all-reduced, so every rank sees this and stops together.
                    if tc.amp_level == 'O0' or (not math.isfinite(loss) and bad_streak > tc.nan_patience):
                        what = f"the loss became {loss}" if not math.isfinite(loss) else \
                            "the gradients became non-finite"
                        self._stop(f"{what} at step {self.state['step']}")
                    if bad_streak > tc.nan_patience:
                        self._stop(f"{bad_streak} steps in a row had non-finite gradients")
                else:
                    bad_streak = 0
                    losses.append(loss)
                self.state['step'] += 1
                self.state['step_in_epoch'] += 1
                bar.update(1)
                if self.state['step'] % tc.log_every == 0 or self.state['step_in_epoch'] == self.steps_per_epoch:
                    rate = self.state['step_in_epoch'] / max(1e-9, time.perf_counter() - t0)
                    self.log.record('train', step=self.state['step'], epoch=epoch, loss=loss, lr=lr,
                                    loss_scale=self.loss_scale.scale, steps_per_s=round(rate, 3))
                    bar.set_postfix(loss=f"{loss:.3f}", lr=f"{lr:.2e}")
                if tc.ckpt_every and self.state['step'] % tc.ckpt_every == 0:
                    self.save()
                if self._done():
                    break
            bar.close()
            finished_epoch = self.state['step_in_epoch'] >= self.steps_per_epoch
            if finished_epoch:
                self.state['epoch'] += 1
                self.state['step_in_epoch'] = 0
            mean_loss = float(np.mean(losses)) if losses else float('nan')
            self.log.print(f"epoch {epoch + 1}: mean loss {mean_loss:.4f}, "
                           f"{time.perf_counter() - t0:.1f} s")
            last_epoch = self.state['epoch'] == tc.epochs
            evaluate = tc.eval_every and ((finished_epoch and self.state['epoch'] % tc.eval_every == 0)
                                          or last_epoch or self._done())
            path = self.save()      # first: a failing evaluation must not lose the epoch
            metrics = self.evaluate() if evaluate else None
            if metrics:
                last = metrics
                if self.rank == 0:  # the schedule has seen the result: store its new state
                    self.ckpt.update_state(self._state())
                self._keep_best(path, metrics)
        self.log.plot_curves(self.recipe.curve_metrics or (self.recipe.best_metric,))
        return dict(self.state, last_eval=last)

    def load_pretrained(self, path):
        """Initialise the network from ``model.pretrained`` (a fresh run only: a resumed one
        has its own weights)."""
        from ..errors import ConfigError
        if not os.path.exists(path):
            raise ConfigError(f"model.pretrained: {path} not found; give the path of the "
                              "pretrained weights, or model.pretrained='' to start from scratch")
        left = self.recipe.load_pretrained(self.network, path)
        loaded = len(list(self.network.get_parameters())) - len(left)
        more = f" ({len(left) - 6} more)" if len(left) > 6 else ''
        self.log.print(f"initialised from {path}: {loaded} parameters loaded"
                       + (f"; left as initialised: {', '.join(left[:6])}{more}" if left else ''))

    def _done(self):
        return bool(self.cfg.train.max_steps) and self.state['step'] >= self.cfg.train.max_steps

    def _stop(self, why):
        found = self.ckpt.latest()
        where = f"the last good checkpoint is {found[0]}" if found else "no checkpoint was written yet"
        self.log.print(f"stopping: {why}; {where}")
        raise TrainingStopped(f"{why}; {where}. Lower the learning rate (optim.lr / schedule.args) "
                              "or enable gradient clipping (optim.grad_clip), then --resume")

    def evaluate(self):
        """Evaluate on rank 0 with the recipe; log the metrics and feed them to the schedule."""
        if self.rank != 0:
            return {}
        out_dir = self.log.path('eval', f"epoch_{self.state['epoch']:03d}")
        self.network.set_train(False)
        try:
            metrics = self.recipe.evaluate(self.network, self.cfg, out_dir)
        finally:
            self.network.set_train(True)
            self.step_cell.set_train(True)
        self.log.record('eval', epoch=self.state['epoch'], step=self.state['step'], **metrics)
        self.log.print(f"evaluation after epoch {self.state['epoch']}: "
                       + '; '.join(self.recipe.format_metrics(metrics).splitlines()))
        name = self.cfg.train.best_metric or self.recipe.best_metric
        if name not in metrics:
            from ..errors import ConfigError
            raise ConfigError(f"train.best_metric {name!r} is not among the evaluation's metrics "
                              f"({', '.join(sorted(metrics))})")
        value = metrics.get(name)
        if value is not None:
            self.schedule.observe(value)
        return metrics

    def _keep_best(self, ckpt_path, metrics):
        name = self.cfg.train.best_metric or self.recipe.best_metric
        value = metrics.get(name)
        if ckpt_path and value is not None and self.ckpt.update_best(ckpt_path, name, value, self.state):
            self.state['best'] = {'metric': name, 'value': value, 'step': self.state['step']}
            self.log.print(f"new best {name} {value:.4f}: {self.ckpt.directory}/best.ckpt")
