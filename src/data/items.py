"""The one policy of every dataset for items whose file cannot be read.

Real corpora hold a few corrupt or truncated files; a training run should neither crash on the
first one nor train on silence. So an unreadable item is replaced by another one drawn at random,
its file is logged once, and the batch counts it under ``'_bad'``; the loader stops the run when
too large a fraction of the items were bad (``train.max_bad_fraction``,
:class:`src.data.loader.BatchLoader`). When :data:`MAX_TRIES` replacements in a row are
unreadable too, the list itself is broken (a moved audio root, a wrong folder): a
:class:`DataError` names the list.

    unreadable = UnreadableItems('data/lists/train.csv', noun='training files')
    wave = unreadable.read(path, lambda: read_audio(path, 16000))      # None when unreadable
    items, indices, bad = unreadable.gather(lambda i: self.get(i, rng), indices, len(self), rng)
"""
import logging

from ..errors import DataError

log = logging.getLogger(__name__)

# Replacements tried for one unreadable item before the list is taken to be broken.
MAX_TRIES = 10


class UnreadableItems:
    """The unreadable files of one dataset, and the replacement of its unreadable items.

    Args:
        source: the list the items come from (a manifest, a CSV, a folder), named in messages.
        noun: what the items are, in messages ('training files', 'clips').
        max_tries: replacements tried for one unreadable item before a DataError.

    Attributes:
        paths: the files found unreadable so far (in this process).
    """

    def __init__(self, source, noun='files', max_tries=MAX_TRIES):
        self.source, self.noun, self.max_tries = str(source), noun, int(max_tries)
        self.paths = set()

    def read(self, path, read):
        """``read()``, or None when it raises a DataError (``path`` is recorded, logged once)."""
        try:
            return read()
        except DataError as exc:
            if path not in self.paths:
                self.paths.add(path)
                log.warning('skipping an unreadable file of %s: %s', self.source, exc)
            return None

    def gather(self, get, indices, size, rng):
        """The items of ``indices``, each unreadable one replaced by a random other item.

        Args:
            get: ``get(index) -> item``, or None when the item is unreadable.
            indices: the item indices of the batch.
            size: the number of items to draw replacements from (``0 ... size - 1``).
            rng: ``np.random.Generator`` of the batch.

        Returns:
            ``(items, indices, bad)``: the items, the index each one came from (the
            replacement's, where one was needed) and the number of unreadable items met.

        Raises:
            DataError: ``max_tries`` replacements in a row were unreadable.
        """
        items, used, bad = [], [], 0
        for index in indices:
            index = int(index)
            item = get(index)
            tries = 0
            while item is None:
                bad += 1
                tries += 1
                if tries > self.max_tries:
                    example = sorted(self.paths)[0] if self.paths else 'none recorded'
                    raise DataError(f'{self.max_tries + 1} {self.noun} in a row were unreadable '
                                    f'(e.g. {example}); check the files of {self.source}')
                index = int(rng.integers(size))
                item = get(index)
            items.append(item)
            used.append(index)
        return items, used, bad
