"""The LibriSpeech demo: sentences of a small grammar (:mod:`.sentences`) read by eSpeak NG
voices (:mod:`.espeak`) in LibriSpeech's layout, with its transcripts and speaker table.

A reader (speaker) is a distinct combination of an English accent, a voice variant (the sexes
alternate), a base pitch, a pitch range, a speaking rate and a word gap; each of its chapters is
recorded through a channel of its own (:func:`.voice.draw_channel`: a mild random equaliser,
coloured background noise at 35-50 dB SNR and a recording level). The splits have disjoint
readers.
"""
import os
from dataclasses import dataclass

import numpy as np

from src.audio import write_audio
from src.data.manifest import write_text
from src.errors import ConfigError

from . import demo_corpus
from .dsp import HOP, N_FFT, SAMPLE_RATE, complex_noise, db_to_gain, energy, istft, num_frames, stft
from .espeak import synthesize
from .sentences import draw_sentence, spoken_text
from .voice import draw_channel

# The splits as LibriSpeech names them, in the order their readers are drawn.
SPLITS = ('train-clean-100', 'dev-clean', 'test-clean')
# English voices of eSpeak NG: accents (languages) and voice variants of each sex, chosen by ear
# among those of the espeakng-loader data (the robotic, whispering and Klatt ones left out).
ACCENTS = ('en-us', 'en', 'en-gb-scotland', 'en-gb-x-rp', 'en-029', 'en-us-nyc',
           'en-gb-x-gbclan', 'en-gb-x-gbcwmd')
VARIANTS = {
    'F': ('f1', 'f2', 'f3', 'f4', 'f5', 'Alicia', 'Andrea', 'Annie', 'anika', 'belinda', 'linda',
          'steph', 'grandma', 'aunty', 'shelby'),
    'M': ('m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8', 'Andy', 'Lee', 'Denis', 'Diogo',
          'Marco', 'antonio', 'michel', 'sandro', 'travis', 'victor', 'john', 'norbert', 'pedro',
          'gustave', 'ed', 'Mario', 'Michael', 'robert', 'paul', 'Gene', 'Alex', 'max', 'boris',
          'rob', 'marcelo', 'miguel', 'pablo'),
}
# Highest reader and chapter ids (LibriSpeech's are below 9000 and 400000).
_MAX_READER_ID = 9000
_MAX_CHAPTER_ID = 400000


@dataclass(frozen=True)
class Reader:
    """A demo speaker: an eSpeak NG voice and how it reads."""
    reader_id: int
    sex: str              # 'F' or 'M'
    subset: str           # one of SPLITS
    voice: str            # eSpeak NG voice name, e.g. 'en-us+f3'
    pitch: int            # eSpeak base pitch, 0 ... 100
    pitch_range: int      # eSpeak pitch range, 0 ... 100
    rate: int             # words per minute
    word_gap: int         # extra pause between words, 10 ms units

    @property
    def name(self):
        """The NAME of SPEAKERS.TXT: how the voice was made."""
        return (f'eSpeak {self.voice} pitch {self.pitch} range {self.pitch_range} '
                f'rate {self.rate} gap {self.word_gap}')


@dataclass(frozen=True)
class Utterance:
    """One written utterance of the demo."""
    utterance_id: str     # '<reader>-<chapter>-<NNNN>'
    reader: Reader
    chapter_id: int
    path: str             # absolute path of the .flac file
    num_samples: int
    transcript: str       # upper case, as in the .trans.txt files


