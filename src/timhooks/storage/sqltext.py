"""SQL text: code told apart from string literals, quoted identifiers and comments.

The storage code writes its statements once, with ``?`` placeholders and SQLite-flavoured DDL
types. A backend that needs another placeholder or other type names rewrites the code only:
a ``?`` or a ``%`` inside ``'it''s?'``, ``"col?"``, ``$$...$$`` or a comment is text, never a
placeholder. The scanner knows the lexical rules the two backends share, and PostgreSQL's own
(its manual, "Lexical Structure"): standard strings with ``''``, ``E'...'`` strings with
backslash escapes, dollar quotes, double-quoted identifiers, ``--`` comments and nested
``/* */`` comments. (SQLite's other identifier quotes, ``[x]`` and backquotes, are not written
by timhooks, and SQLite's statements are never rewritten.)
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator

__all__ = ["qmark_to_format", "segments", "split_script"]

# Where a literal, a quoted identifier or a comment starts. An E (escape string) or a dollar
# quote counts only where no identifier runs into it (``name'x'`` is not SQL; ``a$b$`` is an
# identifier in PostgreSQL).
_START = re.compile(r"(?<![\w$])[eE]'|'|\"|--|/\*|(?<![\w$])\$(?:[A-Za-z_][\w]*)?\$")
_STANDARD = re.compile(r"'(?:[^']|'')*'")
_ESCAPED = re.compile(r"[eE]'(?:[^'\\]|\\.|'')*'", re.DOTALL)
_IDENTIFIER = re.compile(r'"(?:[^"]|"")*"')
_COMMENT_MARK = re.compile(r"/\*|\*/")


def _end_of_text(sql: str, start: int, opener: str) -> int:
    """Where the literal, quoted identifier or comment opened at ``start`` ends; an unended one
    runs to the end of the statement (the database reports it)."""
    if opener == "--":
        end = sql.find("\n", start)
        return len(sql) if end < 0 else end
    if opener == "/*":
        depth = 0
        for mark in _COMMENT_MARK.finditer(sql, start):
            depth += 1 if mark.group() == "/*" else -1
            if depth == 0:
                return mark.end()
        return len(sql)
    if opener.startswith("$"):
        end = sql.find(opener, start + len(opener))
        return len(sql) if end < 0 else end + len(opener)
    pattern = {"'": _STANDARD, '"': _IDENTIFIER}.get(opener, _ESCAPED)
    match = pattern.match(sql, start)
    return len(sql) if match is None else match.end()


def segments(sql: str) -> Iterator[tuple[bool, str]]:
    """The text of ``sql`` in order, as (True, code) or (False, a literal, quoted identifier
    or comment); joined, the pieces are ``sql`` again."""
    pos = 0
    while (match := _START.search(sql, pos)) is not None:
        if match.start() > pos:
            yield True, sql[pos : match.start()]
        end = _end_of_text(sql, match.start(), match.group())
        yield False, sql[match.start() : end]
        pos = end
    if pos < len(sql):
        yield True, sql[pos:]


@functools.lru_cache(maxsize=1024)
def qmark_to_format(sql: str) -> str:
    """``?`` placeholders as ``%s`` (psycopg's style), every literal ``%`` as ``%%``.

    psycopg reads every ``%`` of a statement that has parameters, literals included, so each is
    doubled; a ``?`` becomes a placeholder only in code. The statement must then always be run
    with a parameter sequence (empty where it has none).
    """
    parts = []
    for code, text in segments(sql):
        text = text.replace("%", "%%")
        parts.append(text.replace("?", "%s") if code else text)
    return "".join(parts)


def split_script(script: str) -> list[str]:
    """The statements of a script, split where a ``;`` in code ends one (never inside a
    literal or a comment); empty statements left out."""
    statements: list[str] = []
    current: list[str] = []
    for code, text in segments(script):
        if not code:
            current.append(text)
            continue
        *ended, rest = text.split(";")
        for piece in ended:
            current.append(piece)
            statements.append("".join(current))
            current = []
        current.append(rest)
    statements.append("".join(current))
    return [s.strip() for s in statements if s.strip()]
