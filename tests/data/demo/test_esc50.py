"""ESC-50 demo corpus: the published layout and CSV, byte-identical reruns, balanced folds,
per-class streams, and clip levels that carry no class information."""
import csv
import os
import re

import numpy as np
import pytest
import soundfile

from src.data.demo import DEMO_CORPORA, make_demo
from src.data.demo.esc50 import esc50_clip, esc50_demo_categories
from src.panns.dataset import ESC10_CATEGORIES, ESC50_CATEGORIES
from src.errors import ConfigError
from tests.helpers import file_hashes

TINY = dict(classes=3, clips_per_class=5, seconds=1.0)
FILE_NAME = re.compile(r'([1-5])-(\d{5,6})-([A-Z])-(\d{1,2})\.wav')
LAYOUT = re.compile(r'ESC-50/(audio/[1-5]-\d{5,6}-[A-Z]-\d{1,2}\.wav|meta/esc50\.csv)')



def read_meta(root):
    with open(os.path.join(root, 'ESC-50', 'meta', 'esc50.csv'), newline='') as handle:
        return list(csv.reader(handle))


@pytest.fixture(scope='module')
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp('esc50')
    assert make_demo('esc50', root, **TINY) == {'esc50': os.path.join(str(root), 'ESC-50')}
    return root


def test_registered():
    assert 'esc50' in DEMO_CORPORA


def test_demo_categories_start_with_esc10():
    assert esc50_demo_categories(3) == ['dog', 'rooster', 'rain']
    assert esc50_demo_categories(10) == list(ESC10_CATEGORIES)
    assert esc50_demo_categories(12) == ['dog', 'rooster', 'pig', 'cow'] + list(
        ESC10_CATEGORIES[2:])
    assert len(esc50_demo_categories(50)) == 50
    for bad in (1, 51):
        with pytest.raises(ConfigError, match='2 ... 50 classes'):
            esc50_demo_categories(bad)
    with pytest.raises(ConfigError, match='clips_per_class >= 5'):
        make_demo('esc50', '/nonexistent', clips_per_class=4)


def test_layout_and_csv_match_the_real_set(corpus):
    files = sorted(file_hashes(corpus))
    assert all(LAYOUT.fullmatch(path) for path in files), files
    rows = read_meta(corpus)
    assert rows[0] == ['filename', 'fold', 'target', 'category', 'esc10', 'src_file', 'take']
    body = rows[1:]
    assert [row[0] for row in body] == sorted(row[0] for row in body)
    assert sorted('ESC-50/audio/' + row[0] for row in body) == [p for p in files if 'audio' in p]
    for name, fold, target, category, esc10, source, take in body:
        match = FILE_NAME.fullmatch(name)
        assert match.groups() == (fold, source, take, target)
        assert ESC50_CATEGORIES[int(target)] == category
        assert esc10 == str(category in ESC10_CATEGORIES)
    assert {row[3] for row in body} == {'dog', 'rooster', 'rain'}
    # A second take shares its source file and fold with the first.
    takes = {}
    for name, fold, _, _, _, source, take in body:
        takes.setdefault(source, []).append((take, fold))
    for source, entries in takes.items():
        assert sorted(take for take, _ in entries) == ['A', 'B'][:len(entries)]
        assert len({fold for _, fold in entries}) == 1


def test_folds_balanced_per_class(corpus):
    body = read_meta(corpus)[1:]
    for category in ('dog', 'rooster', 'rain'):
        folds = sorted(int(row[1]) for row in body if row[3] == category)
        assert folds == [1, 2, 3, 4, 5]


def test_clip_format(corpus):
    audio = os.path.join(corpus, 'ESC-50', 'audio')
    for name in sorted(os.listdir(audio))[:4]:
        info = soundfile.info(os.path.join(audio, name))
        assert (info.samplerate, info.channels, info.frames, info.subtype) == (
            44100, 1, 44100, 'PCM_16')


def test_rerun_is_byte_identical_and_seed_matters(corpus, tmp_path):
    make_demo('esc50', tmp_path / 'again', **TINY)
    assert file_hashes(tmp_path / 'again') == file_hashes(corpus)
    make_demo('esc50', tmp_path / 'other', seed=1, **TINY)
    other = file_hashes(tmp_path / 'other')
    assert not set(other.items()) & set(file_hashes(corpus).items())


def test_classes_have_their_own_streams(corpus, tmp_path):
    make_demo('esc50', tmp_path, classes=2, clips_per_class=5, seconds=1.0)
    fewer = file_hashes(tmp_path)
    full = file_hashes(corpus)
    audio = {path: digest for path, digest in fewer.items() if 'audio' in path}
    assert len(audio) == 10 and all(full[path] == digest for path, digest in audio.items())


def test_level_and_noise_vary_within_a_class():
    """The level alone cannot tell the classes apart: per-clip levels span the same range."""
    levels = {}
    for target in (0, 1, 10):
        rng = np.random.default_rng([0, target])
        clips = [esc50_clip(target, rng, seconds=0.5) for _ in range(12)]
        assert all(np.max(np.abs(clip)) <= 0.95 for clip in clips)
        levels[target] = np.array([20 * np.log10(np.sqrt(np.mean(c ** 2))) for c in clips])
    for values in levels.values():
        assert values.max() - values.min() > 10.0           # draws over -40 ... -15 dBFS
    assert max(v.min() for v in levels.values()) < min(v.max() for v in levels.values())


def test_classes_differ_in_their_pattern():
    """Two clips of one class are closer in envelope modulation than clips of other classes
    (a coarse check that the class, not the clip, sets the pattern)."""
    def envelope_spectrum(clip):
        frames = np.abs(clip[:len(clip) // 441 * 441]).reshape(-1, 441).mean(1)   # 10 ms
        frames = np.log(frames + 1e-6)
        spectrum = np.abs(np.fft.rfft(frames - frames.mean()))[1:40]
        return spectrum / np.linalg.norm(spectrum)

    features = {}
    for target in (1, 21, 38, 41):                        # one class of four kinds
        rng = np.random.default_rng([3, target])
        features[target] = [envelope_spectrum(esc50_clip(target, rng, seconds=3.0))
                            for _ in range(4)]
    centroids = {t: np.mean(f, axis=0) for t, f in features.items()}
    correct = sum(max(centroids, key=lambda c: float(f @ centroids[c])) == t
                  for t, feats in features.items() for f in feats)
    assert correct >= 12                                  # of 16
