"""Inference with an exported model (or a checkpoint): speaker verification and sound tagging.

Speaker verification (ECAPA-TDNN):

    python infer.py verify a.wav b.wav --model runs/demo/export/ecapa_tdnn.mindir [--threshold T]
    python infer.py embed --model M.mindir --list files.txt --out embeddings.npz
    python infer.py verify a.wav b.wav --config configs/ecapa_tdnn/demo.yaml --checkpoint C.ckpt

A MindIR is read with its JSON sidecar (written by export.py: sample rate, fbank settings and the
threshold calibrated on the evaluation trials). ``verify`` prints the cosine score and the
decision; ``embed`` writes one embedding per file of a list (one path per line).

    python infer.py bins --model M.mindir --input runs/demo/infer/feats --output runs/demo/infer/result

runs the MindIR on the ``.bin`` inputs of ``preprocess.py infer_inputs`` and writes
``<n>_0.bin`` outputs, as the Ascend 310 application does (``postprocess.py`` scores them): the
same offline pipeline on any machine.

Sound tagging (PANNs classifiers, or a public PANNs AudioSet tagger):

    python infer.py tag dog.wav clips/ --model runs/demo/export/panns_cnn6.mindir [--top_k 3] [--out tags.jsonl]
    python infer.py tag clips/ --config configs/panns/demo.yaml --checkpoint runs/demo/checkpoints/best.ckpt
    python infer.py tag dog.wav --panns Cnn14_mAP=0.431.pth       # the 527 AudioSet classes

prints one line per file, ``[dog.wav] Dog: 0.9999  Rain: 0.00001 ...``: the top-k classes with
their scores (softmax of a classifier's logits, a tagger's sigmoid outputs). A folder means
every .wav/.flac/.ogg under it. Files are resampled to the model's rate; a file longer than the
model's clip length is scored in windows (``--hop_seconds``, the last one ending with the file)
whose scores are averaged (``--aggregate max``: their maximum); a shorter one is zero-padded.
``--out`` also writes one JSON object per file. The windowing and scoring live in
:mod:`src.panns.tagging`.
"""
import argparse
import json
import os
import sys

import numpy as np

from src.cli import run_main
from src.errors import CheckpointError, UserError

# AudioSet clips are 10 s: the public PANNs taggers were trained on them
PANNS_CLIP_SECONDS = 10.0
TAG_BATCH = 8          # windows per network call (dynamic-batch models)


def _set_up():
    from src.runtime import set_up_runtime
    set_up_runtime('CPU', 'graph')


def read_sidecar(model):
    """The JSON sidecar export.py writes beside ``model`` (``X.mindir`` -> ``X.json``).

    Returns:
        (sidecar dict, sidecar path).

    Raises:
        UserError: the model or its sidecar is missing, or the sidecar is not a JSON object
            with a 'sample_rate'.
    """
    sidecar_path = os.path.splitext(model)[0] + '.json'
    if not os.path.exists(model):
        raise UserError(f"model not found: {model}")
    if not os.path.exists(sidecar_path):
        raise UserError(f"{sidecar_path} not found: export.py writes it beside the MindIR; "
                        "re-export or copy it along")
    try:
        with open(sidecar_path) as f:
            meta = json.load(f)
    except (OSError, ValueError) as err:
        raise UserError(f"{sidecar_path}: not a readable JSON sidecar ({str(err).strip()[:100]}); "
                        "re-export the model with export.py") from None
    if not isinstance(meta, dict) or 'sample_rate' not in meta:
        raise UserError(f"{sidecar_path} lacks 'sample_rate': it is not an export.py sidecar; re-export")
    return meta, sidecar_path


