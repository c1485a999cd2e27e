"""VoxCeleb for speaker verification: data preparation and training crops.

Preparation (:func:`prepare_voxceleb`) scans the official trees,

* VoxCeleb2: ``<root>/dev/aac/idNNNNN/<video>/NNNNN.m4a`` (or ``dev/wav/...wav`` once converted),
* VoxCeleb1: ``<root>/wav/idNNNNN/<video>/NNNNN.wav``,

converts m4a to 16 kHz mono wav with ffmpeg (mirrored under ``<out_dir>/wav/``) and writes

* ``train.csv``: ``utt_id,path,num_samples,speaker``, one row per utterance sorted by
  ``utt_id`` (``idNNNNN/<video>/NNNNN``); ``path`` is **absolute**, so the manifest works from
  any working directory (move the data and you re-run the preparation, which is quick once the
  wav files exist); ``num_samples`` at the file's rate, which preparation checks is 16 kHz.
* ``speakers.json``: speaker id -> integer label (sorted ids -> 0, 1, ...).
* ``skipped.txt``: the files left out (unreadable, too short, failed conversion) with the reason.

Training (:class:`VoxCelebTrainSet`) reads a random crop of each utterance (only the crop is
decoded), wraps short files around, augments and computes fbank features; all items of a batch
share one crop length drawn per batch. Evaluation reads the utterances of a trial list
(:func:`read_trials`) whole (:mod:`src.ecapa_tdnn.evaluate`).

References: VoxCeleb1 (Nagrani et al., Interspeech 2017), VoxCeleb2 (Chung et al., Interspeech
2018); the cleaned trial lists of https://www.robots.ox.ac.uk/~vgg/data/voxceleb/.
"""
import logging
import os
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from tqdm import tqdm

from src.audio import Fbank, audio_info, read_audio
from src.data.items import UnreadableItems
from src.data.manifest import (read_label_map, read_table, read_trials, write_label_map,
                               write_table, write_text)
from src.data.prepare import CORPORA, CorpusPreparer
from src.errors import ConfigError, DataError

__all__ = ['prepare_voxceleb', 'read_trials', 'VoxCelebTrainSet', 'MANIFEST_COLUMNS']

log = logging.getLogger(__name__)

MANIFEST_COLUMNS = {'utt_id': str, 'path': str, 'num_samples': int, 'speaker': str}
# Where the speaker folders live below a root, tried in this order: VoxCeleb2 dev converted /
# as released, VoxCeleb1, a bare aac folder, the root itself.
SPEAKER_FOLDERS = ('dev/wav', 'dev/aac', 'wav', 'aac', '.')
_SPEAKER_ID = re.compile(r'id\d+$')
_AUDIO_SUFFIXES = ('.wav', '.m4a')


# ---------------------------------------------------------------------------------------------
# Preparation

