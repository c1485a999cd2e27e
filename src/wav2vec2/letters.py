"""The letter dictionary of wav2vec 2.0's CTC fine-tuning, and greedy CTC decoding.

Ids are fairseq's ``Dictionary`` layout: 0 ``<s>`` (the CTC blank), 1 ``<pad>``, 2 ``</s>``,
3 ``<unk>``, then the lines of ``dict.ltr.txt`` in file order (``|`` is the word boundary).
transformers' ``vocab.json`` of the same model has the same ids with the names of 0 and 1
swapped (``<pad>`` at 0 is its blank), so both read into one :class:`Letters`.

Transcripts follow fairseq's ``.ltr`` files (``examples/wav2vec/libri_labels.py``): the letters
of every word separated by spaces, and ``|`` after every word, so ``HELLO WORLD`` is
``H E L L O | W O R L D |``.
"""
import itertools
import os
import re
from collections import Counter

import numpy as np

from ..data.manifest import read_label_map, write_text
from ..errors import DataError

WORD_BOUNDARY = '|'
FAIRSEQ_SPECIALS = ('<s>', '<pad>', '</s>', '<unk>')
HF_SPECIALS = ('<pad>', '<s>', '</s>', '<unk>')
# fairseq pads a dictionary to a multiple of 8 entries with these (never in a transcript)
_MADE_UP = re.compile(r'madeupword\d{4}')
# fairseq's flag after a count (allows re-listing a symbol)
_OVERWRITE = '#fairseq:overwrite'
# How many unknown characters an error lists before it only counts them.
_UNKNOWN_SHOWN = 20


