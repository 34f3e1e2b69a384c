"""The random part of new Official Account, group and topic IDs."""

from __future__ import annotations

import string

from timhooks.server.sql import random_id


def test_ids_are_upper_case_letters_and_digits_of_the_given_length() -> None:
    ids = [random_id(9) for _ in range(2000)]
    assert all(len(i) == 9 and set(i) <= set(string.ascii_uppercase + string.digits) for i in ids)
    assert len(set(ids)) == len(ids)
    # Every character can come up, in every position (the chance that one of the 36 never shows
    # in 2,000 draws of a position is below 10^-20).
    for position in range(9):
        assert {i[position] for i in ids} == set(string.ascii_uppercase + string.digits)
