"""The CTC recipe's evaluation: transcribe a subset in process, or score an offline runtime's
logits of it; both go through :func:`.evaluate.score_transcripts` and the same report files."""
import os

import numpy as np

from ..errors import DataError
from .evaluate import score_transcripts, summarize, write_metrics, write_subset_report


def eval_subsets(cfg, split):
    """The manifest subsets of ``split``: the valid one, or every test one."""
    return [cfg.data.valid_subset] if split == 'valid' else list(cfg.data.test_subsets)


def eval_set(cfg, name, split='test'):
    """The :class:`~.dataset.SpeechEvalSet` of subset ``name`` (``data.max_valid_items`` or
    ``eval.max_items`` of its shortest utterances)."""
    from .dataset import speech_eval_set
    return speech_eval_set(cfg.data, name, cfg.data.max_valid_items if split == 'valid'
                           else cfg.eval.max_items)


def _encode_texts(texts, width):
    """Texts as rows of code points (0-padded), so that they travel in one int32 array."""
    rows = np.zeros((len(texts), width), np.int32)
    for row, text in zip(rows, texts):
        codes = [ord(c) for c in text][:width]
        row[:len(codes)] = codes
    return rows


def _decode_texts(rows):
    return [''.join(chr(c) for c in row if c) for row in rows]


def transcribe_items(network, cfg, utterances, indices, kernels, strides, progress=True, desc=''):
    """The greedy transcript of the utterances ``indices`` of ``utterances`` (a
    :class:`~.dataset.SpeechEvalSet`): one network call per utterance, or stitched chunks of
    ``eval.chunk_seconds``."""
    import mindspore as ms
    from ..engine.trainer import progress as bar
    from .chunking import chunked_logits
    from .frames import output_frames
    network.set_train(False)
    if ms.get_context('mode') == ms.GRAPH_MODE:
        network.set_inputs(ms.Tensor(shape=[1, None], dtype=ms.float32))

    def logits_of(wave):
        out = network(ms.Tensor(np.asarray(wave, np.float32)))
        return out[0].asnumpy()[:, :int(output_frames(wave.shape[1], kernels, strides))]

    chunk = int(round(cfg.eval.chunk_seconds * cfg.data.sample_rate))
    stride = int(round(cfg.eval.stride_seconds * cfg.data.sample_rate))
    texts = []
    for index in bar(indices, disable=None if progress else True, desc=desc):
        wave = utterances[int(index)]['audio']
        if chunk and len(wave) > chunk:
            logits = chunked_logits(logits_of, wave, chunk, (stride, stride), kernels, strides)
        else:
            logits = logits_of(wave[None])[0]
        texts.append(utterances.letters.decode_greedy(logits))
    return texts


def evaluate_ctc(recipe, network, cfg, out_dir, progress, split, rank, world):
    from ..distributed import gather_to_rank0, shard
    from .frames import output_frames
    kernels, strides = recipe.kernels(cfg), recipe.strides(cfg)
    per_subset, reports = {}, []
    for name in eval_subsets(cfg, split):
        utterances = eval_set(cfg, name, split)
        width = int(output_frames(int(utterances.lengths.max()), kernels, strides)) + 1
        mine = shard(len(utterances), rank, world)
        hyps = transcribe_items(network, cfg, utterances, mine, kernels, strides,
                                progress and rank == 0, desc=name)
        rows = gather_to_rank0(_encode_texts(hyps, width), rank, world)
        if rank != 0:
            continue
        hyps = _decode_texts(rows)
        refs = [item.text for item in utterances.items]
        per_subset[name] = score_transcripts(refs, hyps)
        reports.append((name, [item.utterance_id for item in utterances.items], refs, hyps))
    if rank != 0:
        return {}
    metrics = summarize(per_subset, eval_subsets(cfg, split)[0])
    for name, ids, refs, hyps in reports:
        write_subset_report(out_dir, name, ids, refs, hyps)
    write_metrics(out_dir, metrics)
    return metrics


# ------------------------------------------------------------------------------ offline chain

def write_inputs(recipe, cfg, out_dir, progress=True):
    """The first test subset's audio as ``<out_dir>/feats/<n>.bin`` (float32 (1, samples)[, and
    the padding mask as a second input]) and ``<out_dir>/utterances.tsv`` (``n, id``)."""
    from ..checkpoint import atomic_write_json
    from ..data.manifest import write_text
    from ..engine.trainer import progress as bar
    from ..inference.bins import remove_items_from, write_item
    name = eval_subsets(cfg, 'test')[0]
    utterances = eval_set(cfg, name)
    feats = os.path.join(out_dir, 'feats')
    os.makedirs(feats, exist_ok=True)
    rows = []
    for n in bar(range(len(utterances)), disable=None if progress else True, desc='utterances'):
        item = utterances[n]
        wave = np.asarray(item['audio'], np.float32)
        arrays = {'audio': wave[None]}
        if recipe.uses_padding_mask(cfg):
            arrays['padding_mask'] = np.ones_like(wave)[None]
        write_item(feats, n, arrays)
        rows.append(f"{n}\t{item['utterance_id']}\n")
    remove_items_from(feats, len(rows))
    write_text(os.path.join(out_dir, 'utterances.tsv'), ''.join(rows))
    atomic_write_json(os.path.join(out_dir, 'inputs.json'),
                      {'model': cfg.model.name, 'subset': name, 'utterances': len(rows)})
    return len(rows)


def score_outputs(recipe, cfg, input_dir, result_dir):
    """WER / CER (as :func:`evaluate_ctc`) from the logits ``<result_dir>/<n>_0.bin`` (float32
    (1, frames, letters)) of the utterances :func:`write_inputs` wrote."""
    from .frames import output_frames
    table = os.path.join(input_dir, 'utterances.tsv')
    if not os.path.exists(table):
        raise DataError(f"{table} not found: run `python preprocess.py infer_inputs` first")
    with open(table) as f:
        rows = [line.rstrip('\n').split('\t') for line in f if line.strip()]
    name = eval_subsets(cfg, 'test')[0]
    utterances = eval_set(cfg, name)
    letters = utterances.letters
    by_id = {item.utterance_id: item for item in utterances.items}
    vocab = len(letters)
    ids, refs, hyps = [], [], []
    for n, utterance in rows:
        if utterance not in by_id:
            raise DataError(f"{table}: utterance {utterance} is not in subset {name!r} of the "
                            "config's data; write the inputs with this config again")
        item = by_id[utterance]
        path = os.path.join(result_dir, f'{n}_0.bin')
        if not os.path.exists(path):
            raise DataError(f"{path} not found: the inference run wrote only part of the "
                            f"{len(rows)} outputs; run it on every file of {input_dir}/feats")
        logits = np.fromfile(path, np.float32)
        frames = int(output_frames(item.num_samples, recipe.kernels(cfg), recipe.strides(cfg)))
        if logits.size % vocab or logits.size // vocab < frames:
            raise DataError(f"{path}: {logits.size} values, expected (frames >= {frames}) x "
                            f"{vocab} letters")
        hyps.append(letters.decode_greedy(logits.reshape(-1, vocab)[:frames]))
        refs.append(item.text)
        ids.append(utterance)
    metrics = summarize({name: score_transcripts(refs, hyps)}, name)
    out_dir = os.path.join(os.path.dirname(os.path.abspath(result_dir)), 'eval')
    write_subset_report(out_dir, name, ids, refs, hyps)
    write_metrics(out_dir, metrics)
    return metrics
