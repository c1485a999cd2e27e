"""wav2vec 2.0 networks against transformers 5.23 (parity bundles), parameter names and counts
of BASE, attention-mask semantics, the training-mode paths (LayerDrop, Gumbel quantizer,
feature_grad_mult)."""
import csv
import importlib.util
import json
import os

import numpy as np
import pytest

import mindspore as ms

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(ROOT, 'tests', 'data')
# the two shared bundles and those of tools/make_wav2vec2_references.py (tests/data/README.md):
# LARGE layout with an odd length, a padded batch with an attention mask, 'mean' CTC with an
# infeasible target, pretraining heads on the LARGE layout (batch 2)
CTC_BUNDLES = ['wav2vec2', 'wav2vec2_large', 'wav2vec2_padded', 'wav2vec2_infeasible']
PRETRAINING_BUNDLES = ['wav2vec2_pretraining', 'wav2vec2_pretraining_large']
BUNDLES = CTC_BUNDLES + PRETRAINING_BUNDLES
TINY = dict(conv_dim=(16, 16, 16), conv_kernel=(10, 3, 3), conv_stride=(5, 2, 2), hidden_size=32,
            num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
            num_conv_pos_embeddings=8, num_conv_pos_embedding_groups=4, hidden_dropout=0.0,
            attention_dropout=0.0, activation_dropout=0.0, feat_proj_dropout=0.0, layerdrop=0.0)


