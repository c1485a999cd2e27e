"""wav2vec 2.0 networks: ``Wav2Vec2Model``, ``Wav2Vec2ForCTC``, ``Wav2Vec2ForPreTraining``, with
Hugging Face transformers' parameter names and arithmetic (the weight norm of the positional
convolution is stored as ``weight_g`` / ``weight_v``, see :mod:`.convert`).

The keyword arguments are transformers' ``Wav2Vec2Config`` fields (snake case, the same meaning)
and their defaults the BASE model's; ``feature_grad_mult`` is fairseq's (the gradient into the
feature encoder is scaled by it). Shapes: N batch, T samples, F frames
(:func:`src.wav2vec2.frames.output_frames`), H ``hidden_size``.

References: Baevski et al., "wav2vec 2.0", NeurIPS 2020; transformers
``models/wav2vec2/modeling_wav2vec2.py`` (5.x); fairseq ``fairseq/models/wav2vec/wav2vec2.py``.
"""
import math

import mindspore as ms
from mindspore import Parameter, nn, ops
from mindspore.common.initializer import Uniform

from .encoder import Encoder, FeatureEncoder, FeatureProjection, GradMultiply, dense
from .quantizer import GumbelVectorQuantizer


def _torch_linear(in_features, out_features):
    """``nn.Dense`` with PyTorch's default Linear init, U(+-1/sqrt(in)) (transformers'
    ``project_hid`` / ``project_q``)."""
    bound = 1.0 / math.sqrt(in_features)
    return nn.Dense(in_features, out_features, weight_init=Uniform(bound), bias_init=Uniform(bound))


class Wav2Vec2Model(nn.Cell):
    """Feature encoder, feature projection, time/channel masks, transformer encoder.

    Inputs:
        input_values: (N, T) float32 audio.
        attention_mask: (N, T) 1 = real sample, 0 = padding; None: all real. Frames beyond each
            utterance's output length are zeroed before the positional convolution and never
            attended to (transformers' semantics).
        mask_time_indices: (N, F) 0/1: frames replaced by ``masked_spec_embed``.
        mask_feature_indices: (N, H) 0/1: hidden channels set to 0 at every frame.

    Outputs: (last_hidden_state (N, F, H), extract_features (N, F, conv_dim[-1]) = the feature
    projection's LayerNorm output, features_penalty = mean of the squared conv features (float32
    scalar, fairseq's ``features_pen``)).
    """

    def __init__(self, conv_dim=(512,) * 7, conv_kernel=(10, 3, 3, 3, 3, 2, 2),
                 conv_stride=(5, 2, 2, 2, 2, 2, 2), conv_bias=False, feat_extract_norm='group',
                 hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                 intermediate_size=3072, hidden_dropout=0.1, attention_dropout=0.1,
                 activation_dropout=0.0, feat_proj_dropout=0.1, layerdrop=0.05, layer_norm_eps=1e-5,
                 num_conv_pos_embeddings=128, num_conv_pos_embedding_groups=16,
                 do_stable_layer_norm=False, feature_grad_mult=0.1):
        super().__init__()
        self.conv_kernel = tuple(int(k) for k in conv_kernel)
        self.conv_stride = tuple(int(s) for s in conv_stride)
        conv_dim = tuple(int(c) for c in conv_dim)
        self.feature_extractor = FeatureEncoder(conv_dim, self.conv_kernel, self.conv_stride,
                                                conv_bias, feat_extract_norm)
        self.feature_grad_mult = float(feature_grad_mult)
        self.grad_multiply = GradMultiply(self.feature_grad_mult)
        self.feature_projection = FeatureProjection(conv_dim[-1], hidden_size, layer_norm_eps,
                                                    feat_proj_dropout)
        self.masked_spec_embed = Parameter(
            ops.uniform((hidden_size,), ms.Tensor(0.0), ms.Tensor(1.0)), name='masked_spec_embed')
        self.encoder = Encoder(hidden_size, num_hidden_layers, num_attention_heads,
                               intermediate_size, hidden_dropout, attention_dropout,
                               activation_dropout, layerdrop, layer_norm_eps,
                               num_conv_pos_embeddings, num_conv_pos_embedding_groups,
                               do_stable_layer_norm)

    def frame_lengths(self, sample_lengths):
        """(N,) int32 frames of the feature encoder for (N,) sample counts (0 when too short)."""
        lengths = sample_lengths.astype(ms.int32)
        for kernel, stride in zip(self.conv_kernel, self.conv_stride):
            lengths = ops.maximum(ops.floor_div(lengths - kernel, stride) + 1, 0)
        return lengths

    def frame_mask(self, attention_mask, num_frames):
        """(N, F) float32, 1 for the frames within each utterance's output length."""
        lengths = self.frame_lengths(attention_mask.astype(ms.float32).sum(-1).astype(ms.int32))
        frames = ops.arange(0, num_frames, dtype=ms.int32).expand_dims(0)
        return (frames < lengths.expand_dims(1)).astype(ms.float32)

    def construct(self, input_values, attention_mask=None, mask_time_indices=None,
                  mask_feature_indices=None):
        features = self.feature_extractor(input_values)                     # (N, C, F)
        if self.feature_grad_mult == 0.0:
            features = ops.stop_gradient(features)
        elif self.feature_grad_mult != 1.0:
            features = self.grad_multiply(features)
        features32 = features.astype(ms.float32)
        features_penalty = (features32 * features32).mean()
        features = features.transpose(0, 2, 1)                              # (N, F, C)
        frame_mask = None
        if attention_mask is not None:
            frame_mask = self.frame_mask(attention_mask, features.shape[1])
        hidden, extract_features = self.feature_projection(features)        # (N, F, H), (N, F, C)
        if mask_time_indices is not None:
            masked = mask_time_indices.astype(hidden.dtype).expand_dims(-1)
            hidden = hidden * (1.0 - masked) + masked * self.masked_spec_embed.astype(hidden.dtype)
        if mask_feature_indices is not None:
            hidden = hidden * (1.0 - mask_feature_indices.astype(hidden.dtype).expand_dims(1))
        hidden = self.encoder(hidden, frame_mask)
        return hidden, extract_features, features_penalty


