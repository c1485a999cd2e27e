"""List files: CSV manifests, label maps and trial lists, their round trips and their errors."""
import os

import pytest

from src.data.manifest import (read_label_map, read_table, read_trials, write_label_map,
                               write_table, write_text, write_trials)
from src.errors import DataError

COLUMNS = {'utt_id': str, 'path': str, 'num_samples': int, 'speaker': str}


def test_table_round_trip_quotes_commas_and_converts_columns(tmp_path):
    rows = [{'utt_id': 'id1/v/00001', 'path': '/data/a,b.wav', 'num_samples': 16000,
             'speaker': 'id1', 'extra': 'x'},
            {'utt_id': 'id2/v/00002', 'path': '/data/c.wav', 'num_samples': 8,
             'speaker': 'id2', 'extra': 'y'}]
    path = tmp_path / 'train.csv'
    write_table(path, rows, ['utt_id', 'path', 'num_samples', 'speaker'])
    assert path.read_text().splitlines()[0] == 'utt_id,path,num_samples,speaker'
    assert path.read_text().splitlines()[1] == 'id1/v/00001,"/data/a,b.wav",16000,id1'
    back = read_table(path, COLUMNS)
    assert back == [{k: r[k] for k in COLUMNS} for r in rows]
    assert isinstance(back[0]['num_samples'], int)
    assert os.listdir(tmp_path) == ['train.csv']          # no temporary file left behind


@pytest.mark.parametrize('text, message', [
    ('', 'is empty'),
    ('utt_id,path,speaker\na,b,c\n', 'lacks column.*num_samples'),
    ('utt_id,path,num_samples,speaker\n', 'no rows'),
    ('utt_id,path,num_samples,speaker\na,b,12,s\na,b,twelve,s\n', r'train\.csv:3: bad num_samples'),
    ('utt_id,path,num_samples,speaker\na,b,12,s,extra\n', r'train\.csv:2: 5 fields'),
])
def test_table_errors_name_the_file_and_line(tmp_path, text, message):
    path = tmp_path / 'train.csv'
    path.write_text(text)
    with pytest.raises(DataError, match=message):
        read_table(path, COLUMNS)


def test_table_missing_file(tmp_path):
    with pytest.raises(DataError, match='manifest not found: .*nope.csv'):
        read_table(tmp_path / 'nope.csv', COLUMNS)


def test_label_map_is_sorted_and_checked(tmp_path):
    path = tmp_path / 'speakers.json'
    labels = write_label_map(path, ['id3', 'id1', 'id2', 'id1'])
    assert labels == {'id1': 0, 'id2': 1, 'id3': 2}
    assert read_label_map(path) == labels
    path.write_text('{"a": 0, "b": 2}')
    with pytest.raises(DataError, match='integers 0 ... 1'):
        read_label_map(path)
    path.write_text('{"a": 0,')
    with pytest.raises(DataError, match='not valid JSON'):
        read_label_map(path)
    with pytest.raises(DataError, match='label map not found'):
        read_label_map(tmp_path / 'none.json')


def test_trials_round_trip_and_blank_lines(tmp_path):
    trials = [(1, 'id10270/x6uYqmx31kE/00001.wav', 'id10270/8jEAjG6SegY/00008.wav'),
              (0, 'id10270/x6uYqmx31kE/00001.wav', 'id10300/ize_eiCFEg0/00003.wav')]
    path = tmp_path / 'veri_test2.txt'
    write_trials(path, trials)
    assert path.read_text().splitlines()[0] == \
        '1 id10270/x6uYqmx31kE/00001.wav id10270/8jEAjG6SegY/00008.wav'
    write_text(path, path.read_text() + '\n   \n')
    assert read_trials(path) == trials


@pytest.mark.parametrize('bad_line', ['2 a.wav b.wav', '1 a.wav', '1 a.wav b.wav c.wav',
                                      'x a.wav b.wav'])
def test_malformed_trial_line_names_file_and_line(tmp_path, bad_line):
    path = tmp_path / 'trials.txt'
    path.write_text(f'1 a.wav b.wav\n0 a.wav c.wav\n{bad_line}\n')
    with pytest.raises(DataError, match=r'trials\.txt:3: expected "label enroll test"'):
        read_trials(path)


def test_missing_trial_audio_is_counted_and_the_first_ones_named(tmp_path):
    root = tmp_path / 'wav'
    (root / 'id1' / 'v').mkdir(parents=True)
    (root / 'id1' / 'v' / '1.wav').write_bytes(b'')
    lines = [f'0 id1/v/1.wav id2/v/{k}.wav' for k in range(7)]
    path = tmp_path / 'trials.txt'
    path.write_text('\n'.join(lines) + '\n')
    with pytest.raises(DataError) as error:
        read_trials(path, audio_root=root)
    message = str(error.value)
    assert '7 of the 8 utterances' in message
    assert 'id2/v/0.wav' in message and 'id2/v/4.wav' in message and 'id2/v/5.wav' not in message
    assert len(read_trials(path, audio_root=root, check_files=False)) == 7
    with pytest.raises(DataError, match='trial list not found'):
        read_trials(tmp_path / 'none.txt')
    (tmp_path / 'empty.txt').write_text('\n')
    with pytest.raises(DataError, match='no trials'):
        read_trials(tmp_path / 'empty.txt')
