"""wav2vec 2.0's pretraining objective (fairseq ``wav2vec`` criterion with ``infonce: true``).

For each masked frame, the context network's projected state must pick its own quantized latent
among ``N`` distractors (:func:`src.wav2vec2.masking.sample_negatives`): a cross entropy over the
``N + 1`` cosine similarities divided by the logit temperature, with the distractors identical to
the positive ruled out (fairseq's ``neg_is_pos``: with hard codevectors another frame often has
the same code). Two extra terms, each weighted and scaled by the number of masked frames as
fairseq's ``loss_weights`` are: the codebook diversity ``(G V - prob_perplexity) / (G V)``, and
the feature penalty (mean square of the conv features). The sum is divided by the number of
masked frames (``sample_size``).

References: Baevski et al. 2020, wav2vec 2.0, section 3.2; fairseq
``fairseq/criterions/wav2vec_criterion.py`` and ``Wav2Vec2Model.compute_preds``.
"""
import math

import mindspore as ms
from mindspore import nn, ops

from ..errors import ConfigError

# the names of the aux values :class:`PretrainingLossNet` returns (the trainer logs them)
AUX_NAMES = ('contrastive', 'diversity', 'features_penalty', 'accuracy', 'code_perplexity',
             'prob_perplexity', 'loss_bits', 'sample_size')

_COSINE_EPS = 1e-8          # as torch.cosine_similarity and mindspore.ops.cosine_similarity
# fairseq gives a negative equal to the positive the logit -inf; a finite value this low has the
# same zero probability (the logits are cosines / temperature, |logit| <= 1 / temperature) and
# keeps inf out of the log-softmax and its gradient, where a rare -inf * 0 made NaN losses
NEG_IS_POS_LOGIT = -1e4
_LN2 = math.log(2.0)


def contrastive_logits(projected, quantized, negatives, logit_temperature):
    """Cosine similarity of each frame's projected state to its positive and its negatives.

    Args:
        projected: (B, F, P) float32 context states (after ``project_hid``).
        quantized: (B, F, P) float32 quantized targets (after ``project_q``).
        negatives: (B, F, N) int32 flat indices into the ``B * F`` frames.
        logit_temperature: the similarities are divided by it.

    Returns:
        (B, F, N + 1) float32 logits, the positive first; a negative equal to the positive
        (every component) gets :data:`NEG_IS_POS_LOGIT` (fairseq's -inf: probability 0).
    """
    batch, frames, dim = quantized.shape
    num = negatives.shape[2]
    flat = quantized.reshape(batch * frames, dim)
    index = negatives.reshape(-1)
    negative_states = ops.gather(flat, index, 0).reshape(batch * frames, num, dim)
    targets = ops.concat((flat.expand_dims(1), negative_states), 1)    # (BF, N + 1, P)
    anchor = projected.reshape(batch * frames, dim, 1)
    # a batched matmul and norms gathered per frame: no (BF, N + 1, P) products to keep
    dot = ops.matmul(targets, anchor).squeeze(-1)                       # (BF, N + 1)
    target_norm = ops.sqrt((flat * flat).sum(-1))                       # (BF,)
    norms = ops.concat((target_norm.expand_dims(1),
                        ops.gather(target_norm, index, 0).reshape(batch * frames, num)), 1)
    norms = norms * ops.sqrt((anchor * anchor).sum(1))
    logits = (dot / ops.clamp(norms, min=_COSINE_EPS) / logit_temperature).reshape(
        batch, frames, num + 1)
    neg_is_pos = ops.equal(negative_states, flat.expand_dims(1)).all(-1).reshape(batch, frames, num)
    excluded = ops.full_like(logits[:, :, 1:], NEG_IS_POS_LOGIT)
    return ops.concat((logits[:, :, :1], ops.select(neg_is_pos, excluded, logits[:, :, 1:])), 2)


