"""Training phases: named parameter sets frozen for the first N updates, or for the whole run.

``train.freeze: {feature_encoder: all, encoder: 10000}`` (wav2vec 2.0 fine-tuning: the conv
feature encoder never trains, the transformer joins after 10k updates). A set is one of the
recipe's ``parameter_sets`` or a parameter-name prefix (:func:`src.engine.optim.resolve_parameter_set`).

The phase of an update is a function of the update count alone, so a resumed run is in the phase
it left. Each phase has its own compiled step whose gradients cover only the phase's trainable
parameters: frozen parameters (and their optimizer moments) stay bit-identical, and the backward
pass of a frozen part that nothing trainable depends on is not computed (fairseq runs it under
``no_grad``).
"""
from dataclasses import dataclass

from ..errors import ConfigError
from .optim import resolve_parameter_set


@dataclass(frozen=True)
class Phase:
    start: int                 # first update of the phase
    trainable: tuple           # indices into the optimizer's parameters
    frozen: tuple              # names of the frozen sets


def plan_phases(freeze, parameters, named_sets, total_steps):
    """The phases of a run.

    Args:
        freeze: the config's ``train.freeze`` ({set name: 'all' | number of updates}).
        parameters: the optimizer's parameters, in order.
        named_sets: the recipe's ``parameter_sets``.
        total_steps: updates in the run (phases starting at or after it are dropped).

    Returns:
        list of :class:`Phase`, by start.
    """
    members = {}
    for name, until in (freeze or {}).items():
        if not (until == 'all' or (isinstance(until, int) and not isinstance(until, bool) and until >= 0)):
            raise ConfigError(f"train.freeze.{name}: give 'all' or a number of updates >= 0, got {until!r}")
        ids = {id(p) for p in resolve_parameter_set(name, parameters, named_sets)}
        members[name] = ids
    starts = sorted({0} | {n for n in (freeze or {}).values() if n != 'all' and 0 < n < max(1, total_steps)})
    phases = []
    for start in starts:
        frozen = tuple(sorted(n for n, u in freeze.items() if u == 'all' or u > start)) if freeze else ()
        off = set().union(*(members[n] for n in frozen)) if frozen else set()
        trainable = tuple(i for i, p in enumerate(parameters) if id(p) not in off)
        if not trainable:
            raise ConfigError(f"train.freeze leaves nothing to train from update {start} on "
                              f"(frozen: {', '.join(frozen)})")
        phases.append(Phase(start, trainable, frozen))
    return phases


def phase_at(phases, step):
    """The phase update ``step`` belongs to."""
    current = phases[0]
    for phase in phases:
        if phase.start <= step:
            current = phase
    return current