class Wav2Vec2ForCTC(nn.Cell):
    """``Wav2Vec2Model`` + dropout (``final_dropout``) + ``lm_head`` (H -> ``vocab_size``).

    Inputs: as :class:`Wav2Vec2Model`. Outputs: (logits (N, F, vocab_size) float32,
    output_lengths (N,) int32: the frames of ``attention_mask.sum(-1)`` samples, or of T).
    """

    def __init__(self, vocab_size=32, final_dropout=0.0, **kwargs):
        super().__init__()
        self.wav2vec2 = Wav2Vec2Model(**kwargs)
        hidden_size = self.wav2vec2.masked_spec_embed.shape[0]
        self.dropout = nn.Dropout(p=final_dropout)
        self.lm_head = dense(hidden_size, vocab_size)

    def construct(self, input_values, attention_mask=None, mask_time_indices=None,
                  mask_feature_indices=None):
        hidden, _, _ = self.wav2vec2(input_values, attention_mask, mask_time_indices,
                                     mask_feature_indices)
        logits = self.lm_head(self.dropout(hidden)).astype(ms.float32)
        if attention_mask is None:
            sample_lengths = ops.fill(ms.int32, (input_values.shape[0],), input_values.shape[1])
        else:
            sample_lengths = attention_mask.astype(ms.float32).sum(-1).astype(ms.int32)
        return logits, self.wav2vec2.frame_lengths(sample_lengths)


class Wav2Vec2ForPreTraining(nn.Cell):
    """``Wav2Vec2Model`` + quantizer of the (unmasked) extract features + ``project_hid`` /
    ``project_q`` to ``proj_codevector_dim``.

    Inputs: input_values (N, T); mask_time_indices (N, F) 0/1 (required: the masked frames);
    attention_mask as :class:`Wav2Vec2Model`; gumbel_temperature: float32 scalar tensor, the
    quantizer's temperature in training (None: 2).

    Outputs: (projected_states (N, F, P), projected_quantized_states (N, F, P), code_perplexity,
    prob_perplexity, features_penalty); the perplexities over the masked frames (see
    :mod:`.quantizer`).
    """

    def __init__(self, num_codevector_groups=2, num_codevectors_per_group=320, codevector_dim=256,
                 proj_codevector_dim=256, feat_quantizer_dropout=0.0, **kwargs):
        super().__init__()
        self.wav2vec2 = Wav2Vec2Model(**kwargs)
        hidden_size = self.wav2vec2.masked_spec_embed.shape[0]
        conv_channels = self.wav2vec2.feature_projection.layer_norm.weight.shape[0]
        self.dropout_features = nn.Dropout(p=feat_quantizer_dropout)
        self.quantizer = GumbelVectorQuantizer(conv_channels, num_codevector_groups,
                                               num_codevectors_per_group, codevector_dim)
        self.project_hid = _torch_linear(hidden_size, proj_codevector_dim)
        self.project_q = _torch_linear(codevector_dim, proj_codevector_dim)

    def construct(self, input_values, mask_time_indices, attention_mask=None,
                  gumbel_temperature=None):
        hidden, extract_features, features_penalty = self.wav2vec2(
            input_values, attention_mask, mask_time_indices)
        projected_states = self.project_hid(hidden)
        quantized, code_perplexity, prob_perplexity = self.quantizer(
            self.dropout_features(extract_features), mask_time_indices, gumbel_temperature)
        return (projected_states, self.project_q(quantized), code_perplexity, prob_perplexity,
                features_penalty)
