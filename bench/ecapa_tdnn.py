"""ECAPA-TDNN speed on this machine against PyTorch (speechbrain) on the same machine kind.

    python bench/ecapa_tdnn.py [--iters 10] [--channels 1024] [--skip-data] [--eval-utterances 24]

Prints one JSON line per measurement and a summary with the ratios to
``shared/reference/pytorch_cpu_bench.json`` (ratio = MindSpore time / PyTorch time; <= 1 is at
least as fast):

* ``train_step``: the FULL network (C=1024, 20.77 M parameters), fbank batch 8 x 200 x 80, cosine
  head over 1000 classes with AAM-softmax, Adam; graph mode; median and fastest of ``--iters``.
* ``infer_10s``: embedding of 10 s of audio (1 x 1001 x 80 fbank), model only, and with the fbank.
* ``evaluation``: full-utterance embeddings (read + fbank + network) of ``--eval-utterances``
  files of 4-20 s (VoxCeleb1-like lengths, mean about 8 s), before (one at a time through the
  dynamic-length graph) and after (padded batches of static graphs, the ``eval.*`` defaults but
  ``batch_min_utterances``, so that few files still go in batches):
  utterances per second and real-time factor (seconds per second of audio) of a second pass, and
  the first pass with its graph compilations. PyTorch's reference is its 10 s embedding with the
  fbank, one utterance at a time, per second of audio.
* ``data_pipeline``: training items per second (crop + MUSAN/RIR augmentation + fbank) with 2
  worker processes, on the demo corpus (written to a temporary directory).
"""
import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from common import pytorch_reference, time_train_step, timed  # noqa: E402  (bench/common.py)


def bench_train_step(channels, iters, warmup=2, batch=8, frames=200, classes=1000):
    from src.config import build_config
    from src.recipes import get_recipe
    recipe = get_recipe('ecapa_tdnn')
    cfg = build_config({'model': {'name': 'ecapa_tdnn',
                                  'args': {'channels': [channels] * 4 + [3 * channels]}}})
    b, info = recipe.example_batch(cfg, batch, np.random.default_rng(0), frames=frames, num_classes=classes)
    times, net = time_train_step(recipe, cfg, b, info, iters, warmup)
    return dict({'case': 'train_step', 'channels': channels, 'input': [batch, frames, 80],
                 'classes': classes}, **times), net, cfg, recipe


def bench_inference(net, cfg, recipe, iters, warmup=2):
    """10 s embedding: a graph compiled for this length (as PyTorch's reference runs it), then
    the dynamic-length graph that evaluation and the exported MindIR use (one graph, any length)."""
    import mindspore as ms
    from src.audio import Fbank
    net.set_train(False)
    feats = ms.Tensor(np.random.default_rng(1).standard_normal((1, 1001, 80)).astype(np.float32))
    wave = np.random.default_rng(2).standard_normal(160000).astype(np.float32) * 0.1
    fbank = Fbank()
    median, fastest = timed(lambda: net(feats).asnumpy(), warmup, iters)
    median_fb, fastest_fb = timed(lambda: net(ms.Tensor(fbank(wave)[None])).asnumpy(), warmup, iters)
    net.set_inputs(ms.Tensor(shape=[1, None, 80], dtype=ms.float32))
    median_dyn, fastest_dyn = timed(lambda: net(feats).asnumpy(), warmup, iters)
    return {'case': 'infer_10s', 'median_s': round(median, 4), 'min_s': round(fastest, 4),
            'with_fbank_median_s': round(median_fb, 4), 'with_fbank_min_s': round(fastest_fb, 4),
            'dynamic_length_median_s': round(median_dyn, 4), 'dynamic_length_min_s': round(fastest_dyn, 4)}


def bench_evaluation(net, cfg, recipe, utterances, seed=3):
    """Embedding throughput of evaluation before (one at a time, dynamic-length graph) and
    after (padded batches of static graphs); both passes through the same extractor, so the
    second finds its graphs compiled."""
    from src.audio import write_audio
    from src.ecapa_tdnn.evaluate import EmbeddingExtractor
    rng = np.random.default_rng(seed)
    seconds = np.clip(4.0 + rng.exponential(4.2, utterances), 4.0, 20.0)
    e = cfg.eval
    out = {'case': 'evaluation', 'utterances': utterances, 'audio_s': round(float(seconds.sum()), 1)}
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for n, s in enumerate(seconds):
            paths.append(os.path.join(tmp, f'{n}.wav'))
            write_audio(paths[-1], 0.1 * rng.standard_normal(int(s * 16000)), 16000)
        for name, batch_seconds in (('one_at_a_time', 0.0), ('batched', e.batch_seconds)):
            extractor = EmbeddingExtractor(net, recipe.fbank(cfg), 16000, batch_seconds=batch_seconds,
                                           bucket_ratio=e.bucket_ratio, bucket_max_seconds=e.bucket_max_seconds)
            t0 = time.perf_counter()
            first = extractor(paths, progress=False)
            first_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            extractor(paths, progress=False)
            warm_s = time.perf_counter() - t0
            batches, alone = extractor.plan([extractor.num_frames(p) for p in paths])
            out[name] = {'utterances_per_s': round(utterances / warm_s, 2), 'rtf': round(warm_s / seconds.sum(), 4),
                         'first_pass_s': round(first_s, 2), 'second_pass_s': round(warm_s, 2),
                         'static_graphs': len({(rows, b.pad_length) for b, rows in batches}), 'alone': len(alone)}
            out.setdefault('embeddings', []).append(first)
    before, after = out.pop('embeddings')
    out['max_abs_difference'] = float(np.abs(before - after).max())
    return out


