"""Tests of src.audio.augment on tiny MUSAN / RIRS_NOISES trees written to tmp_path."""
import json

import numpy as np
import pytest
import soundfile
from scipy.signal import fftconvolve

from src.audio.augment import (Augmenter, NoiseSource, add_at_snr, musan_sources, reverberate,
                               rir_sources)
from src.audio.io import read_audio
from src.errors import ConfigError, DataError

RATE = 16000


def write(path, wave, rate=RATE):
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), np.asarray(wave, np.float32), rate, subtype='FLOAT')
    return str(path)


def snr_db(clean, noisy):
    clean = clean.astype(np.float64)
    added = noisy.astype(np.float64) - clean
    return 10 * np.log10(np.sum(clean ** 2) / np.sum(added ** 2))


def delta(taps, at, amplitude=1.0):
    rir = np.zeros(taps, np.float32)
    rir[at] = amplitude
    return rir


@pytest.fixture
def corpora(tmp_path):
    """A MUSAN copy (noise: a long and a short file, music, 8 speech files) and an RIRS_NOISES
    copy of delayed deltas (simulated, plus a 2-channel real RIR and a real noise to skip)."""
    rng = np.random.default_rng(123)
    musan = tmp_path / 'musan'
    write(musan / 'noise' / 'free-sound' / 'noise-long.wav', 0.3 * rng.standard_normal(RATE * 2))
    write(musan / 'noise' / 'sound-bible' / 'noise-short.wav', 0.3 * rng.standard_normal(1000))
    write(musan / 'music' / 'jamendo' / 'music-0.wav', 0.2 * rng.standard_normal(RATE))
    for i in range(8):
        write(musan / 'speech' / 'librivox' / f'speech-{i}.wav', 0.1 * rng.standard_normal(RATE))
    rirs = tmp_path / 'RIRS_NOISES'
    simulated = rirs / 'simulated_rirs'
    write(simulated / 'smallroom' / 'Room001' / 'Room001-00001.wav', delta(64, 5, 0.4))
    write(simulated / 'largeroom' / 'Room002' / 'Room002-00003.wav', delta(300, 0, 2.0))
    real = np.stack([delta(32, 3, 0.7), delta(32, 9)], axis=1)
    write(rirs / 'real_rirs_isotropic_noises' / 'RVB2014_type1_rir_largeroom1_near_angla.wav', real)
    write(rirs / 'real_rirs_isotropic_noises' / 'RVB2014_type1_noise_largeroom1_1.wav',
          rng.standard_normal(500))
    return tmp_path


def speech_like(samples=4000, seed=7):
    t = np.arange(samples) / RATE
    rng = np.random.default_rng(seed)
    wave = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(samples)
    return wave.astype(np.float32)


def test_musan_sources_scans_subtrees_sorted(corpora):
    sources = musan_sources(corpora / 'musan')
    assert sorted(sources) == ['music', 'noise', 'speech']
    assert [p.rsplit('/', 1)[1] for p in sources['noise']] == ['noise-long.wav', 'noise-short.wav']
    assert len(sources['speech']) == 8 and sources['speech'] == sorted(sources['speech'])
    assert musan_sources(corpora) == sources          # the parent of musan/ works too


def test_rir_sources_takes_simulated_and_real_rirs_only(corpora):
    files = rir_sources(corpora / 'RIRS_NOISES')
    names = [p.rsplit('/', 1)[1] for p in files]
    # Sorted by full path: real_rirs_* < simulated_rirs/largeroom < simulated_rirs/smallroom.
    assert names == ['RVB2014_type1_rir_largeroom1_near_angla.wav', 'Room002-00003.wav',
                     'Room001-00001.wav']
    assert rir_sources(corpora) == files
    assert len(rir_sources(corpora, include_real=False)) == 2


def test_missing_or_empty_dirs_are_data_errors(tmp_path):
    (tmp_path / 'empty').mkdir()
    for scan, name in ((musan_sources, 'MUSAN'), (rir_sources, 'RIR')):
        with pytest.raises(DataError, match=name) as err:
            scan(tmp_path / 'nowhere')
        assert str(tmp_path / 'nowhere') in str(err.value)
        with pytest.raises(DataError, match='no .*wav files'):
            scan(tmp_path / 'empty')
    with pytest.raises(DataError, match='nowhere'):
        Augmenter(musan_root=tmp_path / 'nowhere')
    with pytest.raises(DataError, match='nowhere'):
        Augmenter(rir_root=tmp_path / 'nowhere')


