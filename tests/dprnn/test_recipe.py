"""DPRNN recipe end to end on a tiny demo Libri2Mix: training with validation, eval.py's report
(scores, examples, floors), export, infer.py separate (MindIR, config + checkpoint), the offline
chain (preprocess.py infer_inputs -> infer.py bins -> postprocess.py) and the one-line errors."""
import csv
import json
import os

import numpy as np
import pytest
import soundfile

from src.data.demo import make_demo
from src.errors import CheckpointError, ConfigError
from src.recipes import get_recipe
from tests.helpers import raises_one_line, run_main

TINY = get_recipe('dprnn').tiny_args


@pytest.fixture(scope='module')
def librimix(tmp_path_factory):
    out = tmp_path_factory.mktemp('librimix')
    make_demo('librimix', out, train_speakers=4, dev_speakers=2, test_speakers=2, chapters=1,
              utterances=3, dev_mixtures=2, test_mixtures=3, words=(4, 6), types=('mix_clean',))
    return out


def write_config(path, librimix, **data):
    tree = {'model': {'name': 'dprnn', 'args': dict(TINY)},
            'data': dict({'root': str(librimix), 'train_split': 'train-100', 'segment': 0.5}, **data),
            'optim': {'lr': 1e-3}, 'train': {'batch_size': 2, 'epochs': 1, 'num_workers': 0},
            'eval': {'examples': 1, 'untrained': True}}
    path.write_text(json.dumps(tree))
    return str(path)


@pytest.fixture(scope='module')
def trained(librimix, tmp_path_factory):
    import train
    folder = tmp_path_factory.mktemp('run')
    config = write_config(folder / 'tiny.yaml', librimix)
    run_dir = folder / 'run'
    _, printed = run_main(train.main, '--config', config, '--run_dir', run_dir, 'train.max_steps=2')
    return config, run_dir, printed


def test_training_validates_and_keeps_the_best(trained):
    _, run_dir, printed = trained
    assert os.path.exists(run_dir / 'checkpoints' / 'best.ckpt')
    record = json.loads((run_dir / 'eval_log.jsonl').read_text().splitlines()[-1])
    assert np.isfinite(record['si_snri']) and record['utterances'] == 2 and record['subset'] == 'dev'


def test_eval_reports_full_length_scores_examples_and_floors(trained, librimix):
    import eval as evaluate
    config, run_dir, _ = trained
    metrics, said = run_main(evaluate.main, '--config', config, '--run_dir', run_dir)
    assert 'SI-SNRi = ' in said and 'SDRi = ' in said and 'untrained network' in said
    assert metrics['utterances'] == 3 and metrics['subset'] == 'test'
    out = run_dir / 'eval' / 'best'
    with open(out / 'per_utterance.csv') as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3 and abs(np.mean([float(r['si_snri']) for r in rows]) - metrics['si_snri']) < 1e-3
    # full utterances: the lengths are the metadata's
    with open(librimix / 'Libri2Mix' / 'wav8k' / 'min' / 'metadata' / 'mixture_test_mix_clean.csv') as f:
        lengths = {r['mixture_ID']: int(r['length']) for r in csv.DictReader(f)}
    assert {r['mixture_id']: int(r['num_samples']) for r in rows} == lengths
    examples = os.listdir(out / 'examples')
    assert len(examples) == 1 and 'spectrograms.png' in os.listdir(out / 'examples' / examples[0])
    assert json.loads((out / 'metrics.json').read_text())['utterances'] == 3


def test_export_separate_and_the_offline_chain_reproduce_eval(trained, librimix, tmp_path):
    import eval as evaluate
    import export
    import infer
    import postprocess
    import preprocess
    config, run_dir, _ = trained
    run_main(export.main, '--config', config, '--run_dir', run_dir)
    mindir = str(run_dir / 'export' / 'dprnn.mindir')
    sidecar = json.loads(open(mindir[:-7] + '.json').read())
    assert sidecar['task'] == 'separation' and sidecar['n_src'] == 2 and sidecar['sample_rate'] == 8000
    assert sidecar['outputs'][0]['shape'] == [None, 2, None]
    # infer.py separate: a file and a folder, from the MindIR and from the checkpoint: the same
    mixtures = librimix / 'Libri2Mix' / 'wav8k' / 'min' / 'test' / 'mix_clean'
    first = sorted(os.listdir(mixtures))[0]
    written, _ = run_main(infer.main, 'separate', str(mixtures / first), '--model', mindir,
                          '--out', tmp_path / 'a')
    stem = first[:-4]
    assert sorted(os.path.basename(p) for p in written) == [f'{stem}_s1.wav', f'{stem}_s2.wav']
    checkpoint = str(run_dir / 'checkpoints' / 'best.ckpt')
    again, _ = run_main(infer.main, 'separate', str(mixtures), '--config', config,
                        '--checkpoint', checkpoint, '--out', tmp_path / 'b')
    assert len(again) == 2 * len(os.listdir(mixtures))
    one, _ = soundfile.read(written[0])
    two, _ = soundfile.read(str(tmp_path / 'b' / f'{stem}_s1.wav'))
    mixture, _ = soundfile.read(str(mixtures / first))
    assert one.shape == mixture.shape and np.abs(one - two).max() < 2e-4
    # offline: the exported model on the .bin inputs gives eval.py's numbers on that checkpoint
    reference, _ = run_main(evaluate.main, '--config', config, '--run_dir', run_dir, '--checkpoint', checkpoint)
    offline = str(tmp_path / 'offline')
    run_main(preprocess.main, 'infer_inputs', '--config', config, '--out', offline)
    run_main(infer.main, 'bins', '--model', mindir, '--input', f'{offline}/feats', '--output', f'{offline}/result')
    scored, _ = run_main(postprocess.main, '--config', config, '--input_dir', offline, '--result_dir', f'{offline}/result')
    assert scored['utterances'] == reference['utterances']
    assert abs(scored['si_snri'] - reference['si_snri']) < 1e-3
    assert abs(scored['sdri'] - reference['sdri']) < 1e-3


