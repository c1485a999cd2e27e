"""Check a port against a parity bundle: the reference PyTorch model's weights, inputs, outputs.

    python tools/parity.py BUNDLE.npz [--rtol 1e-4] [--atol 1e-5] [--loss-rtol 1e-3] [--mode graph]

Builds the network from the bundle's ``__meta__`` config, converts the bundle's PyTorch state
dict with the project's converter, loads it, runs the bundle's inputs in eval mode and prints one
JSON line per output: ``{"output": name, "max_abs_diff": d, "ok": true|false}``. An output is
ok when ``|ours - reference| <= atol + rtol * |reference|`` element-wise (``--loss-rtol`` for
summed losses). Outputs in dB (a log-mel, later SI-SDR) are levels, not values: near 0 dB a
relative tolerance vanishes while float32 noise does not, so they are compared with the absolute
tolerance in dB that the relative one gives a power, ``10 log10(1 + rtol)`` (4.3e-4 dB at rtol
1e-4), and their lines say ``"unit": "dB"`` and that tolerance. Exit status: 0 all ok, 1 some
output off, 2 a problem with the bundle or the command line. Bundle format:
``shared/parity/README.md``.

A handler per reference model class (``__meta__['module_prefixes']['']``) knows how to build
and run the port; :data:`HANDLERS` maps the class to it.
"""
import argparse
import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from src.errors import DataError, UserError  # noqa: E402
from src.registry import Registry  # noqa: E402

# reference model class -> function(meta, state, inputs) -> [(output name, array, kind)], kind
# one of KINDS: 'activation' (rtol), 'loss' (loss_rtol) or 'db' (a level in dB: db_tolerance)
HANDLERS = Registry('parity bundle model class')
KINDS = ('activation', 'loss', 'db')


def load_bundle(path):
    """(meta dict, state {key: array}, inputs {name: array}, outputs {name: array}) of a bundle."""
    import numpy as np
    if not os.path.isfile(path):
        raise DataError(f"{path}: no such bundle")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError) as err:
        raise DataError(f"{path}: not a readable .npz bundle ({err})") from None
    if '__meta__' not in arrays:
        raise DataError(f"{path}: no __meta__ entry; not a parity bundle")
    meta = json.loads(str(arrays['__meta__']))
    missing = [k for k in meta.get('state_keys', []) if k not in arrays]
    if missing:
        raise DataError(f"{path}: state keys listed in __meta__ are missing: {missing[:5]}")
    state = {k: arrays[k] for k in meta['state_keys']}
    inputs = {k[len('__in__.'):]: v for k, v in arrays.items() if k.startswith('__in__.')}
    outputs = {k[len('__out__.'):]: v for k, v in arrays.items() if k.startswith('__out__.')}
    return meta, state, inputs, outputs


def model_class(meta):
    """The reference model's class path, the key of :data:`HANDLERS`."""
    return meta.get('module_prefixes', {}).get('', meta.get('model', '?'))


@HANDLERS.register('speechbrain.lobes.models.ECAPA_TDNN.ECAPA_TDNN')
def run_ecapa_tdnn(meta, state, inputs):
    """speechbrain ECAPA_TDNN + Classifier (under ``classifier.``) + AAM loss."""
    import mindspore as ms
    from mindspore import nn
    from src.ecapa_tdnn.convert import convert_speechbrain_state, infer_ecapa_config, load_state_into
    from src.ecapa_tdnn.loss import AamSoftmaxLoss, CosineClassifier
    from src.ecapa_tdnn.network import EcapaTdnn

    embedding_state = {k: v for k, v in state.items() if not k.startswith('classifier.')}
    config = infer_ecapa_config(embedding_state, meta.get('config'))
    num_classes, width = state['classifier.weight'].shape
    margin = re.search(r'margin=([\d.]+)', meta.get('loss', ''))
    scale = re.search(r'scale=([\d.]+)', meta.get('loss', ''))

    class EmbeddingWithHead(nn.Cell):
        """The bundle's two modules side by side, named as in the converter's prefix map."""

        def __init__(self):
            super().__init__()
            self.embedding = EcapaTdnn(**config)
            self.classifier = CosineClassifier(width, num_classes)

    model = EmbeddingWithHead()
    load_state_into(model, convert_speechbrain_state(
        state, {'': 'embedding.', 'classifier.': 'classifier.'}))
    model.set_train(False)
    loss = AamSoftmaxLoss(float(margin.group(1)) if margin else 0.2,
                          float(scale.group(1)) if scale else 30.0)
    x = ms.Tensor(inputs['x'])
    embedding = model.embedding(x)
    cosines = model.classifier(embedding)
    return [('embedding', embedding.asnumpy(), 'activation'),
            ('embedding_with_lengths', model.embedding(x, ms.Tensor(inputs['lengths'])).asnumpy(),
             'activation'),
            ('cosine_logits', cosines.asnumpy(), 'activation'),
            ('aam_loss', loss(cosines, ms.Tensor(inputs['labels'])).asnumpy(), 'loss')]


