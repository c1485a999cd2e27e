"""Speaker verification with an exported model (or a checkpoint).

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
"""
import argparse
import json
import os
import sys

import numpy as np

from src.cli import run_main
from src.errors import UserError


class Embedder:
    """fbank + network of a MindIR (with sidecar) or of a config + checkpoint."""

    def __init__(self, model=None, config=None, checkpoint=None):
        from src.runtime import set_up_runtime
        set_up_runtime('CPU', 'graph')
        import mindspore as ms
        from src.audio import Fbank
        if model:
            sidecar_path = os.path.splitext(model)[0] + '.json'
            if not os.path.exists(model):
                raise UserError(f"model not found: {model}")
            if not os.path.exists(sidecar_path):
                raise UserError(f"{sidecar_path} not found: export.py writes it beside the MindIR; "
                                "re-export or copy it along")
            with open(sidecar_path) as f:
                self.meta = json.load(f)
            try:
                self.net = ms.nn.GraphCell(ms.load(model))
            except (RuntimeError, ValueError) as err:
                raise UserError(f"{model}: not a loadable MindIR ({str(err).strip()[:100]}); "
                                "re-export it with export.py") from None
            if 'features' not in self.meta or 'sample_rate' not in self.meta:
                raise UserError(f"{sidecar_path} lacks 'features'/'sample_rate': it is not an "
                                "export.py sidecar of this model; re-export")
            shape = self.meta.get('input_shape')
            if shape and None in shape:
                # declare the dynamic axes: otherwise every new length is compiled anew (~1 s)
                self.net.set_inputs(ms.Tensor(shape=shape, dtype=ms.float32))
        else:
            from eval import load_network
            from src.cli import load_run_config
            args = argparse.Namespace(config=config, overrides=[])
            cfg = load_run_config(args)
            recipe, self.net = load_network(cfg, checkpoint)
            from export import calibrated_threshold
            self.meta = dict(recipe.sidecar(cfg))
            # a checkpoint of a run lives in <run_dir>/checkpoints/: its evaluation is beside it
            run_dir = os.path.dirname(os.path.dirname(os.path.abspath(checkpoint)))
            threshold = calibrated_threshold(run_dir, checkpoint)
            if threshold is not None:
                self.meta['threshold'] = threshold
        self.fbank = Fbank(**self.meta['features'])
        self.sample_rate = self.meta['sample_rate']

    def __call__(self, path):
        import mindspore as ms
        from src.audio import read_audio
        feats = self.fbank(read_audio(path, self.sample_rate))[None].astype(np.float32)
        emb = self.net(ms.Tensor(feats))
        return emb.asnumpy().reshape(-1)


def run_bins(model, input_dir, output_dir):
    """Every ``<n>.bin`` of ``input_dir`` through the MindIR -> ``<output_dir>/<n>_0.bin``."""
    embed = Embedder(model)
    shape = embed.meta.get('input_shape') or [1, None, embed.fbank.n_mels]
    if not os.path.isdir(input_dir):
        raise UserError(f"input folder not found: {input_dir}")
    names = sorted((f for f in os.listdir(input_dir) if f.endswith('.bin')), key=lambda f: (len(f), f))
    if not names:
        raise UserError(f"no .bin files in {input_dir}: run `python preprocess.py infer_inputs` first")
    import mindspore as ms
    from src.engine.trainer import progress
    os.makedirs(output_dir, exist_ok=True)
    for name in progress(names, desc='inference'):
        x = np.fromfile(os.path.join(input_dir, name), np.float32).reshape(1, -1, shape[-1])
        y = embed.net(ms.Tensor(x)).asnumpy().astype(np.float32)
        y.tofile(os.path.join(output_dir, name[:-4] + '_0.bin'))
    print(f"{len(names)} outputs -> {output_dir}")
    return len(names)


def main():
    p = argparse.ArgumentParser(description='speaker verification with an exported model')
    sub = p.add_subparsers(dest='command', required=True)
    for name in ('verify', 'embed'):
        s = sub.add_parser(name)
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
    b = sub.add_parser('bins')
    b.add_argument('--model', required=True, help='exported .mindir (its .json sidecar beside it)')
    b.add_argument('--input', required=True, help='folder of <n>.bin inputs (preprocess.py infer_inputs)')
    b.add_argument('--output', required=True, help='folder for the <n>_0.bin outputs')
    args = p.parse_args()
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
