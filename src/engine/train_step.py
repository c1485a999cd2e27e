"""The compiled training step: loss, gradients, all-reduce, loss-scale check, clipping, update.

The loss scale is an *input* of the step, not state inside the graph: the trainer keeps the
dynamic loss scale in Python (halve on overflow, double after a window of good steps), so its
state is one number in the checkpoint and a resumed run continues it exactly. A step whose
gradients are not finite leaves the parameters and optimizer state untouched and reports it.
"""
import mindspore as ms
from mindspore import nn, ops


class TrainStep(nn.Cell):
    """One optimizer step of ``loss_net``.

    Args:
        loss_net: cell mapping the batch tensors to a scalar loss.
        optimizer: a MindSpore optimizer over ``loss_net``'s trainable parameters.
        reducer: gradient reducer across ranks (``nn.Identity`` for one process).
        grad_clip: max global gradient norm (after unscaling); 0 = no clipping.

    ``construct(self, scale, lr, *batch)`` returns ``(loss, finite)``: the unscaled loss and
    whether every gradient was finite (the update was applied); ``lr`` is this step's learning rate.
    """

    def __init__(self, loss_net, optimizer, reducer, grad_clip=0.0):
        super().__init__(auto_prefix=False)
        self.loss_net = loss_net
        self.optimizer = optimizer
        self.weights = optimizer.parameters
        self.reducer = reducer
        self.grad_clip = float(grad_clip)
        self.grad = ops.GradOperation(get_by_list=True, sens_param=True)
        self.hyper_map = ops.HyperMap()

    def construct(self, scale, lr, *batch):
        # The learning rate is written inside the graph: Parameter.set_data from Python is not
        # seen by an optimizer compiled into a larger graph (MindSpore 2.10).
        loss = ops.depend(self.loss_net(*batch), ops.assign(self.optimizer.learning_rate, lr))
        sens = ops.cast(scale, loss.dtype)
        grads = self.grad(self.loss_net, self.weights)(*batch, sens)
        grads = self.reducer(grads)
        grads = self.hyper_map(ops.partial(_unscale, scale), grads)
        finite = ms.amp.all_finite(grads)
        if self.grad_clip > 0:
            grads = ops.clip_by_global_norm(grads, self.grad_clip)
        if finite:
            loss = ops.depend(loss, self.optimizer(grads))
        return loss, finite


def _unscale(scale, grad):
    return grad * ops.cast(ops.reciprocal(scale), grad.dtype)


def build_optimizer(cfg_optim, parameters, lr):
    """The optimizer of ``optim.name`` whose learning rate is a parameter the trainer sets."""
    lr = ms.Parameter(ms.Tensor(lr, ms.float32), name='learning_rate', requires_grad=False)
    betas = tuple(cfg_optim.betas)
    if cfg_optim.name == 'adam':
        return nn.Adam(parameters, learning_rate=lr, beta1=betas[0], beta2=betas[1],
                       eps=cfg_optim.eps, weight_decay=cfg_optim.weight_decay)
    if cfg_optim.name == 'adamw':
        return nn.AdamWeightDecay(parameters, learning_rate=lr, beta1=betas[0], beta2=betas[1],
                                  eps=cfg_optim.eps, weight_decay=cfg_optim.weight_decay)
    return nn.SGD(parameters, learning_rate=lr, momentum=cfg_optim.momentum,
                  weight_decay=cfg_optim.weight_decay)


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

    MindSpore 2.10's optimizers compile their own ``construct`` (``@jit``); called from PyNative
    code, that graph keeps the learning rate it first saw, whatever is assigned later. Compiling
    the whole step makes the assignment part of the same graph.
    """
    import mindspore as ms

    # The batch is passed as separate arguments: a tuple argument of a jit function is handled
    # as a constant-like structure (a NaN inside one came out as 0 in MindSpore 2.10).
    @ms.jit
    def train_step(scale, lr, *batch):
        return step_cell(scale, lr, *batch)

    return train_step
