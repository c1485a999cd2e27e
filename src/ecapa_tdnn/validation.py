"""The validation split of speaker verification: what selects ECAPA-TDNN checkpoints.

Model selection never looks at the test trials (VoxCeleb1-O). A run validates on one of:

* ``data.valid_trials``: a separate trial list (with ``data.valid_audio_root``);
* ``data.valid_speakers: N``: N speakers of the training list held out from training whole,
  scored on trials among their utterances (an open-set check, like the test);
* ``data.valid_utterances: M``: M utterances of every training speaker held out (from
  different videos where it can), scored on trials among them (closed-set: the speakers stay
  in training).

The held-out rows and the trial list are a pure function of the training list and
``train.seed``; the list is written to ``<run_dir>/valid_trials.txt``.
"""
import os

import numpy as np

from ..errors import ConfigError

# validation lists written by this process: {what they were drawn from: True}
_written = {}


def validation_mode(d):
    """'trials', 'speakers', 'utterances' or '' (no validation) for the ``data`` section."""
    modes = [m for m, on in (('trials', bool(d.valid_trials)), ('speakers', d.valid_speakers > 0),
                             ('utterances', d.valid_utterances > 0)) if on]
    if len(modes) > 1:
        raise ConfigError(f"set one of data.valid_trials, data.valid_speakers and "
                          f"data.valid_utterances, not {' and '.join('data.valid_' + m for m in modes)}")
    return modes[0] if modes else ''


def held_out_rows(rows, d, seed):
    """The training-list rows held out for validation (empty for 'trials' or no validation)."""
    mode = validation_mode(d)
    rng = np.random.default_rng([seed, 0x7A11D])
    by_speaker = {}
    for row in rows:
        by_speaker.setdefault(row['speaker'], []).append(row)
    speakers = sorted(by_speaker)
    if mode == 'speakers':
        if not 2 <= d.valid_speakers < len(speakers):
            raise ConfigError(f"data.valid_speakers={d.valid_speakers}: give 2 to "
                              f"{len(speakers) - 1} (the training list has {len(speakers)} speakers)")
        chosen = rng.choice(speakers, d.valid_speakers, replace=False)
        return [row for s in sorted(chosen) for row in by_speaker[s]]
    if mode == 'utterances':
        held = []
        for s in speakers:
            mine = by_speaker[s]
            if len(mine) <= d.valid_utterances:
                raise ConfigError(f"data.valid_utterances={d.valid_utterances}: speaker {s} has only "
                                  f"{len(mine)} utterances; lower it so that every speaker keeps some")
            # one utterance per video in turn, so that target trials can span videos
            videos = {}
            for row in mine:
                videos.setdefault(os.path.dirname(row['path']), []).append(row)
            queues = [list(rng.permutation(len(v))) for v in videos.values()]
            lists = list(videos.values())
            taken = []
            while len(taken) < d.valid_utterances:
                for q, v in zip(queues, lists):
                    if q and len(taken) < d.valid_utterances:
                        taken.append(v[q.pop()])
            held += taken
        return held
    return []


def _target_pairs(speaker, video):
    """Index pairs (i < j) of one speaker's utterances from different videos, speaker by speaker
    (memory grows with the targets, not with all pairs)."""
    groups = {}
    for i, s in enumerate(speaker):
        groups.setdefault(s, []).append(i)
    pairs = []
    for members in groups.values():
        m = np.asarray(members)
        first, second = np.triu_indices(len(m), k=1)
        keep = video[m[first]] != video[m[second]]
        pairs.append(np.stack([m[first][keep], m[second][keep]], axis=1))
    return np.concatenate(pairs) if pairs else np.zeros((0, 2), int), groups


def _nontarget_pairs(speaker, count, available, rng):
    """``count`` distinct index pairs (i < j) of different speakers, uniformly: by rejection
    sampling when they are a small part of the ``available`` ones (a million utterances are
    never paired all with all), else drawn from the enumerated pairs (small sets)."""
    n = len(speaker)
    if 2 * count > available:
        first, second = np.triu_indices(n, k=1)
        other = np.flatnonzero(speaker[first] != speaker[second])
        pick = other[rng.choice(len(other), count, replace=False)]
        return np.stack([first[pick], second[pick]], axis=1)
    chosen, out = set(), []
    while len(out) < count:
        draws = rng.integers(0, n, size=(2 * (count - len(out)) + 16, 2))
        for i, j in draws:
            if len(out) == count:
                break
            i, j = (int(i), int(j)) if i < j else (int(j), int(i))
            if i != j and speaker[i] != speaker[j] and (i, j) not in chosen:
                chosen.add((i, j))
                out.append((i, j))
    return np.asarray(out, int).reshape(-1, 2)


