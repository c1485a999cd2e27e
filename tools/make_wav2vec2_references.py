"""Write the extra wav2vec 2.0 parity bundles of tests/data with the real transformers (run with torch).

    /path/to/torch-venv/bin/python tools/make_wav2vec2_references.py [--out tests/data]

Needs torch and transformers 5.23 (``pip install torch transformers==5.23.0``). Not part of the
project's environment: the tests only read what this writes.

Writes, for each configuration in :data:`CONFIGS`, a parity bundle ``wav2vec2_<name>.npz`` in
the format of ``shared/parity/README.md`` (as ``wav2vec2.npz`` / ``wav2vec2_pretraining.npz``):
the state dict (``torch.manual_seed(0)`` before construction, then every parameter the init
leaves constant - LayerNorm / GroupNorm gains and biases, zero biases - plus ``0.1 * N(0, 1)``
from seed 1), the inputs (seed 1234) and the outputs in eval mode (no grad, float32, CPU, the
default sdpa attention):

* ``Wav2Vec2ForCTC`` bundles: ``last_hidden_state``, ``extract_features`` (its ``wav2vec2``
  submodule), ``ctc_logits``, ``ctc_loss`` (the config's ``ctc_loss_reduction`` and
  ``ctc_zero_infinity``; labels padded with -100), with ``attention_mask`` when the config has
  padded utterances.
* ``Wav2Vec2ForPreTraining`` bundles: ``projected_states``, ``projected_quantized_states``,
  ``codevector_perplexity``, ``contrastive_loss``, ``diversity_loss``, ``loss`` for transformers'
  ``_compute_mask_indices`` masks and ``_sample_negative_indices`` negatives.
"""
import argparse
import os
import sys

import numpy as np

from make_dprnn_references import perturb_constants, save_bundle

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SMALL = dict(vocab_size=32, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
             intermediate_size=64, conv_dim=[16] * 7, num_conv_pos_embeddings=16,
             num_conv_pos_embedding_groups=4, num_codevectors_per_group=8, num_codevector_groups=2,
             codevector_dim=16, proj_codevector_dim=16, mask_time_prob=0.05)
LARGE_LAYOUT = dict(feat_extract_norm='layer', conv_bias=True, do_stable_layer_norm=True)
# name -> (head, Wav2Vec2Config arguments, samples per utterance, CTC label counts)
CONFIGS = {
    # LARGE layout (LayerNorm in every conv layer, conv biases, pre-LN), odd length and odd
    # positional kernel
    'large': ('ctc', dict(SMALL, **LARGE_LAYOUT, num_conv_pos_embeddings=15), [16001], [10]),
    # two utterances of different lengths, padded, with an attention mask; 'group' layout
    'padded': ('ctc', SMALL, [9000, 6789], [12, 7]),
    # 'mean' reduction and zero_infinity; the second target is longer than its 18 frames
    'infeasible': ('ctc', dict(SMALL, ctc_loss_reduction='mean', ctc_zero_infinity=True,
                               **LARGE_LAYOUT), [8000, 6000], [9, 25]),
    # pretraining heads on the LARGE layout, batch 2, odd length, no padding (as fairseq)
    'pretraining_large': ('pretraining', dict(SMALL, **LARGE_LAYOUT), [12345, 12345], None),
}
MODEL_CLASS = 'transformers.models.wav2vec2.modeling_wav2vec2.'
NUM_NEGATIVES = 20


def inputs_for(lengths, label_counts, torch, generator):
    """Audio (N, max length) zero-padded, its attention mask if lengths differ, CTC labels."""
    x = torch.zeros(len(lengths), max(lengths))
    for i, length in enumerate(lengths):
        x[i, :length] = torch.randn(length, generator=generator)
    inputs = {'x': x}
    if len(set(lengths)) > 1:
        mask = torch.zeros(len(lengths), max(lengths), dtype=torch.long)
        for i, length in enumerate(lengths):
            mask[i, :length] = 1
        inputs['attention_mask'] = mask
    if label_counts:
        labels = torch.full((len(label_counts), max(label_counts)), -100, dtype=torch.long)
        for i, count in enumerate(label_counts):
            labels[i, :count] = torch.randint(1, SMALL['vocab_size'], (count,), generator=generator)
        inputs['ctc_labels'] = labels
    return inputs