def prepare_voxceleb(roots, out_dir, convert_m4a=True, min_duration=1.0, sample_rate=16000,
                     exclude_trials=None, trials=None, trials_audio_root='', num_jobs=4,
                     progress=True):
    """Scan VoxCeleb trees and write the training manifest and the speaker label map: the
    ``voxceleb`` corpus preparer (``python preprocess.py voxceleb``).

    Args:
        roots: list of dataset folders; each holds ``dev/aac`` or ``dev/wav`` (VoxCeleb2),
            ``wav`` (VoxCeleb1), ``aac``, or the ``idNNNNN`` speaker folders themselves
            (:data:`SPEAKER_FOLDERS`, first match wins).
        out_dir: output folder: ``train.csv``, ``speakers.json``, ``skipped.txt`` and the wav
            files converted from m4a under ``wav/idNNNNN/<video>/NNNNN.wav``.
        convert_m4a: convert m4a files with ffmpeg (already converted files are kept). If
            False, m4a files are an error.
        min_duration: utterances shorter than this (seconds) are left out.
        sample_rate: the rate every wav file must have (conversion produces it).
        exclude_trials: optional list of trial-list files whose speakers are left out, e.g.
            VoxCeleb1's ``veri_test2.txt`` when VoxCeleb1 dev is part of the training data.
        trials: optional trial lists (``veri_test2.txt`` format) to check and copy into
            ``out_dir``, for the configs' ``data.trials`` / ``eval.extra_trials``.
        trials_audio_root: the folder the trial paths are relative to (VoxCeleb1's ``wav/``);
            given, every trial file must exist there.
        num_jobs: ffmpeg processes run at once.
        progress: show tqdm progress bars.

    Returns:
        path of the written ``train.csv``.

    Raises:
        DataError: a missing root, a root without speaker folders, m4a files without ffmpeg
            (or with ``convert_m4a=False``), a wav file at another rate, two roots holding the
            same utterance, no usable utterance at all, or a malformed trial list (checked
            first) or one whose files are missing under ``trials_audio_root``.
    """
    if isinstance(roots, (str, os.PathLike)):
        roots = [roots]
    out_dir = os.path.abspath(out_dir)
    for path in trials or ():
        read_trials(path, trials_audio_root or None, check_files=bool(trials_audio_root))
    excluded = set()
    for trial_path in exclude_trials or ():
        excluded.update(utt.split('/')[0] for _, enroll, test in read_trials(trial_path, check_files=False)
                        for utt in (enroll, test))

    found = {}                                          # utt_id -> source file
    for root in roots:
        for utt_id, source in _scan_root(root):
            if utt_id.split('/')[0] in excluded:
                continue
            if utt_id in found:
                raise DataError(f'utterance {utt_id} is in two roots ({found[utt_id]} and '
                                f'{source}); pass each VoxCeleb tree once')
            found[utt_id] = source

    wav_dir = os.path.join(out_dir, 'wav')
    conversions = [(source, os.path.join(wav_dir, utt_id + '.wav'))
                   for utt_id, source in found.items() if source.endswith('.m4a')]
    skipped = []
    if conversions:
        if not convert_m4a:
            raise DataError(f'{len(conversions)} m4a files (e.g. {conversions[0][0]}) but '
                            'convert_m4a is off; turn it on (needs ffmpeg) or pass wav trees')
        failed = _convert_all(conversions, sample_rate, num_jobs, progress)
        skipped.extend((source, f'ffmpeg failed: {why}') for source, why in failed)
    converted = dict(conversions)

    rows = []
    min_samples = int(round(min_duration * sample_rate))
    failed_sources = {source for source, _ in skipped}
    for utt_id in tqdm(sorted(found), desc='reading headers', unit='file', disable=not progress):
        source = found[utt_id]
        if source in failed_sources:
            continue
        path = converted.get(source, source)
        try:
            num_samples, file_rate = audio_info(path)
        except DataError as exc:
            skipped.append((path, str(exc)))
            continue
        if file_rate != sample_rate:
            raise DataError(f'{path} has sample rate {file_rate} Hz, expected {sample_rate} Hz; '
                            f'convert the tree to {sample_rate} Hz wav first')
        if num_samples < min_samples:
            skipped.append((path, f'{num_samples / sample_rate:.2f} s is shorter than '
                                  f'min_duration {min_duration} s'))
            continue
        rows.append({'utt_id': utt_id, 'path': os.path.abspath(path),
                     'num_samples': num_samples, 'speaker': utt_id.split('/')[0]})
    if not rows:
        raise DataError(f'no usable utterance in {", ".join(map(str, roots))} '
                        f'({len(skipped)} skipped, see {os.path.join(out_dir, "skipped.txt")})')

    os.makedirs(out_dir, exist_ok=True)
    write_text(os.path.join(out_dir, 'skipped.txt'),
               ''.join(f'{path}\t{reason}\n' for path, reason in skipped))
    manifest = os.path.join(out_dir, 'train.csv')
    write_table(manifest, rows, list(MANIFEST_COLUMNS))
    speakers = write_label_map(os.path.join(out_dir, 'speakers.json'),
                               (row['speaker'] for row in rows))
    for path in trials or ():
        target = os.path.join(out_dir, os.path.basename(path))
        if os.path.abspath(path) != target:
            with open(path, encoding='utf-8') as handle:
                write_text(target, handle.read())
    log.info('prepared %d utterances of %d speakers (%d skipped) in %s', len(rows),
             len(speakers), len(skipped), manifest)
    return manifest


def voxceleb_arguments(parser):
    """The options of ``preprocess.py voxceleb`` (the keywords of :func:`prepare_voxceleb`)."""
    parser.add_argument('--roots', nargs='+', required=True,
                        help='VoxCeleb2 dev/aac or wav trees, VoxCeleb1 wav trees')
    parser.add_argument('--out', dest='out_dir', metavar='DIR', required=True, help='output folder')
    parser.add_argument('--trials', nargs='*', help='trial lists to check and copy (veri_test2.txt format)')
    parser.add_argument('--trials_audio_root', default='',
                        help='VoxCeleb1 wav/ folder the trial paths are relative to')
    parser.add_argument('--exclude_trials', nargs='*', help='leave out the speakers of these trial lists')
    parser.add_argument('--no_convert', dest='convert_m4a', action='store_false',
                        help='do not convert m4a (error instead)')
    parser.add_argument('--min_duration', type=float, default=1.0)
    parser.add_argument('--jobs', dest='num_jobs', type=int, default=4, help='parallel ffmpeg processes')


