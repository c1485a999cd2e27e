"""Figures of the metrics, as PNG files written atomically: the DET curve of speaker
verification (miss rate against false-alarm rate on normal deviate (probit) axes, where Gaussian
score distributions give straight lines) and the confusion matrix of classification.

matplotlib is imported inside the functions, so that importing the metrics costs nothing."""
import os

import numpy as np
from scipy.special import ndtri

from .verification import compute_eer, det_curve

# Axis tick positions, as error rates.
TICK_RATES = (0.0001, 0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 0.9, 0.95, 0.99)
# Rates are clipped into [RATE_FLOOR, 1 - RATE_FLOOR]: 0 and 1 lie at infinity on probit axes.
RATE_FLOOR = 1e-4


def _axis_range(fpr, fnr, eer):
    """Probability range shown on both axes: down to the smallest non-zero rate, up to 50 %
    (further for a poor system, so its EER point is inside)."""
    nonzero = np.concatenate((fpr[fpr > 0], fnr[fnr > 0]))
    low = max(float(nonzero.min()), RATE_FLOOR) if nonzero.size else RATE_FLOOR
    low = min(low, 0.01)
    high = 0.5 if eer < 0.4 else 0.99
    return low, high


def _figure(size, dpi):
    """A matplotlib Figure on an Agg canvas: renders without a display, and without pyplot's
    global figure list."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    figure = Figure(figsize=size, dpi=dpi)
    FigureCanvasAgg(figure)
    return figure


def _save_png(figure, path):
    """Write ``figure`` to ``path`` as a PNG, atomically (a temporary file, then a rename); the
    folder is created. Returns ``path``."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    # Same directory, so os.replace is an atomic rename; open() keeps the usual permissions.
    tmp_path = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    try:
        with open(tmp_path, 'wb') as stream:
            figure.savefig(stream, format='png')
        os.replace(tmp_path, path)
    except BaseException:
        if os.path.exists(tmp_path):
            os.remove(tmp_path)
        raise
    return path


def _tick_label(rate):
    """'0.01', '0.1', '5', '40' (percent, without trailing zeros)."""
    return f"{rate * 100:g}"


def plot_det(scores, labels, path, title=None):
    """Write a DET-curve PNG with the EER point marked.

    Args:
        scores: array-like (n,), trial scores (higher = same speaker more likely).
        labels: array-like (n,), 1 = target, 0 = non-target.
        path: output PNG path; written atomically (temporary file, then rename).
        title: optional figure title.

    Returns:
        path, as given.

    Raises:
        DataError: bad trials (see :func:`src.metrics.compute_eer`).
    """
    fpr, fnr, _ = det_curve(scores, labels)
    eer, _ = compute_eer(scores, labels)
    low, high = _axis_range(fpr, fnr, eer)

    def probit(rate):
        return ndtri(np.clip(rate, RATE_FLOOR, 1.0 - RATE_FLOOR))

    figure = _figure((5, 5), dpi=100)
    axes = figure.add_subplot(1, 1, 1)
    axes.plot(probit(fpr), probit(fnr), color='tab:blue', linewidth=1.5, label='DET')
    eer_shown = max(eer, low)  # a zero EER would lie at -infinity
    axes.plot(probit(eer_shown), probit(eer_shown), 'o', color='tab:red',
              label=f"EER {eer * 100:.2f} %")
    limits = (float(probit(low)), float(probit(high)))
    axes.plot(limits, limits, ':', color='grey', linewidth=0.8)  # the fnr == fpr diagonal
    ticks = [rate for rate in TICK_RATES if low <= rate <= high]
    for set_ticks, set_labels in ((axes.set_xticks, axes.set_xticklabels),
                                  (axes.set_yticks, axes.set_yticklabels)):
        set_ticks(probit(np.array(ticks)))
        set_labels([_tick_label(rate) for rate in ticks])
    axes.set_xlim(limits)
    axes.set_ylim(limits)
    axes.set_xlabel('False alarm rate (%)')
    axes.set_ylabel('Miss rate (%)')
    axes.grid(True, linewidth=0.5, alpha=0.5)
    axes.legend(loc='upper right')
    if title:
        axes.set_title(title)
    figure.tight_layout()

    return _save_png(figure, path)


def plot_confusion(confusion, names, path, title):
    """Write a confusion-matrix PNG (rows: true class, columns: predicted), atomically.

    Args:
        confusion: (k, k) counts, as :func:`src.metrics.classification.confusion_matrix`.
        names: the k class names, in index order.
        path: output PNG path (its folder is created).
        title: figure title.

    Returns:
        path, as given.
    """
    k = len(names)
    size = max(5.0, 0.28 * k + 2)       # room for k rotated tick labels
    figure = _figure((size, size), dpi=90)
    axes = figure.add_subplot(1, 1, 1)
    axes.imshow(np.asarray(confusion), cmap='Blues')
    axes.set_xticks(range(k), names, rotation=90, fontsize=7)
    axes.set_yticks(range(k), names, fontsize=7)
    axes.set(xlabel='predicted', ylabel='true', title=title)
    figure.tight_layout()
    return _save_png(figure, path)


def plot_spectrograms(signals, sample_rate, path, title, n_fft=256):
    """Write log-power spectrograms of several signals, one panel each, stacked (a PNG).

    Args:
        signals: ``[(label, wave (T,)), ...]``, e.g. the mixture, the references and the
            estimates of a separated example.
        sample_rate: Hz, for the frequency and time axes.
        path: output PNG path (its folder is created).
        title: figure title.
        n_fft: frame length (hop n_fft / 4, Hann window).

    Returns:
        path, as given.
    """
    from scipy.signal import stft
    panels = len(signals)
    figure = _figure((8, 1.6 * panels + 0.6), dpi=90)
    spectra = []
    for _, wave in signals:
        freqs, times, z = stft(np.asarray(wave, np.float64), fs=sample_rate, nperseg=n_fft,
                               noverlap=3 * n_fft // 4)
        spectra.append(10 * np.log10(np.abs(z) ** 2 + 1e-10))
    top = max(float(s.max()) for s in spectra)       # one colour scale: levels compare
    for k, ((label, _), power) in enumerate(zip(signals, spectra)):
        axes = figure.add_subplot(panels, 1, k + 1)
        axes.imshow(power, origin='lower', aspect='auto', cmap='magma', vmin=top - 80, vmax=top,
                    extent=(times[0], times[-1], freqs[0] / 1000, freqs[-1] / 1000))
        axes.set_ylabel('kHz')
        axes.set_title(label, fontsize=8, loc='left')
        if k < panels - 1:
            axes.set_xticklabels([])
    figure.axes[-1].set_xlabel('time (s)')
    figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    return _save_png(figure, path)
