"""Re-validate every stored event against the schemas as they are now on disk (no restart needed)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from snowcatcher.model import CapturedEvent, Violation
from snowcatcher.protocols.ingest import Ingestor
from snowcatcher.store.store import Store

CHUNK = 500


@dataclass(frozen=True, slots=True)
class RevalidationReport:
    """What a re-validation run found."""

    checked: int
    changed: int
    invalid: int

    def summary(self) -> str:
        return (f"re-validated {self.checked:,} events: {self.changed:,} changed, "
                f"{self.invalid:,} invalid now")


async def revalidate(store: Store, ingestor: Ingestor,
                     progress: Callable[[int, int], None] | None = None) -> RevalidationReport:
    """Re-read schemas, decode every stored request again and store the new violations.

    Works in chunks and yields to the event loop between them, so capture and the TUI go on.
    `progress(done, total)` is called after each chunk.
    """
    ingestor.forget()
    total = store.counts().total
    checked = changed = 0
    async for events in store.iter_after(0, page=CHUNK):
        updates = _new_violations(store, ingestor, events)
        changed += store.update_violations(updates) if updates else 0
        checked += len(events)
        if progress is not None:
            progress(checked, total)
    return RevalidationReport(checked, changed, store.counts().invalid)


def _new_violations(store: Store, ingestor: Ingestor, events: list[CapturedEvent]
                    ) -> list[tuple[int, tuple[Violation, ...]]]:
    updates = []
    decoded: dict[int, list[CapturedEvent]] = {}
    for event in events:
        if event.request_id not in decoded:
            decoded[event.request_id] = _decode_again(store, ingestor, event.request_id)
        fresh = decoded[event.request_id]
        if event.index < len(fresh) and fresh[event.index].violations != event.violations:
            updates.append((event.id, fresh[event.index].violations))
    return updates


def _decode_again(store: Store, ingestor: Ingestor, request_id: int) -> list[CapturedEvent]:
    return ingestor.decode_stored(store.request(request_id))
