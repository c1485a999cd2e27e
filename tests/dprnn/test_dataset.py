"""Separation data: LibriMix metadata (re-rooted absolute paths), the wsj0-2mix and WHAM! folder
layouts, training crops, whole-utterance evaluation, the preparer and its manifests, and the
one-line error of each kind of bad input. The trees are written here: tiny random-noise wavs."""
import ast
import dataclasses
import json
import os

import numpy as np
import pytest
import soundfile

import preprocess
from src.dprnn import dataset
from src.dprnn.dataset import (MixtureItem, SeparationDataConfig, SeparationEvalSet,
                               SeparationTrainSet, load_mixture, prepare_separation, reroot,
                               separation_eval_set, separation_items, separation_train_set)
from src.errors import ConfigError, DataError
from tests.helpers import raises_one_line

# The machine that generated the metadata: its absolute paths are in the CSVs, not here.
GENERATED_ON = '/gen/machine/data'
RATE = 8000


def write_wave(path, wave, sample_rate):
    # 32-bit float, so that a mixture written as the sum of its sources reads back as that sum.
    os.makedirs(os.path.dirname(path), exist_ok=True)
    soundfile.write(str(path), wave, sample_rate, subtype='FLOAT')


def write_mixture(folder, name, lengths_and_rng, n_src, sample_rate, mixture_folders):
    """Sources s1..sN and noise of one mixture under ``folder`` and its mixtures (``mix_clean``
    = sum of the sources, ``mix_both`` = + noise, ``mix`` = wsj0-2mix's clean mixture)."""
    length, rng = lengths_and_rng
    sources = (0.1 * rng.standard_normal((n_src, length))).astype(np.float32)
    noise = (0.05 * rng.standard_normal(length)).astype(np.float32)
    for k, source in enumerate(sources, start=1):
        write_wave(os.path.join(folder, f's{k}', name), source, sample_rate)
    write_wave(os.path.join(folder, 'noise', name), noise, sample_rate)
    clean = sources.sum(axis=0)
    for mixture_folder in mixture_folders:
        write_wave(os.path.join(folder, mixture_folder, name),
                   clean + noise if mixture_folder == 'mix_both' else clean, sample_rate)


def make_librimix(root, n_src=2, sample_rate=RATE, mode='min',
                  splits=(('train-360', (4000, 3000, 1600)), ('dev', (4000, 2400)),
                          ('test', (3200, 2000)))):
    """A LibriMix tree under ``root`` whose metadata names files under :data:`GENERATED_ON`."""
    rng = np.random.default_rng(0)
    mode_dir = os.path.join(f'Libri{n_src}Mix', f'wav{sample_rate // 1000}k', mode)
    for split, lengths in splits:
        rows = {'mix_clean': [], 'mix_both': []}
        for index, length in enumerate(lengths):
            mixture_id = f'{100 + index}-1-000{index}_{200 + index}-2-000{index}'
            name = mixture_id + '.wav'
            write_mixture(os.path.join(root, mode_dir, split), name, (length, rng), n_src,
                          sample_rate, ('mix_clean', 'mix_both'))
            there = os.path.join(GENERATED_ON, mode_dir, split)
            sources = [os.path.join(there, f's{k}', name) for k in range(1, n_src + 1)]
            for kind in rows:
                noise = [os.path.join(there, 'noise', name)] if kind == 'mix_both' else []
                rows[kind].append([mixture_id, os.path.join(there, kind, name), *sources, *noise,
                                   str(length)])
        for kind, lines in rows.items():
            header = ['mixture_ID', 'mixture_path',
                      *(f'source_{k}_path' for k in range(1, n_src + 1)),
                      *(['noise_path'] if kind == 'mix_both' else []), 'length']
            write_csv(os.path.join(root, mode_dir, 'metadata', f'mixture_{split}_{kind}.csv'),
                      header, lines)
    return root


def write_csv(path, header, lines):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as handle:
        handle.write(','.join(header) + '\n' + ''.join(','.join(line) + '\n' for line in lines))


def make_wsj0(root, splits=('tr', 'cv', 'tt'), n_src=2, lengths=(2400, 4000, 3000),
              mixture_folders=('mix',)):
    rng = np.random.default_rng(1)
    for split in splits:
        for index, length in enumerate(lengths):
            write_mixture(os.path.join(root, split), f'utt{index}_x.wav', (length, rng), n_src,
                          RATE, mixture_folders)
    return root


