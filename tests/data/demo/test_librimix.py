"""The LibriMix demo: LibriMix's output layout and metadata, mixtures that are the sums of their
written parts, loudness in LibriMix's ranges, min and max lengths, disjoint readers, byte-identical
reruns, Libri3Mix, and one-line errors."""
import csv
import inspect
import os
import re
import sys

import numpy as np
import pytest
import soundfile

from src.data.demo import make_demo
from src.data.demo.librimix import (MAX_AMP, draw_gains, draw_groups, loudness_meter,
                                   make_librimix_demo)
from src.data.demo.librispeech import make_librispeech_demo
from src.errors import ConfigError, UserError
from tests.data.demo import corpus_fixture, layout_files
from tests.helpers import file_hashes, raises_one_line

TINY_LIBRIMIX = dict(freqs=('8k', '16k'), modes=('min', 'max'), dev_mixtures=3,
                     test_mixtures=3, train_speakers=4, dev_speakers=2, test_speakers=2,
                     chapters=1, utterances=3, words=(4, 7))
UTTERANCE = r'\d+-\d+-\d{4}'
LAYOUT = re.compile(
    r'LibriSpeech/.*'
    rf'|Libri2Mix/wav(8|16)k/(min|max)/(train-100|dev|test)/(s1|s2|noise|mix_clean|mix_both'
    rf'|mix_single)/{UTTERANCE}_{UTTERANCE}\.wav'
    r'|Libri2Mix/wav(8|16)k/(min|max)/metadata/(mixture|metrics)_(train-100|dev|test)_'
    r'(mix_clean|mix_both|mix_single)\.csv')
HEADERS = {
    'mixture_{}_mix_clean': 'mixture_ID,mixture_path,source_1_path,source_2_path,length',
    'mixture_{}_mix_both': 'mixture_ID,mixture_path,source_1_path,source_2_path,noise_path,length',
    'mixture_{}_mix_single': 'mixture_ID,mixture_path,source_1_path,noise_path,length',
    'metrics_{}_mix_clean': 'mixture_ID,source_1_SNR,source_2_SNR',
    'metrics_{}_mix_both': 'mixture_ID,source_1_SNR,source_2_SNR,noise_SNR',
    'metrics_{}_mix_single': 'mixture_ID,source_1_SNR,noise_SNR'}
STEP = 1 / 32768                                    # one step of 16-bit PCM
corpus = corpus_fixture('librimix', **TINY_LIBRIMIX)


def rows(root, freq, mode, name):
    with open(root / 'Libri2Mix' / f'wav{freq}' / mode / 'metadata' / f'{name}.csv',
              encoding='utf-8') as handle:
        return list(csv.DictReader(handle))


def read(path):
    return soundfile.read(path, dtype='float64')[0]


def test_layout_and_metadata_are_librimixs(corpus):
    layout_files(corpus, LAYOUT)
    for freq in ('8k', '16k'):
        for mode in ('min', 'max'):
            folder = corpus / 'Libri2Mix' / f'wav{freq}' / mode
            for split in ('train-100', 'dev', 'test'):
                for name, header in HEADERS.items():
                    path = folder / 'metadata' / f'{name.format(split)}.csv'
                    assert path.read_text(encoding='utf-8').splitlines()[0] == header
                both = rows(corpus, freq, mode, f'mixture_{split}_mix_both')
                assert len(both) == {'train-100': 6, 'dev': 3, 'test': 3}[split]
                for row in both:
                    for column, kind in (('mixture_path', 'mix_both'), ('source_1_path', 's1'),
                                         ('source_2_path', 's2'), ('noise_path', 'noise')):
                        path = row[column]
                        assert path == str(folder / split / kind / f"{row['mixture_ID']}.wav")
                        assert os.path.isabs(path)
                        info = soundfile.info(path)
                        assert (info.samplerate, info.subtype, info.frames) == \
                            (int(freq[:-1]) * 1000, 'PCM_16', int(row['length']))
                single = rows(corpus, freq, mode, f'mixture_{split}_mix_single')
                assert [r['source_1_path'] for r in single] == [r['source_1_path'] for r in both]


def test_mixtures_are_the_sums_of_their_written_parts(corpus):
    for freq in ('8k', '16k'):
        for mode in ('min', 'max'):
            for split in ('train-100', 'dev'):
                for kind, parts in (('mix_clean', ('source_1', 'source_2')),
                                    ('mix_both', ('source_1', 'source_2', 'noise')),
                                    ('mix_single', ('source_1', 'noise'))):
                    metrics = {r['mixture_ID']: r for r in
                               rows(corpus, freq, mode, f'metrics_{split}_{kind}')}
                    for row in rows(corpus, freq, mode, f'mixture_{split}_{kind}'):
                        waves = [read(row[f'{p}_path']) for p in parts]
                        mixture = read(row['mixture_path'])
                        # each file is rounded on its own: within one step per file
                        assert np.max(np.abs(mixture - sum(waves))) <= len(parts) * STEP
                        assert np.max(np.abs(mixture)) <= MAX_AMP + STEP
                        for part, wave in zip(parts, waves):
                            snr = 10 * np.log10(np.sum(wave ** 2) / np.sum((mixture - wave) ** 2))
                            listed = float(metrics[row['mixture_ID']][f'{part}_SNR'])
                            assert abs(snr - listed) < 0.05


