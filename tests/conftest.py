"""Shared test plumbing: ``async def`` tests run under ``asyncio.run``, one fresh loop each.

There is deliberately no pytest-asyncio: an async test gets a new event loop, and whatever it
opens (receivers, inboxes, clients) it must close before returning.

Every hypothesis test is derandomized (its examples are a function of the test's own code, the
same on every run and every machine) and keeps no example database, so a run's verdict never
depends on chance or on what an earlier run found. ``HYPOTHESIS_PROFILE=explore`` runs them
with fresh randomness instead, to look for new failures by hand.
"""

from __future__ import annotations

import asyncio
import inspect
import os

import pytest
from hypothesis import settings

settings.register_profile("deterministic", derandomize=True, database=None, print_blob=True)
settings.register_profile("explore", derandomize=False, database=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run a coroutine test function to completion on its own event loop."""
    func = pyfuncitem.obj
    if not inspect.iscoroutinefunction(func):
        return None
    names = pyfuncitem._fixtureinfo.argnames
    asyncio.run(func(**{name: pyfuncitem.funcargs[name] for name in names}))
    return True
