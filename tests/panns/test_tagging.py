"""Sound tagging (``infer.py tag``): windowing, aggregation, top-k and formatting of
src.panns.tagging, the AudioSet label file, and the command end to end with an exported MindIR
(dynamic and fixed length), a config + checkpoint and a PANNs state dict; its one-line errors."""
import json
import os
import shutil

import numpy as np
import pytest

from src.audio import read_audio, write_audio
from src.errors import CheckpointError, DataError, UserError
from src.panns.convert import panns_front_end
from tests.helpers import raises_one_line, run_script, script_error
from src.panns.tagging import (aggregate, class_labels, clip_windows, cut_windows,
                               format_score, format_tags, predict_windows,
                               read_audioset_labels, softmax, tag_record, tag_wave, top_k,
                               write_jsonl)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RATE = 8000           # the tiny network's sample rate
CLIP = 0.5            # its clip length in seconds: 4000 samples
WINDOW = int(RATE * CLIP)
NAMES = ['dog', 'rooster', 'rain']       # the 3-class demo ESC-50
TINY_ARGS = {'num_classes': 3, 'sample_rate': RATE, 'window_size': 256, 'hop_size': 80,
             'mel_bins': 32, 'fmin': 50, 'fmax': 3800}


def run(*args):
    return run_script('infer.py', *args, ok=False, timeout=300)


def one_line_error(done, *parts):
    return script_error(done, *parts)


def parse_lines(stdout):
    """{path: [(label, score), ...]} of tag's output lines."""
    result = {}
    for line in stdout.splitlines():
        if not line.startswith('['):
            continue
        name, _, rest = line[1:].partition('] ')
        result[name] = [(label, float(score)) for label, score in
                        (tag.rsplit(': ', 1) for tag in rest.split('  '))]
    return result


def infer_main(*argv):
    """infer.py's main in this process (a UserError propagates, as run_main would print it)."""
    import infer
    return infer.main(list(argv))


@pytest.fixture(autouse=True)
def pynative_after():
    """In-process runs of infer.py switch MindSpore to graph mode: restore the tests' mode."""
    yield
    import mindspore as ms
    from src.runtime import MODES
    ms.set_context(mode=MODES['pynative'])


# ------------------------------------------------------------------------------ pure functions

def test_windows_of_short_exact_and_long_files():
    assert clip_windows(3, 4, 2) == [0]                 # shorter: one (padded) window
    assert clip_windows(4, 4, 2) == [0]                 # exactly one window
    assert clip_windows(10, 4, 2) == [0, 2, 4, 6]       # the hops end with the file
    assert clip_windows(11, 4, 2) == [0, 2, 4, 6, 7]    # last window aligned to the end
    assert clip_windows(11, 4, 4) == [0, 4, 7]
    assert clip_windows(5, 4, 3) == [0, 1]
    for bad in ((10, 4, 0), (10, 4, 5), (10, 0, 1)):
        with pytest.raises(ValueError):
            clip_windows(*bad)


def test_cut_windows_pads_short_files_and_covers_long_ones():
    short = np.arange(1, 4, dtype=np.float32)
    np.testing.assert_array_equal(cut_windows(short, 5, 2), [[1, 2, 3, 0, 0]])
    wave = np.arange(11, dtype=np.float32)
    windows = cut_windows(wave, 4, 2)
    assert windows.shape == (5, 4) and windows.dtype == np.float32
    for row, start in zip(windows, [0, 2, 4, 6, 7]):
        np.testing.assert_array_equal(row, wave[start:start + 4])
    assert windows[-1, -1] == wave[-1]                 # nothing dropped at the end


def test_predict_windows_batches_and_fills_a_fixed_batch():
    windows = np.arange(5 * 3, dtype=np.float32).reshape(5, 3)
    seen = []

    def predict(batch):
        seen.append(len(batch))
        return batch[:, :2] * 2
    np.testing.assert_array_equal(predict_windows(windows, predict, batch_size=2), windows[:, :2] * 2)
    assert seen == [2, 2, 1]
    seen.clear()
    np.testing.assert_array_equal(predict_windows(windows, predict, 2, fixed_batch=True),
                                  windows[:, :2] * 2)
    assert seen == [2, 2, 2]                           # the last batch completed with zeros


