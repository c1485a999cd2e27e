"""VoxCeleb preparation and training crops on a tiny demo corpus; batches through the path the
trainer takes (``recipe.train_set(cfg)`` and the batch loader)."""
import json
import os
import shutil
import sys
import textwrap

import numpy as np
import pytest
import soundfile

from src.audio import Fbank
from src.config import load_config
from src.data.demo import make_demo
from src.data.loader import BatchLoader
from src.data.manifest import read_table, write_table
from src.ecapa_tdnn import dataset
from src.ecapa_tdnn.dataset import MANIFEST_COLUMNS, VoxCelebTrainSet, prepare_voxceleb
from src.errors import ConfigError, DataError
from src.recipes import get_recipe
from tests.helpers import ROOT

TINY = dict(train_speakers=3, train_videos=2, train_utterances=2, train_seconds=(1.0, 1.5),
            test_speakers=2, test_videos=2, test_utterances=2, test_seconds=(1.0, 1.5),
            num_trials=8, valid_speakers=0)


@pytest.fixture(scope='module')
def demo(tmp_path_factory):
    return make_demo('voxceleb', tmp_path_factory.mktemp('demo'), **TINY)


def recipe_train_set(manifest, speakers_json, *overrides):
    """The training set the trainer builds from the demo config, on the given lists."""
    cfg = load_config(os.path.join(ROOT, 'configs', 'ecapa_tdnn', 'demo.yaml'),
                      [f'data.train_manifest={manifest}', f'data.speakers={speakers_json}',
                       "data.musan=''", "data.rirs=''", 'train.eval_every=0', *overrides])
    return get_recipe(cfg.model.name).train_set(cfg)


@pytest.fixture(scope='module')
def prepared(demo, tmp_path_factory):
    out = tmp_path_factory.mktemp('prepared')
    manifest = prepare_voxceleb([demo['voxceleb2']], out, progress=False)
    return manifest, os.path.join(out, 'speakers.json')


def test_prepare_writes_every_training_utterance(demo, prepared):
    manifest, speakers_json = prepared
    rows = read_table(manifest, MANIFEST_COLUMNS)
    assert len(rows) == 3 * 2 * 2
    assert [row['utt_id'] for row in rows] == sorted(row['utt_id'] for row in rows)
    with open(speakers_json) as handle:
        assert json.load(handle) == {'id00001': 0, 'id00002': 1, 'id00003': 2}
    for row in rows:
        assert os.path.isabs(row['path'])
        assert row['path'] == os.path.join(demo['voxceleb2'], 'dev', 'wav',
                                           row['utt_id'] + '.wav')
        assert row['num_samples'] == soundfile.info(row['path']).frames
        assert row['speaker'] == row['utt_id'].split('/')[0]


def test_prepare_both_sets_and_exclude_trial_speakers(demo, tmp_path):
    both = read_table(prepare_voxceleb([demo['voxceleb2'], demo['voxceleb1']], tmp_path / 'a',
                                       progress=False), MANIFEST_COLUMNS)
    assert len({row['speaker'] for row in both}) == 5 and len(both) == 20
    kept = read_table(prepare_voxceleb([demo['voxceleb2'], demo['voxceleb1']], tmp_path / 'b',
                                       exclude_trials=[demo['trials']], progress=False),
                      MANIFEST_COLUMNS)
    assert {row['speaker'] for row in kept} == {'id00001', 'id00002', 'id00003'}
    with pytest.raises(DataError, match='in two roots'):
        prepare_voxceleb([demo['voxceleb2'], demo['voxceleb2']], tmp_path / 'c', progress=False)


def test_prepare_checks_and_copies_trial_lists(demo, tmp_path):
    out = tmp_path / 'lists'
    prepare_voxceleb([demo['voxceleb2']], out, trials=[demo['trials']],
                     trials_audio_root=demo['audio_root'], progress=False)
    with open(demo['trials']) as handle:
        assert (out / 'veri_test2.txt').read_text() == handle.read()
    # checked before the (long) preparation: nothing is written for a list with missing files
    with pytest.raises(DataError, match='are missing under'):
        prepare_voxceleb([demo['voxceleb2']], tmp_path / 'wrong', trials=[demo['trials']],
                         trials_audio_root=demo['voxceleb2'], progress=False)
    assert not (tmp_path / 'wrong').exists()
    (tmp_path / 'broken.txt').write_text('1 a.wav\n')
    with pytest.raises(DataError, match='broken.txt:1'):
        prepare_voxceleb([demo['voxceleb2']], tmp_path / 'wrong', trials=[tmp_path / 'broken.txt'])


