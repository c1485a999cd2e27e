"""CTC loss of wav2vec 2.0 fine-tuning, as fairseq's ``ctc`` criterion (and transformers'
``Wav2Vec2ForCTC`` loss): log-softmax in float32, blank 0, ``ops.ctc_loss`` on (F, N, C).

Reductions of :func:`ctc_loss` are PyTorch's: 'sum' (the sum over utterances), 'mean' (each
utterance's loss divided by its target length, then averaged), 'none'. :class:`CtcLossNet`'s
'sum' is fairseq's with ``sentence_avg``: the sum divided by the number of utterances.

An utterance is infeasible when its target needs more frames than the network produced:
``target_length + repeats > output_length``, ``repeats`` the number of adjacent equal labels
(a blank must separate them). With ``zero_infinity`` its loss (infinite) counts as 0, as
PyTorch's ``zero_infinity=True``; it is counted either way.
"""
import mindspore as ms
from mindspore import nn, ops

REDUCTIONS = ('sum', 'mean', 'none')


def _check_reduction(owner, reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(f"{owner}: reduction must be one of {', '.join(map(repr, REDUCTIONS))}, "
                         f"got {reduction!r}")


def infeasible_targets(output_lengths, targets, target_lengths):
    """(N,) bool: utterances whose CTC alignment is impossible (see module doc); targets (N, S)
    padded beyond target_lengths."""
    target_lengths = target_lengths.astype(ms.int32)
    positions = ops.arange(1, targets.shape[1], dtype=ms.int32).expand_dims(0)   # (1, S - 1)
    repeats = ((targets[:, 1:] == targets[:, :-1]) & (positions < target_lengths.expand_dims(1)))
    needed = target_lengths + repeats.astype(ms.int32).sum(-1)
    return needed > output_lengths.astype(ms.int32)


def ctc_loss(logits, output_lengths, targets, target_lengths, reduction='sum', zero_infinity=True,
             blank=0):
    """CTC loss of (N, F, C) logits (or log-probabilities: log-softmax is idempotent).

    Args:
        logits: (N, F, C), any float dtype (computed in float32).
        output_lengths: (N,) int: valid frames per utterance.
        targets: (N, S) int labels, padded beyond ``target_lengths``.
        target_lengths: (N,) int.
        reduction: 'sum', 'mean' or 'none' (PyTorch's, see module doc).
        zero_infinity: infinite (infeasible) losses count as 0.

    Returns:
        (loss: scalar, or (N,) for 'none'; infeasible: (N,) bool, see :func:`infeasible_targets`).
    """
    _check_reduction('ctc_loss', reduction)
    log_probs = ops.log_softmax(logits.astype(ms.float32), -1).transpose(1, 0, 2)   # (F, N, C)
    output_lengths = output_lengths.astype(ms.int32)
    target_lengths = target_lengths.astype(ms.int32)
    # MindSpore 2.10's CPU kernel refuses (a run-time error) targets longer than the input,
    # where PyTorch returns inf: the kernel gets a feasible length, the loss is set afterwards
    too_long = target_lengths > output_lengths
    losses, _ = ops.ctc_loss(log_probs, targets.astype(ms.int32), output_lengths,
                             ops.minimum(target_lengths, output_lengths), blank=blank,
                             reduction='none', zero_infinity=zero_infinity)
    losses = ops.where(too_long, ops.full_like(losses, float('inf')), losses)
    infeasible = infeasible_targets(output_lengths, targets, target_lengths) | ops.isinf(losses)
    if zero_infinity:   # the kernel also leaves them infinite with reduction 'none'
        losses = ops.where(infeasible, ops.zeros_like(losses), losses)
    if reduction == 'sum':
        return losses.sum(), infeasible
    if reduction == 'mean':
        return (losses / ops.maximum(target_lengths, 1).astype(ms.float32)).mean(), infeasible
    return losses, infeasible


class CtcLossNet(nn.Cell):
    """The fine-tuning loss around a :class:`~src.wav2vec2.network.Wav2Vec2ForCTC`.

    Args:
        network: the CTC network, ``network(audio, padding_mask, mask_time, mask_channel) ->
            (logits, output_lengths)``.
        reduction: 'sum': the summed loss divided by the number of utterances (fairseq's
            ``sentence_avg``); 'mean': PyTorch's (each utterance divided by its target length,
            then averaged).
        zero_infinity: infeasible utterances contribute 0.

    Inputs: a CTC training batch (``audio`` (N, T), ``padding_mask`` (N, T) 1 = real sample,
    ``targets`` (N, S), ``target_lengths`` (N,), ``mask_time`` (N, F), ``mask_channel`` (N, H)).
    Outputs: (loss, {'infeasible': number of infeasible utterances, 'ntokens': sum of the target
    lengths}), both float32 scalars.
    """

    def __init__(self, network, reduction='sum', zero_infinity=True):
        super().__init__()
        _check_reduction('CtcLossNet', reduction)
        if reduction == 'none':
            raise ValueError("CtcLossNet: reduction must be 'sum' or 'mean' (a training loss is a "
                             "scalar), got 'none'")
        self.network = network
        self.reduction = reduction
        self.zero_infinity = zero_infinity

    def construct(self, audio, padding_mask, targets, target_lengths, mask_time, mask_channel):
        logits, output_lengths = self.network(audio, padding_mask, mask_time, mask_channel)
        loss, infeasible = ctc_loss(logits, output_lengths, targets, target_lengths,
                                    self.reduction, self.zero_infinity)
        if self.reduction == 'sum':
            loss = loss / audio.shape[0]
        return loss, {'infeasible': infeasible.astype(ms.float32).sum(),
                      'ntokens': target_lengths.astype(ms.float32).sum()}
