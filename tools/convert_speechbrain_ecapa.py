"""Convert a speechbrain ECAPA-TDNN checkpoint (e.g. spkrec-ecapa-voxceleb) to a MindSpore one.

    python tools/convert_speechbrain_ecapa.py --embedding embedding_model.ckpt \\
        [--classifier classifier.ckpt] [--hparams hyperparams.yaml] --out model.ckpt

Writes ``model.ckpt`` (the embedding network's parameters under their own names, the cosine
head's under ``head.``) and ``model.json`` with the network config inferred from the tensor
shapes (and the hyperparameters, when given): the ``model.args`` that build a matching
``EcapaTdnn``. The converted parameters are loaded into that network before anything is written,
so a checkpoint that does not fit fails here rather than later.

Reading speechbrain's ``.ckpt`` files (``torch.save`` state dicts) needs PyTorch; a state dict
saved as ``.npz`` (``np.savez(path, **{k: v.numpy() for k, v in sd.items()})``) does not.
"""
import argparse
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from src.checkpoint import converted_paths, read_torch_state, save_converted  # noqa: E402
from src.errors import CheckpointError, UserError  # noqa: E402


def read_state(path):
    """{key: numpy array} of a torch checkpoint or an ``.npz`` (src.checkpoint.read_torch_state)."""
    return read_torch_state(path)


def convert(embedding, classifier=None, hparams=None, embedding_prefix='', classifier_prefix='head.'):
    """Convert and check; returns (params {name: array}, config dict, number of classes or None).

    Args:
        embedding: path of ``embedding_model.ckpt`` (or .npz).
        classifier: optional path of ``classifier.ckpt`` (or .npz).
        hparams: optional path of the recipe's ``hyperparams.yaml``.
        embedding_prefix, classifier_prefix: prepended to the parameter names in the output.
    """
    from src.ecapa_tdnn.convert import (convert_speechbrain_state, ecapa_hparams_from_yaml,
                                        infer_ecapa_config, load_state_into)
    from src.ecapa_tdnn.loss import CosineClassifier
    from src.ecapa_tdnn.network import EcapaTdnn

    args = {}
    if hparams:
        if not os.path.isfile(hparams):
            raise UserError(f"{hparams}: no such file")
        with open(hparams) as f:
            args = ecapa_hparams_from_yaml(f.read(), hparams)
    state = read_state(embedding)
    config = infer_ecapa_config(state, args)
    net_params = convert_speechbrain_state(state)
    load_state_into(EcapaTdnn(**config), net_params)                  # strict fit check
    params = {embedding_prefix + k: v for k, v in net_params.items()}
    num_classes = None
    if classifier:
        head_params = convert_speechbrain_state(read_state(classifier))
        if set(head_params) != {'weight'} or head_params['weight'].ndim != 2:
            raise CheckpointError(f"{classifier}: expected one 2-D 'weight' (speechbrain "
                                  f"Classifier with lin_blocks=0), got {sorted(head_params)}")
        num_classes, width = head_params['weight'].shape
        if width != config['lin_neurons']:
            raise CheckpointError(f"{classifier}: weight is {num_classes} x {width}, the embedding "
                                  f"has {config['lin_neurons']} values")
        load_state_into(CosineClassifier(width, num_classes), head_params)
        params.update({classifier_prefix + k: v for k, v in head_params.items()})
    return params, config, num_classes


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--embedding', required=True, help="speechbrain embedding_model.ckpt (or .npz)")
    parser.add_argument('--classifier', help="speechbrain classifier.ckpt (or .npz)")
    parser.add_argument('--hparams', help="the model's hyperparams.yaml (gives dilations)")
    parser.add_argument('--out', required=True, help="MindSpore checkpoint to write (.ckpt)")
    parser.add_argument('--config-out', help="network config JSON (default: --out with .json)")
    parser.add_argument('--embedding-prefix', default='', help="name prefix of the network's parameters")
    parser.add_argument('--classifier-prefix', default='head.', help="name prefix of the head's weight")
    args = parser.parse_args(argv)
    os.environ.setdefault('GLOG_v', '3')      # MindSpore: errors only
    try:
        out, config_path = converted_paths(args.out, args.config_out)
        params, config, num_classes = convert(args.embedding, args.classifier, args.hparams,
                                              args.embedding_prefix, args.classifier_prefix)
        save_converted(params, out, config_path,
                       {'model': 'ecapa_tdnn', 'args': config, 'num_classes': num_classes,
                        'embedding_prefix': args.embedding_prefix,
                        'classifier_prefix': args.classifier_prefix if num_classes else None,
                        'source': {'embedding': args.embedding, 'classifier': args.classifier,
                                   'hparams': args.hparams}})
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {args.out} ({len(params)} tensors) and {config_path}: channels {config['channels']}, "
          f"lin_neurons {config['lin_neurons']}" + (f", {num_classes} classes" if num_classes else ''))
    return 0


if __name__ == '__main__':
    sys.exit(main())
