"""The pretraining loss (src.wav2vec2.loss) against an independent numpy implementation of
fairseq's wav2vec criterion, on a stand-in network that returns fixed projected and quantized
states; the neg_is_pos rule, the collapse values, gradients, PyNative and graph mode."""
import math

import numpy as np
import pytest

import mindspore as ms
from mindspore import nn

from src.errors import ConfigError
from src.wav2vec2.loss import AUX_NAMES, PretrainingLossNet, contrastive_logits
from src.wav2vec2.masking import compute_mask_indices, sample_negatives
from tests.helpers import raises_one_line

B, F, P, N = 2, 30, 16, 8
GROUPS, VARS = 2, 5


class StandInQuantizer(nn.Cell):
    def __init__(self):
        super().__init__()
        self.num_groups, self.num_vars = GROUPS, VARS


class StandInPretraining(nn.Cell):
    """Wav2Vec2ForPreTraining's construct contract with trainable fixed states."""

    def __init__(self, projected, quantized, code_perplexity=3.0, prob_perplexity=7.0):
        super().__init__()
        self.projected = ms.Parameter(ms.Tensor(projected, ms.float32), name='projected')
        self.quantized = ms.Parameter(ms.Tensor(quantized, ms.float32), name='quantized')
        self.code_perplexity = ms.Tensor(code_perplexity, ms.float32)
        self.prob_perplexity = ms.Tensor(prob_perplexity, ms.float32)
        self.quantizer = StandInQuantizer()

    def construct(self, input_values, mask_time_indices, attention_mask=None, gumbel_temperature=None):
        # the temperature scales the perplexity, so a test sees that it reached the network
        return (self.projected * 1.0, self.quantized * 1.0, self.code_perplexity,
                self.prob_perplexity * gumbel_temperature, (input_values * input_values).mean())


def reference_loss(projected, quantized, mask, negatives, prob_perplexity, features_penalty,
                   temperature=0.1, diversity_weight=0.1, penalty_weight=10.0):
    """fairseq's criterion, frame by frame in float64."""
    flat = quantized.reshape(-1, quantized.shape[-1]).astype(np.float64)
    contrastive_sum, correct, count = 0.0, 0, 0
    for b, f in zip(*np.nonzero(mask)):
        x = projected[b, f].astype(np.float64)
        candidates = np.concatenate([flat[b * F + f][None], flat[negatives[b, f]]])
        cos = candidates @ x / np.maximum(np.linalg.norm(candidates, axis=1) * np.linalg.norm(x), 1e-8)
        logits = cos / temperature
        logits[1:][(candidates[1:] == candidates[0]).all(1)] = -np.inf
        top = logits.max()
        contrastive_sum += -(logits[0] - top - np.log(np.exp(logits - top).sum()))
        correct += int(np.argmax(logits) == 0 and not np.argmin(logits) == 0)
        count += 1
    gv = GROUPS * VARS
    diversity = (gv - prob_perplexity) / gv
    loss = (contrastive_sum + diversity_weight * diversity * count
            + penalty_weight * features_penalty * count) / count
    return {'loss': loss, 'contrastive': contrastive_sum / count, 'diversity': diversity,
            'accuracy': correct / count, 'sample_size': count, 'loss_bits': loss / math.log(2)}


def batch(seed, collapse_share=0.0):
    rng = np.random.default_rng(seed)
    projected = rng.standard_normal((B, F, P)).astype(np.float32)
    quantized = rng.standard_normal((B, F, P)).astype(np.float32)
    mask = compute_mask_indices((B, F), 0.65, 3, rng, min_masks=2)
    negatives = sample_negatives(mask, N, rng)
    if collapse_share:
        # hard codevectors: some masked frames share their code with others
        masked = np.flatnonzero(mask.reshape(-1))
        same = rng.choice(masked, int(len(masked) * collapse_share), replace=False)
        quantized.reshape(-1, P)[same] = quantized.reshape(-1, P)[masked[0]]
    audio = rng.standard_normal((B, 400)).astype(np.float32) * 0.1
    return projected, quantized, mask, negatives, audio


def run(loss_net, mask, negatives, audio, temperature=2.0):
    # through the engine's named-values wrapper: a dict out of a graph-mode Cell call can come
    # back as a tuple in a long test session
    from src.engine.train_step import LossAndAuxValues
    return LossAndAuxValues(loss_net, AUX_NAMES).named(
        ms.Tensor(audio), ms.Tensor(mask.astype(np.float32)), ms.Tensor(negatives),
        ms.Tensor(temperature, ms.float32))


