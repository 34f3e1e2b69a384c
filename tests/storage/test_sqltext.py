"""The SQL scanner behind PostgreSQL's placeholders and DDL types, and script splitting."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from timhooks.storage.sqltext import qmark_to_format, segments, split_script

# Text rich in the characters the scanner cares about, so that odd nestings come up often.
SQLISH = st.text(alphabet=st.sampled_from(list("ab ?%;'\"$-/*\\Ee\n")), max_size=60)


@given(SQLISH)
def test_segments_give_back_every_character_in_order(sql: str) -> None:
    """Any text, well formed or not, is cut into pieces that join back to it."""
    assert "".join(text for _, text in segments(sql)) == sql


def _as_psycopg_reads_it(converted: str) -> tuple[str, int]:
    """The statement as psycopg reads a query with parameters, left to right: ``%%`` is a
    percent sign, ``%s`` a placeholder (shown as ``?``); and how many placeholders it found."""
    found = 0

    def token(match: re.Match[str]) -> str:
        nonlocal found
        if match.group() == "%%":
            return "%"
        found += 1
        return "?"

    return re.sub(r"%[%s]", token, converted), found


@given(SQLISH)
def test_psycopg_reads_back_the_statement_with_code_question_marks_bound(sql: str) -> None:
    """Read as psycopg reads it, the converted statement is the original text, and its
    placeholders are exactly the ``?`` in code."""
    text, placeholders = _as_psycopg_reads_it(qmark_to_format(sql))
    assert text == sql
    assert placeholders == sum(piece.count("?") for code, piece in segments(sql) if code)


def test_literals_comments_and_quoted_names_keep_their_text() -> None:
    """``?`` and ``%`` inside strings, E'' strings, dollar quotes, quoted names and comments
    stay text; in code they are a placeholder and an escaped percent."""
    sql = "SELECT 'a?''%', E'b\\'?', $$c?%$$, $t$d?$t$, \"e?\", x % ? -- f?\n/* g? /* h? */ i? */ ?"
    assert qmark_to_format(sql) == (
        "SELECT 'a?''%%', E'b\\'?', $$c?%%$$, $t$d?$t$, \"e?\", x %% %s -- f?\n"
        "/* g? /* h? */ i? */ %s"
    )


def test_a_script_splits_only_where_code_ends_a_statement() -> None:
    """``;`` in a literal or a comment does not end a statement; empty statements vanish."""
    script = "CREATE TABLE t (a TEXT DEFAULT ';');\n-- x; y\nINSERT INTO t VALUES ('; ;');;\n"
    assert split_script(script) == [
        "CREATE TABLE t (a TEXT DEFAULT ';')",
        "-- x; y\nINSERT INTO t VALUES ('; ;')",
    ]