def config(root, **keys):
    return SeparationDataConfig(root=str(root), **keys)


def read_full(path):
    return soundfile.read(path, dtype='float32')[0]


@pytest.fixture(scope='module')
def librimix(tmp_path_factory):
    return make_librimix(str(tmp_path_factory.mktemp('librimix')))


# ----------------------------------------------------------------------------------- items

def test_librimix_items_are_re_rooted_onto_the_configured_root(librimix):
    items = separation_items(config(librimix), 'train-360')
    assert [item.num_samples for item in items] == [4000, 3000, 1600]      # the CSV's length
    base = os.path.join(librimix, 'Libri2Mix', 'wav8k', 'min', 'train-360')
    first = items[0]
    assert first.mixture_id == '100-1-0000_200-2-0000' and first.noise_path == ''
    assert first.mixture_path == os.path.join(base, 'mix_clean', first.mixture_id + '.wav')
    assert first.source_paths == tuple(os.path.join(base, f's{k}', first.mixture_id + '.wav')
                                       for k in (1, 2))
    noisy = separation_items(config(librimix, task='sep_noisy'), 'train-360')
    assert noisy[0].mixture_path == os.path.join(base, 'mix_both', first.mixture_id + '.wav')
    assert noisy[0].source_paths == first.source_paths            # the same clean targets
    assert noisy[0].noise_path == os.path.join(base, 'noise', first.mixture_id + '.wav')


def test_sep_noisy_mixture_is_the_clean_mixture_plus_noise(librimix):
    item = separation_items(config(librimix, task='sep_noisy'), 'dev')[0]
    mixture, sources = load_mixture(item, RATE)
    np.testing.assert_allclose(mixture, sources.sum(axis=0) + read_full(item.noise_path),
                               atol=1e-6)
    assert np.abs(mixture - sources.sum(axis=0)).max() > 0.01


def test_reroot_by_hand():
    assert reroot('/a/b/Libri2Mix/wav8k/min/dev/s1/x.wav', '/new', 'Libri2Mix') == \
        os.path.join('/new', 'Libri2Mix', 'wav8k', 'min', 'dev', 's1', 'x.wav')
    # the last Libri2Mix folder: the generator's output folder may itself be named Libri2Mix
    assert reroot('/data/Libri2Mix/Libri2Mix/wav8k/x.wav', '/new', 'Libri2Mix') == \
        os.path.join('/new', 'Libri2Mix', 'wav8k', 'x.wav')
    assert reroot('D:\\corpora\\Libri3Mix\\wav16k\\x.wav', '/new', 'Libri3Mix') == \
        os.path.join('/new', 'Libri3Mix', 'wav16k', 'x.wav')
    assert reroot('/a/other/x.wav', '/new', 'Libri2Mix') == '/a/other/x.wav'


def test_reroot_keeps_a_path_that_exists(tmp_path):
    path = tmp_path / 'Libri2Mix' / 'x.wav'
    path.parent.mkdir()
    path.write_bytes(b'')
    assert reroot(str(path), '/elsewhere', 'Libri2Mix') == str(path)


def test_libri3mix_at_16k_max(tmp_path):
    root = make_librimix(str(tmp_path), n_src=3, sample_rate=16000, mode='max',
                         splits=(('dev', (8000, 6000)),))
    data = config(root, n_src=3, sample_rate=16000, mode='max', valid_split='dev',
                  segment=0.25)
    items = separation_items(data, 'dev')
    assert all(len(item.source_paths) == 3 for item in items)
    assert items[0].source_paths[2].endswith(os.path.join('Libri3Mix', 'wav16k', 'max', 'dev',
                                                          's3', items[0].mixture_id + '.wav'))
    batch = SeparationTrainSet(items, 16000, 0.25, 3).make_batch([0, 1], np.random.default_rng(0))
    assert batch['mixture'].shape == (2, 4000) and batch['sources'].shape == (2, 3, 4000)
    np.testing.assert_allclose(batch['mixture'], batch['sources'].sum(axis=1), atol=1e-6)
    # the min folder of the same tree does not exist: min and max are separate trees
    raises_one_line(DataError, lambda: separation_items(dataclasses.replace(data, mode='min'), 'dev'),
                    os.path.join('Libri3Mix', 'wav16k', 'min', 'metadata'))


