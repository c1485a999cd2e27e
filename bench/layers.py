"""Benchmark of the convolution layers: MindSpore native kernel vs im2col + GEMM vs PyTorch.

    python bench/layers.py [--cases NAME ...] [--repeat 10] [--no-native] [--native-limit 60]

Prints one JSON line per case: forward and forward+backward seconds (gradients of sum(y) with
respect to input and weight, as in ``shared/reference/pytorch_cpu_layers.json``) of the native
and the gemm path, PyTorch's times for the same case on this machine kind, and the ratios
gemm / PyTorch. Graph mode, float32, all cores; the median of --repeat calls after a warm-up
(``*_s``) and the fastest call (``*_min_s``).

Why both: on a 2-core machine MindSpore 2.10's graph runtime (actor threads plus kernel
threads) often stalls until the next scheduler tick, so whole calls come out as multiples of
4 ms (12.0, 16.0, 20.0 ms...) whatever the arithmetic costs; the minimum shows the cost of the
computation, the median what a user waits. Ratios use the median.

MindSpore's own CPU convolution can take minutes for one call. Before timing a native case,
a probe times forward + backward on one sample and an eighth of the last axis and scales that
up; a case expected to take more than --native-limit seconds is skipped, and
"native_skipped" says so.
"""
import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))

from src.runtime import set_up_runtime  # noqa: E402

REFERENCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'shared',
                         'reference', 'pytorch_cpu_layers.json')

# name -> (layer class, constructor kwargs, input shape); shapes as in the PyTorch reference file
CASES = {
    'conv1d_80_1024_k5': ('Conv1d', dict(in_channels=80, out_channels=1024, kernel_size=5,
                                         pad_mode='pad', padding=2), (8, 80, 204)),
    'conv1d_128_128_k3_d2': ('Conv1d', dict(in_channels=128, out_channels=128, kernel_size=3,
                                            dilation=2, pad_mode='pad', padding=2), (8, 128, 204)),
    'conv1d_1_512_k10_s5': ('Conv1d', dict(in_channels=1, out_channels=512, kernel_size=10,
                                           stride=5, pad_mode='valid'), (2, 1, 64000)),
    'conv1d_512_512_k3_s2': ('Conv1d', dict(in_channels=512, out_channels=512, kernel_size=3,
                                            stride=2, pad_mode='valid'), (2, 512, 12799)),
    'conv1d_768_768_k128_g16': ('Conv1d', dict(in_channels=768, out_channels=768, kernel_size=128,
                                               group=16, pad_mode='pad', padding=64), (2, 768, 199)),
    'conv2d_64_64_3x3': ('Conv2d', dict(in_channels=64, out_channels=64, kernel_size=3,
                                        pad_mode='pad', padding=1), (8, 64, 250, 32)),
    'conv2d_1_64_3x3': ('Conv2d', dict(in_channels=1, out_channels=64, kernel_size=3,
                                       pad_mode='pad', padding=1), (8, 1, 501, 64)),
    'conv2d_64_128_5x5': ('Conv2d', dict(in_channels=64, out_channels=128, kernel_size=5,
                                         pad_mode='pad', padding=2), (8, 64, 250, 32)),
    'conv_transpose1d_64_1_k16_s8': ('Conv1dTranspose', dict(in_channels=64, out_channels=1,
                                                             kernel_size=16, stride=8,
                                                             pad_mode='valid'), (2, 64, 3999)),
    'stft_frames_1024_hop320': ('Conv1d', dict(in_channels=1, out_channels=513, kernel_size=1024,
                                               stride=320, pad_mode='valid'), (8, 1, 161024)),
}


