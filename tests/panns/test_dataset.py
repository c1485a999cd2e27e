"""Sound-clip datasets: the ESC-50 reader and its one-line errors, the generic layouts, fold
splits and fixed-length waveform batches (resampling, padding, cropping, bad files)."""
import os

import numpy as np
import pytest
import soundfile

from src.audio import write_audio
from src.data.demo import make_demo
from src.errors import ConfigError, DataError
from tests.helpers import raises_one_line
from src.panns.dataset import (ESC10_CATEGORIES, ESC50_CATEGORIES, SoundClipSet, class_names,
                               class_targets, fold_split, read_esc50, read_folder_of_classes,
                               read_labelled_csv)

HEADER = 'filename,fold,target,category,esc10,src_file,take\n'


@pytest.fixture(scope='module')
def esc50(tmp_path_factory):
    out = tmp_path_factory.mktemp('esc50')
    return make_demo('esc50', out, classes=3, clips_per_class=5, seconds=1.0)['esc50']


def fake_esc50(tmp_path, lines, files=()):
    """An ESC-50 tree with the given csv rows (after the header) and silent clips."""
    root = tmp_path / 'ESC-50'
    (root / 'meta').mkdir(parents=True)
    (root / 'meta' / 'esc50.csv').write_text(HEADER + ''.join(line + '\n' for line in lines))
    for name in files:
        write_audio(root / 'audio' / name, np.zeros(441, np.float32), 44100)
    return root


def one_line_error(call, *match):
    return raises_one_line(DataError, call, *match)


def test_real_category_names():
    assert len(ESC50_CATEGORIES) == len(set(ESC50_CATEGORIES)) == 50
    assert ESC50_CATEGORIES[:3] == ('dog', 'rooster', 'pig')
    assert ESC50_CATEGORIES[10] == 'rain' and ESC50_CATEGORIES[49] == 'hand_saw'
    targets = [ESC50_CATEGORIES.index(name) for name in ESC10_CATEGORIES]
    assert targets == [0, 1, 10, 11, 12, 20, 21, 38, 40, 41]


def test_read_esc50_rows(esc50):
    rows = read_esc50(esc50)
    assert len(rows) == 15
    assert set(rows[0]) == {'path', 'fold', 'target', 'category'}
    for row in rows:
        assert os.path.isfile(row['path'])
        name = os.path.basename(row['path'])
        assert name.startswith(f"{row['fold']}-") and name.endswith(f"-{row['target']}.wav")
    assert class_targets(rows) == [0, 1, 10]
    assert class_names(rows) == ['dog', 'rooster', 'rain']
    assert {row['fold'] for row in read_esc50(esc50, folds=[2, 4])} == {2, 4}
    assert len(read_esc50(esc50, folds=[3])) == 3
    assert len(read_esc50(esc50, esc10=True)) == 15           # the demo classes are ESC-10


def test_read_esc50_keeps_only_esc10(tmp_path):
    root = fake_esc50(tmp_path, ['1-100-A-0.wav,1,0,dog,True,100,A',
                                 '1-101-A-2.wav,1,2,pig,False,101,A'],
                      ['1-100-A-0.wav', '1-101-A-2.wav'])
    assert [r['category'] for r in read_esc50(root)] == ['dog', 'pig']
    assert [r['category'] for r in read_esc50(root, esc10=True)] == ['dog']
    assert 'pig' not in ESC10_CATEGORIES