def test_wsj0_2mix_folders_flat_and_nested(tmp_path):
    flat = make_wsj0(str(tmp_path / 'flat'))
    items = separation_items(config(flat, layout='wsj0-2mix'), 'tr')
    assert [item.mixture_id for item in items] == ['utt0_x', 'utt1_x', 'utt2_x']
    assert [item.num_samples for item in items] == [2400, 4000, 3000]      # from the headers
    assert items[1].mixture_path == os.path.join(flat, 'tr', 'mix', 'utt1_x.wav')
    assert items[1].source_paths == (os.path.join(flat, 'tr', 's1', 'utt1_x.wav'),
                                     os.path.join(flat, 'tr', 's2', 'utt1_x.wav'))
    # the wsj0-mix scripts' own tree: <root>/wav8k/min/tr
    nested = make_wsj0(str(tmp_path / '2speakers' / 'wav8k' / 'min'), splits=('tt',))
    items = separation_items(config(tmp_path / '2speakers', layout='wsj0-2mix'), 'tt')
    assert items[0].mixture_path == os.path.join(nested, 'tt', 'mix', 'utt0_x.wav')
    mixture, sources = load_mixture(items[0], RATE)
    np.testing.assert_allclose(mixture, sources.sum(axis=0), atol=1e-6)
    three = make_wsj0(str(tmp_path / '3mix'), splits=('cv',), n_src=3)
    assert len(separation_items(config(three, layout='wsj0-2mix', n_src=3), 'cv')[0].source_paths) == 3


def test_wham_picks_mix_clean_or_mix_both(tmp_path):
    make_wsj0(str(tmp_path / 'wav8k' / 'min'), splits=('tt',), mixture_folders=('mix_clean', 'mix_both'))
    clean = separation_items(config(tmp_path, layout='wham'), 'tt')
    noisy = separation_items(config(tmp_path, layout='wham', task='sep_noisy'), 'tt')
    assert clean[0].mixture_path.endswith(os.path.join('tt', 'mix_clean', 'utt0_x.wav'))
    assert noisy[0].mixture_path.endswith(os.path.join('tt', 'mix_both', 'utt0_x.wav'))
    assert noisy[0].noise_path.endswith(os.path.join('tt', 'noise', 'utt0_x.wav'))
    assert clean[0].source_paths == noisy[0].source_paths and clean[0].noise_path == ''


# ----------------------------------------------------------------------------------- crops

def test_crops_come_from_one_offset_of_the_mixture_and_its_sources(librimix):
    items = separation_items(config(librimix), 'train-360')
    train = SeparationTrainSet(items, RATE, 0.25, 2, source='train')
    assert train.num_samples == 2000 and len(train) == 2 and train.dropped == 1
    offsets = []
    for seed in range(4):
        batch = train.make_batch([0, 1], np.random.default_rng(seed))
        assert batch['mixture'].shape == (2, 2000) and batch['mixture'].dtype == np.float32
        assert batch['sources'].shape == (2, 2, 2000) and batch['sources'].dtype == np.float32
        assert batch['_bad'] == 0
        for row, item in enumerate(train.items):
            full_mixture, full_sources = read_full(item.mixture_path), [
                read_full(path) for path in item.source_paths]
            windows = np.lib.stride_tricks.sliding_window_view(full_sources[0], 2000)
            (offset,) = np.flatnonzero((windows == batch['sources'][row, 0]).all(axis=1))
            offsets.append(offset)
            np.testing.assert_array_equal(batch['mixture'][row], full_mixture[offset:offset + 2000])
            np.testing.assert_array_equal(batch['sources'][row, 1],
                                          full_sources[1][offset:offset + 2000])
            np.testing.assert_allclose(batch['mixture'][row], batch['sources'][row].sum(axis=0),
                                       atol=1e-6)
    assert len(set(offsets)) > 4                         # a new offset per item and batch rng
    again = train.make_batch([0, 1], np.random.default_rng(3))
    np.testing.assert_array_equal(again['mixture'], batch['mixture'])


