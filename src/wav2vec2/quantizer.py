"""wav2vec 2.0's Gumbel-softmax product quantizer (transformers ``Wav2Vec2GumbelVectorQuantizer``,
fairseq ``GumbelVectorQuantizer``): ``G`` codebooks of ``V`` entries, one entry chosen per
codebook and frame, the chosen codevectors concatenated.

Training: straight-through hard Gumbel softmax at a temperature (the forward uses the one-hot
of the noisy argmax, the gradient that of the noisy softmax). Eval: the one-hot of the argmax.
Both perplexities are returned (fairseq's ``code_perplexity`` and ``prob_perplexity``): of the
hard choices without noise, and of the mean softmax probabilities, over the masked frames.
The logits, softmax and perplexities are computed in float32 (mixed precision).
"""
import mindspore as ms
from mindspore import Parameter, nn, ops
from mindspore.common.initializer import Normal

DEFAULT_TEMPERATURE = 2.0   # transformers' initial quantizer temperature (fairseq: 2 -> 0.5)


def gumbel_from_uniform(uniform):
    """Gumbel(0, 1) noise ``-log(e)``, ``e = -log(u)`` ~ Exp(1), of uniform ``u`` in [0, 1],
    bounded: u -> 0 gives e = inf, and u near 1 a float32 ``log(u)`` of exactly 0, e = 0 and a
    +inf logit (then a NaN softmax: it happened about once per 50 demo batches)."""
    exponential = ops.clamp(-ops.log(ops.clamp(uniform, 1e-30, 1.0)), 1e-10, None)
    return -ops.log(exponential)


def perplexity(probs, frame_weight):
    """sum over groups of exp(entropy of the mean distribution); probs (R, G, V), frame_weight
    (R, 1, 1) 0/1: the mean runs over the rows with weight 1 (0 log 0 = 0, as ``torch.xlogy``)."""
    marginal = (probs * frame_weight).sum(0) / frame_weight.sum()           # (G, V)
    positive = marginal > 0
    plogp = ops.where(positive, marginal * ops.log(ops.where(positive, marginal, 1.0)), 0.0)
    return ops.exp(-plogp.sum(-1)).sum()


class GumbelVectorQuantizer(nn.Cell):
    """Args: in_features (conv_dim[-1]), num_groups (G), num_vars (V), codevector_dim (D, a
    multiple of G).

    Parameters: ``codevectors`` (1, G*V, D/G), ``weight_proj`` Linear in_features -> G*V.

    Inputs: x (N, F, in_features), mask (N, F) 0/1 (the frames the perplexities average over),
    temperature: float32 scalar tensor or None (:data:`DEFAULT_TEMPERATURE`), used in training.
    Outputs: (codevectors (N, F, D) in x's dtype, code_perplexity, prob_perplexity).
    """

    def __init__(self, in_features, num_groups, num_vars, codevector_dim):
        super().__init__()
        if codevector_dim % num_groups:
            raise ValueError(f"codevector_dim {codevector_dim} must be a multiple of "
                             f"num_codevector_groups {num_groups}")
        self.num_groups = num_groups
        self.num_vars = num_vars
        # transformers' init: codevectors U(0, 1), weight_proj N(0, 1) with zero bias
        self.codevectors = Parameter(
            ops.uniform((1, num_groups * num_vars, codevector_dim // num_groups),
                        ms.Tensor(0.0), ms.Tensor(1.0)), name='codevectors')
        self.weight_proj = nn.Dense(in_features, num_groups * num_vars, weight_init=Normal(1.0),
                                    bias_init='zeros')
        self.uniform = ops.UniformReal()
        self.batch_matmul = ops.BatchMatMul()

    def _one_hot(self, logits):
        return ops.one_hot(logits.argmax(-1), self.num_vars, ops.ones((), ms.float32),
                           ops.zeros((), ms.float32))

    def construct(self, x, mask, temperature=None):
        n, f, _ = x.shape
        rows = n * f
        logits = self.weight_proj(x).astype(ms.float32).reshape(rows, self.num_groups, self.num_vars)
        frame_weight = mask.astype(ms.float32).reshape(rows, 1, 1)
        hard = self._one_hot(logits)
        code_perplexity = perplexity(hard, frame_weight)
        prob_perplexity = perplexity(ops.softmax(logits, -1), frame_weight)
        if self.training:
            if temperature is None:
                temperature = DEFAULT_TEMPERATURE
            gumbels = gumbel_from_uniform(self.uniform(logits.shape))
            soft = ops.softmax((logits + gumbels) / temperature, -1)
            probs = self._one_hot(soft) - ops.stop_gradient(soft) + soft  # straight-through
        else:
            probs = hard
        codebook = self.codevectors.reshape(self.num_groups, self.num_vars, -1)   # (G, V, D/G)
        chosen = self.batch_matmul(probs.transpose(1, 0, 2), codebook)       # (G, R, D/G)
        codevectors = chosen.transpose(1, 0, 2).reshape(n, f, -1)
        return codevectors.astype(x.dtype), code_perplexity, prob_perplexity
