"""The VoxCeleb demo: synthetic speakers (:mod:`.voice`) in the VoxCeleb2 dev and VoxCeleb1 layouts,
with a balanced trial list."""
import os

import numpy as np

from src.audio import write_audio
from src.data.manifest import write_trials

from . import demo_corpus
from .dsp import SAMPLE_RATE
from .voice import draw_channel, draw_speaker, synthesize

_VIDEO_ID_CHARS = np.array(list('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
                                '0123456789-_'))


def _video_id(rng):
    """An 11-character YouTube-like id."""
    return ''.join(rng.choice(_VIDEO_ID_CHARS, 11))


def _write_speaker(folder, speaker_id, rng, videos, utterances, seconds, sample_rate):
    """All utterances of one synthetic speaker: ``folder/speaker_id/<video>/NNNNN.wav``.

    Returns:
        list of ``(video, relative path)``.
    """
    speaker = draw_speaker(rng)
    written = []
    video_ids = set()
    for _ in range(videos):
        video = _video_id(rng)
        while video in video_ids:
            video = _video_id(rng)
        video_ids.add(video)
        channel = draw_channel(rng, sample_rate)
        for number in range(1, utterances + 1):
            num_samples = int(rng.uniform(*seconds) * sample_rate)
            relative = f'{speaker_id}/{video}/{number:05d}.wav'
            wave = synthesize(speaker, channel, num_samples, rng, sample_rate)
            write_audio(os.path.join(folder, relative), wave, sample_rate)
            written.append((video, relative))
    return written


def write_demo_lists(written, out_dir):
    """The training lists of the demo (``<out_dir>/lists/``), as ``preprocess.py voxceleb`` writes
    them for the real VoxCeleb2 dev; returns the manifest."""
    from src.ecapa_tdnn.dataset import prepare_voxceleb
    return prepare_voxceleb([written['voxceleb2']], os.path.join(out_dir, 'lists'), progress=False)


@demo_corpus('voxceleb', lists=write_demo_lists)
def make_voxceleb_demo(out_dir, seed=0, train_speakers=40, train_videos=8, train_utterances=4,
                       train_seconds=(1.5, 2.5), test_speakers=20, test_videos=4,
                       test_utterances=3, test_seconds=(3.0, 6.0), num_trials=2000,
                       valid_speakers=10, num_valid_trials=400, sample_rate=SAMPLE_RATE):
    """A synthetic VoxCeleb: VoxCeleb2-dev-like training set, VoxCeleb1-like test set, trials,
    and a validation trial list among VoxCeleb1-dev-like speakers.

    Layout under ``out_dir``:
    ``voxceleb2/dev/wav/id0NNNN/<video>/NNNNN.wav`` (training speakers ``id00001`` ...),
    ``voxceleb1/wav/id1NNNN/<video>/NNNNN.wav`` (test speakers ``id10270`` ..., and validation
    speakers ``id10001`` ..., all disjoint), ``voxceleb1/veri_test2.txt`` and
    ``voxceleb1/valid_trials.txt`` (what a training run validates on: VoxCeleb1's dev speakers
    are disjoint from VoxCeleb2 dev and from the VoxCeleb1-O test, so a trial list among them
    selects checkpoints without touching the test). 16-bit mono wav files. Each speaker has a
    random stream of its own, so changing the number of speakers leaves the other speakers'
    files unchanged.

    Args:
        out_dir: destination folder.
        seed: random seed.
        train_speakers, train_videos, train_utterances: training speakers, videos per speaker,
            utterances per video.
        train_seconds: (low, high) uniform utterance duration of the training set.
        test_speakers, test_videos, test_utterances: the same for the test set.
        test_seconds: (low, high) duration of the test utterances.
        num_trials: trials in ``veri_test2.txt`` (half of them target trials).
        valid_speakers: validation speakers (with the test set's videos, utterances and
            durations); 0 = no validation list.
        num_valid_trials: trials in ``valid_trials.txt`` (at most what the speakers give).
        sample_rate: Hz.

    Returns:
        ``{'voxceleb2': root, 'voxceleb1': root, 'trials': trial list, 'audio_root':
        folder the trial paths are relative to}``.
    """
    out_dir = os.path.abspath(out_dir)
    vox2 = os.path.join(out_dir, 'voxceleb2')
    vox1 = os.path.join(out_dir, 'voxceleb1')
    for index in range(train_speakers):
        rng = np.random.default_rng([seed, 2, index])
        _write_speaker(os.path.join(vox2, 'dev', 'wav'), f'id{1 + index:05d}', rng,
                       train_videos, train_utterances, train_seconds, sample_rate)
    def vox1_speakers(count, first_id, stream):
        # VoxCeleb1-like speakers (test or validation): their (speaker, video, path) utterances
        utterances = []
        for index in range(count):
            rng = np.random.default_rng([seed, stream, index])
            speaker_id = f'id{first_id + index:05d}'
            for video, path in _write_speaker(os.path.join(vox1, 'wav'), speaker_id, rng,
                                              test_videos, test_utterances, test_seconds,
                                              sample_rate):
                utterances.append((speaker_id, video, path))
        return utterances

    test = vox1_speakers(test_speakers, 10270, 1)
    trials = os.path.join(vox1, 'veri_test2.txt')
    # the same drawing as the validation trials of a training run
    from src.ecapa_tdnn.validation import draw_trials, max_balanced_trials
    write_trials(trials, draw_trials(test, num_trials, np.random.default_rng([seed, 3]), what='the test set'))
    written = {'voxceleb2': vox2, 'voxceleb1': vox1, 'trials': trials,
               'audio_root': os.path.join(vox1, 'wav')}
    if valid_speakers:
        valid = vox1_speakers(valid_speakers, 10001, 4)
        written['valid_trials'] = os.path.join(vox1, 'valid_trials.txt')
        write_trials(written['valid_trials'],
                     draw_trials(valid, min(num_valid_trials, max_balanced_trials(valid)),
                                 np.random.default_rng([seed, 5]), what='the validation set'))
    return written