def bench_data(workers=2, batches=12, batch=32):
    from src.config import build_config
    from src.data.demo import make_demo
    from src.data.loader import BatchLoader
    from src.ecapa_tdnn.dataset import prepare_voxceleb
    from src.recipes import get_recipe
    with tempfile.TemporaryDirectory() as tmp:
        paths = make_demo('voxceleb', os.path.join(tmp, 'demo'), seed=0)
        make_demo('musan', os.path.join(tmp, 'demo'), seed=0)
        make_demo('rirs_noises', os.path.join(tmp, 'demo'), seed=0)
        manifest = prepare_voxceleb([paths['voxceleb2']], os.path.join(tmp, 'lists'), progress=False)
        cfg = build_config({'model': {'name': 'ecapa_tdnn'},
                            'data': {'train_manifest': manifest,
                                     'speakers': os.path.join(tmp, 'lists', 'speakers.json'),
                                     'musan': os.path.join(tmp, 'demo', 'musan'),
                                     'rirs': os.path.join(tmp, 'demo', 'RIRS_NOISES'),
                                     'augment_prob': 1.0, 'crop_seconds': [3.0, 3.0]}})
        items = get_recipe('ecapa_tdnn').train_set(cfg)
        loader = BatchLoader(items, batch, seed=0, num_workers=workers, prefetch=2)
        it = iter(loader.epoch(0))
        next(it)                                   # workers started
        t0 = time.perf_counter()
        n = 0
        for _ in range(batches):
            n += len(next(it)['labels'])
        rate = n / (time.perf_counter() - t0)
    return {'case': 'data_pipeline', 'workers': workers, 'crop_s': 3.0, 'augment_prob': 1.0,
            'items_per_s': round(rate, 1)}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--iters', type=int, default=10)
    p.add_argument('--channels', type=int, default=1024)
    p.add_argument('--skip-data', action='store_true')
    p.add_argument('--threads', type=int, default=0)
    p.add_argument('--eval-utterances', type=int, default=24, help='files of the evaluation case (0: skip it)')
    args = p.parse_args()
    os.environ.setdefault('GLOG_v', '3')
    from src.runtime import set_up_runtime
    set_up_runtime('CPU', 'graph', threads=args.threads or None)
    ref = pytorch_reference('ecapa')
    results = []
    train, net, cfg, recipe = bench_train_step(args.channels, args.iters)
    results.append(train)
    print(json.dumps(train), flush=True)
    infer = bench_inference(net, cfg, recipe, args.iters)
    results.append(infer)
    print(json.dumps(infer), flush=True)
    evaluation = None
    if args.eval_utterances:
        evaluation = bench_evaluation(net, cfg, recipe, args.eval_utterances)
        results.append(evaluation)
        print(json.dumps(evaluation), flush=True)
    if not args.skip_data:
        data = bench_data()
        results.append(data)
        print(json.dumps(data), flush=True)
    summary = {'case': 'summary'}
    if ref and args.channels == 1024:
        summary.update({
            'train_step_ratio_median': round(train['median_s'] / ref['train_step_s_median'], 3),
            'train_step_ratio_min': round(train['min_s'] / ref['train_step_s_min'], 3),
            'infer_ratio_median': round(infer['median_s'] / ref['infer_s_median'], 3),
            'infer_with_fbank_ratio_median': round(infer['with_fbank_median_s'] / ref['infer_with_fbank_s_median'], 3),
            'infer_dynamic_ratio_median': round(infer['dynamic_length_median_s'] / ref['infer_s_median'], 3),
            'pytorch_train_step_s': ref['train_step_s_median'], 'pytorch_infer_s': ref['infer_s_median']})
        if evaluation:
            # PyTorch: one 10 s utterance with its fbank, per second of audio
            rtf = ref['infer_with_fbank_s_median'] / 10.0
            summary.update({'pytorch_eval_rtf': round(rtf, 4),
                            'eval_rtf_ratio_before': round(evaluation['one_at_a_time']['rtf'] / rtf, 3),
                            'eval_rtf_ratio_after': round(evaluation['batched']['rtf'] / rtf, 3)})
    if not args.skip_data:
        # items a train step consumes per second at the measured speed (batch 8): the pipeline
        # keeps up when it delivers more.
        summary['pipeline_vs_training_demand'] = round(results[-1]['items_per_s'] / (8 / train['median_s']), 2)
    print(json.dumps(summary), flush=True)


if __name__ == '__main__':
    main()
