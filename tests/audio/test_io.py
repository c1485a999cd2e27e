"""Tests of src.audio.io: reading (crops, channels, resampling, bad files) and atomic writing."""
import os

import numpy as np
import pytest
import soundfile

from src.audio.io import audio_format, audio_info, find_audio, read_audio, write_audio
from src.errors import DataError
from tests.helpers import raises_one_line

PCM16_STEP = 1.0 / 32768.0


def sine(freq, rate, seconds, amplitude=0.5):
    t = np.arange(int(rate * seconds)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_write_read_round_trip_is_16bit_pcm(tmp_path):
    wave = sine(440, 16000, 0.25)
    path = tmp_path / 'a' / 'b' / 'tone.wav'       # parent folders do not exist yet
    write_audio(path, wave, 16000)
    info = soundfile.info(str(path))
    assert (info.samplerate, info.frames, info.channels) == (16000, 4000, 1)
    assert info.subtype == 'PCM_16' and info.format == 'WAV'
    back = read_audio(path, 16000)
    assert back.dtype == np.float32 and back.shape == (4000,)
    np.testing.assert_allclose(back, wave, atol=PCM16_STEP)
    # The temporary file was renamed, not left beside the result.
    assert os.listdir(path.parent) == ['tone.wav']


def test_flac_round_trip_is_lossless_16bit(tmp_path):
    wave = sine(440, 16000, 0.25)
    path = tmp_path / 'tone.flac'
    write_audio(path, wave, 16000, format='FLAC')
    info = soundfile.info(str(path))
    assert (info.format, info.subtype, info.frames) == ('FLAC', 'PCM_16', 4000)
    np.testing.assert_allclose(read_audio(path), wave, atol=PCM16_STEP)
    assert os.listdir(tmp_path) == ['tone.flac']
    with pytest.raises(ValueError, match="'WAV' or 'FLAC'"):
        write_audio(tmp_path / 'tone.mp3', wave, 16000, format='MP3')


def test_write_overwrites_and_clips(tmp_path):
    path = tmp_path / 'x.wav'
    write_audio(path, np.full(100, 0.25, np.float32), 8000)
    write_audio(path, np.array([2.0, -3.0, 0.5], np.float32), 8000)
    back = read_audio(path)
    np.testing.assert_allclose(back, [32767 / 32768, -1.0, 0.5], atol=PCM16_STEP)
    assert audio_info(path) == (3, 8000)


def test_crop_reads_only_the_window(tmp_path):
    wave = np.linspace(-0.9, 0.9, 1000).astype(np.float32)
    path = tmp_path / 'ramp.wav'
    write_audio(path, wave, 16000)
    full = read_audio(path)
    part = read_audio(path, start=123, stop=456)
    assert part.shape == (333,)
    np.testing.assert_array_equal(part, full[123:456])
    np.testing.assert_array_equal(read_audio(path, start=900), full[900:])
    np.testing.assert_array_equal(read_audio(path, stop=10), full[:10])


def test_multichannel_mean_or_kept(tmp_path):
    left = np.full(50, 0.5, np.float32)
    right = np.full(50, -0.25, np.float32)
    path = tmp_path / 'stereo.wav'
    soundfile.write(str(path), np.stack([left, right], axis=1), 16000, subtype='FLOAT')
    np.testing.assert_allclose(read_audio(path), np.full(50, 0.125), atol=1e-7)
    both = read_audio(path, mono=False)
    assert both.shape == (50, 2)
    np.testing.assert_allclose(both[:, 1], right)


@pytest.mark.parametrize('file_rate, freq', [(8000, 500.0), (44100, 1000.0)])
def test_resample_to_expected_rate(tmp_path, file_rate, freq):
    path = tmp_path / 'tone.wav'
    soundfile.write(str(path), sine(freq, file_rate, 0.5), file_rate, subtype='FLOAT')
    out = read_audio(path, 16000)
    # Polyphase resampling by the reduced ratio: ceil(n * 16000 / rate) samples.
    assert out.shape == (int(np.ceil(file_rate * 0.5 * 16000 / file_rate)),)
    expected = sine(freq, 16000, 0.5)
    middle = slice(400, 7600)                           # away from the filter's edge effects
    np.testing.assert_allclose(out[middle], expected[middle], atol=2e-3)


def test_rate_mismatch_error_names_file_rates_and_fix(tmp_path):
    path = tmp_path / 'narrow.wav'
    write_audio(path, sine(300, 8000, 0.1), 8000)
    with pytest.raises(DataError) as err:
        read_audio(path, 16000, on_mismatch='error')
    message = str(err.value)
    assert str(path) in message and '8000' in message and '16000' in message
    assert 'data.on_rate_mismatch: resample' in message and '\n' not in message
    # Same rate: no error.
    assert read_audio(path, 8000, on_mismatch='error').shape == (800,)
    with pytest.raises(ValueError):
        read_audio(path, 16000, on_mismatch='ignore')


def test_bad_files_raise_one_line_data_error(tmp_path):
    missing = tmp_path / 'missing.wav'
    empty = tmp_path / 'empty.wav'
    soundfile.write(str(empty), np.zeros(0, np.float32), 16000)
    corrupt = tmp_path / 'corrupt.wav'
    corrupt.write_bytes(b'RIFF\x00\x00not really a wave file' * 3)
    for path in (missing, empty, corrupt):
        with pytest.raises(DataError) as err:
            read_audio(path, 16000)
        assert str(path) in str(err.value) and '\n' not in str(err.value)
    for path in (missing, corrupt):
        with pytest.raises(DataError, match='corrupt.wav|missing.wav'):
            audio_info(path)
    assert audio_info(empty) == (0, 16000)


def test_crop_past_the_end_is_data_error(tmp_path):
    path = tmp_path / 'short.wav'
    write_audio(path, np.zeros(100, np.float32), 16000)
    with pytest.raises(DataError, match='no samples'):
        read_audio(path, start=100, stop=200)


def test_audio_info_reads_header(tmp_path):
    path = tmp_path / 'info.wav'
    write_audio(path, np.zeros((1234, 2), np.float32), 22050)
    assert audio_info(path) == (1234, 22050)
    assert audio_format(path) == (1234, 22050, 2)
    write_audio(path, np.zeros(5, np.float32), 8000)
    assert audio_format(path) == (5, 8000, 1)


def test_find_audio_lists_files_then_folders_sorted_without_repeats(tmp_path):
    for name in ('b/2.WAV', 'a/1.flac', 'a/z.ogg', 'a/notes.txt', 'top.wav'):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b'')
    folder = str(tmp_path)
    found = find_audio([str(tmp_path / 'top.wav'), folder, str(tmp_path / 'a' / '1.flac')])
    assert found == [str(tmp_path / n) for n in ('top.wav', 'a/1.flac', 'a/z.ogg', 'b/2.WAV')]
    (tmp_path / 'empty' / 'x').mkdir(parents=True)
    raises_one_line(DataError, lambda: find_audio([str(tmp_path / 'empty')]), 'no audio files', 'empty')
    raises_one_line(DataError, lambda: find_audio([str(tmp_path / 'nope.wav')]), 'nope.wav')
