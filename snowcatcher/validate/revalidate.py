"""Re-validate every stored event against the schemas as they are now on disk (no restart needed)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from snowcatcher.model import NOT_CHECKED, UNCHECKED, CapturedEvent, Violation
from snowcatcher.protocols.ingest import Ingestor
from snowcatcher.store.store import Store
from snowcatcher.validate.iglu import UNUSABLE

CHUNK = 250
#: Seconds of decoding between two pauses, and the pause: a bare yield lets the event loop run one
#: round of callbacks, while a key press or a frame takes Textual many rounds (a key lagged
#: seconds behind a re-check); the pause lets them all run, for about a fifth of the throughput.
_SLICE = 0.015
_PAUSE = 0.003
#: Keywords of violations that say a schema could not be used (not that the data is wrong).
_SCHEMA_TROUBLE = frozenset({"resolve", "schema"})
#: Broken schemas named in the summary; the rest are counted.
_NAMED = 3


@dataclass(frozen=True, slots=True)
class RevalidationReport:
    """What a re-validation run found."""

    checked: int
    changed: int
    invalid: int
    #: The events there were to check when it started.
    total: int = 0
    #: Stopped before the end (the user cancelled it).
    cancelled: bool = False
    #: Schemas that could not be used, each with the file or URL it came from and why.
    broken: tuple[str, ...] = ()

    def summary(self) -> str:
        if self.cancelled:
            text = (f"re-validation cancelled after {self.checked:,} of {self.total:,} events: "
                    f"{self.changed:,} changed, {self.invalid:,} invalid now")
        else:
            text = (f"re-validated {self.checked:,} events: {self.changed:,} changed, "
                    f"{self.invalid:,} invalid now")
        if self.broken:
            more = len(self.broken) - _NAMED
            text += (f"; {len(self.broken)} schema(s) could not be used: " + "; ".join(self.broken[:_NAMED])
                     + (f" (and {more} more)" if more > 0 else ""))
        return text


async def revalidate(store: Store, ingestor: Ingestor,
                     progress: Callable[[int, int], None] | None = None,
                     stop: asyncio.Event | None = None) -> RevalidationReport:
    """Re-read schemas, decode every stored request again and store the new violations.

    Works in chunks and yields to the event loop every few milliseconds, so capture and the TUI
    go on. `progress(done, total)` is called after each chunk; setting `stop` ends the run after
    the chunk in hand (what was re-checked stays re-checked).
    """
    ingestor.forget()
    total = store.counts().total
    checked = changed = 0
    broken: dict[str, str] = {}
    async for events in store.iter_after(0, page=CHUNK):
        updates = await _new_violations(store, ingestor, events, broken)
        changed += store.update_violations(updates) if updates else 0
        checked += len(events)
        if progress is not None:
            progress(checked, total)
        if stop is not None and stop.is_set():
            return RevalidationReport(checked, changed, store.counts().invalid, total, True,
                                      tuple(broken.values()))
    return RevalidationReport(checked, changed, store.counts().invalid, total, False,
                              tuple(broken.values()))


async def _new_violations(store: Store, ingestor: Ingestor, events: list[CapturedEvent],
                          broken: dict[str, str]) -> list[tuple[int, tuple[Violation, ...]]]:
    updates = []
    decoded: dict[int, list[CapturedEvent]] = {}
    started = time.perf_counter()
    for event in events:
        if event.request_id not in decoded:
            decoded[event.request_id] = _decode_again(store, ingestor, event.request_id)
            if time.perf_counter() - started > _SLICE:
                await asyncio.sleep(_PAUSE)
                started = time.perf_counter()
        fresh = decoded[event.request_id]
        if event.index < len(fresh):
            _note_broken(ingestor, fresh[event.index].violations, broken)
            if fresh[event.index].violations != event.violations:
                updates.append((event.id, fresh[event.index].violations))
    return updates


def _note_broken(ingestor: Ingestor, violations: tuple[Violation, ...], broken: dict[str, str]) -> None:
    """Remember each schema these violations could not use, with where it is and why."""
    for violation in violations:
        unusable = violation.keyword == UNCHECKED and violation.message.startswith(NOT_CHECKED + UNUSABLE)
        if violation.keyword not in _SCHEMA_TROUBLE and not unusable:
            continue
        uri = violation.entity.rsplit(" ", 1)[-1]
        if uri in broken:
            continue
        resolution = ingestor.schema(uri)
        if violation.message.startswith("schema not found") or len(resolution.places) != 1:
            continue  # missing, not broken: the event's violation says where it was looked for
        place, why = resolution.places[0], resolution.error or violation.message.removeprefix(NOT_CHECKED)
        broken[uri] = why if place in why else f"{place}: {why}"


def _decode_again(store: Store, ingestor: Ingestor, request_id: int) -> list[CapturedEvent]:
    return ingestor.decode_stored(store.request(request_id))
