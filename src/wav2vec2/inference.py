"""``infer.py transcribe``: the text of each audio file, with a wav2vec 2.0 CTC model.

    python infer.py transcribe talk.flac recordings/ --model runs/x/export/wav2vec2_ctc.mindir
    python infer.py transcribe a.flac --pretrained facebook-wav2vec2-base-960h/      (HF folder)
    python infer.py transcribe a.flac --pretrained wav2vec_small_100h.pt --dict dict.ltr.txt

prints ``path<TAB>text`` per file (``--jsonl F`` also writes one JSON object per file). The
model is an exported MindIR (with its sidecar), a config with a checkpoint, a Hugging Face model
folder (``config.json``, ``model.safetensors`` or ``pytorch_model.bin``, ``vocab.json``), or a
fairseq fine-tuned checkpoint with its letter dictionary (read without torch). Files are
resampled to 16 kHz and averaged to mono. A file longer than ``--chunk_seconds`` runs in
overlapping chunks whose logits are stitched (:mod:`.chunking`), so memory stays bounded; the
text is greedy CTC decoding of the logits (:meth:`.letters.Letters.decode_greedy`).
"""
import json
import sys

import numpy as np

from ..errors import UserError
from ..inference.commands import (INFER_COMMANDS, InferCommand, add_model_arguments,
                                  check_one_model, check_task, each_readable)


def transcriber_check(meta, where):
    check_task(meta, where, 'transcribe')


class Transcriber:
    """A CTC network, waveform (T,) -> logits (frames, letters), and its letters.

    Attributes:
        sample_rate, letters (:class:`~.letters.Letters`), kernels, strides (of its feature
        encoder), normalize (zero mean, unit variance per file first), with_mask (the network
        takes a padding mask), fixed_length (samples of a fixed-shape export; None: any).
    """

    def __init__(self, model=None, config=None, checkpoint=None, pretrained=None, dictionary=None):
        from .letters import Letters
        self.fixed_length = None
        if model:
            from ..inference.models import load_mindir
            self.source = model
            self.net, meta = load_mindir(model, check=transcriber_check)
            shape = meta['inputs'][0]['shape']
            self.fixed_length = None if shape[-1] is None else int(shape[-1])
            self.with_mask = len(meta['inputs']) > 1
        elif pretrained:
            from ..inference.models import set_up_inference
            from .pretrained import load_ctc_network
            self.source = pretrained
            set_up_inference()
            self.net, meta = load_ctc_network(pretrained, dictionary)
            self.with_mask = False
            self._dynamic()
        else:
            from ..inference.models import load_checkpoint_model
            self.source = checkpoint
            _, _, self.net, meta = load_checkpoint_model(config, checkpoint, check=transcriber_check)
            self.with_mask = False
            self._dynamic()
        self.sample_rate = int(meta.get('sample_rate', 16000))
        self.letters = Letters(meta['letters'], blank=int(meta.get('blank', 0)), source=f"{self.source}'s letters")
        self.kernels = tuple(meta.get('conv_kernel', (10, 3, 3, 3, 3, 2, 2)))
        self.strides = tuple(meta.get('conv_stride', (5, 2, 2, 2, 2, 2, 2)))
        self.normalize = bool(meta.get('normalize', False))

    def _dynamic(self):
        import mindspore as ms
        self.net.set_train(False)
        self.net.set_inputs(ms.Tensor(shape=[1, None], dtype=ms.float32))

    def logits(self, wave):
        """Logits (frames, letters) of one chunk ``wave`` (1, T), in one network call."""
        import mindspore as ms
        wave = np.asarray(wave, np.float32)
        length = wave.shape[1]
        mask = np.ones_like(wave)
        if self.fixed_length is not None and length != self.fixed_length:
            padded = np.zeros((1, self.fixed_length), np.float32)
            padded[:, :min(length, self.fixed_length)] = wave[:, :self.fixed_length]
            mask = (np.arange(self.fixed_length) < length).astype(np.float32)[None]
            wave = padded
        inputs = (ms.Tensor(wave), ms.Tensor(mask)) if self.with_mask else (ms.Tensor(wave),)
        out = self.net(*inputs)
        logits = (out[0] if isinstance(out, (tuple, list)) else out).asnumpy()
        return logits[:, :self.frames(length)]

    def receptive_field(self):
        from .frames import receptive_field
        return int(receptive_field(self.kernels, self.strides))

    def frames(self, samples):
        from .frames import output_frames
        return int(output_frames(samples, self.kernels, self.strides))

    def transcribe(self, wave, chunk_seconds=30.0, stride_seconds=5.0):
        """(text, logits (frames, letters)) of a whole recording ``wave`` (T,)."""
        from .chunking import chunked_logits
        wave = np.asarray(wave, np.float32)
        if self.normalize:
            wave = (wave - wave.mean()) / np.sqrt(wave.var() + 1e-5)
        chunk = self.fixed_length or int(round(chunk_seconds * self.sample_rate))
        if not chunk or (len(wave) <= chunk and self.fixed_length is None):
            logits = self.logits(wave[None])[0]
        else:
            stride = int(round(stride_seconds * self.sample_rate))
            logits = chunked_logits(self.logits, wave, chunk, (stride, stride), self.kernels, self.strides)
        return self.letters.decode_greedy(logits), logits


