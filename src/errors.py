"""The one exception type for problems the user can fix (bad input, missing files, wrong config).

Entry points (``train.py``, ``eval.py`` ...) catch :class:`UserError` and print its message as a
single line, ``error: <message>``, then exit with status 2; anything else is a bug and keeps its
traceback. A message names the file or key at fault and says what to do about it.
"""


class UserError(Exception):
    """A problem with the user's input, data or configuration, reported as one line."""


class ConfigError(UserError):
    """An unknown key, a wrong type or an invalid value in a config file or override."""


class DataError(UserError):
    """Missing, empty or corrupt data: audio files, lists, trial files."""


class CheckpointError(UserError):
    """A checkpoint that is truncated, unreadable or does not fit the network."""