def test_requested_kind_without_files_is_data_error(tmp_path):
    write(tmp_path / 'musan' / 'noise' / 'n.wav', np.ones(100))
    with pytest.raises(DataError, match="music/.*'music'"):
        Augmenter(musan_root=tmp_path / 'musan', kinds=('noise', 'music'))
    assert Augmenter(musan_root=tmp_path / 'musan', kinds=('noise',)).kinds == ('noise',)


def test_add_at_snr_reaches_the_snr():
    wave = speech_like()
    noise = np.random.default_rng(1).standard_normal(4000).astype(np.float32)
    for target in (-5.0, 0.0, 7.3, 20.0):
        assert snr_db(wave, add_at_snr(wave, noise, target)) == pytest.approx(target, abs=1e-3)
    np.testing.assert_array_equal(add_at_snr(wave, np.zeros(4000), 5.0), wave)


def test_reverberate_with_delta_returns_input():
    wave = speech_like()
    for rir in (delta(1, 0), delta(50, 17, 0.3), delta(7, 6, 5.0)):
        np.testing.assert_allclose(reverberate(wave, rir), wave, atol=1e-6)


def test_reverberate_aligns_to_the_direct_path():
    wave = speech_like(1000)
    rir = np.array([0.0, 0.1, 1.0, 0.0, 0.5], np.float32)
    out = reverberate(wave, rir)
    # Unit energy: divide by sqrt(0.01 + 1 + 0.25); the direct path (tap 2) lands on sample n.
    padded = np.concatenate([np.zeros(2), wave.astype(np.float64), np.zeros(1)])
    n = np.arange(1000)
    expected = (0.1 * padded[n + 3] + padded[n + 2] + 0.5 * padded[n]) / np.sqrt(1.26)
    np.testing.assert_allclose(out, expected, atol=1e-6)


@pytest.mark.parametrize('kind', ['noise', 'music', 'babble'])
def test_additive_kinds_reach_the_drawn_snr(corpora, kind):
    augmenter = Augmenter(musan_root=corpora / 'musan', prob=1.0)
    low, high = augmenter.snr_ranges[kind]
    wave = speech_like()
    rng = np.random.default_rng(3)
    for _ in range(4):
        out, info = augmenter.apply(wave, kind, rng)
        assert out.shape == wave.shape and out.dtype == np.float32
        assert low <= info['snr_db'] <= high
        assert snr_db(wave, out) == pytest.approx(info['snr_db'], abs=1e-3)
        if kind == 'babble':
            assert 3 <= len(info['files']) <= 7
            assert all('/speech/' in path for path in info['files'])
        else:
            assert len(info['files']) == 1 and f'/{kind}/' in info['files'][0]


def test_noise_excerpt_is_a_window_of_the_file(corpora):
    path = str(corpora / 'musan' / 'noise' / 'free-sound' / 'noise-long.wav')
    source = NoiseSource([path], 'noise')
    whole = read_audio(path)
    excerpt, chosen = source.sample(np.random.default_rng(5), 3000)
    assert chosen == path and excerpt.shape == (3000,)
    starts = [s for s in range(len(whole) - 3000 + 1) if whole[s] == excerpt[0]]
    assert any(np.array_equal(whole[s:s + 3000], excerpt) for s in starts)


def test_short_noise_is_tiled(corpora):
    path = str(corpora / 'musan' / 'noise' / 'sound-bible' / 'noise-short.wav')
    excerpt, _ = NoiseSource([path], 'noise').sample(np.random.default_rng(0), 2500)
    whole = read_audio(path)                              # 1000 samples
    np.testing.assert_array_equal(excerpt, np.concatenate([whole, whole, whole[:500]]))


def test_noise_at_another_rate_is_resampled(tmp_path):
    path = write(tmp_path / 'n8k.wav', np.random.default_rng(0).standard_normal(8000), rate=8000)
    excerpt, _ = NoiseSource([path], 'noise', sample_rate=RATE).sample(
        np.random.default_rng(1), 5000)
    assert excerpt.shape == (5000,) and np.abs(excerpt).max() > 0


