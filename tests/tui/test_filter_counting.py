"""A filter whose count is slow shows its first page at once and lands in place once counted."""

from __future__ import annotations

from pathlib import Path

import pytest

from snowcatcher.query import Filter
from snowcatcher.store import Store
from snowcatcher.tui.app import SnowcatcherApp
from snowcatcher.tui.event_list import EventList
from tests.tui import samples


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store(tmp_path / "many.sqlite")
    samples.fill(store, samples.mixed(240))
    yield store  # type: ignore[misc]
    store.close()


def synchronous(store: Store, where: Filter, keep_id: int | None) -> tuple[int, int | None]:
    """What the list shows without background counting: (total, selected id)."""
    total = store.count(where)
    position = total - 1 if keep_id is None else min(store.position(keep_id, where), total - 1)
    return total, store.slice(where, position, position + 1)[0].id if total else None


@pytest.mark.parametrize("text", ["homepage", "schema:gitlab_standard", "invalid -homepage",
                                  "no-such-thing"])
@pytest.mark.parametrize("keep", [None, 3, 120, 238])
async def test_background_count_lands_where_the_synchronous_one_would(
        store: Store, monkeypatch: pytest.MonkeyPatch, text: str, keep: int | None) -> None:
    monkeypatch.setattr(EventList, "COUNT_IN_BACKGROUND_ABOVE", 0)
    monkeypatch.setattr(EventList, "NEAR_SPAN", 7)  # the first page sees only a few matches
    app = SnowcatcherApp(store)
    async with app.run_test(size=(120, 30)) as pilot:
        events = app.query_one(EventList)
        if keep is not None:
            events.set_following(False)
            events._move_to(keep - 1)  # ids start at 1
            assert events.selected_id == keep
        where = Filter.parse(text)
        expected = synchronous(store, where, keep)
        store._matching.clear()  # as if never counted
        events.set_filter(where)
        assert events.counting or not store.count(where)
        first_page = events.selected_id
        assert first_page is None or where.where == "" or store.count(
            where & Filter("", "id = ?", (str(first_page),))) == 1
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert not events.counting
        assert (events.total, events.selected_id) == expected
        if events.total:
            top = events._event_at(0)
            assert top is not None and top.id == store.slice(where, 0, 1)[0].id
        assert "counting" not in str(app.query_one("#status").render())


async def test_events_arriving_while_counting_are_taken_afterwards(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(EventList, "COUNT_IN_BACKGROUND_ABOVE", 0)
    app = SnowcatcherApp(store)
    async with app.run_test(size=(120, 30)) as pilot:
        events = app.query_one(EventList)
        events.set_filter(Filter.parse("homepage"))
        samples.fill(store, samples.mixed(12))
        events.take_new(store.last_id())
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert events.total == store.count(Filter.parse("homepage")) == 84
        assert events.selected is not None and events.selected.id == store.last_id()
