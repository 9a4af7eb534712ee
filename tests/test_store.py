"""The SQLite store: group commit, windows, filters, counts, subscribers, persistence."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import tracemalloc
from dataclasses import replace
from pathlib import Path

import pytest

from snowcatcher.model import CapturedEvent, Entity, Response
from snowcatcher.protocols.snowplow import samples
from snowcatcher.protocols.snowplow.decode import SnowplowDecoder
from snowcatcher.store.query import Filter
from snowcatcher.store.store import Store, StoreError
from snowcatcher.store.threads import Counter
from tests.data import event, request


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store(tmp_path / "capture.sqlite")
    yield store  # type: ignore[misc]
    store.close()


async def test_concurrent_appends_share_a_commit_and_keep_order(store: Store) -> None:
    results = await asyncio.gather(*(store.append(request(), Response(200), [event(f"e{i}")])
                                     for i in range(50)))
    assert [r[0].id for r in results] == list(range(1, 51))
    assert [e.name for e in store.window(limit=100)] == [f"e{i}" for i in range(50)]


async def test_events_keep_their_request_and_position(store: Store) -> None:
    [first, second] = await store.append(request(b"body"), Response(200, b"ok"), [event("a"), event("b")])
    assert (first.request_id, first.index, second.index) == (second.request_id, 0, 1)
    stored = store.request(first.request_id)
    assert stored is not None and stored.request.body == b"body" and stored.response.body == b"ok"


def test_large_bodies_round_trip(store: Store) -> None:
    body = b'{"x": "' + b"abc" * 30_000 + b'"}'  # compressed above 64 KiB
    [stored] = store.append_now(request(body), Response(200), [event("big")])
    assert store.request(stored.request_id).request.body == body  # type: ignore[union-attr]


def test_filters_counts_and_windows(store: Store) -> None:
    store.append_now(request(), Response(200), [
        event("i_code_review_approve", contexts=["iglu:com.gitlab/gitlab_standard/jsonschema/1-1-1"]),
        event("i_search", valid=False),
        event("/dashboard", event_type="page_view", app="other")])
    assert store.counts().total == 3 and store.counts().invalid == 1
    assert store.count(Filter.parse("invalid")) == 1
    assert store.count(Filter.parse("type:page_view")) == 1
    assert store.count(Filter.parse("name:i_*")) == 2
    assert store.count(Filter.parse("schema:gitlab_standard")) == 1
    assert store.count(Filter.parse("app:gitlab -invalid")) == 1
    assert [e.name for e in store.window(Filter.parse("name:i_*"), newest_first=True)] == [
        "i_search", "i_code_review_approve"]
    assert [e.name for e in store.after(1)] == ["i_search", "/dashboard"]


def test_entities_and_violations_round_trip(store: Store) -> None:
    original = event("x", valid=False, contexts=["iglu:a/b/jsonschema/1-0-0", "iglu:a/c/jsonschema/1-0-0"])
    [stored] = store.append_now(request(), Response(200), [original])
    again = store.get(stored.id)
    assert again is not None
    assert again.entities == original.entities and again.violations == original.violations
    assert again.contexts == ["iglu:a/b/jsonschema/1-0-0", "iglu:a/c/jsonschema/1-0-0"]


def test_subscribers_hear_every_batch(store: Store) -> None:
    heard: list[str] = []
    unsubscribe = store.subscribe(lambda events: heard.extend(e.name for e in events))
    store.append_now(request(), Response(200), [event("a"), event("b")])
    unsubscribe()
    store.append_now(request(), Response(200), [event("c")])
    assert heard == ["a", "b"]


def test_revalidation_updates_validity(store: Store) -> None:
    [stored] = store.append_now(request(), Response(200), [event("x", valid=False)])
    store.update_violations([(stored.id, ())])
    assert store.get(stored.id).valid and store.counts().invalid == 0  # type: ignore[union-attr]


def test_a_kept_database_reopens_with_its_events(tmp_path: Path) -> None:
    path = tmp_path / "kept.sqlite"
    first = Store(path)
    first.append_now(request(), Response(200), [event("a"), event("b", valid=False)])
    first.close()
    second = Store(path)
    assert second.counts().total == 2 and second.counts().invalid == 1
    [new] = second.append_now(request(), Response(200), [event("c")])
    assert new.id == 3
    second.close()
    assert path.exists()


def test_the_default_capture_is_fresh_and_removed() -> None:
    store = Store()
    store.append_now(request(), Response(200), [event("a")])
    path = store.path
    store.close()
    assert not path.exists()
    fresh = Store()
    assert fresh.counts().total == 0 and fresh.path != path
    fresh.close()


def test_reset_forgets_everything(store: Store) -> None:
    store.append_now(request(), Response(200), [event("a")])
    store.reset()
    assert store.counts().total == 0 and store.window() == []


def test_an_unusable_database_is_a_clear_error(tmp_path: Path) -> None:
    folder = tmp_path / "missing" / "capture.sqlite"
    with pytest.raises(StoreError, match="cannot open the database"):
        Store(folder)


def test_remembered_counts_follow_appends_updates_and_resets(store: Store) -> None:
    invalid = Filter.parse("invalid")
    [first] = store.append_now(request(), Response(200), [event("a", valid=False)])
    assert store.count(invalid) == 1 and store.known_count(invalid)
    store.append_now(request(), Response(200), [event("b", valid=False), event("c")])
    assert store.count(invalid) == 2  # only the new events were counted
    store.update_violations([(first.id, ())])
    assert not store.known_count(invalid) and store.count(invalid) == 1
    store.reset()
    assert store.count(invalid) == 0


def test_schema_filters_see_every_schema_of_a_file_written_before_schema_sets(
        store: Store, tmp_path: Path) -> None:
    store.append_now(request(), Response(200), [
        event("a", contexts=["iglu:com.gitlab/gitlab_standard/jsonschema/1-1-1"]), event("b")])
    store.close()
    with sqlite3.connect(tmp_path / "capture.sqlite") as old:  # the way an older version left it
        old.execute("DROP TABLE schema_sets")
        old.execute("PRAGMA user_version = 0")
    again = Store(tmp_path / "capture.sqlite")
    assert again.count(Filter.parse("schema:gitlab_*")) == 1
    again.append_now(request(), Response(200), [event("c", contexts=["iglu:x/new_one/jsonschema/1-0-0"])])
    assert again.count(Filter.parse("schema:new_one")) == 1
    assert again.count(Filter.parse("-schema:gitlab_standard")) == 2
    again.close()


async def test_counting_in_the_background_and_the_page_near_an_event(store: Store) -> None:
    stored = store.append_now(request(), Response(200), [event(f"e{i}", valid=i % 3 != 0)
                                                         for i in range(30)])
    invalid = Filter.parse("invalid")
    assert await store.count_around(invalid, stored[-1].id, stored[10].id) == (10, 4)
    assert store.known_count(invalid)
    earlier, later = store.near(invalid, stored[10].id, stored[-1].id, 2, 3, span=100)
    assert [e.name for e in earlier] == ["e6", "e9"] and [e.name for e in later] == ["e12", "e15", "e18"]
    earlier, later = store.near(invalid, stored[10].id, stored[-1].id, 2, 3, span=3)
    assert [e.name for e in earlier] == ["e9"] and [e.name for e in later] == ["e12"]


def gitlab_events(count: int) -> list[CapturedEvent]:
    """Decoded GitLab events that all carry the same base64 `cx`, as a page's events do."""
    decoder = SnowplowDecoder(lambda *args, **kwargs: ())
    contexts = samples.gitlab_struct_event()["cx"]
    raw = request(samples.body(*[{**samples.gitlab_struct_event(f"i_{n}"), "cx": contexts}
                                 for n in range(count)]))
    return decoder.decode_post(raw)


