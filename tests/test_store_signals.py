"""The store's signals (appended, updated, reset) and the values it refuses to write."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import logging
from collections.abc import Sequence
from pathlib import Path

import pytest

from snowcatcher.headless import HeadlessPrinter
from snowcatcher.model import CapturedEvent, Response
from snowcatcher.store.store import Store, UnstorableError
from tests.test_store import event, request


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store(tmp_path / "capture.sqlite")
    yield store  # type: ignore[misc]
    store.close()


def test_one_failing_subscriber_does_not_silence_the_others(store: Store,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    heard: list[str] = []

    def broken(events: Sequence[CapturedEvent]) -> None:
        raise RuntimeError("a broken pipe")

    store.subscribe(broken)
    store.subscribe(lambda events: heard.extend(e.name for e in events))
    with caplog.at_level(logging.ERROR):
        store.append_now(request(), Response(200), [event("a"), event("b")])
    assert heard == ["a", "b"]
    assert "appended" in caplog.text and "a broken pipe" in caplog.text


def test_updates_and_resets_are_announced(store: Store) -> None:
    updated: list[Sequence[int]] = []
    resets: list[None] = []
    store.signals.updated.connect(updated.append)
    disconnect = store.signals.reset.connect(resets.append)
    [first, _] = store.append_now(request(), Response(200), [event("a", valid=False), event("b")])
    store.update_violations([(first.id, ())])
    assert list(updated[-1]) == [first.id]
    store.reset()
    disconnect()
    store.reset()
    assert resets == [None]


@pytest.mark.parametrize("when", [1e20, -1e300, float("inf"), float("-inf"), float("nan"),
                                  253402300800.0])
async def test_times_no_reader_can_show_are_refused_and_the_batch_goes_on(store: Store,
                                                                          when: float) -> None:
    """A poisoned request is refused on its own: the requests that share its group commit are
    stored, printed, and wake waiters; readers stay whole."""
    out = io.StringIO()
    store.subscribe(HeadlessPrinter(as_json=True, out=out))
    woken = asyncio.Event()
    store.subscribe(lambda events: woken.set())
    poisoned = dataclasses.replace(request(), received_at=when)
    results = await asyncio.gather(
        store.append(request(), Response(200), [event("before")]),
        store.append(poisoned, Response(200), [event("poisoned")]),
        store.append(request(), Response(200), [event("late", valid=False)]),
        store.append(request(), Response(200), [dataclasses.replace(event("inner"), received_at=when)]),
        return_exceptions=True)
    await asyncio.wait_for(woken.wait(), 5)
    assert [type(result) for result in results] == [list, UnstorableError, list, UnstorableError]
    assert "is not a time between 1970 and the end of 9999" in str(results[1])
    assert [json.loads(line)["name"] for line in out.getvalue().splitlines()] == ["before", "late"]
    assert [e.name for e in store.after(0)] == ["before", "late"]
    with pytest.raises(UnstorableError):
        store.append_now(poisoned, Response(200), [event("now")])
