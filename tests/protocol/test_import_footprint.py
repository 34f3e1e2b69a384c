"""``import timhooks.protocol`` stays sans-IO: no sockets, event loop, HTTP client or database."""

from __future__ import annotations

import json
import subprocess
import sys

FORBIDDEN = {"socket", "selectors", "asyncio", "httpx", "sqlite3", "_sqlite3", "psycopg", "asyncpg"}

PROBE = """
import json, sys
before = set(sys.modules)
import timhooks.protocol
print(json.dumps({"before": sorted(before), "after": sorted(sys.modules)}))
"""


def test_importing_the_protocol_loads_no_io_modules() -> None:
    """A fresh interpreter importing timhooks.protocol loads none of the I/O modules."""
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    modules = json.loads(out)
    # If the interpreter itself preloaded one, the check below would prove nothing.
    assert not FORBIDDEN & set(modules["before"])
    assert "timhooks.protocol" in modules["after"]
    assert not FORBIDDEN & set(modules["after"])
