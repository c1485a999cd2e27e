"""English sentences from a small grammar, the texts of the speech demo corpora.

A sentence is a clause, optionally followed by a conjunction and a second clause; a clause is a
subject (a person or an animal), a verb and what the verb takes (an object, a place, a manner,
a time), all drawn from a fixed vocabulary of about 300 common words that eSpeak NG pronounces
well. So the texts are varied but their words recur often enough for a small speech recogniser
to learn them from a demo corpus.

    words = draw_sentence(np.random.default_rng(0))   # ['this', 'lonely', 'stranger', ...]
"""

_DETERMINERS = ('the', 'a', 'this', 'that', 'every', 'one', 'her', 'his', 'our', 'their')
_NAMES = ('john', 'mary', 'peter', 'anna', 'thomas', 'sarah', 'david', 'emma', 'robert', 'alice',
          'james', 'helen', 'george', 'lucy', 'henry', 'kate', 'william', 'jane', 'charles',
          'margaret')
_ADJECTIVES = (
    'old', 'young', 'small', 'large', 'little', 'big', 'long', 'short', 'tall', 'red', 'green',
    'blue', 'black', 'white', 'brown', 'golden', 'dark', 'bright', 'quiet', 'loud', 'happy',
    'sad', 'kind', 'strange', 'famous', 'poor', 'rich', 'warm', 'cold', 'wet', 'dry', 'heavy',
    'light', 'empty', 'full', 'busy', 'lonely', 'gentle', 'clever', 'brave', 'tired', 'hungry',
    'careful', 'beautiful', 'simple', 'ancient', 'modern', 'narrow', 'wide', 'deep', 'soft',
    'hard', 'sweet', 'bitter', 'fresh', 'wooden', 'silver', 'broken', 'hidden', 'honest')
# Who acts (the subjects), then things and places.
_BEINGS = (
    'man', 'woman', 'child', 'boy', 'girl', 'farmer', 'teacher', 'doctor', 'sailor', 'soldier',
    'king', 'queen', 'captain', 'stranger', 'friend', 'neighbour', 'mother', 'father', 'brother',
    'sister', 'dog', 'cat', 'horse', 'bird', 'fish', 'cow', 'sheep', 'wolf', 'fox', 'bear')
_THINGS = (
    'house', 'garden', 'river', 'forest', 'mountain', 'village', 'city', 'road', 'bridge',
    'field', 'lake', 'island', 'castle', 'church', 'market', 'station', 'school', 'kitchen',
    'window', 'door', 'table', 'chair', 'book', 'letter', 'picture', 'basket', 'box', 'bottle',
    'cup', 'knife', 'coat', 'hat', 'ship', 'boat', 'train', 'cart', 'wheel', 'key', 'lamp',
    'candle', 'stone', 'tree', 'flower', 'apple', 'bread', 'cheese', 'milk', 'water', 'fire',
    'song', 'story', 'message', 'money', 'ring', 'map', 'clock', 'bell', 'rope', 'blanket',
    'wall', 'roof', 'hill', 'valley', 'shore', 'path', 'gate', 'tower', 'shop', 'room')
# (past tense, takes an object)
_VERBS = (
    ('found', True), ('saw', True), ('carried', True), ('opened', True), ('closed', True),
    ('painted', True), ('watched', True), ('followed', True), ('helped', True), ('bought', True),
    ('sold', True), ('built', True), ('cleaned', True), ('lost', True), ('kept', True),
    ('brought', True), ('took', True), ('left', True), ('visited', True), ('remembered', True),
    ('liked', True), ('wanted', True), ('needed', True), ('pushed', True), ('pulled', True),
    ('lifted', True), ('dropped', True), ('washed', True), ('fixed', True), ('touched', True),
    ('called', True), ('answered', True), ('showed', True), ('wrote', True), ('read', True),
    ('walked', False), ('waited', False), ('laughed', False), ('slept', False),
    ('worked', False), ('smiled', False), ('listened', False), ('travelled', False),
    ('rested', False), ('arrived', False), ('returned', False), ('stayed', False),
    ('sang', False), ('danced', False), ('wandered', False), ('stood', False), ('sat', False),
    ('spoke', False), ('played', False), ('shouted', False))
