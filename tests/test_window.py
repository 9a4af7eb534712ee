"""EventWindow without any UI: the filtered, paged, counted list over a real SQLite capture."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from snowcatcher.store.query import Filter
from snowcatcher.store.store import Store
from snowcatcher.store.window import EventWindow
from tests.tui import samples


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store(tmp_path / "window.sqlite")
    samples.fill(store, samples.mixed(120))
    yield store
    store.close()


def test_it_needs_no_textual() -> None:
    check = "import sys, snowcatcher.store.window; sys.exit('textual' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", check], check=False).returncode == 0


def test_a_filter_keeps_the_selected_event_when_it_still_matches(store: Store) -> None:
    window = EventWindow(store)
    window.reload()
    assert (window.total, window.selected_id) == (120, 120)  # following: the newest
    window.following = False
    window.move_to(2)  # id 3: an invalid GitLab event (realm "moon")
    assert window.selected is not None and window.selected.id == 3
    window.set_filter(Filter.parse("invalid"))
    assert window.total == store.count(Filter.parse("invalid")) == 40
    assert window.selected_id == 3
    window.set_filter(Filter.parse("name:nothing"))
    assert (window.total, window.cursor, window.selected) == (0, -1, None)


def test_new_events_follow_and_pause(store: Store) -> None:
    window = EventWindow(store)
    window.reload()
    samples.fill(store, samples.mixed(6))
    assert window.take_new(store.last_id()) == 6 and window.selected_id == 126
    window.paused = True
    samples.fill(store, samples.mixed(3))
    assert window.take_new(store.last_id()) == 0 and window.pending == 3
    window.paused = False
    assert window.take_new(store.last_id()) == 3 and window.total == 129


def test_leaving_the_last_row_stops_following(store: Store) -> None:
    window = EventWindow(store)
    window.reload()
    window.move_to(window.total - 1)
    assert not window.leave_follow_unless_last()
    window.move_to(5)
    assert window.leave_follow_unless_last() and not window.following


@pytest.mark.parametrize("keep", [None, 3, 60, 118])
async def test_a_background_count_lands_where_a_direct_count_would(
        store: Store, monkeypatch: pytest.MonkeyPatch, keep: int | None) -> None:
    monkeypatch.setattr(EventWindow, "COUNT_IN_BACKGROUND_ABOVE", 0)
    monkeypatch.setattr(EventWindow, "NEAR_SPAN", 7)
    where = Filter.parse("homepage")
    direct = EventWindow(store)
    counted = EventWindow(store)
    for window in (direct, counted):
        window.reload()
        if keep is not None:
            window.following = False
            window.move_to(keep - 1)
    monkeypatch.setattr(EventWindow, "COUNT_IN_BACKGROUND_ABOVE", 10**9)
    direct.set_filter(where)
    monkeypatch.setattr(EventWindow, "COUNT_IN_BACKGROUND_ABOVE", 0)
    store._matching.clear()  # as if never counted
    assert counted.set_filter(where) and counted.counting is not None
    assert counted.total < direct.total  # only the first page so far
    await counted.count(counted.counting)
    assert counted.counting is None
    assert (counted.total, counted.selected_id) == (direct.total, direct.selected_id)
    assert [counted.event_at(i).id for i in range(counted.total)] == [  # type: ignore[union-attr]
        direct.event_at(i).id for i in range(direct.total)]  # type: ignore[union-attr]


async def test_growing_and_the_ends_before_the_count_is_known(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(EventWindow, "COUNT_IN_BACKGROUND_ABOVE", 0)
    monkeypatch.setattr(EventWindow, "NEAR_SPAN", 12)
    where = Filter.parse("homepage")
    matches = [event.id for event in store.slice(where, 0, 1000)]
    store._matching.clear()  # as if never counted
    window = EventWindow(store)
    window.reload()
    window.set_filter(where)
    first = window.total
    window.grow(0, rows=20)
    assert window.total > first
    shown = [window.event_at(i).id for i in range(window.total)]  # type: ignore[union-attr]
    start = matches.index(shown[0])
    assert shown == matches[start:start + len(shown)]
    window.show_end(newest=False, rows=20)
    window.move_to(0)
    assert window.leave_follow_unless_last()
    assert window.selected_id == matches[0]
    counting = window.counting
    assert counting is not None
    await window.count(counting)
    assert window.total == len(matches) and window.cursor == 0


def test_changed_events_reload_a_filtered_window_only(store: Store) -> None:
    window = EventWindow(store)
    window.reload()
    assert not window.changed({1})
    window.set_filter(Filter.parse("invalid"))
    assert window.changed({1})
