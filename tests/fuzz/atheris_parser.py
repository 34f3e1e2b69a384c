"""Coverage-guided fuzz target (atheris/libFuzzer) for the sans-IO protocol parser.

Each input is split by its first byte into one of: ``parse_event`` (bytes, with and without an
expected command), ``parse_query`` (bytes and text), ``CommandSpec.parse_response`` of a
before-command, ``decode_usersig`` and ``verify_usersig``. Our own errors (MalformedRequest,
MalformedResponse, UserSigError) are the expected rejections; anything else escaping is a
crash, which libFuzzer reports with the input and a non-zero exit.

Run: ``python tests/fuzz/atheris_parser.py -max_total_time=20 [corpus_dir]``
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports(include=["timhooks"]):
    from timhooks.protocol import (
        COMMANDS,
        MalformedRequest,
        MalformedResponse,
        UserSigError,
        decode_usersig,
        parse_event,
        parse_query,
        verify_usersig,
    )

BEFORE = [spec for _, spec in sorted(COMMANDS.items()) if spec.is_before]
NAMES = sorted(COMMANDS)


def test_one_input(data: bytes) -> None:
    """Feed one fuzzer input to one parser entry point."""
    if not data:
        return
    choice, rest = data[0] % 7, data[1:]
    try:
        if choice == 0:
            parse_event(rest)
        elif choice == 1:
            expected = NAMES[rest[0] % len(NAMES)] if rest else NAMES[0]
            parse_event(rest[1:], command=expected)
        elif choice == 2:
            parse_query(rest)
        elif choice == 3:
            parse_query(rest.decode("utf-8", "surrogateescape"))
        elif choice == 4:
            spec = BEFORE[rest[0] % len(BEFORE)] if rest else BEFORE[0]
            spec.parse_response(rest[1:])
        elif choice == 5:
            decode_usersig(rest.decode("latin-1"))
        else:
            verify_usersig(
                rest.decode("latin-1"), sdk_app_id=1400000000, key="k", identifier="a", now=0
            )
    except (MalformedRequest, MalformedResponse, UserSigError):
        pass


def main() -> None:
    """Hand control to libFuzzer with the command-line options."""
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
