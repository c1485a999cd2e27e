"""Convert a Hugging Face wav2vec 2.0 folder or a fairseq checkpoint to a MindSpore checkpoint.

    python tools/convert_wav2vec2.py SRC --out model.ckpt [--config-out config.yaml]
        [--dictionary dict.ltr.txt] [--head ctc|pretraining|model]

``SRC`` is a transformers model folder (config.json, model.safetensors or pytorch_model.bin,
sharded or not, vocab.json for CTC) or a fairseq checkpoint (a pretrained ``wav2vec2`` model such
as wav2vec_small.pt, or a fine-tuned ``wav2vec_ctc`` one such as wav2vec_small_100h.pt with its
dict.ltr.txt beside it or in ``--dictionary``), read without torch
(:mod:`src.wav2vec2.pretrained`). ``--head model`` keeps the encoder alone (to fine-tune from).
The weights are loaded into the network the source's config builds before anything is written,
so a source that does not fit fails here, with nothing written. Writes ``model.ckpt`` (transformers'
parameter names), for CTC the letters beside it (``model.vocab.json`` or ``model.dict.ltr.txt``, a
copy of the source's), and a config stub (default ``model.yaml``): the ``model`` section of a run
config (name, args, pretrained) to complete with the data and training sections.
"""
import argparse
import os
import shutil
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from src.checkpoint import converted_paths, save_params  # noqa: E402
from src.errors import UserError  # noqa: E402

# the registered model of each head (the recipe's names)
# a bare encoder (Wav2Vec2Model) is the start of a CTC fine-tuning
MODEL_NAMES = {'ctc': 'wav2vec2_ctc', 'pretraining': 'wav2vec2_pretraining', 'model': 'wav2vec2_ctc'}
# the name of the letters file written beside the checkpoint, by vocabulary kind
LETTERS_SUFFIXES = {'hf_vocab': '.vocab.json', 'fairseq_dict': '.dict.ltr.txt'}


def convert(source, dictionary=None, head=None):
    """(params {MindSpore name: array} of the loaded network, network kwargs, VocabFile or
    None, head)."""
    from src.wav2vec2.pretrained import load_pretrained
    network, kwargs, vocab, head = load_pretrained(source, dictionary, head)
    return {name: p.asnumpy() for name, p in network.parameters_and_names()}, kwargs, vocab, head


def atomic_copy(source, path):
    tmp = f"{path}.tmp{os.getpid()}"
    shutil.copyfile(source, tmp)
    os.replace(tmp, path)


def config_stub(source, out, head, kwargs, letters):
    """The YAML text of the run config's model section for the converted checkpoint."""
    import yaml
    from src.config import to_dict
    lines = [f"# {MODEL_NAMES[head]} converted from {source} by tools/convert_wav2vec2.py"]
    if letters:
        lines.append(f"# letters: {letters}")
    model = {'name': MODEL_NAMES[head], 'args': to_dict(kwargs), 'pretrained': out}
    return '\n'.join(lines) + '\n' + yaml.safe_dump({'model': model}, sort_keys=False)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('source', help="transformers model folder or fairseq checkpoint (.pt)")
    parser.add_argument('--out', required=True, help="MindSpore checkpoint to write (.ckpt)")
    parser.add_argument('--config-out', help="config stub (YAML; default: --out with .yaml)")
    parser.add_argument('--dictionary', help="fairseq dict.ltr.txt of a fine-tuned checkpoint "
                        "(default: beside it)")
    parser.add_argument('--head', choices=sorted(MODEL_NAMES), help="default: the source's")
    args = parser.parse_args(argv)
    os.environ.setdefault('GLOG_v', '3')      # MindSpore: errors only
    try:
        out, config_path = converted_paths(args.out, args.config_out or os.path.splitext(args.out)[0] + '.yaml')
        params, kwargs, vocab, head = convert(args.source, args.dictionary, args.head)
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
        save_params(params, out)
        letters = None
        if vocab is not None:
            letters = os.path.splitext(out)[0] + LETTERS_SUFFIXES[vocab.kind]
            atomic_copy(vocab.path, letters)
        text = config_stub(args.source, out, head, kwargs, letters)
        tmp = f"{config_path}.tmp{os.getpid()}"
        with open(tmp, 'w') as f:
            f.write(text)
        os.replace(tmp, config_path)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {out} ({len(params)} tensors, wav2vec2 {head}, {kwargs.get('num_hidden_layers', 12)} "
          f"layers of {kwargs.get('hidden_size', 768)}){f', {letters}' if letters else ''} and {config_path}")
    return 0


if __name__ == '__main__':
    sys.exit(main())
