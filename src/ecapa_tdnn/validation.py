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


def draw_trials(utterances, num_trials, rng, what='the validation set'):
    """Balanced trials: targets from different videos of a speaker, non-targets across speakers.

    Args:
        utterances: list of ``(speaker, video, path)``.
        num_trials: total; half targets (rounded down), the rest non-targets.
        rng: ``np.random.Generator``.
        what: how the error message names the utterances' set.

    Returns:
        list of ``(label, enroll, test)`` in random order.
    """
    speaker = np.array([u[0] for u in utterances])
    video = np.array([u[0] + '/' + u[1] for u in utterances])
    first, second = np.triu_indices(len(utterances), k=1)
    same_speaker = speaker[first] == speaker[second]
    target = np.flatnonzero(same_speaker & (video[first] != video[second]))
    nontarget = np.flatnonzero(~same_speaker)
    num_target = num_trials // 2
    num_nontarget = num_trials - num_target
    if num_target > len(target) or num_nontarget > len(nontarget):
        raise ConfigError(f'num_trials={num_trials} needs {num_target} target pairs from '
                          f'different videos and {num_nontarget} non-target pairs; {what} '
                          f'has {len(target)} and {len(nontarget)}: lower num_trials or add '
                          'speakers, videos or utterances')
    chosen = np.concatenate([rng.choice(target, num_target, replace=False),
                             rng.choice(nontarget, num_nontarget, replace=False)])
    labels = np.concatenate([np.ones(num_target, int), np.zeros(num_nontarget, int)])
    order = rng.permutation(len(chosen))
    swap = rng.random(len(chosen)) < 0.5
    trials = []
    for k in order:
        a, b = utterances[first[chosen[k]]][2], utterances[second[chosen[k]]][2]
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
    held = held_out_rows(read_table(d.train_manifest, MANIFEST_COLUMNS), d, cfg.train.seed)
    utterances = [(r['speaker'], os.path.basename(os.path.dirname(r['path'])), r['path']) for r in held]
    num = min(d.valid_num_trials, max_balanced_trials(utterances))
    trials = draw_trials(utterances, num, np.random.default_rng([cfg.train.seed, 0x7E57]),
                         what=f"the held-out validation set ({len(held)} utterances)")
    os.makedirs(cfg.run_dir or '.', exist_ok=True)
    path = os.path.join(cfg.run_dir or '.', 'valid_trials.txt')
    write_trials(path, trials)
    return path, ''


def max_balanced_trials(utterances):
    """The largest balanced trial count that ``(speaker, video, path)`` utterances give
    (targets across videos)."""
    speaker = np.array([u[0] for u in utterances])
    video = np.array([u[0] + '/' + u[1] for u in utterances])
    first, second = np.triu_indices(len(utterances), k=1)
    same = speaker[first] == speaker[second]
    targets = int((same & (video[first] != video[second])).sum())
    nontargets = int((~same).sum())
    return 2 * min(targets, nontargets)
