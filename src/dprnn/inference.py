"""``infer.py separate``: split each mixture file into its sources with a separation network.

    python infer.py separate mix.wav more_mixtures/ --model runs/x/export/dprnn.mindir --out sep/

writes ``sep/<name>_s1.wav``, ``sep/<name>_s2.wav`` ... per file (``<name>`` is the file's name
without its suffix, with the sub-folders of a folder argument kept). The model is one of: an
exported MindIR (with its sidecar), a config with a checkpoint, or one of asteroid's published
``DPRNNTasNet`` files (``--asteroid``; read without torch, see
:func:`src.dprnn.convert.read_asteroid_file`). Files are resampled to the model's rate and
averaged to mono. A file longer than ``--window_seconds`` is separated in overlapping windows
whose sources are matched across windows (:mod:`src.dprnn.windows`), so memory stays bounded;
a fixed-length export always runs in windows of its length. The sources come out in no
particular order (the network is trained permutation-invariant), peak-normalised together when
they would clip.
"""
import os

import numpy as np

from ..errors import UserError
from ..inference.commands import (INFER_COMMANDS, InferCommand, add_model_arguments,
                                  check_one_model, check_task, each_readable)


def separator_check(meta, where):
    """UserError unless ``meta`` (a sidecar, or a config's model facts) is a separation model's."""
    check_task(meta, where, 'separate')


class Separator:
    """A separation network, mixture (T,) -> sources (n_src, T), and its sample rate.

    Attributes:
        sample_rate, n_src: of the network.
        fixed_length: samples a fixed-shape export takes (None: any length).
        source: the model, for messages.
    """

    def __init__(self, model=None, config=None, checkpoint=None, asteroid=None):
        self.fixed_length = None
        if model:
            from ..inference.models import load_mindir
            self.source = model
            self.net, meta = load_mindir(model, check=separator_check)
            shape = meta['inputs'][0]['shape']
            self.fixed_length = None if shape[-1] is None else int(shape[-1])
        elif asteroid:
            from ..inference.models import set_up_inference
            from .convert import load_asteroid
            self.source = asteroid
            set_up_inference()
            self.net, kwargs = load_asteroid(asteroid)
            meta = {'sample_rate': kwargs.get('sample_rate', 8000), 'n_src': kwargs.get('n_src', 2)}
            self._dynamic()
        else:
            from ..inference.models import load_checkpoint_model
            self.source = checkpoint
            _, _, self.net, meta = load_checkpoint_model(config, checkpoint, check=separator_check)
            self._dynamic()
        self.sample_rate = int(meta['sample_rate'])
        self.n_src = int(meta.get('n_src') or meta['outputs'][0]['shape'][1])

    def _dynamic(self):
        import mindspore as ms
        self.net.set_train(False)
        self.net.set_inputs(ms.Tensor(shape=[1, None], dtype=ms.float32))

    def __call__(self, chunk):
        """Sources (n_src, len(chunk)) of one mixture ``chunk`` (T,), in one network call."""
        import mindspore as ms
        chunk = np.asarray(chunk, np.float32)
        length = len(chunk)
        if self.fixed_length is not None and length != self.fixed_length:
            padded = np.zeros(self.fixed_length, np.float32)
            padded[:min(length, self.fixed_length)] = chunk[:self.fixed_length]
            chunk = padded
        out = self.net(ms.Tensor(chunk[None, :]))
        out = (out[0] if isinstance(out, (tuple, list)) else out).asnumpy()[0]
        return out[:, :length]

    def window(self, seconds):
        """Samples per window: a fixed export's length, else ``seconds`` (0 = never windowed)."""
        if self.fixed_length is not None:
            return self.fixed_length
        return int(round(seconds * self.sample_rate)) if seconds else 0

    def separate(self, wave, window_seconds=10.0, overlap=0.5):
        """Sources (n_src, T) of a whole mixture ``wave`` (T,): in one call when it fits in a
        window, else in windows overlapping by the fraction ``overlap``."""
        from .windows import separate_in_windows
        window = self.window(window_seconds)
        if not window or len(wave) <= window and self.fixed_length is None:
            return self(wave)
        hop = max(1, int(round(window * (1.0 - overlap))))
        return separate_in_windows(self, wave, window, hop)


def output_names(paths, sources):
    """The output stem of each input file: its name without suffix, under the sub-folders it
    has inside a folder argument (so equal names in different folders do not collide)."""
    stems = []
    for path in paths:
        inside = next((os.path.relpath(path, s) for s in sources
                       if os.path.isdir(s) and os.path.abspath(path).startswith(os.path.abspath(s) + os.sep)),
                      os.path.basename(path))
        stems.append(os.path.splitext(inside)[0])
    return stems


def run_separate(args):
    """``infer.py separate``: write the separated sources of every file; returns the written paths."""
    from ..audio import write_audio
    from ..audio.io import find_audio
    if args.window_seconds < 0 or not 0 <= args.overlap < 1:
        raise UserError(f"--window_seconds must be >= 0 and --overlap in [0, 1), got "
                        f"{args.window_seconds} and {args.overlap}")
    check_one_model(args, '--asteroid', 'F (an asteroid DPRNNTasNet .pth/.npz)')
    paths = find_audio(args.sources)
    separator = Separator(args.model, args.config, args.checkpoint, args.asteroid)
    written = []
    for (path, stem), wave, bar in each_readable(paths, separator.sample_rate, 'separating',
                                                 list(zip(paths, output_names(paths, args.sources)))):
        sources = separator.separate(wave, args.window_seconds, args.overlap)
        peak = float(np.abs(sources).max())
        gain = 0.99 / peak if peak > 0.99 else 1.0      # one gain for all: levels compare
        outputs = [os.path.join(args.out, f"{stem}_s{j + 1}.wav") for j in range(len(sources))]
        for out, source in zip(outputs, sources):
            write_audio(out, gain * source, separator.sample_rate)
        bar.write(f"[{path}] -> {', '.join(outputs)}")
        written.extend(outputs)
    return written


def add_separate_arguments(parser):
    parser.add_argument('sources', nargs='+', metavar='FILE_OR_FOLDER',
                        help='mixture files, or folders (every .wav/.flac/.ogg under them)')
    parser.add_argument('--out', required=True, help='folder for <name>_s1.wav, <name>_s2.wav ...')
    add_model_arguments(parser)
    parser.add_argument('--asteroid', help="asteroid's DPRNNTasNet file (.pth from its model hub, "
                                           "or an .npz of its state dict with model_args)")
    parser.add_argument('--window_seconds', type=float, default=10.0,
                        help='longer files run in windows of this length (default 10; 0 = whole '
                             'files in one call)')
    parser.add_argument('--overlap', type=float, default=0.5,
                        help='fraction by which consecutive windows overlap (default 0.5)')


INFER_COMMANDS.register('separate', InferCommand(
    about='separate mixtures into their sources (<name>_s1.wav, <name>_s2.wav ...)',
    add_arguments=add_separate_arguments, run=run_separate, task='separation',
    subject='a source-separation model'))
