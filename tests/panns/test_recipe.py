"""PANNs recipe: soft-target cross-entropy, mixup, pretrained weights into the classifier, the
sidecar's class names, and cross-validation (--fold / --folds) end to end on a tiny corpus."""
import json
import os

import numpy as np
import pytest

import mindspore as ms

from src.config import build_config
from src.data.demo import make_demo
from src.errors import CheckpointError, ConfigError
from src.panns.dataset import SoundClipSet, read_esc50
from src.recipes import get_recipe
from tests.helpers import run_main, run_script, script_error

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUNDLE = os.path.join(ROOT, 'tests', 'data', 'panns_cnn6.npz')
TINY = get_recipe('panns_cnn6').tiny_args


@pytest.fixture(scope='module')
def esc50(tmp_path_factory):
    out = tmp_path_factory.mktemp('esc50')
    return make_demo('esc50', out, classes=3, clips_per_class=5, seconds=1.0)['esc50']


def tiny_cfg(esc50=None, **data):
    args = dict(TINY, num_classes=3)
    tree = {'model': {'name': 'panns_cnn6', 'args': args},
            'data': dict({'sample_rate': 8000, 'clip_seconds': 1.0}, **data)}
    if esc50:
        tree['data']['esc50_root'] = str(esc50)
    return build_config(tree)