def test_softmax_aggregate_and_top_k():
    logits = np.array([[1.0, 2.0, 0.5], [3.0, -1.0, 0.0]])
    probs = softmax(logits)
    np.testing.assert_allclose(probs, np.exp(logits) / np.exp(logits).sum(1, keepdims=True))
    np.testing.assert_allclose(aggregate(probs), probs.mean(0))
    np.testing.assert_allclose(aggregate(probs, 'max'), probs.max(0))
    with pytest.raises(ValueError):
        aggregate(probs, 'median')
    scores = [0.1, 0.7, 0.05, 0.7, 0.15]
    labels = ['a', 'b', 'c', 'd', 'e']
    assert top_k(scores, labels, 3) == [('b', 0.7), ('d', 0.7), ('e', 0.15)]   # ties: index order
    assert [label for label, _ in top_k(scores, labels, 99)] == ['b', 'd', 'e', 'a', 'c']
    with pytest.raises(ValueError):
        top_k(scores, labels, 0)


def test_formatting_is_plain_decimals():
    tags = [('Dog', 0.99991), ('Clock tick', 0.00001), ('Cat', 0.000007)]
    assert format_tags('dog.wav', tags) == '[dog.wav] Dog: 0.9999  Clock tick: 0.00001  Cat: 0.000007'
    assert format_score(3.2e-9) == '0.0000000032'
    assert format_score(0.0) == '0' and format_score(1.0) == '1' and format_score(0.123456) == '0.1235'
    assert 'e' not in format_score(1e-30)


def test_audioset_labels_in_index_order(tmp_path):
    names = read_audioset_labels()
    assert len(names) == 527
    assert names[0] == 'Speech' and names[1] == 'Male speech, man speaking'
    assert names[526] == 'Field recording'
    bad = tmp_path / 'labels.csv'
    bad.write_text('index,mid,display_name\n0,/m/a,A\n2,/m/b,B\n')
    raises_one_line(DataError, lambda: read_audioset_labels(str(bad)), 'line 3', 'expected index 1')


def test_class_labels_and_front_ends():
    assert class_labels(None, 3) == (['class 0', 'class 1', 'class 2'], False)
    assert class_labels(['a', 'b'], 2) == (['a', 'b'], True)
    raises_one_line(UserError, lambda: class_labels(['a'], 2, 'm.mindir'), 'names 1 classes', '2 outputs')
    assert panns_front_end(1024)['sample_rate'] == 32000 and panns_front_end(256)['hop_size'] == 80
    raises_one_line(CheckpointError, lambda: panns_front_end(300), '300-sample')


def test_jsonl_record(tmp_path):
    out = tmp_path / 'out' / 'tags.jsonl'
    records = [tag_record('x.wav', [('Dog', 0.9), ('Cat', 0.1)], 3)]
    write_jsonl(str(out), records)
    assert [json.loads(line) for line in out.read_text().splitlines()] == \
        [{'path': 'x.wav', 'labels': ['Dog', 'Cat'], 'scores': [0.9, 0.1], 'windows': 3}]
    assert os.listdir(out.parent) == ['tags.jsonl']            # no temporary file left


# ------------------------------------------------------------------------- with a tiny network

@pytest.fixture(scope='module')
def clips(tmp_path_factory):
    """A 3-class demo ESC-50 (1 s clips at 44.1 kHz), a short and a long clip at 16 kHz."""
    from src.data.demo import make_demo
    out = tmp_path_factory.mktemp('tagging')
    root = make_demo('esc50', out, classes=3, clips_per_class=5, seconds=1.0)['esc50']
    rng = np.random.default_rng(0)
    extra = out / 'extra'
    write_audio(extra / 'short.wav', 0.3 * rng.standard_normal(3200).astype(np.float32), 16000)   # 0.2 s
    write_audio(extra / 'long.flac', 0.3 * rng.standard_normal(37000).astype(np.float32), 16000)  # 2.3 s
    return {'root': root, 'audio': os.path.join(root, 'audio'), 'short': str(extra / 'short.wav'),
            'long': str(extra / 'long.flac'), 'dir': out}