def load_mindir(model, check=None):
    """An exported MindIR with its sidecar, ready to run.

    Args:
        model: ``.mindir`` path; its sidecar ``.json`` must be beside it.
        check: optional ``check(sidecar, sidecar_path)`` that raises a UserError for a model of
            the wrong kind; called before anything is loaded.

    Returns:
        (``mindspore.nn.GraphCell``, sidecar dict). A model exported with dynamic axes (None
        in the sidecar's ``input_shape``) has them declared, so that inputs of new lengths
        run without recompiling; a fixed-shape one must be fed exactly ``input_shape``.

    Raises:
        UserError: missing or unreadable files, or ``check``'s objection.
    """
    meta, sidecar_path = read_sidecar(model)
    if check is not None:
        check(meta, sidecar_path)
    _set_up()
    import mindspore as ms
    try:
        net = ms.nn.GraphCell(ms.load(model))
    except (RuntimeError, ValueError) as err:
        raise UserError(f"{model}: not a loadable MindIR ({str(err).strip()[:100]}); "
                        "re-export it with export.py") from None
    shape = meta.get('input_shape')
    if shape and None in shape:
        # declare the dynamic axes: otherwise every new length is compiled anew (~1 s)
        net.set_inputs(ms.Tensor(shape=shape, dtype=ms.float32))
    return net, meta


def _model_name(meta):
    return meta.get('model', 'unknown')


def _speaker_check(meta, where):
    """UserError unless ``meta`` (a sidecar, or a recipe's sidecar facts) is a speaker model's."""
    if meta.get('task') == 'classification':
        raise UserError(f"{where}: {_model_name(meta)} is a sound classifier, not a speaker "
                        "embedding model: tag files with `python infer.py tag FILES ...`")
    if 'features' not in meta or 'sample_rate' not in meta:
        raise UserError(f"{where} lacks 'features'/'sample_rate': it is not an "
                        "export.py sidecar of this model; re-export")


def _classifier_check(meta, where):
    """UserError unless ``meta`` describes a sound classifier (``'task': 'classification'``)."""
    task = meta.get('task')
    if task != 'classification':
        what = f"task {task}" if task else "no 'task': 'classification'"
        raise UserError(f"{where}: {_model_name(meta)} is not a sound classifier ({what}): "
                        "`infer.py tag` needs a classifier exported by export.py (PANNs); "
                        "speaker models go to `infer.py verify` / `embed`")


class Embedder:
    """fbank + network of a MindIR (with sidecar) or of a config + checkpoint."""

    def __init__(self, model=None, config=None, checkpoint=None):
        if model:
            self.net, self.meta = load_mindir(model, check=_speaker_check)
        else:
            from eval import load_network
            from src.cli import load_run_config
            from src.recipes import get_recipe
            args = argparse.Namespace(config=config, overrides=[])
            cfg = load_run_config(args)
            _speaker_check(get_recipe(cfg.model.name).sidecar(cfg), config)
            _set_up()
            recipe, self.net = load_network(cfg, checkpoint)
            from export import calibrated_threshold
            self.meta = dict(recipe.sidecar(cfg))
            # a checkpoint of a run lives in <run_dir>/checkpoints/: its evaluation is beside it
            run_dir = os.path.dirname(os.path.dirname(os.path.abspath(checkpoint)))
            threshold = calibrated_threshold(run_dir, checkpoint)
            if threshold is not None:
                self.meta['threshold'] = threshold
        from src.audio import Fbank
        self.fbank = Fbank(**self.meta['features'])
        self.sample_rate = self.meta['sample_rate']

    def __call__(self, path):
        import mindspore as ms
        from src.audio import read_audio
        feats = self.fbank(read_audio(path, self.sample_rate))[None].astype(np.float32)
        emb = self.net(ms.Tensor(feats))
        return emb.asnumpy().reshape(-1)