def test_short_mixtures_are_dropped_and_counted(librimix, caplog):
    items = separation_items(config(librimix), 'train-360')
    with caplog.at_level('WARNING', logger='src.dprnn.dataset'):
        train = SeparationTrainSet(items, RATE, 0.3, 2, source='the train list')
    assert train.dropped == 1 and [item.num_samples for item in train.items] == [4000, 3000]
    assert sum('dropped 1 of the 3 mixtures of the train list' in r.message
               for r in caplog.records) == 1
    exact = SeparationTrainSet(items, RATE, 0.375, 2)          # 3000 samples: kept, one offset
    assert exact.dropped == 1
    batch = exact.make_batch([1], np.random.default_rng(0))
    np.testing.assert_array_equal(batch['mixture'][0], read_full(items[1].mixture_path))
    raises_one_line(DataError, lambda: SeparationTrainSet(items, RATE, 0.6, 2, source='the train list'),
                    'all 3 mixtures of the train list are shorter than data.segment 0.6 s',
                    'longest has 4000 samples', 'lower data.segment')
    raises_one_line(ConfigError, lambda: SeparationTrainSet(items, RATE, 0, 2), 'data.segment')


def test_config_helpers_read_the_splits_segments_and_limits(librimix):
    data = config(librimix, segment=0.25, valid_segment=0.35)
    train = separation_train_set(data)
    assert len(train) == 2 and train.dropped == 1 and train.num_samples == 2000
    valid = separation_eval_set(data, 'valid')                 # dev: 4000, 2400 samples
    assert len(valid) == 1 and valid.dropped == 1
    first = separation_eval_set(dataclasses.replace(data, valid_segment=0.25, max_valid_items=1),
                                'valid')
    assert len(first) == 1 and first.dropped == 0 and first.items == valid.items
    assert len(separation_eval_set(dataclasses.replace(data, valid_segment=0.25), 'valid')) == 2
    item = valid[0]
    assert item['mixture'].shape == (2800,) and item['sources'].shape == (2, 2800)
    np.testing.assert_array_equal(item['mixture'],
                                  read_full(valid.items[0].mixture_path)[:2800])   # the start
    test = separation_eval_set(data, 'test')                   # whole utterances
    assert [test[i]['mixture'].shape for i in range(len(test))] == [(3200,), (2000,)]
    assert test[1]['sources'].shape == (2, 2000) and test[1]['mixture_id'] == test.items[1].mixture_id
    mixture, sources = load_mixture(test.items[1], RATE)
    np.testing.assert_array_equal(test[1]['mixture'], mixture)
    np.testing.assert_allclose(mixture, sources.sum(axis=0), atol=1e-6)
    raises_one_line(ConfigError, lambda: separation_eval_set(dataclasses.replace(data, valid_split=''),
                                                             'valid'), 'data.valid_split is empty')


def test_every_schema_field_is_read_as_data_dot_field():
    with open(dataset.__file__) as handle:
        tree = ast.parse(handle.read())
    reads = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)
             and isinstance(node.value, ast.Name) and node.value.id == 'data'}
    assert {field.name for field in dataclasses.fields(SeparationDataConfig)} <= reads


# ----------------------------------------------------------------------------------- errors

def test_unknown_layout_task_mode_and_impossible_settings(librimix):
    for key, value, allowed in (('layout', 'wsj', 'librimix, wsj0-2mix, wham, manifest'),
                                ('task', 'enh_single', 'sep_clean, sep_noisy'),
                                ('mode', 'mid', 'min, max')):
        raises_one_line(ConfigError, lambda: separation_items(config(librimix, **{key: value}), 'dev'),
                        f'data.{key} must be one of {allowed}', repr(value))
    raises_one_line(ConfigError, lambda: separation_items(config('', ), 'dev'), 'data.root is empty',
                    'preprocess.py demo librimix')
    raises_one_line(ConfigError, lambda: separation_items(config(librimix, n_src=4), 'dev'),
                    'data.n_src is 4', '2 or 3 sources')
    raises_one_line(ConfigError, lambda: separation_items(config(librimix, layout='wham', n_src=3), 'tt'),
                    'layout wham has mixtures of 2 sources')
    raises_one_line(ConfigError, lambda: separation_items(config(librimix, sample_rate=22050), 'dev'),
                    'data.sample_rate is 22050', 'set 8000 or 16000')
    raises_one_line(ConfigError, lambda: separation_items(
        config(librimix, layout='wsj0-2mix', task='sep_noisy'), 'tt'), 'data.task sep_noisy',
        'data.layout: wham')


