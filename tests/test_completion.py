"""Filter completion: keys and words as typed, values from a real capture."""

from __future__ import annotations

from pathlib import Path

from snowcatcher.store.completion import completions
from snowcatcher.store.query import Filter
from snowcatcher.store.store import Store
from tests.tui import samples


def test_keys_and_words_complete_the_last_term() -> None:
    def none(key: str, prefix: str) -> list[str]:
        return []

    assert completions("na", none) == ["name:"]
    assert completions("invalid -sch", none) == ["invalid -schema:"]
    assert completions("in", none) == ["invalid"]
    assert completions("", none)[:2] == ["type:", "name:"]


def test_values_come_from_the_capture_and_every_completion_parses(tmp_path: Path) -> None:
    store = Store(tmp_path / "c.sqlite")
    try:
        samples.fill(store, samples.mixed(12))
        found = completions("invalid name:i_qu", store.values_seen)
        assert found == ["invalid name:i_quickactions_approve"]
        assert completions("app:DEV", store.values_seen) == ["app:devwiki"]
        assert completions("protocol:", store.values_seen) == ["protocol:eventgate", "protocol:snowplow"]
        assert completions("name:no_such", store.values_seen) == []
        for text in completions("name:", store.values_seen):
            assert store.count(Filter.parse(text)) > 0
    finally:
        store.close()