def run_transcribe(args):
    """``infer.py transcribe``: print (and with ``--jsonl`` write) the text of every file;
    returns ``[(path, text)]``."""
    from ..audio.io import find_audio
    from ..data.manifest import write_text
    if args.chunk_seconds < 0 or args.stride_seconds < 0:
        raise UserError(f"--chunk_seconds and --stride_seconds must be >= 0, got "
                        f"{args.chunk_seconds} and {args.stride_seconds}")
    check_one_model(args, '--pretrained', 'P (a Hugging Face model folder, or a fairseq checkpoint '
                                          'with --dict)')
    paths = find_audio(args.sources)
    transcriber = Transcriber(args.model, args.config, args.checkpoint, args.pretrained, args.dict)
    done, rows = [], []
    field, short = transcriber.receptive_field(), 0
    for path, wave, bar in each_readable(paths, transcriber.sample_rate, 'transcribing'):
        if len(wave) < field:
            short += 1
            bar.write(f"skipped: {path}: {len(wave)} samples, shorter than the network's receptive "
                      f"field of {field} ({field / transcriber.sample_rate * 1000:.0f} ms)", file=sys.stderr)
            continue
        text, _ = transcriber.transcribe(wave, args.chunk_seconds, args.stride_seconds)
        bar.write(f"{path}\t{text}")
        done.append((path, text))
        rows.append(json.dumps({'path': path, 'text': text,
                                'seconds': round(len(wave) / transcriber.sample_rate, 3)}) + '\n')
    if short:
        print(f"{short} of {len(paths)} files were shorter than the receptive field and skipped",
              file=sys.stderr)
    if args.jsonl:
        write_text(args.jsonl, ''.join(rows))
    return done


def add_transcribe_arguments(parser):
    parser.add_argument('sources', nargs='+', metavar='FILE_OR_FOLDER',
                        help='audio files, or folders (every .wav/.flac/.ogg under them)')
    add_model_arguments(parser)
    parser.add_argument('--pretrained', help='a Hugging Face wav2vec2 CTC model folder, or a fairseq '
                                             'fine-tuned checkpoint (.pt, with --dict)')
    parser.add_argument('--dict', help="fairseq's letter dictionary dict.ltr.txt (default: beside "
                                       "the fairseq checkpoint)")
    parser.add_argument('--chunk_seconds', type=float, default=30.0,
                        help='longer files run in chunks of this length (default 30; 0 = whole files)')
    parser.add_argument('--stride_seconds', type=float, default=5.0,
                        help='context on each side of a chunk that is computed but not kept (default 5)')
    parser.add_argument('--jsonl', help='also write {"path", "text", "seconds"} per file to this file')


INFER_COMMANDS.register('transcribe', InferCommand(
    about='the text of speech recordings (greedy CTC decoding)',
    add_arguments=add_transcribe_arguments, run=run_transcribe, task='asr',
    subject='a speech recogniser'))
