"""Speech recognition: word and character error rates over a corpus, by jiwer.

Rates are corpus rates, as papers report them: the edit operations of all utterances summed,
divided by the words (characters) of all references, ``(S + D + I) / (H + S + D)``, not a mean
of per-utterance rates. Texts are compared after jiwer's default transforms: for words, runs
of spaces collapsed, the ends stripped, split on spaces; for characters, the ends stripped and
the inner spaces kept as characters. Nothing else is normalised (case, punctuation,
apostrophes): normalise both sides the same way before, as the corpus's scoring does.

References: jiwer (https://github.com/jitsi/jiwer), whose Levenshtein alignment is rapidfuzz's.
"""
from ..errors import ConfigError, DataError

UNITS = ('word', 'char')


def _as_texts(refs, hyps):
    """Two equally long lists of strings (one string is one utterance), or DataError."""
    texts = []
    for name, value in (('references', refs), ('hypotheses', hyps)):
        value = [value] if isinstance(value, str) else list(value)
        bad = [i for i, text in enumerate(value) if not isinstance(text, str)]
        if bad:
            raise DataError(f"{name}[{bad[0]}] is a {type(value[bad[0]]).__name__}, not a "
                            f"string; give one transcript string per utterance")
        texts.append(value)
    refs, hyps = texts
    if not refs:
        raise DataError("no utterances: references and hypotheses are empty")
    if len(refs) != len(hyps):
        raise DataError(f"{len(refs)} references but {len(hyps)} hypotheses; give one "
                        f"hypothesis per reference (an empty string for no output)")
    return refs, hyps


def _alignment(refs, hyps, unit):
    import jiwer
    if unit not in UNITS:
        raise ConfigError(f"edit-count unit must be one of {', '.join(UNITS)}, got {unit!r}")
    refs, hyps = _as_texts(refs, hyps)
    process = jiwer.process_words if unit == 'word' else jiwer.process_characters
    return process(refs, hyps)


def edit_counts(refs, hyps, unit='word'):
    """Edit operations of the best alignment of each hypothesis to its reference, summed.

    Args:
        refs: reference transcripts, a list of strings (or one string).
        hyps: hypothesis transcripts, one per reference ('' for an empty output).
        unit: 'word' or 'char'.

    Returns:
        (hits, substitutions, deletions, insertions), ints.

    Raises:
        ConfigError: another unit.
        DataError: not strings, no utterances, or counts that differ.
    """
    out = _alignment(refs, hyps, unit)
    return (int(out.hits), int(out.substitutions), int(out.deletions), int(out.insertions))


def compute_wer(refs, hyps):
    """Corpus word error rate, a fraction (``jiwer.wer``): may exceed 1 with many insertions.

    Raises:
        DataError: as :func:`edit_counts`.
    """
    return float(_alignment(refs, hyps, 'word').wer)


def compute_cer(refs, hyps):
    """Corpus character error rate, a fraction (``jiwer.cer``), spaces counted as characters.

    Raises:
        DataError: as :func:`edit_counts`.
    """
    return float(_alignment(refs, hyps, 'char').cer)