def test_prepare_skips_short_and_unreadable_files(demo, tmp_path):
    root = tmp_path / 'vox'
    shutil.copytree(os.path.join(demo['voxceleb1'], 'wav'), root / 'wav')
    files = sorted(str(p) for p in root.rglob('*.wav'))
    soundfile.write(files[0], np.zeros(4000), 16000, subtype='PCM_16')     # 0.25 s
    with open(files[1], 'wb') as handle:
        handle.write(b'not a wav file')
    manifest = prepare_voxceleb([root], tmp_path / 'out', min_duration=0.5, progress=False)
    assert len(read_table(manifest, MANIFEST_COLUMNS)) == len(files) - 2
    skipped = (tmp_path / 'out' / 'skipped.txt').read_text().splitlines()
    assert len(skipped) == 2
    assert any(files[0] in line and 'shorter than min_duration' in line for line in skipped)
    assert any(files[1] in line and 'cannot read' in line for line in skipped)


def test_prepare_errors_name_the_root(tmp_path):
    with pytest.raises(DataError, match='VoxCeleb root not found: .*nowhere'):
        prepare_voxceleb([tmp_path / 'nowhere'], tmp_path / 'out')
    (tmp_path / 'empty' / 'dev' / 'aac').mkdir(parents=True)
    with pytest.raises(DataError, match=r'no VoxCeleb speaker folders \(idNNNNN\) under .*empty'):
        prepare_voxceleb([tmp_path / 'empty'], tmp_path / 'out')


def m4a_tree(demo, tmp_path):
    """A VoxCeleb2-like ``dev/aac`` tree whose .m4a files hold wav data (for a fake ffmpeg)."""
    source = os.path.join(demo['voxceleb2'], 'dev', 'wav')
    root = tmp_path / 'vox2'
    for folder, _, names in os.walk(source):
        for name in names:
            relative = os.path.relpath(os.path.join(folder, name), source)
            target = root / 'dev' / 'aac' / relative.replace('.wav', '.m4a')
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(os.path.join(folder, name), target)
    return root


def fake_ffmpeg(tmp_path):
    """An executable that converts like ffmpeg (wav-in-m4a -> wav) and logs its calls."""
    script = tmp_path / 'ffmpeg'
    script.write_text(f'#!{sys.executable}\n' + textwrap.dedent(f'''
        import sys, soundfile
        args = sys.argv[1:]
        source, target = args[args.index('-i') + 1], args[-1]
        rate = int(args[args.index('-ar') + 1])
        with open({str(tmp_path / 'calls.log')!r}, 'a') as log:
            log.write(source + '\\n')
        if '00002' in source and 'id00003' in source:
            sys.stderr.write('Invalid data found when processing input\\n')
            sys.exit(1)
        wave, file_rate = soundfile.read(source)
        assert file_rate == rate and args[args.index('-ac') + 1] == '1'
        soundfile.write(target, wave, rate, subtype='PCM_16', format='WAV')
    '''))
    script.chmod(0o755)
    return str(script)


def test_m4a_conversion_mirrors_the_tree_and_skips_existing(demo, tmp_path, monkeypatch):
    root = m4a_tree(demo, tmp_path)
    ffmpeg = fake_ffmpeg(tmp_path)
    monkeypatch.setattr(shutil, 'which', lambda name: ffmpeg if name == 'ffmpeg' else None)
    out = tmp_path / 'out'
    rows = read_table(prepare_voxceleb([root], out, num_jobs=2, progress=False),
                      MANIFEST_COLUMNS)
    calls = (tmp_path / 'calls.log').read_text().splitlines()
    assert len(calls) == 12 and len(rows) == 12 - 2                # one bad file per video
    for row in rows:
        assert row['path'] == str(out / 'wav' / (row['utt_id'] + '.wav'))
        original = os.path.join(demo['voxceleb2'], 'dev', 'wav', row['utt_id'] + '.wav')
        np.testing.assert_array_equal(soundfile.read(row['path'])[0], soundfile.read(original)[0])
    assert 'ffmpeg failed: Invalid data' in (out / 'skipped.txt').read_text()
    assert not list(out.rglob('*.part'))
    # A second run converts only what failed before.
    prepare_voxceleb([root], out, progress=False)
    assert len((tmp_path / 'calls.log').read_text().splitlines()) == 12 + 2


