"""Name -> factory registries: models are chosen by the config, never by if-chains.

    MODELS = Registry('model')

    @MODELS.register('ecapa_tdnn')
    class EcapaTdnnRecipe: ...

    MODELS.get('ecapa_tdnn')   # -> the registered object; unknown names list the known ones

Registering a name twice is an error (two modules claiming one name is always a bug).
"""
import difflib

from .errors import ConfigError


class Registry:
    """A named table of factories with helpful errors."""

    def __init__(self, kind):
        self.kind = kind
        self._entries = {}

    def register(self, name, obj=None):
        """Register ``obj`` under ``name``; usable as a decorator (``@REG.register('x')``)."""
        if obj is None:
            return lambda o: self.register(name, o)
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is already registered "
                             f"(by {self._entries[name]!r})")
        self._entries[name] = obj
        return obj

    def get(self, name):
        if name not in self._entries:
            near = difflib.get_close_matches(str(name), self._entries, n=1)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            raise ConfigError(f"unknown {self.kind} {name!r}{hint} "
                              f"(known: {', '.join(sorted(self._entries)) or 'none'})")
        return self._entries[name]

    def names(self):
        return sorted(self._entries)

    def __contains__(self, name):
        return name in self._entries

    def __len__(self):
        return len(self._entries)
