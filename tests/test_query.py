"""The filter language."""

from __future__ import annotations

from pathlib import Path

import pytest

from snowcatcher.model import CapturedEvent, Entity, RawRequest, Response, Violation
from snowcatcher.protocols import PROTOCOLS
from snowcatcher.store.query import Filter, FilterError
from snowcatcher.store.store import Store


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
    ("colour:red", 'unknown filter key "colour": Keys: type:, name:.* or plain text such as "red"'),
    ("nmae:x", 'unknown filter key "nmae": did you mean name:x\\?'),
    ("name:", "name: needs a value"),
    ('name:"open', "cannot read filter"),
])
def test_mistakes_are_explained(text: str, message: str) -> None:
    with pytest.raises(FilterError, match=message):
        Filter.parse(text)


# -- the Python test of a filter (live waiters) agrees with its SQL ------------------------------

_NAMES = ("i_code_review", "I_CODE_REVIEW", "iXcodeXreview", "Ärger", "ärger", "50%_off", "back\\slash",
          "eventlogging_HomepageVisit", "")
_SCHEMAS = ("", "iglu:com.gitlab/gitlab_service_ping/jsonschema/1-0-1",
            "/analytics/legacy/homepagevisit/1.2.1")
_STANDARD = "iglu:com.gitlab/gitlab_standard/jsonschema/1-1-1"
_CONTEXTS = ((), (_STANDARD,), (_STANDARD, "iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0"))
_FILTERS = ("", "valid", "invalid", "-invalid", "type:struct", "type:STRUCT", "type:pa*", "type:*_view",
            "-type:struct", "protocol:SNOWPLOW", "protocol:eventgate", "name:i_code_review",
            "name:i_code_*", "name:I?code*", "name:ärger", "name:ÄRGER", "name:50%_off", "name:50*",
            "name:back\\slash", "name:*\\*", "app:gitlab", "app:GIT*", "-app:gitlab", "stream:eventlogging_*",
            "stream:EVENTLOGGING_homepagevisit", "-stream:x", "schema:gitlab_standard", "schema:GITLAB_*",
            "schema:web_page", "schema:homepagevisit/1.2", "schema:*ping*1-0", "-schema:gitlab",
            "type:struct name:i_code_* -invalid app:gitlab", "name:*review app:*")


def _events() -> list[CapturedEvent]:
    events = []
    types = ("struct", "page_view", "unstruct", "event")
    protocols = ("snowplow", "eventgate", "eventlogging")
    apps = ("gitlab", "GitLab-QA", "", "devwiki")
    for number, name in enumerate(_NAMES * 3):
        contexts = _CONTEXTS[number % len(_CONTEXTS)]
        entities = tuple(Entity("context", i, uri, {}, "cx") for i, uri in enumerate(contexts))
        invalid = (Violation("event", "/x", "enum", "no"),) if number % 4 == 0 else ()
        events.append(CapturedEvent(protocols[number % 3], types[number % 4], name,
                                    _SCHEMAS[number % len(_SCHEMAS)], apps[number % len(apps)],
                                    {"e": "se"}, entities, invalid))
    return events


def test_the_python_test_of_a_filter_agrees_with_the_store(tmp_path: Path) -> None:
    store = Store(tmp_path / "events.sqlite")
    try:
        stored = store.append_now(RawRequest("POST", "/tp2", "", (), b"{}", 0.0), Response(200, b"", ""),
                                  _events())
        for text in _FILTERS:
            where = Filter.parse(text)
            assert where.match is not None, text
            in_python = [event.id for event in stored if where.match(event)]
            assert in_python == [event.id for event in store.after(0, where, 1000)], text
    finally:
        store.close()


@pytest.mark.parametrize("text", ["approve", "definition", "definition:undeclared", "name:x approve"])
def test_terms_the_database_must_decide_have_no_python_test(text: str) -> None:
    assert Filter.parse(text).match is None


@pytest.mark.parametrize(("short", "protocol"), [("sp", "snowplow"), ("EG", "eventgate"),
                                                 ("el", "eventlogging")])
def test_protocol_takes_the_short_names_the_tui_shows(short: str, protocol: str) -> None:
    where = Filter.parse(f"protocol:{short}", PROTOCOLS)
    assert where.params == (protocol,)
    assert Filter.parse(f"protocol:{protocol}", PROTOCOLS).params == (protocol,)
    assert where.match is not None
