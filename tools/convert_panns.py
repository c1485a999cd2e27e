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
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from src.checkpoint import converted_paths, read_torch_state, save_converted  # noqa: E402
from src.errors import UserError  # noqa: E402


def read_panns_state(path):
    """{key: numpy array} of a torch checkpoint or an ``.npz`` (src.checkpoint.read_torch_state)."""
    return read_torch_state(path, inner_key='model')


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
    from src.panns.convert import panns_front_end
    args = {'classes_num': classes_num or found['classes_num'], 'mel_bins': found['mel_bins']}
    if 'window_size' in found:
        # sample rate, hop and fmax are not in the checkpoint: PANNs ties them to the window
        args.update(panns_front_end(found['window_size']))
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
        out, config_path = converted_paths(args.out, args.config_out)
        params, config, skipped = convert(args.checkpoint, args.classes_num)
        save_converted(params, out, config_path, dict(config, reinitialised=skipped, source=args.checkpoint))
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
