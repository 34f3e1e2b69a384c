"""The licence the package declares is the one the repository ships."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_license_file_is_the_declared_mit_license() -> None:
    """pyproject says MIT; LICENSE is the MIT text, copyright the timhooks authors."""
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["license"]
    text = (ROOT / "LICENSE").read_text()
    assert declared == "MIT"
    assert text.startswith("MIT License\n")
    assert "Copyright (c) the timhooks authors" in text
    assert 'THE SOFTWARE IS PROVIDED "AS IS"' in text