def test_read_esc50_errors(tmp_path):
    one_line_error(lambda: read_esc50(tmp_path / 'nowhere'), 'ESC-50 root not found')
    (tmp_path / 'empty').mkdir()
    one_line_error(lambda: read_esc50(tmp_path / 'empty'), 'meta/esc50.csv')
    cases = {
        'short': ('1-100-A-0.wav,1,0,dog,True,100', 'esc50.csv:3', '6 fields'),
        'notint': ('1-100-A-0.wav,one,0,dog,True,100,A', 'esc50.csv:3', 'integers'),
        'label': ('1-100-A-0.wav,1,0,wolf,True,100,A', 'esc50.csv:3',
                  "unknown ESC-50 category 'wolf'"),
        'fold': ('7-100-A-0.wav,7,0,dog,True,100,A', 'esc50.csv:3', 'fold 7 is outside 1-5'),
        'target': ('1-100-A-3.wav,1,3,dog,True,100,A', 'esc50.csv:3', 'target 3 does not match'),
        'esc10': ('1-100-A-0.wav,1,0,dog,yes,100,A', 'esc50.csv:3', 'True or False'),
        'name': ('2-100-A-0.wav,1,0,dog,True,100,A', 'esc50.csv:3', 'does not match fold 1'),
    }
    for case, (line, *match) in cases.items():
        root = fake_esc50(tmp_path / case, ['1-1-A-1.wav,1,1,rooster,True,1,A', line])
        one_line_error(lambda: read_esc50(root), *match[:1])
        one_line_error(lambda: read_esc50(root), match[1])
    root = fake_esc50(tmp_path / 'ok', ['1-100-A-0.wav,1,0,dog,True,100,A'])
    one_line_error(lambda: read_esc50(root), '1 of the 1 audio files', 'missing')
    assert len(read_esc50(root, check_files=False)) == 1
    one_line_error(lambda: read_esc50(root, folds=[0, 1], check_files=False),
                   'fold 0 is outside 1-5')
    one_line_error(lambda: read_esc50(root, folds=[2], check_files=False), 'no ESC-50 clips')
    (tmp_path / 'header' / 'meta').mkdir(parents=True)
    (tmp_path / 'header' / 'meta' / 'esc50.csv').write_text('filename,fold,target\n')
    one_line_error(lambda: read_esc50(tmp_path / 'header'), 'esc50.csv:1', 'expected filename')


def test_fold_split(esc50):
    rows = read_esc50(esc50)
    train, test = fold_split(rows, 5)
    assert len(train) == 12 and len(test) == 3
    assert {r['fold'] for r in test} == {5} and 5 not in {r['fold'] for r in train}
    assert class_names(test) == class_names(train) == ['dog', 'rooster', 'rain']
    for bad in (0, 6):
        one_line_error(lambda: fold_split(rows, bad), f'fold {bad} is outside 1-5')
    one_line_error(lambda: fold_split([{**rows[0], 'fold': None}], 1), 'no folds')
    one_line_error(lambda: fold_split(read_esc50(esc50, folds=[1]), 1), '0 training')


def test_resampling_to_32k_gives_the_window(esc50):
    rows = read_esc50(esc50)
    clips = SoundClipSet(rows, sample_rate=32000, clip_seconds=1.0, train=False)
    assert len(clips) == 15 and clips.num_classes == 3
    batch = clips.make_batch([0, 5, 14], np.random.default_rng(0))
    assert batch['waveform'].shape == (3, 32000) and batch['waveform'].dtype == np.float32
    assert batch['target'].dtype == np.int32 and batch['_bad'] == 0
    labels = {0: 0, 1: 1, 10: 2}
    assert batch['target'].tolist() == [labels[rows[i]['target']] for i in (0, 5, 14)]
    # Same window as a resampling of the 44.1 kHz file by the independent scipy path.
    from scipy.signal import resample_poly
    wave, rate = soundfile.read(rows[5]['path'], dtype='float32')
    assert rate == 44100
    expected = resample_poly(wave, 320, 441)
    np.testing.assert_allclose(batch['waveform'][1], expected, atol=1e-5)


def test_padding_cropping_and_silence(tmp_path):
    write_audio(tmp_path / 'short.wav', np.full(1000, 0.25, np.float32), 32000)
    write_audio(tmp_path / 'long.wav', np.arange(4000, dtype=np.float32) / 8000, 32000)
    write_audio(tmp_path / 'silent.wav', np.zeros(3200, np.float32), 44100)
    rows = [{'path': str(tmp_path / name), 'fold': 1, 'target': t, 'category': name}
            for t, name in enumerate(['short.wav', 'long.wav', 'silent.wav'])]
    window = 2000                                           # 62.5 ms at 32 kHz
    rng = np.random.default_rng(0)
    evaluation = SoundClipSet(rows, sample_rate=32000, clip_seconds=window / 32000, train=False)
    batch = evaluation.make_batch([0, 1, 2], rng)
    short, long_, silent = batch['waveform']
    np.testing.assert_allclose(short[:1000], 0.25, atol=1e-4)
    assert not short[1000:].any()                             # zero padding after the clip
    ramp = soundfile.read(tmp_path / 'long.wav', dtype='float32')[0]   # the 16-bit ramp
    np.testing.assert_allclose(long_, ramp[1000:3000], atol=1e-6)   # centre crop
    assert not silent.any() and np.isfinite(batch['waveform']).all()
    training = SoundClipSet(rows, sample_rate=32000, clip_seconds=window / 32000, train=True)
    starts = set()
    for seed in range(8):
        crop = training.make_batch([1], np.random.default_rng(seed))['waveform'][0]
        start = int(round(crop[0] * 8000))
        np.testing.assert_allclose(crop, ramp[start:start + window], atol=1e-6)
        starts.add(start)
    assert len(starts) > 1                                    # random crops
    with pytest.raises(ConfigError):
        SoundClipSet(rows, clip_seconds=0)


