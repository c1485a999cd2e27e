"""Learning-rate schedules: multipliers of ``optim.lr``, as plain functions of the update count.

``optim.lr`` is the one source of the learning rate: a schedule scales it, and the rate of
update ``step`` is ``optim.lr * schedule.factor(step)``. So ``optim.lr=1e-3`` on the command line
moves the whole curve, whatever the schedule. A schedule's position is the step counter itself,
and resuming needs no extra state (except :class:`Plateau`, which reacts to validation results
and saves its own).

Registered names (``schedule.name`` in a config) and their ``schedule.args``:

* ``constant``: no arguments.
* ``cyclic``: ``min_ratio`` (the low end of the cycle, as a fraction of ``optim.lr``, which is
  the peak), ``step_size`` (updates per half cycle), ``mode`` ``'triangular'`` |
  ``'triangular2'`` (amplitude halves every cycle) — Smith's cyclical LR, as in the ECAPA-TDNN
  recipe.
* ``warmup_cosine`` / ``warmup_linear``: ``warmup_steps``, ``min_ratio`` (the final rate as a
  fraction of ``optim.lr``), ``total_steps`` (default: the whole run).
* ``tri_stage``: ``phase_ratio`` (fractions of the run spent warming up, holding and decaying),
  ``init_lr_scale``, ``final_lr_scale`` — fairseq's tri-stage schedule of wav2vec 2.0
  fine-tuning: linear from ``init_lr_scale * optim.lr`` to ``optim.lr``, hold, exponential decay
  to ``final_lr_scale * optim.lr``, then hold there.
* ``step``: ``step_size``, ``gamma``.
* ``plateau``: ``factor``, ``patience`` (evaluations without improvement), ``min_ratio``. It
  follows the direction of the metric that ``train.best_metric`` names (a higher accuracy or
  SI-SNRi is better, a lower EER or WER), which the trainer passes in.
"""
import math

from ..errors import ConfigError
from ..registry import Registry

SCHEDULES = Registry('schedule')

# what a learning-rate argument of the old form was; said when a config still has one
_MOVED = ('lr', 'base_lr', 'max_lr', 'min_lr')


@SCHEDULES.register('constant')
class Constant:
    """``factor(step) == 1``; the base of every schedule (``lr(step) = base_lr * factor(step)``)."""

    def __init__(self, base_lr=1e-3, total_steps=0):
        self.base_lr = float(base_lr)

    def factor(self, step):
        return 1.0

    def lr(self, step):
        return self.base_lr * self.factor(step)

    def observe(self, metric):
        pass

    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        pass


@SCHEDULES.register('cyclic')
class Cyclic(Constant):
    def __init__(self, base_lr=1e-3, min_ratio=0.01, step_size=1000, mode='triangular', total_steps=0):
        super().__init__(base_lr)
        if mode not in ('triangular', 'triangular2'):
            raise ValueError(f"cyclic mode must be 'triangular' or 'triangular2', got {mode!r}")
        if step_size <= 0:
            raise ValueError(f"cyclic step_size must be positive, got {step_size}")
        self.min_ratio, self.step_size, self.mode = float(min_ratio), step_size, mode

    def factor(self, step):
        cycle = step // (2 * self.step_size)
        x = abs(step / self.step_size - 2 * cycle - 1)          # 1 -> 0 -> 1 over a cycle
        amplitude = (1.0 - self.min_ratio) * max(0.0, 1.0 - x)
        if self.mode == 'triangular2':
            amplitude /= 2.0 ** cycle
        return self.min_ratio + amplitude


class _Warmup(Constant):
    def __init__(self, base_lr=1e-3, warmup_steps=0, min_ratio=0.0, total_steps=0):
        super().__init__(base_lr)
        self.warmup, self.min_ratio = warmup_steps, float(min_ratio)
        self.total = max(total_steps, warmup_steps + 1)

    def factor(self, step):
        if step < self.warmup:
            return (step + 1) / self.warmup
        progress = min(1.0, (step - self.warmup) / max(1, self.total - self.warmup))
        return self.min_ratio + (1.0 - self.min_ratio) * self.decay(progress)


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