CORPORA.register('voxceleb', CorpusPreparer(
    prepare_voxceleb, voxceleb_arguments,
    'lists of real VoxCeleb trees (m4a converted to 16 kHz wav with ffmpeg), trial lists checked'))


def _scan_root(root):
    """Yield ``(utt_id, file)`` for the wav/m4a files of one root, sorted.

    ``utt_id`` is ``idNNNNN/<video>/<name>`` without the suffix.
    """
    root = os.fspath(root)
    if not os.path.isdir(root):
        raise DataError(f'VoxCeleb root not found: {root}')
    for sub in SPEAKER_FOLDERS:
        base = os.path.normpath(os.path.join(root, sub))
        if os.path.isdir(base):
            speakers = sorted(entry.name for entry in os.scandir(base)
                              if entry.is_dir() and _SPEAKER_ID.match(entry.name))
            if speakers:
                break
    else:
        raise DataError(f'no VoxCeleb speaker folders (idNNNNN) under {root}: expected '
                        f'{root}/dev/aac or {root}/dev/wav (VoxCeleb2) or {root}/wav (VoxCeleb1)')
    for speaker in speakers:
        speaker_dir = os.path.join(base, speaker)
        for video in sorted(e.name for e in os.scandir(speaker_dir) if e.is_dir()):
            video_dir = os.path.join(speaker_dir, video)
            for name in sorted(os.listdir(video_dir)):
                stem, suffix = os.path.splitext(name)
                if suffix.lower() in _AUDIO_SUFFIXES:
                    yield f'{speaker}/{video}/{stem}', os.path.join(video_dir, name)


def _convert_all(conversions, sample_rate, num_jobs, progress):
    """Convert ``(m4a, wav)`` pairs with ffmpeg; existing wav files are kept.

    Returns:
        list of ``(m4a, reason)`` that failed.
    """
    todo = [(src, dst) for src, dst in conversions
            if not (os.path.isfile(dst) and os.path.getsize(dst) > 0)]
    if not todo:
        return []
    ffmpeg = shutil.which('ffmpeg')
    if ffmpeg is None:
        raise DataError('ffmpeg not found: install it (apt install ffmpeg) or pass wav files')
    failed = []
    # Threads suffice: each one waits on its own ffmpeg process.
    with ThreadPoolExecutor(max(1, num_jobs)) as pool:
        results = pool.map(lambda pair: _convert_one(ffmpeg, *pair, sample_rate), todo)
        for (src, _), error in tqdm(zip(todo, results), total=len(todo), desc='m4a -> wav',
                                    unit='file', disable=not progress):
            if error:
                failed.append((src, error))
    if failed:
        log.warning('ffmpeg failed on %d of %d files, e.g. %s: %s', len(failed), len(todo),
                    *failed[0])
    return failed


def _convert_one(ffmpeg, src, dst, sample_rate):
    """One ffmpeg call into a temporary file renamed on success; returns an error or ''."""
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    tmp = dst + '.part'
    command = [ffmpeg, '-nostdin', '-y', '-loglevel', 'error', '-i', src, '-ac', '1',
               '-ar', str(sample_rate), '-f', 'wav', tmp]
    result = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, check=False)
    if result.returncode != 0 or not os.path.isfile(tmp):
        if os.path.exists(tmp):
            os.remove(tmp)
        lines = (result.stderr or '').strip().splitlines()
        return lines[-1] if lines else f'exit status {result.returncode}'
    os.replace(tmp, dst)
    return ''


# ---------------------------------------------------------------------------------------------
# Training and evaluation data

