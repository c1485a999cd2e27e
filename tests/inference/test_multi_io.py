"""A model with two inputs and two outputs (waveform + padding mask -> features + lengths, the
interface of wav2vec 2.0's CTC model in small) through the whole offline chain: export.py (in
this process) with a dynamic and a fixed length, the sidecar, ``infer.py bins`` and the C++ app
(built against the stub API, whose fake model computes what this network does), compared with the
network's own outputs; and the one-line errors of sidecars and input folders."""
import json
import os
import shutil
from dataclasses import dataclass

import numpy as np
import pytest

from src.engine.recipe import Recipe
from src.errors import UserError
from src.inference.bins import write_item
from tests.ascend310.stub_app import run_app
from tests.helpers import raises_one_line

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NAME = 'toy_masked_features'
LENGTHS = (37, 50, 37)          # samples per item: two shapes, one of them twice
PADDING = (5, 0, 11)            # padded samples at the end of each item


@dataclass
class ToyData:
    sample_rate: int = 16000


def masked_features(gain=1.0):
    from mindspore import Parameter, Tensor, nn
    import mindspore as ms

    class MaskedFeatures(nn.Cell):
        """(waveform (N, T) float32, padding_mask (N, T) int32, 1 = padding) ->
        (features (N, T): the waveform where it is not padding, times ``gain``; lengths (N,) int32)."""

        def __init__(self):
            super().__init__()
            self.gain = Parameter(Tensor(np.float32(gain)), name='gain')

        def construct(self, waveform, padding_mask):
            keep = padding_mask == 0
            features = waveform * keep.astype(waveform.dtype) * self.gain
            lengths = keep.astype(ms.int32).sum(-1).astype(ms.int32)
            return features, lengths

    return MaskedFeatures()


class ToyMaskedRecipe(Recipe):
    data_schema = ToyData
    eval_schema = ToyData

    def export_signature(self, cfg):
        return {'task': 'feature_extraction',
                'inputs': [{'name': 'waveform', 'dtype': 'float32', 'axes': ['batch', 'samples'], 'doc': 'audio'},
                           {'name': 'padding_mask', 'dtype': 'int32', 'axes': ['batch', 'samples'],
                            'doc': '1 where the waveform is padding'}],
                'outputs': [{'name': 'features', 'dtype': 'float32', 'axes': ['batch', 'samples']},
                            {'name': 'lengths', 'dtype': 'int32', 'axes': ['batch']}]}

    def sidecar(self, cfg):
        return {'model': cfg.model.name, 'sample_rate': cfg.data.sample_rate}


def register_toy_masked():
    from src.recipes import MODELS, load_recipes
    load_recipes()
    if NAME not in MODELS:
        MODELS.register(NAME, ToyMaskedRecipe(masked_features))
    return MODELS.get(NAME)


@pytest.fixture(scope='module')
def toy(tmp_path_factory):
    """The toy network (gain 1: the stub app's fake model computes the same), its checkpoint,
    config, dynamic export (by export.py's main, in this process) and items."""
    import mindspore as ms
    import export
    from src.checkpoint import save_params
    from src.runtime import MODES
    register_toy_masked()
    out = tmp_path_factory.mktemp('multi_io')
    net = masked_features()
    net.set_train(False)
    ckpt = str(out / 'toy.ckpt')
    save_params(net, ckpt)
    config = out / 'toy.yaml'
    config.write_text(json.dumps({'model': {'name': NAME}, 'run_dir': str(out / 'run')}))
    try:
        mindir = export.main(['--config', str(config), '--checkpoint', ckpt, '--file_name', str(out / 'export' / 'toy')])
    finally:
        ms.set_context(mode=MODES['pynative'])
    rng = np.random.default_rng(0)
    items = []
    for length, padding in zip(LENGTHS, PADDING):
        waveform = rng.standard_normal((1, length)).astype(np.float32)
        mask = np.zeros((1, length), np.int32)
        mask[:, length - padding:] = 1
        items.append({'waveform': waveform, 'padding_mask': mask})
    feats = out / 'infer' / 'feats'
    for n, item in enumerate(items):
        write_item(str(feats), n, item)
    expected = [[y.asnumpy() for y in net(ms.Tensor(item['waveform']), ms.Tensor(item['padding_mask']))]
                for item in items]
    return {'dir': out, 'net': net, 'ckpt': ckpt, 'config': str(config), 'mindir': mindir, 'feats': feats,
            'items': items, 'expected': expected}


def infer_main(*argv):
    """infer.py's main in this process; restores PyNative afterwards."""
    import mindspore as ms
    import infer
    from src.runtime import MODES
    try:
        return infer.main([str(a) for a in argv])
    finally:
        ms.set_context(mode=MODES['pynative'])


def check_outputs(result_dir, toy):
    """Every item's two outputs, read in the sidecar's dtypes, equal the network's."""
    assert sorted(os.listdir(result_dir)) == sorted(f'{n}_{i}.bin' for n in range(len(LENGTHS)) for i in (0, 1))
    for n, (features, lengths) in enumerate(toy['expected']):
        got_features = np.fromfile(os.path.join(result_dir, f'{n}_0.bin'), np.float32)
        got_lengths = np.fromfile(os.path.join(result_dir, f'{n}_1.bin'), np.int32)
        np.testing.assert_array_equal(got_features, features.reshape(-1))
        np.testing.assert_array_equal(got_lengths, lengths.reshape(-1))
        assert got_lengths.tolist() == [LENGTHS[n] - PADDING[n]]


