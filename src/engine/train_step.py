"""The compiled training step: loss (with named auxiliary values), gradients of the trainable
parameters, all-reduce, loss-scale check, clipping, update.

The step contract a recipe's loss network follows: ``loss_net(*batch, *step_inputs)`` returns
the scalar loss, or ``(loss, aux)`` with ``aux`` a dict of named scalars (SI-SNR, contrastive and
diversity terms, perplexities, accuracy ...) that the trainer logs. ``batch`` are the recipe's
``batch_keys`` arrays, ``step_inputs`` its per-step scalars (:meth:`Recipe.step_inputs`, e.g. a
Gumbel temperature): inputs of the compiled graph, so a new value each step is seen by it.

The loss scale and the learning rate are inputs too, not state inside the graph: the trainer
keeps the dynamic loss scale in Python (halve on overflow, double after a window of good steps),
so its state is one number in the checkpoint and a resumed run continues it exactly. A step whose
gradients are not finite leaves the parameters and optimizer state untouched and reports it.

With ``train.accum_steps`` k > 1 an update is k compiled micro-steps that add their gradients to
accumulators, then one compiled update of their mean (one all-reduce per update): k micro-batches
of b items give the update of one batch of k*b items.
"""
import mindspore as ms
from mindspore import nn, ops


class LossWithAux(nn.Cell):
    """``loss_net``'s output as ``(loss, aux dict)``, whichever of the two forms it returns."""

    def __init__(self, loss_net):
        super().__init__(auto_prefix=False)
        self.loss_net = loss_net

    def construct(self, *inputs):
        out = self.loss_net(*inputs)
        if isinstance(out, tuple):
            return out[0], out[1]
        return out, {}


class LossAndAuxValues(nn.Cell):
    """``loss_net``'s ``(loss, aux dict)`` as ``(loss, (aux values in the order of names))``.

    Host code that calls a loss network itself (an evaluation) goes through this: in graph
    mode MindSpore 2.10 can hand a Cell's dict output back to Python as a tuple once a process
    has compiled many graphs, and a tuple of named values in a fixed order survives that."""

    def __init__(self, loss_net, names):
        super().__init__(auto_prefix=False)
        self.loss_net = LossWithAux(loss_net)
        self.names = tuple(names)

    def construct(self, *inputs):
        loss, aux = self.loss_net(*inputs)
        return loss, tuple(aux[name] for name in self.names)

    def named(self, *inputs):
        """(loss, {name: value}) of the inputs, as numpy floats."""
        loss, values = self(*inputs)
        return float(loss.asnumpy()), {n: float(v.asnumpy()) for n, v in zip(self.names, values)}


class _ScaledGradients(nn.Cell):
    """Gradients of ``scale * loss`` with respect to ``weights``, with the loss and aux values."""

    def __init__(self, loss_net, weights):
        super().__init__(auto_prefix=False)
        self.loss_net = LossWithAux(loss_net)
        self.weights = weights
        self.value_and_grad = ms.value_and_grad(self.scaled_loss, None, weights, has_aux=True)

    def scaled_loss(self, scale, *inputs):
        loss, aux = self.loss_net(*inputs)
        return loss * ops.cast(scale, loss.dtype), loss, aux

    def construct(self, scale, *inputs):
        (_, loss, aux), grads = self.value_and_grad(scale, *inputs)
        return loss, aux, grads


class _Finish(nn.Cell):
    """All-reduce, unscale, finite check, clipping and (when the gradients and the loss are
    finite) the update. A NaN loss can come with finite gradients (a term that does not depend
    on the weights); that update is skipped too."""

    def __init__(self, update, reducer, grad_clip):
        super().__init__(auto_prefix=False)
        self.update = update
        self.reducer = reducer
        self.grad_clip = float(grad_clip)
        self.hyper_map = ops.HyperMap()

    def construct(self, grads, divisor, lr, loss_ok):
        grads = self.reducer(grads)
        grads = self.hyper_map(ops.partial(_unscale, divisor), grads)
        finite = ops.logical_and(ms.amp.all_finite(grads), loss_ok)
        if self.grad_clip > 0:
            grads = ops.clip_by_global_norm(grads, self.grad_clip)
        if finite:
            finite = ops.depend(finite, self.update(grads, lr))
        return finite


