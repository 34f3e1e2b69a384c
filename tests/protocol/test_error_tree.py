"""Every exception timhooks raises belongs to the one tree drawn in protocol/errors.py."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import timhooks
from timhooks.protocol import errors


def exception_classes() -> dict[str, type[BaseException]]:
    """Every public exception class defined in a timhooks module, by its dotted name."""
    found: dict[str, type[BaseException]] = {}
    for module_info in pkgutil.walk_packages(timhooks.__path__, "timhooks."):
        if module_info.name.endswith("__main__"):
            continue  # running it is `python -m timhooks`
        module = importlib.import_module(module_info.name)
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == module.__name__
                and not name.startswith("_")
            ):
                found[f"{module.__name__}.{name}"] = value
    return found


def test_every_exception_is_a_timhooks_error_drawn_in_the_tree() -> None:
    """Each public exception class of src/ derives from TimhooksError and is named in the tree
    of errors.py's docstring, so `except TimhooksError` catches everything timhooks raises."""
    classes = exception_classes()
    assert "timhooks.delivery.http.HttpError" in classes
    tree = errors.__doc__ or ""
    for dotted, cls in classes.items():
        assert issubclass(cls, errors.TimhooksError), dotted
        assert re.search(rf"\s{cls.__name__}\s", tree), dotted
