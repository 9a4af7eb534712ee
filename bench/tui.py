"""TUI benchmark at 1,000,000 stored events: first frame, jumps, paging, filters, key latency under load.

    python bench/tui.py [--db /tmp/snowcatcher-bench.sqlite] [--events 1000000] [--rate 2000] [--terminal]

First, key to screen through a real terminal: the `snowcatcher --db` command in tmux, each key
timed from sending it to the screen showing what it brings (bench/tui_terminal.py); `--terminal`
stops there. Then the in-process figures below.

Filters print the median of three applications (the machine may be shared), the first one (the
only one that counts the matches: the store remembers counts) and every figure.

A frame counts when Textual has composed it and turned it into the terminal byte string it would
write (the headless driver then drops it): that is everything but the terminal's own drawing.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import RenderableType
from textual._compositor import CompositorUpdate
from textual.pilot import Pilot
from textual.screen import Screen

from bench.fill import fill
from bench.tui_terminal import key_to_screen
from snowcatcher.model import Response
from snowcatcher.store.store import Store
from snowcatcher.tui.app import SnowcatcherApp
from snowcatcher.tui.event_list import EventList
from tests.tui import samples

SIZE = (160, 50)


@dataclass
class Frame:
    """When a frame was ready and what the list showed in it."""

    at: float
    cursor: int
    total: int
    where: str
    counting: bool
    selected: int | None


class TimedApp(SnowcatcherApp):
    """The real app, recording when each frame is ready for the terminal."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.frames: list[Frame] = []

    def _display(self, screen: Screen[Any], renderable: RenderableType | None) -> None:
        if isinstance(renderable, CompositorUpdate):
            renderable.render_segments(self.console)
            events = self.query_one(EventList)
            self.frames.append(Frame(time.perf_counter(), events.cursor, events.total,
                                     events.where.text, events.counting, events.selected_id))
        super()._display(screen, renderable)