# audioldm_eval ships audioset_tagging_cnn's models.py; panns_inference has Cnn14 only
PANNS_CLASSES = {f'audioldm_eval.feature_extractors.panns.models.{name}': name
                 for name in ('Cnn14', 'Cnn10', 'Cnn6')}
PANNS_CLASSES['panns_inference.models.Cnn14'] = 'Cnn14'


def run_panns(meta, state, inputs):
    """audioset_tagging_cnn Cnn14 / Cnn10 / Cnn6: clipwise output, embedding, log-mel (dB: 10
    log10 of the mel power, floor -100 dB, compared as a level)."""
    import mindspore as ms
    from src.panns.convert import load_panns_state
    from src.panns.network import ARCHITECTURES

    config = dict(meta.get('config', {}))
    architecture = PANNS_CLASSES[model_class(meta)].lower()
    model = ARCHITECTURES[architecture](**config)
    load_panns_state(model, state)
    model.set_train(False)
    x = ms.Tensor(inputs['x'])
    clipwise_output, embedding = model(x)
    return [('clipwise_output', clipwise_output.asnumpy(), 'activation'),
            ('embedding', embedding.asnumpy(), 'activation'),
            ('logmel', model.logmel(x).asnumpy(), 'db')]


for _class_path in PANNS_CLASSES:
    HANDLERS.register(_class_path, run_panns)


@HANDLERS.register('asteroid.models.dprnn_tasnet.DPRNNTasNet')
def run_dprnn_tasnet(meta, state, inputs):
    """asteroid DPRNNTasNet + PITLossWrapper(pairwise_neg_sisdr, 'pw_mtx'): separated sources,
    the PIT loss (minus an SI-SDR in dB, compared as a level) and the reordered estimates."""
    import mindspore as ms
    from src.checkpoint import load_state
    from src.dprnn.convert import convert_asteroid_state, dprnn_args_from_asteroid
    from src.dprnn.loss import EXHAUSTIVE_MAX_SOURCES, PITNegSiSdr, pit_neg_sisdr, reorder_sources
    from src.dprnn.network import DPRNNTasNet

    if 'model_args' not in meta:
        raise DataError("the DPRNNTasNet bundle's __meta__ has no model_args")
    kwargs = dprnn_args_from_asteroid(meta['model_args'], 'bundle')
    model = DPRNNTasNet(**kwargs)
    load_state(model, convert_asteroid_state(state, kwargs, 'bundle'))
    model.set_train(False)
    est = model(ms.Tensor(inputs['x']))
    targets = ms.Tensor(inputs['targets'])
    if model.n_src <= EXHAUSTIVE_MAX_SOURCES:     # every permutation, in the graph
        loss, perm = PITNegSiSdr(model.n_src)(est, targets)
        reordered = reorder_sources(est, perm)
    else:                                         # Hungarian algorithm, on the host
        loss, reordered = pit_neg_sisdr(est, targets, return_est=True)
    return [('est_sources', est.asnumpy(), 'activation'),
            ('pit_neg_sisdr_loss', loss.asnumpy(), 'db'),
            ('reordered_est', reordered.asnumpy(), 'activation')]


WAV2VEC2_CLASS = 'transformers.models.wav2vec2.modeling_wav2vec2.'


def _wav2vec2_network(meta, state, head):
    """The port of a transformers wav2vec2 bundle, weights loaded, in eval mode."""
    from src.checkpoint import load_state
    from src.wav2vec2.convert import convert_hf_state, network_args_from_hf_config
    from src.wav2vec2.network import Wav2Vec2ForCTC, Wav2Vec2ForPreTraining

    if 'config' not in meta:
        raise DataError("the wav2vec2 bundle's __meta__ has no config")
    network_class = {'ctc': Wav2Vec2ForCTC, 'pretraining': Wav2Vec2ForPreTraining}[head]
    model = network_class(**network_args_from_hf_config(meta['config'], head, 'bundle config'))
    load_state(model, convert_hf_state(state))
    model.set_train(False)
    return model


def _optional_tensor(inputs, name, dtype):
    import mindspore as ms
    return ms.Tensor(inputs[name].astype(dtype)) if name in inputs else None


def ctc_targets(labels, blank=0, ignore_index=-100):
    """transformers' CTC labels (N, S) (padding -100 or the blank) -> (targets (N, S) int32 with
    the kept labels first, zero-padded; target_lengths (N,) int32)."""
    import numpy as np
    labels = np.asarray(labels)
    keep = (labels != ignore_index) & (labels != blank)
    targets = np.zeros(labels.shape, np.int32)
    for row, (values, kept) in enumerate(zip(labels, keep)):
        targets[row, :kept.sum()] = values[kept]
    return targets, keep.sum(-1).astype(np.int32)


