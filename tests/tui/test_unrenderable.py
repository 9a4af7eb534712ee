"""No value in an event takes the screen down: extreme values in every renderer, errors shown in place."""

from __future__ import annotations

import asyncio
import io
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console, RenderableType

from snowcatcher.model import PROTOCOL_SNOWPLOW, CapturedEvent, Entity, Violation
from snowcatcher.protocols.snowplow.tracker_fields import FIELDS
from snowcatcher.runtime import Settings, Snowcatcher
from snowcatcher.tui import fields, views
from snowcatcher.tui.app import SnowcatcherApp, _run
from snowcatcher.tui.event_detail import EventDetail
from snowcatcher.tui.event_list import EventList
from tests.tui.pilot import SIZE, rows, shown, until

EXTREME_NUMBERS = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([10**20, -(10**20), 10**23, 2**63, 2**64, -1, 0, 1e20, -1e20, math.inf, -math.inf,
                     math.nan, 1e308]),
)
ANY_VALUE = st.one_of(
    EXTREME_NUMBERS, st.none(), st.booleans(),
    st.text(max_size=50), st.text(alphabet="0123456789-.e+", max_size=40),
    EXTREME_NUMBERS.map(str),
    st.builds(lambda n: "9" * n, st.integers(min_value=4000, max_value=20_000)),  # past int()'s digit limit
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)
KEYS = st.sampled_from([*FIELDS, "other", "contexts.x", "meta.dt"])


def _draw(renderable: RenderableType) -> str:
    console = Console(width=SIZE[0], file=io.StringIO(), color_system=None)
    with console.capture() as capture:
        console.print(renderable)
    return capture.get()


@given(key=KEYS, value=ANY_VALUE)
def test_every_field_renderer_answers_a_string_for_any_value(key: str, value: Any) -> None:
    assert isinstance(fields.describe(key, value), str)


@given(value=ANY_VALUE, date=st.booleans())
def test_a_time_that_cannot_be_a_date_says_so(value: Any, date: bool) -> None:
    readable = fields.readable_time(value, date=date)
    assert isinstance(readable, str)
    a_number = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not a_number or abs(value) > 1e17:  # past the C library's years (2^31)
        assert readable.startswith("invalid time: ")
    elif abs(value) < 1e11:  # within years 0-5000
        assert not readable.startswith("invalid")


def test_the_times_the_issue_names_read_as_invalid() -> None:
    assert fields.readable_time(1e20) == "invalid time: 1e+20"
    assert fields.readable_time(math.nan) == "invalid time: NaN"
    assert fields.readable_time(-math.inf, date=False) == "invalid time: -Infinity"
    assert fields.describe("dtm", "100000000000000000000") == "invalid time: 100000000000000000000"
    assert fields.describe("stm", "1" + "0" * 23) == "invalid time: 1" + "0" * 23
    assert fields.describe("dtm", "abc") == "invalid time: abc"
    assert fields.describe("ttm", None) == "invalid time: null"
    assert fields.describe("dtm", "1742205227525") == "2025-03-17 09:53:47.525  (1742205227525)"
    assert fields.describe("other", None) == "null"


def _event(payload: dict[str, Any], received_at: Any, text_value: Any) -> CapturedEvent:
    entity = Entity("event", 0, "iglu:com.acme/x/jsonschema/1-0-0", {"v": text_value}, "ue_pr")
    violation = Violation("event", "/v", "type", str(text_value)[:100])
    return CapturedEvent(protocol=PROTOCOL_SNOWPLOW, event_type="page_view", name=str(text_value)[:200],
                         schema="", app_id="app", payload=payload, entities=(entity,),
                         violations=(violation,), received_at=received_at, id=7, request_id=1)


@pytest.fixture
async def app(tmp_path: Path) -> SnowcatcherApp:
    server = Snowcatcher(Settings(port=0, offline=True, cache_dir=None))
    return SnowcatcherApp(server.store, server=server, export_dir=tmp_path)


async def test_the_list_row_and_the_overview_draw_any_event(app: SnowcatcherApp) -> None:
    async with app.run_test(size=SIZE):
        events = app.query_one(EventList)

        @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
        @given(payload=st.dictionaries(KEYS, ANY_VALUE, max_size=6), received_at=ANY_VALUE,
               text_value=ANY_VALUE)
        def draws(payload: dict[str, Any], received_at: Any, text_value: Any) -> None:
            event = _event(payload, received_at, text_value)
            row = events.row(event, SIZE[0])
            assert row.plain.strip()
            assert "Traceback" not in _draw(views.overview(event))
            views.gitlab_panel(event)

        draws()


async def test_an_error_drawing_one_event_is_shown_in_place_and_logged(
        app: SnowcatcherApp, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    def broken(event: CapturedEvent) -> RenderableType:
        raise RuntimeError("a drawing bug")

    monkeypatch.setattr(views, "overview", broken)
    async with app.run_test(size=SIZE) as pilot:
        assert app.server is not None
        async with aiohttp.ClientSession() as session, \
                session.get(f"{app.server.url}/i?e=pv&tv=x&p=web&url=one") as answer:
            assert answer.status == 200
        await until(pilot, lambda: len(rows(app)) == 1)
        detail = app.query_one(EventDetail)
        await until(pilot, lambda: detail.event is not None)
        body = app.query_one("#overview-body")
        assert "could not show event #1's overview tab: RuntimeError: a drawing bug" in shown(body)  # type: ignore[arg-type]
        assert app.is_running
    assert any("a drawing bug" in record.getMessage() and record.exc_info for record in caplog.records)


async def _until(condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        await asyncio.sleep(0.05)


async def test_when_the_screen_fails_capture_goes_on_and_the_exit_code_says_so(
        app: SnowcatcherApp, monkeypatch: pytest.MonkeyPatch) -> None:
    assert app.server is not None
    server = app.server
    app.keep_serving_on_error = True

    def broken(self: SnowcatcherApp, message: object) -> None:
        raise RuntimeError("a bug in the screen")

    # Not one event's drawing (that is shown in place) but the app's own handler: Textual closes.
    monkeypatch.setattr(SnowcatcherApp, "on_events_stored", broken)
    printed = io.StringIO()
    monkeypatch.setattr(sys, "stdout", printed)
    stopped = asyncio.Event()
    running = asyncio.create_task(_run(app, server, headless=True, stopped=stopped))
    await _until(lambda: server.port != 0, "listening")
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{server.url}/i?e=pv&tv=x&p=web&url=first") as answer:
            assert answer.status == 200
        await _until(lambda: app.failed, "the app's failure")
        deadline = time.monotonic() + 20
        while "after-the-crash" not in printed.getvalue():  # printing starts once the screen is gone
            assert time.monotonic() < deadline, "no event printed after the crash"
            async with session.get(f"{server.url}/i?e=se&se_ca=c&se_ac=after-the-crash&tv=x&p=web"
                                   ) as answer:
                assert answer.status == 200
            await asyncio.sleep(0.05)
    stopped.set()
    assert await running == 1
