"""Tests of the demo corpora (src/data/demo/), one module per corpus, and what they share."""
import numpy as np
import pytest

from src.data.demo import make_demo
from tests.helpers import file_hashes


def corpus_fixture(name, **sizes):
    """A module-scoped fixture: the folder where the demo corpus ``name`` was written (once)."""
    @pytest.fixture(scope='module')
    def corpus(tmp_path_factory):
        root = tmp_path_factory.mktemp('demo')
        make_demo(name, root, **sizes)
        return root
    return corpus


def layout_files(root, pattern):
    """The files under ``root`` (relative, sorted); each must match ``pattern`` in full."""
    files = sorted(file_hashes(root))
    for path in files:
        assert pattern.fullmatch(path), path
    return files


def estimate_f0(wave, sample_rate=16000):
    """Median f0 (Hz) of the loudest 40 ms frames, from the autocorrelation peak in 70-300 Hz."""
    frames = np.lib.stride_tricks.sliding_window_view(wave, 640)[::320]
    energy = (frames ** 2).sum(1)
    estimates = []
    for frame in frames[energy >= np.quantile(energy, 0.7)]:
        frame = frame - frame.mean()
        corr = np.correlate(frame, frame, mode='full')[len(frame) - 1:]
        low, high = sample_rate // 300, sample_rate // 70
        estimates.append(sample_rate / (low + np.argmax(corr[low:high + 1])))
    return float(np.median(estimates))
