"""Demo corpora: real-set layouts, byte-identical reruns, valid trials, and the voice model's
channel behaviour that makes the naive baseline weak."""
import copy
import dataclasses
import re

import numpy as np
import pytest
import soundfile

from src.audio import Fbank, musan_sources, rir_sources
from src.data.demo import (DEMO_CORPORA, Channel, Speaker, draw_channel, draw_speaker,
                           draw_style, make_demo, naive_baseline_eer, speaker_resonances_db,
                           synthesize)
from src.data.manifest import read_trials, write_trials
from src.errors import ConfigError
from tests.helpers import file_hashes

TINY_VOX = dict(train_speakers=3, train_videos=2, train_utterances=2, train_seconds=(1.0, 1.5),
                test_speakers=3, test_videos=2, test_utterances=2, test_seconds=(1.0, 1.5),
                num_trials=12)
TINY_MUSAN = dict(noise_files=2, music_files=1, speech_files=1, seconds=(1.0, 1.5))
TINY_RIRS = dict(rooms_per_size=1, rirs_per_room=2)

LAYOUT = {
    'voxceleb': re.compile(r'voxceleb2/dev/wav/id0\d{4}/[A-Za-z0-9_-]{11}/\d{5}\.wav'
                           r'|voxceleb1/wav/id1\d{4}/[A-Za-z0-9_-]{11}/\d{5}\.wav'
                           r'|voxceleb1/veri_test2\.txt'),
    'musan': re.compile(r'musan/(noise/free-sound/noise-free-sound|music/fma/music-fma'
                        r'|speech/librivox/speech-librivox)-\d{4}\.wav'),
    'rirs_noises': re.compile(r'RIRS_NOISES/simulated_rirs/(small|medium|large)room/'
                              r'(Room\d{3}/Room\d{3}-\d{5}\.wav|rir_list)'),
}


def make_all(out_dir, seed=0):
    make_demo('voxceleb', out_dir, seed=seed, **TINY_VOX)
    make_demo('musan', out_dir, seed=seed, **TINY_MUSAN)
    make_demo('rirs_noises', out_dir, seed=seed, **TINY_RIRS)



@pytest.fixture(scope='module')
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp('demo')
    make_all(root)
    return root


def test_registry_lists_the_corpora():
    assert DEMO_CORPORA.names() == ['esc50', 'musan', 'rirs_noises', 'voxceleb']
    with pytest.raises(ConfigError, match='unknown demo corpus'):
        make_demo('librispeach', '/nonexistent')


def test_layout_matches_the_real_sets(corpus):
    files = sorted(file_hashes(corpus))
    for path in files:
        assert any(pattern.fullmatch(path) for pattern in LAYOUT.values()), path
    vox2 = [p for p in files if p.startswith('voxceleb2/')]
    vox1 = [p for p in files if p.startswith('voxceleb1/wav/')]
    assert len(vox2) == 3 * 2 * 2 and len(vox1) == 3 * 2 * 2
    speakers2 = {p.split('/')[3] for p in vox2}
    speakers1 = {p.split('/')[2] for p in vox1}
    assert speakers2 == {'id00001', 'id00002', 'id00003'}
    assert speakers1 == {'id10270', 'id10271', 'id10272'}
    assert len({p.split('/')[4] for p in vox2}) == 3 * 2                 # videos per speaker
    assert sum('musan/' in p for p in files) == 4
    assert sum(p.endswith('.wav') and 'RIRS' in p for p in files) == 3 * 1 * 2
    for path in vox2 + vox1:
        info = soundfile.info(str(corpus / path))
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, 'PCM_16')
        assert 1.0 <= info.duration <= 1.5


def test_the_augmenter_finds_the_musan_and_rir_files(corpus):
    assert {kind: len(files) for kind, files in musan_sources(corpus / 'musan').items()} == \
        {'noise': 2, 'music': 1, 'speech': 1}
    assert len(rir_sources(corpus / 'RIRS_NOISES')) == 6
    line = (corpus / 'RIRS_NOISES/simulated_rirs/smallroom/rir_list').read_text().splitlines()[0]
    assert line == ('--rir-id smallroom-Room001-00001 --room-id smallroom-Room001 '
                    'RIRS_NOISES/simulated_rirs/smallroom/Room001/Room001-00001.wav')


def test_rirs_have_a_direct_path_and_decay(corpus):
    for path in rir_sources(corpus / 'RIRS_NOISES'):
        rir, rate = soundfile.read(path)
        peak = int(np.argmax(np.abs(rir)))
        assert peak < 0.013 * rate and np.all(rir[:peak] == 0)         # direct path first
        quarter = len(rir) // 4
        head = np.sum(rir[peak + 1:peak + 1 + quarter] ** 2)
        assert np.sum(rir[-quarter:] ** 2) < 1e-3 * head                  # -30 dB by the end


