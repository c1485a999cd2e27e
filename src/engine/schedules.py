"""Learning-rate schedules as plain functions of the optimizer step.

The trainer writes ``schedule.lr(step)`` into the optimizer's learning-rate parameter before each
step, so a schedule's position is the step counter itself and resuming needs no extra state
(except :class:`Plateau`, which reacts to validation results and saves its own state).

Registered names (``schedule.name`` in a config) and their ``schedule.args``:

* ``constant``: ``lr``.
* ``cyclic``: ``base_lr``, ``max_lr``, ``step_size`` (steps per half cycle), ``mode``
  ``'triangular'`` | ``'triangular2'`` (amplitude halves every cycle) — Smith's cyclical LR, as in
  the ECAPA-TDNN recipe.
* ``warmup_cosine`` / ``warmup_linear``: ``lr``, ``warmup_steps``, ``min_lr``, ``total_steps``
  (default: the whole run).
* ``step``: ``lr``, ``step_size``, ``gamma``.
* ``plateau``: ``lr``, ``factor``, ``patience`` (evaluations without improvement), ``min_lr``,
  ``mode`` ``'min'`` | ``'max'``.
"""
import math

from ..errors import ConfigError
from ..registry import Registry

SCHEDULES = Registry('schedule')


@SCHEDULES.register('constant')
class Constant:
    def __init__(self, lr=1e-3, total_steps=0):
        self.base = lr

    def lr(self, step):
        return self.base

    def observe(self, metric):
        pass

    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        pass


@SCHEDULES.register('cyclic')
class Cyclic(Constant):
    def __init__(self, base_lr=1e-6, max_lr=1e-4, step_size=1000, mode='triangular', total_steps=0):
        if mode not in ('triangular', 'triangular2'):
            raise ValueError(f"cyclic mode must be 'triangular' or 'triangular2', got {mode!r}")
        if step_size <= 0:
            raise ValueError(f"cyclic step_size must be positive, got {step_size}")
        self.base_lr, self.max_lr, self.step_size, self.mode = base_lr, max_lr, step_size, mode

    def lr(self, step):
        cycle = step // (2 * self.step_size)
        x = abs(step / self.step_size - 2 * cycle - 1)          # 1 -> 0 -> 1 over a cycle
        amplitude = (self.max_lr - self.base_lr) * max(0.0, 1.0 - x)
        if self.mode == 'triangular2':
            amplitude /= 2.0 ** cycle
        return self.base_lr + amplitude


class _Warmup(Constant):
    def __init__(self, lr=1e-3, warmup_steps=0, min_lr=0.0, total_steps=0):
        self.base, self.warmup, self.min_lr = lr, warmup_steps, min_lr
        self.total = max(total_steps, warmup_steps + 1)

    def lr(self, step):
        if step < self.warmup:
            return self.base * (step + 1) / self.warmup
        progress = min(1.0, (step - self.warmup) / max(1, self.total - self.warmup))
        return self.min_lr + (self.base - self.min_lr) * self.decay(progress)


@SCHEDULES.register('warmup_cosine')
class WarmupCosine(_Warmup):
    @staticmethod
    def decay(progress):
        return 0.5 * (1.0 + math.cos(math.pi * progress))


@SCHEDULES.register('warmup_linear')
class WarmupLinear(_Warmup):
    @staticmethod
    def decay(progress):
        return 1.0 - progress


@SCHEDULES.register('step')
class StepDecay(Constant):
    def __init__(self, lr=1e-3, step_size=1000, gamma=0.1, total_steps=0):
        if step_size <= 0:
            raise ValueError(f"step step_size must be positive, got {step_size}")
        self.base, self.step_size, self.gamma = lr, step_size, gamma

    def lr(self, step):
        return self.base * self.gamma ** (step // self.step_size)


@SCHEDULES.register('plateau')
class Plateau(Constant):
    def __init__(self, lr=1e-3, factor=0.5, patience=2, min_lr=0.0, mode='min', total_steps=0):
        if mode not in ('min', 'max'):
            raise ValueError(f"plateau mode must be 'min' or 'max', got {mode!r}")
        self.factor, self.patience, self.min_lr, self.mode = factor, patience, min_lr, mode
        self.current, self.best, self.bad = lr, None, 0

    def lr(self, step):
        return self.current

    def observe(self, metric):
        better = self.best is None or (metric < self.best if self.mode == 'min' else metric > self.best)
        if better:
            self.best, self.bad = metric, 0
            return
        self.bad += 1
        if self.bad > self.patience:
            self.current = max(self.min_lr, self.current * self.factor)
            self.bad = 0

    def state_dict(self):
        return {'current': self.current, 'best': self.best, 'bad': self.bad}

    def load_state_dict(self, state):
        self.current, self.best, self.bad = state['current'], state['best'], state['bad']


def build_schedule(name, args, total_steps):
    """The schedule ``name`` with config ``args`` (already checked against its signature);
    ``args.total_steps``, when given, overrides the run's length."""
    args = dict(args)
    total = args.pop('total_steps', 0) or total_steps
    try:
        return SCHEDULES.get(name)(**args, total_steps=total)
    except ValueError as err:
        raise ConfigError(f"schedule.args: {err}") from None
