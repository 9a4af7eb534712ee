"""Events stored "not checked": fetch the schemas they wait for in the background, with backoff,
and validate them again once the schema arrives; check the others again at once, off the request,
with a bigger bound on work."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence

from aiohttp import web

from snowcatcher.model import UNCHECKED_VERDICT, CapturedEvent, Violation, unresolved_uris
from snowcatcher.protocols.ingest import Ingestor
from snowcatcher.store.store import Store
from snowcatcher.validate.backoff import ATTEMPTS_PER_URI

log = logging.getLogger(__name__)

#: The app's UnresolvedSchemas, for the status API.
UNRESOLVED_SCHEMAS: web.AppKey[UnresolvedSchemas] = web.AppKey("unresolved_schemas")

#: Tries per schema before giving up (with backoff doubling to 60 s: about ten minutes).
MAX_ATTEMPTS = ATTEMPTS_PER_URI
#: Events remembered per schema; a flood beyond it is not re-validated automatically.
MAX_WAITING = 100_000
#: Events re-validated between two yields to the event loop.
CHUNK = 200


class UnresolvedSchemas:
    """A store subscriber: remembers which events wait for which schema and retries the fetch."""

    def __init__(self, store: Store, ingestor: Ingestor) -> None:
        self.store = store
        self.ingestor = ingestor
        self._waiting: dict[str, set[int]] = defaultdict(set)
        self._tasks: dict[str, asyncio.Task[None]] = {}
        #: Unchecked events that wait for no schema: checked again with a bigger bound.
        self._recheck: set[int] = set()
        self._recheck_task: asyncio.Task[None] | None = None
        self._unsubscribe = store.subscribe(self._on_stored)
        self._unhook_reset = store.signals.reset.connect(lambda _: self.forget())

    def _on_stored(self, events: Sequence[CapturedEvent]) -> None:
        for event in events:
            if event.verdict != UNCHECKED_VERDICT:
                continue
            uris = unresolved_uris((event,))
            if not uris and len(self._recheck) < MAX_WAITING:
                self._recheck.add(event.id)
                if self._recheck_task is None:
                    self._recheck_task = asyncio.ensure_future(self._check_again())
            for uri in uris:
                waiting = self._waiting[uri]
                if len(waiting) < MAX_WAITING:
                    waiting.add(event.id)
                if uri not in self._tasks:
                    self._tasks[uri] = asyncio.ensure_future(self._retry(uri))

    async def _retry(self, uri: str) -> None:
        source = self.ingestor.registry if uri.startswith("iglu:") else self.ingestor.wikimedia
        try:
            for _ in range(MAX_ATTEMPTS):
                await asyncio.sleep(source.backoff.retry_in(uri))
                if not source.budget.allows(uri):
                    break
                await source.fetch([uri])
                # Found, or definitively missing (every registry said 404): either way a verdict.
                if source.lookup(uri).found or not source.fetchable(uri):
                    await self.revalidate(self._waiting.pop(uri, set()))
                    return
            if source.budget.attempts(uri):  # the ones never tried are counted in the status
                log.warning("gave up fetching %s: %s", uri, source.backoff.reason(uri))
            self._waiting.pop(uri, None)
        finally:
            self._tasks.pop(uri, None)

    async def _check_again(self) -> None:
        """Check the waiting unchecked events again, allowing RECHECK_EFFORT times the work; an
        event that is still undecided keeps its "not checked" and its reason."""
        from snowcatcher.validate import work_limits  # with the validators, not at start-up

        try:
            await asyncio.sleep(0)  # after the request that stored them has been answered
            while self._recheck:
                event_ids, self._recheck = self._recheck, set()
                with work_limits.effort(work_limits.RECHECK_EFFORT):
                    await self.revalidate(event_ids)
        finally:
            self._recheck_task = None

    async def revalidate(self, event_ids: Iterable[int]) -> int:
        """Decode and validate these stored events again; returns how many were updated."""
        by_request: dict[int, list[CapturedEvent]] = defaultdict(list)
        for event_id in sorted(event_ids):
            event = self.store.get(event_id)
            if event is not None:
                by_request[event.request_id].append(event)
        changes: list[tuple[int, Sequence[Violation]]] = []
        for done, (request_id, events) in enumerate(by_request.items(), start=1):
            changes.extend(self._again(request_id, events))
            if done % CHUNK == 0:
                await asyncio.sleep(0)  # let capture go on between chunks
        return self.store.update_violations(changes) if changes else 0

    def _again(self, request_id: int, events: list[CapturedEvent]) -> list[tuple[int, Sequence[Violation]]]:
        fresh = self.ingestor.decode_stored(self.store.request(request_id))
        return [(event.id, fresh[event.index].violations) for event in events
                if event.index < len(fresh) and fresh[event.index].violations != event.violations]

    def forget(self) -> None:
        """After a reset: the events waited for are gone; stop every retry and free their ids."""
        for task in self._tasks.values():
            task.cancel()
        self._tasks = {}
        self._waiting = defaultdict(set)
        for source in (self.ingestor.registry, self.ingestor.wikimedia):
            source.forget_unfound()

    def to_json(self) -> dict[str, object]:
        """What the status says about remote schemas: fetches made and given up, events waiting."""
        return {"iglu": self.ingestor.registry.budget.to_json(),
                "wikimedia": self.ingestor.wikimedia.budget.to_json(),
                "schemas_awaited": len(self._tasks)}

    async def close(self) -> None:
        """Stop retrying (at shutdown)."""
        self._unsubscribe()
        self._unhook_reset()
        tasks = list(self._tasks.values())
        if self._recheck_task is not None:
            tasks.append(self._recheck_task)
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
