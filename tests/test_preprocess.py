"""preprocess.py in-process: the demo corpora with their lists, and one sub-command per registered
corpus preparer whose options go to its prepare function (no branch on a corpus name)."""
import os

import pytest

import preprocess
from src.data.manifest import read_table
from src.data.prepare import CORPORA, CorpusPreparer
from src.errors import ConfigError
from src.registry import Registry
from tests.helpers import file_hashes

TINY_VOX = ['train_speakers=2', 'train_videos=2', 'train_utterances=2', 'test_speakers=2',
            'test_videos=2', 'test_utterances=2', 'num_trials=8']


@pytest.fixture(scope='module')
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp('demo')
    written = preprocess.main(['demo', 'voxceleb', 'esc50', '--out', str(out), '--size', *TINY_VOX,
                               'classes=2', 'clips_per_class=5', 'seconds=0.2'])
    return out, written


def test_demo_writes_the_corpora_and_the_lists_a_recipe_reads(demo, capsys):
    out, written = demo
    assert sorted(written) == ['esc50', 'voxceleb']
    rows = read_table(out / 'lists' / 'train.csv', {'path': str})
    assert len(rows) == 2 * 2 * 2 and (out / 'lists' / 'speakers.json').exists()
    assert len(list((out / 'ESC-50' / 'audio').glob('*.wav'))) == 2 * 5
    # only the corpora asked for; no lists for a corpus without any
    assert sorted(os.listdir(out)) == ['ESC-50', 'lists', 'voxceleb1', 'voxceleb2']


def test_demo_sizes_go_to_the_corpora_that_take_them(tmp_path):
    with pytest.raises(ConfigError, match='--size speakers: none of the corpora musan takes it'):
        preprocess.main(['demo', 'musan', '--out', str(tmp_path), '--size', 'speakers=3'])
    with pytest.raises(ConfigError, match='unknown demo corpus'):
        preprocess.main(['demo', 'voxcelb', '--out', str(tmp_path)])
    assert not os.listdir(tmp_path)


def test_every_registered_corpus_is_a_sub_command(demo, tmp_path, capsys):
    out, written = demo
    manifest = preprocess.main(['esc50', '--root', written['esc50']['esc50'], '--out', str(tmp_path / 'esc')])
    assert manifest == str(tmp_path / 'esc' / 'clips.csv') and len(read_table(manifest, {'path': str})) == 10
    manifest = preprocess.main(['voxceleb', '--roots', written['voxceleb']['voxceleb2'], '--out',
                                str(tmp_path / 'vox'), '--trials', written['voxceleb']['trials'],
                                '--trials_audio_root', written['voxceleb']['audio_root'], '--no_convert'])
    assert file_hashes(tmp_path / 'vox')['train.csv'] == file_hashes(out / 'lists')['train.csv']
    assert (tmp_path / 'vox' / 'veri_test2.txt').exists()
    printed = capsys.readouterr().out
    assert f"voxceleb: {manifest} (beside it: skipped.txt, speakers.json, veri_test2.txt)" in printed


def test_a_new_preparer_needs_no_change_here(monkeypatch, tmp_path):
    calls = []

    def prepare(root, out_dir, minutes=1.0):
        calls.append((root, out_dir, minutes))
        os.makedirs(out_dir)
        path = os.path.join(out_dir, 'list.csv')
        open(path, 'w').close()
        return path

    def add_arguments(parser):
        parser.add_argument('--root', required=True)
        parser.add_argument('--out', dest='out_dir', required=True)
        parser.add_argument('--minutes', type=float, default=1.0)

    corpora = Registry('corpus')
    corpora.register('librimix', CorpusPreparer(prepare, add_arguments, 'LibriMix mixtures'))
    monkeypatch.setattr('src.data.prepare.CORPORA', corpora)
    out = str(tmp_path / 'out')
    assert preprocess.main(['librimix', '--root', '/data/LibriMix', '--out', out, '--minutes', '3']) == \
        os.path.join(out, 'list.csv')
    assert calls == [('/data/LibriMix', out, 3.0)]
    assert 'voxceleb' in CORPORA and 'esc50' in CORPORA


def test_a_demo_size_of_the_wrong_type_is_a_one_line_error(tmp_path):
    with pytest.raises(ConfigError, match=r"--size classes='abc': give int like its default"):
        preprocess.main(['demo', 'esc50', '--out', str(tmp_path), '--size', 'classes=abc'])