def test_meter_reads_bs1770s_calibration_tone():
    """A 0 dBFS 1 kHz sine reads -3.01 LUFS (ITU-R BS.1770's calibration), -20 dB less 20 LU."""
    meter = loudness_meter(16000)
    t = np.arange(5 * 16000) / 16000
    assert abs(meter(np.sin(2 * np.pi * 997 * t)) + 3.01) < 0.1
    assert abs(meter(0.1 * np.sin(2 * np.pi * 997 * t)) + 23.01) < 0.1


def test_written_sources_have_the_drawn_loudness(corpus):
    """The written 16 kHz 'max' sources are the gain-scaled LibriSpeech files: measured directly."""
    meter = loudness_meter(16000)
    scaled = 0
    for split in ('train-100', 'dev', 'test'):
        for row in rows(corpus, '16k', 'max', f'mixture_{split}_mix_both'):
            sources = [read(row[f'source_{i}_path']) for i in (1, 2)]
            noise = read(row['noise_path'])
            peak = np.max(np.abs(read(row['mixture_path'])))
            loudness = [meter(s) for s in sources] + [meter(noise)]
            if peak < MAX_AMP - 2 * STEP:       # not scaled down to avoid clipping
                assert all(-33.05 <= value <= -24.95 for value in loudness[:2]), loudness
                assert -38.05 <= loudness[2] <= -29.95, loudness
            else:                               # all scaled together: each at most its range
                scaled += 1
                assert all(value <= -24.95 for value in loudness[:2]) and loudness[2] <= -29.95
    assert scaled < 4


