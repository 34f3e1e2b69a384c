"""The public names: every one in ``__all__`` exists and says what it is (STYLE.md habit 7)."""

from __future__ import annotations

import inspect
from types import ModuleType

import pytest

import timhooks
import timhooks.protocol
import timhooks.receiver
import timhooks.workqueue


@pytest.mark.parametrize(
    "module", [timhooks, timhooks.protocol, timhooks.receiver, timhooks.workqueue]
)
def test_every_exported_name_resolves(module: ModuleType) -> None:
    """Each name in __all__ can be imported from the package."""
    for name in module.__all__:
        assert getattr(module, name) is not None, name


@pytest.mark.parametrize("module", [timhooks.protocol, timhooks.receiver, timhooks.workqueue])
def test_every_exported_class_and_function_has_a_docstring(module: ModuleType) -> None:
    """Public classes and functions carry a one-line docstring."""
    for name in module.__all__:
        value = getattr(module, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert inspect.getdoc(value), name


def test_top_level_reexports_are_the_same_objects() -> None:
    """timhooks.X is the very object the subpackage defines."""
    assert timhooks.parse_event is timhooks.protocol.parse_event
    assert timhooks.Receiver is timhooks.receiver.Receiver
    assert timhooks.SyncReceiver is timhooks.receiver.SyncReceiver
    assert isinstance(timhooks.__version__, str)