def load_tool():
    spec = importlib.util.spec_from_file_location('parity_tool', os.path.join(ROOT, 'tools', 'parity.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


def bundle_results(name):
    """(our outputs {name: (array, kind)}, reference outputs, inputs, meta) of a bundle."""
    tool = load_tool()
    meta, state, inputs, outputs = tool.load_bundle(os.path.join(DATA, f'{name}.npz'))
    results = tool.HANDLERS.get(tool.model_class(meta))(meta, state, inputs)
    return {n: (a, kind) for n, a, kind in results}, outputs, inputs, meta


def assert_close(name, actual, reference, kind):
    rtol = 1e-3 if kind == 'loss' else 1e-4
    np.testing.assert_allclose(actual, reference, rtol=rtol, atol=1e-5, err_msg=name)


@pytest.mark.parametrize('name', BUNDLES)
def test_bundle_outputs_match_transformers(name, mode):
    ours, reference, _, _ = bundle_results(name)
    expected = (['last_hidden_state', 'extract_features', 'ctc_logits', 'ctc_loss']
                if name in CTC_BUNDLES else
                ['projected_states', 'projected_quantized_states', 'codevector_perplexity'])
    assert list(ours) == expected
    for output, (actual, kind) in ours.items():
        assert_close(output, actual, reference[output], kind)


def numpy_pretraining_losses(projected, quantized, perplexity, mask, negatives, num_codevectors,
                             temperature=0.1, diversity_weight=0.1):
    """transformers' eval-mode Wav2Vec2ForPreTraining loss: summed cross entropy over the masked
    frames of cosine logits / temperature (a negative equal to the positive gets -inf), diversity
    (GV - perplexity) / GV * number of masked frames."""
    n, f, p = quantized.shape
    negative = quantized.reshape(-1, p)[negatives.reshape(-1)].reshape(n, f, -1, p)    # (N, F, K, P)
    targets = np.concatenate([quantized[:, :, None], negative], 2).astype(np.float64)  # (N, F, 1+K, P)
    pred = projected.astype(np.float64)[:, :, None]
    cosine = (pred * targets).sum(-1) / np.maximum(
        np.linalg.norm(pred, axis=-1) * np.linalg.norm(targets, axis=-1), 1e-8)
    logits = cosine / temperature
    logits[:, :, 1:][(negative == quantized[:, :, None]).all(-1)] = -np.inf
    log_softmax = logits - np.log(np.exp(logits - logits.max(-1, keepdims=True)).sum(-1, keepdims=True)) \
        - logits.max(-1, keepdims=True)
    contrastive = -(log_softmax[..., 0] * mask).sum()
    diversity = (num_codevectors - perplexity) / num_codevectors * mask.sum()
    return contrastive, diversity, contrastive + diversity_weight * diversity


@pytest.mark.parametrize('name', PRETRAINING_BUNDLES)
def test_pretraining_losses_from_our_outputs_match_transformers(name):
    ours, reference, inputs, meta = bundle_results(name)
    config = meta['config']
    settings = (inputs['mask_time_indices'].astype(np.float64), inputs['sampled_negative_indices'],
                config['num_codevectors_per_group'] * config['num_codevector_groups'],
                config['contrastive_logits_temperature'], config['diversity_loss_weight'])
    contrastive, diversity, loss = numpy_pretraining_losses(
        ours['projected_states'][0], ours['projected_quantized_states'][0],
        float(ours['codevector_perplexity'][0]), *settings)
    # the numpy loss itself reproduces transformers from transformers' own outputs
    ref_contrastive, ref_diversity, _ = numpy_pretraining_losses(
        reference['projected_states'], reference['projected_quantized_states'],
        float(reference['codevector_perplexity']), *settings)
    np.testing.assert_allclose(ref_contrastive, reference['contrastive_loss'], rtol=1e-5)
    np.testing.assert_allclose(ref_diversity, reference['diversity_loss'], rtol=1e-5)
    np.testing.assert_allclose(contrastive, reference['contrastive_loss'], rtol=1e-3)
    np.testing.assert_allclose(diversity, reference['diversity_loss'], rtol=1e-3)
    np.testing.assert_allclose(loss, reference['loss'], rtol=1e-3)


def read_keys(name):
    with open(os.path.join(DATA, f'wav2vec2_base_{name}_full_keys.tsv'), newline='') as f:
        rows = list(csv.DictReader(f, delimiter='\t'))
    return {row['key']: tuple(json.loads(row['shape'])) for row in rows}


def named_shapes(network):
    return {name: tuple(p.shape) for name, p in network.parameters_and_names()}


def test_base_names_shapes_and_counts_are_transformers():
    from src.wav2vec2.convert import convert_hf_state
    from src.wav2vec2.network import Wav2Vec2ForCTC, Wav2Vec2ForPreTraining, Wav2Vec2Model

    def converted(name, prefix=''):
        keys = read_keys(name)
        return {k: v.shape for k, v in convert_hf_state(
            {k: np.empty(s, np.float32) for k, s in keys.items()}, prefix).items()}

    ctc = named_shapes(Wav2Vec2ForCTC())
    assert ctc == converted('ctc')
    assert sum(int(np.prod(s)) for s in ctc.values()) == 94_396_320
    model = {k[len('wav2vec2.'):]: s for k, s in ctc.items() if k.startswith('wav2vec2.')}
    assert model == converted('model')
    assert sum(int(np.prod(s)) for s in model.values()) == 94_371_712
    pretraining = named_shapes(Wav2Vec2ForPreTraining())
    assert pretraining == converted('pretraining')
    assert sum(int(np.prod(s)) for s in pretraining.values()) == 95_044_608
    # the standalone model has the same names without the prefix
    assert named_shapes(Wav2Vec2Model(num_hidden_layers=1)) == {
        k: s for k, s in model.items() if not k.startswith('encoder.layers.') or
        k.startswith('encoder.layers.0.')}


def tiny_ctc(**changes):
    from src.wav2vec2.network import Wav2Vec2ForCTC
    ms.set_seed(0)
    net = Wav2Vec2ForCTC(vocab_size=8, **dict(TINY, **changes))
    net.set_train(False)
    return net


@pytest.mark.parametrize('stable', [False, True])
def test_padding_does_not_change_the_real_frames(stable, mode):
    # transformers' semantics: with per-frame normalisation ('layer'; 'group' normalises over
    # the padding too, as transformers does) an utterance padded in a batch gives the logits it
    # gives alone
    net = tiny_ctc(do_stable_layer_norm=stable, feat_extract_norm='layer')
    rng = np.random.default_rng(0)
    audio = rng.standard_normal((2, 1600)).astype(np.float32)
    short = 1111
    audio[1, short:] = 0.0
    mask = np.ones((2, 1600), np.float32)
    mask[1, short:] = 0.0
    logits, lengths = net(ms.Tensor(audio), ms.Tensor(mask))
    alone, alone_lengths = net(ms.Tensor(audio[1:, :short]))
    assert lengths.asnumpy().tolist() == [79, alone_lengths.asnumpy()[0]]
    frames = int(alone_lengths.asnumpy()[0])
    assert frames == 54
    np.testing.assert_allclose(logits.asnumpy()[1, :frames], alone.asnumpy()[0], rtol=1e-4, atol=1e-5)
    full, _ = net(ms.Tensor(audio[:1]))
    np.testing.assert_allclose(logits.asnumpy()[0], full.asnumpy()[0], rtol=1e-4, atol=1e-5)


def test_time_and_channel_masks(mode):
    from src.wav2vec2.network import Wav2Vec2Model
    ms.set_seed(0)
    model = Wav2Vec2Model(**dict(TINY, num_hidden_layers=1))
    model.set_train(False)
    x = ms.Tensor(np.random.default_rng(1).standard_normal((1, 1600)).astype(np.float32))
    base, _, _ = model(x)
    mask_time = np.zeros((1, 79), np.float32)
    mask_time[0, 10:20] = 1
    masked, extract, _ = model(x, None, ms.Tensor(mask_time))
    _, extract_plain, _ = model(x)
    np.testing.assert_array_equal(extract.asnumpy(), extract_plain.asnumpy())  # before the mask
    assert np.abs(masked.asnumpy() - base.asnumpy()).max() > 1e-3
    # a time mask over every frame: the result no longer depends on the audio
    everything = ms.Tensor(np.ones((1, 79), np.float32))
    other = ms.Tensor(np.random.default_rng(2).standard_normal((1, 1600)).astype(np.float32))
    np.testing.assert_allclose(model(x, None, everything)[0].asnumpy(),
                               model(other, None, everything)[0].asnumpy(), rtol=1e-5, atol=1e-6)
    channels = np.zeros((1, 32), np.float32)
    channels[0, :5] = 1
    assert np.abs(model(x, None, None, ms.Tensor(channels))[0].asnumpy() - base.asnumpy()).max() > 1e-3


def feature_encoder_gradients(mult):
    """Gradients of the sum of the CTC logits for feature_grad_mult ``mult`` (same weights)."""
    net = tiny_ctc(feature_grad_mult=mult)
    net.set_train(True)
    params = net.trainable_params()
    x = ms.Tensor(np.random.default_rng(3).standard_normal((2, 1600)).astype(np.float32))

    def forward(audio):
        logits, _ = net(audio)
        return (logits ** 2).sum()

    grads = ms.grad(forward, grad_position=None, weights=params)(x)
    return {p.name: g.asnumpy() for p, g in zip(params, grads)}


def test_feature_grad_mult_scales_the_feature_encoder_gradient(mode):
    full, tenth, none = (feature_encoder_gradients(m) for m in (1.0, 0.1, 0.0))
    conv = [n for n in full if n.startswith('wav2vec2.feature_extractor.')]
    assert conv and len(conv) < len(full)
    for name in full:
        if name in conv:
            np.testing.assert_allclose(tenth[name], 0.1 * full[name], rtol=1e-4, atol=1e-8)
            assert not none[name].any()
            assert np.abs(full[name]).max() > 0
        else:
            np.testing.assert_allclose(tenth[name], full[name], rtol=1e-5, atol=1e-8)


def test_layerdrop_skips_whole_layers_in_training(mode):
    net = tiny_ctc(layerdrop=1.0)      # every layer skipped: the encoder is pos conv + LayerNorm
    x = ms.Tensor(np.random.default_rng(4).standard_normal((1, 1600)).astype(np.float32))
    net.set_train(True)
    skipped, _ = net(x)
    net.set_train(False)
    kept, _ = net(x)
    no_layers = tiny_ctc(num_hidden_layers=0)
    params = {p.name: p for p in net.get_parameters()}
    for param in no_layers.get_parameters():
        param.set_data(params[param.name].data)
    assert np.abs(skipped.asnumpy() - kept.asnumpy()).max() > 1e-3
    np.testing.assert_allclose(skipped.asnumpy(), no_layers(x)[0].asnumpy(), rtol=1e-5, atol=1e-6)


def test_pretraining_in_training_mode_quantizes_with_gumbel_noise(mode):
    from src.wav2vec2.network import Wav2Vec2ForPreTraining
    ms.set_seed(0)
    net = Wav2Vec2ForPreTraining(num_codevector_groups=2, num_codevectors_per_group=8,
                                 codevector_dim=16, proj_codevector_dim=12, **TINY)
    x = ms.Tensor(np.random.default_rng(5).standard_normal((2, 1600)).astype(np.float32))
    mask = np.zeros((2, 79), np.float32)
    mask[:, 5:40] = 1
    mask = ms.Tensor(mask)
    net.set_train(False)
    _, q_eval, code_eval, prob_eval, penalty = net(x, mask)
    net.set_train(True)
    temperature = ms.Tensor(2.0, ms.float32)
    projected, q_train, code_train, prob_train, _ = net(x, mask, None, temperature)
    assert projected.shape == (2, 79, 12) and q_train.shape == (2, 79, 12)
    np.testing.assert_allclose(code_train.asnumpy(), code_eval.asnumpy(), rtol=1e-5)  # no noise
    np.testing.assert_allclose(prob_train.asnumpy(), prob_eval.asnumpy(), rtol=1e-5)
    assert 1.0 <= float(code_eval.asnumpy()) <= 16.0 and 1.0 <= float(prob_eval.asnumpy()) <= 16.0
    assert float(penalty.asnumpy()) > 0
    # the noisy choice differs from the argmax on some frames, and it is still a codevector
    # (the same rows of project_q's output as some eval frame)
    assert np.abs(q_train.asnumpy() - q_eval.asnumpy()).max() > 1e-4
    params = net.quantizer.trainable_params() + net.project_q.trainable_params()

    def forward(audio):
        _, quantized, _, prob_perplexity, _ = net(audio, mask, None, temperature)
        return (quantized ** 2).sum() - prob_perplexity

    grads = ms.grad(forward, grad_position=None, weights=params)(x)
    for param, grad in zip(params, grads):
        assert np.isfinite(grad.asnumpy()).all() and np.abs(grad.asnumpy()).max() > 0, param.name


def test_gumbel_noise_stays_finite_at_the_ends_of_the_uniform():
    from src.wav2vec2.quantizer import gumbel_from_uniform
    u = np.array([0.0, 1e-38, 0.5, 1.0 - 6e-8, 0.99999994, 1.0], np.float32)
    g = gumbel_from_uniform(ms.Tensor(u)).asnumpy()
    assert np.isfinite(g).all() and g.max() <= 23.1
    np.testing.assert_allclose(g[2], -np.log(-np.log(0.5)), rtol=1e-6)
