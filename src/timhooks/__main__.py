"""``python -m timhooks`` runs the CLI."""

from __future__ import annotations

import sys

from timhooks.cli import main

sys.exit(main())