@pytest.fixture(scope='module')
def tiny(clips):
    """A tiny PANNs CNN6 classifier: its network, checkpoint, config file and dynamic MindIR."""
    import mindspore as ms
    from src.inference.export import export_model
    from src.checkpoint import save_params
    from src.config import build_config, save_config
    from src.recipes import get_recipe
    out = clips['dir']
    cfg = build_config({'model': {'name': 'panns_cnn6', 'args': dict(TINY_ARGS)},
                        'data': {'esc50_root': clips['root'], 'sample_rate': RATE,
                                 'clip_seconds': CLIP}, 'run_dir': str(out / 'run')})
    recipe = get_recipe('panns_cnn6')
    ms.set_seed(0)
    net = recipe.build_network(cfg)
    net.set_train(False)
    ckpt = str(out / 'tiny.ckpt')
    save_params(net, ckpt)
    config = str(out / 'tiny.yaml')
    save_config(cfg, config)
    mindir, sidecar = export_model(cfg, ckpt, str(out / 'export' / 'panns_cnn6'))
    return {'cfg': cfg, 'net': net, 'ckpt': ckpt, 'config': config, 'mindir': mindir,
            'sidecar': sidecar}


def hand_windows(path, window=WINDOW, hop=WINDOW // 2):
    """The windows of ``path``, cut by hand: (W, window)."""
    wave = read_audio(path, RATE)
    if len(wave) < window:
        wave = np.concatenate([wave, np.zeros(window - len(wave), np.float32)])
    starts = list(range(0, len(wave) - window + 1, hop))
    if starts[-1] != len(wave) - window:
        starts.append(len(wave) - window)
    return np.stack([wave[start:start + window] for start in starts])


def window_scores(net, windows, sigmoid=False):
    """Probabilities of every window (one network call: PyNative costs ~0.4 s a call)."""
    import mindspore as ms
    out = net(ms.Tensor(windows))
    return out[0].asnumpy() if sigmoid else softmax(out.asnumpy())


def by_hand(net, paths, window=WINDOW, hop=WINDOW // 2, how='mean', sigmoid=False):
    """[(clip scores, windows)] of ``paths``: window scores pooled by hand."""
    cut = [hand_windows(path, window, hop) for path in paths]
    scores = window_scores(net, np.concatenate(cut), sigmoid)
    bounds = np.cumsum([0] + [len(c) for c in cut])
    return [((scores[lo:hi].mean(0) if how == 'mean' else scores[lo:hi].max(0)), hi - lo)
            for lo, hi in zip(bounds[:-1], bounds[1:])]


def test_tag_wave_is_the_mean_or_max_of_the_windows(tiny, clips):
    import mindspore as ms
    net = tiny['net']
    calls = []

    def predict(windows):
        calls.append(len(windows))
        return softmax(net(ms.Tensor(windows)).asnumpy())
    wave = read_audio(clips['long'], RATE)                  # 2.3 s: 0, 0.25, ... 1.75, 1.8125 s
    windows = hand_windows(clips['long'])
    assert len(windows) == 9
    each = np.concatenate([window_scores(net, w[None]) for w in windows])   # one window a call
    for how, pooled, batch, expected_calls in (('mean', each.mean(0), 4, [4, 4, 1]),
                                               ('max', each.max(0), 16, [9])):
        calls.clear()
        scores, count = tag_wave(wave, predict, WINDOW, WINDOW // 2, how, batch_size=batch)
        assert count == 9 and calls == expected_calls
        np.testing.assert_allclose(scores, pooled, rtol=1e-5, atol=1e-7)
    scores, count = tag_wave(read_audio(clips['short'], RATE), predict, WINDOW, WINDOW // 2)
    assert count == 1
    np.testing.assert_allclose(scores, window_scores(net, hand_windows(clips['short']))[0],
                               rtol=1e-5, atol=1e-7)


def test_sidecar_of_the_tiny_classifier(tiny):
    with open(tiny['sidecar']) as f:
        meta = json.load(f)
    assert meta['task'] == 'classification' and meta['outputs'][0]['name'] == 'logits'
    assert meta['labels'] == NAMES and meta['inputs'][0]['shape'] == [None, None]
    assert meta['inputs'][0]['axes'] == ['batch', 'samples'] and meta['outputs'][0]['shape'] == [None, 3]
    assert meta['offline_files'] == {'inputs': ['feats/<n>.bin'], 'outputs': ['result/<n>_0.bin']}
    assert meta['sample_rate'] == RATE and meta['clip_seconds'] == CLIP


def test_mindir_and_checkpoint_tag_files_and_folders_alike(tiny, clips, tmp_path, capsys):
    sources = [clips['short'], clips['long'], clips['audio']]
    out_mindir, out_ckpt = str(tmp_path / 'm.jsonl'), str(tmp_path / 'c.jsonl')
    a = run('tag', *sources, '--model', tiny['mindir'], '--out', out_mindir)
    assert a.returncode == 0, a.stderr[-3000:]
    assert a.stderr.strip().endswith(f'17 files tagged -> {out_mindir}')
    # the same through the config and checkpoint (in this process: no second start-up)
    infer_main('tag', *sources, '--config', tiny['config'], '--checkpoint', tiny['ckpt'], '--out', out_ckpt)
    printed_a, printed_b = parse_lines(a.stdout), parse_lines(capsys.readouterr().out)
    files = [clips['short'], clips['long']] + sorted(
        os.path.join(clips['audio'], n) for n in os.listdir(clips['audio']))
    assert list(printed_a) == files == list(printed_b) and len(files) == 17
    assert 'class 0' not in a.stdout                       # names from the sidecar
    records = {}
    for out in (out_mindir, out_ckpt):
        with open(out) as f:
            records[out] = [json.loads(line) for line in f]
        assert [r['path'] for r in records[out]] == files
    for ra, rb, path, (expected, windows) in zip(records[out_mindir], records[out_ckpt], files,
                                                 by_hand(tiny['net'], files)):
        assert ra['windows'] == rb['windows'] == windows
        assert windows == {clips['short']: 1, clips['long']: 9}.get(path, 3)
        assert len(ra['labels']) == 3 and set(ra['labels']) == set(NAMES)
        for record in (ra, rb):
            np.testing.assert_allclose(record['scores'], [expected[NAMES.index(n)] for n in record['labels']],
                                       rtol=1e-4, atol=1e-6)
            assert record['scores'] == sorted(record['scores'], reverse=True)
        assert printed_a[path][0][0] == printed_b[path][0][0] == NAMES[int(np.argmax(expected))]
        # the printed scores are the record's, rounded to 4 significant digits
        assert [label for label, _ in printed_a[path]] == ra['labels']
        np.testing.assert_allclose([s for _, s in printed_a[path]], ra['scores'], rtol=6e-4)


def test_hop_top_k_and_max_options(tiny, clips, tmp_path):
    out = str(tmp_path / 'tags.jsonl')
    records = infer_main('tag', clips['long'], '--model', tiny['mindir'], '--top_k', '1',
                         '--hop_seconds', '0.4', '--aggregate', 'max', '--out', out)
    ((expected, windows),) = by_hand(tiny['net'], [clips['long']], hop=int(0.4 * RATE), how='max')
    assert windows == 6                                     # 0, 0.4, ... 1.6, 1.8125 s
    assert records == [json.loads(line) for line in open(out)]
    (record,) = records
    assert record['windows'] == windows and record['labels'] == [NAMES[int(np.argmax(expected))]]
    np.testing.assert_allclose(record['scores'], [expected.max()], rtol=1e-4)


def test_sidecar_without_labels_names_classes_by_number(tiny, clips, tmp_path, capsys):
    model = shutil.copy(tiny['mindir'], tmp_path / 'nolabels.mindir')
    with open(tiny['sidecar']) as f:
        meta = json.load(f)
    del meta['labels']
    (tmp_path / 'nolabels.json').write_text(json.dumps(meta))
    broken = tmp_path / 'broken.wav'
    broken.write_bytes(b'RIFF....not audio')
    records = infer_main('tag', clips['short'], str(broken), clips['long'], '--model', str(model),
                         '--top_k', '5')
    captured = capsys.readouterr()
    assert captured.err.count("names no classes") == 1        # said once, not per file
    assert [r['path'] for r in records] == [clips['short'], clips['long']]    # the broken one skipped
    assert 'skipped: cannot read audio file' in captured.err and '1 of 3 files could not be read' in captured.err
    assert sorted(records[0]['labels']) == ['class 0', 'class 1', 'class 2']     # top 5 of 3
    assert '[' + clips['short'] + '] class ' in captured.out
    raises_one_line(DataError, lambda: infer_main('tag', str(broken), '--model', str(model)),
                    'cannot read audio file', 'broken.wav')


def test_fixed_length_mindir_gets_windows_of_its_length(tiny, clips, tmp_path):
    from src.inference.export import export_model
    length = 3000
    mindir, sidecar = export_model(tiny['cfg'], tiny['ckpt'], str(tmp_path / 'fixed'), fixed_frames=length)
    with open(sidecar) as f:
        assert json.load(f)['inputs'][0]['shape'] == [1, length]
    clip = os.path.join(clips['audio'], sorted(os.listdir(clips['audio']))[0])    # 1 s
    (record,) = infer_main('tag', clip, '--model', mindir)
    ((expected, windows),) = by_hand(tiny['net'], [clip], window=length, hop=length // 2)
    assert record['windows'] == windows == 5                 # 0, 1500, 3000, 4500, 5000
    np.testing.assert_allclose(record['scores'], [expected[NAMES.index(n)] for n in record['labels']],
                               rtol=1e-4, atol=1e-6)
    raises_one_line(UserError, lambda: infer_main('tag', clip, '--model', mindir, '--clip_seconds', '1'),
                    'exactly 3000 samples')


# ------------------------------------------------------------------------------ PANNs taggers

def torch_layout(params):
    """A converted PANNs state (MindSpore names) back in the PyTorch layout of the public files."""
    fields = {'gamma': 'weight', 'beta': 'bias', 'moving_mean': 'running_mean',
              'moving_variance': 'running_var'}
    state = {}
    for name, value in params.items():
        if name == 'spectrogram_extractor.conv.weight':
            half = value.shape[0] // 2
            state['spectrogram_extractor.stft.conv_real.weight'] = value[:half, :, 0]
            state['spectrogram_extractor.stft.conv_imag.weight'] = value[half:, :, 0]
            continue
        path, _, field = name.rpartition('.')
        state[f'{path}.{fields.get(field, field)}'] = value
    return state


@pytest.fixture(scope='module')
def audioset_tagger(clips):
    """A tiny 8 kHz PANNs Cnn6 with AudioSet's 527 outputs, as an .npz of its PyTorch state."""
    import mindspore as ms
    from src.panns.network import Cnn6
    ms.set_seed(3)
    net = Cnn6(sample_rate=RATE, window_size=256, hop_size=80, mel_bins=32, fmin=50, fmax=4000,
               classes_num=527)
    net.set_train(False)
    params = {name: p.asnumpy() for name, p in net.parameters_and_names()}
    path = str(clips['dir'] / 'cnn6_8k.npz')
    np.savez(path, **torch_layout(params))
    return {'net': net, 'npz': path, 'params': params}


def test_panns_state_dict_tags_with_audioset_names(audioset_tagger, clips, capsys):
    records = infer_main('tag', clips['long'], clips['short'], '--panns', audioset_tagger['npz'],
                         '--clip_seconds', str(CLIP), '--top_k', '4')
    names = read_audioset_labels()
    printed = parse_lines(capsys.readouterr().out)
    paths = [clips['long'], clips['short']]
    for record, path, (expected, windows) in zip(records, paths,
                                                 by_hand(audioset_tagger['net'], paths, sigmoid=True)):
        assert record['windows'] == windows
        best = np.argsort(-expected, kind='stable')[:4]
        assert record['labels'] == [names[i] for i in best] == [label for label, _ in printed[path]]
        np.testing.assert_allclose(record['scores'], expected[best], rtol=1e-4, atol=1e-6)


def test_converted_panns_checkpoint_with_its_json(audioset_tagger, clips, tmp_path):
    from src.panns.inference import Tagger
    from src.checkpoint import save_params
    ckpt = str(tmp_path / 'cnn6.ckpt')
    save_params(audioset_tagger['params'], ckpt)
    # the .json as tools/convert_panns.py writes it: front end from the window size
    config = {'architecture': 'cnn6', 'args': {'classes_num': 527, 'mel_bins': 32, **panns_front_end(256)},
              'checkpoint_classes_num': 527, 'reinitialised': []}
    (tmp_path / 'cnn6.json').write_text(json.dumps(config))
    tagger = Tagger(panns=ckpt, clip_seconds=CLIP)
    assert tagger.sample_rate == RATE and tagger.window == WINDOW and tagger.output == 'probabilities'
    scores, windows = tagger(read_audio(clips['long'], RATE), tagger.hop())
    ((expected, count),) = by_hand(audioset_tagger['net'], [clips['long']], sigmoid=True)
    assert windows == count
    np.testing.assert_allclose(scores, expected, rtol=1e-4, atol=1e-6)
    assert tagger.names(527)[0] == 'Speech'
    (tmp_path / 'cnn6.json').write_text(json.dumps(dict(config, reinitialised=['fc_audioset.weight'])))
    raises_one_line(CheckpointError, lambda: Tagger(panns=ckpt), 'freshly initialised')


# ------------------------------------------------------------------------------------ errors

def test_one_line_errors_of_the_command(tiny, clips, tmp_path):
    clip = clips['short']
    one_line_error(run('tag', str(tmp_path / 'missing.wav'), '--model', tiny['mindir']),
                   'no such file or folder', 'missing.wav')
    (tmp_path / 'empty').mkdir()
    one_line_error(run('tag', str(tmp_path / 'empty'), '--model', tiny['mindir']), 'no audio files')
    one_line_error(run('tag', clip, '--model', tiny['mindir'], '--top_k', '0'), '--top_k')
    # a speaker model's sidecar with tag, the classifier's with verify
    speaker = tmp_path / 'ecapa.mindir'
    shutil.copy(tiny['mindir'], speaker)
    (tmp_path / 'ecapa.json').write_text(json.dumps(
        {'model': 'ecapa_tdnn', 'task': 'speaker_verification', 'sample_rate': 16000, 'features': {'n_mels': 80},
         'inputs': [{'name': 'feats', 'dtype': 'float32', 'shape': [1, None, 80]}],
         'outputs': [{'name': 'embedding', 'dtype': 'float32', 'shape': [1, 1, 192]}]}))
    one_line_error(run('tag', clip, '--model', str(speaker)), 'ecapa_tdnn is a speaker embedding model, '
                   'not a sound classifier', 'infer.py verify')
    one_line_error(run('verify', clip, clip, '--model', tiny['mindir']), 'is a sound classifier',
                   'infer.py tag')
    # unreadable model files
    broken = tmp_path / 'broken.mindir'
    broken.write_bytes(b'\x00' * 64)
    shutil.copy(tiny['sidecar'], tmp_path / 'broken.json')
    one_line_error(run('tag', clip, '--model', str(broken)), 'not a loadable MindIR')


def test_one_line_errors_in_process(tiny, clips, tmp_path):
    clip = clips['short']
    cut = tmp_path / 'cut.ckpt'
    cut.write_bytes(b'\x00' * 100)
    raises_one_line(CheckpointError, lambda: infer_main('tag', clip, '--config', tiny['config'],
                                                        '--checkpoint', str(cut)), 'cut.ckpt')
    bad = tmp_path / 'bad.npz'
    bad.write_bytes(b'not a zip')
    raises_one_line(CheckpointError, lambda: infer_main('tag', clip, '--panns', str(bad)), 'bad.npz')
    raises_one_line(UserError, lambda: infer_main('tag', clip, '--panns', str(tmp_path / 'no.pth')),
                    'no.pth')
    foreign = tmp_path / 'other.npz'
    np.savez(foreign, **{'encoder.weight': np.zeros(3)})
    raises_one_line(CheckpointError, lambda: infer_main('tag', clip, '--panns', str(foreign)),
                    'not a PANNs')
    raises_one_line(CheckpointError, lambda: infer_main('tag', clip, '--panns', tiny['ckpt']),
                    "this project's PANNs classifier", '--config')
    raises_one_line(UserError, lambda: infer_main('tag', clip), 'pass one model')
    raises_one_line(UserError, lambda: infer_main('tag', clip, '--config', tiny['config']), 'pass one model')
    raises_one_line(UserError, lambda: infer_main('tag', clip, '--model', tiny['mindir'],
                                                  '--hop_seconds', '0'), '--hop_seconds')
    ecapa = os.path.join(ROOT, 'configs', 'ecapa_tdnn', 'demo.yaml')
    raises_one_line(UserError, lambda: infer_main('tag', clip, '--config', ecapa, '--checkpoint',
                                                  tiny['ckpt']), 'not a sound classifier')
    raises_one_line(UserError, lambda: infer_main('verify', clip, clip, '--config', tiny['config'],
                                                  '--checkpoint', tiny['ckpt']), 'is a sound classifier')
