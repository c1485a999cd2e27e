"""src.wav2vec2.ctc: CTC loss reductions, infeasible targets, CtcLossNet's batch interface."""
import numpy as np
import pytest

import mindspore as ms
from mindspore import nn

from src.wav2vec2.ctc import CtcLossNet, ctc_loss, infeasible_targets


def numpy_ctc(log_probs, target):
    """-log p(target | log_probs (T, C)) by the CTC forward recursion, blank 0 (float64)."""
    ext = [0]
    for label in target:
        ext += [int(label), 0]
    t_max, s = log_probs.shape[0], len(ext)
    alpha = np.full((t_max, s), -np.inf)
    alpha[0, 0] = log_probs[0, 0]
    if s > 1:
        alpha[0, 1] = log_probs[0, ext[1]]
    for t in range(1, t_max):
        for i in range(s):
            options = [alpha[t - 1, i]]
            if i >= 1:
                options.append(alpha[t - 1, i - 1])
            if i >= 2 and ext[i] != 0 and ext[i] != ext[i - 2]:
                options.append(alpha[t - 1, i - 2])
            alpha[t, i] = np.logaddexp.reduce(options) + log_probs[t, ext[i]]
    return -np.logaddexp(alpha[-1, -1], alpha[-1, -2] if s > 1 else -np.inf)


def log_softmax(x):
    x = x.astype(np.float64)
    return x - x.max(-1, keepdims=True) - np.log(np.exp(x - x.max(-1, keepdims=True)).sum(-1, keepdims=True))


def batch():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((4, 6, 5)).astype(np.float32)
    output_lengths = np.array([6, 5, 3, 2], np.int32)
    # utterance 2: 2 2 3 needs 4 frames (a blank between the 2s), infeasible in 3; utterance 3:
    # a target longer than its frames (MindSpore's kernel refuses these)
    targets = np.array([[1, 2, 2, 3], [4, 1, 0, 0], [2, 2, 3, 0], [1, 2, 3, 0]], np.int32)
    target_lengths = np.array([4, 2, 3, 3], np.int32)
    return logits, output_lengths, targets, target_lengths


def test_infeasible_targets_count_repeats():
    _, output_lengths, targets, target_lengths = batch()
    infeasible = infeasible_targets(ms.Tensor(output_lengths), ms.Tensor(targets),
                                    ms.Tensor(target_lengths)).asnumpy()
    assert infeasible.tolist() == [False, False, True, True]
    # 1 2 2 3 needs 5 frames: feasible in 5, not in 4; padding after the length is not a repeat
    assert infeasible_targets(ms.Tensor(np.array([5, 4], np.int32)), ms.Tensor(targets[:1].repeat(2, 0)),
                              ms.Tensor(np.array([4, 4], np.int32))).asnumpy().tolist() == [False, True]
    assert not infeasible_targets(ms.Tensor(np.array([2], np.int32)), ms.Tensor(np.array([[3, 3]], np.int32)),
                                  ms.Tensor(np.array([1], np.int32))).asnumpy()[0]


@pytest.mark.parametrize('reduction', ['sum', 'mean', 'none'])
def test_reductions_match_the_forward_recursion(reduction, mode):
    logits, output_lengths, targets, target_lengths = batch()
    per_utterance = np.array([numpy_ctc(log_softmax(logits[b, :output_lengths[b]]),
                                        targets[b, :target_lengths[b]]) for b in range(4)])
    assert np.isinf(per_utterance[2:]).all()
    per_utterance[2:] = 0.0                  # zero_infinity
    expected = {'sum': per_utterance.sum(), 'mean': (per_utterance / target_lengths).mean(),
                'none': per_utterance}[reduction]
    loss, infeasible = ctc_loss(ms.Tensor(logits), ms.Tensor(output_lengths), ms.Tensor(targets),
                                ms.Tensor(target_lengths), reduction, zero_infinity=True)
    np.testing.assert_allclose(loss.asnumpy(), expected, rtol=1e-5)
    assert infeasible.asnumpy().tolist() == [False, False, True, True]


def test_without_zero_infinity_the_loss_is_infinite():
    logits, output_lengths, targets, target_lengths = batch()
    loss, infeasible = ctc_loss(ms.Tensor(logits), ms.Tensor(output_lengths), ms.Tensor(targets),
                                ms.Tensor(target_lengths), 'sum', zero_infinity=False)
    assert np.isinf(loss.asnumpy()) and infeasible.asnumpy().sum() == 2
    per_utterance, _ = ctc_loss(ms.Tensor(logits), ms.Tensor(output_lengths), ms.Tensor(targets),
                                ms.Tensor(target_lengths), 'none', zero_infinity=False)
    assert np.isfinite(per_utterance.asnumpy()[:2]).all() and np.isinf(per_utterance.asnumpy()[2:]).all()


class FixedLogits(nn.Cell):
    """A stand-in CTC network: returns the given logits and lengths, records nothing."""

    def __init__(self, logits, lengths):
        super().__init__()
        self.logits = ms.Parameter(ms.Tensor(logits), name='logits')
        self.lengths = ms.Tensor(lengths)

    def construct(self, audio, padding_mask, mask_time, mask_channel):
        return self.logits * 1.0, self.lengths


class AuxValues(nn.Cell):
    """(loss, infeasible, ntokens) of a CtcLossNet."""

    def __init__(self, loss_net):
        super().__init__()
        self.loss_net = loss_net

    def construct(self, *inputs):
        loss, aux = self.loss_net(*inputs)
        return loss, aux['infeasible'], aux['ntokens']


def test_loss_net_is_sentence_averaged_and_reports_infeasible(mode):
    logits, output_lengths, targets, target_lengths = batch()
    audio = ms.Tensor(np.zeros((4, 100), np.float32))
    padding = ms.Tensor(np.ones((4, 100), np.float32))
    masks = ms.Tensor(np.zeros((4, 6), np.float32)), ms.Tensor(np.zeros((4, 4), np.float32))
    summed, _ = ctc_loss(ms.Tensor(logits), ms.Tensor(output_lengths), ms.Tensor(targets),
                         ms.Tensor(target_lengths), 'sum')
    for reduction, expected in (('sum', summed.asnumpy() / 4), ('mean', None)):
        net = CtcLossNet(FixedLogits(logits, output_lengths), reduction=reduction)
        # the aux dict read inside a graph, as the trainer does (a dict returned from a graph
        # to Python arrived as a tuple after other tests' graphs, MindSpore 2.10)
        loss, infeasible, ntokens = AuxValues(net)(audio, padding, ms.Tensor(targets),
                                                   ms.Tensor(target_lengths), *masks)
        if expected is not None:
            np.testing.assert_allclose(loss.asnumpy(), expected, rtol=1e-6)
        assert float(infeasible.asnumpy()) == 2.0
        assert float(ntokens.asnumpy()) == 12.0
    def loss_only(*args):
        return net(*args)[0]

    grads = ms.grad(loss_only, grad_position=None, weights=net.trainable_params())(
        audio, padding, ms.Tensor(targets), ms.Tensor(target_lengths), *masks)
    assert np.isfinite(grads[0].asnumpy()).all()
    assert not grads[0].asnumpy()[2:].any()       # the infeasible utterances contribute nothing
    assert grads[0].asnumpy()[:2].any()


def test_bad_reduction_is_an_error():
    with pytest.raises(ValueError, match='reduction must be'):
        CtcLossNet(nn.Identity(), reduction='none')
    with pytest.raises(ValueError, match='reduction must be'):
        ctc_loss(None, None, None, None, reduction='avg')