class Tagger:
    """A clip classifier (waveform -> class scores) and what tagging a file with it needs.

    From exactly one of: an exported MindIR (``model``, with its sidecar), a config with a
    checkpoint, or a public PANNs checkpoint (``panns``: ``.pth``, an ``.npz`` of its state
    dict, or the ``.ckpt`` [+ ``.json``] of ``tools/convert_panns.py``).

    Attributes:
        sample_rate: Hz the network takes.
        window: samples per window (the training clip length, or a fixed export's length).
        batch: rows a fixed-shape export takes, None when the batch is free.
        output: 'logits' (scores = softmax) or 'probabilities' (used as they are).
        labels: class names in output order, or None (then 'class 0', ...).
        source: the model, for messages.
    """

    def __init__(self, model=None, config=None, checkpoint=None, panns=None, clip_seconds=None):
        self.batch, self.output, self.labels, self.unnamed_why = None, 'logits', None, ''
        self._names = None
        if model:
            self._from_mindir(model, clip_seconds)
        elif panns:
            self._from_panns(panns, clip_seconds)
        else:
            self._from_config(config, checkpoint, clip_seconds)
        if self.output not in ('logits', 'probabilities'):
            raise UserError(f"{self.source}: unknown output {self.output!r} (expected logits or "
                            "probabilities); re-export the model with export.py")

    def _window(self, seconds):
        if not seconds or seconds <= 0:
            raise UserError(f"{self.source}: no clip length; pass --clip_seconds")
        return max(1, int(round(seconds * self.sample_rate)))

    def _from_mindir(self, model, clip_seconds):
        self.source = model
        self.net, meta = load_mindir(model, check=_classifier_check)
        self.sample_rate = int(meta['sample_rate'])
        self.output = meta.get('output', 'logits')
        self.labels = meta.get('labels')
        self.unnamed_why = "its sidecar has no 'labels' (the training data was not readable at export)"
        shape = meta.get('input_shape')
        if shape and None not in shape:
            if clip_seconds:
                raise UserError(f"{model} was exported for inputs of exactly {shape[-1]} samples: "
                                "drop --clip_seconds (or export with a dynamic length)")
            self.window, self.batch = int(shape[-1]), int(shape[0])
        else:
            self.window = self._window(clip_seconds or meta.get('clip_seconds'))

    def _from_config(self, config, checkpoint, clip_seconds):
        from src.cli import load_run_config
        from src.recipes import get_recipe
        self.source = config
        cfg = load_run_config(argparse.Namespace(config=config, overrides=[]))
        meta = get_recipe(cfg.model.name).sidecar(cfg)
        _classifier_check(meta, config)
        _set_up()
        import mindspore as ms
        from eval import load_network
        recipe, self.net = load_network(cfg, checkpoint)
        self.sample_rate = int(cfg.data.sample_rate)
        self.output = meta.get('output', 'logits')
        self.labels = recipe.class_names(cfg)
        self.unnamed_why = "its data (the class names) is not readable"
        self.window = self._window(clip_seconds or cfg.data.clip_seconds)
        self.net.set_inputs(ms.Tensor(shape=[None, self.window], dtype=ms.float32))

    def _from_panns(self, path, clip_seconds):
        from src.checkpoint import is_foreign_state, read_params, read_torch_state
        from src.panns.convert import infer_panns_config, load_panns_state, panns_front_end
        from src.panns.tagging import AUDIOSET_CLASSES, read_audioset_labels
        self.source = path
        if path.endswith(('.pth', '.pt', '.npz')) or is_foreign_state(path):
            state = read_torch_state(path, inner_key='model')
            args = {}
        else:      # the .ckpt (+ .json) of tools/convert_panns.py
            state = read_params(path)
            args = self._converted_args(path)
        if any(key.startswith('backbone.') for key in state):
            raise CheckpointError(f"{path} is a checkpoint of this project's PANNs classifier, not "
                                  "a PANNs tagger: pass it as --checkpoint with its --config")
        found = infer_panns_config(state)
        # the checkpoint's shapes, the public front end of its window, then the .json's args
        args = {'classes_num': found['classes_num'], 'mel_bins': found['mel_bins'],
                **panns_front_end(args.get('window_size', found.get('window_size', 1024))),
                **args}                                   # later sources win
        _set_up()
        import mindspore as ms
        from src.panns.network import ARCHITECTURES
        try:
            self.net = ARCHITECTURES[found['architecture']](**args)
        except (TypeError, ValueError) as err:
            raise CheckpointError(f"{path}: cannot build a PANNs {found['architecture']} with "
                                  f"{args} ({err})") from None
        load_panns_state(self.net, state)
        self.net.set_train(False)
        self.sample_rate = int(args['sample_rate'])
        self.output = 'probabilities'
        if args['classes_num'] == AUDIOSET_CLASSES:
            self.labels = read_audioset_labels()
        self.unnamed_why = (f"a PANNs checkpoint with {args['classes_num']} classes, not "
                            f"AudioSet's {AUDIOSET_CLASSES}")
        self.window = self._window(clip_seconds or PANNS_CLIP_SECONDS)
        self.net.set_inputs(ms.Tensor(shape=[None, self.window], dtype=ms.float32))

    @staticmethod
    def _converted_args(path):
        """Network arguments of the ``.json`` tools/convert_panns.py wrote beside ``path``."""
        config_path = os.path.splitext(path)[0] + '.json'
        if not os.path.exists(config_path):
            return {}
        try:
            with open(config_path) as f:
                config = json.load(f)
            args = dict(config.get('args') or {})
        except (OSError, ValueError, TypeError, AttributeError) as err:
            raise CheckpointError(f"{config_path}: not a convert_panns.py config ({err})") from None
        if config.get('reinitialised'):
            raise CheckpointError(f"{path}: its tagging head ({', '.join(config['reinitialised'])}) "
                                  "was freshly initialised by convert_panns.py --classes-num (for "
                                  "fine-tuning): convert without --classes-num to tag")
        return args

    def names(self, num_classes):
        """Class names for ``num_classes`` outputs; made-up ones are announced once on stderr."""
        if self._names is None:
            from src.panns.tagging import class_labels
            self._names, named = class_labels(self.labels, num_classes, self.source)
            if not named:
                print(f"note: {self.source} names no classes ({self.unnamed_why}): they are shown "
                      f"as 'class 0' ... 'class {num_classes - 1}'", file=sys.stderr)
        return self._names

    def predict(self, windows):
        """Scores of windows ``(B, window)``: probabilities ``(B, classes)``."""
        import mindspore as ms
        from src.panns.tagging import softmax
        out = self.net(ms.Tensor(np.ascontiguousarray(windows, dtype=np.float32)))
        if isinstance(out, (tuple, list)):      # a PANNs tagger: (clipwise_output, embedding)
            out = out[0]
        out = out.asnumpy()
        return softmax(out) if self.output == 'logits' else out.astype(np.float64)

    def hop(self, hop_seconds=None):
        """Samples between windows: ``hop_seconds`` (default half a window)."""
        if hop_seconds is None:
            return max(1, self.window // 2)
        hop = int(round(hop_seconds * self.sample_rate))
        if hop_seconds <= 0 or not 1 <= hop <= self.window:
            raise UserError(f"--hop_seconds {hop_seconds}: must be more than 0 and at most the "
                            f"window, {self.window / self.sample_rate:g} s")
        return hop

    def __call__(self, wave, hop, how='mean'):
        """(clip scores, number of windows) of a waveform at :attr:`sample_rate`."""
        from src.panns.tagging import tag_wave
        return tag_wave(wave, self.predict, self.window, hop, how,
                        batch_size=self.batch or TAG_BATCH, fixed_batch=self.batch is not None)


def run_tag(args):
    """``infer.py tag``: print the top-k classes of every file; optionally write JSON lines."""
    from src.audio import read_audio
    from src.errors import DataError
    from src.panns.tagging import find_audio, format_tags, tag_record, top_k, write_jsonl
    if args.top_k < 1:
        raise UserError(f"--top_k must be at least 1, got {args.top_k}")
    if args.clip_seconds is not None and args.clip_seconds <= 0:
        raise UserError(f"--clip_seconds must be positive, got {args.clip_seconds}")
    chosen = [name for name, given in (('--model', args.model), ('--panns', args.panns),
                                       ('--config', args.config or args.checkpoint)) if given]
    if len(chosen) != 1 or (args.config or args.checkpoint) and not (args.config and args.checkpoint):
        raise UserError("pass one model: --model M.mindir, --config C.yaml with --checkpoint "
                        "X.ckpt, or --panns P (a PANNs .pth/.npz/.ckpt)")
    paths = find_audio(args.sources)
    tagger = Tagger(args.model, args.config, args.checkpoint, args.panns, args.clip_seconds)
    hop = tagger.hop(args.hop_seconds)
    from src.engine.trainer import progress
    records, failed = [], []
    bar = progress(paths, desc='tagging', unit='file', disable=True if len(paths) < 2 else None)
    for path in bar:
        try:
            wave = read_audio(path, tagger.sample_rate)
        except DataError as err:
            failed.append(str(err))
            bar.write(f"skipped: {err}", file=sys.stderr)
            continue
        scores, windows = tagger(wave, hop, args.aggregate)
        tags = top_k(scores, tagger.names(len(scores)), args.top_k)
        bar.write(format_tags(path, tags))
        records.append(tag_record(path, tags, windows))
    if not records:
        raise DataError(failed[0] if len(failed) == 1 else
                        f"none of the {len(failed)} files could be read; the first: {failed[0]}")
    if failed:
        print(f"{len(failed)} of {len(paths)} files could not be read and were skipped", file=sys.stderr)
    if args.out:
        write_jsonl(args.out, records)
        print(f"{len(records)} files tagged -> {args.out}", file=sys.stderr)
    return records


def solve_shape(shape, size, name):
    """The input shape of a ``.bin`` of ``size`` float32 values: a leading unknown batch is 1 and
    one other unknown axis is solved from the size (as the Ascend 310 app does)."""
    dims = list(shape)
    if len(dims) > 1 and dims[0] is None:
        dims[0] = 1
    known = int(np.prod([d for d in dims if d is not None]))
    unknown = [i for i, d in enumerate(dims) if d is None]
    if len(unknown) > 1:
        raise UserError(f"input shape {shape} has more than one unknown axis besides the batch")
    if unknown:
        dims[unknown[0]] = size // known if known else 0
    if int(np.prod(dims)) != size or size == 0:
        raise UserError(f"{name}: {size} float32 values do not fit the model's input shape {shape}; "
                        "write the inputs with `python preprocess.py infer_inputs` for this model")
    return dims


def run_bins(model, input_dir, output_dir):
    """Every ``<n>.bin`` of ``input_dir`` through the MindIR -> ``<output_dir>/<n>_0.bin``."""
    if not os.path.isdir(input_dir):
        raise UserError(f"input folder not found: {input_dir}")
    names = sorted((f for f in os.listdir(input_dir) if f.endswith('.bin')), key=lambda f: (len(f), f))
    if not names:
        raise UserError(f"no .bin files in {input_dir}: run `python preprocess.py infer_inputs` first")
    net, meta = load_mindir(model)
    shape = meta.get('input_shape')
    if not shape:
        n_mels = meta.get('features', {}).get('n_mels')
        if not n_mels:
            raise UserError(f"{model}: its sidecar has no input_shape; re-export it with export.py")
        shape = [1, None, n_mels]       # sidecars of older exports: speaker models only
    import mindspore as ms
    from src.engine.trainer import progress
    os.makedirs(output_dir, exist_ok=True)
    for name in progress(names, desc='inference'):
        x = np.fromfile(os.path.join(input_dir, name), np.float32)
        x = x.reshape(solve_shape(shape, x.size, os.path.join(input_dir, name)))
        y = net(ms.Tensor(x))
        y = (y[0] if isinstance(y, (tuple, list)) else y).asnumpy().astype(np.float32)
        y.tofile(os.path.join(output_dir, name[:-4] + '_0.bin'))
    print(f"{len(names)} outputs -> {output_dir}")
    return len(names)


def build_parser():
    p = argparse.ArgumentParser(
        description='inference with an exported model or a checkpoint: speaker verification '
                    '(verify, embed, bins) and sound tagging (tag)')
    sub = p.add_subparsers(dest='command', required=True)
    for name, about in (('verify', 'are two recordings of the same speaker? (cosine score)'),
                        ('embed', 'speaker embeddings of the files of a list')):
        s = sub.add_parser(name, help=about, description=about)
        s.add_argument('--model', help='exported .mindir (its .json sidecar beside it)')
        s.add_argument('--config', help='config (with --checkpoint) instead of a MindIR')
        s.add_argument('--checkpoint')
        if name == 'verify':
            s.add_argument('enroll')
            s.add_argument('test')
            s.add_argument('--threshold', type=float, help='accept when score >= threshold '
                           '(default: the calibrated EER threshold of the sidecar)')
        else:
            s.add_argument('--list', required=True, help='text file, one audio path per line')
            s.add_argument('--out', required=True, help='output .npz (paths, embeddings)')
    about = 'MindIR on preprocess.py infer_inputs .bin files (as the Ascend 310 app)'
    b = sub.add_parser('bins', help=about, description=about)
    b.add_argument('--model', required=True, help='exported .mindir (its .json sidecar beside it)')
    b.add_argument('--input', required=True, help='folder of <n>.bin inputs (preprocess.py infer_inputs)')
    b.add_argument('--output', required=True, help='folder for the <n>_0.bin outputs')
    about = 'top-k sound classes of audio files with a PANNs classifier or AudioSet tagger'
    t = sub.add_parser('tag', help=about, description=about,
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog='prints one line per file, the best classes first:\n'
                              '  [dog.wav] Dog: 0.9999  Clock tick: 0.00001  Cat: 0.000007')
    t.add_argument('sources', nargs='+', metavar='FILE_OR_FOLDER',
                   help='audio files, or folders (every .wav/.flac/.ogg under them)')
    t.add_argument('--model', help='exported classifier .mindir (its .json sidecar beside it)')
    t.add_argument('--config', help='config (with --checkpoint) instead of a MindIR')
    t.add_argument('--checkpoint')
    t.add_argument('--panns', help='public PANNs checkpoint (.pth needs torch, or an .npz of its '
                   "state dict) or the .ckpt (+ .json) of tools/convert_panns.py")
    t.add_argument('--top_k', type=int, default=3, help='classes shown per file (default 3)')
    t.add_argument('--out', help='also write one JSON object per file here (.jsonl)')
    t.add_argument('--clip_seconds', type=float, help="window length (default: the model's "
                   f"training clip length; {PANNS_CLIP_SECONDS:g} s for --panns)")
    t.add_argument('--hop_seconds', type=float, help='between windows of a longer file '
                   '(default: half a window)')
    t.add_argument('--aggregate', choices=('mean', 'max'), default='mean',
                   help='clip score from the window scores (default mean)')
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.command == 'tag':
        return run_tag(args)
    if args.command == 'bins':
        return run_bins(args.model, args.input, args.output)
    if not args.model and not (args.config and args.checkpoint):
        raise UserError("pass --model M.mindir, or --config C.yaml with --checkpoint X.ckpt")
    embed = Embedder(args.model, args.config, args.checkpoint)
    if args.command == 'verify':
        a, b = embed(args.enroll), embed(args.test)
        score = float(a @ b / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-12))
        threshold = args.threshold if args.threshold is not None else embed.meta.get('threshold')
        if threshold is None:
            print(json.dumps({'score': score}))
            print("no threshold: pass --threshold or evaluate the checkpoint (eval.py) before export",
                  file=sys.stderr)
            return score
        decision = 'same speaker' if score >= threshold else 'different speakers'
        print(json.dumps({'score': round(score, 6), 'threshold': threshold, 'decision': decision}))
        return score
    if not os.path.exists(args.list):
        raise UserError(f"list not found: {args.list}")
    with open(args.list) as f:
        paths = [line.strip() for line in f if line.strip()]
    from src.engine.trainer import progress
    embeddings = np.stack([embed(path) for path in progress(paths, desc='embed')])
    tmp = args.out + '.tmp.npz'
    np.savez(tmp, paths=np.asarray(paths), embeddings=embeddings)
    out = args.out if args.out.endswith('.npz') else args.out + '.npz'
    os.replace(tmp, out)
    print(f"{len(paths)} embeddings of dimension {embeddings.shape[1]} -> {out}")
    return embeddings


if __name__ == '__main__':
    run_main(main)
