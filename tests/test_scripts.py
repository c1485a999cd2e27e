"""Recipe smoke test: the real top-level scripts on a tiny demo corpus, and their one-line errors.

preprocess.py demo -> train.py (2 epochs of a tiny ECAPA-TDNN) -> train.py --resume -> eval.py
-> export.py -> infer.py verify -> preprocess.py infer_inputs -> infer.py bins -> postprocess.py,
checking the files each one writes.
"""
import json
import os
import subprocess
import sys

import pytest

from tests.helpers import run_main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(ROOT, 'configs', 'ecapa_tdnn', 'demo.yaml')
TINY = ['model.args.channels=[16,16,16,16,48]', 'model.args.attention_channels=8',
        'model.args.se_channels=8', 'model.args.lin_neurons=16', 'train.batch_size=8',
        'train.epochs=2', 'train.num_workers=1', 'train.eval_every=1', 'train.log_every=1']
SIZES = ['train_speakers=6', 'train_videos=2', 'train_utterances=2', 'test_speakers=4', 'valid_speakers=3',
         'test_videos=2', 'test_utterances=3', 'num_trials=40']


def run(*args, check=True):
    env = dict(os.environ, GLOG_v='3')
    done = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)
    if check:
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


@pytest.fixture(scope='module')
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp('demo')
    run('preprocess.py', 'demo', '--out', str(out), '--size', *SIZES)
    data = [f'data.train_manifest={out}/lists/train.csv', f'data.speakers={out}/lists/speakers.json',
            f'data.trials={out}/voxceleb1/veri_test2.txt', f'data.eval_audio_root={out}/voxceleb1/wav',
            f'data.musan={out}/musan', f'data.rirs={out}/RIRS_NOISES',
            f'data.valid_trials={out}/voxceleb1/valid_trials.txt', f'data.valid_audio_root={out}/voxceleb1/wav']
    return out, data


@pytest.fixture(scope='module')
def trained(demo, tmp_path_factory):
    """A tiny ECAPA-TDNN trained by the real train.py: interrupted, refused a restart, resumed."""
    import train
    from src.errors import UserError
    out, data = demo
    run_dir = str(tmp_path_factory.mktemp('run'))
    common = ['--config', CONFIG, '--run_dir', run_dir, *TINY, *data]
    _, first = run_main(train.main, *common, 'train.max_steps=2')   # stops mid-epoch
    with pytest.raises(UserError) as again:                          # refuses to overwrite a run
        run_main(train.main, *common)
    run_main(train.main, *common, '--resume')
    return run_dir, common, first, str(again.value)


@pytest.fixture(scope='module')
def evaluated(trained):
    import eval as evaluate
    _, common, _, _ = trained
    return run_main(evaluate.main, *common)


def test_train_stops_refuses_to_overwrite_and_resumes(trained):
    run_dir, _, first, again = trained
    assert 'validation after epoch' in first
    assert 'pass --resume' in again
    with open(os.path.join(run_dir, 'checkpoints', 'latest.json')) as f:
        assert json.load(f)['latest'] == 'step_00000006'    # 2 epochs x 3 steps (24 items, batch 8)
    for name in ('config.yaml', 'train_log.jsonl', 'eval_log.jsonl', 'plots/training_curves.png',
                 'checkpoints/best.ckpt'):
        assert os.path.exists(os.path.join(run_dir, name)), name


def test_eval_reports_the_test_trials_of_the_checkpoint_validation_picked(demo, trained, evaluated):
    out, _ = demo
    run_dir, _, _, _ = trained
    metrics, printed = evaluated
    assert 'EER = ' in printed and 'naive baseline' in printed
    assert 0 <= metrics['eer'] <= 100 and metrics['trials'] == 40
    # picked on the validation trials, and eval.py says so
    assert 'checkpoint: best on validation (eer ' in printed
    eval_dir = os.path.join(run_dir, 'eval', 'best')
    for name in ('embeddings.npz', 'scores_veri_test2.txt', 'det_veri_test2.png', 'metrics.json'):
        assert os.path.exists(os.path.join(eval_dir, name)), name
    with open(os.path.join(eval_dir, 'scores_veri_test2.txt')) as f:
        assert len(f.readlines()) == 40
    # validation never saw the test trials' files
    lists = {}
    for name in ('valid_trials', 'veri_test2'):
        with open(os.path.join(out, 'voxceleb1', f'{name}.txt')) as f:
            lists[name] = {u for line in f for u in line.split()[1:]}
    assert lists['valid_trials'] and lists['valid_trials'].isdisjoint(lists['veri_test2'])
    validations = [json.loads(line) for line in open(os.path.join(run_dir, 'eval_log.jsonl'))]
    with open(os.path.join(out, 'voxceleb1', 'valid_trials.txt')) as f:
        count = len(f.readlines())
    assert validations and all(v['split'] == 'valid' and v['trials'] == count for v in validations)


def test_as_norm_scores_differ(trained, evaluated, tmp_path):
    import eval as evaluate
    run_dir, common, _, _ = trained
    normed, _ = run_main(evaluate.main, *common, 'eval.as_norm=true', 'eval.cohort_speakers=4',
                         'eval.top_k=3', '--out', tmp_path / 'asnorm')
    assert normed['trials'] == 40
    eval_dir = os.path.join(run_dir, 'eval', 'best')
    with open(tmp_path / 'asnorm' / 'scores_veri_test2.txt') as f:      # scores are normalised
        assert [line.split()[2] for line in f][:5] != \
            [line.split()[2] for line in open(os.path.join(eval_dir, 'scores_veri_test2.txt'))][:5]


