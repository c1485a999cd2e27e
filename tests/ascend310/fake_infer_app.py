"""A stand-in for ascend310_infer/out/main in the launch-script tests (the real app, built against
the stub API, is tested beside it).

Takes the app's flags (``--key=value``), records them in ``$FAKE_LOG/app.json`` and writes, for
every ``<n>.bin`` of ``--input_path``, ``<output_path>/<n>_0.bin``: the mean over the frames
(float32, one value per column of ``--input_dims``' last dim), as the stub model does.
"""
import json
import os
import sys
from array import array


def main():
    flags = dict(arg[2:].split('=', 1) for arg in sys.argv[1:])
    with open(os.path.join(os.environ['FAKE_LOG'], 'app.json'), 'w') as f:
        json.dump(flags, f)
    columns = int(flags['input_dims'].split(',')[-1])
    os.makedirs(flags['output_path'], exist_ok=True)
    for name in sorted(os.listdir(flags['input_path'])):
        values = array('f')
        with open(os.path.join(flags['input_path'], name), 'rb') as f:
            values.frombytes(f.read())
        rows = len(values) // columns
        mean = array('f', [sum(values[r * columns + c] for r in range(rows)) / rows for c in range(columns)])
        with open(os.path.join(flags['output_path'], name[:-4] + '_0.bin'), 'wb') as f:
            mean.tofile(f)
    print(f"fake app: {len(os.listdir(flags['input_path']))} files")


if __name__ == '__main__':
    main()
