"""Scoring transcripts: WER / CER of a split and the report files.

One function scores a split (:func:`score_transcripts`), so that ``eval.py`` (the network in
process) and ``postprocess.py`` (the logits of an exported model on another machine) compute the
same numbers the same way: corpus error rates (the edits of every utterance summed, divided by
the reference words / characters), as fairseq's and transformers' evaluation scripts report them.
"""
import csv
import io
import os

from ..checkpoint import atomic_write_json
from ..data.manifest import write_text
from ..metrics.asr import compute_cer, compute_wer, edit_counts

# the columns of per_utterance.csv
UTTERANCE_COLUMNS = ('id', 'words', 'hits', 'substitutions', 'deletions', 'insertions', 'wer',
                     'reference', 'hypothesis')


def score_transcripts(refs, hyps):
    """{'wer', 'cer' (percent), 'words', 'chars', 'substitutions', 'deletions', 'insertions',
    'utterances'} of hypotheses against references (lists of strings)."""
    hits, sub, dele, ins = edit_counts(refs, hyps, unit='word')
    return {'wer': 100.0 * compute_wer(refs, hyps), 'cer': 100.0 * compute_cer(refs, hyps),
            'words': int(hits + sub + dele), 'chars': int(sum(len(r) for r in refs)),
            'substitutions': int(sub), 'deletions': int(dele), 'insertions': int(ins),
            'utterances': len(refs)}


def summarize(per_subset, primary):
    """The metrics of eval.py: every subset's under ``<name>_<metric>``, and ``primary``'s (the
    first test subset, or the validation subset) also as plain ``wer`` / ``cer``."""
    metrics = {'subset': primary}
    for name, scores in per_subset.items():
        for key, value in scores.items():
            metrics[f'{name}_{key}'] = value
    metrics['wer'], metrics['cer'] = per_subset[primary]['wer'], per_subset[primary]['cer']
    return metrics


def write_subset_report(out_dir, name, ids, refs, hyps):
    """``hyp.<name>.txt`` / ``ref.<name>.txt`` (``id<TAB>text``, fairseq's and sclite's order of
    utterances) and ``per_utterance.<name>.csv`` (each utterance's edits)."""
    os.makedirs(out_dir, exist_ok=True)
    write_text(os.path.join(out_dir, f'hyp.{name}.txt'),
               ''.join(f'{i}\t{h}\n' for i, h in zip(ids, hyps)))
    write_text(os.path.join(out_dir, f'ref.{name}.txt'),
               ''.join(f'{i}\t{r}\n' for i, r in zip(ids, refs)))
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(UTTERANCE_COLUMNS)
    for i, r, h in zip(ids, refs, hyps):
        hits, sub, dele, ins = edit_counts([r], [h], unit='word')
        words = hits + sub + dele
        wer = 100.0 * (sub + dele + ins) / words if words else float(ins > 0) * 100.0
        writer.writerow([i, words, hits, sub, dele, ins, f'{wer:.2f}', r, h])
    write_text(os.path.join(out_dir, f'per_utterance.{name}.csv'), buffer.getvalue())


def write_metrics(out_dir, metrics):
    os.makedirs(out_dir, exist_ok=True)
    atomic_write_json(os.path.join(out_dir, 'metrics.json'), metrics)


def format_asr(metrics):
    """``WER = x.xx%  CER = x.xx%`` for each evaluated subset, one line each."""
    names = [k[:-len('_wer')] for k in metrics if k.endswith('_wer') and f"{k[:-4]}_cer" in metrics]
    if not names:
        return f"WER = {metrics['wer']:.2f}%  CER = {metrics['cer']:.2f}%"
    lines = []
    for name in names:
        extra = ''
        if metrics.get(f'{name}_utterances') is not None:
            extra = f"  ({metrics[f'{name}_utterances']} utterances, {metrics.get(f'{name}_words', 0)} words)"
        lines.append(f"{name}: WER = {metrics[f'{name}_wer']:.2f}%  CER = {metrics[f'{name}_cer']:.2f}%{extra}")
    return '\n'.join(lines)
