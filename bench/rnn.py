"""Benchmark of the recurrent layers: src.layers.LSTM/GRU CPU path vs nn.LSTM/nn.GRU vs PyTorch.

    python bench/rnn.py [--cases NAME ...] [--repeat 10]

Prints one JSON line per case: forward and forward+backward seconds (gradients of sum(output)
with respect to the input and every weight) of the 'gemm' (CPU) and the 'native' path
(``mindspore.nn.LSTM`` / ``nn.GRU``'s own computation), each the median of --repeat calls after
a warm-up (``*_s``) and the fastest call (``*_min_s``), the first call's time (compilation
included, ``*_compile_s``), and the ratios gemm / native measured in the same run and, where
PyTorch's time is known, gemm / PyTorch. Graph mode, float32, all cores, ``set_up_runtime``.

The cases are DPRNN's (asteroid DPRNNTasNet, FULL configuration): every block runs a
bidirectional LSTM over the chunks (batch B*S, chunk length K = 100) and one across them (batch
B*K, S chunks); training on 2 x 4 s at 8 kHz gives S = 81, 10 s inference S = 201. A summary
line adds up what the twelve LSTMs of the model cost: a training step's forward+backward and a
10 s inference's forward.

Timings on a shared machine are noisy; the same-run ratio to the native cell is the steadier
number, the ratio to PyTorch's reference (another day) the one that matters.
"""
import argparse
import json
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from common import timed  # noqa: E402  (bench/common.py)

# PyTorch 2.13 CPU, 2 threads, same machine kind: bidirectional nn.LSTM(128, 128) on
# (162, 100, 128), forward + backward 0.25-0.27 s (shared/reference/mindspore_cpu.md, section 4)
TORCH_FORWARD_BACKWARD_S = {'lstm_bi_162x100x128': 0.26}

# name -> (layer class, input shape (N, T, C)); hidden 128, bidirectional, batch first
CASES = {
    'lstm_bi_162x100x128': ('LSTM', (162, 100, 128)),   # DPRNN intra-chunk, training
    'lstm_bi_200x81x128': ('LSTM', (200, 81, 128)),     # DPRNN inter-chunk, training
    'lstm_bi_201x100x128': ('LSTM', (201, 100, 128)),   # intra-chunk, 10 s inference
    'lstm_bi_100x201x128': ('LSTM', (100, 201, 128)),   # inter-chunk, 10 s inference
    'gru_bi_162x100x128': ('GRU', (162, 100, 128)),
}
DPRNN_BLOCKS = 6
DPRNN_TRAIN = ('lstm_bi_162x100x128', 'lstm_bi_200x81x128')
DPRNN_INFER = ('lstm_bi_201x100x128', 'lstm_bi_100x201x128')


def _wrappers():
    from mindspore import nn

    class Output(nn.Cell):
        """The layer's output without its final states."""

        def __init__(self, rnn):
            super().__init__()
            self.rnn = rnn

        def construct(self, x):
            return self.rnn(x)[0]

    class SumOf(nn.Cell):
        def __init__(self, rnn):
            super().__init__()
            self.rnn = rnn

        def construct(self, x):
            return self.rnn(x)[0].reshape(-1).sum()

    return Output, SumOf


def time_rnn(layer, x, repeat):
    """Forward and forward+backward times of one layer: median, fastest and first call."""
    import time
    import mindspore as ms

    output, sum_of = _wrappers()
    forward = ms.jit(output(layer))
    # value_and_grad: the forward result is returned too, so it cannot be pruned
    grad = ms.jit(ms.value_and_grad(sum_of(layer), grad_position=0, weights=layer.trainable_params()))
    row = {}
    for key, fn in (('forward', lambda: forward(x).asnumpy()),
                    ('forward_backward', lambda: grad(x)[0].asnumpy())):
        start = time.perf_counter()
        fn()
        row[f'{key}_compile_s'] = time.perf_counter() - start
        row[f'{key}_s'], row[f'{key}_min_s'] = timed(fn, 1, repeat)
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--cases', nargs='*', default=list(CASES), choices=list(CASES))
    parser.add_argument('--repeat', type=int, default=10, help='timed calls per measurement')
    args = parser.parse_args(argv)

    from src.runtime import set_up_runtime
    runtime = set_up_runtime('CPU', 'graph')
    import mindspore as ms
    from src import layers

    print(json.dumps({'mindspore': ms.__version__, 'threads': runtime['threads']}), flush=True)
    rows = {}
    for name in args.cases:
        cls_name, shape = CASES[name]
        x = ms.Tensor(np.random.default_rng(0).standard_normal(shape).astype(np.float32))
        row = {'case': name, 'layer': cls_name, 'shape': list(shape), 'hidden': 128,
               'bidirectional': True}
        for impl in ('gemm', 'native'):   # one after the other: both see the same load
            ms.set_seed(0)
            layer = getattr(layers, cls_name)(shape[2], 128, bidirectional=True, impl=impl)
            times = time_rnn(layer, x, args.repeat)
            row.update({f'{impl}_{key}': value for key, value in times.items()})
            print(f'{impl:6s} {name}: forward+backward {times["forward_backward_s"] * 1000:.1f} ms',
                  file=sys.stderr, flush=True)
        for key in ('forward', 'forward_backward'):
            row[f'ratio_native_{key}'] = row[f'gemm_{key}_s'] / row[f'native_{key}_s']
        torch = TORCH_FORWARD_BACKWARD_S.get(name)
        if torch:
            row['torch_forward_backward_s'] = torch
            row['ratio_torch_forward_backward'] = row['gemm_forward_backward_s'] / torch
            row['ratio_torch_forward_backward_min'] = row['gemm_forward_backward_min_s'] / torch
        rows[name] = row
        print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}),
              flush=True)
    summary = {'summary': f'DPRNN: {2 * DPRNN_BLOCKS} bidirectional LSTMs'}
    for label, names, key in (('train_step_forward_backward', DPRNN_TRAIN, 'forward_backward_s'),
                              ('infer_10s_forward', DPRNN_INFER, 'forward_s')):
        if all(n in rows for n in names):
            for impl in ('gemm', 'native'):
                summary[f'{impl}_{label}_s'] = round(
                    DPRNN_BLOCKS * sum(rows[n][f'{impl}_{key}'] for n in names), 3)
    if len(summary) > 1:
        print(json.dumps(summary), flush=True)


if __name__ == '__main__':
    main()
