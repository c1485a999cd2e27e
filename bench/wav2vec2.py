"""wav2vec 2.0 speed on this machine against PyTorch (transformers 5.x) on the same machine kind.

    python bench/wav2vec2.py [--iters 5] [--profile] [--skip-train] [--skip-infer] [--tiny]

Prints one JSON line per measurement and a summary with the ratios to
``shared/reference/pytorch_cpu_bench.json`` (ratio = MindSpore time / PyTorch time; <= 1 is at
least as fast), the reference's cases, BASE config:

* ``train_step``: the ``wav2vec2_pretraining`` recipe (95.0 M parameters), audio 2 x 4 s at
  16 kHz, time masks of the reference (prob 0.65, length 10, at least 2 spans, the same count per
  row) and 100 negatives per masked frame from :mod:`src.wav2vec2.masking`, the contrastive +
  diversity + feature-penalty loss at a Gumbel temperature that is a step input (as the trainer
  passes it), Adam; graph mode, compiled once; median and fastest of ``--iters``.
* ``infer_10s``: ``wav2vec2_ctc`` (vocab 32) logits of 10 s (1 x 160000 samples), a graph
  compiled for this length, then the dynamic-length graph that an exported model uses.
* ``profile`` (``--profile``): the main parts of the network timed alone at the train step's
  shapes, with the network's own cells and parameters: forward (eval mode) and forward +
  backward (training mode; gradients of the sum of the output with respect to the parameters
  and, but for the feature encoder whose input is the audio, the input). ``forward_share`` and
  ``forward_backward_share``: over the sum of the parts; ``share``: forward + backward over the
  train step's median (which also holds the Adam update, the LayerNorms, residuals, dropout and
  masking: ``rest_share``). Measured first, on a network of its own (memory: the train step's
  buffers stay allocated).

``--tiny``: the recipes' tiny test variant on 0.2 s of audio (a smoke test; no ratios).
"""
import argparse
import json
import os
import resource
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from common import pytorch_reference, ratios_to_reference, time_train_step, timed  # noqa: E402  (bench/common.py)

SAMPLE_RATE = 16000
MASK_PROB, MASK_LENGTH, MIN_MASKS, NUM_NEGATIVES = 0.65, 10, 2, 100   # the reference's settings


def build(name, tiny):
    from src.config import build_config
    from src.recipes import get_recipe
    recipe = get_recipe(name)
    args = dict(recipe.tiny_args) if tiny else {}
    if tiny and name == 'wav2vec2_ctc':
        args['vocab_size'] = 32
    return recipe, build_config({'model': {'name': name, 'args': args}})


def pretraining_batch(recipe, cfg, batch, samples, rng, num_negatives=NUM_NEGATIVES):
    """The reference's batch: audio, time masks (prob 0.65, length 10) and the negatives."""
    from src.wav2vec2.frames import output_frames
    from src.wav2vec2.masking import compute_mask_indices, sample_negatives
    frames = int(output_frames(samples, recipe.kernels(cfg), recipe.strides(cfg)))
    mask = compute_mask_indices((batch, frames), MASK_PROB, MASK_LENGTH, rng, min_masks=MIN_MASKS)
    return {'audio': (0.1 * rng.standard_normal((batch, samples))).astype(np.float32),
            'mask_time': mask.astype(np.float32),
            'negatives': sample_negatives(mask, num_negatives, rng)}


def bench_train_step(tiny, iters, warmup=2, batch=2, seconds=4.0):
    from types import SimpleNamespace
    recipe, cfg = build('wav2vec2_pretraining', tiny)
    b = pretraining_batch(recipe, cfg, batch, int(seconds * SAMPLE_RATE), np.random.default_rng(0))
    times, _ = time_train_step(recipe, cfg, b, SimpleNamespace(), iters, warmup,
                               step_inputs=recipe.step_inputs(cfg, 0))
    masked = float(b['mask_time'].mean())
    return dict({'case': 'train_step', 'input': list(b['audio'].shape),
                 'frames': b['mask_time'].shape[1], 'masked_fraction': round(masked, 3),
                 'negatives': b['negatives'].shape[2]}, **times)


