"""Synthetic stand-ins for the public corpora, written in their exact on-disk layouts.

The demo recipes train and evaluate on these, so every script runs end to end in minutes on a
CPU without downloading anything. Each generator, ``(out_dir, seed=0, **sizes) -> {name: written
path}``, is registered in :data:`DEMO_CORPORA` (:class:`DemoCorpus`, with the lists a recipe
reads where it needs some) and is deterministic: the same seed and sizes give byte-identical
files. One module per corpus; their shared signal helpers are in
:mod:`.dsp` and the synthetic voices of the speaker corpora in :mod:`.voice`.

* ``voxceleb`` (:mod:`.voxceleb`): ``voxceleb2/dev/wav/idNNNNN/<video>/NNNNN.wav`` training
  speakers, ``voxceleb1/wav/id1NNNN/<video>/NNNNN.wav`` disjoint test speakers and
  ``voxceleb1/veri_test2.txt`` (``label enroll test`` trials, balanced, target pairs from
  different videos).
* ``musan`` (:mod:`.musan`): ``musan/{noise,music,speech}/<source>/<name>.wav``.
* ``rirs_noises`` (:mod:`.rirs_noises`):
  ``RIRS_NOISES/simulated_rirs/{small,medium,large}room/RoomNNN/RoomNNN-NNNNN.wav``.
* ``esc50`` (:mod:`.esc50`): ``ESC-50/audio/{fold}-{clip_id}-{take}-{target}.wav`` (5 s,
  44.1 kHz) and ``ESC-50/meta/esc50.csv``; synthetic sound classes told apart by their
  spectro-temporal pattern.
* ``librispeech`` (:mod:`.librispeech`):
  ``LibriSpeech/{train-clean-100,dev-clean,test-clean}/<reader>/<chapter>/<reader>-<chapter>-NNNN.flac``
  with the chapters' ``.trans.txt`` and ``SPEAKERS.TXT``: real speech, sentences of a small
  grammar (:mod:`.sentences`) read by eSpeak NG voices (:mod:`.espeak`, needs the
  ``espeakng-loader`` package).
* ``librimix`` (:mod:`.librimix`): ``Libri2Mix/wav8k/min/{train-100,dev,test}/{mix_clean,
  mix_both,mix_single,s1,s2,noise}/<mixture_ID>.wav`` and ``.../metadata/mixture_*.csv``, made
  from the LibriSpeech demo (which it writes first) as LibriMix makes it (needs ``pyloudnorm``).

Nothing in production imports this package: only ``preprocess.py demo`` and the tests do.
"""
from dataclasses import dataclass
from typing import Callable, Optional

from src.registry import Registry

# The corpus modules register their generators; they are imported on the first look-up.
DEMO_CORPORA = Registry('demo corpus', modules=(
    'src.data.demo.voxceleb', 'src.data.demo.musan', 'src.data.demo.rirs_noises',
    'src.data.demo.esc50', 'src.data.demo.librispeech', 'src.data.demo.librimix'))


@dataclass(frozen=True)
class DemoCorpus:
    """A registered demo corpus.

    Attributes:
        make: ``make(out_dir, seed=0, **sizes) -> {name: written path}``.
        lists: optional ``lists(written, out_dir) -> manifest``: the lists a recipe reads,
            written from ``make``'s result the way the real corpus's preparer writes them
            (``preprocess.py demo`` runs it after ``make``).
    """
    make: Callable
    lists: Optional[Callable] = None


def demo_corpus(name, lists=None):
    """Decorator: register the generator ``make`` as the demo corpus ``name`` (with ``lists``)."""
    def register(make):
        DEMO_CORPORA.register(name, DemoCorpus(make, lists))
        return make
    return register


def make_demo(name, out_dir, seed=0, **sizes):
    """Write the demo corpus ``name`` under ``out_dir``.

    Args:
        name: a name of :data:`DEMO_CORPORA` (``DEMO_CORPORA.names()`` lists them).
        out_dir: destination folder (created).
        seed: random seed; the same seed and sizes give byte-identical files.
        **sizes: the generator's size arguments (see each ``make_*_demo``).

    Returns:
        dict name -> written path (corpus roots and list files).
    """
    return DEMO_CORPORA.get(name).make(out_dir, seed=seed, **sizes)
