"""The validation split of speaker verification: held-out rows, balanced trials at VoxCeleb scale."""
from types import SimpleNamespace

import numpy as np
import pytest

from src.ecapa_tdnn.validation import draw_trials, held_out_rows, max_balanced_trials, validation_mode
from src.errors import ConfigError


def test_trials_at_voxceleb2_scale_are_balanced_and_never_pair_everything():
    # VoxCeleb2 dev with 2 held-out utterances per speaker: 12k utterances, 72M pairs that the
    # drawing must not build
    import tracemalloc
    utts = [(f'id{s:05d}', f'v{k}', f'id{s:05d}/v{k}/00001.wav') for s in range(5994) for k in range(2)]
    tracemalloc.start()
    trials = draw_trials(utts, 6000, np.random.default_rng(0))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 200e6
    assert len(trials) == 6000 and sum(label for label, _, _ in trials) == 3000
    assert len({frozenset((a, b)) for _, a, b in trials}) == 6000
    for label, a, b in trials:
        assert (a.split('/')[0] == b.split('/')[0]) == bool(label)
        assert not label or a.split('/')[1] != b.split('/')[1]
    assert max_balanced_trials(utts) == 2 * 5994


def test_max_balanced_trials_by_hand_and_asking_for_more_is_an_error():
    # 3 speakers x 2 videos x 2 utterances: per speaker C(4,2) - 2 = 4 cross-video targets (12);
    # non-targets C(12,2) - 3 C(4,2) = 48
    utts = [(f's{s}', f'v{k}', f's{s}/v{k}/{u}') for s in range(3) for k in range(2) for u in range(2)]
    assert max_balanced_trials(utts) == 24
    assert len(draw_trials(utts, 24, np.random.default_rng(1))) == 24
    with pytest.raises(ConfigError, match='lower num_trials'):
        draw_trials(utts, 26, np.random.default_rng(1))


def test_held_out_rows_by_speakers_and_by_utterances():
    rows = [{'speaker': f's{s}', 'path': f'/d/s{s}/v{v}/{u}.wav'} for s in range(5) for v in range(3) for u in range(2)]
    d = SimpleNamespace(valid_trials='', valid_speakers=2, valid_utterances=0)
    held = held_out_rows(rows, d, seed=0)
    assert len({r['speaker'] for r in held}) == 2 and len(held) == 12
    assert held == held_out_rows(rows, d, seed=0)                       # a function of the seed
    d = SimpleNamespace(valid_trials='', valid_speakers=0, valid_utterances=3)
    held = held_out_rows(rows, d, seed=0)
    for s in range(5):
        mine = [r for r in held if r['speaker'] == f's{s}']
        assert len(mine) == 3 and len({r['path'].split('/')[3] for r in mine}) == 3   # one per video
    with pytest.raises(ConfigError, match='set one of'):
        validation_mode(SimpleNamespace(valid_trials='t.txt', valid_speakers=2, valid_utterances=0))