def build(name, torch, transformers):
    from transformers.models.wav2vec2 import modeling_wav2vec2 as hf
    head, kwargs, lengths, label_counts = CONFIGS[name]
    config = transformers.Wav2Vec2Config(**kwargs)
    torch.manual_seed(0)
    model = (hf.Wav2Vec2ForCTC if head == 'ctc' else hf.Wav2Vec2ForPreTraining)(config)
    perturbed = perturb_constants(model, torch, 1)
    model.eval()
    generator = torch.Generator().manual_seed(1234)
    inputs = inputs_for(lengths, label_counts, torch, generator)
    attention_mask = inputs.get('attention_mask')
    with torch.no_grad():
        if head == 'ctc':
            base = model.wav2vec2(inputs['x'], attention_mask=attention_mask)
            out = model(inputs['x'], attention_mask=attention_mask, labels=inputs['ctc_labels'])
            outputs = {'last_hidden_state': base.last_hidden_state,
                       'extract_features': base.extract_features, 'ctc_logits': out.logits,
                       'ctc_loss': out.loss}
        else:
            frames = int(model._get_feat_extract_output_lengths(max(lengths)))
            rng_state = np.random.get_state()
            np.random.seed(1234)
            mask = hf._compute_mask_indices((len(lengths), frames), mask_prob=0.65, mask_length=10,
                                            min_masks=2)
            negatives = hf._sample_negative_indices((len(lengths), frames), NUM_NEGATIVES, mask)
            np.random.set_state(rng_state)
            inputs['mask_time_indices'] = torch.tensor(mask, dtype=torch.bool)
            inputs['sampled_negative_indices'] = torch.tensor(negatives, dtype=torch.long)
            out = model(inputs['x'], mask_time_indices=inputs['mask_time_indices'],
                        sampled_negative_indices=inputs['sampled_negative_indices'])
            outputs = {k: getattr(out, k) for k in (
                'loss', 'contrastive_loss', 'diversity_loss', 'codevector_perplexity',
                'projected_states', 'projected_quantized_states')}
    return model, head, perturbed, inputs, outputs


def write(path, model, head, perturbed, inputs, outputs, versions):
    state = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    inputs = {k: v.numpy() for k, v in inputs.items()}
    outputs = {k: v.detach().numpy() for k, v in outputs.items()}
    class_name = 'Wav2Vec2ForCTC' if head == 'ctc' else 'Wav2Vec2ForPreTraining'
    meta = {'model': f'transformers {class_name}', 'config': model.config.to_dict(),
            'attn_implementation': model.config._attn_implementation,
            'notes': 'eval mode, no grad; written by tools/make_wav2vec2_references.py',
            'perturbed_keys': perturbed, 'versions': versions,
            'seeds': {'init': 0, 'perturb': 1, 'input': 1234},
            'module_prefixes': {'': MODEL_CLASS + class_name}, 'state_keys': list(state),
            'inputs': {k: [list(v.shape), str(v.dtype)] for k, v in inputs.items()},
            'outputs': {k: [list(v.shape), str(v.dtype)] for k, v in outputs.items()}}
    save_bundle(path, state, inputs, outputs, meta)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out', default=os.path.join(ROOT, 'tests', 'data'))
    args = parser.parse_args(argv)
    import torch
    import transformers
    torch.set_num_threads(2)
    versions = {'python': sys.version.split()[0], 'numpy': np.__version__, 'torch': torch.__version__,
                'transformers': transformers.__version__}
    for name in CONFIGS:
        path = os.path.join(args.out, f'wav2vec2_{name}.npz')
        write(path, *build(name, torch, transformers), versions)
        print(f"wrote {path} ({os.path.getsize(path)} bytes)")
    return 0


if __name__ == '__main__':
    sys.exit(main())
