"""Choice of implementation and the errors for arguments the layers do not support."""
import pytest

import mindspore as ms

from src.layers import Conv1d, Conv1dTranspose, Conv2d, conv_impl, resolve_impl, set_conv_impl


def test_auto_is_gemm_on_cpu():
    assert ms.get_context('device_target') == 'CPU'
    assert resolve_impl('auto') == 'gemm'
    assert Conv1d(2, 2, 3).impl == 'gemm'
    assert Conv1d(2, 2, 3, impl='native').impl == 'native'


def test_process_wide_override_applies_to_auto_only_and_is_restored():
    with conv_impl('native'):
        assert Conv2d(2, 2, 3).impl == 'native'
        assert Conv1dTranspose(2, 2, 3).impl == 'native'
        assert Conv1d(2, 2, 3, impl='gemm').impl == 'gemm'      # an explicit choice wins
    assert Conv1d(2, 2, 3).impl == 'gemm'
    previous = set_conv_impl('native')
    try:
        assert previous is None and resolve_impl('auto') == 'native'
    finally:
        set_conv_impl(previous)
    assert resolve_impl('auto') == 'gemm'


@pytest.mark.parametrize('make,words', [
    (lambda: Conv1d(2, 2, 3, impl='fast'), ["impl", "'gemm'"]),
    (lambda: set_conv_impl('cuda'), ["impl", "'native'"]),
    (lambda: Conv1d(2, 2, 3, padding_mode='circular'), ["padding_mode", "'reflect'"]),
    (lambda: Conv2d(2, 2, 3, pad_mode='full'), ["pad_mode", "'same'"]),
    (lambda: Conv1d(2, 2, 3, pad_mode='valid', padding_mode='reflect'), ["padding_mode", "pad_mode"]),
    (lambda: Conv1dTranspose(2, 2, 3, padding_mode='reflect'), ["padding_mode", "'zeros'"]),
])
def test_unsupported_arguments_name_the_argument(make, words):
    with pytest.raises(ValueError) as err:
        make()
    message = str(err.value)
    assert '\n' not in message.strip()
    for word in words:
        assert word in message


def test_gemm_kernel_choice():
    from src.layers.conv_gemm import Im2colConv2d, RowTapConv2d
    assert type(Conv2d(4, 4, 3, impl='gemm').gemm) is RowTapConv2d          # PANNs 3x3
    assert type(Conv2d(64, 128, 5, impl='gemm').gemm) is RowTapConv2d       # PANNs 5x5
    assert type(Conv2d(1, 64, 3, impl='gemm').gemm) is Im2colConv2d         # first layer: few inputs
    assert type(Conv2d(256, 256, 3, impl='gemm').gemm) is RowTapConv2d      # CNN14 block 3, second conv
    # deep, wide layers: re-laying out the weight on every call costs more than row taps save
    assert type(Conv2d(512, 512, 3, impl='gemm').gemm) is Im2colConv2d
    assert type(Conv2d(1024, 2048, 3, impl='gemm').gemm) is Im2colConv2d
    assert type(Conv2d(4, 4, 3, group=2, impl='gemm').gemm) is Im2colConv2d
    assert type(Conv2d(4, 4, 3, stride=2, impl='gemm').gemm) is Im2colConv2d
    assert type(Conv1d(4, 4, 3, impl='gemm').gemm) is Im2colConv2d          # one row: plain im2col
    assert not hasattr(Conv2d(4, 4, 3, impl='native'), 'gemm')
