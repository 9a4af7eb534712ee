"""The small messages the TUI's widgets and the store bridge exchange."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message


@dataclass
class EventsStored(Message):
    """The store holds new events (posted from the store's subscriber; the latest one wins)."""

    last_id: int

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, EventsStored)


@dataclass
class StoreReset(Message):
    """The store forgot every event (the TUI's clear, /micro/reset, DELETE /snowcatcher/api/events)."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, StoreReset)


@dataclass
class EventsUpdated(Message):
    """Stored events got new violations (re-validation, a schema that arrived late)."""

    event_ids: frozenset[int]

    def can_replace(self, message: Message) -> bool:
        # the older message's events are redrawn too: merge them into this one
        if isinstance(message, EventsUpdated):
            self.event_ids = self.event_ids | message.event_ids
            return True
        return False


@dataclass
class EventHighlighted(Message):
    """The list's cursor moved onto an event (None when the list is empty)."""

    event_id: int | None


@dataclass
class ViewChanged(Message):
    """The list's shown count, follow or pause state changed; the header redraws."""

    shown: int
    following: bool
    paused: bool
    pending: int

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, ViewChanged)


class ClearFilter(Message):
    """Esc in the list: drop the active filter (and the invalid-only toggle)."""


@dataclass
class CopyRequested(Message):
    """A part of the screen asks for `text` to be copied; `what` names it in the report."""

    text: str
    what: str


@dataclass
class SchemaRequested(Message):
    """Show the schema `uri` (the Entities tree's `o`), or open its file in $EDITOR (`E`)."""

    uri: str
    edit: bool = False
