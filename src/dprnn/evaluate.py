"""Scoring separated mixtures: per-utterance SI-SNRi / SDRi rows, their averages, the report files.

One function scores a mixture (:func:`score_mixture`), so that ``eval.py`` (the network in
process) and ``postprocess.py`` (the outputs of an exported model on another machine) compute the
same numbers the same way. Averages are over utterances, each utterance's value being the mean
over its sources, as asteroid's ``eval.py`` and the LibriMix / WHAM! papers report them.

SDRi is BSS-eval's SDR of the estimates minus that of the mixture taken as the estimate of every
source (asteroid's "input" metrics); it costs about 0.4 s per 10 s mixture (two mir_eval calls),
so validation during training reports SI-SNRi only unless ``eval.valid_sdr`` asks for it.
"""
import csv
import io
import os

import numpy as np

from ..metrics.separation import bss_eval, pit_si_sdr, si_sdr

# the columns of per_utterance.csv, after mixture_id and num_samples
SCORE_COLUMNS = ('si_snr', 'si_snri', 'sdr', 'sdri', 'perm')


def score_mixture(estimates, references, mixture, with_sdr=True):
    """SI-SNR (= SI-SDR), its improvement, and optionally SDR / SDRi of one separated mixture.

    Args:
        estimates: (n_src, T) separated sources, in any order.
        references: (n_src, T) the true sources.
        mixture: (T,) the input.
        with_sdr: also BSS-eval SDR (mir_eval) and its improvement; NaN when off, or when
            BSS-eval is undefined (a silent reference or estimate).

    Returns:
        dict: ``si_snr``, ``si_snri``, ``sdr``, ``sdri`` (float, dB, means over the sources)
        and ``perm`` (the estimate of each source, under the best SI-SNR permutation).
    """
    from ..errors import DataError
    estimates = np.asarray(estimates, np.float64)
    references = np.asarray(references, np.float64)
    mixture = np.asarray(mixture, np.float64)
    values, perm = pit_si_sdr(estimates, references)
    baseline = si_sdr(mixture[None, :], references)
    row = {'si_snr': float(values.mean()), 'si_snri': float((values - baseline).mean()),
           'sdr': float('nan'), 'sdri': float('nan'), 'perm': perm.tolist()}
    if with_sdr:
        try:
            sdr = bss_eval(estimates, references)[0]
            sdr_mixture = bss_eval(np.repeat(mixture[None, :], len(references), axis=0), references)[0]
        except DataError:        # a silent source: BSS-eval is undefined, SI-SNR is not
            return row
        row.update(sdr=float(sdr.mean()), sdri=float((sdr - sdr_mixture).mean()))
    return row


def summarize(rows, split=''):
    """The averages over utterances of :func:`score_mixture` rows (NaN-free means for SDR)."""
    def mean(key):
        values = np.array([r[key] for r in rows], np.float64)
        values = values[np.isfinite(values)]
        return float(values.mean()) if values.size else float('nan')
    metrics = {key: mean(key) for key in ('si_snri', 'sdri', 'si_snr', 'sdr')}
    # the mixture itself as the estimate of every source: SI-SNRi 0 dB by definition
    metrics['mixture_si_snr'] = metrics['si_snr'] - metrics['si_snri']
    metrics['utterances'] = len(rows)
    metrics['sdr_utterances'] = int(sum(np.isfinite(r['sdr']) for r in rows))
    if split:
        metrics['subset'] = split
    return metrics


def format_separation(metrics):
    """``SI-SNRi = x.xx dB  SDRi = x.xx dB  (N utterances)``: what eval.py prints."""
    sdri = metrics.get('sdri', float('nan'))
    sdr = f"  SDRi = {sdri:.2f} dB" if np.isfinite(sdri) else "  SDRi = n/a (eval.sdr=false)"
    line = (f"SI-SNRi = {metrics['si_snri']:.2f} dB{sdr}  ({metrics['utterances']} utterances"
            + (f", {metrics['subset']}" if metrics.get('subset') else '') + ")")
    floors = [f"the mixture itself 0.00 dB (SI-SNR {metrics['mixture_si_snr']:.2f} dB)"]
    if 'untrained_si_snri' in metrics:
        floors.append(f"the untrained network {metrics['untrained_si_snri']:.2f} dB")
    return line + "\nSI-SNRi of " + ", of ".join(floors)


def write_report(rows, ids, lengths, metrics, out_dir):
    """``per_utterance.csv`` (one row per mixture) and ``metrics.json`` in ``out_dir``, atomically."""
    from ..checkpoint import atomic_write_json
    from ..data.manifest import write_text
    os.makedirs(out_dir, exist_ok=True)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator='\n')
    writer.writerow(('mixture_id', 'num_samples') + SCORE_COLUMNS)
    for mixture_id, length, row in zip(ids, lengths, rows):
        writer.writerow([mixture_id, int(length)] + [
            ' '.join(map(str, row['perm'])) if key == 'perm' else f"{row[key]:.4f}"
            for key in SCORE_COLUMNS])
    write_text(os.path.join(out_dir, 'per_utterance.csv'), buffer.getvalue())
    atomic_write_json(os.path.join(out_dir, 'metrics.json'), metrics)


def write_example(out_dir, name, mixture, references, estimates, perm, sample_rate):
    """One separated example: ``<name>/mixture.wav``, ``s<j>.wav`` (references),
    ``s<j>_estimate.wav`` (the estimate matched to source j) and ``spectrograms.png``.

    The wavs are peak-normalised together (one gain for all), so their levels compare."""
    from ..audio.io import write_audio
    from ..metrics.plots import plot_spectrograms
    folder = os.path.join(out_dir, name)
    ordered = np.asarray(estimates)[np.asarray(perm)]
    peak = max(np.abs(mixture).max(), np.abs(references).max(), np.abs(ordered).max(), 1e-9)
    gain = 0.99 / peak if peak > 0.99 else 1.0
    signals = [('mixture', mixture)]
    signals += [(f"s{j + 1}", references[j]) for j in range(len(references))]
    signals += [(f"s{j + 1}_estimate", ordered[j]) for j in range(len(ordered))]
    for label, wave in signals:
        write_audio(os.path.join(folder, f"{label}.wav"), gain * np.asarray(wave, np.float32), sample_rate)
    plot_spectrograms(signals, sample_rate, os.path.join(folder, 'spectrograms.png'), name)
    return folder