class TrainStep(nn.Cell):
    """One optimizer update of ``loss_net`` over one batch.

    Args:
        loss_net: see the module docstring.
        updater: ``OptimizerState.updater(indices)`` of the parameters this step trains.
        reducer: gradient reducer across ranks (``nn.Identity`` for one process).
        grad_clip: max global gradient norm (after unscaling); 0 = no clipping.

    ``construct(self, scale, lr, *inputs)`` returns ``(loss, finite, aux)``: the unscaled loss,
    whether every gradient was finite (the update was applied) and the aux dict.
    """

    def __init__(self, loss_net, updater, reducer, grad_clip=0.0):
        super().__init__(auto_prefix=False)
        self.gradients = _ScaledGradients(loss_net, updater.params)
        self.finish = _Finish(updater, reducer, grad_clip)

    def construct(self, scale, lr, *inputs):
        loss, aux, grads = self.gradients(scale, *inputs)
        finite = self.finish(grads, scale, lr, ops.isfinite(loss))
        return loss, finite, aux


class AccumulateStep(nn.Cell):
    """One micro-batch of an accumulated update: adds its scaled gradients to ``accumulators``.

    ``construct(self, scale, *inputs)`` returns ``(loss, aux)``.
    """

    def __init__(self, loss_net, updater, accumulators):
        super().__init__(auto_prefix=False)
        self.gradients = _ScaledGradients(loss_net, updater.params)
        self.accumulators = accumulators
        self.hyper_map = ops.HyperMap()

    def construct(self, scale, *inputs):
        loss, aux, grads = self.gradients(scale, *inputs)
        done = self.hyper_map(ops.assign_add, self.accumulators, grads)
        return ops.depend(loss, done), aux


class ApplyAccumulated(nn.Cell):
    """The update from the accumulated gradients of ``count`` micro-batches; clears them.

    ``construct(self, scale, lr, count, loss_ok)`` returns ``finite``; ``loss_ok`` (a bool
    tensor) says whether every micro-batch's loss was finite.
    """

    def __init__(self, updater, accumulators, reducer, grad_clip=0.0):
        super().__init__(auto_prefix=False)
        self.accumulators = accumulators
        self.finish = _Finish(updater, reducer, grad_clip)
        self.hyper_map = ops.HyperMap()

    def construct(self, scale, lr, count, loss_ok):
        grads = self.hyper_map(ops.identity, self.accumulators)
        finite = self.finish(grads, scale * count, lr, loss_ok)
        cleared = self.hyper_map(_clear, self.accumulators)
        return ops.depend(finite, cleared)


def _unscale(divisor, grad):
    return grad * ops.cast(ops.reciprocal(divisor), grad.dtype)


def _clear(accumulator):
    return ops.assign(accumulator, ops.zeros_like(accumulator))


class DynamicLossScale:
    """Dynamic loss scaling kept in Python: halve on overflow, double after ``window`` good steps."""

    def __init__(self, scale=2.0 ** 16, window=1000, enabled=True, minimum=1.0):
        self.scale = float(scale) if enabled else 1.0
        self.window, self.enabled, self.minimum = window, enabled, minimum
        self.good = 0

    def update(self, finite):
        if not self.enabled:
            return
        if finite:
            self.good += 1
            if self.good >= self.window:
                self.scale *= 2.0
                self.good = 0
        else:
            self.scale = max(self.minimum, self.scale / 2.0)
            self.good = 0

    def state_dict(self):
        return {'scale': self.scale, 'good': self.good}

    def load_state_dict(self, state):
        self.scale, self.good = float(state['scale']), int(state['good'])


def compile_step(step_cell):
    """``step_cell`` as one compiled function, also in PyNative mode.

    The batch is passed as separate arguments: a tuple argument of a jit function is handled as
    a constant-like structure (a NaN inside one came out as 0 in MindSpore 2.10).
    """
    @ms.jit
    def compiled(*args):
        return step_cell(*args)

    return compiled


def build_train_step(loss_net, cfg_optim, world=1, named_sets=None, compiled=True):
    """A single-phase train step over all of ``loss_net``'s trainable parameters (benchmarks,
    tests): returns ``(step(scale, lr, *inputs) -> (loss, finite, aux), OptimizerState)``."""
    from ..distributed import gradient_reducer
    from .optim import OptimizerState
    params = loss_net.trainable_params()
    state = OptimizerState(params, cfg_optim, named_sets)
    cell = TrainStep(loss_net, state.updater(range(len(params))), gradient_reducer(params, world),
                     cfg_optim.grad_clip)
    cell.set_train(True)
    return (compile_step(cell) if compiled else cell), state