def test_soft_target_loss_is_cross_entropy():
    recipe = get_recipe('panns_cnn6')
    cfg = tiny_cfg()
    ms.set_seed(0)
    net = recipe.build_network(cfg)
    net.set_train(False)
    loss_net = recipe.build_loss_net(net, cfg, None)
    rng = np.random.default_rng(0)
    wave = (0.1 * rng.standard_normal((4, 8000))).astype(np.float32)
    probs = np.array([[1, 0, 0], [0, 0, 1], [0.3, 0.7, 0], [0, 0.5, 0.5]], np.float32)
    logits = net(ms.Tensor(wave)).asnumpy().astype(np.float64)
    log_softmax = logits - logits.max(1, keepdims=True)
    log_softmax -= np.log(np.exp(log_softmax).sum(1, keepdims=True))
    expected = -(probs * log_softmax).sum(1).mean()
    got = float(loss_net(ms.Tensor(wave), ms.Tensor(probs)).asnumpy())
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_mixup_mixes_waveforms_and_targets_alike(esc50):
    rows = read_esc50(esc50)
    plain = SoundClipSet(rows, 8000, 1.0, train=True)
    mixed = SoundClipSet(rows, 8000, 1.0, train=True, mixup_alpha=0.4)
    idx = np.arange(6)
    a = plain.make_batch(idx, np.random.default_rng(3))
    np.testing.assert_array_equal(a['target_probs'], np.eye(3, dtype=np.float32)[a['target']])
    b = mixed.make_batch(idx, np.random.default_rng(3))
    c = mixed.make_batch(idx, np.random.default_rng(3))
    np.testing.assert_array_equal(b['waveform'], c['waveform'])        # deterministic per rng
    np.testing.assert_allclose(b['target_probs'].sum(1), 1.0, rtol=1e-6)
    assert not np.allclose(b['target_probs'], a['target_probs'])
    # rebuild the mixed batch from the plain one: the 1 s clips need no crop, so the rng's
    # first draws are the weights lam ~ Beta(0.4, 0.4), then the partner permutation
    rng = np.random.default_rng(3)
    lam = rng.beta(0.4, 0.4, len(idx)).astype(np.float32)[:, None]
    partner = rng.permutation(len(idx))
    assert (partner != np.arange(len(idx))).any()
    np.testing.assert_allclose(b['waveform'], lam * a['waveform'] + (1 - lam) * a['waveform'][partner],
                               rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(b['target_probs'], lam * a['target_probs'] + (1 - lam) * a['target_probs'][partner],
                               rtol=1e-6, atol=1e-7)
    assert not np.allclose(b['waveform'], a['waveform'])
    # evaluation windows are never mixed
    test = SoundClipSet(rows, 8000, 1.0, train=False, mixup_alpha=0.4).make_batch(idx, np.random.default_rng(3))
    np.testing.assert_array_equal(test['target_probs'], np.eye(3, dtype=np.float32)[test['target']])
    with pytest.raises(ConfigError, match='mixup_alpha'):
        SoundClipSet(rows, 8000, 1.0, mixup_alpha=-1)


@pytest.fixture(scope='module')
def bundle_state(tmp_path_factory):
    """The parity bundle's PyTorch CNN6 state dict (50 classes) as a plain .npz."""
    with np.load(BUNDLE) as z:
        meta = json.loads(str(z['__meta__']))
        state = {k: z[k] for k in meta['state_keys']}
    path = str(tmp_path_factory.mktemp('pretrained') / 'Cnn6_state.npz')
    np.savez(path, **state)
    return path, state


def full_classifier(name='panns_cnn6', classes=10):
    recipe = get_recipe(name)
    cfg = build_config({'model': {'name': name, 'args': {'num_classes': classes}}})
    return recipe, recipe.build_network(cfg)


def test_pretrained_pytorch_weights_fill_the_backbone_and_leave_the_new_layer(bundle_state):
    from src.panns.convert import convert_panns_state
    path, state = bundle_state
    recipe, net = full_classifier()
    ms.set_seed(5)
    fc_before = net.fc.weight.asnumpy().copy()
    left = recipe.load_pretrained(net, path)
    # the bundle's AudioSet-style head has 50 classes, the backbone's 527: re-initialised too
    assert set(left) == {'fc.weight', 'fc.bias', 'backbone.fc_audioset.weight', 'backbone.fc_audioset.bias'}
    converted = convert_panns_state(state)
    params = dict(net.backbone.parameters_and_names())
    for name in ('conv_block1.conv1.weight', 'conv_block4.bn1.moving_variance', 'fc1.weight', 'bn0.gamma'):
        np.testing.assert_array_equal(params[name].asnumpy(), converted[name])
    np.testing.assert_array_equal(net.fc.weight.asnumpy(), fc_before)


def test_pretrained_converted_backbone_ckpt_and_run_checkpoint(bundle_state, tmp_path):
    from src.checkpoint import save_params
    from src.panns.convert import convert_panns_state
    _, state = bundle_state
    converted = convert_panns_state(state)
    bare = str(tmp_path / 'cnn6.ckpt')                 # what tools/convert_panns.py writes
    save_params(converted, bare)
    recipe, net = full_classifier()
    left = recipe.load_pretrained(net, bare)
    assert set(left) == {'fc.weight', 'fc.bias', 'backbone.fc_audioset.weight', 'backbone.fc_audioset.bias'}
    np.testing.assert_array_equal(net.backbone.fc1.weight.asnumpy(), converted['fc1.weight'])
    # a training checkpoint of this model (names under network.) loads completely
    run = str(tmp_path / 'step_1.ckpt')
    save_params({'network.' + n: p.asnumpy() for n, p in net.parameters_and_names()}, run)
    _, other = full_classifier()
    assert recipe.load_pretrained(other, run) == []
    np.testing.assert_array_equal(other.fc.weight.asnumpy(), net.fc.weight.asnumpy())


def test_pretrained_of_another_architecture_is_a_one_line_error(bundle_state, tmp_path):
    from src.checkpoint import save_params
    from src.panns.convert import convert_panns_state
    path, state = bundle_state
    recipe, net = full_classifier('panns_cnn10')
    with pytest.raises(CheckpointError) as info:
        recipe.load_pretrained(net, path)
    assert '\n' not in str(info.value) and 'Cnn6' in str(info.value) and 'Cnn10' in str(info.value)
    bare = str(tmp_path / 'cnn6.ckpt')
    save_params(convert_panns_state(state), bare)
    with pytest.raises(CheckpointError, match='cnn6.*cnn10'):
        recipe.load_pretrained(net, bare)


def test_pretrained_with_one_fitting_backbone_tensor_is_refused(bundle_state, tmp_path):
    # a file that fits one layer of the backbone is not a pretrained backbone: every backbone
    # parameter must load, and the error says how many do not
    from src.checkpoint import save_params
    from src.panns.convert import convert_panns_state
    converted = convert_panns_state(bundle_state[1])
    partial = str(tmp_path / 'partial.ckpt')
    save_params({name: converted[name]
                 for name in ('conv_block1.conv1.weight', 'conv_block2.conv1.weight')}, partial)
    recipe, net = full_classifier()
    before = net.backbone.conv_block1.conv1.weight.asnumpy().copy()
    with pytest.raises(CheckpointError) as info:
        recipe.load_pretrained(net, partial)
    total = len([n for n, _ in net.parameters_and_names()
                 if n.startswith('backbone.') and not n.startswith('backbone.fc_audioset.')])
    assert '\n' not in str(info.value) and 'does not fit the cnn6 backbone' in str(info.value)
    assert f"{total - 2} of {total} parameters under 'backbone.' do not load" in str(info.value)
    np.testing.assert_array_equal(net.backbone.conv_block1.conv1.weight.asnumpy(), before)


def test_sidecar_names_the_classes(esc50):
    from src.inference.signature import model_facts
    recipe = get_recipe('panns_cnn6')
    meta = model_facts(recipe, tiny_cfg(esc50))
    assert meta['labels'] == recipe.rows(tiny_cfg(esc50))[2]
    assert meta['task'] == 'classification' and meta['sample_rate'] == 8000
    assert 'labels' not in recipe.sidecar(tiny_cfg(None, esc50_root='/nonexistent/ESC-50'))


def test_parse_folds_and_summary_by_hand():
    from src.engine.crossval import format_summary, parse_folds, summarize
    recipe = get_recipe('panns_cnn6')
    assert parse_folds('all', recipe, 'panns_cnn6') == [1, 2, 3, 4, 5]
    assert parse_folds('3,1,3', recipe, 'panns_cnn6') == [1, 3]
    for bad in ('6', '0,1', 'x', ''):
        with pytest.raises(ConfigError):
            parse_folds(bad, recipe, 'panns_cnn6')
    with pytest.raises(ConfigError, match='no cross-validation folds'):
        parse_folds('all', get_recipe('ecapa_tdnn'), 'ecapa_tdnn')
    results = {1: {'metrics': {'accuracy': 0.5, 'clips': 4, 'fold': 1}},
               2: {'metrics': {'accuracy': 1.0, 'clips': 4, 'fold': 2}},
               4: {'metrics': {'accuracy': 0.75, 'clips': 4, 'fold': 4}}}
    s = summarize(results, 'accuracy')
    assert s['mean']['accuracy'] == pytest.approx(0.75)
    assert s['std']['accuracy'] == pytest.approx(np.sqrt((0.25 ** 2 + 0.25 ** 2) / 3))
    assert s['per_fold']['accuracy'] == {'1': 0.5, '2': 1.0, '4': 0.75}
    assert 'fold' not in s['mean']
    assert format_summary(s).startswith('Accuracy = 0.7500 +- 0.2041 (mean over folds 1, 2, 4')


def test_fold_reports_and_their_pooled_confusion_by_hand(tmp_path):
    # the recipe's glue: metrics.json and the PNG of each fold, then the folds' matrices summed
    recipe = get_recipe('panns_cnn6')
    names = ['dog', 'rain', 'siren']
    folds = {1: ([0, 0, 1, 2], [0, 1, 1, 2]), 2: ([0, 1, 2, 2], [0, 1, 0, 2])}   # truth, predicted
    results = {}
    for fold, (truth, predicted) in folds.items():
        out = tmp_path / f'fold{fold}'
        metrics = recipe._report(np.array(predicted), np.array(truth), names,
                                 tiny_cfg(test_fold=fold), str(out))
        assert metrics == {'accuracy': 0.75, 'clips': 4, 'fold': fold}
        saved = json.loads((out / 'metrics.json').read_text())
        assert saved['class_names'] == names and saved['accuracy'] == 0.75
        assert (out / 'confusion_matrix.png').stat().st_size > 1000
        results[fold] = {'metrics': metrics, 'eval_dir': str(out)}
    saved = json.loads((tmp_path / 'fold1' / 'metrics.json').read_text())
    assert saved['confusion'] == [[1, 1, 0], [0, 1, 0], [0, 0, 1]]
    assert saved['per_class_accuracy'] == {'dog': 0.5, 'rain': 1.0, 'siren': 1.0}
    # pooled: [[2, 1, 0], [0, 2, 0], [1, 0, 2]]
    summary = recipe.combine_folds(results, str(tmp_path))
    assert summary == {'pooled_accuracy': 0.75,
                       'per_class_accuracy': {'dog': pytest.approx(2 / 3), 'rain': 1.0,
                                              'siren': pytest.approx(2 / 3)}}
    assert (tmp_path / 'confusion_matrix.png').stat().st_size > 1000
    # a fold evaluated with another class list: no pooled summary, and no error
    recipe._report(np.array([0, 1]), np.array([0, 1]), ['dog', 'rain'], tiny_cfg(test_fold=3),
                   str(tmp_path / 'fold3'))
    results[3] = {'metrics': {}, 'eval_dir': str(tmp_path / 'fold3')}
    assert recipe.combine_folds(results, str(tmp_path)) == {}


run = run_script


def one_line_failure(*args):
    return script_error(run_script(*args, ok=False))


@pytest.fixture(scope='module')
def tiny_config(esc50, tmp_path_factory):
    config = tmp_path_factory.mktemp('config') / 'tiny.yaml'
    config.write_text(json.dumps({
        'model': {'name': 'panns_cnn6', 'args': dict(TINY, num_classes=3)},
        'data': {'esc50_root': str(esc50), 'sample_rate': 8000, 'clip_seconds': 1.0},
        'optim': {'lr': 1e-4}, 'train': {'epochs': 1, 'batch_size': 4, 'num_workers': 0,
                                           'log_every': 1, 'eval_every': 1},
        'eval': {'batch_size': 4}}))
    return config


@pytest.fixture(scope='module')
def crossval(tiny_config, tmp_path_factory):
    """Folds 1 and 2 of the tiny corpus, trained in-process once for the tests below."""
    import train
    run_dir = tmp_path_factory.mktemp('cv')
    summary, printed = run_main(train.main, '--config', tiny_config, '--run_dir', run_dir, '--folds', '1,2')
    return run_dir, summary, printed


@pytest.fixture(scope='module')
def fold3(tiny_config, tmp_path_factory):
    """One step of fold 3 (--fold k), shared by the evaluation, export and offline tests."""
    import train
    run_dir = tmp_path_factory.mktemp('fold3')
    _, printed = run_main(train.main, '--config', tiny_config, '--run_dir', run_dir, '--fold', 3,
                          'train.max_steps=1')
    latest = json.loads((run_dir / 'checkpoints' / 'latest.json').read_text())['latest']
    return run_dir, str(run_dir / 'checkpoints' / f'{latest}.ckpt'), printed


def test_cross_validation_summary_is_the_mean_of_each_folds_final_model(crossval):
    run_dir, summary, printed = crossval
    assert summary == json.loads((run_dir / 'crossval.json').read_text())
    per_fold = summary['per_fold']['accuracy']
    assert set(per_fold) == {'1', '2'}
    for fold in (1, 2):
        result = json.loads((run_dir / f'fold{fold}' / 'fold_result.json').read_text())
        assert result['metrics']['fold'] == fold and result['metrics']['clips'] == 3
        assert per_fold[str(fold)] == result['metrics']['accuracy']
        # the fold's result is its final model on the test fold (eval_log's one entry)
        evals = [json.loads(line) for line in (run_dir / f'fold{fold}' / 'eval_log.jsonl').read_text().splitlines()]
        assert [e['split'] for e in evals] == ['test']
        assert evals[-1]['accuracy'] == result['metrics']['accuracy']
    assert summary['mean']['accuracy'] == pytest.approx(np.mean(list(per_fold.values())))
    pooled = np.mean([per_fold['1'], per_fold['2']])           # equal fold sizes
    assert summary['pooled_accuracy'] == pytest.approx(pooled)
    assert summary['direction'] == 'max' and summary['best_fold'] in (1, 2)
    assert (run_dir / 'confusion_matrix.png').stat().st_size > 1000
    assert f"Accuracy = {summary['mean']['accuracy']:.4f}" in printed


def test_cross_validation_reuses_finished_folds_but_not_under_another_config(crossval, tiny_config):
    import train
    run_dir, _, _ = crossval
    _, again = run_main(train.main, '--config', tiny_config, '--run_dir', run_dir, '--folds', '1,2')
    assert again.count('finished before') == 2
    assert 'finished with another config' in one_line_failure(
        'train.py', '--config', str(tiny_config), '--run_dir', str(run_dir), '--folds', '1,2', 'optim.lr=0.1')


def test_a_fold_run_is_not_evaluated_while_it_trains_and_eval_takes_its_final_model(fold3, tiny_config):
    import eval as evaluate
    run_dir, _, printed = fold3
    # ESC-50 has no validation split: nothing is evaluated while a fold trains
    assert 'no validation split' in printed and not (run_dir / 'eval_log.jsonl').exists()
    metrics, said = run_main(evaluate.main, '--config', tiny_config, '--run_dir', run_dir, '--fold', 3)
    assert metrics['fold'] == 3 and metrics['clips'] == 3
    assert 'checkpoint: final checkpoint of the run' in said


def test_model_pretrained_from_a_run_checkpoint(fold3, tiny_config, tmp_path):
    import train
    _, checkpoint, _ = fold3
    _, printed = run_main(train.main, '--config', tiny_config, '--run_dir', tmp_path / 'two', '--fold', 3,
                          'train.max_steps=1', f'model.pretrained={checkpoint}')
    assert 'initialised from' in printed and 'parameters loaded' in printed


def test_exports_and_the_offline_chain_give_evals_accuracy(fold3, tiny_config, tmp_path):
    # export (dynamic and a fixed 1 s input) and the offline chain of the Ascend 310 app, run by
    # infer.py bins: the same accuracy as eval.py on the same checkpoint
    import eval as evaluate
    import export
    import infer
    import postprocess
    import preprocess
    run_dir, checkpoint, _ = fold3
    common = ('--config', tiny_config, '--run_dir', run_dir, '--fold', 3)
    fixed = str(tmp_path / 'export' / 'fixed')
    run_main(export.main, *common, '--checkpoint', checkpoint, '--fixed_seconds', 1, '--file_name', fixed)
    assert json.loads(open(fixed + '.json').read())['inputs'][0]['shape'] == [1, 8000]
    run_main(export.main, *common)
    mindir = str(run_dir / 'export' / 'panns_cnn6.mindir')
    assert json.loads(open(mindir[:-7] + '.json').read())['inputs'][0]['shape'] == [None, None]
    offline = str(tmp_path / 'offline')
    os.makedirs(os.path.join(offline, 'feats'))
    open(os.path.join(offline, 'feats', '7.bin'), 'wb').close()       # left by a larger fold
    run_main(preprocess.main, 'infer_inputs', '--config', tiny_config, '--fold', 3, '--out', offline)
    assert len(os.listdir(os.path.join(offline, 'feats'))) == 3
    reference, _ = run_main(evaluate.main, *common, '--checkpoint', checkpoint)
    for model in (mindir, fixed + '.mindir'):
        run_main(infer.main, 'bins', '--model', model, '--input', f'{offline}/feats', '--output', f'{offline}/result')
        scored, _ = run_main(postprocess.main, *common, '--input_dir', offline, '--result_dir', f'{offline}/result')
        assert scored['accuracy'] == reference['accuracy']
    # the inputs know their fold
    scored, _ = run_main(postprocess.main, '--config', tiny_config, '--input_dir', offline,
                         '--result_dir', f'{offline}/result')
    assert scored['fold'] == 3


def test_fold_errors_are_one_line(tmp_path, esc50):
    config = tmp_path / 'tiny.yaml'
    config.write_text(json.dumps({'model': {'name': 'panns_cnn6', 'args': dict(TINY, num_classes=3)},
                                  'data': {'esc50_root': str(esc50), 'sample_rate': 8000,
                                           'clip_seconds': 1.0}}))
    assert 'folds of panns_cnn6 are 1, 2, 3, 4, 5' in one_line_failure('train.py', '--config', str(config), '--fold', '6')
    assert 'not both' in one_line_failure('train.py', '--config', str(config), '--fold', '1', '--folds', 'all')
    assert 'no cross-validation folds' in one_line_failure(
        'train.py', '--config', os.path.join(ROOT, 'configs', 'ecapa_tdnn', 'demo.yaml'), '--fold', '1')
    assert 'no validation split' in one_line_failure(
        'train.py', '--config', str(config), '--run_dir', str(tmp_path / 'p'), 'schedule.name=plateau')
    assert 'model.pretrained' in one_line_failure(
        'train.py', '--config', str(config), '--run_dir', str(tmp_path / 'r'),
        'model.pretrained=/nonexistent/Cnn6.pth', 'train.max_steps=1')


def test_silent_and_very_short_clips_give_finite_scores(tmp_path):
    # a silent clip hits the log floor (-100 dB) everywhere; a clip far shorter than the STFT
    # window is zero-padded to the clip length by the data pipeline, as in training
    from src.audio import write_audio
    recipe = get_recipe('panns_cnn6')
    cfg = tiny_cfg()
    net = recipe.build_network(cfg)
    net.set_train(False)
    write_audio(tmp_path / 'silent.wav', np.zeros(8000, np.float32), 8000)
    write_audio(tmp_path / 'click.wav', np.full(40, 0.5, np.float32), 8000)      # 5 ms < window
    rows = [{'path': str(tmp_path / n), 'fold': 1, 'target': t, 'category': n}
            for t, n in enumerate(['silent.wav', 'click.wav'])]
    batch = SoundClipSet(rows, 8000, 1.0, train=False).make_batch([0, 1], np.random.default_rng(0))
    assert batch['waveform'].shape == (2, 8000)
    logits = net(ms.Tensor(batch['waveform'])).asnumpy()
    assert np.isfinite(logits).all() and logits.shape == (2, 3)


def test_pretrained_run_checkpoint_must_fit_the_whole_backbone(tmp_path):
    # a run checkpoint of another architecture, or of another front end, is an error, not a
    # partial load that leaves layers at their initial values
    from src.checkpoint import save_params
    recipe, cnn14 = full_classifier('panns_cnn14', classes=3)
    other = str(tmp_path / 'cnn14_run.ckpt')
    save_params({'network.' + n: p.asnumpy() for n, p in cnn14.parameters_and_names()}, other)
    _, cnn10 = full_classifier('panns_cnn10', classes=3)
    with pytest.raises(CheckpointError, match='cnn14, the network is cnn10'):
        recipe.load_pretrained(cnn10, other)
    recipe = get_recipe('panns_cnn6')
    small = recipe.build_network(tiny_cfg())             # 8 kHz front end, 32 mel bins
    run = str(tmp_path / 'tiny_run.ckpt')
    save_params({'network.' + n: p.asnumpy() for n, p in small.parameters_and_names()}, run)
    _, full = full_classifier('panns_cnn6', classes=3)
    with pytest.raises(CheckpointError, match='does not fit the cnn6 backbone') as info:
        recipe.load_pretrained(full, run)
    assert '\n' not in str(info.value) and 'sample_rate' in str(info.value)


def test_eval_and_export_take_best_only_where_validation_picked_it(tmp_path):
    # best.ckpt exists only when a validation split picked it (never the test fold): without
    # one, eval.py and export.py take the final checkpoint
    from src.engine.trained_network import find_checkpoint
    directory = tmp_path / 'checkpoints'
    directory.mkdir()
    (directory / 'latest.json').write_text(json.dumps({'latest': 'step_00000002', 'history': []}))
    (directory / 'step_00000002.json').write_text('{}')
    assert find_checkpoint(str(tmp_path)) == str(directory / 'step_00000002.ckpt')
    (directory / 'best.ckpt').write_bytes(b'x')
    assert find_checkpoint(str(tmp_path)) == str(directory / 'best.ckpt')


def test_data_and_network_sample_rates_must_agree(esc50):
    # clips resampled to one rate and a front end built for another would train silently wrong
    cfg = tiny_cfg(esc50, sample_rate=16000)
    with pytest.raises(ConfigError, match='data.sample_rate 16000 differs'):
        get_recipe('panns_cnn6').train_set(cfg)


def test_a_validation_fold_selects_the_checkpoint_and_is_reported_as_itself(tiny_config, tmp_path):
    import train
    run_dir = tmp_path / 'valid'
    _, printed = run_main(train.main, '--config', tiny_config, '--run_dir', run_dir, '--fold', 3,
                          'data.valid_fold=4', 'train.max_steps=2')
    evals = [json.loads(line) for line in (run_dir / 'eval_log.jsonl').read_text().splitlines()]
    assert evals and all(e['split'] == 'valid' and e['fold'] == 4 and e['clips'] == 3 for e in evals)
    best = json.loads((run_dir / 'checkpoints' / 'best.json').read_text())
    assert best['metric'] == 'accuracy' and best['value'] == max(e['accuracy'] for e in evals)
    assert 'fold 4' in printed and 'no validation split' not in printed


def test_cross_validation_refuses_a_validation_fold_among_its_test_folds_before_training(tiny_config, tmp_path):
    import train
    with pytest.raises(ConfigError, match='data.valid_fold 5 is the test fold'):
        run_main(train.main, '--config', tiny_config, '--run_dir', tmp_path / 'cv', '--folds', '4,5',
                 'data.valid_fold=5')
    assert not (tmp_path / 'cv' / 'fold4' / 'checkpoints').exists()     # nothing trained
