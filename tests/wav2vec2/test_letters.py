"""The letter dictionary: fairseq's and transformers' id layouts, the .ltr convention, unknown
characters listed, greedy CTC decoding, bad dictionary files as one-line errors."""
import json

import numpy as np
import pytest

from src.errors import DataError
from src.wav2vec2.letters import Letters, ltr_line, words_from_ltr
from tests.helpers import raises_one_line

# fairseq's dict.ltr.txt of its LibriSpeech fine-tuning, verbatim (the counts of 10 h)
FAIRSEQ_DICT = """\
| 94802
E 51860
T 38431
A 33152
O 31495
N 28855
I 28794
H 27187
S 26071
R 23546
D 18289
L 16308
U 12400
M 10685
W 10317
C 9844
F 9062
G 8924
Y 8226
P 6890
B 6339
V 3936
K 3456
' 1023
X 636
J 598
Q 437
Z 213
"""
# transformers' vocab.json of facebook/wav2vec2-base-960h
HF_VOCAB = {"<pad>": 0, "<s>": 1, "</s>": 2, "<unk>": 3, "|": 4, "E": 5, "T": 6, "A": 7, "O": 8,
            "N": 9, "I": 10, "H": 11, "S": 12, "R": 13, "D": 14, "L": 15, "U": 16, "M": 17,
            "W": 18, "C": 19, "F": 20, "G": 21, "Y": 22, "P": 23, "B": 24, "V": 25, "K": 26,
            "'": 27, "X": 28, "J": 29, "Q": 30, "Z": 31}


@pytest.fixture
def fairseq_letters(tmp_path):
    path = tmp_path / 'dict.ltr.txt'
    path.write_text(FAIRSEQ_DICT)
    return Letters.from_fairseq_dict(path)


def test_fairseq_dict_ids(fairseq_letters):
    letters = fairseq_letters
    assert len(letters) == 32 and letters.blank == 0
    assert letters.symbols[:6] == ('<s>', '<pad>', '</s>', '<unk>', '|', 'E')
    assert letters.index['Z'] == 31 and letters.index["'"] == 27
    assert letters.counts['E'] == 51860


def test_fairseq_and_hf_layouts_agree(fairseq_letters, tmp_path):
    assert fairseq_letters.to_hf_vocab() == HF_VOCAB
    path = tmp_path / 'vocab.json'
    path.write_text(json.dumps(HF_VOCAB))
    from_hf = Letters.from_hf_vocab(path)
    assert from_hf.symbols == fairseq_letters.symbols and from_hf.blank == 0


def test_ltr_convention():
    assert ltr_line('HELLO WORLD') == 'H E L L O | W O R L D |'
    assert ltr_line('  A   B ') == 'A | B |'
    assert ltr_line('') == ''
    assert words_from_ltr('H E L L O | W O R L D |') == 'HELLO WORLD'
    assert words_from_ltr(ltr_line("IT'S A B")) == "IT'S A B"


def test_encode(fairseq_letters):
    ids = fairseq_letters.encode('HE IS')
    # H=11 E=5 |=4 I=10 S=12 |=4
    np.testing.assert_array_equal(ids, [11, 5, 4, 10, 12, 4])
    assert ids.dtype == np.int32


def test_unknown_characters_are_listed(fairseq_letters):
    message = raises_one_line(DataError, lambda: fairseq_letters.encode('HÉ said hi', 'train.wrd'),
                              'train.wrd', "'É'", "'a'", "'d'", "'h'", "'i'", "'s'")
    assert '6 character(s)' in message


def test_from_transcripts_orders_by_frequency_then_code_point(tmp_path):
    letters = Letters.from_transcripts(['AB BA', 'CAB'])
    # counts: | 3, A 3, B 3, C 1; ties in code-point order ('|' is after the letters)
    assert letters.symbols[4:] == ('A', 'B', '|', 'C')
    letters.write_fairseq_dict(tmp_path / 'dict.ltr.txt')
    assert (tmp_path / 'dict.ltr.txt').read_text() == 'A 3\nB 3\n| 3\nC 1\n'
    again = Letters.from_fairseq_dict(tmp_path / 'dict.ltr.txt')
    assert again.symbols == letters.symbols


def test_decode_greedy_ids_and_logits(fairseq_letters):
    letters = fairseq_letters
    H, E, L, O, W, R, D, bar = (letters.index[c] for c in 'HELOWRD|')
    # blanks (0) separate the repeated L; repeats collapse; <pad>/<unk>/</s> dropped
    path = [0, H, H, E, 0, L, L, 0, L, O, bar, bar, 1, W, 3, O, R, L, D, 2, bar, 0]
    assert letters.decode_greedy(path) == 'HELLO WORLD'
    logits = np.full((len(path), len(letters)), -1.0, np.float32)
    logits[np.arange(len(path)), path] = 1.0
    assert letters.decode_greedy(logits) == 'HELLO WORLD'
    assert letters.decode_greedy(logits, length=5) == 'HE'
    assert letters.decode_batch(np.stack([logits, logits]), [5, 11]) == ['HE', 'HELLO']
    assert letters.decode_greedy([bar, bar, 0, bar, H, 0]) == 'H'
    assert letters.decode_greedy([]) == ''


def test_bad_dictionaries_are_one_line_errors(tmp_path):
    path = tmp_path / 'dict.ltr.txt'
    raises_one_line(DataError, lambda: Letters.from_fairseq_dict(path), 'not found', str(path))
    path.write_text('| 5\nE x\n')
    raises_one_line(DataError, lambda: Letters.from_fairseq_dict(path), f'{path}:2', 'SYMBOL COUNT')
    path.write_text('| 5\nE 3\n\nE 2\n')
    raises_one_line(DataError, lambda: Letters.from_fairseq_dict(path), f'{path}:4', "'E'", 'line 2')
    path.write_text('E 3\nT 2\n')
    raises_one_line(DataError, lambda: Letters.from_fairseq_dict(path), str(path), "'|'")
    vocab = tmp_path / 'vocab.json'
    vocab.write_text(json.dumps({'<pad>': 0, '|': 2}))
    raises_one_line(DataError, lambda: Letters.from_hf_vocab(vocab), str(vocab), '0 ... 1')


def test_fairseq_flags_and_fillers_read(tmp_path):
    path = tmp_path / 'dict.ltr.txt'
    path.write_text('| 5 #fairseq:overwrite\nA 3\nmadeupword0000 0\n')
    letters = Letters.from_fairseq_dict(path)
    assert letters.symbols[4:] == ('|', 'A', 'madeupword0000')
    # fillers never print
    assert letters.decode_greedy([5, 6, 4]) == 'A'