_ADVERBS = ('slowly', 'quickly', 'quietly', 'happily', 'carefully', 'suddenly', 'softly',
            'loudly', 'gently', 'alone', 'together', 'again', 'often', 'early', 'late')
_PREPOSITIONS = ('in', 'on', 'near', 'behind', 'under', 'over', 'across', 'along', 'beside',
                 'through', 'past', 'inside', 'around', 'towards', 'beyond')
_TIMES = ('yesterday', 'today', 'tonight', 'at dawn', 'at noon', 'at night', 'in the morning',
          'in the evening', 'in the spring', 'in the summer', 'in the autumn', 'in the winter',
          'last week', 'every day', 'after dinner', 'before dark')
_CONJUNCTIONS = ('and', 'but', 'so', 'because', 'while', 'when', 'until', 'although')

VOCABULARY = tuple(sorted({word for group in (
    _DETERMINERS, _NAMES, _ADJECTIVES, _BEINGS, _THINGS, [v for v, _ in _VERBS], _ADVERBS,
    _PREPOSITIONS, _CONJUNCTIONS) for word in group} | {
        word for phrase in _TIMES for word in phrase.split()}))
"""Every word a sentence may hold (lower case)."""


def _pick(rng, words):
    return words[int(rng.integers(len(words)))]


def _noun_phrase(rng, nouns, name_prob):
    if rng.random() < name_prob:
        return [_pick(rng, _NAMES)]
    phrase = [_pick(rng, _DETERMINERS)]
    if rng.random() < 0.55:
        phrase.append(_pick(rng, _ADJECTIVES))
    phrase.append(_pick(rng, nouns))
    # "a old" -> "an old": eSpeak reads either, the transcript should be English.
    if phrase[0] == 'a' and phrase[1][0] in 'aeiou':
        phrase[0] = 'an'
    return phrase


def _clause(rng):
    words = _noun_phrase(rng, _BEINGS, 0.25)
    verb, transitive = _VERBS[int(rng.integers(len(_VERBS)))]
    words.append(verb)
    if transitive:
        words += _noun_phrase(rng, _BEINGS + _THINGS, 0.1)
    elif rng.random() < 0.5:
        words.append(_pick(rng, _ADVERBS))
    if rng.random() < 0.6:
        words += [_pick(rng, _PREPOSITIONS)] + _noun_phrase(rng, _THINGS, 0.0)
    if rng.random() < 0.3:
        words += _pick(rng, _TIMES).split()
    return words


def draw_sentence(rng, min_words=7, max_words=16):
    """A random sentence of ``min_words`` ... ``max_words`` words.

    Args:
        rng: ``np.random.Generator``.
        min_words, max_words: length bounds (clauses are joined until the sentence is long
            enough; a draw longer than ``max_words`` is drawn again).

    Returns:
        list of lower-case words of :data:`VOCABULARY`.
    """
    if not 4 <= min_words <= max_words:
        raise ValueError(f'need 4 <= min_words <= max_words, got {min_words}, {max_words}')
    while True:
        words = _clause(rng)
        while len(words) < min_words:
            words += [_pick(rng, _CONJUNCTIONS)] + _clause(rng)
        if len(words) <= max_words:
            return words


def spoken_text(words):
    """What eSpeak NG is given for ``words``: a comma before each conjunction (a breath and a
    pitch reset, as a reader would make) and a full stop at the end."""
    parts = []
    for word in words:
        if word in _CONJUNCTIONS and parts:
            parts[-1] += ','
        parts.append(word)
    return ' '.join(parts) + '.'