def test_unreadable_files_are_replaced_and_counted(tmp_path):
    write_audio(tmp_path / 'good.wav', np.full(320, 0.5, np.float32), 32000)
    (tmp_path / 'bad.wav').write_bytes(b'not a wav file')
    rows = [{'path': str(tmp_path / 'good.wav'), 'fold': 1, 'target': 0, 'category': 'a'},
            {'path': str(tmp_path / 'bad.wav'), 'fold': 1, 'target': 1, 'category': 'b'}]
    clips = SoundClipSet(rows, clip_seconds=0.01)
    batch = clips.make_batch([1, 0, 1], np.random.default_rng(0))
    assert batch['_bad'] >= 2 and batch['target'].tolist() == [0, 0, 0]
    np.testing.assert_allclose(batch['waveform'], 0.5, atol=1e-4)
    assert clips.unreadable.paths == {str(tmp_path / 'bad.wav')}
    only_bad = SoundClipSet(rows[1:], clip_seconds=0.01, max_tries=2)
    one_line_error(lambda: only_bad.make_batch([0], np.random.default_rng(0)),
                   '3 clips in a row were unreadable')
    one_line_error(lambda: SoundClipSet(rows, targets=[0]), 'target 1')


def test_folder_of_classes(tmp_path):
    for category, count in (('siren', 2), ('bark', 1)):
        for number in range(count):
            write_audio(tmp_path / 'data' / category / f'{number}.wav', np.zeros(10), 16000)
    (tmp_path / 'data' / 'bark' / 'notes.txt').write_text('not audio')
    rows = read_folder_of_classes(tmp_path / 'data')
    assert [(os.path.relpath(r['path'], tmp_path), r['target'], r['category'], r['fold'])
            for r in rows] == [('data/bark/0.wav', 0, 'bark', None),
                               ('data/siren/0.wav', 1, 'siren', None),
                               ('data/siren/1.wav', 1, 'siren', None)]
    assert class_names(rows) == ['bark', 'siren']
    assert SoundClipSet(rows).num_classes == 2
    (tmp_path / 'data' / 'empty').mkdir()
    one_line_error(lambda: read_folder_of_classes(tmp_path / 'data'), 'empty', 'no audio files')
    one_line_error(lambda: read_folder_of_classes(tmp_path / 'none'), 'audio folder not found')
    (tmp_path / 'flat').mkdir()
    one_line_error(lambda: read_folder_of_classes(tmp_path / 'flat'), 'no class folders')


def test_labelled_csv(tmp_path):
    for name in ('a.wav', 'b.wav', 'c.wav'):
        write_audio(tmp_path / 'clips' / name, np.zeros(10), 16000)
    (tmp_path / 'list.csv').write_text('path,label,fold\na.wav,zebra,1\nb.wav,ant,2\n'
                                       f'{tmp_path / "clips" / "c.wav"},zebra,2\n')
    rows = read_labelled_csv(tmp_path / 'list.csv', tmp_path / 'clips')
    assert [(os.path.basename(r['path']), r['target'], r['category'], r['fold'])
            for r in rows] == [('a.wav', 1, 'zebra', 1), ('b.wav', 0, 'ant', 2),
                               ('c.wav', 1, 'zebra', 2)]
    train, test = fold_split(rows, 1)
    assert [os.path.basename(r['path']) for r in test] == ['a.wav']
    (tmp_path / 'nofold.csv').write_text('path,label\na.wav,x\n')
    assert read_labelled_csv(tmp_path / 'nofold.csv', tmp_path / 'clips')[0]['fold'] is None
    (tmp_path / 'fold9.csv').write_text('path,label,fold\na.wav,x,1\nb.wav,x,9\n')
    one_line_error(lambda: read_labelled_csv(tmp_path / 'fold9.csv', tmp_path / 'clips'),
                   'fold9.csv:3', 'fold 9 is outside 1-5')
    (tmp_path / 'nolabel.csv').write_text('path,fold\na.wav,1\n')
    one_line_error(lambda: read_labelled_csv(tmp_path / 'nolabel.csv', tmp_path),
                   'lacks column(s) label')
    (tmp_path / 'missing.csv').write_text('path,label\nz.wav,x\n')
    one_line_error(lambda: read_labelled_csv(tmp_path / 'missing.csv', tmp_path / 'clips'),
                   'missing', 'z.wav')
    one_line_error(lambda: read_labelled_csv(tmp_path / 'nowhere.csv', tmp_path),
                   'not found')