def test_missing_metadata_folder_or_split(tmp_path, librimix):
    raises_one_line(DataError, lambda: separation_items(config(tmp_path), 'dev'),
                    f'no LibriMix metadata folder {tmp_path}/Libri2Mix/wav8k/min/metadata',
                    'preprocess.py demo librimix')
    raises_one_line(DataError, lambda: separation_items(config(librimix), 'train-100'),
                    'mixture_train-100_mix_clean.csv', 'the splits there for sep_clean: '
                    'train-360, dev, test', 'preprocess.py demo librimix')
    raises_one_line(DataError, lambda: separation_items(config(tmp_path, layout='wsj0-2mix'), 'tr'),
                    f'looked for {tmp_path}/tr and {tmp_path}/wav8k/min/tr', 'data.train_split: tr',
                    'preprocess.py demo librimix')
    (tmp_path / 'tr' / 'mix').mkdir(parents=True)
    raises_one_line(DataError, lambda: separation_items(config(tmp_path, layout='wsj0-2mix'), 'tr'),
                    f'no mixtures in {tmp_path}/tr/mix', 'preprocess.py demo librimix')
    raises_one_line(ConfigError, lambda: separation_items(config(librimix), ''), 'empty split name')


def test_metadata_lacking_columns(tmp_path):
    root = make_librimix(str(tmp_path), splits=(('dev', (4000,)),))
    path = os.path.join(root, 'Libri2Mix', 'wav8k', 'min', 'metadata', 'mixture_dev_mix_clean.csv')
    write_csv(path, ['mixture_ID', 'mixture_path', 'source_1_path'], [['a', '/x/a.wav', '/x/b.wav']])
    raises_one_line(DataError, lambda: separation_items(config(root), 'dev'), path,
                    'lacks column(s) source_2_path, length')


def test_metadata_naming_missing_files(tmp_path):
    root = make_librimix(str(tmp_path), splits=(('dev', (4000, 3000, 2000)),))
    split = os.path.join(root, 'Libri2Mix', 'wav8k', 'min', 'dev')
    for item in separation_items(config(root), 'dev'):
        os.remove(item.source_paths[1])
    first = os.path.join(split, 's2', '100-1-0000_200-2-0000.wav')
    raises_one_line(DataError, lambda: separation_items(config(root), 'dev'),
                    '3 of the 9 files of', 'mixture_dev_mix_clean.csv are missing', f'e.g. {first}',
                    f're-rooted onto {root}', 'the folder holding Libri2Mix/')
    wsj0 = make_wsj0(str(tmp_path / 'wsj0'), splits=('cv',))
    os.remove(os.path.join(wsj0, 'cv', 's1', 'utt2_x.wav'))
    raises_one_line(DataError, lambda: separation_items(config(wsj0, layout='wsj0-2mix'), 'cv'),
                    '1 of the 9 files', os.path.join(wsj0, 'cv', 's1', 'utt2_x.wav'))


def test_sample_rate_other_than_the_config(librimix):
    items = separation_items(config(librimix), 'dev')
    raises_one_line(DataError, lambda: load_mixture(items[0], 16000), items[0].mixture_path,
                    'sample rate 8000 Hz', 'data.sample_rate is 16000', 'wav16k folder')
    # the training set refuses the tree at once instead of skipping every file as unreadable
    raises_one_line(DataError, lambda: SeparationTrainSet(items, 16000, 0.1, 2),
                    'sample rate 8000 Hz', 'data.sample_rate is 16000')
    raises_one_line(DataError, lambda: SeparationEvalSet(items, 16000, 2), 'data.sample_rate is 16000')


def test_stereo_file_is_named(tmp_path):
    wsj0 = make_wsj0(str(tmp_path), splits=('tt',), lengths=(2000,))
    stereo = os.path.join(wsj0, 'tt', 's2', 'utt0_x.wav')
    write_wave(stereo, np.zeros((2000, 2), np.float32), RATE)
    item = separation_items(config(wsj0, layout='wsj0-2mix'), 'tt')[0]
    raises_one_line(DataError, lambda: load_mixture(item, RATE), stereo, '2 channels', 'mono')
    raises_one_line(DataError, lambda: SeparationEvalSet([item], RATE, 2), stereo, '2 channels')


