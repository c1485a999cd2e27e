"""What a pretrained wav2vec 2.0 exports: its transformer's representations of a waveform."""
from mindspore import nn


class Wav2Vec2Encoder(nn.Cell):
    """A ``Wav2Vec2Model`` as a feature extractor: waveform (B, T) -> last hidden states (B, F, H),
    no masking (the pretraining heads stay out of the export)."""

    def __init__(self, wav2vec2):
        super().__init__()
        self.wav2vec2 = wav2vec2

    def construct(self, input_values):
        return self.wav2vec2(input_values)[0]