def draw_readers(seed, counts):
    """The readers of every split, each a distinct voice.

    Reader ``i`` of split ``s`` takes the entry ``3 i + s`` of a seeded permutation of the
    reader ids, and the ``k``-th reader of a sex in split ``s`` the entry ``3 k + s`` of a
    seeded permutation of that sex's (accent, variant) pairs, so that changing one split's
    count leaves the other splits' readers unchanged, and its own first readers too. Readers
    beyond the pairs of their sex reuse a pair with another pitch and rate.

    Args:
        seed: random seed.
        counts: readers per split, in the order of :data:`SPLITS`.

    Returns:
        list per split of lists of :class:`Reader`.
    """
    rng = np.random.default_rng([seed, 6])
    reader_ids = rng.permutation(np.arange(14, _MAX_READER_ID))
    voices = {sex: [(accent, variant) for accent in ACCENTS for variant in variants]
              for sex, variants in VARIANTS.items()}
    voices = {sex: [pairs[k] for k in rng.permutation(len(pairs))] for sex, pairs in voices.items()}
    splits = []
    for split_index, (subset, count) in enumerate(zip(SPLITS, counts)):
        readers = []
        for index in range(count):
            slot = len(SPLITS) * index + split_index
            if slot >= len(reader_ids):
                raise ConfigError(f'{count} readers of {subset}: the demo has ids for at most '
                                  f'{len(reader_ids) // len(SPLITS)} per split; give fewer')
            sex = 'FM'[index % 2]
            pairs = voices[sex]
            # the k-th reader of this sex in the split: entry 3 k + s of the sex's pairs
            accent, variant = pairs[(len(SPLITS) * (index // 2) + split_index) % len(pairs)]
            own = np.random.default_rng([seed, 7, split_index, index])
            readers.append(Reader(
                reader_id=int(reader_ids[slot]), sex=sex, subset=subset,
                voice=f'{accent}+{variant}', pitch=int(own.integers(30, 71)),
                pitch_range=int(own.integers(30, 81)), rate=int(own.integers(145, 196)),
                word_gap=int(own.integers(0, 3))))
        splits.append(readers)
    return splits


def record(wave, channel, rng, sample_rate=SAMPLE_RATE):
    """``wave`` through a recording ``channel``: background noise at the channel's SNR (to the
    mean power of the whole utterance), its equaliser, then its level (peak at most 0.95).

    Returns:
        float32, as long as ``wave``.
    """
    n = len(wave)
    # Leading zeros of one frame less a hop: istft returns the samples after them, so the
    # result is aligned with wave and every sample of it is fully covered by frames.
    padded = np.concatenate([np.zeros(N_FFT - HOP, np.float32), wave])
    spectrum = stft(padded, num_frames(n))
    noise = db_to_gain(channel.noise_db) * complex_noise(rng, spectrum.shape)
    noise *= np.sqrt(energy(spectrum) / energy(noise) / 10 ** (channel.snr_db / 10))
    spectrum += noise
    spectrum *= db_to_gain(channel.eq_db)
    out = istft(spectrum, n)
    gain = min(10 ** (channel.level_db / 20) / (np.sqrt(np.mean(out ** 2)) + 1e-12),
               0.95 / (np.max(np.abs(out)) + 1e-12))
    return (out * gain).astype(np.float32)


def write_librispeech_demo(out_dir, seed=0, train_speakers=40, dev_speakers=6, test_speakers=6,
                           chapters=2, utterances=8, words=(9, 18)):
    """Write the LibriSpeech demo (see :func:`make_librispeech_demo`).

    Returns:
        ``(root, utterances)``: the ``LibriSpeech`` folder and every written :class:`Utterance`,
        split by split, reader by reader, in file order.
    """
    words = tuple(words)
    if len(words) != 2 or not 4 <= words[0] <= words[1]:
        raise ConfigError(f'librispeech words={list(words)}: give [fewest, most] words of a '
                          'sentence, 4 <= fewest <= most')
    root = os.path.join(os.path.abspath(out_dir), 'LibriSpeech')
    readers = draw_readers(seed, (train_speakers, dev_speakers, test_speakers))
    # Chapter ids: reader slot k (as in draw_readers) has the k-th run of a seeded permutation.
    chapter_ids = np.random.default_rng([seed, 8]).permutation(np.arange(100, _MAX_CHAPTER_ID))
    if len(SPLITS) * max(train_speakers, dev_speakers, test_speakers) * chapters > len(chapter_ids):
        raise ConfigError(f'librispeech chapters={chapters}: the demo has ids for at most '
                          f'{len(chapter_ids)} chapters in all; give fewer')
    written = []
    speaker_lines, chapter_lines = [], []
    for split_index, split in enumerate(readers):
        for index, reader in enumerate(split):
            rng = np.random.default_rng([seed, 9, split_index, index])
            slot = len(SPLITS) * index + split_index
            reader_samples = 0
            own_chapters = chapter_ids[slot * chapters:(slot + 1) * chapters]
            for chapter_number, chapter_id in enumerate(int(c) for c in own_chapters):
                channel = draw_channel(rng, SAMPLE_RATE, eq_db=1.5, tilt_db=1.0,
                                       snr_db=(35.0, 50.0), level_db=(-30.0, -20.0))
                folder = os.path.join(root, reader.subset, str(reader.reader_id), str(chapter_id))
                prefix = f'{reader.reader_id}-{chapter_id}'
                lines = []
                chapter_samples = 0
                for number in range(utterances):
                    sentence = draw_sentence(rng, *words)
                    wave = synthesize(
                        spoken_text(sentence), reader.voice,
                        rate=int(round(reader.rate * rng.uniform(0.96, 1.04))),
                        pitch=int(np.clip(reader.pitch + rng.integers(-3, 4), 0, 100)),
                        sample_rate=SAMPLE_RATE, pitch_range=reader.pitch_range,
                        word_gap=reader.word_gap, seed=int(rng.integers(2 ** 31)))
                    wave = record(wave, channel, rng)
                    utterance_id = f'{prefix}-{number:04d}'
                    path = os.path.join(folder, f'{utterance_id}.flac')
                    write_audio(path, wave, SAMPLE_RATE, format='FLAC')
                    transcript = ' '.join(sentence).upper()
                    lines.append(f'{utterance_id} {transcript}\n')
                    written.append(Utterance(utterance_id, reader, chapter_id, path, len(wave),
                                             transcript))
                    chapter_samples += len(wave)
                write_text(os.path.join(folder, f'{prefix}.trans.txt'), ''.join(lines))
                minutes = chapter_samples / SAMPLE_RATE / 60
                # the reader's slot stands in for LibriVox's project and Gutenberg's book id
                chapter_lines.append((chapter_id, (
                    f'{chapter_id:<6}| {reader.reader_id:<5}| {minutes:5.2f} | '
                    f'{reader.subset:<17}| {slot + 1:<5}| {slot + 1:<6}| '
                    f'Chapter {chapter_number + 1} | Demo readings {reader.reader_id}\n')))
                reader_samples += chapter_samples
            minutes = reader_samples / SAMPLE_RATE / 60
            speaker_lines.append((reader.reader_id, (
                f'{reader.reader_id:<5}| {reader.sex} | {reader.subset:<17}| {minutes:5.2f} | '
                f'{reader.name}\n')))
    write_text(os.path.join(root, 'SPEAKERS.TXT'), _SPEAKERS_HEADER + ''.join(
        line for _, line in sorted(speaker_lines)))
    write_text(os.path.join(root, 'CHAPTERS.TXT'), _CHAPTERS_HEADER + ''.join(
        line for _, line in sorted(chapter_lines)))
    write_text(os.path.join(root, 'README.TXT'), _README)
    return root, written


def write_demo_manifests(written, out_dir):
    """fairseq's manifests of the demo (``<out_dir>/librispeech_manifests/``), as
    ``preprocess.py librispeech`` writes them for the real LibriSpeech; returns ``train.tsv``."""
    from src.wav2vec2.dataset import prepare_librispeech
    return prepare_librispeech(written['librispeech'], os.path.join(out_dir, 'librispeech_manifests'),
                               splits=SPLITS)


@demo_corpus('librispeech', lists=write_demo_manifests)
def make_librispeech_demo(out_dir, seed=0, train_speakers=40, dev_speakers=6, test_speakers=6,
                          chapters=2, utterances=8, words=(9, 18)):
    """A LibriSpeech read by eSpeak NG voices.

    Layout under ``out_dir``:
    ``LibriSpeech/<split>/<reader>/<chapter>/<reader>-<chapter>-NNNN.flac`` (16 kHz mono
    16-bit FLAC) with ``<reader>/<chapter>/<reader>-<chapter>.trans.txt`` (lines
    ``<reader>-<chapter>-NNNN UPPER CASE TRANSCRIPT``), for the splits ``train-clean-100``,
    ``dev-clean`` and ``test-clean`` (disjoint readers, half of them female), and at the root
    ``SPEAKERS.TXT`` (``ID | SEX | SUBSET | MINUTES | NAME``), ``CHAPTERS.TXT`` and
    ``README.TXT``. Every reader has a random stream of its own, so changing the number of
    readers of a split leaves the other readers' files unchanged.

    Args:
        out_dir: destination folder.
        seed: random seed.
        train_speakers, dev_speakers, test_speakers: readers of each split.
        chapters: chapters per reader.
        utterances: utterances per chapter.
        words: (fewest, most) words of a sentence (about 0.35 s each).

    Returns:
        ``{'librispeech': root}``.
    """
    root, _ = write_librispeech_demo(out_dir, seed, train_speakers, dev_speakers, test_speakers,
                                     chapters, utterances, words)
    return {'librispeech': root}


_SPEAKERS_HEADER = """\
; The readers of this demo LibriSpeech, one per line, fields separated by '|':
; reader id, sex (F or M), subset, minutes of speech in the subset, name (here: the eSpeak NG
; voice and settings that read).
;
;ID  |SEX| SUBSET           |MINUTES| NAME
"""
_CHAPTERS_HEADER = """\
; The chapters of this demo LibriSpeech, one per line, fields separated by '|':
; chapter id, reader id, minutes, subset, project id, book id, chapter title, project title.
;
;ID    |READER|MINUTES| SUBSET           | PROJ.|BOOK ID| CH. TITLE | PROJECT TITLE
"""
_README = """\
A demo of the LibriSpeech ASR corpus in its layout: synthetic sentences of a small English
grammar read by eSpeak NG voices, written by `python preprocess.py demo librispeech`
(src/data/demo/librispeech.py). Not LibriSpeech data.
"""
