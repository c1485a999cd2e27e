"""The optimizer every model shares: Adam, AdamW or SGD over parameter groups.

One cell holds the optimizer state of every trainable parameter (``moment1.*``, ``moment2.*``
and a per-parameter update count ``optim_step.*``, all saved in checkpoints). Each parameter has
its own learning-rate scale and weight decay, fixed when the optimizer is built:

* ``optim.lr_scales: {set: scale}``: the rate of a named parameter set (a recipe's
  ``parameter_sets`` entry, or a parameter-name prefix) is ``optim.lr * schedule * scale``;
* ``optim.no_decay_bias_and_norm``: biases and the gains of norm layers (every parameter with
  fewer than two dimensions) get no weight decay, as timm, fairseq and transformers do.

:meth:`OptimizerState.update` updates only the parameters it is given (the trainable ones of a
training phase, :mod:`src.engine.phases`); the others, and their moments and counts, are not
touched. A parameter's bias correction counts its own updates, so a part unfrozen after N steps
starts Adam afresh, as torch's per-parameter state does.

Update rules (the rate ``lr`` already scaled):

* ``adam``: L2 weight decay added to the gradient (torch ``Adam``), then MindSpore's ``Adam``
  kernel (the one ``nn.Adam`` runs);
* ``adamw``: decoupled decay ``p -= lr * wd * p`` (torch ``AdamW``), then the same kernel;
* ``sgd``: ``buf = momentum * buf + (g + wd * p)``, ``p -= lr * buf`` (torch ``SGD``, no dampening).
"""
import re

import mindspore as ms
from mindspore import nn, ops

from ..errors import ConfigError


def resolve_parameter_set(name, parameters, named_sets):
    """The parameters of set ``name``: a recipe's ``named_sets[name]`` (prefixes of the network's
    parameter names) or, failing that, ``name`` read as a prefix of the parameter names."""
    prefixes = named_sets.get(name)
    if prefixes is None:
        prefixes = (name,)
    else:
        prefixes = tuple('network.' + p for p in prefixes)
    def under(name, prefix):       # 'blocks.1' is blocks.1.* (not blocks.10.*) or that name
        return name == prefix or name.startswith(prefix if prefix.endswith('.') else prefix + '.')

    chosen = [p for p in parameters if any(under(p.name, pre) or under(p.name, 'network.' + pre)
                                           for pre in prefixes)]
    if not chosen:
        known = ', '.join(sorted(named_sets)) or 'none'
        raise ConfigError(f"parameter set {name!r} matches no trainable parameter (the model's "
                          f"named sets: {known}; or give a parameter-name prefix such as 'network.')")
    return chosen


def _no_decay(param):
    return len(param.shape) < 2 or re.search(r'(^|\.)bias$', param.name) is not None


class OptimizerState(nn.Cell):
    """Parameters, their optimizer state and their fixed per-parameter hyper-parameters.

    Args:
        parameters: the trainable parameters (a list; their order is the gradients' order).
        cfg_optim: the config's ``optim`` section.
        named_sets: the recipe's ``parameter_sets`` (for ``optim.lr_scales``).
    """

    def __init__(self, parameters, cfg_optim, named_sets=None):
        super().__init__(auto_prefix=False)
        named_sets = named_sets or {}
        self.kind = cfg_optim.name
        self.parameters = ms.ParameterTuple(parameters)
        self.moment1 = self.parameters.clone(prefix='moment1', init='zeros')
        if self.kind in ('adam', 'adamw'):
            self.moment2 = self.parameters.clone(prefix='moment2', init='zeros')
        else:
            self.moment2 = self.moment1           # unused by SGD
        self.counts = ms.ParameterTuple([
            ms.Parameter(ms.Tensor(0.0, ms.float32), name=f'optim_step.{p.name}', requires_grad=False)
            for p in parameters])
        scales = {p.name: 1.0 for p in parameters}
        for set_name, scale in (cfg_optim.lr_scales or {}).items():
            for p in resolve_parameter_set(set_name, parameters, named_sets):
                scales[p.name] = float(scale)
        decay = float(cfg_optim.weight_decay)
        self.lr_scale = [scales[p.name] for p in parameters]
        self.weight_decay = [0.0 if (cfg_optim.no_decay_bias_and_norm and _no_decay(p)) else decay
                             for p in parameters]
        self.beta1, self.beta2 = (float(b) for b in cfg_optim.betas)
        self.eps, self.momentum = float(cfg_optim.eps), float(cfg_optim.momentum)

    def updater(self, indices):
        """A cell that updates the parameters at ``indices`` (positions in ``parameters``)."""
        return _Update(self, tuple(indices))


class _Update(nn.Cell):
    """``construct(self, grads, lr)``: one optimizer update of a fixed subset of parameters;
    ``grads`` are that subset's gradients, in order."""

    def __init__(self, state, indices):
        super().__init__(auto_prefix=False)
        self.kind = state.kind
        pick = lambda seq: [seq[i] for i in indices]       # noqa: E731 (built here, not in a graph)
        self.params = ms.ParameterTuple(pick(state.parameters))
        self.m1 = ms.ParameterTuple(pick(state.moment1))
        self.m2 = ms.ParameterTuple(pick(state.moment2)) if self.kind != 'sgd' else self.m1
        self.counts = ms.ParameterTuple(pick(state.counts))
        self.lr_scale = tuple(ms.Tensor(s, ms.float32) for s in pick(state.lr_scale))
        self.decay = tuple(ms.Tensor(w, ms.float32) for w in pick(state.weight_decay))
        self.size = len(indices)
        self.beta1 = ms.Tensor(state.beta1, ms.float32)
        self.beta2 = ms.Tensor(state.beta2, ms.float32)
        self.b1, self.b2, self.eps = state.beta1, state.beta2, state.eps
        self.momentum = ms.Tensor(state.momentum, ms.float32)
        self.adam = ops.Adam()

    def construct(self, grads, lr):
        done = True
        for i in range(self.size):
            param, grad = self.params[i], grads[i]
            rate = lr * self.lr_scale[i]
            decay = ops.cast(self.decay[i], param.dtype)
            count = self.counts[i] + 1.0
            if self.kind == 'sgd':
                buf = self.momentum * self.m1[i] + grad + decay * param
                done = ops.depend(done, ops.assign(self.m1[i], buf))
                done = ops.depend(done, ops.assign_sub(param, ops.cast(rate, param.dtype) * buf))
            else:
                if self.kind == 'adamw':
                    done = ops.depend(done, ops.assign_sub(param, ops.cast(rate, param.dtype) * decay * param))
                else:
                    grad = grad + decay * param
                b1_power = ops.pow(self.beta1, count)
                b2_power = ops.pow(self.beta2, count)
                done = ops.depend(done, self.adam(param, self.m1[i], self.m2[i], b1_power, b2_power,
                                                  rate, self.b1, self.b2, self.eps, grad))
            done = ops.depend(done, ops.assign(self.counts[i], count))
        return done
