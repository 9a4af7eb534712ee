"""The light theme keeps the list's times, marks and violations readable, on the cursor row too."""

from __future__ import annotations

from rich.color import Color
from rich.segment import Segment
from rich.style import Style

from snowcatcher.store.store import Store
from snowcatcher.tui.app import SnowcatcherApp
from snowcatcher.tui.event_list import EventList
from snowcatcher.tui.status_bar import StatusBar
from tests.tui import samples
from tests.tui.pilot import until


def _luminance(color: Color) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    red, green, blue = color.get_truecolor()
    return 0.2126 * channel(red) + 0.7152 * channel(green) + 0.0722 * channel(blue)


def contrast(segment: Segment) -> float:
    """WCAG's contrast ratio between a segment's text and its background (1 to 21)."""
    assert segment.style is not None and segment.style.color and segment.style.bgcolor
    lighter, darker = sorted((_luminance(segment.style.color), _luminance(segment.style.bgcolor)),
                             reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def _segment(events: EventList, y: int, text: str) -> Segment:
    return next(segment for segment in events.render_line(y) if text in segment.text)


async def test_light_theme_times_marks_and_violations_are_readable() -> None:
    store = Store()
    samples.fill(store, [samples.gitlab_struct("i_quickactions_approve", realm="moon"),
                         samples.gitlab_struct("i_quickactions_approve", realm="moon", at=samples.T0 + 1)])
    app = SnowcatcherApp(store, address="listening on http://127.0.0.1:9090")
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            events = app.query_one(EventList)
            await until(pilot, lambda: events.total == 2 and events.cursor == 1)
            app.theme = "textual-light"
            await pilot.pause()
            for y in (1, 2):  # a row, then the cursor's row (the newest, followed)
                # WCAG's least for text (4.5) for the time; the violation's orange at least 3
                # (it was 1.4, bright orange on light grey).
                assert contrast(_segment(events, y, ":53:")) >= 4.5
                assert contrast(_segment(events, y, "realm: not in enum")) >= 3
                assert contrast(_segment(events, y, "✗")) >= 3
            # The header's counts too (ANSI green and red, and yellow alerts, came out pale).
            bar = app.query_one(StatusBar)
            line = bar.render()
            for mark in ("✓", "✗"):
                span = next(span for span in line.spans if mark in line.plain[span.start:span.end])
                style = Style.parse(str(span.style)) if isinstance(span.style, str) else span.style
                assert contrast(Segment(mark, style + Style(bgcolor=bar.rich_style.bgcolor))) >= 3
    finally:
        store.close()
