"""The RIRS_NOISES demo: the real set's layout and rir_list, impulse responses with a direct
path and a decay, byte-identical reruns."""
import re

import numpy as np
import soundfile

from src.audio import rir_sources
from src.data.demo import make_demo
from tests.data.demo import corpus_fixture, layout_files
from tests.helpers import file_hashes

TINY_RIRS = dict(rooms_per_size=1, rirs_per_room=2)
LAYOUT = re.compile(r'RIRS_NOISES/simulated_rirs/(small|medium|large)room/'
                    r'(Room\d{3}/Room\d{3}-\d{5}\.wav|rir_list)')
corpus = corpus_fixture('rirs_noises', **TINY_RIRS)


def test_layout_matches_the_real_set(corpus):
    files = layout_files(corpus, LAYOUT)
    assert sum(p.endswith('.wav') and 'RIRS' in p for p in files) == 3 * 1 * 2


def test_the_augmenter_finds_the_rir_files(corpus):
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


def test_same_seed_same_bytes(corpus, tmp_path):
    make_demo('rirs_noises', tmp_path, **TINY_RIRS)
    assert file_hashes(tmp_path) == file_hashes(corpus)