def draw_trials(utterances, num_trials, rng, what='the validation set'):
    """Balanced trials: targets from different videos of a speaker, non-targets across speakers.

    Args:
        utterances: list of ``(speaker, video, path)``.
        num_trials: total; half targets (rounded down), the rest non-targets.
        rng: ``np.random.Generator``.
        what: how the error message names the utterances' set.

    Returns:
        list of ``(label, enroll, test)`` in random order; no pair twice.
    """
    speaker = np.array([u[0] for u in utterances])
    video = np.array([u[0] + '/' + u[1] for u in utterances])
    targets, groups = _target_pairs(speaker, video)
    n = len(utterances)
    available = n * (n - 1) // 2 - sum(len(g) * (len(g) - 1) // 2 for g in groups.values())
    num_target = num_trials // 2
    num_nontarget = num_trials - num_target
    if num_target > len(targets) or num_nontarget > available:
        raise ConfigError(f'num_trials={num_trials} needs {num_target} target pairs from '
                          f'different videos and {num_nontarget} non-target pairs; {what} '
                          f'has {len(targets)} and {available}: lower num_trials or add '
                          'speakers, videos or utterances')
    pairs = np.concatenate([targets[rng.choice(len(targets), num_target, replace=False)],
                            _nontarget_pairs(speaker, num_nontarget, available, rng)])
    labels = np.concatenate([np.ones(num_target, int), np.zeros(num_nontarget, int)])
    order = rng.permutation(len(pairs))
    swap = rng.random(len(pairs)) < 0.5
    trials = []
    for k in order:
        a, b = utterances[pairs[k, 0]][2], utterances[pairs[k, 1]][2]
        trials.append((int(labels[k]),) + ((b, a) if swap[k] else (a, b)))
    return trials


def validation_trials(cfg):
    """``(trial list path, audio root)`` of the validation split (written for held-out rows).

    Raises:
        ConfigError: no validation split is configured, or it cannot give the trials asked for.
    """
    from ..data.manifest import read_table, write_trials
    from .dataset import MANIFEST_COLUMNS
    d = cfg.data
    mode = validation_mode(d)
    if mode == 'trials':
        return d.valid_trials, d.valid_audio_root
    if not mode:
        raise ConfigError("no validation split: set data.valid_trials, data.valid_speakers or "
                          "data.valid_utterances")
    path = os.path.join(cfg.run_dir or '.', 'valid_trials.txt')
    key = (os.path.abspath(d.train_manifest), os.path.getmtime(d.train_manifest), mode,
           d.valid_speakers, d.valid_utterances, d.valid_num_trials, cfg.train.seed, os.path.abspath(path))
    if _written.get(key) and os.path.exists(path):       # drawn once per process
        return path, ''
    held = held_out_rows(read_table(d.train_manifest, MANIFEST_COLUMNS), d, cfg.train.seed)
    utterances = [(r['speaker'], os.path.basename(os.path.dirname(r['path'])), r['path']) for r in held]
    num = min(d.valid_num_trials, max_balanced_trials(utterances))
    if num < 2:
        raise ConfigError(f"the held-out validation set ({len(held)} utterances) gives no balanced "
                          "trials: hold out at least 2 utterances of different videos per speaker "
                          "(data.valid_utterances) or 2 speakers (data.valid_speakers)")
    trials = draw_trials(utterances, num, np.random.default_rng([cfg.train.seed, 0x7E57]),
                         what=f"the held-out validation set ({len(held)} utterances)")
    os.makedirs(cfg.run_dir or '.', exist_ok=True)
    write_trials(path, trials)
    _written[key] = True
    return path, ''


def max_balanced_trials(utterances):
    """The largest balanced trial count that ``(speaker, video, path)`` utterances give
    (targets across videos), counted without pairing them all."""
    from collections import Counter
    speakers = Counter(u[0] for u in utterances)
    videos = Counter((u[0], u[1]) for u in utterances)
    pairs = lambda c: c * (c - 1) // 2      # noqa: E731
    targets = sum(pairs(c) for c in speakers.values()) - sum(pairs(c) for c in videos.values())
    n = len(utterances)
    nontargets = pairs(n) - sum(pairs(c) for c in speakers.values())
    return 2 * min(targets, nontargets)
