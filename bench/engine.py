"""What the engine's step contract costs: a frozen part, gradient accumulation, the optimizer.

    python bench/engine.py [--iters 10] [--width 1024] [--depth 8]

A stack of ``depth`` dense+GELU blocks (the "encoder") under a small head, trained on one batch:

* ``frozen_encoder`` against ``all_trainable``: the step with the encoder frozen (only the head
  trains, as in the first phase of wav2vec 2.0 fine-tuning) against the step training
  everything. fairseq runs a frozen encoder under ``no_grad``; here a phase's step asks
  gradients of its trainable parameters only, and nothing below the head needs a gradient, so
  the encoder's backward should vanish: the ratio is then about forward / (forward + backward).
* ``accumulated_2x``: one update of 2 micro-batches of b/2 against one step of b.

Prints one JSON line per case; timings are medians (2 cores: run it on a quiet machine).
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import timed  # noqa: E402


def build(width, depth):
    from mindspore import nn, ops

    class Encoder(nn.Cell):
        def __init__(self):
            super().__init__()
            self.blocks = nn.CellList([nn.Dense(width, width) for _ in range(depth)])

        def construct(self, x):
            for block in self.blocks:
                x = ops.gelu(block(x), approximate='none')
            return x

    class Model(nn.Cell):
        def __init__(self):
            super().__init__()
            self.encoder = Encoder()
            self.head = nn.Dense(width, 16)

        def construct(self, x):
            return self.head(self.encoder(x))

    class Loss(nn.Cell):
        def __init__(self, network):
            super().__init__()
            self.network = network

        def construct(self, x, y):
            return ops.cross_entropy(self.network(x), y)

    return Loss(Model())


def step_time(loss_net, trainable, inputs, iters, accumulate=1):
    import mindspore as ms
    from mindspore import nn
    from src.config import OptimConfig
    from src.engine.optim import OptimizerState
    from src.engine.train_step import AccumulateStep, ApplyAccumulated, TrainStep, compile_step
    params = loss_net.trainable_params()
    state = OptimizerState(params, OptimConfig())
    indices = [i for i, p in enumerate(params) if trainable(p.name)]
    scale, lr = ms.Tensor(1.0, ms.float32), ms.Tensor(1e-4, ms.float32)
    if accumulate == 1:
        step = compile_step(TrainStep(loss_net, state.updater(indices), nn.Identity()))
        run = lambda: step(scale, lr, *inputs)[0].asnumpy()        # noqa: E731
    else:
        acc = ms.ParameterTuple([params[i] for i in indices]).clone(prefix='accum', init='zeros')
        micro = compile_step(AccumulateStep(loss_net, state.updater(indices), acc))
        apply = compile_step(ApplyAccumulated(state.updater(indices), acc, nn.Identity()))
        halves = [[t[:len(t) // 2] for t in inputs], [t[len(t) // 2:] for t in inputs]]
        count = ms.Tensor(2.0, ms.float32)

        def run():
            for half in halves:
                micro(scale, *half)
            apply(scale, lr, count, ms.Tensor(True)).asnumpy()
    return timed(run, 2, iters)[0]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--iters', type=int, default=10)
    p.add_argument('--width', type=int, default=1024)
    p.add_argument('--depth', type=int, default=8)
    p.add_argument('--batch', type=int, default=256)
    args = p.parse_args()
    import numpy as np
    import mindspore as ms
    from src.runtime import set_up_runtime
    set_up_runtime('CPU', 'graph')
    rng = np.random.default_rng(0)
    x = ms.Tensor(rng.standard_normal((args.batch, args.width)).astype(np.float32))
    y = ms.Tensor(rng.integers(0, 16, args.batch).astype(np.int32))
    everything = step_time(build(args.width, args.depth), lambda n: True, (x, y), args.iters)
    head_only = step_time(build(args.width, args.depth), lambda n: 'head' in n, (x, y), args.iters)
    big = step_time(build(args.width, args.depth), lambda n: True, (x, y), args.iters)
    accumulated = step_time(build(args.width, args.depth), lambda n: True, (x, y), args.iters, accumulate=2)
    shape = {'width': args.width, 'depth': args.depth, 'batch': args.batch}
    print(json.dumps({'case': 'all_trainable', **shape, 'median_s': round(everything, 4)}))
    print(json.dumps({'case': 'frozen_encoder', **shape, 'median_s': round(head_only, 4),
                      'ratio_to_all_trainable': round(head_only / everything, 3)}))
    print(json.dumps({'case': 'accumulated_2x', **shape, 'median_s': round(accumulated, 4),
                      'ratio_to_one_batch': round(accumulated / big, 3)}))


if __name__ == '__main__':
    main()
