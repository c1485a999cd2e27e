"""wav2vec 2.0 data: preprocess.py librispeech on the demo LibriSpeech, fairseq's manifests read
unchanged, the CTC batch layout, the evaluation set, and every bad input of issue 14 as a
counted skip or a one-line error."""
import os
import shutil

import numpy as np
import pytest
import soundfile

import preprocess
from src.audio import write_audio
from src.data.demo.librispeech import write_librispeech_demo
from src.errors import ConfigError, DataError
from src.wav2vec2.dataset import (CtcTrainSet, SpeechDataConfig, check_data_config, ctc_batches,
                                  ctc_min_frames, ctc_train_set, read_manifest, speech_eval_set)
from src.wav2vec2.frames import output_frames
from src.wav2vec2.letters import Letters, ltr_line
from tests.helpers import raises_one_line


@pytest.fixture(scope='module')
def prepared(tmp_path_factory):
    """(LibriSpeech folder, manifest folder, utterances) of a tiny demo, prepared in-process."""
    base = tmp_path_factory.mktemp('w2v')
    root, utterances = write_librispeech_demo(base, train_speakers=2, dev_speakers=1,
                                              test_speakers=1, chapters=1, utterances=3,
                                              words=(4, 6))
    out = base / 'manifests'
    assert preprocess.main(['librispeech', '--root', root, '--out', str(out)]) == \
        str(out / 'train.tsv')
    return root, out, utterances


def _lines(path):
    return path.read_text(encoding='utf-8').splitlines()


def test_preprocess_writes_fairseq_manifests(prepared):
    root, out, utterances = prepared
    names = {f'{subset}.{ext}' for subset in ('train', 'valid', 'test', 'train_clean_100',
                                              'dev_clean', 'test_clean')
             for ext in ('tsv', 'ltr', 'wrd')}
    assert set(os.listdir(out)) == names | {'dict.ltr.txt'}
    tsv = _lines(out / 'train.tsv')
    assert tsv[0] == os.path.realpath(root)
    train = sorted((u for u in utterances if u.reader.subset == 'train-clean-100'),
                   key=lambda u: u.path)
    assert tsv[1:] == [f"{os.path.relpath(u.path, root)}\t{u.num_samples}" for u in train]
    assert tsv[1].startswith('train-clean-100/')
    assert _lines(out / 'train.wrd') == [u.transcript for u in train]
    assert _lines(out / 'train.ltr') == [ltr_line(u.transcript) for u in train]
    for alias, split in (('train', 'train_clean_100'), ('valid', 'dev_clean'), ('test', 'test_clean')):
        for ext in ('tsv', 'ltr', 'wrd'):
            assert _lines(out / f'{alias}.{ext}') == _lines(out / f'{split}.{ext}')
    # the dictionary: the training letters (and '|') by frequency, counted
    letters = Letters.from_fairseq_dict(out / 'dict.ltr.txt')
    text = ' '.join(u.transcript for u in train)
    assert set(letters.symbols[4:]) == set(text.replace(' ', '')) | {'|'}
    counts = [letters.counts[s] for s in letters.symbols[4:]]
    assert counts == sorted(counts, reverse=True) and letters.counts['|'] == len(text.split())


def test_preprocess_rejects_absent_splits(prepared, tmp_path):
    root, _, _ = prepared
    raises_one_line(DataError, lambda: preprocess.main(
        ['librispeech', '--root', root, '--out', str(tmp_path), '--splits', 'train-960']),
        'train-clean-360', 'present: train-clean-100, dev-clean, test-clean')
    raises_one_line(DataError, lambda: preprocess.main(
        ['librispeech', '--root', root, '--out', str(tmp_path), '--splits', 'dev-clean']),
        'no training split')


