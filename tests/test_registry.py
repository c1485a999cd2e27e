"""Registries: one name once, nearest-name errors, and the modules that fill a registry imported
on its first look-up (not before)."""
import pytest

from src.errors import ConfigError
from src.registry import Registry


def test_names_are_unique_and_unknown_ones_name_the_nearest():
    table = Registry('widget')
    table.register('small', 1)
    with pytest.raises(ValueError, match="widget 'small' is already registered"):
        table.register('small', 2)
    with pytest.raises(ConfigError, match="unknown widget 'smal'; did you mean 'small'"):
        table.get('smal')
    assert table.items() == [('small', 1)] and len(table) == 1


def test_modules_are_imported_on_the_first_look_up(monkeypatch):
    table = Registry('widget', modules=('fake_widgets',))
    imported = []

    def import_module(name):          # what importing the module does: register its entries
        imported.append(name)
        table.register('large', 3)
    monkeypatch.setattr('importlib.import_module', import_module)
    assert imported == []
    assert 'large' in table and imported == ['fake_widgets']
    assert table.get('large') == 3 and table.names() == ['large'] and imported == ['fake_widgets']