def _times(fn, args, repeat):
    """(median, min) seconds of ``repeat`` calls of ``fn(*args)``, waiting for the result."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn(*args)
        (out[0] if isinstance(out, tuple) else out).asnumpy()   # wait for the result
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times)


def estimate_forward_backward(layer, x):
    """Seconds forward + backward on ``x`` is expected to take, from a call on a slice of it."""
    import mindspore as ms

    grad = ms.jit(ms.value_and_grad(_SumOf(layer), grad_position=0, weights=layer.trainable_params()))
    length = x.shape[-1]
    probe = x[:1, ..., :max(length // 8, min(length, 2048))]
    grad(probe)                                  # compiles
    start = time.perf_counter()
    grad(probe)[0].asnumpy()
    return (time.perf_counter() - start) * x.shape[0] * length / probe.shape[-1]


def time_layer(layer, x, repeat):
    """{forward_s, forward_min_s, forward_backward_s, forward_backward_min_s} of a layer."""
    import mindspore as ms

    forward = ms.jit(layer)
    # value_and_grad: the forward result is returned too, so the graph cannot drop the forward
    # product (grad of sum(y) alone does not need y), and the time is forward + backward.
    grad = ms.jit(ms.value_and_grad(_SumOf(layer), grad_position=0, weights=layer.trainable_params()))
    forward(x).asnumpy()                         # compiles
    forward(x).asnumpy()
    fwd, fwd_min = _times(forward, (x,), repeat)
    grad(x)                                      # compiles
    grad(x)
    fwd_bwd, fwd_bwd_min = _times(grad, (x,), repeat)
    return {'forward_s': fwd, 'forward_min_s': fwd_min,
            'forward_backward_s': fwd_bwd, 'forward_backward_min_s': fwd_bwd_min}


def _SumOf(layer):
    from mindspore import nn

    class SumOf(nn.Cell):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def construct(self, x):
            # reshape first: MindSpore's CPU ReduceSum over all axes of a 3-D/4-D tensor is 4x
            # slower than over the flattened vector (4.9 ms against 1.2 ms for 1.7 M values)
            return self.inner(x).reshape(-1).sum()
    return SumOf(layer)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--cases', nargs='*', default=list(CASES), choices=list(CASES))
    parser.add_argument('--repeat', type=int, default=10, help='timed calls of the gemm path')
    parser.add_argument('--native-repeat', type=int, default=3, help='timed calls of the native path')
    parser.add_argument('--no-native', action='store_true', help='time only the gemm path')
    parser.add_argument('--native-limit', type=float, default=60.0,
                        help='skip a native case expected to take longer (seconds)')
    parser.add_argument('--reference', default=REFERENCE, help='PyTorch times (JSON)')
    args = parser.parse_args(argv)

    runtime = set_up_runtime('CPU', 'graph')
    import mindspore as ms
    from src import layers

    torch_times = {}
    if os.path.exists(args.reference):
        with open(args.reference) as f:
            torch_times = {c['case']: c for c in json.load(f)['cases']}
    print(json.dumps({'mindspore': ms.__version__, 'threads': runtime['threads'],
                      'torch_reference': os.path.exists(args.reference)}), flush=True)
    # All gemm timings first, then the native ones: MindSpore's native CPU convolution runs on
    # oneDNN threads that keep spinning for a while after each call, which would slow down
    # whatever is timed next.
    rows = {name: {'case': name, 'layer': CASES[name][0], 'shape': list(CASES[name][2])}
            for name in args.cases}
    impls = ('gemm',) if args.no_native else ('gemm', 'native')
    for impl in impls:
        for name in args.cases:
            cls_name, kwargs, shape = CASES[name]
            x = ms.Tensor(np.random.default_rng(0).standard_normal(shape).astype(np.float32))
            row = rows[name]
            ms.set_seed(0)
            layer = getattr(layers, cls_name)(**kwargs, impl=impl)
            if impl == 'native':
                expected = estimate_forward_backward(layer, x)
                if expected > args.native_limit:
                    row['native_skipped'] = f'expected forward+backward {expected:.0f} s'
                    continue
            times = time_layer(layer, x, args.repeat if impl == 'gemm' else args.native_repeat)
            row.update({f'{impl}_{key}': value for key, value in times.items()})
            print(f'{impl:6s} {name}: forward+backward {times["forward_backward_s"] * 1000:.1f} ms',
                  file=sys.stderr, flush=True)
    ratios = []
    for name in args.cases:
        row = rows[name]
        ref = torch_times.get(name)
        if ref:
            row['torch_forward_s'] = ref['forward_s']
            row['torch_forward_backward_s'] = ref['forward_backward_s']
            row['ratio_forward'] = row['gemm_forward_s'] / ref['forward_s']
            row['ratio_forward_backward'] = row['gemm_forward_backward_s'] / ref['forward_backward_s']
            row['ratio_forward_backward_min'] = row['gemm_forward_backward_min_s'] / ref['forward_backward_s']
            ratios.append((row['ratio_forward_backward'], row['ratio_forward_backward_min']))
        print(json.dumps({k: round(v, 5) if isinstance(v, float) else v for k, v in row.items()}),
              flush=True)
    if ratios:
        median_ratios, min_ratios = zip(*ratios)
        print(json.dumps({
            'summary': 'gemm / torch forward+backward', 'cases': len(ratios),
            'geometric_mean': round(float(np.exp(np.mean(np.log(median_ratios)))), 3),
            'max': round(max(median_ratios), 3),
            'geometric_mean_min': round(float(np.exp(np.mean(np.log(min_ratios)))), 3),
            'max_min': round(max(min_ratios), 3)}), flush=True)


if __name__ == '__main__':
    main()