def bench_inference(tiny, iters, warmup=2, seconds=10.0):
    import mindspore as ms
    recipe, cfg = build('wav2vec2_ctc', tiny)
    net = recipe.build_network(cfg)
    net.set_train(False)
    wave = ms.Tensor((0.1 * np.random.default_rng(1).standard_normal((1, int(seconds * SAMPLE_RATE))))
                     .astype(np.float32))
    median, fastest = timed(lambda: net(wave)[0].asnumpy(), warmup, iters)
    net.set_inputs(ms.Tensor(shape=[1, None], dtype=ms.float32))
    median_dyn, fastest_dyn = timed(lambda: net(wave)[0].asnumpy(), warmup, iters)
    return {'case': 'infer_10s', 'input': [1, int(seconds * SAMPLE_RATE)],
            'median_s': round(median, 4), 'min_s': round(fastest, 4),
            'dynamic_length_median_s': round(median_dyn, 4), 'dynamic_length_min_s': round(fastest_dyn, 4)}


# ------------------------------------------------------------------------------ profile

def profile_parts(net, batch):
    """name -> (cell whose construct sums the part's output, its inputs, whether the gradient
    also goes to the inputs), the parts of ``net`` (a ``Wav2Vec2ForPreTraining``) at the shapes
    of ``batch``."""
    import mindspore as ms
    from mindspore import nn, ops
    from src.wav2vec2.loss import contrastive_logits

    model = net.wav2vec2
    layers = model.encoder.layers
    n, frames = batch['mask_time'].shape
    hidden_size = model.masked_spec_embed.shape[0]
    conv_channels = model.feature_projection.layer_norm.weight.shape[0]
    rng = np.random.default_rng(3)

    def tensor(*shape):
        return ms.Tensor(rng.standard_normal(shape).astype(np.float32))

    class Summed(nn.Cell):
        """sum of ``cells[i](x)`` over the cells (each part of every layer on the same input)."""

        def __init__(self, cells):
            super().__init__()
            self.parts = nn.CellList(cells)

        def construct(self, x):
            total = 0.0
            for cell in self.parts:
                total = total + cell(x).sum()
            return total

    class Attentions(Summed):
        def construct(self, x):
            total = 0.0
            for cell in self.parts:
                total = total + cell(x, None).sum()
            return total

    class QuantizerAndLoss(nn.Cell):
        """Quantizer, both projections, the contrastive logits and their log-softmax."""

        def __init__(self):
            super().__init__()
            self.quantizer, self.project_hid, self.project_q = net.quantizer, net.project_hid, net.project_q

        def construct(self, hidden, features, mask, negatives, temperature):
            quantized, code_ppl, prob_ppl = self.quantizer(features, mask, temperature)
            logits = contrastive_logits(self.project_hid(hidden), self.project_q(quantized),
                                        negatives, 0.1)
            return (-ops.log_softmax(logits, -1)[:, :, 0] * mask).sum() + prob_ppl + code_ppl

    audio = ms.Tensor(batch['audio'])
    hidden = tensor(n, frames, hidden_size)
    conv_layers = model.feature_extractor.conv_layers
    first_out = conv_layers[0](audio.expand_dims(1))
    return {
        'feature_encoder_conv0': (Summed([conv_layers[0]]), (audio.expand_dims(1),), False),
        'feature_encoder_conv1_6': (Summed([nn.SequentialCell(list(conv_layers)[1:])]),
                                    (tensor(*first_out.shape),), True),
        'positional_conv': (Summed([model.encoder.pos_conv_embed]), (hidden,), True),
        'attention': (Attentions([layer.attention for layer in layers]), (hidden,), True),
        'feed_forward': (Summed([layer.feed_forward for layer in layers]), (hidden,), True),
        'quantizer_loss': (QuantizerAndLoss(),
                           (hidden, tensor(n, frames, conv_channels), ms.Tensor(batch['mask_time']),
                            ms.Tensor(batch['negatives']), ms.Tensor(2.0, ms.float32)), True),
    }