def test_sidecar_names_the_inputs_and_outputs(toy):
    with open(toy['mindir'][:-len('.mindir')] + '.json') as f:
        meta = json.load(f)
    assert meta['task'] == 'feature_extraction' and meta['model'] == NAME and meta['sample_rate'] == 16000
    assert [(x['name'], x['dtype'], x['shape'], x['axes']) for x in meta['inputs']] == [
        ('waveform', 'float32', [None, None], ['batch', 'samples']),
        ('padding_mask', 'int32', [None, None], ['batch', 'samples'])]
    assert [(y['name'], y['dtype'], y['shape']) for y in meta['outputs']] == [
        ('features', 'float32', [None, None]), ('lengths', 'int32', [None])]
    assert meta['offline_files'] == {'inputs': ['feats/waveform/<n>.bin', 'feats/padding_mask/<n>.bin'],
                                     'outputs': ['result/<n>_0.bin', 'result/<n>_1.bin']}
    assert sorted(os.listdir(toy['feats'])) == ['padding_mask', 'waveform']       # one folder per input


def test_bins_reads_every_input_and_writes_every_output(toy, tmp_path):
    assert infer_main('bins', '--model', toy['mindir'], '--input', toy['feats'], '--output', tmp_path / 'r') == 3
    check_outputs(tmp_path / 'r', toy)


def test_the_app_reads_every_input_and_writes_every_output(toy, stub_app, tmp_path):
    model = tmp_path / 'toy.mindir'            # the stub API's model file: two dynamic inputs
    model.write_text('input_shape -1 -1\ninput_shape -1 -1\ninput_type 43 34\n')
    # the flags run_infer_310.sh derives from the sidecar
    done = run_app(stub_app, f'--mindir_path={model}', f"--input_path={toy['feats']}", f'--output_path={tmp_path}/a',
                   '--input_dims=1,-1;1,-1', '--input_names=waveform,padding_mask', '--input_types=float32,int32')
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == '[stub] build device=0 precision= shape=1,37;1,37'
    assert [x for x in lines if x.startswith('[stub] resize')] == ['[stub] resize 1,50;1,50']
    assert 'input waveform 1,-1 float32; padding_mask 1,-1 int32; 3 files, 2 distinct shapes' in lines[1]
    check_outputs(tmp_path / 'a', toy)
    # without flags: shapes and types from the model; the folder names are still needed
    done = run_app(stub_app, f'--mindir_path={model}', f"--input_path={toy['feats']}", f'--output_path={tmp_path}/b',
                   '--input_names=waveform,padding_mask')
    assert done.returncode == 0, done.stdout + done.stderr
    check_outputs(tmp_path / 'b', toy)


def test_fixed_length_export_of_two_inputs(toy, tmp_path):
    from src.config import load_config
    from src.inference.export import export_model
    cfg = load_config(toy['config'])
    _, sidecar = export_model(cfg, toy['ckpt'], str(tmp_path / 'fixed'), fixed_frames=LENGTHS[0])
    with open(sidecar) as f:
        meta = json.load(f)
    assert [x['shape'] for x in meta['inputs']] == [[1, 37], [1, 37]]
    assert [y['shape'] for y in meta['outputs']] == [[1, 37], [1]]
    feats = tmp_path / 'feats'
    for n in (0, 2):                  # the items of the fixed length
        write_item(str(feats), n, toy['items'][n])
    infer_main('bins', '--model', tmp_path / 'fixed.mindir', '--input', feats, '--output', tmp_path / 'r')
    for n in (0, 2):
        np.testing.assert_array_equal(np.fromfile(tmp_path / 'r' / f'{n}_0.bin', np.float32),
                                      toy['expected'][n][0].reshape(-1))


def test_sidecar_without_a_task_is_a_one_line_error(toy, tmp_path, capsys):
    from src.cli import run_main
    import infer
    model = shutil.copy(toy['mindir'], tmp_path / 'old.mindir')
    with open(toy['mindir'][:-len('.mindir')] + '.json') as f:
        meta = json.load(f)
    del meta['task']
    (tmp_path / 'old.json').write_text(json.dumps(meta))
    args = ('bins', '--model', str(model), '--input', str(toy['feats']), '--output', str(tmp_path / 'r'))
    raises_one_line(UserError, lambda: infer_main(*args), f"{tmp_path / 'old.json'} has no 'task'",
                    're-export the model with export.py')
    with pytest.raises(SystemExit) as done:            # as the command line prints it
        run_main(infer.main, list(args))
    assert done.value.code == 2
    assert capsys.readouterr().err.startswith(f"error: {tmp_path / 'old.json'} has no 'task'")
    for broken in ({'inputs': [{'name': 'x'}]}, {'outputs': []}):
        (tmp_path / 'old.json').write_text(json.dumps(dict(meta, task='feature_extraction', **broken)))
        raises_one_line(UserError, lambda: infer_main(*args), 'must list the model', 're-export')
    assert not os.path.exists(tmp_path / 'r')          # refused before anything ran


def test_input_folders_must_hold_every_input_of_every_item(toy, tmp_path):
    feats = tmp_path / 'feats'
    shutil.copytree(toy['feats'], feats)
    args = ('bins', '--model', toy['mindir'], '--input', feats, '--output', tmp_path / 'r')
    os.remove(feats / 'padding_mask' / '1.bin')
    raises_one_line(UserError, lambda: infer_main(*args), f"{feats / 'padding_mask' / '1.bin'} not found",
                    f"{feats / 'waveform' / '1.bin'} is there")
    write_item(str(feats), 1, {'waveform': toy['items'][1]['waveform'],
                               'padding_mask': np.zeros((1, 49), np.int32)})       # one sample short
    raises_one_line(UserError, lambda: infer_main(*args), 'samples axis is 49 long', 'must agree')
    shutil.rmtree(feats / 'waveform')
    raises_one_line(UserError, lambda: infer_main(*args), 'input folder not found', 'waveform, padding_mask')
