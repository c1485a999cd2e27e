"""The training loop every model shares.

:class:`Trainer` builds the network, loss, data and optimizer through the model's recipe, runs
the compiled train step over the epochs, logs, evaluates, checkpoints and resumes. Model-specific
behaviour lives in the recipe (:mod:`src.engine.recipe`), never here.
"""
import itertools
import json
import math
import os
import time

import numpy as np

from ..checkpoint import CheckpointManager, load_params_into
from ..config import save_config
from ..data.loader import BatchLoader
from ..distributed import gradient_reducer
from ..errors import UserError
from .optim import OptimizerState
from .phases import phase_at, plan_phases
from .run_log import RunLog
from .schedules import build_schedule
from .train_step import AccumulateStep, ApplyAccumulated, DynamicLossScale, TrainStep, compile_step


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
        self.metric = cfg.train.best_metric or recipe.best_metric
        self.ckpt = CheckpointManager(os.path.join(run_dir, 'checkpoints'), cfg.train.keep_last,
                                      mode=recipe.metric_direction(self.metric))
        self.last_eval_dir = None

    def build(self):
        import mindspore as ms
        cfg, tc = self.cfg, self.cfg.train
        ms.set_seed(tc.seed)            # the same initial weights on every rank
        np.random.seed(tc.seed)
        self.validating = self.recipe.has_validation(cfg)
        from .schedules import SCHEDULES
        from ..errors import ConfigError
        if getattr(SCHEDULES.get(cfg.schedule.name), 'adapts_to_evaluation', False):
            if not self.validating:
                raise ConfigError(f"schedule.name={cfg.schedule.name} adapts the learning rate to "
                                  f"validation results, and {cfg.model.name} has no validation split "
                                  "in this config (the test set never plays that role): configure "
                                  "one, or use a schedule that does not look at it (constant, "
                                  "cyclic, warmup_cosine, step ...)")
            if not (tc.eval_every or tc.eval_every_steps):
                raise ConfigError(f"schedule.name={cfg.schedule.name} adapts the learning rate to "
                                  "validation results, but train.eval_every and "
                                  "train.eval_every_steps are 0: it would never see one")
        self.train_set = self.recipe.train_set(cfg)
        self.network = self.recipe.build_network(cfg)
        self.loss_net = self.recipe.build_loss_net(self.network, cfg, self.train_set)
        if tc.amp_level != 'O0':
            try:
                self.loss_net = ms.amp.auto_mixed_precision(self.loss_net, tc.amp_level)
            except (TypeError, NameError, ValueError) as err:
                # MindSpore 2.10's O1 rewrites the network's Python source and fails on some
                # operators (Concat, ReverseV2 ...)
                raise ConfigError(f"train.amp_level={tc.amp_level} does not work with "
                                  f"{cfg.model.name} in MindSpore {ms.__version__} "
                                  f"({type(err).__name__}: {str(err).splitlines()[0][:100]}); "
                                  "use O2 or O3") from None
        self.loader = BatchLoader(self.train_set, tc.batch_size, seed=tc.seed, shuffle=True,
                                  num_workers=tc.num_workers, prefetch=tc.prefetch, rank=self.rank,
                                  world=self.world, max_bad_fraction=tc.max_bad_fraction,
                                  sampler=self.recipe.batch_sampler(cfg, self.train_set))
        self.accum = tc.accum_steps
        self.steps_per_epoch = self.loader.steps_per_epoch() // self.accum
        if self.steps_per_epoch == 0:
            from ..errors import DataError
            raise DataError(f"training data: {self.loader.steps_per_epoch()} batches per epoch are "
                            f"fewer than train.accum_steps={self.accum}; lower it or add data")
        total = self.steps_per_epoch * tc.epochs
        self.total_steps = min(total, tc.max_steps) if tc.max_steps else total
        self.schedule = build_schedule(cfg.schedule.name, cfg.schedule.args, self.total_steps,
                                       cfg.optim.lr, self.recipe.metric_direction(self.metric))
        params = self.loss_net.trainable_params()
        self.optimizer = OptimizerState(params, cfg.optim, self.recipe.parameter_sets)
        self.phases = plan_phases(tc.freeze, params, self.recipe.parameter_sets, self.total_steps)
        self.holder = _TrainState(self.loss_net, self.optimizer)
        # gradient sums between the micro-steps of an update (zero at every checkpoint)
        self.accumulators = self.optimizer.parameters.clone(prefix='accum', init='zeros') \
            if self.accum > 1 else None
        self._steps = {}
        self.loss_scale = DynamicLossScale(tc.loss_scale, tc.loss_scale_window,
                                           enabled=tc.amp_level != 'O0')
        self.state = {'epoch': 0, 'step_in_epoch': 0, 'step': 0, 'best': None}
        self._validated_at = None
        return self

    def _compiled(self, phase):
        """The compiled step(s) of ``phase``: built on first use (one graph set per phase)."""
        if phase.start not in self._steps:
            params = [self.optimizer.parameters[i] for i in phase.trainable]
            updater = self.optimizer.updater(phase.trainable)
            reducer = gradient_reducer(params, self.world)
            clip = self.cfg.optim.grad_clip
            if self.accum == 1:
                cells = (TrainStep(self.loss_net, updater, reducer, clip),)
            else:
                import mindspore as ms
                accumulators = ms.ParameterTuple([self.accumulators[i] for i in phase.trainable])
                cells = (AccumulateStep(self.loss_net, updater, accumulators),
                         ApplyAccumulated(updater, accumulators, reducer, clip))
            for cell in cells:
                cell.set_train(True)
            self._steps[phase.start] = tuple(compile_step(cell) for cell in cells)
            if phase.frozen:
                self.log.print(f"from update {phase.start}: {', '.join(phase.frozen)} frozen; "
                               f"{len(phase.trainable)} of {len(self.optimizer.parameters)} "
                               "parameter tensors train")
        return self._steps[phase.start]

    # ------------------------------------------------------------------------- checkpoints
    def _state(self):
        return dict(self.state, loss_scale=self.loss_scale.state_dict(),
                    schedule=self.schedule.state_dict(), world=self.world,
                    batch_size=self.cfg.train.batch_size, seed=self.cfg.train.seed,
                    accum_steps=self.accum, sampler=self.loader.sampler.describe(),
                    amp_level=self.cfg.train.amp_level)

    def save(self):
        if self.rank != 0:
            return None
        return self.ckpt.save(self.holder, self._state())

    def resume(self):
        """Continue from the latest checkpoint of the run directory; False when there is none."""
        found = self.ckpt.latest()
        if found is None:
            return False
        path, state = found
        # the data order of a step depends on these: resuming with others is not a continuation
        for key, now in (('world', self.world), ('batch_size', self.cfg.train.batch_size),
                         ('seed', self.cfg.train.seed), ('accum_steps', self.accum),
                         ('sampler', self.loader.sampler.describe()),
                         ('amp_level', self.cfg.train.amp_level)):
            now = json.loads(json.dumps(now))      # as the checkpoint's JSON holds it
            if key in state and state[key] != now:
                from ..errors import CheckpointError
                raise CheckpointError(f"{path}: trained with {key} {state[key]}, this run has {now}; "
                                      f"resume with the same {key} or start a new --run_dir")
        load_params_into(self.holder, path)
        self.state = {k: state[k] for k in ('epoch', 'step_in_epoch', 'step', 'best')}
        self.loss_scale.load_state_dict(state['loss_scale'])
        self.schedule.load_state_dict(state['schedule'])
        self.log.print(f"resumed from {path}: epoch {state['epoch']}, step {state['step']}")
        return True

    # ------------------------------------------------------------------------------ training
    def fit(self):
        """Train to the end; returns the final state dict (with the last evaluation)."""
        cfg, tc = self.cfg, self.cfg.train
        if self.rank == 0:
            save_config(cfg, self.log.path('config.yaml'))
        self.log.print(f"model {cfg.model.name}: {sum(p.size for p in self.network.trainable_params()):,} "
                       f"parameters; {len(self.train_set)} training items, {self.steps_per_epoch} "
                       f"steps per epoch x {tc.epochs} epochs on {self.world} rank(s)")
        if cfg.model.pretrained and self.state['step'] == 0:
            self.load_pretrained(cfg.model.pretrained)
        if not self.validating and (tc.eval_every or tc.eval_every_steps):
            self.log.print(f"no validation split is configured for {cfg.model.name}: nothing is "
                           "evaluated during training and best.ckpt is not kept (the test set never "
                           "selects a model); eval.py reports the final checkpoint")
        bad_streak, last = 0, {}
        while self.state['epoch'] < tc.epochs and not self._done():
            epoch = self.state['epoch']
            bar = progress(total=self.steps_per_epoch, initial=self.state['step_in_epoch'],
                           desc=f"epoch {epoch + 1}/{tc.epochs}", disable=None if self.rank == 0 else True)
            t0, losses, done_here = time.perf_counter(), [], 0
            micro = self.loader.epoch(epoch, self.state['step_in_epoch'] * self.accum)
            while self.state['step_in_epoch'] < self.steps_per_epoch:
                batches = list(itertools.islice(micro, self.accum))
                if len(batches) < self.accum:
                    break
                step = self.state['step']
                lr = self.schedule.lr(step)
                extra = self.recipe.step_inputs(cfg, step)
                loss, finite, aux = self._update(batches, lr, extra, phase_at(self.phases, step))
                if step == self.state['step'] and not done_here:
                    self._check_names(extra, aux)
                self.loss_scale.update(finite)
                if not (finite and math.isfinite(loss)):
                    bad_streak += 1
                    self.log.record('train', step=step, epoch=epoch, loss=loss,
                                    skipped=True, loss_scale=self.loss_scale.scale)
                    # Without loss scaling non-finite gradients mean a NaN/inf somewhere; the
                    # gradients are all-reduced, so every rank sees this and stops together.
                    if tc.amp_level == 'O0' or (not math.isfinite(loss) and bad_streak > tc.nan_patience):
                        what = f"the loss became {loss}" if not math.isfinite(loss) else \
                            "the gradients became non-finite"
                        self._stop(f"{what} at step {step}")
                    if bad_streak > tc.nan_patience:
                        self._stop(f"{bad_streak} steps in a row had non-finite gradients")
                else:
                    bad_streak = 0
                    losses.append(loss)
                self.state['step'] += 1
                self.state['step_in_epoch'] += 1
                done_here += 1
                bar.update(1)
                if self.state['step'] % tc.log_every == 0 or self.state['step_in_epoch'] == self.steps_per_epoch:
                    rate = done_here / max(1e-9, time.perf_counter() - t0)
                    fields = dict(step=self.state['step'], epoch=epoch, loss=loss, lr=lr,
                                  loss_scale=self.loss_scale.scale, steps_per_s=round(rate, 3),
                                  **extra, **aux)
                    self.log.record('train', **fields)
                    warning = self.recipe.training_warning(cfg, fields)
                    if warning:
                        self.log.print(f"warning (update {self.state['step']}): {warning}")
                    shown = {k: f"{v:.3g}" for k, v in list(aux.items())[:4]}
                    bar.set_postfix(loss=f"{loss:.3f}", lr=f"{lr:.2e}", **shown)
                if tc.ckpt_every and self.state['step'] % tc.ckpt_every == 0:
                    self.save()
                if tc.eval_every_steps and self.state['step'] % tc.eval_every_steps == 0 \
                        and self.validating and self.state['step_in_epoch'] < self.steps_per_epoch:
                    path = self.save()
                    last = self._validate(path) or last
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
            due = (tc.eval_every and finished_epoch and self.state['epoch'] % tc.eval_every == 0) \
                or (tc.eval_every_steps and self.state['step'] % tc.eval_every_steps == 0) \
                or ((tc.eval_every or tc.eval_every_steps) and (last_epoch or self._done()))
            path = self.save()      # first: a failing evaluation must not lose the epoch
            if due and self.validating:
                last = self._validate(path) or last
        self.log.plot_curves(self.recipe.curve_metrics or (self.metric,), self._aux_names())
        return dict(self.state, last_eval=last)

    def _check_names(self, extra, aux):
        clash = sorted(set(_TRAIN_FIELDS) & (set(extra) | set(aux)))
        if clash:
            from ..errors import ConfigError
            raise ConfigError(f"{self.cfg.model.name}: the loss network's aux values or the recipe's "
                              f"step inputs are named {', '.join(clash)}, a field of every training "
                              "record: rename them")

    def _update(self, batches, lr, extra, phase):
        """One optimizer update from ``batches`` (``train.accum_steps`` micro-batches).

        Returns:
            (mean loss, whether the update was applied, mean aux values as floats).
        """
        import mindspore as ms
        keys = self.recipe.batch_keys
        scale = ms.Tensor(self.loss_scale.scale, ms.float32)
        rate = ms.Tensor(lr, ms.float32)
        extra = tuple(ms.Tensor(v, ms.float32) for v in extra.values())
        steps = self._compiled(phase)
        if self.accum == 1:
            inputs = tuple(ms.Tensor(batches[0][k]) for k in keys) + extra
            loss, finite, aux = steps[0](scale, rate, *inputs)
            return float(loss.asnumpy()), bool(finite.asnumpy()), _floats(aux)
        accumulate, apply = steps
        losses, auxes = [], []
        for batch in batches:
            loss, aux = accumulate(scale, *(tuple(ms.Tensor(batch[k]) for k in keys) + extra))
            losses.append(float(loss.asnumpy()))
            auxes.append(_floats(aux))
        loss_ok = ms.Tensor(bool(np.all(np.isfinite(losses))))
        finite = bool(apply(scale, rate, ms.Tensor(float(len(batches)), ms.float32), loss_ok).asnumpy())
        aux = {k: float(np.mean([a[k] for a in auxes])) for k in auxes[0]} if auxes else {}
        return float(np.mean(losses)), finite, aux

    def _aux_names(self):
        names = []
        for record in self.log.read('train'):
            names += [k for k in record if k not in _TRAIN_FIELDS and k not in names]
        return names

    def _validate(self, path):
        """Evaluate on the validation split, keep the best checkpoint, feed the schedule; once
        per update (an update that ends an epoch and a run may be due twice)."""
        if self._validated_at == self.state['step']:
            return None
        self._validated_at = self.state['step']
        metrics = self.evaluate(split='valid')
        if metrics and self.rank == 0:
            self._keep_best(path, metrics)
            # the schedule has seen the result, and the best may have moved: store both
            self.ckpt.update_state(self._state())
        return metrics

    def load_pretrained(self, path):
        """Initialise the network from ``model.pretrained`` (a fresh run only: a resumed one
        has its own weights): a file the recipe reads, or a run directory, whose checkpoint
        eval.py would take (best.ckpt, else the final one)."""
        from ..errors import ConfigError
        if not os.path.exists(path):
            raise ConfigError(f"model.pretrained: {path} not found; give the path of the "
                              "pretrained weights, or model.pretrained='' to start from scratch")
        if os.path.isdir(os.path.join(path, 'checkpoints')):
            # a run directory (an earlier stage, e.g. pretraining): its best or final checkpoint
            from .trained_network import find_checkpoint
            path = find_checkpoint(path)
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

    def evaluate(self, split='valid'):
        """Evaluate with the recipe on ``split`` ('valid' during training; 'test' for the final
        model of a cross-validation fold); logs the metrics and feeds validation results to the
        schedule. Runs on every rank (the recipe shares the work out); rank 0 logs."""
        name = f"{split}_epoch_{self.state['epoch']:03d}" if self.state['step_in_epoch'] == 0 \
            else f"{split}_step_{self.state['step']:07d}"
        out_dir = self.log.path('eval', name)
        self.last_eval_dir = out_dir
        # every rank evaluates its share (a long evaluation on rank 0 alone would stall the
        # others' next all-reduce); rank 0 gets the metrics
        self.network.set_train(False)
        try:
            metrics = self.recipe.evaluate(self.network, self.cfg, out_dir, split=split,
                                           loss_net=self.loss_net, rank=self.rank,
                                           world=self.world) or {}
        finally:
            self.network.set_train(True)
            self.loss_net.set_train(True)
        value = None
        if self.rank == 0:
            self.log.record('eval', epoch=self.state['epoch'], step=self.state['step'], split=split,
                            **metrics)
            self.log.print(f"{'validation' if split == 'valid' else split} after epoch "
                           f"{self.state['epoch']}, update {self.state['step']}: "
                           + '; '.join(self.recipe.format_metrics(metrics).splitlines()))
            value = metrics.get(self.metric)
        # every rank's schedule must see the same value (a plateau step changes the rate), and
        # every rank must stop together when it is missing (one rank raising alone would leave
        # the others waiting in their next collective)
        from ..distributed import broadcast_scalar
        value = broadcast_scalar(value, self.rank, self.world)
        if value is None:
            from ..errors import ConfigError
            raise ConfigError(f"train.best_metric {self.metric!r} is not among the evaluation's "
                              f"metrics ({', '.join(sorted(metrics)) or 'none on this rank'})")
        if split == 'valid':
            self.schedule.observe(value)
        return metrics

    def _keep_best(self, ckpt_path, metrics):
        name = self.metric
        value = metrics.get(name)
        if ckpt_path and value is not None and self.ckpt.update_best(ckpt_path, name, value, self.state):
            self.state['best'] = {'metric': name, 'value': value, 'step': self.state['step']}
            self.log.print(f"new best {name} {value:.4f}: {self.ckpt.directory}/best.ckpt")


# fields of a training record that are not aux values of the loss network
_TRAIN_FIELDS = ('step', 'epoch', 'loss', 'lr', 'loss_scale', 'steps_per_s', 'skipped', 'time')


def _floats(aux):
    return {k: float(v.asnumpy()) for k, v in aux.items()}


def _train_state_class():
    from mindspore import nn

    class TrainState(nn.Cell):
        """Everything a checkpoint holds: the loss network (``network.*`` and heads) and the
        optimizer state."""

        def __init__(self, loss_net, optimizer):
            super().__init__(auto_prefix=False)
            self.loss_net = loss_net
            self.optimizer = optimizer

        def construct(self, *inputs):
            return self.loss_net(*inputs)

    return TrainState


def _TrainState(loss_net, optimizer):
    return _train_state_class()(loss_net, optimizer)
