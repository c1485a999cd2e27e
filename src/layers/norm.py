"""BatchNorm over (batch, channels, time) that compiles quickly when the time axis is dynamic.

``mindspore.nn.BatchNorm1d`` reshapes its input to 4-D with sizes read from the input's shape
(``reshape(x, (N, C, L, 1))``). In a graph whose batch or time size is known only at run time,
those shape computations pile up along a chain of layers: eight convolution + BatchNorm
pairs took 6 s to compile and one ECAPA-TDNN SE-Res2Net block 30 s (MindSpore 2.10, CPU),
the whole network did not finish in 10 minutes. This subclass adds and removes the unit axis
with ``expand_dims``/``squeeze``, which need no sizes. Same constructor, parameters, names and
results as the MindSpore cell.
"""
from mindspore import nn


class BatchNorm1d(nn.BatchNorm1d):
    """``mindspore.nn.BatchNorm1d`` for 3-D inputs (batch, channels, length), dynamic-shape friendly.

    Note MindSpore's ``momentum`` convention: ``moving = momentum * moving + (1 - momentum) *
    batch``, so PyTorch's default 0.1 is 0.9 here. The moving variance is updated with the
    unbiased batch variance, as PyTorch does.
    """

    def construct(self, x):
        """(batch, channels, length) -> same shape, normalised per channel."""
        x = x.expand_dims(3)
        if self.use_batch_statistics is None:
            use_batch = self.training
        else:
            use_batch = self.use_batch_statistics
        if use_batch:
            y = self.bn_train(x, self.gamma, self.beta, self.moving_mean, self.moving_variance)[0]
        else:
            y = self.bn_infer(x, self.gamma, self.beta, self.moving_mean, self.moving_variance)[0]
        return y.squeeze(3)
