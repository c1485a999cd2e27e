"""Speaker classification head and loss: cosine classifier + additive angular margin softmax.

As speechbrain's ``Classifier`` (``lin_blocks=0``) and ``LogSoftmaxWrapper(AdditiveAngularMargin)``
(``speechbrain/lobes/models/ECAPA_TDNN.py``, ``speechbrain/nnet/losses.py``). The head is kept
apart from the embedding network so that export drops it.

References: Deng et al., "ArcFace: Additive Angular Margin Loss for Deep Face Recognition",
CVPR 2019; Xiang et al., "Margin Matters: Towards More Discriminative Deep Neural Network
Embeddings for Speaker Recognition", APSIPA 2019 (arXiv:1906.07317).
"""
import math

from mindspore import Parameter, nn, ops
from mindspore.common.initializer import XavierUniform, initializer

NORMALIZE_EPS = 1e-12    # torch.nn.functional.normalize's floor of the norm
COSINE_LIMIT = 1e-7      # cosines are clamped to [-1 + 1e-7, 1 - 1e-7] before sqrt(1 - cos^2)


def l2_normalize(x):
    """Rows of ``x`` divided by their L2 norm (at least 1e-12), as ``F.normalize(x, dim=-1)``.

    Args:
        x: (..., features).

    Returns:
        Same shape, unit rows.
    """
    norm = ops.sqrt(ops.square(x).sum(-1, keepdims=True))
    return x / ops.clamp(norm, min=NORMALIZE_EPS)


class CosineClassifier(nn.Cell):
    """Cosine similarity of embeddings to one learned unit vector per class.

    Args:
        in_features: embedding size.
        num_classes: number of speakers.

    Inputs:
        x: (batch, 1, in_features) embeddings.

    Returns:
        (batch, 1, num_classes) cosines in [-1, 1].
    """

    def __init__(self, in_features=192, num_classes=1000):
        super().__init__()
        self.weight = Parameter(initializer(XavierUniform(), (num_classes, in_features)),
                                name='weight')
        self.matmul = ops.MatMul(transpose_b=True)

    def construct(self, x):
        """(batch, 1, in_features) -> (batch, 1, num_classes)."""
        x = l2_normalize(ops.squeeze(x, 1))
        return self.matmul(x, l2_normalize(self.weight)).expand_dims(1)


class AamSoftmaxLoss(nn.Cell):
    """Additive angular margin softmax: cross entropy of ``scale * cos(theta + margin)`` at the label.

    The target's cosine becomes ``cos(theta + m)`` where ``theta + m < pi`` (``cos > cos(pi - m)``),
    else ``cos - m * sin(pi - m)`` (keeps the logit monotonic); with ``easy_margin`` the margin
    applies only to positive cosines. Other classes keep their cosine. All logits are scaled.

    Args:
        margin: angular margin m in radians.
        scale: logit scale s.
        easy_margin: apply the margin only where cos > 0.

    Inputs:
        cosines: (batch, 1, classes) from :class:`CosineClassifier`.
        labels: (batch, 1) or (batch,) integer class indices.

    Returns:
        Scalar mean negative log-likelihood over the batch.
    """

    def __init__(self, margin=0.2, scale=30.0, easy_margin=False):
        super().__init__()
        self.margin = margin
        self.scale = scale
        self.easy_margin = easy_margin
        self.cos_m = math.cos(margin)
        self.sin_m = math.sin(margin)
        self.threshold = math.cos(math.pi - margin)
        self.fallback_shift = math.sin(math.pi - margin) * margin

    def margin_logits(self, cosines, targets):
        """(batch, classes) cosines and one-hot targets -> (batch, classes) scaled logits."""
        cosine = ops.clamp(cosines, -1 + COSINE_LIMIT, 1 - COSINE_LIMIT)
        sine = ops.sqrt(1.0 - ops.square(cosine))
        phi = cosine * self.cos_m - sine * self.sin_m                    # cos(theta + m)
        if self.easy_margin:
            phi = ops.where(cosine > 0, phi, cosine)
        else:
            phi = ops.where(cosine > self.threshold, phi, cosine - self.fallback_shift)
        return self.scale * (targets * phi + (1.0 - targets) * cosine)

    def construct(self, cosines, labels):
        """(batch, 1, classes), (batch, 1) -> scalar loss."""
        cosines = ops.squeeze(cosines, 1)
        targets = ops.one_hot(labels.reshape(-1), cosines.shape[-1],
                              ops.ones((), cosines.dtype), ops.zeros((), cosines.dtype))
        log_probs = ops.log_softmax(self.margin_logits(cosines, targets), 1)
        return -(targets * log_probs).sum() / targets.sum()