@HANDLERS.register(WAV2VEC2_CLASS + 'Wav2Vec2ForCTC')
def run_wav2vec2_ctc(meta, state, inputs):
    """transformers Wav2Vec2ForCTC: the base model's last_hidden_state and extract_features,
    the logits and the CTC loss (the config's ``ctc_loss_reduction`` / ``ctc_zero_infinity``),
    with the bundle's ``attention_mask`` if it has one."""
    import mindspore as ms
    from src.wav2vec2.ctc import ctc_loss

    model = _wav2vec2_network(meta, state, 'ctc')
    x = ms.Tensor(inputs['x'].astype('float32'))
    attention_mask = _optional_tensor(inputs, 'attention_mask', 'float32')
    hidden, extract_features, _ = model.wav2vec2(x, attention_mask)
    logits, output_lengths = model(x, attention_mask)
    results = [('last_hidden_state', hidden.asnumpy(), 'activation'),
               ('extract_features', extract_features.asnumpy(), 'activation'),
               ('ctc_logits', logits.asnumpy(), 'activation')]
    if 'ctc_labels' in inputs:
        config = meta['config']
        targets, target_lengths = ctc_targets(inputs['ctc_labels'], config.get('pad_token_id', 0))
        loss, _ = ctc_loss(logits, output_lengths, ms.Tensor(targets), ms.Tensor(target_lengths),
                           config.get('ctc_loss_reduction', 'sum'),
                           config.get('ctc_zero_infinity', False), config.get('pad_token_id', 0))
        results.append(('ctc_loss', loss.asnumpy(), 'loss'))
    return results


@HANDLERS.register(WAV2VEC2_CLASS + 'Wav2Vec2ForPreTraining')
def run_wav2vec2_pretraining(meta, state, inputs):
    """transformers Wav2Vec2ForPreTraining in eval mode (hard argmax quantizer): the projected
    states, projected quantized states and the codevector perplexity (the contrastive and
    diversity losses are the pretraining loss's, checked in tests/wav2vec2)."""
    import mindspore as ms

    model = _wav2vec2_network(meta, state, 'pretraining')
    projected, quantized, code_perplexity, _, _ = model(
        ms.Tensor(inputs['x'].astype('float32')),
        ms.Tensor(inputs['mask_time_indices'].astype('float32')),
        _optional_tensor(inputs, 'attention_mask', 'float32'))
    return [('projected_states', projected.asnumpy(), 'activation'),
            ('projected_quantized_states', quantized.asnumpy(), 'activation'),
            ('codevector_perplexity', code_perplexity.asnumpy(), 'activation')]


def db_tolerance(rtol):
    """The absolute tolerance in dB of a level whose power may be off by the factor 1 + rtol."""
    import math
    return 10.0 * math.log10(1.0 + rtol)


def tolerances(kind, rtol, atol, loss_rtol):
    """(rtol, atol) that :func:`compare` applies to an output of ``kind`` (see KINDS), from the
    command line's tolerances."""
    if kind not in KINDS:
        raise ValueError(f"output kind {kind!r} is none of {KINDS}")
    if kind == 'db':
        return 0.0, db_tolerance(rtol)
    return (loss_rtol if kind == 'loss' else rtol), atol


def compare(name, actual, reference, rtol, atol):
    """One JSON-able result line: max |difference| and whether every element is within tolerance."""
    import numpy as np
    actual, reference = np.asarray(actual), np.asarray(reference)
    if actual.shape != reference.shape:
        return {'output': name, 'max_abs_diff': None, 'ok': False,
                'error': f"shape {list(actual.shape)} vs reference {list(reference.shape)}"}
    diff = np.abs(actual.astype(np.float64) - reference.astype(np.float64))
    ok = bool(np.all(diff <= atol + rtol * np.abs(reference.astype(np.float64))))
    return {'output': name, 'max_abs_diff': float(diff.max()) if diff.size else 0.0, 'ok': ok}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('bundle', help="parity bundle (.npz)")
    parser.add_argument('--rtol', type=float, default=1e-4,
                        help="relative tolerance of activations (of the power, for dB outputs)")
    parser.add_argument('--atol', type=float, default=1e-5, help="absolute tolerance")
    parser.add_argument('--loss-rtol', type=float, default=1e-3, help="relative tolerance of summed losses")
    parser.add_argument('--mode', choices=('graph', 'pynative'), default='pynative',
                        help="MindSpore execution mode")
    parser.add_argument('--device', default='CPU', help="CPU, GPU or Ascend")
    args = parser.parse_args(argv)
    try:
        meta, state, inputs, outputs = load_bundle(args.bundle)
        handler = HANDLERS.get(model_class(meta))
        from src.runtime import set_up_runtime
        set_up_runtime(args.device, args.mode)
        results = handler(meta, state, inputs)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    all_ok = True
    for name, actual, kind in results:
        if name not in outputs:
            print(f"error: {args.bundle} has no reference output {name!r}", file=sys.stderr)
            return 2
        rtol, atol = tolerances(kind, args.rtol, args.atol, args.loss_rtol)
        line = compare(name, actual, outputs[name], rtol, atol)
        if kind == 'db':
            line.update(unit='dB', atol=atol)
        all_ok &= line['ok']
        print(json.dumps(line), flush=True)
    return 0 if all_ok else 1


if __name__ == '__main__':
    sys.exit(main())
