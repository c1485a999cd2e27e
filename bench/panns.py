"""PANNs CNN14 speed on this machine against PyTorch (the PANNs code) on the same machine kind.

    python bench/panns.py [--iters 10] [--architecture cnn14]

Prints one JSON line per measurement and a summary with the ratios to
``shared/reference/pytorch_cpu_bench.json`` (ratio = MindSpore time / PyTorch time; <= 1 is at
least as fast), the same cases as the reference:

* ``train_step``: the fine-tuning network (CNN14 backbone + a 50-class layer), waveform batch
  8 x 5 s at 32 kHz (front end included), cross-entropy, Adam; graph mode; median and fastest.
* ``infer_10s``: clip-wise output of 10 s of audio (1 x 320000 samples) through the backbone with
  AudioSet's 527-class head, front end included: a graph compiled for this length, then the
  dynamic-length graph an exported model uses.
"""
import argparse
import json
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from common import pytorch_reference, ratios_to_reference, time_train_step, timed  # noqa: E402  (bench/common.py)


def bench_train_step(architecture, iters, warmup=2, batch=8, seconds=5.0, classes=50):
    from src.config import build_config
    from src.recipes import get_recipe
    name = 'panns_' + architecture
    recipe = get_recipe(name)
    cfg = build_config({'model': {'name': name, 'args': {'num_classes': classes}}})
    rng = np.random.default_rng(0)
    wave = (0.1 * rng.standard_normal((batch, int(seconds * 32000)))).astype(np.float32)
    b, info = recipe.example_batch(cfg, batch, rng)
    b.update(waveform=wave, target_probs=np.eye(classes, dtype=np.float32)[rng.integers(0, classes, batch)])
    times, _ = time_train_step(recipe, cfg, b, info, iters, warmup)
    return dict({'case': 'train_step', 'model': name, 'input': list(wave.shape), 'classes': classes},
                **times)


def bench_inference(architecture, iters, warmup=2, seconds=10.0):
    import mindspore as ms
    from src.panns.network import ARCHITECTURES
    net = ARCHITECTURES[architecture](classes_num=527)
    net.set_train(False)
    wave = ms.Tensor((0.1 * np.random.default_rng(1).standard_normal((1, int(seconds * 32000))))
                     .astype(np.float32))
    median, fastest = timed(lambda: net(wave)[0].asnumpy(), warmup, iters)
    net.set_inputs(ms.Tensor(shape=[None, None], dtype=ms.float32))
    median_dyn, fastest_dyn = timed(lambda: net(wave)[0].asnumpy(), warmup, iters)
    return {'case': 'infer_10s', 'model': architecture, 'input': [1, int(seconds * 32000)],
            'median_s': round(median, 4), 'min_s': round(fastest, 4),
            'dynamic_length_median_s': round(median_dyn, 4), 'dynamic_length_min_s': round(fastest_dyn, 4)}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--iters', type=int, default=10)
    p.add_argument('--architecture', default='cnn14', choices=('cnn14', 'cnn10', 'cnn6'))
    p.add_argument('--skip-train', action='store_true')
    p.add_argument('--threads', type=int, default=0)
    args = p.parse_args()
    os.environ.setdefault('GLOG_v', '3')
    from src.runtime import set_up_runtime
    set_up_runtime('CPU', 'graph', threads=args.threads or None)
    ref = pytorch_reference(args.architecture)
    summary = {'case': 'summary'}
    if not args.skip_train:
        train = bench_train_step(args.architecture, args.iters)
        print(json.dumps(train), flush=True)
        summary.update(ratios_to_reference(ref, train=train))
    infer = bench_inference(args.architecture, args.iters)
    print(json.dumps(infer), flush=True)
    summary.update(ratios_to_reference(ref, infer=infer))
    print(json.dumps(summary), flush=True)


if __name__ == '__main__':
    main()
