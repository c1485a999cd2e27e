"""The one policy for unreadable items: replaced by random others, logged once, counted, and a
one-line error naming the list when replacements keep failing."""
import logging

import numpy as np

from src.data.items import MAX_TRIES, UnreadableItems
from src.errors import DataError
from tests.helpers import raises_one_line


def reader(unreadable, bad):
    """``get(index)`` over items 0..9 whose ``bad`` ones raise a DataError when read."""
    def read(index):
        if index in bad:
            raise DataError(f'cannot read item{index}.wav')
        return f'item {index}'
    return lambda index: unreadable.read(f'item{index}.wav', lambda: read(index))


def test_unreadable_items_are_replaced_by_readable_random_ones(caplog):
    unreadable = UnreadableItems('lists/train.csv', noun='training files')
    get = reader(unreadable, bad={2, 5})
    with caplog.at_level(logging.WARNING):
        items, used, bad = unreadable.gather(get, [2, 0, 5, 2], 10, np.random.default_rng(0))
    assert len(items) == 4 and items[1] == 'item 0'
    assert [item == f'item {index}' for item, index in zip(items, used)] == [True] * 4
    assert not {used[0], used[2], used[3]} & {2, 5}          # replacements are readable ones
    assert bad >= 3                                          # at least the three bad requests
    assert unreadable.paths == {'item2.wav', 'item5.wav'}
    assert [r.getMessage().count('item2.wav') for r in caplog.records].count(1) == 1   # once
    assert all('lists/train.csv' in r.getMessage() for r in caplog.records)
    # the replacements come from the batch's random stream: the same stream, the same batch
    again = UnreadableItems('lists/train.csv').gather(reader(UnreadableItems('x'), {2, 5}), [2, 0, 5, 2], 10,
                                                       np.random.default_rng(0))
    assert again == (items, used, bad)
    assert unreadable.gather(get, [0, 1], 10, np.random.default_rng(0)) == (['item 0', 'item 1'], [0, 1], 0)


def test_a_broken_list_is_one_error_naming_it():
    unreadable = UnreadableItems('data/ESC-50/meta/esc50.csv', noun='clips', max_tries=2)
    get = reader(unreadable, bad=set(range(10)))
    message = raises_one_line(DataError, lambda: unreadable.gather(get, [0], 10, np.random.default_rng(0)),
                              '3 clips in a row were unreadable', 'data/ESC-50/meta/esc50.csv')
    assert 'e.g. item' in message
    assert MAX_TRIES == UnreadableItems('x').max_tries == 10
