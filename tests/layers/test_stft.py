"""STFT and framing against librosa and against numpy's FFT of hand-made frames."""
import librosa
import numpy as np
import pytest

import mindspore as ms

from src.layers import STFT, dft_basis, frame_signal


def _wave(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize('n_fft,hop,win,center,pad_mode,length', [
    (512, 160, None, True, 'constant', 4001),
    (512, 160, 400, True, 'reflect', 3999),   # 25 ms window in a 512 FFT, 16 kHz
    (1024, 320, None, True, 'reflect', 16000),  # PANNs front end
    (256, 100, None, False, 'constant', 2049),
    (255, 64, None, True, 'constant', 1000),   # odd n_fft
])
def test_stft_matches_librosa(n_fft, hop, win, center, pad_mode, length):
    x = _wave((3, length))
    real, imag = STFT(n_fft, hop, win, center=center, pad_mode=pad_mode, power=None)(ms.Tensor(x))
    want = librosa.stft(x, n_fft=n_fft, hop_length=hop, win_length=win, center=center,
                        pad_mode=pad_mode)
    got = real.asnumpy() + 1j * imag.asnumpy()
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=2e-4 * np.abs(want).max())


def test_power_and_magnitude_match_numpy_fft_of_frames(mode):
    n_fft, hop = 400, 160
    x = _wave((2, 3200), seed=1)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)      # periodic Hann
    padded = np.pad(x, ((0, 0), (n_fft // 2, n_fft // 2)))
    n_frames = 1 + (padded.shape[1] - n_fft) // hop
    frames = np.stack([padded[:, t * hop:t * hop + n_fft] for t in range(n_frames)], axis=1)
    spectrum = np.fft.rfft(frames * window, axis=-1).transpose(0, 2, 1)     # (N, F, frames)
    power = STFT(n_fft, hop, power=2.0)(ms.Tensor(x)).asnumpy()
    magnitude = STFT(n_fft, hop, power=1.0)(ms.Tensor(x)).asnumpy()
    np.testing.assert_allclose(power, np.abs(spectrum) ** 2, rtol=1e-3, atol=1e-3 * (np.abs(spectrum) ** 2).max())
    np.testing.assert_allclose(magnitude, np.abs(spectrum), rtol=1e-3, atol=1e-4 * np.abs(spectrum).max())


def test_pure_tone_peaks_at_its_bin():
    sr, n_fft, freq = 16000, 512, 1000.0          # 1 kHz -> bin 1000 / (16000 / 512) = 32
    x = np.sin(2 * np.pi * freq * np.arange(sr) / sr).astype(np.float32)[None]
    power = STFT(n_fft, 160)(ms.Tensor(x)).asnumpy()[0]
    assert set(np.argmax(power[:, 2:-2], axis=0)) == {32}


def test_frame_signal_matches_librosa(mode):
    x = _wave((3, 1001), seed=2)
    got = frame_signal(ms.Tensor(x), 400, 160).asnumpy()
    want = librosa.util.frame(x, frame_length=400, hop_length=160).transpose(0, 2, 1)
    assert got.shape == want.shape == (3, 4, 400)
    np.testing.assert_array_equal(got, want)


def test_basis_is_frozen_and_saved():
    stft = STFT(64, 16)
    names = [name for name, _ in stft.parameters_and_names()]
    assert names == ['conv.weight'] and not stft.trainable_params()
    np.testing.assert_array_equal(stft.conv.weight.asnumpy()[:, 0, 0, :], dft_basis(64))


@pytest.mark.parametrize('kwargs,word', [
    (dict(n_fft=64, pad_mode='edge'), 'pad_mode'),
    (dict(n_fft=64, power=3.0), 'power'),
    (dict(n_fft=64, win_length=100), 'win_length'),
])
def test_bad_arguments(kwargs, word):
    with pytest.raises(ValueError, match=word):
        STFT(**kwargs)


def test_gemm_and_native_stft_agree_with_gradients():
    x = ms.Tensor(_wave((2, 1500), seed=3))
    results = {}
    for impl in ('gemm', 'native'):
        stft = STFT(256, 64, power=1.0, pad_mode='reflect', impl=impl)
        value, grad = ms.value_and_grad(lambda wav, s=stft: s(wav).sum())(x)
        results[impl] = value.asnumpy(), grad.asnumpy()
    np.testing.assert_allclose(results['gemm'][0], results['native'][0], rtol=1e-4)
    np.testing.assert_allclose(results['gemm'][1], results['native'][1], rtol=1e-3, atol=1e-3)
    assert np.isfinite(results['gemm'][1]).all()


def test_magnitude_gradient_is_finite_on_silence():
    grad = ms.grad(lambda wav: STFT(64, 16, power=1.0)(wav).sum())(ms.Tensor(np.zeros((1, 400), np.float32)))
    assert np.isfinite(grad.asnumpy()).all()


def test_reflect_padding_longer_than_signal_is_a_clear_error():
    with pytest.raises(ValueError, match='reflect padding of 256'):
        STFT(512, 128, pad_mode='reflect')(ms.Tensor(_wave((1, 200))))