@pytest.mark.parametrize('collapse_share', [0.0, 0.4])
def test_loss_and_aux_match_numpy_reference(mode, collapse_share):
    projected, quantized, mask, negatives, audio = batch(0, collapse_share)
    loss_net = PretrainingLossNet(StandInPretraining(projected, quantized))
    loss, aux = run(loss_net, mask, negatives, audio)
    assert tuple(aux) == AUX_NAMES
    expected = reference_loss(projected, quantized, mask, negatives, 7.0 * 2.0,
                              float((audio.astype(np.float64) ** 2).mean()))
    assert loss == pytest.approx(expected['loss'], rel=1e-5)
    for name in ('contrastive', 'diversity', 'accuracy', 'sample_size', 'loss_bits'):
        assert aux[name] == pytest.approx(expected[name], rel=1e-5, abs=1e-6), name
    assert aux['code_perplexity'] == 3.0 and aux['prob_perplexity'] == 14.0
    assert aux['features_penalty'] == pytest.approx((audio.astype(np.float64) ** 2).mean(), rel=1e-5)


def test_weights_and_temperature():
    projected, quantized, mask, negatives, audio = batch(1)
    loss_net = PretrainingLossNet(StandInPretraining(projected, quantized), diversity_weight=0.5,
                                  feature_penalty_weight=2.0, logit_temperature=0.5)
    loss, aux = run(loss_net, mask, negatives, audio, temperature=1.0)
    expected = reference_loss(projected, quantized, mask, negatives, 7.0,
                              float((audio.astype(np.float64) ** 2).mean()), temperature=0.5,
                              diversity_weight=0.5, penalty_weight=2.0)
    assert loss == pytest.approx(expected['loss'], rel=1e-5)
    assert aux['contrastive'] == pytest.approx(expected['contrastive'], rel=1e-5)


def test_negative_equal_to_positive_gets_probability_zero():
    quantized = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
    quantized[0, 2] = quantized[0, 0]                 # frame 2 has frame 0's code
    projected = np.ones((2, 3, 4), np.float32)
    negatives = np.array([[[2, 1], [0, 2], [0, 1]], [[4, 5], [3, 5], [3, 4]]], np.int32)
    logits = contrastive_logits(ms.Tensor(projected), ms.Tensor(quantized), ms.Tensor(negatives),
                                0.1).asnumpy()
    assert logits.shape == (2, 3, 3)
    from src.wav2vec2.loss import NEG_IS_POS_LOGIT
    assert logits[0, 0, 1] == NEG_IS_POS_LOGIT and logits[0, 2, 1] == NEG_IS_POS_LOGIT  # 0 vs 2, 2 vs 0
    assert np.exp(NEG_IS_POS_LOGIT - logits[0, 0, 0]) == 0.0             # fairseq's -inf: no weight
    assert np.isfinite(logits[0, 1]).all() and np.isfinite(logits[1]).all()
    assert np.isfinite(logits[:, :, 0]).all()
    cos = quantized[0, 1] @ projected[0, 1] / (np.linalg.norm(quantized[0, 1]) * 2.0)
    assert logits[0, 1, 0] == pytest.approx(cos / 0.1, rel=1e-6)


def test_collapse_gives_log2_of_101_bits():
    # all quantized targets (nearly) equal: no frame can tell its positive from 100 negatives
    rng = np.random.default_rng(2)
    frames, num = 120, 100
    projected = rng.standard_normal((1, frames, P)).astype(np.float32)
    code = rng.standard_normal(P).astype(np.float32)
    quantized = code + 1e-6 * rng.standard_normal((1, frames, P)).astype(np.float32)
    mask = compute_mask_indices((1, frames), 0.65, 10, rng, min_masks=2)
    negatives = sample_negatives(mask, num, rng)
    network = StandInPretraining(projected, quantized, prob_perplexity=GROUPS * VARS)
    _, aux = run(PretrainingLossNet(network, feature_penalty_weight=0.0), mask, negatives,
                 np.zeros((1, 400), np.float32), temperature=1.0)
    assert aux['diversity'] == 0.0
    assert aux['loss_bits'] == pytest.approx(math.log2(num + 1), rel=1e-3)
    # exactly equal codes: every negative is the positive, ruled out; nothing left to contrast
    network = StandInPretraining(projected, np.broadcast_to(code, (1, frames, P)).copy())
    _, aux = run(PretrainingLossNet(network), mask, negatives, np.zeros((1, 400), np.float32))
    assert aux['contrastive'] == pytest.approx(0.0, abs=1e-6) and aux['accuracy'] == 1.0


