"""DPRNN-TasNet speed on this machine against PyTorch (asteroid 0.7.0) on the same machine kind.

    python bench/dprnn.py [--iters 10] [--repeats 6] [--profile] [--skip-train]

Prints one JSON line per measurement and a summary with the ratios to
``shared/reference/pytorch_cpu_bench.json`` (ratio = MindSpore time / PyTorch time; <= 1 is at
least as fast), the same cases as the reference, FULL config (3,652,865 parameters):

* ``train_step``: mixtures 2 x 4 s at 8 kHz, PIT negative SI-SDR over 2 sources, Adam; graph
  mode, compiled once; median and fastest of ``--iters``.
* ``infer_10s``: 10 s at 8 kHz (1 x 80000 samples) through the network, a graph compiled for
  this length, then the dynamic-length graph that an exported model and eval.py use.
* ``rnn_share`` (``--profile``): the same 10 s forward pass and a training step's forward +
  backward of the dual-path recurrences alone (the 2 x n_repeats RNN layers at their shapes),
  so the closing note can say which share of the step the recurrence is.
"""
import argparse
import json
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from common import pytorch_reference, ratios_to_reference, time_train_step, timed  # noqa: E402  (bench/common.py)


def full_config(repeats):
    from src.config import build_config
    return build_config({'model': {'name': 'dprnn', 'args': {'n_repeats': repeats}}})


def bench_train_step(cfg, iters, warmup=2, batch=2, seconds=4.0):
    from src.recipes import get_recipe
    recipe = get_recipe('dprnn')
    rng = np.random.default_rng(0)
    sources = (0.1 * rng.standard_normal((batch, 2, int(seconds * 8000)))).astype(np.float32)
    b = {'mixture': sources.sum(axis=1), 'sources': sources}
    _, info = recipe.example_batch(cfg, batch, rng)
    times, _ = time_train_step(recipe, cfg, b, info, iters, warmup, lr=1e-3)
    return dict({'case': 'train_step', 'input': list(b['mixture'].shape)}, **times)


def bench_inference(cfg, iters, warmup=2, seconds=10.0):
    import mindspore as ms
    from src.recipes import get_recipe
    net = get_recipe('dprnn').build_network(cfg)
    net.set_train(False)
    wave = ms.Tensor((0.1 * np.random.default_rng(1).standard_normal((1, int(seconds * 8000))))
                     .astype(np.float32))
    median, fastest = timed(lambda: net(wave).asnumpy(), warmup, iters)
    net.set_inputs(ms.Tensor(shape=[1, None], dtype=ms.float32))
    median_dyn, fastest_dyn = timed(lambda: net(wave).asnumpy(), warmup, iters)
    return {'case': 'infer_10s', 'input': [1, int(seconds * 8000)],
            'median_s': round(median, 4), 'min_s': round(fastest, 4),
            'dynamic_length_median_s': round(median_dyn, 4), 'dynamic_length_min_s': round(fastest_dyn, 4)}


def bench_rnn_share(cfg, iters, batch=2, seconds=4.0, warmup=2):
    """Forward + backward of the 2 x n_repeats recurrences of a training step, at their shapes:
    the intra-chunk RNNs over (batch * S, K, bn) and the inter-chunk ones over (batch * K, S, bn)."""
    import mindspore as ms
    from mindspore import nn, ops
    from src.layers.rnn import LSTM
    args = cfg.model.args
    frames = (int(seconds * 8000) - args.get('kernel_size', 16)) // args.get('stride', 8) + 1
    chunk = args.get('chunk_size', 100)
    hop = args.get('hop_size') or chunk // 2
    chunks = (frames + chunk) // hop + 1
    bn, hid, repeats = args.get('bn_chan', 128), args.get('hid_size', 128), args.get('n_repeats', 6)

    class Recurrences(nn.Cell):
        def __init__(self):
            super().__init__()
            self.intra = nn.CellList([LSTM(bn, hid, batch_first=True, bidirectional=True) for _ in range(repeats)])
            self.inter = nn.CellList([LSTM(bn, hid, batch_first=True, bidirectional=True) for _ in range(repeats)])

        def construct(self, x_intra, x_inter):
            total = 0.0
            for k in range(repeats):
                total = total + self.intra[k](x_intra)[0].sum() + self.inter[k](x_inter)[0].sum()
            return total

    rng = np.random.default_rng(2)
    x_intra = ms.Tensor(rng.standard_normal((batch * chunks, chunk, bn)).astype(np.float32))
    x_inter = ms.Tensor(rng.standard_normal((batch * chunk, chunks, bn)).astype(np.float32))
    cell = Recurrences()
    grad = ms.jit(ops.value_and_grad(cell, grad_position=(0, 1), weights=cell.trainable_params()))
    median, fastest = timed(lambda: grad(x_intra, x_inter)[0].asnumpy(), warmup, iters)
    return {'case': 'rnn_share', 'layers': 2 * repeats, 'intra_input': list(x_intra.shape),
            'inter_input': list(x_inter.shape), 'forward_backward_median_s': round(median, 4),
            'forward_backward_min_s': round(fastest, 4)}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--iters', type=int, default=10)
    p.add_argument('--repeats', type=int, default=6, help='dual-path blocks (FULL: 6)')
    p.add_argument('--skip-train', action='store_true')
    p.add_argument('--profile', action='store_true', help='also time the recurrences alone')
    p.add_argument('--threads', type=int, default=0)
    args = p.parse_args()
    os.environ.setdefault('GLOG_v', '3')
    from src.runtime import set_up_runtime
    set_up_runtime('CPU', 'graph', threads=args.threads or None)
    cfg = full_config(args.repeats)
    ref = pytorch_reference('dprnn') if args.repeats == 6 else None
    summary = {'case': 'summary', 'repeats': args.repeats}
    if not args.skip_train:
        train = bench_train_step(cfg, args.iters)
        print(json.dumps(train), flush=True)
        summary.update(ratios_to_reference(ref, train=train))
        if args.profile:
            share = bench_rnn_share(cfg, args.iters)
            share['share_of_train_step'] = round(share['forward_backward_median_s'] / train['median_s'], 3)
            print(json.dumps(share), flush=True)
    infer = bench_inference(cfg, args.iters)
    print(json.dumps(infer), flush=True)
    summary.update(ratios_to_reference(ref, infer=infer))
    print(json.dumps(summary), flush=True)


if __name__ == '__main__':
    main()
