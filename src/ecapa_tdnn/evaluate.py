"""Speaker-verification evaluation: embeddings of the trial files, scores, EER / minDCF, DET curve.

Files written to the output directory::

    embeddings.npz     utterance ids and their embeddings (reused when the same network and
                       trial list are evaluated again: the cache key is stored beside them)
    scores_<list>.txt  ``enroll test score label`` per trial
    det_<list>.png     DET curve
    metrics.json       all metrics
"""
import functools
import hashlib
import json
import os

import numpy as np

from ..data.manifest import write_text
from ..errors import DataError
from ..metrics.verification import as_norm, compute_eer, compute_min_dcf, cosine_scores


def _progress(iterable, enabled, **kwargs):
    from ..engine.trainer import progress
    return progress(iterable, disable=None if enabled else True, **kwargs)


@functools.lru_cache(maxsize=1)
def _padded_embedder(network):
    """A cell running ``network`` on a padded batch with ``pad_at_lengths`` (what each
    utterance gets alone). One per network: its compiled graphs serve every evaluation of a
    training run (each costs seconds to compile on CPU)."""
    from mindspore import nn

    class PaddedEmbedder(nn.Cell):
        def __init__(self, network):
            super().__init__()
            self.network = network

        def construct(self, feats, lengths):
            """(batch, frames, n_mels), (batch,) exact relative lengths -> (batch, 1, lin_neurons)."""
            return self.network(feats, lengths, True)

    return PaddedEmbedder(network)


