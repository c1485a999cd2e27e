"""Write the DPRNN-TasNet reference files of tests/data with the real asteroid (run with torch).

    /path/to/torch-venv/bin/python tools/make_dprnn_references.py [--out tests/data]

Needs torch and asteroid 0.7.0 (``pip install torch asteroid==0.7.0``; ``--no-deps`` plus
soundfile, packaging, requests and huggingface_hub is enough to import its models and losses).
Not part of the project's environment: the tests only read what this writes.

Writes, for each configuration in :data:`CONFIGS`, a parity bundle ``dprnn_<name>.npz`` in the
format of ``shared/parity/README.md``: the state dict (seeded default init, ``torch.manual_seed(0)``,
then every tensor the init leaves constant - gLN gains and biases, PReLU slopes - plus
``0.1 * N(0, 1)`` from seed 1, so that they are tested), inputs ``x`` and ``targets`` (seed 1234),
and the outputs ``est_sources = model(x)`` and ``(pit_neg_sisdr_loss, reordered_est) =
PITLossWrapper(pairwise_neg_sisdr, pit_from='pw_mtx')(est_sources, targets, return_est=True)``
(eval mode, no grad, float32, CPU). And the asteroid model files the converter tests read:

* ``asteroid_dprnn_3src.pth``: the ``3src`` model as ``torch.save`` of the dict that asteroid's
  ``BaseModel.serialize()`` returns (``model_name``, ``state_dict``, ``model_args``, ``infos``),
  ``infos`` holding numpy scalars and an array as asteroid's recipes leave there (final
  metrics); built here because ``serialize()`` imports pytorch_lightning only to read its version.
* ``asteroid_dprnn_3src_legacy.pth``: the same dict in torch's pre-1.6 (non-zip) format.
"""
import argparse
import json
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SMALL = dict(n_filters=16, kernel_size=16, stride=8, bn_chan=16, hid_size=8, chunk_size=20,
             n_repeats=1)
# name -> (DPRNNTasNet arguments, batch, samples)
CONFIGS = {
    '3src': (dict(SMALL, n_src=3), 2, 2000),
    '4src': (dict(SMALL, n_src=4), 2, 1600),
    'k2': (dict(SMALL, n_src=2, kernel_size=2, stride=1, chunk_size=250), 1, 1200),
    'odd': (dict(n_src=2, bn_chan=32, hid_size=16, n_repeats=1), 1, 8001),
    'uni': (dict(SMALL, n_src=2, bidirectional=False, chunk_size=50, hop_size=20), 1, 7993),
    'gru': (dict(SMALL, n_src=2, rnn_type='GRU', num_layers=2, norm_type='cLN', mask_act='relu'),
            1, 1000),
    'mulcat': (dict(SMALL, n_src=2, use_mulcat=True, norm_type='fgLN', mask_act='softmax',
                    encoder_activation='relu', stride=None, chunk_size=10, hop_size=3), 1, 997),
}
PERTURB = 0.1


def perturb_constants(model, torch, seed):
    """Add PERTURB * N(0, 1) to every parameter whose values are all equal (from seed)."""
    generator = torch.Generator().manual_seed(seed)
    names = []
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.numel() and bool((p == p.flatten()[0]).all()):
                p.add_(PERTURB * torch.randn(p.shape, generator=generator))
                names.append(name)
    return names


def build(name, torch):
    from asteroid.losses import PITLossWrapper, pairwise_neg_sisdr
    from asteroid.models import DPRNNTasNet
    args, batch, samples = CONFIGS[name]
    torch.manual_seed(0)
    model = DPRNNTasNet(**args)
    perturbed = perturb_constants(model, torch, 1)
    model.eval()
    generator = torch.Generator().manual_seed(1234)
    x = torch.randn(batch, samples, generator=generator)
    targets = torch.randn(batch, args['n_src'], samples, generator=generator)
    with torch.no_grad():
        est = model(x)
        loss, reordered = PITLossWrapper(pairwise_neg_sisdr, pit_from='pw_mtx')(
            est, targets, return_est=True)
    return model, args, perturbed, {'x': x, 'targets': targets}, {
        'est_sources': est, 'pit_neg_sisdr_loss': loss, 'reordered_est': reordered}


def write_bundle(path, model, args, perturbed, inputs, outputs, versions):
    state = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    meta = {'model': 'asteroid.models.DPRNNTasNet', 'config': args,
            'model_args': model.get_model_args(),
            'loss': "asteroid PITLossWrapper(pairwise_neg_sisdr, pit_from='pw_mtx')",
            'notes': 'est_sources = model(x); (loss, reordered_est) = pit(est_sources, targets, '
                     'return_est=True); written by tools/make_dprnn_references.py',
            'perturbed_keys': perturbed, 'versions': versions,
            'seeds': {'init': 0, 'perturb': 1, 'input': 1234},
            'module_prefixes': {'': 'asteroid.models.dprnn_tasnet.DPRNNTasNet'},
            'state_keys': list(state),
            'inputs': {k: [list(v.shape), 'float32'] for k, v in inputs.items()},
            'outputs': {k: [list(v.shape), 'float32'] for k, v in outputs.items()}}
    save_bundle(path, state, {k: v.numpy() for k, v in inputs.items()},
                {k: v.numpy() for k, v in outputs.items()}, meta)


def save_bundle(path, state, inputs, outputs, meta):
    """Write a parity bundle: the state arrays, ``__in__.*``, ``__out__.*`` and ``__meta__``."""
    arrays = dict(state)
    arrays.update({f'__in__.{k}': v for k, v in inputs.items()})
    arrays.update({f'__out__.{k}': v for k, v in outputs.items()})
    arrays['__meta__'] = np.array(json.dumps(meta))
    np.savez(path, **arrays)


def serialized(model, torch, asteroid):
    """What ``model.serialize()`` returns, with numpy values in ``infos`` as a recipe leaves."""
    return {'model_name': type(model).__name__, 'state_dict': model.state_dict(),
            'model_args': model.get_model_args(),
            'infos': {'software_versions': {'torch_version': torch.__version__,
                                            'asteroid_version': asteroid.__version__},
                      'final_metrics': {'si_sdr': np.float64(-1.25), 'n_utterances': np.int64(3),
                                        'si_sdr_per_source': np.array([-1.0, -1.5])},
                      'dataset': 'none (random weights)'}}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out', default=os.path.join(ROOT, 'tests', 'data'))
    args = parser.parse_args(argv)
    import asteroid
    import torch
    torch.set_num_threads(2)
    versions = {'python': sys.version.split()[0], 'numpy': np.__version__, 'torch': torch.__version__,
                'asteroid': asteroid.__version__}
    for name in CONFIGS:
        model, config, perturbed, inputs, outputs = build(name, torch)
        path = os.path.join(args.out, f'dprnn_{name}.npz')
        write_bundle(path, model, config, perturbed, inputs, outputs, versions)
        print(f"wrote {path} ({os.path.getsize(path)} bytes)")
        if name == '3src':
            for suffix, zipped in (('', True), ('_legacy', False)):
                path = os.path.join(args.out, f'asteroid_dprnn_3src{suffix}.pth')
                torch.save(serialized(model, torch, asteroid), path,
                           _use_new_zipfile_serialization=zipped)
                print(f"wrote {path} ({os.path.getsize(path)} bytes)")
    return 0


if __name__ == '__main__':
    sys.exit(main())