def test_same_seed_same_bytes_other_seed_other_bytes(corpus, tmp_path):
    make_all(tmp_path / 'again')
    assert file_hashes(tmp_path / 'again') == file_hashes(corpus)
    make_demo('voxceleb', tmp_path / 'other', seed=1, **TINY_VOX)
    other = {h for p, h in file_hashes(tmp_path / 'other').items() if p.endswith('.wav')}
    assert len(other) == 24 and other.isdisjoint(file_hashes(corpus).values())
    # Each speaker has its own stream: fewer speakers, the same files for those that remain.
    make_demo('voxceleb', tmp_path / 'fewer', **{**TINY_VOX, 'train_speakers': 2})
    fewer = file_hashes(tmp_path / 'fewer' / 'voxceleb2')
    assert len(fewer) == 8
    assert all(file_hashes(corpus / 'voxceleb2')[p] == h for p, h in fewer.items())


def test_trials_are_balanced_and_targets_cross_videos(corpus):
    audio_root = corpus / 'voxceleb1' / 'wav'
    trials = read_trials(corpus / 'voxceleb1' / 'veri_test2.txt', audio_root=audio_root)
    assert len(trials) == 12 and sum(label for label, _, _ in trials) == 6
    pairs = set()
    for label, enroll, test in trials:
        (spk_a, video_a, _), (spk_b, video_b, _) = enroll.split('/'), test.split('/')
        assert (spk_a == spk_b) == bool(label)
        assert video_a != video_b
        pairs.add(frozenset((enroll, test)))
    assert len(pairs) == 12                                               # no trial twice
    with pytest.raises(ConfigError, match='lower num_trials'):
        make_demo('voxceleb', corpus / 'unused', **{**TINY_VOX, 'train_speakers': 0,
                                                    'num_trials': 30})


def test_naive_baseline_scores_mean_spectra(tmp_path):
    # Targets are copies of one file and non-targets are two very different sounds: EER 0;
    # with the labels swapped every decision is wrong: EER 1.
    rng = np.random.default_rng(0)
    low = np.sin(2 * np.pi * 200 * np.arange(16000) / 16000) * 0.3
    high = rng.standard_normal(16000) * 0.05
    for name, wave in [('a1', low), ('a2', low), ('b1', high), ('b2', high)]:
        soundfile.write(str(tmp_path / f'{name}.wav'), wave, 16000, subtype='PCM_16')
    trials = [(1, 'a1.wav', 'a2.wav'), (1, 'b1.wav', 'b2.wav'), (0, 'a1.wav', 'b1.wav'),
              (0, 'a2.wav', 'b2.wav')]
    assert naive_baseline_eer(trials, tmp_path) == 0.0
    swapped = [(1 - label, a, b) for label, a, b in trials]
    write_trials(tmp_path / 'swapped.txt', swapped)
    assert naive_baseline_eer(str(tmp_path / 'swapped.txt'), tmp_path) == 1.0


def test_equaliser_moves_the_mean_spectrum_but_not_normalised_features():
    """The design the demo relies on: a recording channel shifts the utterance-mean log-mel
    (what the naive baseline compares) while mean-normalised features barely change."""
    rng = np.random.default_rng(7)
    speaker = draw_speaker(rng)
    channel = draw_channel(rng, snr_db=(50.0, 50.0), level_db=(-25.0, -25.0))
    other = Channel(eq_db=channel.eq_db + 6.0 * np.cos(np.linspace(0, 3 * np.pi, 257)),
                    noise_db=channel.noise_db, snr_db=channel.snr_db, level_db=channel.level_db)
    # The same utterance (same random stream) through both channels.
    state = copy.deepcopy(rng.bit_generator.state)
    wave_a = synthesize(speaker, channel, 32000, rng)
    rng.bit_generator.state = state
    wave_b = synthesize(speaker, other, 32000, rng)
    raw, normalised = Fbank(mean_norm=False), Fbank()
    mean_shift = np.abs(raw(wave_a).mean(0) - raw(wave_b).mean(0)).mean()
    frame_change = np.abs(normalised(wave_a) - normalised(wave_b)).mean()
    assert mean_shift > 3.0                       # dB: what the naive baseline sees
    assert frame_change < 0.3 * mean_shift        # what a model on normalised features sees


def estimate_f0(wave, sample_rate=16000):
    """Median f0 (Hz) of the loudest 40 ms frames, from the autocorrelation peak in 70-300 Hz."""
    frames = np.lib.stride_tricks.sliding_window_view(wave, 640)[::320]
    energy = (frames ** 2).sum(1)
    estimates = []
    for frame in frames[energy >= np.quantile(energy, 0.7)]:
        frame = frame - frame.mean()
        corr = np.correlate(frame, frame, mode='full')[len(frame) - 1:]
        low, high = sample_rate // 300, sample_rate // 70
        estimates.append(sample_rate / (low + np.argmax(corr[low:high + 1])))
    return float(np.median(estimates))


