"""Convert a PANNs PyTorch checkpoint (Cnn14 / Cnn10 / Cnn6) to a MindSpore one.

    python tools/convert_panns.py CHECKPOINT.pth|.npz --out model.ckpt [--classes-num N]

``CHECKPOINT`` is an audioset_tagging_cnn / panns_inference ``.pth`` (a dict whose ``'model'``
entry is the state dict, or a bare state dict; reading it needs PyTorch) or an ``.npz`` of the
state dict (``np.savez(path, **{k: v.numpy() for k, v in sd.items()})``, no torch needed).
The architecture and class count are read from the tensor shapes. With ``--classes-num``
different from the checkpoint's, the backbone is kept and the tagging head ``fc_audioset`` is
freshly initialised (for fine-tuning). Writes ``model.ckpt`` and ``model.json`` (architecture and
network arguments); the parameters are loaded into the network before anything is written.
"""
import argparse
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from src.errors import CheckpointError, UserError  # noqa: E402


def read_panns_state(path):
    """{key: numpy array} of a PANNs ``.pth`` (``checkpoint['model']`` or a bare state dict) or ``.npz``.

    Raises:
        UserError: the file is missing, or is a torch file and torch is not installed.
        CheckpointError: the file cannot be read as a state dict.
    """
    import numpy as np
    if not os.path.isfile(path):
        raise UserError(f"{path}: no such file")
    if path.endswith('.npz'):
        try:
            with np.load(path, allow_pickle=False) as z:
                return {k: z[k] for k in z.files if not k.startswith('__')}
        except (OSError, ValueError) as err:
            raise CheckpointError(f"{path}: unreadable .npz ({err})") from None
    try:
        import torch
    except ImportError:
        raise UserError(f"reading {path} needs PyTorch: pip install torch, or pass the state dict "
                        "as an .npz instead") from None
    try:
        checkpoint = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as err:   # torch raises many types for a bad file
        raise CheckpointError(f"{path}: not a readable torch checkpoint ({type(err).__name__})") from None
    state = checkpoint.get('model', checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: expected a state dict or a dict with a 'model' state dict")
    return {k: v.detach().cpu().numpy() for k, v in state.items() if hasattr(v, 'detach')}


def convert(path, classes_num=None):
    """Read, convert and load-check a PANNs checkpoint.

    Args:
        path: ``.pth`` or ``.npz`` checkpoint.
        classes_num: classes of the new network; None keeps the checkpoint's.

    Returns:
        (params {MindSpore name: array} of the built network, config dict with ``architecture``
        and ``args``, list of re-initialised parameter names).
    """
    from src.panns.convert import infer_panns_config, load_panns_state
    from src.panns.network import ARCHITECTURES

    state = read_panns_state(path)
    found = infer_panns_config(state)
    args = {'classes_num': classes_num or found['classes_num'], 'mel_bins': found['mel_bins']}
    if 'window_size' in found:
        args['window_size'] = found['window_size']
    net = ARCHITECTURES[found['architecture']](**args)
    skipped = load_panns_state(net, state)
    params = {name: p.asnumpy() for name, p in net.parameters_and_names()}
    return params, {'architecture': found['architecture'], 'args': args,
                    'checkpoint_classes_num': found['classes_num']}, skipped


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('checkpoint', help="PANNs .pth (torch) or .npz state dict")
    parser.add_argument('--out', required=True, help="MindSpore checkpoint to write (.ckpt)")
    parser.add_argument('--classes-num', type=int, help="classes of the new head (default: the checkpoint's)")
    parser.add_argument('--config-out', help="network config JSON (default: --out with .json)")
    args = parser.parse_args(argv)
    os.environ.setdefault('GLOG_v', '3')      # MindSpore: errors only
    try:
        if not args.out.endswith('.ckpt'):
            raise UserError(f"--out {args.out}: name the checkpoint *.ckpt (MindSpore would "
                            "append the suffix)")
        params, config, skipped = convert(args.checkpoint, args.classes_num)
        import mindspore as ms
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        ms.save_checkpoint([{'name': k, 'data': ms.Tensor(v)} for k, v in params.items()], args.out)
        config_path = args.config_out or os.path.splitext(args.out)[0] + '.json'
        with open(config_path, 'w') as f:
            json.dump(dict(config, reinitialised=skipped, source=args.checkpoint), f, indent=1)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {args.out} ({len(params)} tensors, PANNs {config['architecture']}, "
          f"{config['args']['classes_num']} classes) and {config_path}")
    if skipped:
        print(f"note: the checkpoint has {config['checkpoint_classes_num']} classes: "
              f"{', '.join(skipped)} freshly initialised")
    return 0


if __name__ == '__main__':
    sys.exit(main())