def time_part(cell, inputs, input_grads, iters, warmup=2):
    """(forward median, forward + backward median) seconds of ``cell`` on ``inputs``."""
    import mindspore as ms
    from mindspore import ops
    cell.set_train(False)
    forward = ms.jit(cell)
    forward_s, _ = timed(lambda: forward(*inputs).asnumpy(), warmup, iters)
    cell.set_train(True)
    grad = ms.jit(ops.value_and_grad(cell, grad_position=0 if input_grads else None,
                                     weights=cell.trainable_params()))
    backward_s, _ = timed(lambda: grad(*inputs)[0].asnumpy(), warmup, iters)
    return forward_s, backward_s


def bench_profile(tiny, iters, batch=2, seconds=4.0):
    """The parts' forward and forward + backward medians and their shares of the sum of the
    parts (:func:`add_shares` adds those of a train step)."""
    import gc
    recipe, cfg = build('wav2vec2_pretraining', tiny)
    net = recipe.build_network(cfg)
    b = pretraining_batch(recipe, cfg, batch, int(seconds * SAMPLE_RATE), np.random.default_rng(0))
    rows = {}
    for name, (cell, inputs, input_grads) in profile_parts(net, b).items():
        forward_s, backward_s = time_part(cell, inputs, input_grads, iters)
        rows[name] = {'forward_s': round(forward_s, 4), 'forward_backward_s': round(backward_s, 4)}
    del net
    gc.collect()
    forward_total = sum(r['forward_s'] for r in rows.values())
    backward_total = sum(r['forward_backward_s'] for r in rows.values())
    for r in rows.values():
        r['forward_share'] = round(r['forward_s'] / forward_total, 3)
        r['forward_backward_share'] = round(r['forward_backward_s'] / backward_total, 3)
    return {'case': 'profile', 'input': list(b['audio'].shape), 'parts': rows,
            'parts_forward_s': round(forward_total, 4), 'parts_forward_backward_s': round(backward_total, 4)}


def add_shares(profile, train_median_s):
    """Each part's forward + backward over the train step's median (``share``), and the rest:
    the Adam update, LayerNorms, residuals, dropout, masking."""
    for r in profile['parts'].values():
        r['share'] = round(r['forward_backward_s'] / train_median_s, 3)
    profile['rest_share'] = round(1.0 - profile['parts_forward_backward_s'] / train_median_s, 3)
    profile['train_step_median_s'] = train_median_s

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--iters', type=int, default=5)
    p.add_argument('--skip-train', action='store_true')
    p.add_argument('--skip-infer', action='store_true')
    p.add_argument('--profile', action='store_true', help='also time the main parts alone')
    p.add_argument('--tiny', action='store_true', help="the recipes' tiny variant on 0.2 s (smoke test)")
    p.add_argument('--threads', type=int, default=0)
    args = p.parse_args(argv)
    os.environ.setdefault('GLOG_v', '3')
    from src.runtime import set_up_runtime
    set_up_runtime('CPU', 'graph', threads=args.threads or None)
    ref = None if args.tiny else pytorch_reference('wav2vec2')
    seconds = 0.2 if args.tiny else None
    summary = {'case': 'summary', 'config': 'tiny' if args.tiny else 'BASE'}
    profile = None
    if args.profile:    # first: a network of its own, released before the train step's is built
        profile = bench_profile(args.tiny, args.iters, seconds=seconds or 4.0)
    if not args.skip_train:
        train = bench_train_step(args.tiny, args.iters, seconds=seconds or 4.0)
        print(json.dumps(train), flush=True)
        summary.update(ratios_to_reference(ref, train=train))
        if profile:
            add_shares(profile, train['median_s'])
    if profile:
        print(json.dumps(profile), flush=True)
    if not args.skip_infer:
        infer = bench_inference(args.tiny, args.iters, seconds=seconds or 10.0)
        print(json.dumps(infer), flush=True)
        summary.update(ratios_to_reference(ref, infer=infer))
    summary['peak_rss_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(json.dumps(summary), flush=True)

if __name__ == '__main__':
    main()