class VoxCelebTrainSet:
    """Random fixed-length crops of the training utterances as fbank features with labels: the
    training set of the ECAPA-TDNN recipe (``recipe.train_set(cfg)``).

    Args:
        manifest: ``train.csv`` of :func:`prepare_voxceleb`.
        speakers_json: ``speakers.json`` of :func:`prepare_voxceleb`.
        crop_seconds: crop length in seconds, fixed (a number) or drawn per batch uniformly
            from ``(low, high)``.
        crop_step_seconds: the drawn lengths are ``low`` plus whole multiples of this (0 = any
            number of samples). In graph mode every length is a graph to compile: 2-3 s in
            0.1 s steps are 11 graphs instead of about a hundred.
        sample_rate: Hz; every file must have it.
        augmenter: optional ``augmenter(wave, rng) -> wave`` (e.g. ``src.audio.Augmenter``).
        fbank: feature extractor ``fbank(wave) -> (frames, n_mels)``; default ``Fbank()``.
        exclude: paths of the manifest left out (a validation split).

    An item is ``{'feats': float32 (frames, n_mels), 'label': int}`` with
    ``frames = fbank.num_frames(num_samples)``. Unreadable files follow the policy of
    :mod:`src.data.items` (:attr:`unreadable`).
    """

    def __init__(self, manifest, speakers_json, crop_seconds=(2.0, 3.0), sample_rate=16000,
                 augmenter=None, fbank=None, crop_step_seconds=0.0, exclude=()):
        rows = read_table(manifest, MANIFEST_COLUMNS)
        if exclude:                   # held out for validation (src/ecapa_tdnn/validation.py)
            rows = [row for row in rows if row['path'] not in exclude]
        speakers = read_label_map(speakers_json)
        unknown = sorted({row['speaker'] for row in rows} - set(speakers))
        if unknown:
            raise DataError(f'{len(unknown)} speakers of {manifest} (e.g. {unknown[0]}) are not '
                            f'in {speakers_json}; re-run data preparation')
        low, high = ((crop_seconds, crop_seconds) if np.isscalar(crop_seconds)
                     else tuple(crop_seconds))
        if not 0 < low <= high:
            raise ConfigError(f'crop_seconds must be positive with low <= high, got {crop_seconds}')
        if crop_step_seconds < 0:
            raise ConfigError(f'crop_step_seconds must be >= 0 (0 = any length), got {crop_step_seconds}')
        self.crop_range = (int(round(low * sample_rate)), int(round(high * sample_rate)))
        self.crop_step = int(round(crop_step_seconds * sample_rate))
        self.sample_rate = int(sample_rate)
        self.speakers = speakers
        self.paths = [row['path'] for row in rows]
        self.lengths = np.array([row['num_samples'] for row in rows], dtype=np.int64)
        self.labels = np.array([speakers[row['speaker']] for row in rows], dtype=np.int32)
        self.augmenter = augmenter
        self.fbank = Fbank(sample_rate=sample_rate) if fbank is None else fbank
        self.unreadable = UnreadableItems(manifest, noun='training files')

    def __len__(self):
        return len(self.paths)

    @property
    def num_classes(self):
        """Number of speakers (size of the classifier)."""
        return len(self.speakers)

    def draw_num_samples(self, rng):
        """One crop length in samples, uniform over ``crop_seconds`` in steps of
        ``crop_step_seconds`` (for one batch)."""
        low, high = self.crop_range
        if not self.crop_step:
            return int(rng.integers(low, high + 1))
        return low + self.crop_step * int(rng.integers(0, (high - low) // self.crop_step + 1))

    def get(self, index, rng, num_samples):
        """Features of a random crop of utterance ``index``.

        Args:
            index: utterance index.
            rng: ``np.random.Generator`` for the crop position and the augmentation.
            num_samples: crop length.

        Returns:
            ``{'feats': float32 (frames, n_mels), 'label': int}``, or ``None`` when the file
            is unreadable (recorded in :attr:`unreadable`, logged once).
        """
        path = self.paths[index]
        length = int(self.lengths[index])
        # Only the crop is decoded; a file shorter than the crop is read whole and wrapped.
        start = int(rng.integers(0, length - num_samples + 1)) if length > num_samples else 0
        wave = self.unreadable.read(path, lambda: read_audio(
            path, self.sample_rate, on_mismatch='error', start=start, stop=start + num_samples))
        if wave is None:
            return None
        if len(wave) < num_samples:
            wave = np.pad(wave, (0, num_samples - len(wave)), mode='wrap')
        if self.augmenter is not None:
            wave = self.augmenter(wave, rng)
        feats = self.fbank(wave)
        return {'feats': np.asarray(feats, dtype=np.float32), 'label': int(self.labels[index])}

    def make_batch(self, indices, rng):
        """A batch with one crop length (drawn per batch); unreadable items are replaced by random
        others (:mod:`src.data.items`).

        Args:
            indices: utterance indices of the batch.
            rng: ``np.random.Generator``.

        Returns:
            ``{'feats': float32 (batch, frames, n_mels), 'labels': int32 (batch,),
            '_bad': number of unreadable files met}``.

        Raises:
            DataError: too many replacements in a row were unreadable.
        """
        num_samples = self.draw_num_samples(rng)
        items, _, bad = self.unreadable.gather(lambda index: self.get(index, rng, num_samples),
                                               indices, len(self), rng)
        return {'feats': np.stack([item['feats'] for item in items]),
                'labels': np.array([item['label'] for item in items], dtype=np.int32),
                '_bad': bad}
