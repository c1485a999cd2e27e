"""The soft-target cross-entropy of PANNs fine-tuning against numpy written from the formula."""
import numpy as np
import pytest

import mindspore as ms
from mindspore import nn

from src.panns.loss import ClassificationLossNet


class Logits(nn.Cell):
    """A stand-in classifier that returns its input as the logits."""

    def construct(self, x):
        return x


def cross_entropy_reference(logits, probs):
    """float64 mean over rows of -sum(p * log_softmax(z))."""
    logits = np.asarray(logits, np.float64)
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-(probs * log_probs).sum(axis=1).mean())


def test_soft_target_cross_entropy(mode):
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((6, 5)).astype(np.float32) * 3
    labels = rng.integers(0, 5, 6)
    one_hot = np.eye(5, dtype=np.float32)[labels]
    loss_net = ClassificationLossNet(Logits())
    loss = float(loss_net(ms.Tensor(logits), ms.Tensor(one_hot)).asnumpy())
    assert loss == pytest.approx(cross_entropy_reference(logits, one_hot), rel=1e-5)
    # one-hot targets: the usual cross-entropy at the labels
    picked = logits[np.arange(6), labels] - np.log(np.exp(logits).sum(axis=1))
    assert loss == pytest.approx(float(-picked.mean()), rel=1e-5)
    # mixed targets (mixup) weigh the two classes' terms
    lam = rng.uniform(0, 1, (6, 1)).astype(np.float32)
    mixed = lam * one_hot + (1 - lam) * one_hot[::-1]
    assert float(loss_net(ms.Tensor(logits), ms.Tensor(mixed)).asnumpy()) == pytest.approx(
        cross_entropy_reference(logits, mixed), rel=1e-5)
