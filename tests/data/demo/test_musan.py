"""The MUSAN demo: the real set's layout, files the augmenter finds, byte-identical reruns."""
import re

from src.audio import musan_sources
from src.data.demo import make_demo
from tests.data.demo import corpus_fixture, layout_files
from tests.helpers import file_hashes

TINY_MUSAN = dict(noise_files=2, music_files=1, speech_files=1, seconds=(1.0, 1.5))
LAYOUT = re.compile(r'musan/(noise/free-sound/noise-free-sound|music/fma/music-fma'
                    r'|speech/librivox/speech-librivox)-\d{4}\.wav')
corpus = corpus_fixture('musan', **TINY_MUSAN)


def test_layout_matches_the_real_set(corpus):
    files = layout_files(corpus, LAYOUT)
    assert sum('musan/' in p for p in files) == 4


def test_the_augmenter_finds_the_musan_files(corpus):
    assert {kind: len(files) for kind, files in musan_sources(corpus / 'musan').items()} == \
        {'noise': 2, 'music': 1, 'speech': 1}


def test_same_seed_same_bytes(corpus, tmp_path):
    make_demo('musan', tmp_path, **TINY_MUSAN)
    assert file_hashes(tmp_path) == file_hashes(corpus)