def test_unreadable_files_in_training_are_replaced_and_counted(librimix):
    items = separation_items(config(librimix), 'train-360')
    broken = dataclasses.replace(items[1], source_paths=(items[1].source_paths[0], items[0].mixture_path + '.gone'))
    train = SeparationTrainSet([items[0], broken], RATE, 0.2, 2)
    batch = train.make_batch([1, 1, 0], np.random.default_rng(0))
    assert batch['_bad'] >= 2 and batch['mixture'].shape == (3, 1600)
    assert train.unreadable.paths == {broken.mixture_path}


def test_a_file_shorter_than_its_list_says(librimix):
    item = separation_items(config(librimix), 'dev')[1]
    longer = dataclasses.replace(item, num_samples=item.num_samples + 10)
    raises_one_line(DataError, lambda: load_mixture(longer, RATE, 0, longer.num_samples),
                    item.mixture_path, '2400 samples, fewer than the 2410')
    raises_one_line(DataError, lambda: dataset.check_sample([longer], RATE, 'the list', 0),
                    item.mixture_path, 'has 2400 samples but the list gives 2410')


def test_mixture_item_is_plain_data():
    item = MixtureItem('a', 'a.wav', ('s1.wav', 's2.wav'), '', 8000)
    assert dataclasses.astuple(item) == ('a', 'a.wav', ('s1.wav', 's2.wav'), '', 8000)


# ----------------------------------------------------------------------------------- preparer

def test_preparer_writes_manifests_that_train_like_the_tree(librimix, tmp_path, capsys):
    out = tmp_path / 'prepared'
    manifest = preprocess.main(['librimix', '--root', librimix, '--out', str(out), '--n-src', '2',
                                '--sample-rate', '8000', '--segment', '0.3'])
    assert manifest == str(out / 'train-360.csv')
    assert sorted(os.listdir(out)) == ['dataset.json', 'dev.csv', 'test.csv', 'train-360.csv']
    printed = capsys.readouterr().out
    assert 'train-360: 3 mixtures, 0.00 h, 1 shorter than the 0.3 s training segment' in printed
    assert 'dev: 2 mixtures, 0.00 h\n' in printed
    assert f'librimix: {manifest} (beside it: dataset.json, dev.csv, test.csv)' in printed
    with open(out / 'train-360.csv') as handle:
        assert handle.readline().strip() == \
            'mixture_id,mixture_path,source_1_path,source_2_path,noise_path,num_samples'
    info = json.loads((out / 'dataset.json').read_text())
    assert info['splits'] == {'train-360': 3, 'dev': 2, 'test': 2} and info['task'] == 'sep_clean'
    for split in ('train-360', 'dev', 'test'):
        assert separation_items(config(out, layout='manifest'), split) == \
            separation_items(config(librimix), split)
    raises_one_line(ConfigError, lambda: separation_items(config(out, layout='manifest',
                                                                 sample_rate=16000), 'dev'),
                    'data.sample_rate is 16000', 'prepared for sample_rate 8000', 'dataset.json')
    raises_one_line(ConfigError, lambda: separation_items(config(out, layout='manifest',
                                                                 task='sep_noisy'), 'dev'),
                    'data.task is', 'prepared for task')
    raises_one_line(DataError, lambda: separation_items(config(out, layout='manifest'), 'train-100'),
                    'no manifest', 'the splits of', 'dev, test, train-360')


def test_preparer_noisy_and_wsj0(librimix, tmp_path, capsys):
    noisy = prepare_separation(librimix, tmp_path / 'noisy', task='sep_noisy')
    rows = separation_items(config(tmp_path / 'noisy', layout='manifest', task='sep_noisy'), 'train-360')
    assert rows == separation_items(config(librimix, task='sep_noisy'), 'train-360')
    assert rows[0].noise_path.endswith('.wav') and noisy.endswith('train-360.csv')
    wsj0 = make_wsj0(str(tmp_path / 'wsj0'), splits=('tr', 'tt'))
    manifest = preprocess.main(['wsj0-2mix', '--root', wsj0, '--out', str(tmp_path / 'w'), '--check', '0'])
    assert manifest == str(tmp_path / 'w' / 'tr.csv') and (tmp_path / 'w' / 'tt.csv').exists()
    assert separation_items(config(tmp_path / 'w', layout='manifest'), 'tt') == \
        separation_items(config(wsj0, layout='wsj0-2mix'), 'tt')
    raises_one_line(DataError, lambda: prepare_separation(tmp_path / 'none', tmp_path / 'x',
                                                          layout='wham'),
                    'no wham split in tr/, cv/, tt/ under', 'wav8k/min')


