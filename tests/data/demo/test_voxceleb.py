"""The VoxCeleb demo: real-set layout, byte-identical reruns, per-speaker streams, valid trials,
and utterances of one speaker that vary in pitch."""
import re

import numpy as np
import pytest
import soundfile

from src.data.demo import make_demo
from src.data.manifest import read_trials
from src.errors import ConfigError
from tests.data.demo import corpus_fixture, estimate_f0, layout_files
from tests.helpers import file_hashes

TINY_VOX = dict(train_speakers=3, train_videos=2, train_utterances=2, train_seconds=(1.0, 1.5),
                test_speakers=3, test_videos=2, test_utterances=2, test_seconds=(1.0, 1.5),
                num_trials=12, valid_speakers=2)
LAYOUT = re.compile(r'voxceleb2/dev/wav/id0\d{4}/[A-Za-z0-9_-]{11}/\d{5}\.wav'
                    r'|voxceleb1/wav/id1\d{4}/[A-Za-z0-9_-]{11}/\d{5}\.wav'
                    r'|voxceleb1/(veri_test2|valid_trials)\.txt')
corpus = corpus_fixture('voxceleb', **TINY_VOX)


def test_layout_matches_the_real_sets(corpus):
    files = layout_files(corpus, LAYOUT)
    vox2 = [p for p in files if p.startswith('voxceleb2/')]
    vox1 = [p for p in files if p.startswith('voxceleb1/wav/')]
    assert len(vox2) == 3 * 2 * 2 and len(vox1) == (3 + 2) * 2 * 2
    speakers2 = {p.split('/')[3] for p in vox2}
    speakers1 = {p.split('/')[2] for p in vox1}
    assert speakers2 == {'id00001', 'id00002', 'id00003'}
    assert speakers1 == {'id10270', 'id10271', 'id10272', 'id10001', 'id10002'}
    assert len({p.split('/')[4] for p in vox2}) == 3 * 2                 # videos per speaker
    for path in vox2 + vox1:
        info = soundfile.info(str(corpus / path))
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, 'PCM_16')
        assert 1.0 <= info.duration <= 1.5


def test_same_seed_same_bytes_other_seed_other_bytes(corpus, tmp_path):
    make_demo('voxceleb', tmp_path / 'again', **TINY_VOX)
    assert file_hashes(tmp_path / 'again') == file_hashes(corpus)
    make_demo('voxceleb', tmp_path / 'other', seed=1, **TINY_VOX)
    other = {h for p, h in file_hashes(tmp_path / 'other').items() if p.endswith('.wav')}
    assert len(other) == 32 and other.isdisjoint(file_hashes(corpus).values())
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


def test_validation_trials_are_among_speakers_of_neither_training_nor_test(corpus):
    audio_root = corpus / 'voxceleb1' / 'wav'
    valid = read_trials(corpus / 'voxceleb1' / 'valid_trials.txt', audio_root=audio_root)
    test = read_trials(corpus / 'voxceleb1' / 'veri_test2.txt', audio_root=audio_root)
    speakers = lambda trials: {u.split('/')[0] for _, a, b in trials for u in (a, b)}   # noqa: E731
    assert speakers(valid) == {'id10001', 'id10002'} and not speakers(valid) & speakers(test)
    assert sum(label for label, _, _ in valid) * 2 == len(valid) > 0


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
