"""Sound-classification loss: cross-entropy of the class logits against class probabilities.

The targets are probabilities rather than indices, so that mixup (Zhang et al., "mixup: Beyond
Empirical Risk Minimization", ICLR 2018), which mixes the targets of two clips as it mixes their
waveforms, trains through the same loss as one-hot targets.
"""
from mindspore import nn, ops


class ClassificationLossNet(nn.Cell):
    """Waveform -> class logits (the network) -> soft-target cross-entropy.

    Args:
        network: the classifier (waveform (batch, samples) -> logits (batch, classes)); held as
            ``network`` so that checkpoint names start with ``network.``.

    Inputs:
        waveform: float32 (batch, samples).
        target_probs: float32 (batch, classes), rows summing to 1 (one-hot, or mixed by mixup).

    Returns:
        Scalar mean over the batch of ``-sum(target_probs * log_softmax(logits))``.
    """

    def __init__(self, network):
        super().__init__()
        self.network = network

    def construct(self, waveform, target_probs):
        log_probs = ops.log_softmax(self.network(waveform), -1)     # (batch, classes)
        return -(target_probs * log_probs).sum(-1).mean()