def test_preparer_checks_every_split_before_writing(tmp_path):
    root = make_librimix(str(tmp_path / 'tree'), splits=(('dev', (2000,)), ('test', (2000, 1600))))
    bad = separation_items(config(root), 'test')[1].source_paths[0]
    write_wave(bad, np.zeros(1000, np.float32), RATE)              # shorter than its CSV says
    out = tmp_path / 'out'
    raises_one_line(DataError, lambda: prepare_separation(root, out, check_mixtures=0), bad,
                    'has 1000 samples but', 'mixture_test_mix_clean.csv gives 1600')
    assert not out.exists()
    write_wave(bad, np.zeros(1600, np.float32), 16000)             # another rate
    raises_one_line(DataError, lambda: prepare_separation(root, out, check_mixtures=0), bad,
                    'sample rate 16000 Hz', 'data.sample_rate is 8000', 'wav8k folder')
    assert not out.exists()


def test_a_source_of_another_length_than_its_mixture(tmp_path):
    wsj0 = make_wsj0(str(tmp_path), splits=('tt',), lengths=(2000,))
    short = os.path.join(wsj0, 'tt', 's1', 'utt0_x.wav')
    write_wave(short, np.zeros(1500, np.float32), RATE)
    item = separation_items(config(wsj0, layout='wsj0-2mix'), 'tt')[0]
    raises_one_line(DataError, lambda: load_mixture(item, RATE), short, 'has 1500 samples',
                    f"its mixture {item.mixture_path} 2000")


def test_a_hand_written_manifest_without_dataset_json(tmp_path):
    wsj0 = make_wsj0(str(tmp_path / 'wsj0'), splits=('cv',), n_src=3, lengths=(2000,))
    names = [os.path.join(wsj0, 'cv', folder, 'utt0_x.wav') for folder in ('mix', 's1', 's2', 's3')]
    lists = tmp_path / 'lists'
    write_csv(str(lists / 'cv.csv'), ['mixture_id', 'mixture_path', 'source_1_path',
                                      'source_2_path', 'source_3_path', 'num_samples'],
              [['utt0_x', *names, '2000']])
    raises_one_line(ConfigError, lambda: separation_items(config(lists, layout='manifest'), 'cv'),
                    'lists 3 sources per mixture but data.n_src is 2', 'set data.n_src: 3')
    (item,) = separation_items(config(lists, layout='manifest', n_src=3), 'cv')
    assert item == MixtureItem('utt0_x', names[0], tuple(names[1:]), '', 2000)
    os.remove(names[3])
    raises_one_line(DataError, lambda: separation_items(config(lists, layout='manifest', n_src=3), 'cv'),
                    '1 of the 4 files', names[3], 're-run preprocess.py where the corpus is')


def test_the_schema_checks_a_config_section():
    from src.config import build_config
    from src.engine.recipe import Recipe

    class SeparationRecipe(Recipe):
        data_schema = SeparationDataConfig

    def tiny_network(width=2):
        return None

    def recipes(name):
        return SeparationRecipe(tiny_network)

    cfg = build_config({'model': {'name': 'dprnn'}, 'data': {
        'root': '/data/wham', 'layout': 'wham', 'train_split': 'tr', 'segment': 4}}, 'c.yaml', recipes)
    assert cfg.data == SeparationDataConfig(root='/data/wham', layout='wham', train_split='tr')
    raises_one_line(ConfigError, lambda: build_config(
        {'model': {'name': 'dprnn'}, 'data': {'layout': 'libri_mix'}}, 'c.yaml', recipes),
        "data.layout must be one of 'librimix', 'wsj0-2mix', 'wham', 'manifest'",
        "did you mean 'librimix'?")
    raises_one_line(ConfigError, lambda: build_config(
        {'model': {'name': 'dprnn'}, 'data': {'segmnet': 3.0}}, 'c.yaml', recipes),
        "unknown key 'data.segmnet'", 'did you mean data.segment?')