async def frame_where(app: TimedApp, since: float, done: Callable[[Frame], bool],
                      timeout: float = 10.0) -> float:
    """Seconds from `since` to the first frame after it for which `done` holds."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        hits = [frame.at for frame in app.frames if frame.at >= since and done(frame)]
        if hits:
            return hits[0] - since
        await asyncio.sleep(0.002)
    raise TimeoutError("no frame showed the expected state")


async def timed(app: TimedApp, act: Callable[[], Awaitable[None]], done: Callable[[Frame], bool]) -> float:
    started = time.perf_counter()
    await act()
    return await frame_where(app, started, done)


async def first_frame(path: Path) -> float:
    started = time.perf_counter()
    app = TimedApp(Store(path), address="listening on http://127.0.0.1:9090")
    async with app.run_test(size=SIZE) as pilot:
        seconds = await frame_where(app, started, lambda frame: frame.total > 0)
        await pilot.pause()
    return seconds


async def navigation(pilot: Pilot[Any], app: TimedApp) -> dict[str, float]:
    events = app.query_one(EventList)
    total = events.total
    await pilot.press("home")
    await pilot.pause(0.2)
    figures = {"jump to end": await timed(app, lambda: pilot.press("end"),
                                          lambda f: f.cursor == total - 1)}
    figures["page up"] = await timed(app, lambda: pilot.press("pageup"), lambda f: f.cursor < total - 5)
    await pilot.press("home")
    await pilot.pause(0.1)
    figures["page down"] = await timed(app, lambda: pilot.press("pagedown"), lambda f: f.cursor > 5)
    return figures


async def filters(pilot: Pilot[Any], app: TimedApp, texts: list[str],
                  repeats: int = 3) -> dict[str, list[float]]:
    """Times to apply, then clear, each filter, first application first.

    "apply" ends with the first frame showing the filtered rows; a filter whose count is not
    yet known may still be counting then (its first page shown, "counting…" in the header), and
    "counted" ends when the whole list is in place. The store remembers counts, so only the
    first application of a filter pays for its count.
    """
    figures: dict[str, list[float]] = {}
    for text in texts:
        for _ in range(repeats):
            await pilot.press("slash", "ctrl+u", *text)
            started = time.perf_counter()
            figures.setdefault(f"apply {text}", []).append(await timed(
                app, lambda: pilot.press("enter"), lambda f, t=text: f.where == t))
            figures.setdefault(f"  counted {text}", []).append(await frame_where(
                app, started, lambda f, t=text: f.where == t and not f.counting))
            await pilot.pause(0.1)
            await pilot.press("slash", "ctrl+u")
            figures.setdefault(f"clear {text}", []).append(await timed(
                app, lambda: pilot.press("enter"), lambda f: f.where == ""))
            await pilot.pause(0.1)
    return figures


async def paging_while_counting(pilot: Pilot[Any], app: TimedApp, text: str,
                                pages: int = 5) -> tuple[list[float], int]:
    """Times to page up through a free-text filter's first matches while they are being counted,
    and how many of those pages came before the count was done.

    The keys go straight to the app: Pilot.press waits for the process to idle, i.e. for the count.
    """
    async def press(key: str) -> None:
        app.simulate_key(key)

    await pilot.press("end", "slash", "ctrl+u", *text)
    await timed(app, lambda: press("enter"), lambda f: f.where == text)
    events = app.query_one(EventList)
    figures, counting = [], 0
    for _ in range(pages):
        counting += events.counting
        selected = events.selected_id
        figures.append(await timed(app, lambda: press("pageup"),
                                   lambda f, s=selected: f.selected != s))
    while events.counting:
        await asyncio.sleep(0.01)
    await pilot.press("slash", "ctrl+u", "enter")
    await pilot.pause(0.1)
    return figures, counting


async def produce(store: Store, rate: int, stop: asyncio.Event) -> int:
    """Store `rate` events a second, 20 requests every 10 ms, through the group-committed append."""
    templates = samples.mixed(30)
    sent = 0
    started = time.perf_counter()
    while not stop.is_set():
        due = int((time.perf_counter() - started) * rate) - sent
        batch = [templates[(sent + n) % len(templates)] for n in range(max(0, due))]
        now = time.time()
        await asyncio.gather(*(store.append(replace(request, received_at=now), Response(200, b"ok"),
                                            [replace(event, received_at=now)])
                               for request, event in batch))
        sent += len(batch)
        await asyncio.sleep(0.01)
    return sent


async def latency_under_load(pilot: Pilot[Any], app: TimedApp, rate: int, presses: int) -> dict[str, Any]:
    events = app.query_one(EventList)
    stop = asyncio.Event()
    producer = asyncio.create_task(produce(app.store, rate, stop))
    await pilot.press("up")
    await pilot.pause(0.5)
    started, samples_ms = time.perf_counter(), []
    for n in range(presses):
        key, expected = ("up", events.cursor - 1) if n % 2 == 0 else ("down", events.cursor + 1)
        seconds = await timed(app, lambda k=key: pilot.press(k), lambda f, e=expected: f.cursor == e)
        samples_ms.append(seconds * 1000)
        await asyncio.sleep(0.08)
    stop.set()
    sent = await producer
    achieved = sent / (time.perf_counter() - started)
    return {"p50": statistics.median(samples_ms), "p95": statistics.quantiles(samples_ms, n=20)[-1],
            "max": max(samples_ms), "rate": achieved}


def print_terminal(figures: dict[str, list[float]]) -> None:
    """p50 and p95 of each key's times through a real terminal."""
    print("  key to screen through a real terminal (tmux 160x50, the snowcatcher command):")
    for name, values in figures.items():
        if name.startswith("("):
            print(f"    {name}: {len(values)} time(s)")
            continue
        ms = sorted(value * 1000 for value in values)
        p95 = statistics.quantiles(ms, n=20, method="inclusive")[-1] if len(ms) > 1 else ms[0]
        target = "" if name.startswith(("first", "  ")) else "   (target p95 < 100)"
        print(f"    {name:<30} p50 {statistics.median(ms):7.1f} ms   p95 {p95:7.1f} ms   "
              f"max {ms[-1]:7.1f} ms   n={len(ms)}{target}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=Path("/tmp/snowcatcher-bench.sqlite"))
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rate", type=int, default=2000)
    parser.add_argument("--presses", type=int, default=100)
    parser.add_argument("--terminal", action="store_true",
                        help="only the key-to-screen figures through a real terminal (tmux)")
    parser.add_argument("--repeats", type=int, default=20, help="presses of each key in a real terminal")
    args = parser.parse_args()
    fill(args.db, args.events).close()
    print(f"snowcatcher TUI bench: {args.events:,} events in {args.db}")
    print_terminal(key_to_screen(args.db, args.repeats))  # before any event loop runs here
    if not args.terminal:
        asyncio.run(in_process(args))


async def in_process(args: argparse.Namespace) -> None:
    print(f"  in process (Pilot), terminal {SIZE[0]}x{SIZE[1]}:")
    print(f"  app start to first frame   {await first_frame(args.db) * 1000:8.1f} ms   (target < 2000)")
    app = TimedApp(Store(args.db))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.3)
        for name, seconds in (await navigation(pilot, app)).items():
            print(f"  {name:<26} {seconds * 1000:8.1f} ms   (target < 150)")
        texts = ["invalid", "type:struct", "name:i_quick*", "app:devwiki", "schema:gitlab_standard",
                 "homepage"]
        for name, values in (await filters(pilot, app, texts)).items():
            print(f"  {name:<26} {statistics.median(values) * 1000:8.1f} ms   (target < 150)   "
                  f"first {values[0] * 1000:.1f} ms, all: "
                  + ", ".join(f"{value * 1000:.0f}" for value in values))
        paging, counting = await paging_while_counting(pilot, app, "dashboard")
        print(f"  {'page up while counting':<26} {statistics.median(paging) * 1000:8.1f} ms   "
              f"(target < 150)   {counting} of {len(paging)} pages while counting dashboard, all: "
              + ", ".join(f"{value * 1000:.0f}" for value in paging))
        load = await latency_under_load(pilot, app, args.rate, args.presses)
        print(f"  key-to-screen under load   p50 {load['p50']:.1f} ms, p95 {load['p95']:.1f} ms, "
              f"max {load['max']:.1f} ms   (target p95 < 50) at {load['rate']:,.0f} events/s arriving")
    app.store.close()


if __name__ == "__main__":
    main()
