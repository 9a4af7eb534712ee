"""--headless: one line per captured event on stdout, as text or as the NDJSON contract."""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Sequence
from typing import TextIO

from snowcatcher import storable
from snowcatcher.model import CapturedEvent, Violation
from snowcatcher.protocols import PROTOCOLS
from snowcatcher.text import inert, inert_json

VALID_MARK = "✓"
INVALID_MARK = "✗"
#: An event whose check could not be finished yet: neither valid nor invalid.
UNCHECKED_MARK = "?"
MARKS = {"valid": VALID_MARK, "invalid": INVALID_MARK, "unchecked": UNCHECKED_MARK}


@functools.lru_cache(maxsize=4)
def _clock(second: int) -> str:
    """HH:MM:SS in local time; cached, since a busy second prints thousands of lines."""
    return time.strftime("%H:%M:%S", time.localtime(second))


def format_line(event: CapturedEvent) -> str:
    """time, valid mark, protocol, type, name, app_id and the first violation, for people."""
    try:
        stamp = f"{_clock(int(event.received_at))}.{int(event.received_at * 1000) % 1000:03d}"
    except (OverflowError, OSError, ValueError):  # a capture from elsewhere may hold any number
        stamp = f"invalid time: {event.received_at}"
    violations = event.violations
    return stamp + _described(event.verdict, event.protocol, event.event_type, event.name,
                              event.app_id, violations[0] if violations else None, len(violations))


@functools.lru_cache(maxsize=1024)
def _described(verdict: str, protocol: str, event_type: str, name: str, app_id: str,
               first: Violation | None, violations: int) -> str:
    """The line after its time: the same for every event of a kind, so made once for them."""
    columns = ["", MARKS[verdict], PROTOCOLS.short_name(protocol), f"{event_type:<10}",
               f"{name or '-':<36}", f"{app_id or '-':<12}"]
    if first is not None:
        extra = f" (+{violations - 1} more)" if violations > 1 else ""
        columns.append(first.short() + extra)
    return inert(" ".join(columns).rstrip())


def format_json(event: CapturedEvent) -> str:
    """The NDJSON contract of DESIGN.md §3, one object per line.

    JSON escapes only C0 controls; C1 controls (U+009B is a CSI, U+009D an OSC to a terminal
    that honours them), DEL and bidi overrides are escaped too, so the line stays the same JSON.
    """
    return inert_json(storable.dumps(event.to_json()).decode())


class HeadlessPrinter:
    """A store subscriber that prints every new event, one write and flush per stored batch (and,
    wired to the store's updates, an event again when a re-check changed its verdict: the later
    line with the same `id` is the one that counts)."""

    def __init__(self, *, as_json: bool = False, out: TextIO | None = None) -> None:
        self._format = format_json if as_json else format_line
        self._out = out or sys.stdout

    def __call__(self, events: Sequence[CapturedEvent]) -> None:
        self._out.write("".join([self._format(event) + "\n" for event in events]))
        self._out.flush()