def test_the_recipes_training_set_is_a_clip_set_of_the_training_folds(esc50):
    """The path the trainer takes: ``recipe.train_set(cfg).make_batch``."""
    from src.config import load_config
    from src.recipes import get_recipe
    from tests.helpers import ROOT
    cfg = load_config(os.path.join(ROOT, 'configs', 'panns', 'demo.yaml'),
                      [f'data.esc50_root={esc50}', 'model.args.num_classes=3', 'data.clip_seconds=0.5'])
    train = get_recipe(cfg.model.name).train_set(cfg)
    assert isinstance(train, SoundClipSet) and len(train) == 12 and train.num_classes == 3
    assert train.unreadable.source == os.path.join(str(esc50), 'meta', 'esc50.csv')
    batch = train.make_batch([0, 4, 11], np.random.default_rng(0))
    assert batch['waveform'].shape == (3, 16000) and batch['_bad'] == 0
    assert batch['target'].dtype == np.int32
    assert batch['target'].tolist() == [int(train.labels[i]) for i in (0, 4, 11)]
    np.testing.assert_array_equal(batch['target_probs'], np.eye(3, dtype=np.float32)[batch['target']])


def test_prepare_esc50_lists_the_clips_or_the_missing_ones(esc50, tmp_path):
    from src.panns.dataset import CLIP_COLUMNS, prepare_esc50
    from src.data.manifest import read_table
    manifest = prepare_esc50(esc50, tmp_path / 'lists')
    assert manifest == str(tmp_path / 'lists' / 'clips.csv')
    rows = read_table(manifest, {'path': str, 'label': str, 'fold': int, 'target': int})
    assert list(rows[0]) == list(CLIP_COLUMNS)
    assert [(r['path'], r['label'], r['fold'], r['target']) for r in rows] == [
        (r['path'], r['category'], r['fold'], r['target']) for r in read_esc50(esc50)]
    # what data.csv reads: the same clips and folds (classes ordered by name)
    listed = read_labelled_csv(manifest, '/unused')
    assert [(r['path'], r['category'], r['fold']) for r in listed] == [
        (r['path'], r['category'], r['fold']) for r in read_esc50(esc50)]
    assert len(read_table(prepare_esc50(esc50, tmp_path / 'esc10', esc10=True), {'path': str})) == 15
    # a broken copy of the tree: every missing clip listed, the stale manifest gone
    import shutil
    broken = tmp_path / 'ESC-50'
    shutil.copytree(esc50, broken)
    prepare_esc50(broken, tmp_path / 'lists')
    gone = sorted((broken / 'audio').glob('5-*.wav'))
    for path in gone:
        path.unlink()
    one_line_error(lambda: prepare_esc50(broken, tmp_path / 'lists'),
                   f'3 of the 15 audio files of {broken}/meta/esc50.csv are missing',
                   str(tmp_path / 'lists' / 'missing.txt'))
    assert (tmp_path / 'lists' / 'missing.txt').read_text().split() == [str(p) for p in gone]
    assert not (tmp_path / 'lists' / 'clips.csv').exists()
    (tmp_path / 'bad' / 'meta').mkdir(parents=True)
    (tmp_path / 'bad' / 'meta' / 'esc50.csv').write_text('filename,fold\n')
    one_line_error(lambda: prepare_esc50(tmp_path / 'bad', tmp_path / 'out'), 'esc50.csv:1')
    assert not (tmp_path / 'out').exists()
