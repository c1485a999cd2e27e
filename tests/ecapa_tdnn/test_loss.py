"""Cosine classifier and AAM-softmax loss against numpy written from the formulas."""
import math
import os

import numpy as np
import pytest

import mindspore as ms
from mindspore import nn

from src.ecapa_tdnn.loss import AamSoftmaxLoss, CosineClassifier

BUNDLE = os.path.join(os.path.dirname(os.path.dirname(__file__)), 'data', 'ecapa_tdnn.npz')


def aam_loss_reference(cosines, labels, margin, scale, easy_margin=False):
    """float64 AAM-softmax through the angle: the target logit is s*cos(theta + m) while
    theta + m < pi (else s*(cos - m*sin(m))); easy margin: only where cos > 0."""
    cosines = np.clip(np.asarray(cosines, np.float64), -1 + 1e-7, 1 - 1e-7)
    logits = scale * cosines.copy()
    for row, label in enumerate(labels):
        c = cosines[row, label]
        theta = math.acos(c)
        if easy_margin:
            target = math.cos(theta + margin) if c > 0 else c
        else:
            target = math.cos(theta + margin) if theta + margin < math.pi else c - margin * math.sin(margin)
        logits[row, label] = scale * target
    logits -= logits.max(axis=1, keepdims=True)
    log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return -np.mean(log_probs[np.arange(len(labels)), labels])


def random_cosines(rng, batch=6, classes=7):
    cos = rng.uniform(-1, 1, (batch, 1, classes)).astype(np.float32)
    cos[0, 0, :] = [-0.999, 0.999, 0.0, 0.5, -0.5, 0.1, -0.1][:classes]   # both margin branches
    return cos


@pytest.mark.parametrize('easy_margin', [False, True])
def test_aam_loss_matches_the_angle_formula(easy_margin):
    rng = np.random.default_rng(0)
    cos = random_cosines(rng)
    labels = np.array([0, 1, 2, 3, 4, 5])        # row 0 targets cos -0.999: fallback branch
    loss = AamSoftmaxLoss(0.2, 30.0, easy_margin)(ms.Tensor(cos), ms.Tensor(labels.reshape(-1, 1)))
    expected = aam_loss_reference(cos[:, 0], labels, 0.2, 30.0, easy_margin)
    assert loss.shape == ()
    np.testing.assert_allclose(float(loss.asnumpy()), expected, rtol=1e-5)


def test_margin_zero_scale_one_is_plain_cross_entropy_and_labels_may_be_flat():
    rng = np.random.default_rng(1)
    cos = random_cosines(rng)
    labels = rng.integers(0, 7, 6)
    loss = AamSoftmaxLoss(0.0, 1.0)(ms.Tensor(cos), ms.Tensor(labels.astype(np.int32)))
    logits = np.clip(cos[:, 0].astype(np.float64), -1 + 1e-7, 1 - 1e-7)
    log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(float(loss.asnumpy()), -log_probs[np.arange(6), labels].mean(), rtol=1e-5)


def test_bundle_loss_from_the_bundle_cosines():
    z = np.load(BUNDLE)
    loss = AamSoftmaxLoss(0.2, 30.0)(ms.Tensor(z['__out__.cosine_logits']), ms.Tensor(z['__in__.labels']))
    np.testing.assert_allclose(float(loss.asnumpy()), float(z['__out__.aam_loss']), rtol=1e-5)


def test_cosine_classifier_is_cosine_similarity_to_each_row():
    rng = np.random.default_rng(2)
    head = CosineClassifier(5, 3)
    weight = rng.standard_normal((3, 5)).astype(np.float32)
    head.weight.set_data(ms.Tensor(weight))
    x = rng.standard_normal((4, 1, 5)).astype(np.float32)
    x[3] = 0                                          # a zero embedding gives cosines 0, not NaN
    out = head(ms.Tensor(x)).asnumpy()
    assert out.shape == (4, 1, 3)
    for i in range(3):
        for k in range(3):
            expected = x[i, 0] @ weight[k] / np.linalg.norm(x[i, 0]) / np.linalg.norm(weight[k])
            assert np.isclose(out[i, 0, k], expected, atol=1e-6)
    np.testing.assert_array_equal(out[3], 0)
    assert [n for n, _ in head.parameters_and_names()] == ['weight']


class _HeadLoss(nn.Cell):
    def __init__(self):
        super().__init__()
        self.head = CosineClassifier(6, 5)
        self.loss = AamSoftmaxLoss()

    def construct(self, x, labels):
        return self.loss(self.head(x), labels)


def test_graph_mode_gradient_matches_pynative_and_finite_differences():
    ms.set_seed(0)
    net = _HeadLoss()
    rng = np.random.default_rng(3)
    x = ms.Tensor(rng.standard_normal((4, 1, 6)).astype(np.float32))
    labels = ms.Tensor(np.array([[0], [1], [4], [2]], np.int32))
    grad_fn = ms.value_and_grad(net, 0, net.trainable_params())
    eager_loss, (eager_dx, (eager_dw,)) = grad_fn(x, labels)
    ms.set_context(mode=ms.GRAPH_MODE)
    try:
        graph_loss, (graph_dx, (graph_dw,)) = ms.value_and_grad(net, 0, net.trainable_params())(x, labels)
        graph_loss, graph_dx, graph_dw = graph_loss.asnumpy(), graph_dx.asnumpy(), graph_dw.asnumpy()
    finally:
        ms.set_context(mode=ms.PYNATIVE_MODE)
    np.testing.assert_allclose(graph_loss, eager_loss.asnumpy(), rtol=1e-6)
    np.testing.assert_allclose(graph_dx, eager_dx.asnumpy(), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(graph_dw, eager_dw.asnumpy(), rtol=1e-4, atol=1e-6)
    # central differences of the float64 reference, w.r.t. the embeddings
    weight = net.head.weight.asnumpy().astype(np.float64)
    flat_labels = labels.asnumpy()[:, 0]

    def reference(emb):
        e = emb / np.linalg.norm(emb, axis=-1, keepdims=True)
        w = weight / np.linalg.norm(weight, axis=-1, keepdims=True)
        return aam_loss_reference(e[:, 0] @ w.T, flat_labels, 0.2, 30.0)
    base = x.asnumpy().astype(np.float64)
    numeric = np.zeros_like(base)
    for index in np.ndindex(base.shape):
        plus, minus = base.copy(), base.copy()
        plus[index] += 1e-6
        minus[index] -= 1e-6
        numeric[index] = (reference(plus) - reference(minus)) / 2e-6
    np.testing.assert_allclose(graph_dx, numeric, rtol=1e-3, atol=1e-4)