def test_a_manifest_written_by_fairseqs_scripts_reads_unchanged(prepared, tmp_path):
    """wav2vec_manifest.py run on the split folder (root = that folder, paths below it, no
    trailing newline issues), libri_labels.py's .ltr / .wrd, fairseq's dict.ltr.txt."""
    root, _, utterances = prepared
    split = os.path.join(root, 'dev-clean')
    dev = [u for u in utterances if u.reader.subset == 'dev-clean'][::-1]  # glob order: any
    (tmp_path / 'dev_other.tsv').write_text(split + '\n' + ''.join(
        f"{os.path.relpath(u.path, split)}\t{u.num_samples}\n" for u in dev))
    (tmp_path / 'dev_other.ltr').write_text(''.join(
        ' '.join(list(u.transcript.replace(' ', '|'))) + ' |\n' for u in dev))
    (tmp_path / 'dev_other.wrd').write_text(''.join(f"{u.transcript}\n" for u in dev))
    manifest = read_manifest(tmp_path / 'dev_other.tsv')
    assert [(i.utterance_id, i.path, i.num_samples, i.text) for i in manifest.items] == \
        [(u.utterance_id, os.path.join(split, os.path.relpath(u.path, split)), u.num_samples,
          u.transcript) for u in dev]
    assert manifest.skipped == {}
    assert read_manifest(tmp_path / 'dev_other.tsv', labels='wrd').items == manifest.items
    assert [i.text for i in read_manifest(tmp_path / 'dev_other.tsv', labels=None).items] == \
        [''] * len(dev)


def _data(root, **kw):
    return SpeechDataConfig(root=str(root), **kw)


def test_ctc_batch_layout(prepared):
    _, out, utterances = prepared
    calls = []

    def masker(frame_lengths, num_frames, hidden_size, rng):
        calls.append((list(frame_lengths), num_frames, hidden_size))
        return np.ones((len(frame_lengths), num_frames)), np.ones((len(frame_lengths), hidden_size))

    plain = ctc_train_set(_data(out), hidden_size=16)
    masked = ctc_train_set(_data(out), masker=masker, hidden_size=16)
    assert len(plain) == 6 and plain.dropped == {}
    by_id = {u.utterance_id: u for u in utterances}
    indices = [2, 0]
    pad_length = int(plain.lengths.max()) + 1000
    batch = plain.make_batch(indices, np.random.default_rng(0), pad_length)
    frames = output_frames(pad_length)
    assert {k: (v.shape, v.dtype) for k, v in batch.items() if k != '_bad'} == {
        'audio': ((2, pad_length), np.float32), 'padding_mask': ((2, pad_length), np.float32),
        'targets': ((2, frames), np.int32), 'target_lengths': ((2,), np.int32),
        'mask_time': ((2, frames), np.float32), 'mask_channel': ((2, 16), np.float32)}
    assert batch['_bad'] == 0
    for row, index in enumerate(indices):
        item = plain.items[index]
        wave, _ = soundfile.read(item.path, dtype='float32')
        n = len(wave)
        np.testing.assert_array_equal(batch['audio'][row, :n], wave)
        assert not batch['audio'][row, n:].any()
        assert batch['padding_mask'][row].sum() == n and batch['padding_mask'][row, :n].all()
        ids = plain.letters.encode(by_id[item.utterance_id].transcript)
        assert batch['target_lengths'][row] == len(ids)
        np.testing.assert_array_equal(batch['targets'][row, :len(ids)], ids)
        assert not batch['targets'][row, len(ids):].any()
    assert not batch['mask_time'].any() and not batch['mask_channel'].any()
    masked_batch = masked.make_batch(indices, np.random.default_rng(0), pad_length)
    assert calls == [([output_frames(masked.items[i].num_samples) for i in indices], frames, 16)]
    assert masked_batch['mask_time'].all() and masked_batch['mask_channel'].all()


def test_bucketed_batches_fit_max_tokens(prepared):
    _, out, _ = prepared
    data = _data(out, max_tokens=100000, bucket_ratio=1.1)
    train_set = ctc_train_set(data, hidden_size=8)
    sampler = ctc_batches(train_set, data, seed=0)
    batches = sampler.batches(0)
    assert batches
    for indices, pad_length in batches:
        assert pad_length in train_set.length_grid().levels
        assert len(indices) * pad_length <= data.max_tokens
        assert train_set.lengths[indices].max() <= pad_length
        batch = train_set.make_batch(indices, np.random.default_rng(0), pad_length)
        assert batch['audio'].shape == (len(indices), pad_length)


