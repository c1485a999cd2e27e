"""Tests of src.audio.features.Fbank against librosa, a loop implementation of the filter formula,
hand-computed values and reference values computed with speechbrain itself."""
import json
import math

import librosa
import numpy as np
import pytest

from src.audio.features import Fbank, mel_filters
from src.errors import ConfigError


def noise(samples, seed=0, scale=0.1):
    return (scale * np.random.default_rng(seed).standard_normal(samples)).astype(np.float32)


def chirp():
    """0.5 s at 16 kHz: a 100 -> 2100 Hz chirp plus a quiet 3 kHz tone (no random numbers)."""
    t = np.arange(8000) / 16000
    return (0.5 * np.sin(2 * np.pi * (100 * t + 2000 * t ** 2))
            + 0.05 * np.sin(2 * np.pi * 3000 * t)).astype(np.float32)


@pytest.mark.parametrize('win_length', [400, 300])
def test_power_spectrum_matches_librosa_stft(win_length):
    wave = noise(4321)
    fbank = Fbank(win_length=win_length)
    spectrum = librosa.stft(wave.astype(np.float64), n_fft=400, hop_length=160,
                            win_length=win_length, window='hamming', center=True,
                            pad_mode='constant')
    expected = (np.abs(spectrum) ** 2).T                  # (frames, bins)
    power = fbank.power_spectrum(wave)
    assert power.shape == expected.shape == (1 + 4321 // 160, 201)
    np.testing.assert_allclose(power, expected, rtol=1e-4, atol=1e-6 * expected.max())


def test_filters_match_loop_over_the_formula():
    sample_rate, n_fft, n_mels, f_min, f_max = 16000, 400, 80, 0.0, 8000.0

    def to_mel(hz):
        return 2595.0 * math.log10(1.0 + hz / 700.0)

    def to_hz(mel):
        return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)

    low, high = to_mel(f_min), to_mel(f_max)
    points = [to_hz(low + i * (high - low) / (n_mels + 1)) for i in range(n_mels + 2)]
    n_bins = n_fft // 2 + 1
    expected = np.zeros((n_bins, n_mels))
    for m in range(n_mels):
        centre, width = points[m + 1], points[m + 1] - points[m]
        for k in range(n_bins):
            freq = k * (sample_rate / 2) / (n_bins - 1)
            slope = (freq - centre) / width
            expected[k, m] = max(0.0, min(slope + 1.0, 1.0 - slope))
    filters = mel_filters(sample_rate, n_fft, n_mels, f_min, f_max)
    assert filters.shape == (201, 80) and filters.dtype == np.float32
    np.testing.assert_allclose(filters, expected, atol=1e-6)
    np.testing.assert_allclose(Fbank().filters, expected, atol=1e-6)


def test_pure_tone_peaks_in_its_mel_band():
    # mel(8000) = 2595 log10(1 + 8000/700) = 2840.02; 82 points are 35.062 mel apart, so filter 20
    # (point 21, 736.3 mel) is centred at 700 (10^(736.3/2595) - 1) = 645.1 Hz with a left width
    # of 42.3 Hz. A 640 Hz tone sits on FFT bin 16 (40 Hz bins): filter 20 takes 0.88 of it,
    # filter 19 (centre 602.8 Hz, width 38.5 Hz) 0.03, filter 21 (centre 688.1 Hz) nothing.
    t = np.arange(16000) / 16000
    tone = (0.5 * np.sin(2 * np.pi * 640.0 * t)).astype(np.float32)
    feats = Fbank(mean_norm=False)(tone)
    assert feats.shape == (101, 80)
    assert np.all(np.argmax(feats[2:-2], axis=1) == 20)   # frames clear of the zero padding


