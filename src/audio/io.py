"""Reading and writing audio files (soundfile), with one-line :class:`DataError` on bad files.

Runs in data-loader worker processes: numpy/scipy/soundfile only. Waves are float32 in [-1, 1].
"""
import os
import uuid
from math import gcd

import numpy as np
import soundfile
from scipy.signal import resample_poly

from src.errors import DataError

ON_MISMATCH = ('resample', 'error')


def audio_info(path):
    """Length and sample rate of an audio file, read from its header only.

    Args:
        path: audio file (any format libsndfile reads: wav, flac, ogg ...).

    Returns:
        ``(num_samples, sample_rate)``: frames per channel and the file's rate in Hz.

    Raises:
        DataError: the file is missing or not a readable audio file.
    """
    return audio_format(path)[:2]


def audio_format(path):
    """Length, sample rate and number of channels of an audio file, from its header only.

    Returns:
        ``(num_samples, sample_rate, channels)``.

    Raises:
        DataError: the file is missing or not a readable audio file.
    """
    _check_exists(path)
    try:
        info = soundfile.info(str(path))
    except (RuntimeError, soundfile.SoundFileError) as exc:
        raise DataError(f'cannot read audio file {path}: {_first_line(exc)}') from None
    return int(info.frames), int(info.samplerate), int(info.channels)


def read_audio(path, sample_rate=None, on_mismatch='resample', mono=True, start=None, stop=None):
    """Read an audio file (or a part of it) as float32.

    Only the frames ``[start, stop)`` are decoded, so a random crop of a long file costs the
    crop, not the file.

    Args:
        path: audio file.
        sample_rate: expected rate in Hz; ``None`` accepts the file's own rate.
        on_mismatch: what to do when the file's rate differs from ``sample_rate``: 'resample'
            (polyphase, ``scipy.signal.resample_poly`` with the reduced ratio) or 'error'.
        mono: average the channels into one.
        start: first frame to read, in samples **of the file's own rate** (``None``: 0).
        stop: one past the last frame to read, in the file's samples (``None``: end of file).

    Returns:
        float32 array ``(samples,)`` when ``mono`` (also for a mono file with ``mono=False``),
        else ``(samples, channels)`` for a multi-channel file; at ``sample_rate`` if given.

    Raises:
        DataError: missing, unreadable or empty file (or empty ``[start, stop)``), or a rate
            mismatch with ``on_mismatch='error'``.
        ValueError: an unknown ``on_mismatch``.
    """
    if on_mismatch not in ON_MISMATCH:
        raise ValueError(f'on_mismatch must be one of {ON_MISMATCH}, got {on_mismatch!r}')
    _check_exists(path)
    try:
        wave, file_rate = soundfile.read(str(path), start=start or 0, stop=stop,
                                         dtype='float32', always_2d=True)
    except (RuntimeError, soundfile.SoundFileError) as exc:
        raise DataError(f'cannot read audio file {path}: {_first_line(exc)}') from None
    if wave.shape[0] == 0:
        where = '' if start is None and stop is None else f' in samples [{start}, {stop})'
        raise DataError(f'audio file {path} has no samples{where}; remove it from the list')
    if sample_rate is not None and file_rate != sample_rate:
        if on_mismatch == 'error':
            raise DataError(f'audio file {path} has sample rate {file_rate} Hz, expected '
                            f'{sample_rate} Hz; resample it or set data.on_rate_mismatch: resample')
        wave = resample(wave, file_rate, sample_rate)
    if mono or wave.shape[1] == 1:
        # Mean, not sum, keeps the level of a stereo recording of the same source.
        wave = wave.mean(axis=1) if wave.shape[1] > 1 else wave[:, 0]
    return np.ascontiguousarray(wave, dtype=np.float32)


def resample(wave, from_rate, to_rate):
    """Polyphase resampling along the first axis by the reduced ratio ``to_rate / from_rate``.

    Args:
        wave: ``(samples,)`` or ``(samples, channels)``.
        from_rate: rate of ``wave`` in Hz.
        to_rate: wanted rate in Hz.

    Returns:
        float32 array, ``ceil(samples * to_rate / from_rate)`` samples, same trailing shape.
    """
    if from_rate == to_rate:
        return np.asarray(wave, dtype=np.float32)
    divisor = gcd(int(from_rate), int(to_rate))
    out = resample_poly(wave, int(to_rate) // divisor, int(from_rate) // divisor, axis=0)
    return out.astype(np.float32)


def write_audio(path, wave, sample_rate, format='WAV'):
    """Write a 16-bit PCM wav (or flac) file atomically (a temporary file, then ``os.replace``).

    A reader never sees a half-written file, and an interrupted write leaves no file behind.
    Samples outside [-1, 1] are clipped (16-bit PCM cannot hold them).

    Args:
        path: destination; parent directories are created.
        wave: ``(samples,)`` or ``(samples, channels)``, float in [-1, 1].
        sample_rate: rate in Hz.
        format: 'WAV' or 'FLAC' (lossless, as LibriSpeech ships its audio).
    """
    if format not in ('WAV', 'FLAC'):
        raise ValueError(f"format must be 'WAV' or 'FLAC', got {format!r}")
    path = os.fspath(path)
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    data = np.clip(np.asarray(wave, dtype=np.float32), -1.0, 1.0)
    # A unique name in the same directory (os.replace is atomic only within one file system);
    # created by libsndfile, so it gets the usual permissions.
    tmp = os.path.join(parent, f'.{os.path.basename(path)}.{os.getpid()}.{uuid.uuid4().hex}.tmp')
    try:
        soundfile.write(tmp, data, int(sample_rate), subtype='PCM_16', format=format)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _check_exists(path):
    if not os.path.isfile(path):
        raise DataError(f'audio file not found: {path}')


def _first_line(exc):
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# what counts as audio in a folder given to infer.py (a file named directly is taken as it is)
AUDIO_EXTENSIONS = ('.wav', '.flac', '.ogg')


def find_audio(sources, extensions=AUDIO_EXTENSIONS):
    """The audio files named by ``sources``: files as given, folders searched recursively.

    Args:
        sources: paths of files or folders. A file is taken whatever its extension; a folder
            contributes every file under it whose extension (any case) is in ``extensions``,
            sorted by path.
        extensions: lower-case suffixes that count as audio in a folder.

    Returns:
        list of paths, in the order of ``sources`` (each folder's files sorted), without
        repetitions.

    Raises:
        DataError: a source that does not exist, or a folder without audio files.
    """
    found, seen = [], set()
    for source in sources:
        if os.path.isdir(source):
            inside = sorted(os.path.join(folder, name)
                            for folder, _, names in os.walk(source) for name in names
                            if os.path.splitext(name)[1].lower() in extensions)
            if not inside:
                raise DataError(f"no audio files ({', '.join(extensions)}) under {source}")
        elif os.path.isfile(source):
            inside = [source]
        else:
            raise DataError(f"no such file or folder: {source}")
        for path in inside:
            key = os.path.realpath(path)
            if key not in seen:
                seen.add(key)
                found.append(path)
    return found