def test_shared_contexts_are_kept_once_and_events_read_back_whole(store: Store) -> None:
    sent = gitlab_events(5)
    stored = store.append_now(request(), Response(200), sent)
    assert [event.payload for event in store.window()] == [event.payload for event in sent]
    assert [event.entities for event in store.window()] == [event.entities for event in sent]
    with sqlite3.connect(store.path) as db:
        assert db.execute("SELECT count(*) FROM entity_sets").fetchone()[0] == 1
        [payload] = db.execute("SELECT payload FROM events WHERE id = ?", (stored[0].id,)).fetchone()
    assert "cx" not in json.loads(payload), "the 1 KB cx is stored once, with its entity set"


def test_free_text_finds_a_value_inside_a_base64_cx(store: Store) -> None:
    store.append_now(request(), Response(200), [*gitlab_events(2), event("no_contexts")])
    assert store.count(Filter.parse("self-managed")) == 2  # gitlab_standard's realm, in base64


def test_a_file_written_before_entity_sets_kept_parameters_still_opens(
        store: Store, tmp_path: Path) -> None:
    store.append_now(request(), Response(200), [event("a", contexts=["iglu:x/y/jsonschema/1-0-0"])])
    store.close()
    with sqlite3.connect(tmp_path / "capture.sqlite") as old:  # the way an older version left it
        old.execute("ALTER TABLE entity_sets DROP COLUMN params")
    again = Store(tmp_path / "capture.sqlite")
    [first] = again.window()
    assert first.name == "a" and first.contexts == ["iglu:x/y/jsonschema/1-0-0"]
    again.append_now(request(), Response(200), gitlab_events(1))
    assert "cx" in again.window()[-1].payload
    again.close()