def test_normalize_gives_zero_mean_unit_variance(prepared):
    _, out, _ = prepared
    train_set = ctc_train_set(_data(out, normalize=True), hidden_size=8)
    batch = train_set.make_batch([1], np.random.default_rng(0))
    raw, _ = soundfile.read(train_set.items[1].path, dtype='float32')
    # fairseq's layer_norm over the utterance: epsilon 1e-5 inside the square root
    expected = (raw - raw.mean()) / np.sqrt(raw.var() + 1e-5)
    np.testing.assert_allclose(batch['audio'][0], expected, rtol=1e-5, atol=1e-6)
    assert abs(batch['audio'][0].mean()) < 1e-5


def test_eval_set_shortest_first_with_references(prepared):
    _, out, utterances = prepared
    eval_set = speech_eval_set(_data(out), 'valid')
    dev = sorted((u for u in utterances if u.reader.subset == 'dev-clean'),
                 key=lambda u: u.num_samples)
    assert [eval_set[i]['utterance_id'] for i in range(len(eval_set))] == \
        [u.utterance_id for u in dev]
    assert eval_set[0]['text'] == dev[0].transcript
    assert len(eval_set[0]['audio']) == dev[0].num_samples
    assert len(speech_eval_set(_data(out), 'valid', max_items=2)) == 2
    batch = eval_set.make_batch([0, 2])
    assert batch['audio'].shape == (2, dev[2].num_samples)
    assert batch['padding_mask'][0].sum() == dev[0].num_samples


# ---------------------------------------------------------------------------------- bad input

def _copy_subset(out, dest, name='train'):
    """The prepared ``name`` manifest and dictionary copied into ``dest`` (to be altered)."""
    dest.mkdir(exist_ok=True)
    for ext in ('tsv', 'ltr', 'wrd'):
        shutil.copy(out / f'{name}.{ext}', dest / f'train.{ext}')
    shutil.copy(out / 'dict.ltr.txt', dest / 'dict.ltr.txt')
    return dest


def _append(folder, relpath, num_samples, text):
    with open(folder / 'train.tsv', 'a') as handle:
        handle.write(f"{relpath}\t{num_samples}\n")
    with open(folder / 'train.ltr', 'a') as handle:
        handle.write(ltr_line(text) + '\n')


def _root_of(folder):
    return _lines(folder / 'train.tsv')[0]


def test_characters_outside_the_dictionary_are_listed(prepared, tmp_path):
    _, out, _ = prepared
    folder = _copy_subset(out, tmp_path / 'm')
    lines = _lines(folder / 'train.ltr')
    lines[1] = ltr_line('ÇA Va')
    (folder / 'train.ltr').write_text('\n'.join(lines) + '\n')
    raises_one_line(DataError, lambda: ctc_train_set(_data(folder)),
                    str(folder / 'train.ltr'), "'Ç'", "'a'")


def test_empty_transcripts_are_skipped_in_training_and_kept_in_evaluation(prepared, tmp_path):
    _, out, _ = prepared
    folder = _copy_subset(out, tmp_path / 'm')
    lines = _lines(folder / 'train.ltr')
    lines[0] = ''
    (folder / 'train.ltr').write_text('\n'.join(lines) + '\n')
    manifest = read_manifest(folder / 'train.tsv')
    assert len(manifest.items) == 5 and manifest.skipped == {'empty transcript': 1}
    assert len(ctc_train_set(_data(folder))) == 5
    eval_set = speech_eval_set(_data(folder), 'train')
    assert len(eval_set) == 6 and eval_set.empty_references == 1


def test_audio_shorter_than_the_receptive_field_is_skipped_and_counted(prepared, tmp_path):
    _, out, _ = prepared
    folder = _copy_subset(out, tmp_path / 'm')
    write_audio(os.path.join(_root_of(folder), 'short', 'short-0.flac'),
                np.full(399, 0.1, np.float32), 16000, format='FLAC')
    _append(folder, 'short/short-0.flac', 399, 'HE')
    manifest = read_manifest(folder / 'train.tsv')
    assert len(manifest.items) == 6 and manifest.skipped == {'shorter than 400 samples': 1}


