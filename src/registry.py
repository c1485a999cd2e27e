"""Name -> factory registries: models are chosen by the config, never by if-chains.

    MODELS = Registry('model', modules=('src.ecapa_tdnn.recipe', ...))

    @MODELS.register('ecapa_tdnn')
    class EcapaTdnnRecipe: ...

    MODELS.get('ecapa_tdnn')   # -> the registered object; unknown names list the known ones

Registering a name twice is an error (two modules claiming one name is always a bug). A
registry may name the modules that fill it: they are imported on its first look-up, so that
nothing is imported or registered before a script asks for an entry.
"""
import difflib
import importlib

from .errors import ConfigError


class Registry:
    """A named table of factories with helpful errors.

    Args:
        kind: what the entries are, for messages ('model', 'demo corpus' ...).
        modules: modules whose import registers the entries, imported on the first look-up
            (:meth:`get`, :meth:`names`, ``in``, ``len``).
    """

    def __init__(self, kind, modules=()):
        self.kind = kind
        self.modules = tuple(modules)
        self._entries = {}
        self._loaded = not self.modules

    def load(self):
        """Import :attr:`modules` (once); returns the registry."""
        if not self._loaded:
            # set first: a module that looks entries up while it registers must not recurse
            self._loaded = True
            for module in self.modules:
                importlib.import_module(module)
        return self

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
        self.load()
        if name not in self._entries:
            near = difflib.get_close_matches(str(name), self._entries, n=1)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            raise ConfigError(f"unknown {self.kind} {name!r}{hint} "
                              f"(known: {', '.join(sorted(self._entries)) or 'none'})")
        return self._entries[name]

    def names(self):
        return sorted(self.load()._entries)

    def items(self):
        """``(name, entry)`` pairs sorted by name."""
        return [(name, self._entries[name]) for name in self.names()]

    def __contains__(self, name):
        return name in self.load()._entries

    def __len__(self):
        return len(self.load()._entries)
