"""Test doubles of timhooks' seams, importable as ``fakes`` from any test (as ``loopback`` is).

``AckTransport`` stands in for the webhook sender's ``HttpTransport``: where a test is about the
REST API rather than the network (fuzzing, contention), every webhook is answered OK without a
connection being made, so fuzzed or unreachable webhook URLs are never connected to.
"""

from __future__ import annotations

import json

ACK = json.dumps({"ActionStatus": "OK", "ErrorInfo": "", "ErrorCode": 0}).encode()


class AckTransport:
    """The sender's transport seam answering every webhook 200 with Tencent's OK."""

    def __init__(self) -> None:
        self.posted = 0

    async def post(
        self, url: str, body: bytes, *, connect_to: str | None = None
    ) -> tuple[int, bytes]:
        """Count the webhook and answer 200 and ACK without sending anything."""
        self.posted += 1
        return 200, ACK

    async def aclose(self) -> None:
        """Nothing to close."""
