"""Convert an asteroid DPRNNTasNet model file to a MindSpore checkpoint.

    python tools/convert_asteroid_dprnn.py MODEL.pth|.npz --out model.ckpt [--model-args ARGS.json]

``MODEL`` is what asteroid publishes (``torch.save(model.serialize())``: state dict, model
arguments and infos), read without torch (:mod:`src.dprnn.convert`), or an ``.npz`` of the state
dict with the model arguments in its ``__meta__`` or in ``--model-args`` (a JSON file of
asteroid's ``model_args``). Writes ``model.ckpt`` (parameter names = asteroid's state-dict keys)
and ``model.json``: ``{"model": "dprnn", "args": <DPRNNTasNet arguments>, "source": ...}``. The
weights are loaded into the network before anything is written, so a file that does not fit
fails here, with nothing written.
"""
import argparse
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from src.checkpoint import converted_paths, save_converted  # noqa: E402
from src.errors import UserError  # noqa: E402


def read_model_args(path):
    """asteroid model arguments from a JSON file (a dict, or one with a 'model_args' entry)."""
    if not os.path.isfile(path):
        raise UserError(f"--model-args {path}: no such file")
    try:
        with open(path) as f:
            args = json.load(f)
    except ValueError as err:
        raise UserError(f"--model-args {path}: not JSON ({err})") from None
    args = args.get('model_args', args) if isinstance(args, dict) else args
    if not isinstance(args, dict):
        raise UserError(f"--model-args {path}: expected a JSON object of DPRNNTasNet arguments")
    return args


def convert(path, model_args=None):
    """(params {MindSpore name: array} of the loaded network, DPRNNTasNet arguments)."""
    from src.dprnn.convert import load_asteroid
    network, kwargs = load_asteroid(path, model_args)
    return {name: p.asnumpy() for name, p in network.parameters_and_names()}, kwargs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('model', help="asteroid DPRNNTasNet .pth (serialize()) or .npz state dict")
    parser.add_argument('--out', required=True, help="MindSpore checkpoint to write (.ckpt)")
    parser.add_argument('--model-args', help="JSON of asteroid's model_args, for a file without them")
    parser.add_argument('--config-out', help="network config JSON (default: --out with .json)")
    args = parser.parse_args(argv)
    os.environ.setdefault('GLOG_v', '3')      # MindSpore: errors only
    try:
        out, config_path = converted_paths(args.out, args.config_out)
        model_args = read_model_args(args.model_args) if args.model_args else None
        params, kwargs = convert(args.model, model_args)
        save_converted(params, out, config_path, {'model': 'dprnn', 'args': kwargs, 'source': args.model})
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {out} ({len(params)} tensors, DPRNNTasNet n_src={kwargs['n_src']}, "
          f"{kwargs.get('n_repeats', 6)} blocks) and {config_path}")
    return 0


if __name__ == '__main__':
    sys.exit(main())
