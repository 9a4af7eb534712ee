"""Signals: a sender calls every connected receiver, and one failing receiver does not stop the rest."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Generic, TypeVar

Value = TypeVar("Value")

log = logging.getLogger(__name__)


class Signal(Generic[Value]):
    """Receivers called in the order they connected, each with the value sent."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._receivers: list[Callable[[Value], None]] = []

    def connect(self, receiver: Callable[[Value], None]) -> Callable[[], None]:
        """Call `receiver` with every value sent from now on; returns a disconnect."""
        self._receivers.append(receiver)
        return lambda: self._disconnect(receiver)

    def _disconnect(self, receiver: Callable[[Value], None]) -> None:
        if receiver in self._receivers:
            self._receivers.remove(receiver)

    def send(self, value: Value) -> None:
        """Call every receiver; a receiver that raises is logged and the others still hear it
        (a broken printer must not keep `wait` or the TUI from seeing stored events)."""
        for receiver in list(self._receivers):
            try:
                receiver(value)
            except Exception:
                log.exception("a receiver of the store's %r signal failed", self.name)
