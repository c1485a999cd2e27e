"""Speech from eSpeak NG: a small ctypes binding to the libespeak-ng of the ``espeakng-loader``
wheel (the library and its voice data), for the speech demo corpora.

    wave = synthesize('the old man walked home', voice='en-us+f3', rate=160, pitch=60)

Only the demo writers use it, and the package is imported on the first call: without it a call
raises a one-line :class:`UserError` saying ``pip install espeakng-loader``.

Determinism: libespeak-ng keeps synthesis state in static variables that neither
``espeak_Terminate`` nor a new ``espeak_Initialize`` resets: in one process the same text,
voice, parameters and random seed, said four times, gave 22411, 22410, 22415 and 22407 samples,
while the first utterance of a fresh process was always the same. Every :func:`synthesize`
therefore loads its own instance of the library, initialises it, synthesises, terminates and
unloads it (under 1 ms), with espeak's random generator seeded: the same text, voice and
parameters give the same samples in any process. Calls are serialised by a lock (the library
is not re-entrant).
"""
import ctypes
import os
import threading
from functools import lru_cache
from math import gcd

import numpy as np
from scipy.signal import firwin, resample_poly

from src.errors import UserError

# espeak_AUDIO_OUTPUT: synthesise into the callback, return when done.
_AUDIO_OUTPUT_SYNCHRONOUS = 2
# espeak_Initialize option: report a failure instead of calling exit().
_INITIALIZE_DONT_EXIT = 0x8000
_CHARS_UTF8 = 1
_POS_CHARACTER = 1
# espeak_PARAMETER
_RATE, _PITCH, _RANGE, _WORDGAP = 1, 3, 4, 7
_EE_OK = 0

_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                             ctypes.c_void_p)
_LOCK = threading.Lock()


def _loader():
    """The ``espeakng_loader`` module, or a one-line error saying how to install it."""
    try:
        import espeakng_loader
    except ImportError:
        raise UserError('the speech demo corpora synthesise speech with eSpeak NG, which is not '
                        'installed: pip install espeakng-loader') from None
    return espeakng_loader


def data_path():
    """The folder of eSpeak NG's voice data (``espeak-ng-data``) of the installed wheel."""
    return _loader().get_data_path()


def variant_names():
    """Names of the voice variants in the installed data (``en+<variant>``: ``f3``, ``m3`` ...)."""
    return sorted(os.listdir(os.path.join(data_path(), 'voices', '!v')))


def _load():
    """A fresh instance of libespeak-ng, its functions typed; ``(library, path)``."""
    path = _loader().get_library_path()
    try:
        lib = ctypes.CDLL(path)
    except OSError as exc:
        raise UserError(f'cannot load eSpeak NG from {path} ({exc}); reinstall it: '
                        'pip install --force-reinstall espeakng-loader') from None
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_SetSynthCallback.argtypes = [_CALLBACK]
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
    lib.espeak_Synth.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                 ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
    return lib, path


def _unload(lib, path):
    """Unload ``lib``, and make sure that it is gone (so that the next call starts afresh)."""
    import _ctypes
    _ctypes.dlclose(lib._handle)
    try:
        still = ctypes.CDLL(path, mode=os.RTLD_NOLOAD | os.RTLD_LAZY)
    except OSError:
        return
    _ctypes.dlclose(still._handle)
    raise UserError(f'{path} is also loaded by another module of this process, so its state '
                    'would carry over from one utterance to the next; write the speech demo '
                    'corpora in a process of their own (python preprocess.py demo ...)')