def test_ties_are_not_correct():
    # codes that differ only in scale: equal logits, and a tie is not a correct frame (fairseq:
    # argmax == 0 and argmin == 0); powers of two scale without rounding, so the ties are exact
    rng = np.random.default_rng(4)
    frames, num = 60, 100
    projected = rng.standard_normal((1, frames, P)).astype(np.float32)
    code = rng.standard_normal(P).astype(np.float32)
    scales = np.exp2(np.arange(frames) - 20.0).astype(np.float32)[None, :, None]
    mask = compute_mask_indices((1, frames), 0.65, 5, rng, min_masks=2)
    negatives = sample_negatives(mask, num, rng)
    network = StandInPretraining(projected, code * scales)
    _, aux = run(PretrainingLossNet(network), mask, negatives, np.zeros((1, 400), np.float32))
    assert aux['contrastive'] == pytest.approx(math.log(num + 1), rel=1e-5)
    assert aux['accuracy'] == 0.0


def test_gradients_finite_and_only_through_masked_frames(mode):
    projected, quantized, mask, negatives, audio = batch(3, collapse_share=0.4)
    loss_net = PretrainingLossNet(StandInPretraining(projected, quantized))
    grad_fn = ms.value_and_grad(loss_net, None, loss_net.trainable_params(), has_aux=True)
    (_, _), grads = grad_fn(ms.Tensor(audio), ms.Tensor(mask.astype(np.float32)),
                            ms.Tensor(negatives), ms.Tensor(1.0, ms.float32))
    d_projected, d_quantized = (g.asnumpy() for g in grads)
    assert np.isfinite(d_projected).all() and np.isfinite(d_quantized).all()
    assert (d_projected[~mask] == 0).all() and (np.abs(d_projected[mask]).sum(-1) > 0).all()


def test_codebook_size_needed():
    class Bare(nn.Cell):
        def construct(self, x):
            return x
    raises_one_line(ValueError, lambda: PretrainingLossNet(Bare()), 'num_codevectors')
    raises_one_line(ConfigError, lambda: PretrainingLossNet(Bare(), num_codevectors=4, logit_temperature=0),
                    'logit_temperature')
    assert PretrainingLossNet(Bare(), num_codevectors=640).num_codevectors == 640.0


def test_the_loss_network_reproduces_transformers_contrastive_loss(mode):
    # the real loss network on the shared bundle's network, mask and negatives (eval mode: the
    # quantizer's hard argmax): its contrastive term summed over the masked frames is HF's
    import json
    import os
    from src.checkpoint import load_state
    from src.wav2vec2.convert import convert_hf_state, network_args_from_hf_config
    from src.wav2vec2.loss import PretrainingLossNet
    from src.wav2vec2.network import Wav2Vec2ForPreTraining
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'data',
                        'wav2vec2_pretraining.npz')
    z = np.load(path)
    meta = json.loads(str(z['__meta__']))
    network = Wav2Vec2ForPreTraining(**network_args_from_hf_config(meta['config'], 'pretraining'))
    load_state(network, convert_hf_state({k: z[k] for k in meta['state_keys']}))
    loss_net = PretrainingLossNet(network)
    loss_net.set_train(False)
    mask = z['__in__.mask_time_indices'].astype(np.float32)
    _, aux = run(loss_net, mask, z['__in__.sampled_negative_indices'].astype(np.int32),
                 z['__in__.x'])
    masked = float(mask.sum())
    assert aux['sample_size'] == masked
    np.testing.assert_allclose(aux['contrastive'] * masked,
                               float(z['__out__.contrastive_loss']), rtol=1e-3)
    np.testing.assert_allclose(aux['code_perplexity'],
                               float(z['__out__.codevector_perplexity']), rtol=1e-4)


def test_collapse_warnings():
    from src.wav2vec2.loss import collapse_warning
    healthy = {'step': 5000, 'code_perplexity': 180.0, 'contrastive': 2.0}
    assert collapse_warning(healthy) is None
    assert 'collapsed' in collapse_warning(dict(healthy, code_perplexity=1.2))
    stuck = dict(healthy, contrastive=math.log(101))       # nats at chance
    assert 'at chance' in collapse_warning(stuck) and '6.658' in collapse_warning(stuck)
    assert collapse_warning(dict(stuck, step=10)) is None  # the first updates are near chance
    assert collapse_warning(dict(stuck, contrastive=math.log(11)), num_negatives=10) is not None