def test_windowed_separation_runs_a_long_file(trained, tmp_path):
    # a file longer than the window: overlapping windows, the output as long as the input
    import infer
    config, run_dir, _ = trained
    wave = (0.1 * np.random.default_rng(0).standard_normal(8000 * 3)).astype(np.float32)
    soundfile.write(str(tmp_path / 'long.wav'), wave, 8000)
    written, _ = run_main(infer.main, 'separate', str(tmp_path / 'long.wav'), '--config', config,
                          '--checkpoint', str(run_dir / 'checkpoints' / 'best.ckpt'),
                          '--window_seconds', 1.0, '--out', tmp_path / 'out')
    out, rate = soundfile.read(written[1])
    assert rate == 8000 and out.shape == wave.shape and np.isfinite(out).all()


def test_mismatched_settings_are_one_line_errors(trained, librimix, tmp_path):
    import eval as evaluate
    config, run_dir, _ = trained
    three = json.loads(open(config).read())
    three['model']['args']['n_src'] = 3
    three['data']['n_src'] = 3
    path = tmp_path / 'three.yaml'
    path.write_text(json.dumps(three))
    raises_one_line(CheckpointError, lambda: run_main(evaluate.main, '--config', str(path), '--run_dir', run_dir,
                                                      '--checkpoint', str(run_dir / 'checkpoints' / 'best.ckpt')),
                    'separates 2 sources', 'model.args.n_src=2')
    rate = write_config(tmp_path / 'rate.yaml', librimix, sample_rate=16000)
    raises_one_line(ConfigError, lambda: run_main(evaluate.main, '--config', rate, '--run_dir', run_dir),
                    'data.sample_rate 16000', 'model.args.sample_rate 8000')


ASTEROID = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'data',
                        'asteroid_dprnn_3src.pth')     # tools/make_dprnn_references.py (asteroid 0.7.0)


def asteroid_cfg(**args):
    from src.config import build_config
    from src.dprnn.convert import dprnn_args_from_asteroid, read_asteroid_file
    kwargs = dict(dprnn_args_from_asteroid(read_asteroid_file(ASTEROID)[0]), **args)
    kwargs.pop('encoder_activation')        # None: the default, and no config type for it
    return build_config({'model': {'name': 'dprnn', 'args': kwargs}, 'data': {'n_src': kwargs['n_src']}})


def test_model_pretrained_takes_asteroids_file():
    import mindspore as ms
    from src.dprnn.convert import load_asteroid
    recipe = get_recipe('dprnn')
    cfg = asteroid_cfg()
    network = recipe.build_network(cfg)
    assert recipe.load_pretrained(network, ASTEROID) == []
    network.set_train(False)
    reference, _ = load_asteroid(ASTEROID)
    wave = ms.Tensor((0.1 * np.random.default_rng(0).standard_normal((1, 1200))).astype(np.float32))
    np.testing.assert_allclose(network(wave).asnumpy(), reference(wave).asnumpy(), atol=1e-6)
    two = recipe.build_network(asteroid_cfg(n_src=2))
    raises_one_line(CheckpointError, lambda: recipe.load_pretrained(two, ASTEROID),
                    'separates 3 sources', 'model.args.n_src=3')
    other = recipe.build_network(asteroid_cfg(hid_size=12))
    raises_one_line(CheckpointError, lambda: recipe.load_pretrained(other, ASTEROID),
                    'does not fit the configured DPRNNTasNet', 'shape mismatch')


def test_separate_with_asteroids_file(tmp_path):
    import infer
    wave = (0.1 * np.random.default_rng(1).standard_normal(4000)).astype(np.float32)
    soundfile.write(str(tmp_path / 'mix.wav'), wave, 8000)
    written, _ = run_main(infer.main, 'separate', str(tmp_path / 'mix.wav'), '--asteroid', ASTEROID,
                          '--out', tmp_path / 'out')
    assert [os.path.basename(p) for p in written] == ['mix_s1.wav', 'mix_s2.wav', 'mix_s3.wav']
    assert soundfile.read(written[2])[0].shape == wave.shape


def test_separate_needs_exactly_one_model(tmp_path):
    import infer
    from src.errors import UserError
    soundfile.write(str(tmp_path / 'mix.wav'), np.zeros(800, np.float32), 8000)
    for extra in ((), ('--config', 'c.yaml'), ('--model', 'm.mindir', '--asteroid', ASTEROID)):
        raises_one_line(UserError, lambda: run_main(infer.main, 'separate', str(tmp_path / 'mix.wav'),
                                                    '--out', str(tmp_path / 'o'), *extra),
                        'pass one model', '--asteroid F')
