"""Reading what the running TUI shows, for Pilot tests: rows, status bar, panels, tree labels."""

from __future__ import annotations

import io
import time
from collections.abc import Callable

from rich.console import Console
from rich.text import Text
from textual.pilot import Pilot
from textual.widgets import Static

from snowcatcher.tui.app import SnowcatcherApp
from snowcatcher.tui.entity_tree import EntityTree
from snowcatcher.tui.event_list import EventList
from snowcatcher.tui.status_bar import StatusBar

SIZE = (150, 48)


def rows(app: SnowcatcherApp) -> list[str]:
    """The event rows the list draws (without its column header)."""
    events = app.query_one(EventList)
    height = events.scrollable_content_region.height
    return [events.render_line(y).text for y in range(1, height) if events.render_line(y).text.strip()]


def status(app: SnowcatcherApp) -> str:
    return app.query_one(StatusBar).render().plain


def shown(static: Static) -> str:
    """The text a Static displays, rendered the way the terminal would (without colours)."""
    console = Console(width=SIZE[0], file=io.StringIO(), color_system=None)
    with console.capture() as capture:
        console.print(static.content)
    return capture.get()


def labels(tree: EntityTree) -> dict[str, Text]:
    """Every node label of the Entities tree, by its plain text."""
    found: dict[str, Text] = {}
    stack = [tree.root]
    while stack:
        node = stack.pop()
        label = node.label if isinstance(node.label, Text) else Text(str(node.label))
        found[label.plain] = label
        stack.extend(node.children)
    return found


async def settle(pilot: Pilot[int]) -> None:
    """Let every event list take what the store holds (its 50 ms timer runs late on busy cores;
    a fixed pause alone failed once answers came back sooner), then let the app draw."""
    app = pilot.app
    server = getattr(app, "server", None)
    if server is not None:
        last = server.store.last_id()
        await until(pilot, lambda: all(events.paused or events.window.seen_id >= last
                                       for events in app.query(EventList)))
    await pilot.pause(0.15)


async def until(pilot: Pilot[int], condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Let the app run until `condition` holds (a busy CI machine draws late), or fail."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"the app did not get there within {timeout} s")
        await pilot.pause(0.05)