def synthesize_native(text, voice='en', rate=175, pitch=50, pitch_range=50, word_gap=0, seed=0):
    """``text`` spoken by eSpeak NG at its own sample rate.

    Args:
        text: what to say (UTF-8 text; punctuation shapes the intonation).
        voice: an eSpeak NG voice name, optionally with a variant: ``en``, ``en-us``,
            ``en-gb-scotland``, ``en+f3``, ``en-us+m3`` (:func:`variant_names`).
        rate: speaking rate, words per minute (80 ... 450).
        pitch: base pitch, 0 ... 100 (50: the voice's own).
        pitch_range: intonation range, 0 (monotone) ... 100 (50: the voice's own).
        word_gap: extra pause between words, in units of 10 ms.
        seed: seed of espeak's random generator (the breathiness noise of some variants).

    Returns:
        ``(int16 samples, sample rate in Hz)``.

    Raises:
        UserError: eSpeak NG is missing or fails to start, or ``voice`` is unknown.
        ValueError: empty ``text``.
    """
    if not str(text).strip():
        raise ValueError('synthesize needs some text')
    encoded = str(text).encode('utf-8')
    chunks = []

    @_CALLBACK
    def collect(samples, count, events):
        if count > 0:
            chunks.append(np.ctypeslib.as_array(samples, (count,)).copy())
        return 0                                        # 0: go on synthesising

    with _LOCK:
        lib, path = _load()
        try:
            rate_hz = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0,
                                            data_path().encode(), _INITIALIZE_DONT_EXIT)
            if rate_hz <= 0:
                raise UserError(f'eSpeak NG cannot start with the voice data in {data_path()}; '
                                'reinstall it: pip install --force-reinstall espeakng-loader')
            try:
                lib.espeak_SetSynthCallback(collect)
                if lib.espeak_SetVoiceByName(voice.encode()) != _EE_OK:
                    raise UserError(f'eSpeak NG has no voice {voice!r} in {data_path()}; use a '
                                    "language such as 'en', 'en-us', optionally with a variant of "
                                    "its voices/!v folder ('en+f3')")
                for parameter, value in ((_RATE, rate), (_PITCH, pitch), (_RANGE, pitch_range),
                                         (_WORDGAP, word_gap)):
                    lib.espeak_SetParameter(parameter, int(value), 0)
                lib.espeak_ng_SetRandSeed(int(seed))
                status = lib.espeak_Synth(encoded, len(encoded) + 1, 0, _POS_CHARACTER, 0,
                                          _CHARS_UTF8, None, None)
                lib.espeak_Synchronize()
            finally:
                lib.espeak_Terminate()
        finally:
            _unload(lib, path)
    if status != _EE_OK:
        raise UserError(f'eSpeak NG could not synthesise {text[:40]!r} (status {status})')
    wave = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)
    return wave, int(rate_hz)


def synthesize(text, voice='en', rate=175, pitch=50, sample_rate=16000, pitch_range=50,
               word_gap=0, seed=0):
    """``text`` spoken by eSpeak NG, as float32 samples at ``sample_rate``.

    Args: as :func:`synthesize_native`, and
        sample_rate: rate of the result in Hz (eSpeak NG speaks at 22050 Hz; polyphase
            resampling, as :func:`src.audio.resample` does).

    Returns:
        float32 ``(samples,)`` in [-1, 1]; the same arguments give the same samples.
    """
    wave, native_rate = synthesize_native(text, voice, rate, pitch, pitch_range, word_gap, seed)
    wave = wave.astype(np.float32) / np.float32(32768.0)
    if native_rate == sample_rate:
        return wave
    up, down = _ratio(native_rate, sample_rate)
    return resample_poly(wave, up, down, window=_lowpass(up, down)).astype(np.float32)


def _ratio(from_rate, to_rate):
    divisor = gcd(int(from_rate), int(to_rate))
    return int(to_rate) // divisor, int(from_rate) // divisor


@lru_cache(maxsize=None)
def _lowpass(up, down):
    """The anti-aliasing filter that ``resample_poly(x, up, down)`` designs on every call (the
    same float32 taps, so the same result as :func:`src.audio.resample`), designed once."""
    max_rate = max(up, down)
    return firwin(2 * 10 * max_rate + 1, 1.0 / max_rate, window=('kaiser', 5.0)).astype(np.float32)
