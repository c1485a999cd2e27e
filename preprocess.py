"""Data preparation: demo corpora, the lists of the real data sets, offline inference inputs.

    python preprocess.py demo [voxceleb musan rirs_noises esc50 librispeech librimix] --out data/demo \\
        [--size key=value ...]
        writes the demo corpora (deterministic, seconds) in the real sets' on-disk layouts,
        and the lists a recipe reads where a corpus needs some (the demo VoxCeleb's in
        data/demo/lists/); a size goes to every named corpus that takes it
    python preprocess.py CORPUS ...     (python preprocess.py CORPUS --help for its options)
        the registered corpus preparers (src/data/prepare.py), e.g.
    python preprocess.py voxceleb --roots /data/VoxCeleb2/dev/aac [/data/VoxCeleb1/dev/wav] \\
        --out data/voxceleb [--trials veri_test2.txt list_test_all2.txt list_test_hard2.txt \\
        --trials_audio_root /data/VoxCeleb1/wav]
        training list (train.csv) and speaker map (speakers.json) of VoxCeleb trees; m4a files
        are converted to 16 kHz wav with ffmpeg; trial lists are checked and copied beside them
    python preprocess.py esc50 --root /data/ESC-50 --out data/esc50 [--esc10]
        checks an ESC-50 tree (meta/esc50.csv, every clip of it in audio/) and lists its clips
        (clips.csv; the missing ones in missing.txt)
    python preprocess.py librimix --root /data/LibriMix --out data/librimix [--n_src 2] \\
        [--sample_rate 8000] [--mode min] [--task sep_clean]
        checks a LibriMix tree (metadata CSVs, every file they name, rates, channels and lengths
        of a sample) and lists its mixtures per split (<split>.csv, dataset.json): train from
        them with data.layout=manifest data.root=data/librimix; `wsj0-2mix` and `wham` do the
        same for those trees (splits tr, cv, tt)
    python preprocess.py librispeech --root /data/LibriSpeech --out data/librispeech \\
        [--splits train-clean-100 dev-clean test-clean] [--valid dev-other] [--test test-other]
        fairseq's manifests of LibriSpeech splits (<split>.tsv/.ltr/.wrd, dev-clean ->
        dev_clean; train-960 = the three training splits), train/valid/test.* for the recipe's
        default subsets and dict.ltr.txt of the training letters (wav2vec 2.0)
    python preprocess.py infer_inputs --config configs/ecapa_tdnn/demo.yaml --out runs/demo/infer
        the evaluation inputs as .bin files for an offline runtime (ascend310_infer, or
        `infer.py bins` on any machine): <out>/feats/<n>.bin, or <out>/feats/<input name>/<n>.bin
        for a model with several inputs (src/inference/bins.py); postprocess.py scores what the
        runtime writes
"""
import argparse
import inspect
import os

from src.cli import run_main

# Sub-commands of this script besides the registered corpus preparers.
GENERIC_COMMANDS = ('demo', 'infer_inputs')


def demo(args):
    from src.data.demo import DEMO_CORPORA, make_demo
    from src.data.prepare import describe_written
    from src.errors import ConfigError
    names = args.corpora or DEMO_CORPORA.names()
    corpora = {name: DEMO_CORPORA.get(name) for name in names}   # unknown: nearest-name error
    sizes = {}
    for text in args.size or ():
        key, _, value = text.partition('=')
        sizes[key] = type_of(value)
    takes = {name: set(inspect.signature(corpus.make).parameters) for name, corpus in corpora.items()}
    for key in sizes:
        if not any(key in keys for keys in takes.values()):
            raise ConfigError(f"--size {key}: none of the corpora {', '.join(names)} takes it; "
                              "see the make_*_demo functions of src/data/demo/ for their sizes")
    for key, value in sizes.items():       # a size of another type than the default's
        defaults = [p.default for c in corpora.values()
                    for n, p in inspect.signature(c.make).parameters.items() if n == key]
        want = type(defaults[0]) if defaults and defaults[0] is not None else None
        fits = want is None or isinstance(value, want) or (want is float and isinstance(value, int)) \
            or (want is tuple and isinstance(value, list))
        if not fits or isinstance(value, bool) != (want is bool):
            raise ConfigError(f"--size {key}={value!r}: give {want.__name__ if want else 'a value'} "
                              f"like its default {defaults[0]!r}")
    written = {}
    for name, corpus in corpora.items():
        own = {key: value for key, value in sizes.items() if key in takes[name]}
        try:
            written[name] = make_demo(name, args.out, seed=args.seed, **own)
        except TypeError as err:     # a size of the wrong type
            raise ConfigError(f"--size: {err}") from None
        print(f"{name}: {', '.join(f'{k}={v}' for k, v in written[name].items())}")
        if corpus.lists is not None:
            print(f"{name} lists: {describe_written(corpus.lists(written[name], args.out))}")
    return written


def type_of(text):
    import yaml
    return yaml.safe_load(text)


def prepare(name, preparer, options):
    from src.data.prepare import describe_written
    manifest = preparer.run(options)
    print(f"{name}: {describe_written(manifest)}")
    return manifest


def infer_inputs(args):
    from src.cli import load_run_config
    from src.recipes import get_recipe
    cfg = load_run_config(args)
    count = get_recipe(cfg.model.name).write_inference_inputs(cfg, args.out)
    print(f"{count} inputs -> {os.path.join(args.out, 'feats')}; their index is beside it in {args.out}")
    return count


def build_parser():
    """The parser: the generic sub-commands and one per registered corpus preparer."""
    from src.data.prepare import CORPORA
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    sub = p.add_subparsers(dest='command', required=True)
    d = sub.add_parser('demo', help='write demo corpora')
    d.add_argument('corpora', nargs='*', help='default: all registered demo corpora')
    d.add_argument('--out', default='data/demo')
    d.add_argument('--seed', type=int, default=0)
    d.add_argument('--size', nargs='*', metavar='key=value',
                   help='corpus sizes, e.g. train_speakers=80 num_trials=4000 (VoxCeleb)')
    d.set_defaults(run=demo)
    for name, preparer in CORPORA.items():
        if name in GENERIC_COMMANDS:
            raise ValueError(f"corpus preparer {name!r} would hide the sub-command {name}")
        c = sub.add_parser(name, help=preparer.help)
        preparer.add_arguments(c)
        c.set_defaults(run=lambda options, name=name, preparer=preparer: prepare(name, preparer, options))
    i = sub.add_parser('infer_inputs', help='evaluation inputs as .bin files for offline inference')
    i.add_argument('--config', required=True)
    i.add_argument('--out', required=True)
    i.add_argument('--fold', type=int, help='the held-out fold to write (models with folds, e.g. ESC-50)')
    i.add_argument('overrides', nargs='*', metavar='key=value')
    i.set_defaults(run=infer_inputs)
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    run = args.run
    if args.command in GENERIC_COMMANDS:
        return run(args)
    options = {key: value for key, value in vars(args).items() if key not in ('command', 'run')}
    return run(options)


if __name__ == '__main__':
    run_main(main)
