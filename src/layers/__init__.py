"""Layers every model of the zoo builds on: fast CPU convolutions and recurrent layers, the STFT front end."""
from .conv import Conv1d, Conv1dTranspose, Conv2d, TorchLayoutConv1d, same_padding
from .impl import conv_impl, layer_impl, resolve_impl, set_conv_impl, set_layer_impl

__all__ = ['Conv1d', 'Conv1dTranspose', 'Conv2d', 'TorchLayoutConv1d', 'same_padding', 'conv_impl', 'layer_impl',
           'resolve_impl', 'set_conv_impl', 'set_layer_impl']
from .stft import STFT, dft_basis, frame_signal

__all__ += ['STFT', 'dft_basis', 'frame_signal']
from .norm import BatchNorm1d, ChannelGroupNorm, LayerNorm

__all__ += ['BatchNorm1d', 'ChannelGroupNorm', 'LayerNorm']
from .rnn import GRU, LSTM

__all__ += ['GRU', 'LSTM']
from .weight_norm import WeightNormConv1d, weight_norm, weight_norm_magnitude

__all__ += ['WeightNormConv1d', 'weight_norm', 'weight_norm_magnitude']
from .activation import GELU

__all__ += ['GELU']