@SCHEDULES.register('tri_stage')
class TriStage(Constant):
    def __init__(self, base_lr=1e-3, phase_ratio=(0.1, 0.4, 0.5), init_lr_scale=0.01,
                 final_lr_scale=0.05, total_steps=0):
        super().__init__(base_lr)
        ratios = [float(r) for r in phase_ratio]
        if len(ratios) != 3 or min(ratios) < 0 or abs(sum(ratios) - 1.0) > 1e-6:
            raise ValueError(f"tri_stage phase_ratio must be three fractions >= 0 summing to 1, "
                             f"got {list(phase_ratio)}")
        if not 0 < final_lr_scale <= 1 or not 0 <= init_lr_scale <= 1:
            raise ValueError(f"tri_stage init_lr_scale must be in [0, 1] and final_lr_scale in "
                             f"(0, 1], got {init_lr_scale} and {final_lr_scale}")
        total = max(1, total_steps)
        self.warmup, self.hold, self.decay = (int(r * total) for r in ratios)
        self.init_scale, self.final_scale = float(init_lr_scale), float(final_lr_scale)

    def factor(self, step):
        if step < self.warmup:
            return self.init_scale + (1.0 - self.init_scale) * step / self.warmup
        step -= self.warmup
        if step < self.hold:
            return 1.0
        step -= self.hold
        if step < self.decay:
            return math.exp(math.log(self.final_scale) * step / self.decay)
        return self.final_scale


@SCHEDULES.register('step')
class StepDecay(Constant):
    def __init__(self, base_lr=1e-3, step_size=1000, gamma=0.1, total_steps=0):
        super().__init__(base_lr)
        if step_size <= 0:
            raise ValueError(f"step step_size must be positive, got {step_size}")
        self.step_size, self.gamma = step_size, gamma

    def factor(self, step):
        return self.gamma ** (step // self.step_size)


@SCHEDULES.register('plateau')
class Plateau(Constant):
    """Multiply the rate by ``factor`` after ``patience`` evaluations without improvement of
    the validation metric; ``mode`` ('min' or 'max') is the metric's direction."""
    adapts_to_evaluation = True

    def __init__(self, base_lr=1e-3, factor=0.5, patience=2, min_ratio=0.0, mode='min', total_steps=0):
        super().__init__(base_lr)
        if mode not in ('min', 'max'):
            raise ValueError(f"plateau mode must be 'min' or 'max', got {mode!r}")
        self.decay, self.patience, self.min_ratio, self.mode = factor, patience, min_ratio, mode
        self.current, self.best, self.bad = 1.0, None, 0

    def factor(self, step):
        return self.current

    def observe(self, metric):
        better = self.best is None or (metric < self.best if self.mode == 'min' else metric > self.best)
        if better:
            self.best, self.bad = metric, 0
            return
        self.bad += 1
        if self.bad > self.patience:
            self.current = max(self.min_ratio, self.current * self.decay)
            self.bad = 0

    def state_dict(self):
        return {'current': self.current, 'best': self.best, 'bad': self.bad}

    def load_state_dict(self, state):
        self.current, self.best, self.bad = state['current'], state['best'], state['bad']


def schedule_arguments(name):
    """The ``schedule.args`` a schedule takes: its signature without what the engine passes."""
    import inspect
    cls = SCHEDULES.get(name)
    engine = ('base_lr', 'mode') if getattr(cls, 'adapts_to_evaluation', False) else ('base_lr',)
    params = [p for n, p in inspect.signature(cls).parameters.items() if n not in engine]
    return inspect.Signature(params)


def moved_argument_hint(name):
    """The message for a learning-rate argument that moved to ``optim.lr``, or None."""
    if name in _MOVED:
        return (f"schedule.args.{name}: the learning rate has one source, optim.lr; schedules "
                "scale it (cyclic/warmup_*/plateau take min_ratio, a fraction of optim.lr)")
    return None


def build_schedule(name, args, total_steps, base_lr, mode='min'):
    """The schedule ``name`` over ``base_lr`` (``optim.lr``) with config ``args`` (already
    checked); ``args.total_steps``, when given, overrides the run's length. ``mode`` is the
    direction of the metric a ``plateau`` schedule follows."""
    args = dict(args)
    total = args.pop('total_steps', 0) or total_steps
    cls = SCHEDULES.get(name)
    extra = {'mode': mode} if getattr(cls, 'adapts_to_evaluation', False) else {}
    try:
        return cls(base_lr=base_lr, **args, **extra, total_steps=total)
    except ValueError as err:
        raise ConfigError(f"schedule.args: {err}") from None
