"""``infer.py tag``: the top-k sound classes of audio files with a PANNs classifier (an exported
MindIR or a config + checkpoint) or a public PANNs AudioSet tagger.

Prints one line per file, ``[dog.wav] Dog: 0.9999  Rain: 0.00001 ...``: the top-k classes with
their scores (softmax of a classifier's logits, a tagger's sigmoid outputs). A folder means
every .wav/.flac/.ogg under it. Files are resampled to the model's rate; a file longer than the
model's clip length is scored in windows (``--hop_seconds``, the last one ending with the file)
whose scores are averaged (``--aggregate max``: their maximum); a shorter one is zero-padded.
``--out`` also writes one JSON object per file. The windowing and scoring live in
:mod:`src.panns.tagging`.
"""
import json
import os
import sys

import numpy as np

from ..errors import CheckpointError, UserError
from ..inference.commands import (INFER_COMMANDS, InferCommand, add_model_arguments,
                                  check_one_model, check_task, each_readable)

# AudioSet clips are 10 s: the public PANNs taggers were trained on them
PANNS_CLIP_SECONDS = 10.0
TAG_BATCH = 8          # windows per network call (dynamic-batch models)


def classifier_check(meta, where):
    """UserError unless ``meta`` (a sidecar, or a config's model facts) is a sound classifier's."""
    check_task(meta, where, 'tag')


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

    def _facts(self, meta):
        """Rate, output kind and class names of a sidecar (or a config's model facts)."""
        self.sample_rate = int(meta['sample_rate'])
        self.output = meta['outputs'][0]['name']
        self.labels = meta.get('labels')

    def _from_mindir(self, model, clip_seconds):
        from ..inference.models import load_mindir
        self.source = model
        self.net, meta = load_mindir(model, check=classifier_check)
        self._facts(meta)
        self.unnamed_why = "its sidecar has no 'labels' (the training data was not readable at export)"
        shape = meta['inputs'][0]['shape']
        if None not in shape:
            if clip_seconds:
                raise UserError(f"{model} was exported for inputs of exactly {shape[-1]} samples: "
                                "drop --clip_seconds (or export with a dynamic length)")
            self.window, self.batch = int(shape[-1]), int(shape[0])
        else:
            self.window = self._window(clip_seconds or meta.get('clip_seconds'))

    def _from_config(self, config, checkpoint, clip_seconds):
        import mindspore as ms
        from ..inference.models import load_checkpoint_model
        self.source = config
        _, _, self.net, meta = load_checkpoint_model(config, checkpoint, check=classifier_check)
        self._facts(meta)
        self.unnamed_why = "its data (the class names) is not readable"
        self.window = self._window(clip_seconds or meta['clip_seconds'])
        self.net.set_inputs(ms.Tensor(shape=[None, self.window], dtype=ms.float32))

    def _from_panns(self, path, clip_seconds):
        from ..checkpoint import is_foreign_state, read_params, read_torch_state
        from ..inference.models import set_up_inference
        from .convert import infer_panns_config, load_panns_state, panns_front_end
        from .tagging import AUDIOSET_CLASSES, read_audioset_labels
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
        set_up_inference()
        import mindspore as ms
        from .network import ARCHITECTURES
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
            from .tagging import class_labels
            self._names, named = class_labels(self.labels, num_classes, self.source)
            if not named:
                print(f"note: {self.source} names no classes ({self.unnamed_why}): they are shown "
                      f"as 'class 0' ... 'class {num_classes - 1}'", file=sys.stderr)
        return self._names

    def predict(self, windows):
        """Scores of windows ``(B, window)``: probabilities ``(B, classes)``."""
        import mindspore as ms
        from .tagging import softmax
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
        from .tagging import tag_wave
        return tag_wave(wave, self.predict, self.window, hop, how,
                        batch_size=self.batch or TAG_BATCH, fixed_batch=self.batch is not None)


def run_tag(args):
    """``infer.py tag``: print the top-k classes of every file; optionally write JSON lines."""
    from ..audio.io import find_audio
    from .tagging import format_tags, tag_record, top_k, write_jsonl
    if args.top_k < 1:
        raise UserError(f"--top_k must be at least 1, got {args.top_k}")
    if args.clip_seconds is not None and args.clip_seconds <= 0:
        raise UserError(f"--clip_seconds must be positive, got {args.clip_seconds}")
    check_one_model(args, '--panns', 'P (a PANNs .pth/.npz/.ckpt)')
    paths = find_audio(args.sources)
    tagger = Tagger(args.model, args.config, args.checkpoint, args.panns, args.clip_seconds)
    hop = tagger.hop(args.hop_seconds)
    records = []
    for path, wave, bar in each_readable(paths, tagger.sample_rate, 'tagging'):
        scores, windows = tagger(wave, hop, args.aggregate)
        tags = top_k(scores, tagger.names(len(scores)), args.top_k)
        bar.write(format_tags(path, tags))
        records.append(tag_record(path, tags, windows))
    if args.out:
        write_jsonl(args.out, records)
        print(f"{len(records)} files tagged -> {args.out}", file=sys.stderr)
    return records


def add_tag_arguments(parser):
    parser.add_argument('sources', nargs='+', metavar='FILE_OR_FOLDER',
                        help='audio files, or folders (every .wav/.flac/.ogg under them)')
    add_model_arguments(parser, 'exported classifier .mindir')
    parser.add_argument('--panns', help='public PANNs checkpoint (.pth needs torch, or an .npz of its '
                        "state dict) or the .ckpt (+ .json) of tools/convert_panns.py")
    parser.add_argument('--top_k', type=int, default=3, help='classes shown per file (default 3)')
    parser.add_argument('--out', help='also write one JSON object per file here (.jsonl)')
    parser.add_argument('--clip_seconds', type=float, help="window length (default: the model's "
                        f"training clip length; {PANNS_CLIP_SECONDS:g} s for --panns)")
    parser.add_argument('--hop_seconds', type=float, help='between windows of a longer file '
                        '(default: half a window)')
    parser.add_argument('--aggregate', choices=('mean', 'max'), default='mean',
                        help='clip score from the window scores (default mean)')


INFER_COMMANDS.register('tag', InferCommand(
    about='top-k sound classes of audio files with a PANNs classifier or AudioSet tagger',
    add_arguments=add_tag_arguments, run=run_tag, task='classification', subject='a sound classifier',
    epilog='prints one line per file, the best classes first:\n'
           '  [dog.wav] Dog: 0.9999  Clock tick: 0.00001  Cat: 0.000007'))
