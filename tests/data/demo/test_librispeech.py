"""The LibriSpeech demo: the real set's layout, transcripts that match the files, disjoint
readers with distinct voices, the speaker table, byte-identical reruns and per-reader streams."""
import os
import re

import numpy as np
import soundfile

from src.data.demo import make_demo
from src.data.demo.espeak import synthesize, variant_names
from src.data.demo.librispeech import ACCENTS, SPLITS, VARIANTS, draw_readers
from src.data.demo.sentences import VOCABULARY
from tests.data.demo import corpus_fixture, layout_files
from src.errors import ConfigError
from tests.helpers import file_hashes, raises_one_line

TINY_LIBRISPEECH = dict(train_speakers=3, dev_speakers=2, test_speakers=2, chapters=2,
                        utterances=2, words=(4, 6))
LAYOUT = re.compile(r'LibriSpeech/(SPEAKERS|CHAPTERS|README)\.TXT'
                    r'|LibriSpeech/(train-clean-100|dev-clean|test-clean)/(\d+)/(\d+)/'
                    r'(\3-\4-\d{4}\.flac|\3-\4\.trans\.txt)')
corpus = corpus_fixture('librispeech', **TINY_LIBRISPEECH)


def _speakers_table(root):
    """SPEAKERS.TXT as {id: (sex, subset, minutes, name)}."""
    table = {}
    with open(root / 'LibriSpeech' / 'SPEAKERS.TXT', encoding='utf-8') as handle:
        for line in handle:
            if line.startswith(';'):
                continue
            reader, sex, subset, minutes, name = (f.strip() for f in line.split('|'))
            table[int(reader)] = (sex, subset, float(minutes), name)
    return table


def test_layout_matches_the_real_set(corpus):
    files = layout_files(corpus, LAYOUT)
    flacs = [p for p in files if p.endswith('.flac')]
    assert len(flacs) == (3 + 2 + 2) * 2 * 2
    assert sum(p.endswith('.trans.txt') for p in files) == (3 + 2 + 2) * 2
    for split, count in zip(SPLITS, (3, 2, 2)):
        assert len({p.split('/')[2] for p in flacs if p.split('/')[1] == split}) == count
    for path in flacs:
        info = soundfile.info(str(corpus / path))
        assert (info.format, info.subtype, info.samplerate, info.channels) == \
            ('FLAC', 'PCM_16', 16000, 1)
        assert 0.8 < info.duration < 4.0


def test_transcripts_match_the_files(corpus):
    vocabulary = {w.upper() for w in VOCABULARY}
    flacs = {os.path.basename(p)[:-5] for p in file_hashes(corpus) if p.endswith('.flac')}
    listed = {}
    for path in (corpus / 'LibriSpeech').rglob('*.trans.txt'):
        for line in path.read_text(encoding='utf-8').splitlines():
            utterance, transcript = line.split(' ', 1)
            assert utterance.startswith(path.name[:-len('.trans.txt')] + '-')
            assert (path.parent / f'{utterance}.flac').is_file()
            words = transcript.split()
            assert 4 <= len(words) <= 6 and set(words) <= vocabulary and transcript.isupper()
            listed[utterance] = words
    assert set(listed) == flacs
    # More words take longer to say: duration grows with the transcript's length.
    seconds = {u: soundfile.info(str(next((corpus / 'LibriSpeech').rglob(f'{u}.flac')))).duration
               for u in listed}
    per_word = [seconds[u] / len(w) for u, w in listed.items()]
    assert 0.2 < min(per_word) and max(per_word) < 0.7


def test_readers_are_disjoint_distinct_and_tabled(corpus):
    table = _speakers_table(corpus)
    on_disk = {}
    for path in (corpus / 'LibriSpeech').rglob('*.flac'):
        subset, reader = path.parts[-4], int(path.parts[-3])
        on_disk.setdefault(reader, set()).add(subset)
    assert all(len(subsets) == 1 for subsets in on_disk.values())          # disjoint splits
    assert set(table) == set(on_disk)
    for reader, (sex, subset, minutes, name) in table.items():
        assert {subset} == on_disk[reader] and sex in 'FM' and name.startswith('eSpeak en')
        frames = sum(soundfile.info(str(p)).frames for p in
                     (corpus / 'LibriSpeech' / subset / str(reader)).rglob('*.flac'))
        assert abs(minutes - frames / 16000 / 60) < 0.006
    # Every reader a different voice; the sexes alternate within a split.
    assert len({name for _, _, _, name in table.values()}) == len(table)
    readers = draw_readers(0, (3, 2, 2))
    assert [[r.sex for r in split] for split in readers] == [['F', 'M', 'F'], ['F', 'M'],
                                                              ['F', 'M']]
    voices = [r.voice for split in readers for r in split]
    assert len(set(voices)) == len(voices)


def test_same_seed_same_bytes_and_each_reader_its_own_stream(corpus, tmp_path):
    make_demo('librispeech', tmp_path / 'again', **TINY_LIBRISPEECH)
    assert file_hashes(tmp_path / 'again') == file_hashes(corpus)
    make_demo('librispeech', tmp_path / 'other', seed=1, **TINY_LIBRISPEECH)
    other = {h for p, h in file_hashes(tmp_path / 'other').items() if p.endswith('.flac')}
    assert len(other) == 28 and other.isdisjoint(file_hashes(corpus).values())
    # One training reader fewer: the same files for every reader that remains.
    make_demo('librispeech', tmp_path / 'fewer', **{**TINY_LIBRISPEECH, 'train_speakers': 2})
    fewer = {p: h for p, h in file_hashes(tmp_path / 'fewer').items() if p.endswith('.flac')}
    assert len(fewer) == 24
    full = file_hashes(corpus)
    assert all(full[p] == h for p, h in fewer.items())


def test_every_voice_of_the_demo_exists():
    variants = set(variant_names())
    assert set(VARIANTS['F']) | set(VARIANTS['M']) <= variants
    for accent in ACCENTS:                      # an unknown language would be an error
        assert len(synthesize('one', accent)) > 1000
    assert len(VARIANTS['F']) * len(ACCENTS) >= 100


def test_readers_of_one_split_do_not_depend_on_the_others():
    small, large = draw_readers(3, (2, 1, 1)), draw_readers(3, (5, 4, 1))
    assert large[0][:2] == small[0] and large[1][:1] == small[1] and large[2] == small[2]
    ids = [r.reader_id for split in large for r in split]
    assert len(set(ids)) == len(ids)
    assert np.all([r.subset == s for split, s in zip(large, SPLITS) for r in split])
    # At the default sizes every reader has a voice of its own.
    voices = [r.voice for split in draw_readers(0, (40, 6, 6)) for r in split]
    assert len(set(voices)) == len(voices) == 52


def test_bad_sizes_are_one_line_errors(tmp_path):
    raises_one_line(ConfigError, lambda: make_demo('librispeech', tmp_path, words=[3, 5]),
                    'librispeech words=[3, 5]', '4 <= fewest <= most')
    raises_one_line(ConfigError, lambda: make_demo('librispeech', tmp_path, dev_speakers=5000),
                    '5000 readers of dev-clean', 'give fewer')
    assert not (tmp_path / 'LibriSpeech').exists()
