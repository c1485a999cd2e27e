"""``infer.py verify`` and ``infer.py embed``: speaker verification with an exported ECAPA-TDNN
(a MindIR with its sidecar) or a config with a checkpoint.

``verify A B`` prints the cosine score of two recordings and the decision at the threshold that
eval.py calibrated (kept in the sidecar) or ``--threshold``; ``embed`` writes one embedding per
file of a list (``.npz`` of paths and embeddings).
"""
import json
import os
import sys

import numpy as np

from ..errors import UserError
from ..inference.commands import INFER_COMMANDS, InferCommand, add_model_arguments, check_task


def speaker_check(meta, where):
    """UserError unless ``meta`` (a sidecar, or a config's model facts) is a speaker embedding
    model's with its features and sample rate."""
    check_task(meta, where, 'embed')
    if 'features' not in meta or 'sample_rate' not in meta:
        raise UserError(f"{where} lacks 'features'/'sample_rate': it is not an "
                        "export.py sidecar of this model; re-export")


class Embedder:
    """fbank + network of a MindIR (with sidecar) or of a config + checkpoint: file -> embedding.

    Attributes:
        meta: the model's facts (a sidecar's), with the calibrated 'threshold' when known.
    """

    def __init__(self, model=None, config=None, checkpoint=None):
        from ..audio import Fbank
        from ..inference.models import load_checkpoint_model, load_mindir
        if model:
            self.net, self.meta = load_mindir(model, check=speaker_check)
        else:
            _, _, self.net, self.meta = load_checkpoint_model(config, checkpoint, check=speaker_check)
        self.fbank = Fbank(**self.meta['features'])
        self.sample_rate = self.meta['sample_rate']
        shape = (self.meta.get('inputs') or [{}])[0].get('shape') or []
        if model and len(shape) > 1 and shape[1] is not None:
            # a speaker model exported at a fixed length (Ascend 310) takes only that many frames
            raise UserError(f"{model} takes exactly {shape[1]} fbank frames: verify and embed need "
                            "a dynamic-length export (export.py without --fixed_frames/--fixed_seconds)")

    def __call__(self, path):
        import mindspore as ms
        from ..audio import read_audio
        feats = self.fbank(read_audio(path, self.sample_rate))[None].astype(np.float32)
        emb = self.net(ms.Tensor(feats))
        return emb.asnumpy().reshape(-1)


def _embedder(args):
    if not args.model and not (args.config and args.checkpoint):
        raise UserError("pass --model M.mindir, or --config C.yaml with --checkpoint X.ckpt")
    return Embedder(args.model, args.config, args.checkpoint)


def run_verify(args):
    """Print ``{"score", "threshold", "decision"}`` of two files; returns the score."""
    embed = _embedder(args)
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


def run_embed(args):
    """Embeddings of the files of ``--list`` -> ``--out`` (.npz, written atomically)."""
    if not os.path.exists(args.list):
        raise UserError(f"list not found: {args.list}")
    embed = _embedder(args)
    with open(args.list) as f:
        paths = [line.strip() for line in f if line.strip()]
    if not paths:
        raise UserError(f"{args.list} lists no audio files (one path per line)")
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    from ..engine.trainer import progress
    embeddings = np.stack([embed(path) for path in progress(paths, desc='embed')])
    tmp = args.out + '.tmp.npz'
    np.savez(tmp, paths=np.asarray(paths), embeddings=embeddings)
    out = args.out if args.out.endswith('.npz') else args.out + '.npz'
    os.replace(tmp, out)
    print(f"{len(paths)} embeddings of dimension {embeddings.shape[1]} -> {out}")
    return embeddings


def add_verify_arguments(parser):
    add_model_arguments(parser)
    parser.add_argument('enroll')
    parser.add_argument('test')
    parser.add_argument('--threshold', type=float, help='accept when score >= threshold '
                        '(default: the calibrated EER threshold of the sidecar)')


def add_embed_arguments(parser):
    add_model_arguments(parser)
    parser.add_argument('--list', required=True, help='text file, one audio path per line')
    parser.add_argument('--out', required=True, help='output .npz (paths, embeddings)')


SPEAKER_MODEL = 'a speaker embedding model'
INFER_COMMANDS.register('verify', InferCommand(
    about='are two recordings of the same speaker? (cosine score)', add_arguments=add_verify_arguments,
    run=run_verify, task='speaker_verification', subject=SPEAKER_MODEL))
INFER_COMMANDS.register('embed', InferCommand(
    about='speaker embeddings of the files of a list', add_arguments=add_embed_arguments,
    run=run_embed, task='speaker_verification', subject=SPEAKER_MODEL))
