"""Data preparation: demo corpora and the lists of the real data sets.

    python preprocess.py demo [voxceleb musan rirs_noises] --out data/demo
        writes the demo corpora (deterministic, seconds) in the real sets' on-disk layouts,
        and the training lists of the demo VoxCeleb (data/demo/lists/)
    python preprocess.py voxceleb --roots /data/VoxCeleb2/dev/aac [/data/VoxCeleb1/dev/wav] \\
        --out data/voxceleb [--trials veri_test2.txt list_test_all2.txt list_test_hard2.txt \\
        --trials_audio_root /data/VoxCeleb1/wav]
        training list (train.csv) and speaker map (speakers.json) of VoxCeleb trees; m4a files
        are converted to 16 kHz wav with ffmpeg; trial lists are checked and copied beside them
    python preprocess.py infer_inputs --config configs/ecapa_tdnn/demo.yaml --out runs/demo/infer
        the evaluation inputs as .bin files for an offline runtime (ascend310_infer, or
        `infer.py bins` on any machine): <out>/feats/<n>.bin, or <out>/feats/<input name>/<n>.bin
        for a model with several inputs (src/inference/bins.py); postprocess.py scores what the
        runtime writes
"""
import argparse
import os
import shutil

from src.cli import run_main


def demo(args):
    from src.data.demo import DEMO_CORPORA, make_demo
    names = args.corpora or DEMO_CORPORA.names()
    sizes = {}
    for text in args.size or ():
        key, _, value = text.partition('=')
        sizes[key] = type_of(value)
    written = {}
    for name in names:
        DEMO_CORPORA.get(name)          # unknown names: one-line error with the nearest
        try:
            written[name] = make_demo(name, args.out, seed=args.seed, **(sizes if name == 'voxceleb' else {}))
        except TypeError as err:     # an unknown --size key
            from src.errors import ConfigError
            raise ConfigError(f"--size: {err}") from None
        print(f"{name}: {', '.join(f'{k}={v}' for k, v in written[name].items())}")
    if 'voxceleb' in written:
        from src.ecapa_tdnn.dataset import prepare_voxceleb
        lists = os.path.join(args.out, 'lists')
        manifest = prepare_voxceleb([written['voxceleb']['voxceleb2']], lists, progress=False)
        print(f"voxceleb lists: {manifest}, {os.path.join(lists, 'speakers.json')}")
    return written


def type_of(text):
    import yaml
    return yaml.safe_load(text)


def voxceleb(args):
    from src.data.manifest import read_trials
    from src.ecapa_tdnn.dataset import prepare_voxceleb
    manifest = prepare_voxceleb(args.roots, args.out, convert_m4a=not args.no_convert,
                                min_duration=args.min_duration, exclude_trials=args.exclude_trials,
                                num_jobs=args.jobs)
    for path in args.trials or ():
        trials = read_trials(path, args.trials_audio_root, check_files=bool(args.trials_audio_root))
        target = os.path.join(args.out, os.path.basename(path))
        if os.path.abspath(path) != os.path.abspath(target):
            shutil.copyfile(path, target)
        print(f"trials: {target} ({len(trials)} trials)")
    print(f"training list: {manifest}; speakers: {os.path.join(args.out, 'speakers.json')}")
    return manifest


def infer_inputs(args):
    from src.cli import load_run_config
    from src.recipes import get_recipe
    cfg = load_run_config(args)
    count = get_recipe(cfg.model.name).write_inference_inputs(cfg, args.out)
    print(f"{count} inputs -> {os.path.join(args.out, 'feats')}; their index is beside it in {args.out}")
    return count


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    sub = p.add_subparsers(dest='command', required=True)
    d = sub.add_parser('demo', help='write demo corpora')
    d.add_argument('corpora', nargs='*', help='default: all registered demo corpora')
    d.add_argument('--out', default='data/demo')
    d.add_argument('--seed', type=int, default=0)
    d.add_argument('--size', nargs='*', metavar='key=value',
                   help='voxceleb sizes, e.g. train_speakers=80 num_trials=4000')
    v = sub.add_parser('voxceleb', help='lists of real VoxCeleb trees')
    v.add_argument('--roots', nargs='+', required=True, help='VoxCeleb2 dev/aac or wav trees, VoxCeleb1 wav trees')
    v.add_argument('--out', required=True)
    v.add_argument('--trials', nargs='*', help='trial lists to check and copy (veri_test2.txt format)')
    v.add_argument('--trials_audio_root', help='VoxCeleb1 wav/ folder the trial paths are relative to')
    v.add_argument('--exclude_trials', nargs='*', help='leave out the speakers of these trial lists')
    v.add_argument('--no_convert', action='store_true', help='do not convert m4a (error instead)')
    v.add_argument('--min_duration', type=float, default=1.0)
    v.add_argument('--jobs', type=int, default=4, help='parallel ffmpeg processes')
    i = sub.add_parser('infer_inputs', help='evaluation inputs as .bin files for offline inference')
    i.add_argument('--config', required=True)
    i.add_argument('--out', required=True)
    i.add_argument('--fold', type=int, help='the held-out fold to write (models with folds, e.g. ESC-50)')
    i.add_argument('overrides', nargs='*', metavar='key=value')
    args = p.parse_args(argv)
    return {'demo': demo, 'voxceleb': voxceleb, 'infer_inputs': infer_inputs}[args.command](args)


if __name__ == '__main__':
    run_main(main)
