"""Shared test plumbing: ``async def`` tests run under ``asyncio.run``, one fresh loop each.

There is deliberately no pytest-asyncio: an async test gets a new event loop, and whatever it
opens (receivers, inboxes, clients) it must close before returning.
"""

from __future__ import annotations

import asyncio
import inspect

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run a coroutine test function to completion on its own event loop."""
    func = pyfuncitem.obj
    if not inspect.iscoroutinefunction(func):
        return None
    names = pyfuncitem._fixtureinfo.argnames
    asyncio.run(func(**{name: pyfuncitem.funcargs[name] for name in names}))
    return True