class PretrainingLossNet(nn.Cell):
    """The pretraining loss of a ``Wav2Vec2ForPreTraining`` for the trainer.

    Args:
        network: ``Wav2Vec2ForPreTraining`` (or a Cell with its construct contract:
            ``(input_values, mask_time_indices, attention_mask, gumbel_temperature)`` ->
            ``(projected_states, projected_quantized_states, code_perplexity, prob_perplexity,
            features_penalty)``).
        diversity_weight: weight of the codebook diversity term (fairseq ``loss_weights[0]``).
        feature_penalty_weight: weight of the feature penalty (fairseq ``loss_weights[1]``).
        logit_temperature: divides the cosine similarities (fairseq ``logit_temp``).
        num_codevectors: G x V, the codebook entries over all groups; None reads it from
            ``network.quantizer`` (``num_groups * num_vars``, transformers' attribute names).

    ``construct(self, audio, mask_time, negatives, gumbel_temperature)``: ``audio`` (B, T)
    float32, ``mask_time`` (B, F) float32 0/1, ``negatives`` (B, F, N) int32 (the pretraining
    batch), ``gumbel_temperature`` a float32 scalar. Returns ``(loss, aux)``: the loss per masked
    frame (nats), and the float32 scalars of :data:`AUX_NAMES`: ``contrastive`` (the cross
    entropy per masked frame, nats), ``diversity`` ((GV - prob_perplexity) / GV), ``features_penalty``,
    ``accuracy`` (fraction of masked frames whose positive scores above every negative, ties to
    all of them not counted, as fairseq's correct / count), ``code_perplexity``, ``prob_perplexity``,
    ``loss_bits`` (the loss in bits, as fairseq logs ``loss``), ``sample_size`` (masked frames).
    """

    def __init__(self, network, diversity_weight=0.1, feature_penalty_weight=10.0,
                 logit_temperature=0.1, num_codevectors=None):
        super().__init__()
        self.network = network
        if num_codevectors is None:
            quantizer = getattr(network, 'quantizer', None)
            if not (hasattr(quantizer, 'num_groups') and hasattr(quantizer, 'num_vars')):
                # a wiring bug, not a user's: keep the traceback
                raise ValueError("the pretraining loss needs the codebook size: the network has no "
                                 "quantizer.num_groups / num_vars; pass num_codevectors")
            num_codevectors = int(quantizer.num_groups) * int(quantizer.num_vars)
        if not logit_temperature > 0:
            raise ConfigError(f"logit_temperature must be positive, got {logit_temperature}")
        self.num_codevectors = float(num_codevectors)
        self.diversity_weight = float(diversity_weight)
        self.feature_penalty_weight = float(feature_penalty_weight)
        self.logit_temperature = float(logit_temperature)

    def construct(self, audio, mask_time, negatives, gumbel_temperature):
        projected, quantized, code_perplexity, prob_perplexity, features_penalty = self.network(
            audio, mask_time, None, gumbel_temperature)
        projected = ops.cast(projected, ms.float32)
        quantized = ops.cast(quantized, ms.float32)
        mask = ops.cast(mask_time, ms.float32)                          # (B, F)
        logits = contrastive_logits(projected, quantized, negatives, self.logit_temperature)
        log_probs = ops.log_softmax(logits, -1)                         # (B, F, N + 1)
        sample_size = mask.sum()
        frames = ops.maximum(sample_size, 1.0)                          # no 0 / 0 without masks
        contrastive = (-log_probs[:, :, 0] * mask).sum() / frames
        diversity = (self.num_codevectors - prob_perplexity) / self.num_codevectors
        features_penalty = ops.cast(features_penalty, ms.float32)
        loss = (contrastive + self.diversity_weight * diversity
                + self.feature_penalty_weight * features_penalty)
        positive, others = logits[:, :, 0], logits[:, :, 1:]
        # fairseq: argmax == 0 and not argmin == 0 (first index wins ties: all-equal logits
        # make both true, and that frame is not counted as correct)
        wins = ops.logical_and(positive >= ops.amax(others, -1), positive > ops.amin(others, -1))
        accuracy = (ops.cast(wins, ms.float32) * mask).sum() / frames
        aux = {'contrastive': contrastive, 'diversity': diversity,
               'features_penalty': features_penalty, 'accuracy': accuracy,
               'code_perplexity': ops.cast(code_perplexity, ms.float32),
               'prob_perplexity': ops.cast(prob_perplexity, ms.float32),
               'loss_bits': loss / _LN2, 'sample_size': sample_size}
        return loss, aux


# a code perplexity below this (of G x V codevectors in use) is a collapsing codebook
COLLAPSED_PERPLEXITY = 2.0
# and a contrastive loss this close (bits) to chance, log2(1 + negatives), is learning nothing
CHANCE_MARGIN_BITS = 0.05


def collapse_warning(record, num_negatives=100):
    """The known failure of wav2vec 2.0 pretraining in a logged training record, in words, or
    None: the quantizer's code perplexity near 1 (one codevector used for everything), or the
    contrastive loss stuck at chance, ``log2(1 + num_negatives)`` bits per masked frame (the
    positive no more likely than any negative) once the first updates are past."""
    perplexity = record.get('code_perplexity')
    if perplexity is not None and perplexity < COLLAPSED_PERPLEXITY:
        return (f"code perplexity {perplexity:.2f}: the quantizer's codebook has collapsed (one "
                "codevector for every frame); lower optim.lr, raise loss.diversity_weight, or "
                "restart from an earlier checkpoint")
    contrastive = record.get('contrastive')
    chance = math.log2(1 + num_negatives)
    if contrastive is not None and record.get('step', 0) >= 1000 \
            and contrastive / math.log(2) > chance - CHANCE_MARGIN_BITS:
        return (f"contrastive loss {contrastive / math.log(2):.3f} bits per masked frame is at "
                f"chance ({chance:.3f} = log2(1 + {num_negatives} negatives)): the model is not "
                "learning; check the masks (data.mask_time_prob) and the learning rate")
    return None