def test_speaker_identity_is_a_few_narrow_resonances():
    speakers = [draw_speaker(np.random.default_rng([0, k])) for k in range(40)]
    mel_of = lambda hz: 2595 * np.log10(1 + hz / 700) / (2595 * np.log10(1 + 8000 / 700))
    centres = np.concatenate([s.resonance_mel for s in speakers])
    gains = np.concatenate([s.resonance_db for s in speakers])
    assert len(centres) == 40 * 6
    assert mel_of(1000) <= centres.min() and centres.max() <= mel_of(5000)
    assert np.all((10 <= np.abs(gains)) & (np.abs(gains) <= 16))
    assert 0.3 < np.mean(gains > 0) < 0.7                                # peaks and notches
    # One resonance by hand: its full gain at the centre bin, nothing four widths away.
    one = Speaker(resonance_mel=np.array([mel_of(2000.0)]), resonance_db=np.array([12.0]),
                  resonance_width=0.015)
    curve = speaker_resonances_db(one)
    bins_mel = mel_of(np.arange(257) * 16000 / 512)
    centre = np.argmin(np.abs(bins_mel - mel_of(2000.0)))
    assert curve[centre] == pytest.approx(12.0, abs=0.3)
    assert np.all(np.abs(curve[np.abs(bins_mel - mel_of(2000.0)) > 4 * 0.015]) < 0.05)


def test_resonances_survive_mean_normalisation():
    """The identity is visible to a model on normalised features: the same utterance with and
    without the speaker's resonance differs around the resonance's mel band and nowhere else.
    Unlike the channel's equaliser, the resonance colours the voice but not the background
    noise, so mean normalisation keeps part of it (the contrast with pauses and quiet frames)."""
    rng = np.random.default_rng(3)
    hz = 2500.0
    speaker = Speaker(resonance_mel=np.array([np.log1p(hz / 700) / np.log1p(8000 / 700)]),
                      resonance_db=np.array([14.0]), resonance_width=0.015)
    flat = Speaker(speaker.resonance_mel, np.zeros(1), 0.015)
    channel = draw_channel(rng, snr_db=(60.0, 60.0), level_db=(-25.0, -25.0))
    state = copy.deepcopy(rng.bit_generator.state)
    wave = synthesize(speaker, channel, 32000, rng)
    rng.bit_generator.state = state
    wave_flat = synthesize(flat, channel, 32000, rng)
    band_centres = np.array([700 * (10 ** (m / 2595) - 1) for m in np.linspace(
        0, 2595 * np.log10(1 + 8000 / 700), 82)[1:-1]])
    nearest = int(np.argmin(np.abs(band_centres - hz)))
    raw = Fbank(mean_norm=False)
    level = raw(wave_flat)[:, nearest]
    loud = level > np.quantile(level, 0.75)           # frames where the voice rules that band
    raw_change = (raw(wave) - raw(wave_flat))[loud].mean(0)                 # (80,) dB
    change = (Fbank()(wave) - Fbank()(wave_flat))[loud].mean(0)
    far = np.abs(np.arange(80) - nearest) > 6
    for values, least in ((raw_change, 5.0), (change, 1.5)):
        assert np.argmax(values) in (nearest - 1, nearest, nearest + 1)
        assert values[nearest - 1:nearest + 2].max() > least
        assert np.abs(values[far]).max() < 0.5


def test_style_changes_per_utterance_and_sets_the_pitch():
    """Pitch is a property of the utterance (drawn by :func:`draw_style`), not of the speaker:
    the estimated f0 of each rendered utterance follows its style's f0."""
    f0 = np.array([draw_style(np.random.default_rng([1, k])).f0 for k in range(200)])
    assert 85 <= f0.min() and f0.max() <= 255
    assert np.mean(f0 < 130) > 0.25 and np.mean(f0 > 170) > 0.25       # log-uniform 85-255 Hz
    rng = np.random.default_rng(5)
    speaker = draw_speaker(rng)
    channel = draw_channel(rng, snr_db=(60.0, 60.0))
    estimated, drawn = [], []
    for target in (95.0, 140.0, 210.0):
        # A flat intonation and no fricatives, so that every loud frame is voiced at ~f0.
        style = dataclasses.replace(draw_style(rng, f0_hz=(target, target)), f0_range=0.0,
                                    consonant_prob=0.0)
        estimated.append(estimate_f0(synthesize(speaker, channel, 24000, rng, style=style)))
        drawn.append(style.f0)
    np.testing.assert_allclose(estimated, drawn, rtol=0.12)


def test_one_speakers_files_vary_in_pitch(corpus):
    """Within one demo speaker the pitch varies as much as between speakers."""
    by_speaker = {}
    for path in sorted((corpus / 'voxceleb2' / 'dev' / 'wav').rglob('*.wav')):
        wave, _ = soundfile.read(str(path))
        by_speaker.setdefault(path.parts[-3], []).append(np.log2(estimate_f0(wave)))
    within = np.mean([np.std(v) for v in by_speaker.values()])
    between = np.std([np.mean(v) for v in by_speaker.values()])
    assert within > 0.2                                                  # octaves
    assert within > 0.5 * between