def test_min_mode_cuts_to_the_shortest_and_max_pads_to_the_longest(corpus):
    speech = corpus / 'LibriSpeech'
    for row_min, row_max in zip(rows(corpus, '8k', 'min', 'mixture_dev_mix_clean'),
                                rows(corpus, '8k', 'max', 'mixture_dev_mix_clean')):
        assert row_min['mixture_ID'] == row_max['mixture_ID']
        lengths = []
        for utterance in row_min['mixture_ID'].split('_'):
            path = next(speech.rglob(f'{utterance}.flac'))
            lengths.append(-(-soundfile.info(str(path)).frames // 2))       # 16 -> 8 kHz
        assert int(row_min['length']) == min(lengths) and int(row_max['length']) == max(lengths)
        for column in ('source_1_path', 'source_2_path'):
            cut, padded = read(row_min[column]), read(row_max[column])
            np.testing.assert_array_equal(cut, padded[:len(cut)])
        shorter = read(row_max[f'source_{int(np.argmin(lengths)) + 1}_path'])
        assert not np.any(shorter[min(lengths):])
    same = rows(corpus, '16k', 'min', 'mixture_dev_mix_clean')
    assert [r['mixture_ID'] for r in same] == [r['mixture_ID'] for r in
                                               rows(corpus, '8k', 'min', 'mixture_dev_mix_clean')]
    assert all(abs(int(a['length']) - 2 * int(b['length'])) <= 1 for a, b in zip(
        same, rows(corpus, '8k', 'min', 'mixture_dev_mix_clean')))


def test_mixtures_pair_different_readers_of_one_split(corpus):
    speakers = {}
    for split, subset in (('train-100', 'train-clean-100'), ('dev', 'dev-clean'),
                          ('test', 'test-clean')):
        ids = [r['mixture_ID'].split('_') for r in rows(corpus, '8k', 'min',
                                                         f'mixture_{split}_mix_clean')]
        for pair in ids:
            assert pair[0].split('-')[0] != pair[1].split('-')[0]
            for utterance in pair:
                reader, chapter, _ = utterance.split('-')
                assert (corpus / 'LibriSpeech' / subset / reader / chapter /
                        f'{utterance}.flac').is_file()
        speakers[split] = {u.split('-')[0] for pair in ids for u in pair}
        if split == 'train-100':              # every training utterance at most once
            flat = [u for pair in ids for u in pair]
            assert len(set(flat)) == len(flat) == 12
        else:
            assert len({frozenset(pair) for pair in ids}) == len(ids)
    assert not speakers['train-100'] & speakers['dev'] and not speakers['dev'] & speakers['test']
    assert not speakers['train-100'] & speakers['test']


def test_same_seed_same_bytes(corpus, tmp_path):
    make_demo('librimix', tmp_path, **TINY_LIBRIMIX)
    ours, theirs = file_hashes(tmp_path), file_hashes(corpus)
    wavs = {p: h for p, h in theirs.items() if p.endswith('.wav')}
    assert {p: ours[p] for p in wavs} == wavs
    # the metadata differ only by the folder in the absolute paths
    for path in theirs:
        if path.endswith('.csv'):
            again = (tmp_path / path).read_text(encoding='utf-8')
            assert again == (corpus / path).read_text(encoding='utf-8').replace(
                str(corpus), str(tmp_path))


def test_libri3mix_and_clean_only(tmp_path):
    written = make_demo('librimix', tmp_path, **{**TINY_LIBRIMIX, 'n_src': 3, 'freqs': ['8k'],
                                                  'modes': ['min'], 'types': ['mix_clean'],
                                                  'train_speakers': 3, 'dev_speakers': 3,
                                                  'test_speakers': 3})
    root = tmp_path / 'Libri3Mix' / 'wav8k' / 'min'
    assert written['librimix'] == str(tmp_path / 'Libri3Mix')
    assert written['metadata_wav8k_min'] == str(root / 'metadata')
    assert sorted(os.listdir(root / 'train-100')) == ['mix_clean', 's1', 's2', 's3']  # no noise
    with open(root / 'metadata' / 'mixture_train-100_mix_clean.csv', encoding='utf-8') as handle:
        mixtures = list(csv.DictReader(handle))
    assert list(mixtures[0]) == ['mixture_ID', 'mixture_path', 'source_1_path', 'source_2_path',
                                 'source_3_path', 'length']
    assert len(mixtures) == 3 and all(len(r['mixture_ID'].split('_')) == 3 for r in mixtures)
    for row in mixtures:
        waves = [read(row[f'source_{i}_path']) for i in (1, 2, 3)]
        assert np.max(np.abs(read(row['mixture_path']) - sum(waves))) <= 3 * STEP


def test_gains_follow_librimix_by_hand():
    """Hand cases of draw_gains with a meter that reads the RMS level in dB."""
    def meter(wave):
        return 20 * np.log10(np.sqrt(np.mean(np.asarray(wave) ** 2)))
    t = np.arange(16000) / 16000
    quiet = 0.01 * np.sin(2 * np.pi * 200 * t)              # -43 dB RMS
    noise = 0.01 * np.sign(np.sin(2 * np.pi * 50 * t))      # -40 dB RMS, peak 0.01
    gains, targets = draw_gains(np.random.default_rng(5), [quiet, quiet, noise], meter)
    expected = np.random.default_rng(5).uniform(size=3)
    assert np.allclose(targets, [-33 + 8 * expected[0], -33 + 8 * expected[1],
                                 -38 + 8 * expected[2]])
    assert np.allclose([meter(g * w) for g, w in zip(gains, [quiet, quiet, noise])], targets)
    # A source whose target would clip gets a peak of 0.9 instead ...
    spike = np.zeros(16000)
    spike[0] = 0.01                                         # where the others are 0
    gains, targets = draw_gains(np.random.default_rng(5), [spike, quiet, noise], meter)
    assert np.isclose(gains[0] * 0.01, MAX_AMP) and np.isclose(targets[0], meter(gains[0] * spike))
    # ... and when the sum would peak above 0.9, all are scaled down by one factor.
    # (three spikes at 0.9 each: one factor of 1/3)
    gains, _ = draw_gains(np.random.default_rng(0), [spike, spike, spike], meter)
    assert np.allclose(gains, MAX_AMP / 0.01 / 3)


def test_pairing_uses_each_utterance_once_and_never_one_reader_twice():
    readers = [1, 1, 1, 2, 2, 3]
    groups = draw_groups(np.random.default_rng(0), readers, 2)
    flat = [k for group in groups for k in group]
    assert len(set(flat)) == len(flat) and len(groups) <= 3
    assert all(readers[a] != readers[b] for a, b in groups)
    assert draw_groups(np.random.default_rng(0), [7, 7, 7, 7], 2) == []


def test_missing_pyloudnorm_and_bad_options_are_one_line_errors(monkeypatch, tmp_path):
    for options, part in (({'freqs': ['44k']}, "librimix freqs ['44k']"),
                          ({'modes': []}, 'librimix modes []'),
                          ({'n_src': 4}, 'n_src=4'),
                          ({'dev_speakers': 1}, 'the dev-clean split has 1 readers')):
        raises_one_line(ConfigError, lambda: make_demo('librimix', tmp_path, **{
            **TINY_LIBRIMIX, 'train_speakers': 2, 'chapters': 1, 'utterances': 1, **options}), part)
    with pytest.raises(ConfigError, match='lower its number of mixtures'):
        make_demo('librimix', tmp_path, **{**TINY_LIBRIMIX, 'dev_mixtures': 100,
                                           'train_speakers': 2})
    monkeypatch.setitem(sys.modules, 'pyloudnorm', None)
    raises_one_line(UserError, lambda: loudness_meter(16000), 'pip install pyloudnorm')


def test_librimix_writes_the_librispeech_demo_of_its_defaults():
    """``preprocess.py demo librispeech librimix`` writes one LibriSpeech, not two in turn."""
    speech = inspect.signature(make_librispeech_demo).parameters
    mix = inspect.signature(make_librimix_demo).parameters
    shared = [name for name in speech if name != 'out_dir']
    assert len(shared) == 7 and all(mix[name].default == speech[name].default for name in shared)
