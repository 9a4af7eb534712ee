"""What keeps capture going when the screen fails: errors shown in place, logs held while the screen is up."""

from __future__ import annotations

import logging
import sys
from collections import deque
from collections.abc import Callable
from typing import TextIO, TypeVar

from rich.text import Text

from snowcatcher.tui.inert_text import clean

log = logging.getLogger("snowcatcher.tui")
T = TypeVar("T")

#: Log records kept while the screen is up; older ones are counted, not kept.
HELD_RECORDS = 200


def unrenderable(what: str, error: BaseException) -> Text:
    """The line shown in place of something that could not be drawn; the error is logged with its trace."""
    log.error("could not show %s: %s: %s", what, type(error).__name__, error, exc_info=error)
    return Text(f"⚠ could not show {clean(what)}: {clean(type(error).__name__)}: {clean(error)}",
                style="bold red", no_wrap=True, end="")


def guarded(what: str, build: Callable[[], T], fallback: Callable[[Text], T]) -> T:
    """`build()`, or `fallback(message)` when it fails: one event's data never takes the screen down."""
    try:
        return build()
    except Exception as error:
        return fallback(unrenderable(what, error))


class HeldLog(logging.Handler):
    """Holds log records while the full-screen TUI owns the terminal, then writes them out.

    Lines written to stderr while Textual draws would land in the middle of the screen.
    """

    def __init__(self, formatter: logging.Formatter | None) -> None:
        super().__init__(logging.WARNING)
        self.setFormatter(formatter)
        self.records: deque[logging.LogRecord] = deque(maxlen=HELD_RECORDS)
        self.dropped = 0

    def emit(self, record: logging.LogRecord) -> None:
        if len(self.records) == self.records.maxlen:
            self.dropped += 1
        self.records.append(record)

    def write_to(self, stream: TextIO) -> None:
        if self.dropped:
            stream.write(f"snowcatcher: {self.dropped:,} earlier log lines were not kept\n")
        for record in self.records:
            stream.write(self.format(record) + "\n")
        stream.flush()


class HoldLogs:
    """`with HoldLogs():` routes the root logger's records into a HeldLog and prints them at the end."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream
        root = logging.getLogger()
        formatter = root.handlers[0].formatter if root.handlers else None
        self.held = HeldLog(formatter)
        self._saved: list[logging.Handler] = []

    def __enter__(self) -> HeldLog:
        root = logging.getLogger()
        self._saved = list(root.handlers)
        for handler in self._saved:
            root.removeHandler(handler)
        root.addHandler(self.held)
        return self.held

    def __exit__(self, *exc: object) -> None:
        root = logging.getLogger()
        root.removeHandler(self.held)
        for handler in self._saved:
            root.addHandler(handler)
        self.held.write_to(self.stream or sys.stderr)
