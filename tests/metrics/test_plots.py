"""DET-curve and confusion-matrix PNGs: real PNG files, written atomically, nothing written on
bad input."""
import os

import numpy as np
import pytest

from src.errors import DataError
from src.metrics.plots import plot_confusion, plot_det

PNG_MAGIC = b'\x89PNG\r\n\x1a\n'


def trials(seed=0, n=2000):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    return rng.normal(size=n) + 2.0 * labels, labels


def test_writes_a_png(tmp_path):
    pytest.importorskip('matplotlib')
    scores, labels = trials()
    path = tmp_path / 'plots' / 'det.png'  # the folder does not exist yet
    assert plot_det(scores, labels, str(path), title='ECAPA-TDNN') == str(path)
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC)
    assert data[12:16] == b'IHDR'
    width, height = int.from_bytes(data[16:20], 'big'), int.from_bytes(data[20:24], 'big')
    assert (width, height) == (500, 500)
    assert len(data) > 10_000  # axes, curve and text, not an empty canvas
    assert os.listdir(path.parent) == ['det.png']  # no temporary file left behind


def test_overwrites_and_handles_degenerate_curves(tmp_path):
    pytest.importorskip('matplotlib')
    path = tmp_path / 'det.png'
    path.write_bytes(b'old')
    # Perfect separation (EER 0) and a chance-level system (EER 0.5, all scores tied).
    plot_det([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1], str(path))
    assert path.read_bytes().startswith(PNG_MAGIC)
    plot_det([0.5] * 4, [0, 1, 0, 1], str(path))
    assert path.read_bytes().startswith(PNG_MAGIC)
    assert os.listdir(tmp_path) == ['det.png']


def test_bad_trials_write_nothing(tmp_path):
    path = tmp_path / 'det.png'
    with pytest.raises(DataError, match='target'):
        plot_det([0.1, 0.2], [1, 1], str(path))
    assert not path.exists()
    assert os.listdir(tmp_path) == []


def png_size(data):
    assert data.startswith(PNG_MAGIC) and data[12:16] == b'IHDR'
    return int.from_bytes(data[16:20], 'big'), int.from_bytes(data[20:24], 'big')


def test_confusion_matrix_png(tmp_path):
    pytest.importorskip('matplotlib')
    path = tmp_path / 'eval' / 'confusion_matrix.png'      # the folder does not exist yet
    names = [f'class {i}' for i in range(30)]
    confusion = np.random.default_rng(0).integers(0, 5, (30, 30)) + 20 * np.eye(30, dtype=int)
    assert plot_confusion(confusion, names, str(path), 'fold 1: accuracy 0.5') == str(path)
    data = path.read_bytes()
    # 0.28 inch per class + 2 inches of margin, at 90 dpi: the tick labels fit
    assert png_size(data) == (int(round((0.28 * 30 + 2) * 90)),) * 2
    assert len(data) > 10_000
    assert os.listdir(path.parent) == ['confusion_matrix.png']
    plot_confusion(np.eye(2, dtype=int), ['a', 'b'], str(path), 'two')      # overwritten
    assert png_size(path.read_bytes()) == (450, 450)      # 5 inches at least
    assert os.listdir(path.parent) == ['confusion_matrix.png']
