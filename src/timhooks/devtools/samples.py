"""A realistic sample body for every webhook command, for ``timhooks trigger`` and ``check``.

The bodies are data, in ``samples.json`` beside this module. The Official Account and
group-membership bodies follow the field lists and sample values of their Tencent pages
(https://trtc.io/document/60795 to 60805, 34368 to 34376); the others are the first "Sample
request" of each command's page, as kept in ``tests/fixtures/catalog`` (comments removed, slips
mended). ``devtools.bodies`` lays a sample over the defaults of the command's model and sets a
fresh ``EventTime``; the sample's own times are left as printed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from importlib.resources import files
from types import MappingProxyType
from typing import Any

__all__ = ["SAMPLES"]

SAMPLES: Mapping[str, Mapping[str, Any]] = MappingProxyType(
    json.loads(files(__package__).joinpath("samples.json").read_text(encoding="utf-8"))
)
"""A sample body per webhook command, by CallbackCommand."""
