"""Corpus preparers: the ``python preprocess.py <corpus>`` sub-commands of the real data sets.

A preparer turns a corpus as downloaded into the lists a recipe reads,
``prepare(root, out_dir, **options) -> manifest path``, and declares the sub-command's options.
Model packages register theirs in :data:`CORPORA` (in their dataset modules, which are imported
on the first look-up); ``preprocess.py`` builds one sub-command per entry and never branches on
a corpus name.

    CORPORA.register('esc50', CorpusPreparer(prepare_esc50, esc50_arguments,
                                             'check an ESC-50 tree and list its clips'))
"""
import os
from dataclasses import dataclass
from typing import Callable

from ..registry import Registry

# The dataset modules that register corpus preparers; a new corpus adds one line.
PREPARER_MODULES = ('src.ecapa_tdnn.dataset', 'src.panns.dataset', 'src.dprnn.dataset',
                    'src.wav2vec2.dataset')
CORPORA = Registry('corpus', modules=PREPARER_MODULES)


@dataclass(frozen=True)
class CorpusPreparer:
    """One corpus's data preparation as a ``preprocess.py`` sub-command.

    Attributes:
        prepare: ``prepare(root or roots, out_dir, **options) -> manifest path``.
        add_arguments: ``add_arguments(parser)`` adds the sub-command's options; their ``dest``
            names are the keyword arguments of ``prepare`` (every option goes to it).
        help: one line for ``preprocess.py --help``.
    """
    prepare: Callable
    add_arguments: Callable
    help: str

    def run(self, options):
        """``prepare(**options)``: the parsed options of the sub-command."""
        return self.prepare(**options)


def describe_written(manifest):
    """``manifest`` and the other files written beside it, as one line for the user."""
    folder = os.path.dirname(os.path.abspath(manifest))
    beside = sorted(name for name in os.listdir(folder)
                    if name != os.path.basename(manifest) and not name.startswith('.')
                    and os.path.isfile(os.path.join(folder, name)))
    return f"{manifest}" + (f" (beside it: {', '.join(beside)})" if beside else '')