def test_events_with_the_same_contexts_but_other_parameters_keep_their_own(store: Store) -> None:
    decoder = SnowplowDecoder(lambda *args, **kwargs: ())
    contexts = samples.gitlab_struct_event()["cx"]
    both = {**samples.gitlab_struct_event("a"), "cx": contexts, "co": "not json"}
    plain = {**samples.gitlab_struct_event("b"), "cx": contexts}
    sent = decoder.decode_post(request(samples.body(both, plain)))
    store.append_now(request(), Response(200), sent)
    first, second = store.window()
    assert first.payload["co"] == "not json" and "co" not in second.payload
    assert first.payload["cx"] == second.payload["cx"] == contexts


@pytest.mark.parametrize("threads", [1, 2, 3])
async def test_background_counts_agree_with_counting_at_once(store: Store, threads: int) -> None:
    store.append_now(request(), Response(200), [event("gone")] * 5)
    store.reset()  # the ids now start above 1
    stored = store.append_now(request(), Response(200), [
        event(f"e{i}", valid=i % 3 != 0, app="devwiki" if i % 4 else "gitlab") for i in range(40)])
    store._counter = Counter(store.path, threads=threads)
    for text in ["invalid", "app:devwiki", "e1", "-invalid e2", "nothing-matches"]:
        where = Filter.parse(text)
        for last, anchor in [(stored[-1], stored[0]), (stored[-1], stored[17]), (stored[30], stored[31])]:
            store._matching.clear()
            expected = store.count(where & Filter("", "id <= ?", (str(last.id),)))
            before = store.count(where & Filter("", "id < ?", (str(anchor.id),)))
            store._matching.clear()
            assert await store.count_around(where, last.id, anchor.id) == (expected, before)


@pytest.mark.parametrize("walk", [3, 4096])
def test_pages_and_positions_whichever_way_they_are_found(
        store: Store, monkeypatch: pytest.MonkeyPatch, walk: int) -> None:
    monkeypatch.setattr("snowcatcher.store.store._WALK", walk)
    # The matches crowd at both ends, so that a few ids walked from either end may hold too few.
    names = [f"i_quick_{i}" if i < 15 or i > 50 else f"other_{i}" for i in range(60)]
    stored = store.append_now(request(), Response(200), [event(name) for name in names])
    where = Filter.parse("name:i_quick*")
    matches = [e.id for e in stored if e.name.startswith("i_quick")]
    for start, stop in [(0, 4), (0, 15), (3, 20), (10, 24), (20, 24), (12, 13)]:
        assert [e.id for e in store.slice(where, start, stop)] == matches[start:stop]
    for position, event_id in enumerate(matches):
        assert store.position(event_id, where) == position
        assert store.count_after(event_id, where) == len(matches) - position - 1


async def test_iter_after_pages_matching_events_oldest_first(store: Store) -> None:
    for n in range(7):
        store.append_now(request(), Response(200), [event(f"e{n}", valid=n % 2 == 0)])
    pages = [[e.name for e in page] async for page in store.iter_after(0, Filter.parse("valid"), 2)]
    assert pages == [["e0", "e2"], ["e4", "e6"]]
    first = store.window()[0].id
    assert [len(page) async for page in store.iter_after(first, None, 4)] == [4, 2]


def test_contexts_stored_once_hold_a_bounded_amount_of_memory(store: Store) -> None:
    # Sets of contexts that never repeat: the store remembers recent sets to point later events
    # at them, bounded by bytes (by count alone, 600 sets of 12 KB stayed in memory).
    def with_big_context(n: int) -> CapturedEvent:
        data = {"n": n, "text": "x" * 12_000}
        entity = Entity("context", 0, "iglu:com.acme/big/jsonschema/1-0-0", data, "co")
        return replace(event(f"e{n}"), entities=(entity,))

    store.append_now(request(), Response(200), [with_big_context(-1)])
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for n in range(600):
            store.append_now(request(), Response(200), [with_big_context(n)])
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held < 4 * 1024 * 1024, f"{held / 2**20:.1f} MiB held after 600 distinct 12 KB context sets"
    assert store.get(store.last_id()).entities[0].data == {"n": 599, "text": "x" * 12_000}
