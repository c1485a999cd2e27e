"""The eSpeak NG binding: deterministic samples, parameters that do what they say, one-line
errors (missing package, unknown voice, a library that another module holds)."""
import ctypes
import hashlib
import subprocess
import sys

import numpy as np
import pytest

from src.audio import resample
from src.data.demo import espeak
from src.data.demo.espeak import synthesize, synthesize_native
from src.errors import UserError
from tests.data.demo import estimate_f0
from tests.helpers import ROOT, raises_one_line

TEXT = 'the old farmer carried a heavy basket across the bridge'


def test_same_arguments_same_samples_whatever_came_before():
    first = synthesize(TEXT, 'en-us+f3', rate=160, pitch=60)
    synthesize('something else entirely, said by another voice', 'en+m3', rate=220, pitch=10)
    again = synthesize(TEXT, 'en-us+f3', rate=160, pitch=60)
    assert first.dtype == np.float32 and np.array_equal(first, again)
    assert not np.array_equal(first[:len(first) // 2],
                              synthesize(TEXT, 'en-us+f3', rate=160, pitch=61)[:len(first) // 2])


def test_same_samples_in_a_fresh_process():
    code = ('import hashlib; from src.data.demo.espeak import synthesize; '
            f'print(hashlib.sha256(synthesize({TEXT!r}, "en+m3", pitch=40).tobytes()).hexdigest())')
    done = subprocess.run([sys.executable, '-c', code], cwd=ROOT, capture_output=True, text=True,
                          check=True)
    synthesize('a first utterance in this process', 'en')
    here = hashlib.sha256(synthesize(TEXT, 'en+m3', pitch=40).tobytes()).hexdigest()
    assert done.stdout.strip() == here


def test_resampled_from_espeaks_rate():
    native, rate = synthesize_native(TEXT, 'en')
    assert rate == 22050 and native.dtype == np.int16
    wave = synthesize(TEXT, 'en')
    assert len(wave) == -(-len(native) * 16000 // 22050)
    np.testing.assert_array_equal(wave, resample(native / np.float32(32768), 22050, 16000))
    assert 0.1 < np.max(np.abs(wave)) <= 1.0
    assert 2.0 < len(wave) / 16000 < 5.0                 # ten words at 175 words per minute


def test_pitch_rate_and_variant_do_what_they_say():
    low, high = (estimate_f0(synthesize(TEXT, 'en', pitch=p)) for p in (10, 90))
    assert high > 1.5 * low
    male, female = (estimate_f0(synthesize(TEXT, f'en+{v}')) for v in ('m3', 'f3'))
    assert female > 1.5 * male
    slow, fast = (len(synthesize(TEXT, 'en', rate=r)) for r in (120, 240))
    assert 1.5 < slow / fast < 2.5


def test_missing_package_is_one_line_error(monkeypatch):
    monkeypatch.setitem(sys.modules, 'espeakng_loader', None)       # import raises ImportError
    raises_one_line(UserError, lambda: synthesize('hello'), 'pip install espeakng-loader')


def test_unknown_voice_and_empty_text():
    raises_one_line(UserError, lambda: synthesize('hello', 'xx-nowhere'), "no voice 'xx-nowhere'")
    with pytest.raises(ValueError, match='needs some text'):
        synthesize('  ')


def test_library_held_elsewhere_is_refused():
    """Another handle on the library keeps its state alive between utterances: refused."""
    import _ctypes
    path = espeak._loader().get_library_path()
    held = ctypes.CDLL(path)
    try:
        raises_one_line(UserError, lambda: synthesize('hello'), 'also loaded by another module',
                        'process of their own')
    finally:
        _ctypes.dlclose(held._handle)
    assert len(synthesize('hello')) > 0
