"""Inference with an exported model (or a checkpoint): one sub-command per task.

Speaker verification (ECAPA-TDNN, :mod:`src.ecapa_tdnn.inference`):

    python infer.py verify a.wav b.wav --model runs/demo/export/ecapa_tdnn.mindir [--threshold T]
    python infer.py embed --model M.mindir --list files.txt --out embeddings.npz
    python infer.py verify a.wav b.wav --config configs/ecapa_tdnn/demo.yaml --checkpoint C.ckpt

Sound tagging (PANNs classifiers, or a public PANNs AudioSet tagger, :mod:`src.panns.inference`):

    python infer.py tag dog.wav clips/ --model runs/demo/export/panns_cnn6.mindir [--top_k 3] [--out tags.jsonl]
    python infer.py tag clips/ --config configs/panns/demo.yaml --checkpoint runs/demo/checkpoints/best.ckpt
    python infer.py tag dog.wav --panns Cnn14_mAP=0.431.pth       # the 527 AudioSet classes

Any model, offline (:mod:`src.inference.bins`, what the Ascend 310 app does):

    python infer.py bins --model M.mindir --input runs/demo/infer/feats --output runs/demo/infer/result

A MindIR is read with its JSON sidecar (written by export.py: task, inputs and outputs, sample
rate, features, class names, calibrated threshold). Each model package registers its
sub-commands in :data:`src.inference.commands.INFER_COMMANDS`.
"""
from src.cli import run_main


def main(argv=None):
    from src.inference.commands import build_parser
    args = build_parser(__doc__.splitlines()[0]).parse_args(argv)
    return args.run(args)


if __name__ == '__main__':
    run_main(main)