def test_mean_norm_gives_zero_mean_per_feature():
    wave = noise(16000, seed=1) * np.linspace(0.1, 1.0, 16000, dtype=np.float32)
    raw = Fbank(mean_norm=False)(wave)
    normed = Fbank()(wave)
    np.testing.assert_allclose(normed.mean(axis=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(normed, raw - raw.mean(axis=0), atol=1e-4)


def test_mean_norm_uses_only_valid_frames():
    waves = np.stack([noise(16000, seed=2), noise(16000, seed=3)])
    waves[1, 8000:] = 0.0
    feats = Fbank().batch(waves, rel_lengths=[1.0, 0.5])
    # 101 frames; speechbrain's mask keeps frames i < 0.5 * 101 - 1e-6, i.e. the first 51.
    np.testing.assert_allclose(feats[1, :51].mean(axis=0), 0.0, atol=1e-4)
    assert np.abs(feats[1, :52].mean(axis=0)).max() > 0.1
    np.testing.assert_allclose(feats[0], Fbank()(waves[0]), atol=1e-5)


def test_top_db_clamps_below_the_utterance_maximum():
    wave = noise(16000, seed=4, scale=0.5)
    wave[8000:] *= 1e-6                                   # 120 dB quieter second half
    unclamped = Fbank(top_db=None, mean_norm=False)(wave)
    clamped = Fbank(top_db=80.0, mean_norm=False)(wave)
    floor = unclamped.max() - 80.0
    assert (unclamped < floor).mean() > 0.3                # the clamp has work to do
    assert clamped.min() == pytest.approx(floor, abs=1e-4)
    np.testing.assert_allclose(clamped, np.maximum(unclamped, floor), atol=1e-5)


def test_log_floor_is_minus_100_db():
    feats = Fbank(top_db=None, mean_norm=False)(np.zeros(800, np.float32))
    np.testing.assert_allclose(feats, -100.0)


@pytest.mark.parametrize('samples', [1, 159, 160, 161, 400, 16000, 48000])
def test_frame_count_formula(samples):
    fbank = Fbank()
    assert fbank.num_frames(samples) == 1 + samples // 160
    assert fbank(noise(samples)).shape == (1 + samples // 160, 80)


def test_batch_equals_per_item():
    fbank = Fbank()
    waves = np.stack([noise(12000, seed=s) for s in range(3)])
    batch = fbank.batch(waves)
    assert batch.shape == (3, 76, 80) and batch.dtype == np.float32
    for item, wave in zip(batch, waves):
        np.testing.assert_allclose(item, fbank(wave), atol=1e-5)


# speechbrain 1.1.2 (torch 2.13.0 CPU): Fbank(n_mels=80) of the batch [chirp(), chirp() with
# samples >= 5600 zeroed], then InputNormalization(norm_type='sentence', std_norm=False) with
# relative lengths [1.0, 0.7]; the entries [::10, ::16] of item 0 (raw) and item 1 (normalised).
SPEECHBRAIN_RAW_0 = [
    [16.8172, -5.2057, -24.7542, -14.5102, -20.5913],
    [-15.5342, 32.1399, -19.2605, -26.5448, -30.1394],
    [-20.2877, -10.7811, -11.2992, -24.5588, -31.3253],
    [-23.2830, -15.2999, 30.6526, -20.9299, -31.2699],
    [-25.4686, -18.0350, -10.2652, -16.1982, -29.6354],
    [-10.8191, -4.7701, 1.1930, 6.5186, -6.3019]]
SPEECHBRAIN_NORMED_1 = [
    [41.9571, 2.5002, -19.7340, 3.8696, 1.3797],
    [9.6057, 39.8458, -14.2403, -8.1650, -8.1683],
    [4.8522, -3.0753, -6.2791, -6.1789, -9.3543],
    [1.8568, -7.5940, 35.6727, -2.5501, -9.2989],
    [-20.7060, -38.1400, -40.8257, -27.4661, -23.8749],
    [-20.7060, -38.1400, -40.8257, -27.4661, -23.8749]]


def test_matches_speechbrain_reference_values():
    wave = chirp()
    waves = np.stack([wave, wave * (np.arange(8000) < 5600)])
    raw = Fbank(mean_norm=False).batch(waves)
    normed = Fbank().batch(waves, rel_lengths=[1.0, 0.7])
    assert raw.shape == (2, 51, 80)
    np.testing.assert_allclose(raw[0, ::10, ::16], SPEECHBRAIN_RAW_0, atol=2e-3)
    np.testing.assert_allclose(normed[1, ::10, ::16], SPEECHBRAIN_NORMED_1, atol=2e-3)


def test_to_dict_round_trips_through_json():
    fbank = Fbank(n_mels=40, hop_length=80, f_min=20.0, top_db=None, mean_norm=False)
    settings = json.loads(json.dumps(fbank.to_dict()))
    assert settings['f_max'] == 8000.0 and settings['n_mels'] == 40
    again = Fbank(**settings)
    assert again.to_dict() == fbank.to_dict()
    wave = noise(3000)
    np.testing.assert_array_equal(again(wave), fbank(wave))


def test_invalid_settings_are_config_errors():
    with pytest.raises(ConfigError, match='win_length'):
        Fbank(win_length=512)
    with pytest.raises(ConfigError, match='f_max'):
        Fbank(f_max=9000.0)
    with pytest.raises(ConfigError):
        Fbank(hop_length=0)
    with pytest.raises(ValueError):
        Fbank()(np.zeros((2, 100), np.float32))