def test_targets_longer_than_the_frames_are_dropped_and_counted(prepared, tmp_path):
    _, out, _ = prepared
    folder = _copy_subset(out, tmp_path / 'm')
    # 1040 samples: 3 frames; 'AB' needs 3 (A B |): kept; 'EE' needs 4 (E, blank, E, |): dropped
    for name, text in (('fits', 'AB'), ('repeats', 'EE')):
        write_audio(os.path.join(_root_of(folder), 'tight', f'{name}.flac'),
                    np.full(1040, 0.1, np.float32), 16000, format='FLAC')
        _append(folder, f'tight/{name}.flac', 1040, text)
    assert output_frames(1040) == 3
    assert ctc_min_frames([5, 6, 4]) == 3 and ctc_min_frames([5, 5, 4]) == 4
    letters = Letters.from_letters(['|', 'E', 'A', 'B'] + [c for c in 'CDFGHIJKLMNOPQRSTUVWXYZ'])
    items = read_manifest(folder / 'train.tsv', letters=letters).items
    train_set = CtcTrainSet(items, letters, _data(folder))
    assert len(train_set) == 7
    assert train_set.dropped == {'more letters than CTC can align to their frames': 1}
    assert 'fits' in [item.utterance_id for item in train_set.items]
    too_long = CtcTrainSet(items, letters, _data(folder, max_tokens=31000))
    assert too_long.dropped['longer than data.max_tokens 31000 samples'] >= 1


def test_missing_audio_and_mismatched_labels_are_one_line_errors(prepared, tmp_path):
    _, out, _ = prepared
    folder = _copy_subset(out, tmp_path / 'm')
    with open(folder / 'train.ltr', 'a') as handle:
        handle.write('A |\n')
    raises_one_line(DataError, lambda: read_manifest(folder / 'train.tsv'),
                    'train.ltr has 7 lines', 'lists 6 audio files')
    folder = _copy_subset(out, tmp_path / 'again')
    _append(folder, 'gone/gone-1.flac', 5000, 'A')
    _append(folder, 'gone/gone-2.flac', 5000, 'A')
    raises_one_line(DataError, lambda: read_manifest(folder / 'train.tsv'),
                    '2 of the 8 audio files', 'gone-1.flac')
    (folder / 'train.tsv').write_text(_root_of(folder) + '\nno_tab_here\n')
    raises_one_line(DataError, lambda: read_manifest(folder / 'train.tsv'), 'train.tsv:2')
    raises_one_line(DataError, lambda: read_manifest(folder / 'nope.tsv'),
                    'nope.tsv', 'train')


def test_an_unreadable_flac_is_replaced_and_counted(prepared, tmp_path):
    _, out, _ = prepared
    folder = _copy_subset(out, tmp_path / 'm')
    broken = os.path.join(_root_of(folder), 'broken', 'broken-0.flac')
    os.makedirs(os.path.dirname(broken), exist_ok=True)
    with open(broken, 'wb') as handle:
        handle.write(b'fLaC' + bytes(100))
    _append(folder, 'broken/broken-0.flac', 20000, 'HE')
    train_set = ctc_train_set(_data(folder), hidden_size=8)
    index = [item.utterance_id for item in train_set.items].index('broken-0')
    batch = train_set.make_batch([index, 0], np.random.default_rng(0),
                                 int(train_set.lengths.max()))
    assert batch['_bad'] >= 1 and batch['padding_mask'].sum(1).min() > 0
    assert broken in train_set.unreadable.paths


def test_config_checks():
    check_data_config(SpeechDataConfig(root='x'))
    raises_one_line(ConfigError, lambda: check_data_config(SpeechDataConfig()), 'data.root')
    raises_one_line(ConfigError, lambda: check_data_config(SpeechDataConfig(root='x', labels='phn')),
                    'data.labels', 'ltr')
    raises_one_line(ConfigError, lambda: check_data_config(
        SpeechDataConfig(root='x', min_sample_size=5, max_sample_size=4)), 'data.min_sample_size')
    raises_one_line(ConfigError, lambda: check_data_config(
        SpeechDataConfig(root='x', bucket_ratio=1.0)), 'data.bucket_ratio')
    raises_one_line(ConfigError, lambda: check_data_config(
        SpeechDataConfig(root='x', max_tokens=100)), 'data.max_tokens')