class EmbeddingExtractor:
    """Embeddings of audio files with ``network`` in inference mode.

    Utterances up to ``bucket_max_seconds`` go in batches padded to a few lengths: a geometric
    grid from 1 s with ratio ``bucket_ratio`` (:class:`~src.data.sampler.LengthGrid`), about
    ``batch_seconds`` of padded audio per batch (:func:`~src.data.sampler.plan_bucket_batches`;
    the last, smaller batch is filled up with empty rows). The network runs them with
    ``pad_at_lengths``, so padding changes no embedding; in graph mode each batch shape is one
    static graph, at most one per length of the grid. Longer utterances, every one with
    ``batch_seconds`` 0, and every one of fewer than ``batch_min_utterances`` files run one at a
    time through one graph with a dynamic time axis (host-side shape inference on every call,
    but a single graph to compile). Features (with their mean normalisation) are computed on
    each utterance alone, before padding.

    Called with ``rank, world``, each rank embeds its share of the files
    (:func:`src.distributed.shard`) and rank 0 receives them all.
    """

    def __init__(self, network, fbank, sample_rate, on_rate_mismatch='resample', max_seconds=0.0,
                 batch_seconds=0.0, bucket_ratio=1.25, bucket_max_seconds=30.0, batch_min_utterances=0):
        import mindspore as ms
        self.network, self.fbank, self.sample_rate = network, fbank, sample_rate
        self.on_rate_mismatch = on_rate_mismatch
        self.max_samples = int(max_seconds * sample_rate) if max_seconds else None
        self.batch_frames = fbank.num_frames(batch_seconds * sample_rate) if batch_seconds else 0
        self.bucket_ratio, self.batch_min_utterances = bucket_ratio, batch_min_utterances
        self.longest_batched = fbank.num_frames(bucket_max_seconds * sample_rate)
        self.graph_mode = ms.get_context('mode') == ms.GRAPH_MODE
        self.dynamic_inputs_set = False
        network.set_train(False)
        self.padded = _padded_embedder(network)

    def wave(self, path):
        from ..audio import read_audio
        return read_audio(path, self.sample_rate, self.on_rate_mismatch, stop=self.max_samples)

    def num_frames(self, path):
        """Frames of ``path``'s features, from its header (what :meth:`wave` reads)."""
        from ..audio import audio_info
        samples, rate = audio_info(path)
        if self.max_samples:
            samples = min(samples, self.max_samples)
        if rate != self.sample_rate:        # read_audio resamples to ceil(n * to / from)
            samples = -(-samples * self.sample_rate // rate)
        return self.fbank.num_frames(samples)

    def plan(self, frames):
        """(batches, alone): ``(Batch, rows)`` pairs for the utterances up to
        ``bucket_max_seconds`` (:class:`~src.data.sampler.Batch`, and the rows of its graph),
        and the indices of those embedded one at a time."""
        from ..data.sampler import LengthGrid, plan_bucket_batches
        frames = np.asarray(frames)
        if not self.batch_frames or len(frames) < self.batch_min_utterances:
            return [], np.arange(len(frames))
        batched = np.flatnonzero(frames <= self.longest_batched)
        alone = np.flatnonzero(frames > self.longest_batched)
        if not len(batched):
            return [], alone
        longest = int(frames[batched].max())
        grid = LengthGrid.geometric(min(self.fbank.num_frames(self.sample_rate), longest), longest,
                                    self.bucket_ratio)
        sizes = [max(1, self.batch_frames // level) for level in grid.levels]
        rows = dict(zip(grid.levels, sizes))
        plan = plan_bucket_batches(frames[batched], grid, sizes, keep_remainder=True)
        return [(b._replace(indices=batched[b.indices]), rows[b.pad_length]) for b in plan], alone

    def embed_batch(self, feats, pad_length, rows=0):
        """Embeddings (batch, lin_neurons) of a list of (frames, n_mels) features, padded to
        ``pad_length`` (or to the longest, should a file hold more than its header said) and to
        ``rows`` rows with empty ones (the batch shape of other batches: no graph of its own)."""
        import mindspore as ms
        from ..data.sampler import pad_batch
        from .network import exact_relative_lengths
        length = max(pad_length, max(len(f) for f in feats))
        empty = [np.zeros((length, feats[0].shape[1]), np.float32)] * max(0, rows - len(feats))
        padded, frames = pad_batch(list(feats) + empty, length)
        lengths = exact_relative_lengths(frames, length)
        out = self.padded(ms.Tensor(padded), ms.Tensor(lengths)).asnumpy()
        return out.reshape(len(padded), -1)[:len(feats)]

    def embed_alone(self, feats):
        """The embedding (lin_neurons,) of one utterance's (frames, n_mels) features, through the
        graph with a dynamic time axis."""
        import mindspore as ms
        if self.graph_mode and not self.dynamic_inputs_set:
            self.network.set_inputs(ms.Tensor(shape=[1, None, self.fbank.n_mels], dtype=ms.float32))
            self.dynamic_inputs_set = True
        return self.network(ms.Tensor(feats[None])).asnumpy().reshape(-1)

    def __call__(self, paths, progress=True, desc='embeddings', rank=0, world=1):
        """(files, lin_neurons) float32 embeddings of ``paths`` on rank 0 (None on the others)."""
        from ..distributed import gather_to_rank0, shard
        mine = [paths[i] for i in shard(len(paths), rank, world)]
        out = np.zeros((len(mine), self.network.fc.out_channels), np.float32)
        batches, alone = self.plan([self.num_frames(p) for p in mine])
        bar = _progress(None, progress and rank == 0, total=len(mine), desc=desc)
        for batch, rows in batches:
            out[batch.indices] = self.embed_batch([self.features(mine[i]) for i in batch.indices],
                                                  batch.pad_length, rows)
            bar.update(len(batch.indices))
        for i in alone:
            out[i] = self.embed_alone(self.features(mine[i]))
            bar.update(1)
        bar.close()
        return gather_to_rank0(out, rank, world)

    def features(self, path):
        """(frames, n_mels) float32 fbank of the file, mean-normalised over the utterance itself."""
        return self.fbank(self.wave(path)).astype(np.float32)


def l2_normalise(x):
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def trial_scores(trials, index, embeddings):
    """Cosine score of every trial (label, enroll, test) from the utterance -> row ``index``."""
    enroll = embeddings[[index[e] for _, e, _ in trials]]
    test = embeddings[[index[t] for _, _, t in trials]]
    return cosine_scores(enroll, test), enroll, test


def verification_metrics(scores, labels, p_targets=(0.01, 0.05)):
    """EER (%) and minDCF at each p_target, as a flat dict."""
    eer, threshold = compute_eer(scores, labels)
    out = {'eer': float(eer) * 100.0, 'eer_threshold': float(threshold)}
    for p in p_targets:
        out[f'min_dcf_{p:g}'] = float(compute_min_dcf(scores, labels, p_target=p)[0])
    return out


def cohort_embeddings(extractor, manifest, num_speakers, per_speaker, seed=0, progress=True,
                      rank=0, world=1):
    """One mean embedding per training speaker (AS-norm cohort), from a few utterances each
    (on rank 0; None on the others, which embed their share)."""
    from ..data.manifest import read_table
    from .dataset import MANIFEST_COLUMNS
    rows = read_table(manifest, MANIFEST_COLUMNS)
    by_speaker = {}
    for row in rows:
        by_speaker.setdefault(row['speaker'], []).append(row['path'])
    rng = np.random.default_rng(seed)
    speakers = sorted(by_speaker)
    if len(speakers) > num_speakers:
        speakers = sorted(rng.choice(speakers, num_speakers, replace=False))
    paths, owner = [], []
    for s in speakers:
        files = by_speaker[s]
        for f in rng.choice(files, min(per_speaker, len(files)), replace=False):
            paths.append(f)
            owner.append(s)
    emb = extractor(paths, progress, desc='cohort', rank=rank, world=world)
    if emb is None:
        return None
    emb = l2_normalise(emb)
    owner = np.asarray(owner)
    return np.stack([emb[owner == s].mean(0) for s in speakers])


def evaluate_verification(recipe, network, cfg, out_dir, progress=True, cache_key='', trials=None,
                          audio_root=None, extra=True, rank=0, world=1):
    """Evaluate on ``trials`` (default ``cfg.data.trials``, the test list) under ``audio_root``
    (default ``cfg.data.eval_audio_root``), plus ``cfg.eval.extra_trials`` when ``extra``;
    returns the main list's metrics (extra lists prefixed by their file name) and writes the
    files listed in the module docstring.

    Every rank calls it: each embeds its share of the files, rank 0 scores them and returns the
    metrics, the others return {}. The embeddings cache is used by a single process only (the
    other ranks may not see rank 0's files)."""
    from ..metrics.plots import plot_det
    from .dataset import read_trials

    d, e = cfg.data, cfg.eval
    main_list = d.trials if trials is None else trials
    root = d.eval_audio_root if audio_root is None else audio_root
    if not main_list:
        raise DataError("data.trials is empty: set it to a VoxCeleb1 trial list (veri_test2.txt format)")
    lists = [main_list] + (list(e.extra_trials) if extra else [])
    trial_sets = [read_trials(path, root, check_files=True) for path in lists]
    utts = sorted({u for trials in trial_sets for _, a, b in trials for u in (a, b)})
    index = {u: i for i, u in enumerate(utts)}

    extractor = EmbeddingExtractor(network, recipe.fbank(cfg), d.sample_rate, d.on_rate_mismatch,
                                   e.max_seconds, e.batch_seconds, e.bucket_ratio, e.bucket_max_seconds,
                                   e.batch_min_utterances)
    cache = os.path.join(out_dir, 'embeddings.npz')
    # everything the embeddings depend on: the weights, the files, and how they were read
    key = json.dumps({'weights': cache_key, 'root': os.path.abspath(root),
                      'utts': hashlib.sha1('\n'.join(utts).encode()).hexdigest(),
                      'max_s': e.max_seconds, 'rate': d.sample_rate, 'on_rate': d.on_rate_mismatch,
                      'fbank': recipe.fbank(cfg).to_dict()}, sort_keys=True)
    use_cache = bool(cache_key) and world == 1
    embeddings = None
    if use_cache and os.path.exists(cache):
        z = np.load(cache)
        if str(z['key']) == key and list(z['utts']) == utts:
            embeddings = z['embeddings']
    if embeddings is None:
        embeddings = extractor([os.path.join(root, u) for u in utts], progress,
                               rank=rank, world=world)
        if use_cache:
            os.makedirs(out_dir, exist_ok=True)
            tmp = cache + '.tmp.npz'
            np.savez(tmp, key=key, utts=np.asarray(utts), embeddings=embeddings)
            os.replace(tmp, cache)

    cohort = None
    if e.as_norm:
        cohort = cohort_embeddings(extractor, d.train_manifest, e.cohort_speakers,
                                   e.cohort_utterances, cfg.train.seed, progress, rank, world)
    if rank != 0:
        return {}
    os.makedirs(out_dir, exist_ok=True)
    results = {}
    for path, trials in zip(lists, trial_sets):
        name = os.path.splitext(os.path.basename(path))[0]
        labels = np.asarray([t[0] for t in trials])
        scores, enroll, test = trial_scores(trials, index, embeddings)
        if cohort is not None:
            scores = as_norm(scores, enroll, test, cohort, top_k=e.top_k)
        metrics = verification_metrics(scores, labels, e.p_targets)
        metrics['trials'] = len(trials)
        write_text(os.path.join(out_dir, f'scores_{name}.txt'),
                   ''.join(f"{a} {b} {s:.6f} {label}\n" for (label, a, b), s in zip(trials, scores)))
        if e.det_curve:
            plot_det(scores, labels, os.path.join(out_dir, f'det_{name}.png'),
                     title=f"{cfg.model.name} on {name}: EER {metrics['eer']:.2f}%")
        if e.baseline and path == main_list:
            from .baseline import naive_baseline_eer
            metrics['baseline_eer'] = 100.0 * float(naive_baseline_eer(trials, root, d.sample_rate))
        prefix = '' if path == main_list else f'{name}.'
        results.update({prefix + k: v for k, v in metrics.items()})
    # what the numbers belong to: calibrated_threshold takes the threshold from here only when
    # it was measured on raw cosine scores of the same weights
    write_text(os.path.join(out_dir, 'metrics.json'),
               json.dumps(dict(results, weights=cache_key, as_norm=e.as_norm), indent=1))
    return results


def calibrated_threshold(run_dir, checkpoint):
    """The EER threshold eval.py measured for ``checkpoint`` on raw cosine scores (its
    ``<run_dir>/eval/<checkpoint name>/metrics.json``), or None: not evaluated, evaluated with
    AS-norm, or evaluated with other weights than the file has now."""
    from ..checkpoint import file_digest
    name = os.path.splitext(os.path.basename(checkpoint))[0]
    path = os.path.join(run_dir, 'eval', name, 'metrics.json')
    if not os.path.exists(path):
        return None
    try:
        with open(path) as f:
            metrics = json.load(f)
    except ValueError:
        return None
    if metrics.get('as_norm') or metrics.get('weights') != file_digest(checkpoint):
        return None
    return metrics.get('eer_threshold')


# ------------------------------------------------------------------------------------------
# Offline inference (Ascend 310 and other runtimes without Python): features out, embeddings in

def write_inference_inputs(recipe, cfg, out_dir, progress=True):
    """Write the fbank features of every trial file as ``<out_dir>/feats/<n>.bin`` (float32,
    (1, frames, n_mels), C order) and ``<out_dir>/utterances.tsv`` (``n utt frames``).

    A runtime (the Ascend 310 app, or ``infer.py bins``) turns each into
    ``<result_dir>/<n>_0.bin`` (the embedding); :func:`score_inference_outputs` scores them.
    """
    from ..inference.bins import write_item
    from .dataset import read_trials
    d = cfg.data
    trials = read_trials(d.trials, d.eval_audio_root, check_files=True)
    utts = sorted({u for _, a, b in trials for u in (a, b)})
    extractor = EmbeddingExtractor.__new__(EmbeddingExtractor)      # only its audio reading
    extractor.sample_rate, extractor.on_rate_mismatch = d.sample_rate, d.on_rate_mismatch
    extractor.max_samples = int(cfg.eval.max_seconds * d.sample_rate) if cfg.eval.max_seconds else None
    fbank = recipe.fbank(cfg)
    feats_dir = os.path.join(out_dir, 'feats')
    os.makedirs(feats_dir, exist_ok=True)
    rows = []
    for n, utt in enumerate(_progress(utts, progress, desc='features')):
        feats = fbank(extractor.wave(os.path.join(d.eval_audio_root, utt)))[None].astype(np.float32)
        write_item(feats_dir, n, {'feats': feats})
        rows.append(f"{n}\t{utt}\t{feats.shape[1]}\n")
    write_text(os.path.join(out_dir, 'utterances.tsv'), ''.join(rows))
    return len(rows)


def score_inference_outputs(recipe, cfg, input_dir, result_dir, embedding_size):
    """EER / minDCF of the trial list from the embeddings ``<result_dir>/<n>_0.bin``."""
    from .dataset import read_trials
    table = os.path.join(input_dir, 'utterances.tsv')
    if not os.path.exists(table):
        raise DataError(f"{table} not found: run `python preprocess.py infer_inputs` first")
    with open(table) as f:
        utts = [line.split('\t')[1] for line in f if line.strip()]
    embeddings = []
    for n in range(len(utts)):
        path = os.path.join(result_dir, f'{n}_0.bin')
        if not os.path.exists(path):
            raise DataError(f"{path} not found: the inference run wrote {len(os.listdir(result_dir))} "
                            f"of {len(utts)} outputs; run it on every file of {input_dir}/feats")
        emb = np.fromfile(path, np.float32)
        if emb.size != embedding_size:
            raise DataError(f"{path}: {emb.size} values, expected an embedding of {embedding_size}")
        embeddings.append(emb)
    trials = read_trials(cfg.data.trials, check_files=False)
    index = {u: i for i, u in enumerate(utts)}
    missing = [u for _, a, b in trials for u in (a, b) if u not in index]
    if missing:
        raise DataError(f"{len(missing)} trial files have no features in {table} (e.g. {missing[0]}); "
                        "the features were written for another trial list")
    labels = np.asarray([t[0] for t in trials])
    scores, _, _ = trial_scores(trials, index, np.stack(embeddings))
    metrics = verification_metrics(scores, labels, cfg.eval.p_targets)
    metrics['trials'] = len(trials)
    return metrics
