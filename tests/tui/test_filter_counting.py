"""A filter whose count is slow shows its first page at once and lands in place once counted."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from snowcatcher.store.query import Filter
from snowcatcher.store.store import Store
from snowcatcher.store.window import EventWindow
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


async def counted(app: SnowcatcherApp, pilot: Pilot[int]) -> None:
    """Wait for the background count, which starts once the first page is on screen: on a busy
    machine that refresh may come after the first pause, so wait until the count has ended."""
    events = app.query_one(EventList)
    for _ in range(1000):
        await pilot.pause()
        await app.workers.wait_for_complete()
        if not events.counting:
            return


@pytest.mark.parametrize("text", ["homepage", "schema:gitlab_standard", "invalid -homepage",
                                  "no-such-thing"])
@pytest.mark.parametrize("keep", [None, 3, 120, 238])
async def test_background_count_lands_where_the_synchronous_one_would(
        store: Store, monkeypatch: pytest.MonkeyPatch, text: str, keep: int | None) -> None:
    monkeypatch.setattr(EventWindow, "COUNT_IN_BACKGROUND_ABOVE", 0)
    monkeypatch.setattr(EventWindow, "NEAR_SPAN", 7)  # the first page sees only a few matches
    app = SnowcatcherApp(store)
    async with app.run_test(size=(120, 30)) as pilot:
        events = app.query_one(EventList)
        if keep is not None:
            events.set_following(False)
            events.select(keep - 1)  # ids start at 1
            assert events.selected_id == keep
        where = Filter.parse(text)
        expected = synchronous(store, where, keep)
        store._matching.clear()  # as if never counted
        events.set_filter(where)
        assert events.counting or not store.count(where)
        first_page = events.selected_id
        assert first_page is None or where.where == "" or store.count(
            where & Filter("", "id = ?", (str(first_page),))) == 1
        await counted(app, pilot)
        await pilot.pause()
        assert not events.counting
        assert (events.total, events.selected_id) == expected
        if events.total:
            top = events.event_at(0)
            assert top is not None and top.id == store.slice(where, 0, 1)[0].id
        assert "counting" not in str(app.query_one("#status").render())


async def test_events_arriving_while_counting_are_taken_afterwards(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(EventWindow, "COUNT_IN_BACKGROUND_ABOVE", 0)
    app = SnowcatcherApp(store)
    async with app.run_test(size=(120, 30)) as pilot:
        events = app.query_one(EventList)
        events.set_filter(Filter.parse("homepage"))
        samples.fill(store, samples.mixed(12))
        events.take_new(store.last_id())
        await counted(app, pilot)
        await pilot.pause()
        assert events.total == store.count(Filter.parse("homepage")) == 84
        assert events.selected is not None and events.selected.id == store.last_id()


@pytest.mark.parametrize(("keep", "direction"), [(None, -1), (3, 1), (120, -1), (120, 1)])
async def test_paging_while_counting_goes_past_the_first_page(
        store: Store, monkeypatch: pytest.MonkeyPatch, keep: int | None, direction: int) -> None:
    monkeypatch.setattr(EventWindow, "COUNT_IN_BACKGROUND_ABOVE", 0)
    monkeypatch.setattr(EventWindow, "NEAR_SPAN", 30)  # the first page holds ~10 of the 80 matches
    app = SnowcatcherApp(store)
    async with app.run_test(size=(120, 30)) as pilot:
        events = app.query_one(EventList)
        if keep is not None:
            events.set_following(False)
            events.select(keep - 1)
        where = Filter.parse("homepage")
        matches = [event.id for event in store.slice(where, 0, store.count(where))]
        store._matching.clear()
        events.set_filter(where)
        first_page = events.total
        for _ in range(4):  # no await: the count cannot land meanwhile
            events.action_page(direction)
        assert events.counting and events.total > first_page
        shown = [event.id for event in map(events.event_at, range(events.total)) if event]
        start = matches.index(shown[0])
        assert shown == matches[start:start + len(shown)]  # every match, in order, none skipped
        selected = events.selected_id
        assert selected is not None
        await counted(app, pilot)
        await pilot.pause()
        assert not events.counting and events.total == len(matches)
        assert events.selected_id == selected and events.cursor == matches.index(selected)
        assert [event.id for event in map(events.event_at, range(events.total)) if event] == matches


@pytest.mark.parametrize("key", ["home", "end"])
async def test_home_and_end_while_counting_show_the_ends_at_once(
        store: Store, monkeypatch: pytest.MonkeyPatch, key: str) -> None:
    monkeypatch.setattr(EventWindow, "COUNT_IN_BACKGROUND_ABOVE", 0)
    monkeypatch.setattr(EventWindow, "NEAR_SPAN", 60)
    gate = asyncio.Event()
    real_count = Store.count_around

    async def slow_count(self: Store, *args: Any) -> tuple[int, int] | None:
        await gate.wait()  # the real count, held until the key has been pressed
        return await real_count(self, *args)

    monkeypatch.setattr(Store, "count_around", slow_count)
    where = Filter.parse("homepage")
    matches = [event.id for event in store.window(where, limit=1000)]
    app = SnowcatcherApp(store)
    async with app.run_test(size=(120, 30)) as pilot:
        events = app.query_one(EventList)
        events.set_following(False)
        events.select(120)  # the middle of the list
        events.set_filter(where)
        await pilot.pause()
        assert events.counting and matches[0] < events.selected_id < matches[-1]  # type: ignore[operator]
        await pilot.press(key)
        assert events.counting
        wanted = matches[0] if key == "home" else matches[-1]
        assert events.selected_id == wanted, "the end is shown before the count is known"
        gate.set()
        await counted(app, pilot)
        await pilot.pause()
        assert not events.counting and events.total == len(matches)
        assert events.selected_id == wanted and events.cursor == matches.index(wanted)
        assert [events.event_at(i).id for i in (0, events.total - 1)] == [  # type: ignore[union-attr]
            matches[0], matches[-1]]
