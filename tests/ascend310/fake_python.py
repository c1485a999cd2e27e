"""A stand-in for ``python`` in the launch-script tests: it records every call and plays the scripts.

Each call writes ``$FAKE_LOG/<time>_<pid>.json``: its arguments, working directory and the
launcher variables of its environment. Then, by its arguments:

    -c CODE ..., -m src.distributed ...
                                   the real interpreter runs it (the scripts read JSON that way)
    -m src.recipes ...             recorded, then the real interpreter runs it (the registry
                                   queries of run_demo.sh)
    -m pip show PACKAGE            prints ``Location: $FAKE_PIP_LOCATION`` (build.sh's look-up)
    preprocess.py demo ...         prints one line (writes nothing)
    preprocess.py infer_inputs     writes ``<out>/feats/<n>.bin``, float32 (1, frames, 4) with
                                   frames 3, 5, 3 and values n * 100 + flat index, and the index
                                   ``<out>/utterances.tsv``
    postprocess.py                 reads ``<result_dir>/<n>_0.bin`` of every indexed input and
                                   prints one JSON line: the number of outputs and their sum
    anything else (train.py ...)   prints one line and exits with ``$FAKE_EXIT`` (default 0),
                                   or 3 when ``RANK_ID`` equals ``$FAKE_FAIL_RANK``

preprocess.py and postprocess.py accept the options of the real scripts and nothing else.
"""
import argparse
import json
import os
import sys
import time
from array import array

LAUNCHER_VARIABLES = ('RANK_TABLE_FILE', 'RANK_SIZE', 'RANK_ID', 'DEVICE_ID', 'MS_WORKER_NUM',
                      'OMPI_COMM_WORLD_SIZE')
FRAMES = (3, 5, 3)
N_MELS = 4


def record(argv):
    entry = {'argv': argv, 'cwd': os.getcwd(),
             'env': {name: os.environ.get(name) for name in LAUNCHER_VARIABLES}}
    path = os.path.join(os.environ['FAKE_LOG'], f'{time.time_ns()}_{os.getpid()}.json')
    with open(path, 'w') as f:
        json.dump(entry, f)


def preprocess(argv):
    p = argparse.ArgumentParser(prog='preprocess.py')
    sub = p.add_subparsers(dest='command', required=True)
    d = sub.add_parser('demo')
    d.add_argument('corpora', nargs='*')
    d.add_argument('--out')
    i = sub.add_parser('infer_inputs')
    i.add_argument('--config', required=True)
    i.add_argument('--out', required=True)
    i.add_argument('overrides', nargs='*')
    args = p.parse_args(argv)
    if args.command == 'demo':
        print(f"fake python: demo corpora {' '.join(args.corpora)}")
        return
    os.makedirs(os.path.join(args.out, 'feats'), exist_ok=True)
    rows = []
    for n, frames in enumerate(FRAMES):
        values = array('f', [n * 100 + i for i in range(frames * N_MELS)])
        with open(os.path.join(args.out, 'feats', f'{n}.bin'), 'wb') as f:
            values.tofile(f)
        rows.append(f'{n}\tutt{n}.wav\t{frames}\n')
    with open(os.path.join(args.out, 'utterances.tsv'), 'w') as f:
        f.writelines(rows)
    print(f'{len(rows)} inputs -> {args.out}/feats')


def postprocess(argv):
    p = argparse.ArgumentParser(prog='postprocess.py')
    for flag in ('--config', '--input_dir', '--result_dir'):
        p.add_argument(flag, required=True)
    p.add_argument('--device_target')
    p.add_argument('overrides', nargs='*')
    args = p.parse_args(argv)
    with open(os.path.join(args.input_dir, 'utterances.tsv')) as f:
        count = sum(1 for line in f if line.strip())
    total = 0.0
    for n in range(count):
        values = array('f')
        path = os.path.join(args.result_dir, f'{n}_0.bin')
        with open(path, 'rb') as f:
            values.frombytes(f.read())
        total += sum(values)
    print(json.dumps({'outputs': count, 'sum': total, 'overrides': args.overrides}))


def main():
    argv = sys.argv[1:]
    if argv[:1] == ['-c'] or argv[:2] == ['-m', 'src.distributed']:
        os.execv(sys.executable, [sys.executable] + argv)
    record(argv)
    if argv[:2] == ['-m', 'src.recipes']:
        os.execv(sys.executable, [sys.executable] + argv)
    if argv[:3] == ['-m', 'pip', 'show']:
        print(f"Name: {argv[3]}\nLocation: {os.environ['FAKE_PIP_LOCATION']}")
    elif argv[:1] == ['preprocess.py']:
        preprocess(argv[1:])
    elif argv[:1] == ['postprocess.py']:
        postprocess(argv[1:])
    else:
        print(f"fake python: {' '.join(argv)}")
        failing_rank = os.environ.get('FAKE_FAIL_RANK')
        if failing_rank is not None and os.environ.get('RANK_ID') == failing_rank:
            sys.exit(3)
        sys.exit(int(os.environ.get('FAKE_EXIT', '0')))


if __name__ == '__main__':
    main()