def test_export_verify_and_the_offline_chain(demo, trained, evaluated, tmp_path):
    import export
    import infer
    import postprocess
    import preprocess
    out, data = demo
    run_dir, common, _, _ = trained
    metrics, _ = evaluated
    # an export for Ascend 310 uses MindSpore's own convolution operators, at a fixed length
    run_main(export.main, *common, '--target', 'Ascend310', '--fixed_frames', 150,
             '--file_name', tmp_path / 'ascend' / 'ecapa')
    with open(tmp_path / 'ascend' / 'ecapa.json') as f:
        ascend = json.load(f)
    assert ascend['conv_impl'] == 'native' and ascend['inputs'][0]['shape'] == [1, 150, 80]
    assert ascend['task'] == 'speaker_verification' and ascend['outputs'][0]['shape'] == [1, 1, 16]

    run_main(export.main, *common)
    mindir = os.path.join(run_dir, 'export', 'ecapa_tdnn.mindir')
    with open(mindir[:-len('.mindir')] + '.json') as f:
        sidecar = json.load(f)
    assert sidecar['sample_rate'] == 16000 and sidecar['features']['n_mels'] == 80
    assert sidecar['threshold'] == pytest.approx(metrics['eer_threshold'])

    with open(os.path.join(out, 'voxceleb1', 'veri_test2.txt')) as f:
        _, a, b = f.readline().split()
    wav = os.path.join(out, 'voxceleb1', 'wav')
    verified = run('infer.py', 'verify', f'{wav}/{a}', f'{wav}/{b}', '--model', mindir)
    result = json.loads(verified.stdout.strip().splitlines()[-1])
    assert result['decision'] in ('same speaker', 'different speakers')
    # the offline pipeline (what the Ascend 310 app does, run here by infer.py bins) gives
    # the same metrics as eval.py
    offline = str(tmp_path / 'offline')
    run_main(preprocess.main, 'infer_inputs', '--config', CONFIG, '--out', offline, *TINY, *data)
    run_main(infer.main, 'bins', '--model', mindir, '--input', f'{offline}/feats', '--output', f'{offline}/result')
    offline_metrics, _ = run_main(postprocess.main, *common, '--input_dir', offline,
                                  '--result_dir', f'{offline}/result')
    assert offline_metrics['eer'] == pytest.approx(metrics['eer'], abs=1e-6)
    assert offline_metrics['min_dcf_0.01'] == pytest.approx(metrics['min_dcf_0.01'], abs=1e-6)

    # a fixed-length export (Ascend 310) is no model for verify; an empty list embeds nothing
    from src.errors import UserError
    with pytest.raises(UserError, match='takes exactly 150 fbank frames'):
        run_main(infer.main, 'verify', f'{wav}/{a}', f'{wav}/{b}', '--model', tmp_path / 'ascend' / 'ecapa.mindir')
    empty = tmp_path / 'empty.txt'
    empty.write_text('\n')
    with pytest.raises(UserError, match='lists no audio files'):
        run_main(infer.main, 'embed', '--model', mindir, '--list', empty, '--out', tmp_path / 'new' / 'e.npz')

    # the demo config's (larger) network does not fit the tiny checkpoint: a one-line error
    # naming the parameters
    mismatch = run('infer.py', 'verify', f'{wav}/{a}', f'{wav}/{b}', '--config', CONFIG,
                   '--checkpoint', os.path.join(run_dir, 'checkpoints', 'best.ckpt'), check=False)
    assert mismatch.returncode == 2 and 'does not fit the network' in mismatch.stderr
    assert 'wrong shape' in mismatch.stderr and 'Traceback' not in mismatch.stderr


def test_one_line_errors_for_bad_input(demo, tmp_path):
    out, data = demo
    common = ['--config', CONFIG, '--run_dir', str(tmp_path / 'r'), *TINY]
    cases = [
        (['train.py', *common, *data, 'data.train_manifest=/nonexistent/train.csv'], '/nonexistent/train.csv'),
        (['train.py', *common, *data, 'train.epoch=3'], "did you mean train.epochs?"),
        (['eval.py', *common, *data], 'no checkpoint in'),
    ]
    bad_trials = tmp_path / 'trials.txt'
    bad_trials.write_text('1 id99999/aaaaaaaaaaa/00001.wav id99998/bbbbbbbbbbb/00001.wav\n')
    ckpt = tmp_path / 'cut.ckpt'
    ckpt.write_bytes(b'\x00' * 100)
    cases += [
        (['eval.py', *common, *data, f'data.trials={bad_trials}', '--checkpoint', str(ckpt)], 'cut.ckpt'),
    ]
    for args, expected in cases:
        done = run(*args, check=False)
        assert done.returncode == 2, (args, done.stderr[-2000:])
        lines = [line for line in done.stderr.splitlines() if line.startswith('error:')]
        assert len(lines) == 1 and expected in lines[0], done.stderr[-2000:]
        assert 'Traceback' not in done.stderr
