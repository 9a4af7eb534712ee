"""A second process's view of a store file (the browser sessions of `snowcatcher --web`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from snowcatcher.store.follow import Change, FollowedStore
from snowcatcher.store.query import Filter
from snowcatcher.store.store import Store
from tests.tui import samples


def test_a_follower_sees_new_events_and_a_reset(tmp_path: Path) -> None:
    path = tmp_path / "capture.sqlite"
    writer = Store(path)
    samples.fill(writer, samples.mixed(6))
    follower = FollowedStore(path)
    heard: list[int] = []
    follower.subscribe(lambda events: heard.append(events[-1].id))
    try:
        assert follower.counts() == writer.counts() and follower.refresh() is Change.NONE
        invalid = Filter.parse("invalid")
        before = follower.count(invalid)
        samples.fill(writer, samples.mixed(6, start=samples.T0 + 60))
        assert follower.refresh() is Change.GREW
        assert follower.counts() == writer.counts() and follower.last_id() == writer.last_id()
        assert heard == [writer.last_id()]
        assert follower.count(invalid) == writer.count(invalid) > before  # counts taken anew
        writer.reset()
        samples.fill(writer, samples.mixed(2))
        assert follower.refresh() is Change.REPLACED
        assert follower.counts() == writer.counts() and follower.count(invalid) == writer.count(invalid)
        assert [e.id for e in follower.window(None, 0, 10)] == [e.id for e in writer.window(None, 0, 10)]
    finally:
        follower.close()
        writer.close()


def test_a_follower_without_its_collector_cannot_clear(tmp_path: Path) -> None:
    writer = Store(tmp_path / "capture.sqlite")
    samples.fill(writer, samples.mixed(2))
    follower = FollowedStore(writer.path)
    try:
        with pytest.raises(PermissionError):
            follower.reset()
        assert writer.counts().total == 2
    finally:
        follower.close()
        writer.close()
