"""The filter language."""

from __future__ import annotations

import pytest

from snowcatcher.query import Filter, FilterError


def test_empty_filter_matches_everything() -> None:
    assert not Filter.parse("  ") and Filter.parse("").sql() == ("", ())


def test_terms_combine_with_and() -> None:
    where, params = Filter.parse('type:struct name:"i code*" invalid').sql()
    assert where.count(" AND ") == 2 and params == ("struct", "i code%")


def test_wildcards_and_literal_underscores() -> None:
    _, params = Filter.parse("name:i_code_*").sql()
    assert params == ("i\\_code\\_%",)


def test_negation() -> None:
    where, _ = Filter.parse("-invalid").sql()
    assert "NOT (valid = 0)" in where


@pytest.mark.parametrize(("text", "message"), [
    ("colour:red", "unknown filter key 'colour'"),
    ("name:", "name: needs a value"),
    ('name:"open', "cannot read filter"),
])
def test_mistakes_are_explained(text: str, message: str) -> None:
    with pytest.raises(FilterError, match=message):
        Filter.parse(text)
