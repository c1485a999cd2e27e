"""Audio front end shared by all models: file I/O, speechbrain-compatible fbank features and
MUSAN/RIR augmentation. numpy/scipy/soundfile only, for data-loader worker processes."""
from .augment import (KINDS, Augmenter, NoiseSource, add_at_snr, musan_sources, reverberate,
                      rir_sources)
from .features import Fbank, mel_filters
from .io import audio_format, audio_info, read_audio, resample, write_audio

__all__ = [
    'Augmenter', 'Fbank', 'KINDS', 'NoiseSource', 'add_at_snr', 'audio_format', 'audio_info',
    'mel_filters', 'musan_sources', 'read_audio', 'resample', 'reverberate', 'rir_sources',
    'write_audio',
]