def test_reverb_with_delta_rirs_returns_input(corpora):
    # Every RIR of the fixture is a delta (the real one in its first channel).
    augmenter = Augmenter(rir_root=corpora, prob=1.0)
    assert augmenter.kinds == ('reverb',)
    wave = speech_like()
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(12):
        out, info = augmenter.apply(wave, 'reverb', rng)
        seen.update(info['files'])
        np.testing.assert_allclose(out, wave, atol=1e-6)
    assert len(seen) == 3


def test_reverb_convolves_with_the_rir(tmp_path):
    rir = np.array([0.0, 1.0, 0.6, -0.3, 0.1], np.float32)
    write(tmp_path / 'simulated_rirs' / 'mediumroom' / 'Room007' / 'Room007-00001.wav', rir)
    out, _ = Augmenter(rir_root=tmp_path, prob=1.0).apply(speech_like(), 'reverb',
                                                          np.random.default_rng(0))
    full = fftconvolve(speech_like().astype(np.float64), rir / np.sqrt(np.sum(rir ** 2)))
    np.testing.assert_allclose(out, full[1:4001], atol=1e-6)


def test_call_preserves_length_and_is_deterministic(corpora):
    augmenter = Augmenter(musan_root=corpora, rir_root=corpora, prob=0.8)
    assert augmenter.kinds == ('noise', 'music', 'babble', 'reverb')
    waves = [speech_like(n, seed=n) for n in (1234, 4000, 20000)]

    def run(seed):
        rng = np.random.default_rng(seed)
        return [augmenter(wave, rng) for wave in waves for _ in range(5)]

    first, again, other = run(11), run(11), run(12)
    for out, wave in zip(first, [w for w in waves for _ in range(5)]):
        assert out.shape == wave.shape and out.dtype == np.float32
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other))
    # A fresh augmenter (as in another worker process) gives the same output for the same seed.
    fresh = Augmenter(**augmenter.to_dict())
    rng = np.random.default_rng(11)
    np.testing.assert_array_equal(fresh(waves[0], rng), first[0])


def test_prob_zero_is_identity_and_prob_one_always_changes(corpora):
    wave = speech_like()
    never = Augmenter(musan_root=corpora, rir_root=corpora, prob=0.0)
    always = Augmenter(musan_root=corpora, kinds=('noise', 'music', 'babble'), prob=1.0)
    rng = np.random.default_rng(0)
    for _ in range(10):
        np.testing.assert_array_equal(never(wave, rng), wave)
        assert not np.allclose(always(wave, rng), wave)


def test_prob_draws_the_clean_share(corpora):
    augmenter = Augmenter(musan_root=corpora, kinds=('noise',), prob=0.6)
    wave = speech_like(400)
    rng = np.random.default_rng(9)
    changed = [not np.array_equal(augmenter(wave, rng), wave) for _ in range(300)]
    assert 0.5 < np.mean(changed) < 0.7


def test_kinds_without_a_root_are_inactive(corpora):
    only_musan = Augmenter(musan_root=corpora)
    assert only_musan.kinds == ('noise', 'music', 'babble')
    assert 'no data root for reverb' in only_musan.summary()
    assert Augmenter(musan_root=corpora, rir_root=corpora, reverb=False).kinds == \
        ('noise', 'music', 'babble')
    assert Augmenter().summary() == 'augment: off'
    with pytest.raises(ValueError, match='not active'):
        only_musan.apply(speech_like(), 'reverb', np.random.default_rng(0))


def test_settings_validation_and_round_trip(corpora):
    with pytest.raises(ConfigError, match='unknown'):
        Augmenter(kinds=('noise', 'thunder'))
    with pytest.raises(ConfigError, match='prob'):
        Augmenter(prob=1.5)
    with pytest.raises(ConfigError, match='music_snr'):
        Augmenter(music_snr=(15, 5))
    with pytest.raises(ConfigError, match='babble_speakers'):
        Augmenter(babble_speakers=(0, 3))
    augmenter = Augmenter(musan_root=corpora, rir_root=corpora, noise_snr=(1, 2), prob=0.3,
                          kinds=('noise', 'reverb'))
    settings = json.loads(json.dumps(augmenter.to_dict()))
    assert settings['noise_snr'] == [1, 2] and settings['kinds'] == ['noise', 'reverb']
    assert Augmenter(**settings).to_dict() == augmenter.to_dict()