def test_m4a_without_ffmpeg_or_with_conversion_off(demo, tmp_path, monkeypatch):
    root = m4a_tree(demo, tmp_path)
    with pytest.raises(DataError, match='convert_m4a is off'):
        prepare_voxceleb([root], tmp_path / 'out', convert_m4a=False)
    monkeypatch.setattr(shutil, 'which', lambda name: None)
    with pytest.raises(DataError) as error:
        prepare_voxceleb([root], tmp_path / 'out')
    assert str(error.value) == ('ffmpeg not found: install it (apt install ffmpeg) or pass wav '
                                'files')


class ReadSpy:
    """Records the ``start``/``stop`` of every read_audio call."""

    def __init__(self, monkeypatch):
        self.calls = []
        original = dataset.read_audio

        def spy(path, *args, **kwargs):
            self.calls.append((path, kwargs.get('start'), kwargs.get('stop')))
            return original(path, *args, **kwargs)
        monkeypatch.setattr(dataset, 'read_audio', spy)


def test_train_item_is_the_fbank_of_a_crop(prepared, monkeypatch):
    train = VoxCelebTrainSet(*prepared, crop_seconds=(0.5, 0.8))
    spy = ReadSpy(monkeypatch)
    rng = np.random.default_rng(0)
    for index in range(len(train)):
        item = train.get(index, rng, num_samples=9000)
        path, start, stop = spy.calls[-1]
        assert stop - start == 9000 and 0 <= start and stop <= train.lengths[index]
        wave = soundfile.read(path, dtype='float32')[0][start:stop]
        np.testing.assert_allclose(item['feats'], Fbank()(wave), atol=1e-4)
        assert item['feats'].dtype == np.float32 and item['feats'].shape == (1 + 9000 // 160, 80)
        assert item['label'] == int(path.split(os.sep)[-3][2:]) - 1      # id00001 -> 0
    starts = {start for _, start, _ in spy.calls}
    assert len(starts) > len(train) // 2                            # crops move around
    lengths = {train.draw_num_samples(rng) for _ in range(200)}
    assert min(lengths) >= 8000 and max(lengths) <= 12800 and len(lengths) > 100
    assert VoxCelebTrainSet(*prepared, crop_seconds=3.0).draw_num_samples(rng) == 48000


def test_short_files_wrap_around_and_batches_share_a_length(prepared, tmp_path):
    train = recipe_train_set(*prepared, 'data.crop_seconds=[2.0,3.0]')
    assert isinstance(train, VoxCelebTrainSet) and train.num_classes == 3
    rng = np.random.default_rng(1)
    item = train.get(0, rng, num_samples=40000)                     # files are <= 1.5 s
    wave = soundfile.read(train.paths[0], dtype='float32')[0]
    expected = np.concatenate([wave] * (40000 // len(wave) + 1))[:40000]
    np.testing.assert_allclose(item['feats'], Fbank()(expected), atol=1e-4)
    batch = train.make_batch([0, 3, 5, 7], rng)
    frames = batch['feats'].shape[1]
    assert batch['feats'].shape == (4, frames, 80) and 201 <= frames <= 301
    assert batch['labels'].tolist() == [int(train.labels[i]) for i in (0, 3, 5, 7)]
    assert batch['labels'].dtype == np.int32 and batch['feats'].dtype == np.float32
    assert batch['_bad'] == 0


@pytest.mark.parametrize('step, shapes', [(None, range(1, 12)), (0.25, range(1, 6)), (0.0, range(90, 102))])
def test_training_crops_take_a_bounded_number_of_lengths(prepared, step, shapes):
    """The recipe's training set (what the trainer batches) draws 2-3 s crops in 0.1 s steps by
    default: at most 11 batch shapes, so graph mode compiles at most 11 train steps."""
    from src.config import build_config
    from src.recipes import get_recipe
    manifest, speakers_json = prepared
    data = {'train_manifest': manifest, 'speakers': speakers_json, 'crop_seconds': [2.0, 3.0]}
    if step is not None:
        data['crop_step_seconds'] = step
    cfg = build_config({'model': {'name': 'ecapa_tdnn'}, 'data': data, 'train': {'eval_every': 0}})
    train_set = get_recipe('ecapa_tdnn').train_set(cfg)
    rng = np.random.default_rng(0)
    samples = {train_set.draw_num_samples(rng) for _ in range(2000)}
    assert min(samples) >= 32000 and max(samples) <= 48000
    frames = {Fbank().num_frames(n) for n in samples}
    assert len(frames) in shapes
    if step:
        assert all((n - 32000) % int(step * 16000) == 0 for n in samples)
        assert len(samples) == len(shapes) and max(samples) == 48000     # every length is drawn
    batch = train_set.make_batch(np.array([0, 1]), np.random.default_rng(1))
    assert batch['feats'].shape[1] in frames


def test_augmenter_gets_the_crop_and_the_rng(prepared):
    seen = []

    def augmenter(wave, rng):
        seen.append(len(wave))
        return wave * 0.5 + rng.standard_normal(len(wave)).astype(np.float32) * 1e-3

    train = VoxCelebTrainSet(*prepared, augmenter=augmenter)
    a = train.get(2, np.random.default_rng(5), num_samples=8000)
    b = train.get(2, np.random.default_rng(5), num_samples=8000)
    assert seen == [8000, 8000]
    np.testing.assert_array_equal(a['feats'], b['feats'])          # same rng, same item


def test_bad_files_are_skipped_and_counted(prepared, tmp_path, caplog):
    manifest, speakers_json = prepared
    rows = read_table(manifest, MANIFEST_COLUMNS)
    corrupt = tmp_path / 'corrupt.wav'
    corrupt.write_bytes(b'RIFF\x00\x00\x00\x00WAVEjunk')
    empty = tmp_path / 'empty.wav'
    soundfile.write(str(empty), np.zeros(0), 16000, subtype='PCM_16')
    rows[0] = {**rows[0], 'path': str(corrupt)}
    rows[1] = {**rows[1], 'path': str(empty)}
    write_table(tmp_path / 'train.csv', rows, list(MANIFEST_COLUMNS))
    train = recipe_train_set(tmp_path / 'train.csv', speakers_json, 'data.crop_seconds=[0.5,0.5]')
    rng = np.random.default_rng(0)
    assert train.get(0, rng, 8000) is None and train.get(0, rng, 8000) is None
    assert train.unreadable.paths == {str(corrupt)}
    assert len(caplog.records) == 1 and 'corrupt.wav' in caplog.text     # logged once
    assert train.get(1, rng, 8000) is None
    assert train.unreadable.paths == {str(corrupt), str(empty)}
    batch = train.make_batch([0, 1, 2], rng)
    assert batch['feats'].shape[0] == 3 and batch['_bad'] >= 2
    # the loader counts them and stops a run once more than max_bad_fraction of the items
    # seen were bad (2 of the 12 files are: about 1/6)
    loader = BatchLoader(train, 4, max_bad_fraction=0.1)
    with pytest.raises(DataError, match=r'items were unreadable \(more than train.max_bad_fraction=0.1\)'):
        for epoch in range(6):
            list(loader.epoch(epoch))
    assert loader.seen >= 50
    tolerant = BatchLoader(train, 4, max_bad_fraction=0.5)
    for epoch in range(5):
        list(tolerant.epoch(epoch))
    assert tolerant.seen == 60 and 10 <= tolerant.bad < 30


def test_train_set_errors(prepared, tmp_path):
    manifest, _ = prepared
    (tmp_path / 'speakers.json').write_text('{"id00001": 0}')
    with pytest.raises(DataError, match='2 speakers of .* are not in'):
        VoxCelebTrainSet(manifest, tmp_path / 'speakers.json')
    with pytest.raises(ConfigError, match='crop_seconds'):
        VoxCelebTrainSet(*prepared, crop_seconds=(3.0, 2.0))
