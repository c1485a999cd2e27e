"""WER / CER against jiwer's reference values (tests/data/metrics.npz), hand-counted cases and
a plain edit-distance loop."""
import os

import numpy as np
import pytest

from src.errors import ConfigError, DataError
from src.metrics.asr import compute_cer, compute_wer, edit_counts

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
METRICS = os.path.join(ROOT, 'tests', 'data', 'metrics.npz')


@pytest.fixture(scope='module')
def ref():
    with np.load(METRICS) as z:
        return {k[len('asr.'):]: z[k] for k in z.files if k.startswith('asr.')}


def test_reference_values(ref):
    refs, hyps = [str(t) for t in ref['refs']], [str(t) for t in ref['hyps']]
    assert compute_wer(refs, hyps) == pytest.approx(float(ref['wer']), abs=1e-15)
    assert compute_cer(refs, hyps) == pytest.approx(float(ref['cer']), abs=1e-15)
    assert edit_counts(refs, hyps) == tuple(int(n) for n in ref['counts'])
    per_utterance = [compute_wer(r, h) for r, h in zip(refs, hyps)]
    np.testing.assert_allclose(per_utterance, ref['per_utt_wer'], rtol=0, atol=1e-15)
    # a corpus rate, not the mean of the utterances' rates
    assert compute_wer(refs, hyps) != pytest.approx(np.mean(per_utterance))


def test_hand_counted_cases():
    # 'the cat sat' -> 'the bat sat down': 1 substitution, 1 insertion over 3 words
    assert edit_counts('the cat sat', 'the bat sat down') == (2, 1, 0, 1)
    assert compute_wer('the cat sat', 'the bat sat down') == pytest.approx(2 / 3)
    # an empty hypothesis deletes every word; runs of spaces and the ends do not count
    assert edit_counts(['a b c', 'd e'], ['', '  d   e ']) == (2, 0, 3, 0)
    assert compute_wer(['a b c', 'd e'], ['', '  d   e ']) == pytest.approx(3 / 5)
    # characters: the inner space is one; "it's" -> "its" deletes the apostrophe
    assert edit_counts("it's a", "its a", unit='char') == (5, 0, 1, 0)
    assert compute_cer("it's a", "its a") == pytest.approx(1 / 6)
    assert compute_cer('ab c', 'abc') == pytest.approx(1 / 4)


def levenshtein(ref, hyp):
    """Minimum substitutions + deletions + insertions turning ref into hyp (sequences)."""
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        previous, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (r != h))
    return row[-1]


def test_random_corpora_match_a_plain_edit_distance():
    rng = np.random.default_rng(0)
    vocabulary = ['a', 'b', 'c', 'dd', 'e']
    refs, hyps = [], []
    for _ in range(40):
        words = list(rng.choice(vocabulary, rng.integers(1, 9)))
        hyp = [w if rng.random() < 0.7 else str(rng.choice(vocabulary)) for w in words
               if rng.random() < 0.9] + list(rng.choice(vocabulary, rng.integers(0, 2)))
        refs.append(' '.join(words))
        hyps.append(' '.join(hyp))
    words = sum(len(r.split()) for r in refs)
    errors = sum(levenshtein(r.split(), h.split()) for r, h in zip(refs, hyps))
    assert compute_wer(refs, hyps) == pytest.approx(errors / words)
    hits, substitutions, deletions, insertions = edit_counts(refs, hyps)
    assert hits + substitutions + deletions == words
    assert substitutions + deletions + insertions == errors
    chars = sum(len(r) for r in refs)
    assert compute_cer(refs, hyps) == pytest.approx(
        sum(levenshtein(r, h) for r, h in zip(refs, hyps)) / chars)


def test_bad_input_is_a_one_line_error():
    with pytest.raises(DataError, match='2 references but 1 hypotheses'):
        compute_wer(['a', 'b'], ['a'])
    with pytest.raises(DataError, match=r'hypotheses\[1\] is a int'):
        compute_cer(['a', 'b'], ['a', 3])
    with pytest.raises(DataError, match='no utterances'):
        compute_wer([], [])
    with pytest.raises(ConfigError, match='word, char'):
        edit_counts('a', 'a', unit='phone')