class Letters:
    """A CTC output alphabet: symbols by id, the blank, and which ids are not letters.

    Args:
        symbols: the symbol of each id, in id order (``<s> <pad> </s> <unk> | E T ...``).
        blank: the id of the CTC blank.
        source: where the symbols came from, named in errors.
        counts: dict symbol -> occurrences (what :meth:`write_fairseq_dict` writes).

    Attributes:
        symbols: tuple of str by id.
        blank: the blank's id (0 for fairseq and transformers' wav2vec 2.0 models).
        specials: frozenset of ids decoding drops (``<s> <pad> </s> <unk>``, fairseq's
            ``madeupwordNNNN`` fillers).
    """

    def __init__(self, symbols, blank=0, source='letters', counts=None):
        self.symbols, self.blank, self.source = tuple(symbols), int(blank), str(source)
        self.counts = dict(counts or {})
        self.index = {symbol: i for i, symbol in enumerate(self.symbols)}
        if len(self.index) != len(self.symbols):
            twice = sorted(s for s, n in Counter(self.symbols).items() if n > 1)
            raise DataError(f"{source}: symbol(s) {' '.join(twice)} listed twice")
        if WORD_BOUNDARY not in self.index:
            raise DataError(f"{source} has no word boundary symbol {WORD_BOUNDARY!r}; a letter "
                            "dictionary lists '|' (fairseq's dict.ltr.txt)")
        self.specials = frozenset(
            i for i, s in enumerate(self.symbols)
            if s in FAIRSEQ_SPECIALS or _MADE_UP.fullmatch(s)) | {self.blank}

    # ------------------------------------------------------------------------------ reading

    @classmethod
    def from_letters(cls, letters, source='letters', counts=None):
        """The fairseq specials, then ``letters`` (``|`` among them) as ids 4, 5 ..."""
        return cls(FAIRSEQ_SPECIALS + tuple(letters), 0, source, counts)

    @classmethod
    def from_fairseq_dict(cls, path):
        """Read fairseq's ``dict.ltr.txt``: one ``SYMBOL COUNT`` line per symbol (a trailing
        ``#fairseq:overwrite`` allowed), ids from 4 on in file order.

        Raises:
            DataError: a missing file, a line that is not ``SYMBOL COUNT`` or a symbol listed
                twice (named by file:line), no ``|``.
        """
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise DataError(f"letter dictionary not found: {path} (write it with "
                            "`python preprocess.py librispeech`, or take fairseq's dict.ltr.txt)")
        letters, seen, counts = [], {}, {}
        with open(path, encoding='utf-8') as handle:
            for number, line in enumerate(handle, start=1):
                line = line.rstrip('\r\n')
                if not line.strip():
                    continue
                # a trailing flag lets fairseq re-list a symbol; this reader takes each once
                fields = line[:-len(_OVERWRITE)].rstrip(' ') if line.endswith(_OVERWRITE) else line
                fields = fields.rsplit(' ', 1)
                if len(fields) < 2 or not fields[0] or not fields[1].isdigit():
                    raise DataError(f"{path}:{number}: expected 'SYMBOL COUNT', got {line[:60]!r}")
                symbol = fields[0]
                if symbol in seen or symbol in FAIRSEQ_SPECIALS:
                    first = f"line {seen[symbol]}" if symbol in seen else "fairseq's specials"
                    raise DataError(f"{path}:{number}: symbol {symbol!r} is listed again (first: "
                                    f"{first}); list every symbol once, the specials not at all")
                seen.setdefault(symbol, number)
                letters.append(symbol)
                counts[symbol] = int(fields[1])
        if not letters:
            raise DataError(f"letter dictionary {path} is empty; expected 'SYMBOL COUNT' lines")
        return cls.from_letters(letters, source=path, counts=counts)

    @classmethod
    def from_hf_vocab(cls, path):
        """Read transformers' ``vocab.json`` (``{"<pad>": 0, "<s>": 1, ...}``); the blank is
        ``<pad>``'s id.

        Raises:
            DataError: what :func:`~src.data.manifest.read_label_map` rejects (a missing file,
                ids that are not 0 ... n-1 each once), no ``<pad>``, no ``|``.
        """
        path = os.fspath(path)
        # a vocab.json is a label map: symbol -> the ids 0 ... n-1
        vocab = read_label_map(path)
        if '<pad>' not in vocab:
            raise DataError(f"vocabulary {path} has no '<pad>' (the CTC blank of wav2vec 2.0)")
        symbols = sorted(vocab, key=vocab.get)
        # the id of the blank is <s>'s in fairseq's naming: the dictionary speaks fairseq's
        names = {'<pad>': '<s>', '<s>': '<pad>'} \
            if vocab['<pad>'] == 0 and vocab.get('<s>') == 1 else {}
        return cls([names.get(s, s) for s in symbols], blank=vocab['<pad>'], source=path)

    @classmethod
    def from_transcripts(cls, texts):
        """The dictionary of ``texts`` (words separated by spaces): ``|`` and the letters, most
        frequent first, ties in code-point order (fairseq's ``Dictionary.finalize``)."""
        counts = Counter()
        for text in texts:
            counts.update(ltr_line(text).split())
        letters = sorted(counts, key=lambda s: (-counts[s], s))
        letters = letters if WORD_BOUNDARY in counts else [WORD_BOUNDARY] + letters
        return cls.from_letters(letters, source='transcripts', counts=counts)

    # ------------------------------------------------------------------------------ writing

    def write_fairseq_dict(self, path):
        """Write ``dict.ltr.txt`` (atomically): ``SYMBOL COUNT`` per id from 4 on (the counts
        read or counted, 0 where unknown)."""
        write_text(path, ''.join(f"{s} {self.counts.get(s, 0)}\n"
                                 for s in self.symbols[len(FAIRSEQ_SPECIALS):]))

    def to_hf_vocab(self):
        """transformers' ``vocab.json`` content: ``{"<pad>": 0, "<s>": 1, "</s>": 2,
        "<unk>": 3, "|": 4, ...}``."""
        names = {'<s>': '<pad>', '<pad>': '<s>'} if self.symbols[:2] == FAIRSEQ_SPECIALS[:2] else {}
        return {names.get(s, s): i for i, s in enumerate(self.symbols)}

    # ------------------------------------------------------------------------------ encoding

    def __len__(self):
        return len(self.symbols)

    def encode(self, text, where=None):
        """Ids of ``text`` (words separated by white space) in the ``.ltr`` convention.

        Raises:
            DataError: characters the dictionary lacks, listed (``where`` names the file).
        """
        return self.encode_symbols(ltr_line(text).split(), where)

    def encode_symbols(self, symbols, where=None):
        """int32 ids of ``symbols`` (the tokens of a ``.ltr`` line).

        Raises:
            DataError: symbols the dictionary lacks, listed (``where`` names the file).
        """
        try:
            return np.asarray([self.index[s] for s in symbols], np.int32)
        except KeyError:
            raise self.unknown_error({s for s in symbols if s not in self.index}, where) from None

    def unknown_error(self, unknown, where=None):
        """The DataError for the symbols ``unknown`` outside the dictionary."""
        shown = sorted(unknown)
        listed = ' '.join(repr(s) for s in shown[:_UNKNOWN_SHOWN])
        more = f' (and {len(shown) - _UNKNOWN_SHOWN} more)' if len(shown) > _UNKNOWN_SHOWN else ''
        return DataError(f"{where or 'a transcript'} has {len(shown)} character(s) outside the "
                         f"letter dictionary {self.source}: {listed}{more}; normalise the "
                         "transcripts (e.g. upper case) or rebuild the dictionary from them")

    # ------------------------------------------------------------------------------ decoding

    def decode_greedy(self, ids_or_logits, length=None):
        """Text of a greedy CTC path: argmax over the last axis of (F, V) logits (or (F,) ids),
        the first ``length`` frames, repeats collapsed, the blank and the specials dropped,
        ``|`` read as a space, runs of spaces collapsed, stripped."""
        path = np.asarray(ids_or_logits)
        if path.ndim == 2:
            path = path.argmax(-1)
        elif path.ndim != 1:
            raise ValueError(f"decode_greedy takes (frames,) ids or (frames, vocab) logits, got "
                             f"shape {path.shape}")
        if length is not None:
            path = path[:int(length)]
        ids = [int(i) for i, _ in itertools.groupby(path.tolist())]
        text = ''.join(self.symbols[i] for i in ids if i not in self.specials)
        return ' '.join(text.replace(WORD_BOUNDARY, ' ').split())

    def decode_batch(self, logits, lengths=None):
        """:meth:`decode_greedy` of each of (B, F, V) logits (or (B, F) ids), to ``lengths``."""
        lengths = [None] * len(logits) if lengths is None else lengths
        return [self.decode_greedy(row, length) for row, length in zip(logits, lengths)]


def ltr_line(text):
    """fairseq's ``.ltr`` line of a transcript: ``HELLO WORLD`` -> ``H E L L O | W O R L D |``
    (white space runs are one boundary; an empty transcript gives '')."""
    words = text.split()
    return ' '.join(WORD_BOUNDARY.join(words) + WORD_BOUNDARY) if words else ''


def words_from_ltr(line):
    """The words of a ``.ltr`` line: ``H E L L O | W O R L D |`` -> ``HELLO WORLD``."""
    return ' '.join(''.join(line.split()).replace(WORD_BOUNDARY, ' ').split())
