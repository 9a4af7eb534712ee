"""Load a capture (our NDJSON export, `--headless --json` output, or a HAR) into a store, decoded afresh."""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import orjson

from snowcatcher.api.capture_file import Capture, CaptureError, Problem, read_capture
from snowcatcher.api.guard import TOKEN_ENV
from snowcatcher.model import CapturedEvent, RawRequest
from snowcatcher.protocols import PROTOCOLS
from snowcatcher.protocols.answer import fixed_cors, imported_answer
from snowcatcher.protocols.base import Intake, Protocol
from snowcatcher.protocols.ingest import Ingestor
from snowcatcher.protocols.snowplow.decode import parse_query
from snowcatcher.protocols.snowplow.protocol import ANONYMOUS_NUID, cookie_nuid
from snowcatcher.store.store import Store, StoreError

#: The request and its network user id -> its events and the answer the collector gives.
Ingest = Callable[[RawRequest, str], Awaitable[Intake]]
_BATCH = 200


@dataclass
class ImportSummary:
    """What an import did."""

    requests: int = 0
    events: int = 0
    invalid: int = 0
    #: Requests in the file that are no analytics traffic (a HAR holds the whole page load).
    skipped: int = 0
    notes: list[str] = field(default_factory=list)
    #: Lines or entries that could not be imported (unreadable, out of range, undecodable).
    problems: list[Problem] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"requests": self.requests, "events": self.events, "invalid": self.invalid,
                "skipped": self.skipped, "notes": self.notes, "bad": len(self.problems),
                "problems": [problem.to_json() for problem in self.problems]}

    def sentence(self) -> str:
        text = (f"imported {self.events} events ({self.invalid} invalid) from {self.requests} "
                f"requests")
        if self.skipped:
            text += f"; skipped {self.skipped} requests that carry no events"
        if self.problems:
            parts = "line or entry" if len(self.problems) == 1 else "lines or entries"
            text += f"; skipped {len(self.problems)} bad {parts}"
        return text


def route(raw: RawRequest, ingestor: Ingestor) -> Ingest | None:
    """How the collector would decode this request (events and our answer), or None for traffic
    that carries no analytics events: the protocol registry decides, as for the collector."""
    protocol = PROTOCOLS.recognising(raw)
    if protocol is None:
        return None
    return partial(_ingest, protocol, ingestor)


async def _ingest(protocol: Protocol, ingestor: Ingestor, raw: RawRequest, nuid: str) -> Intake:
    """The events and the answer, headers and all, as the collector would have sent it."""
    events, answer = await protocol.ingest(ingestor, raw, nuid)
    return Intake(events, imported_answer(protocol, raw, answer, events, nuid, fixed_cors(PROTOCOLS)))


async def import_requests(store: Store, ingestor: Ingestor, capture: Capture) -> ImportSummary:
    """Decode, validate and store each request as the collector would have; commits in batches.
    A request that cannot be decoded or stored is listed with where it was, and the rest goes on."""
    summary = ImportSummary(problems=list(capture.problems))
    batch: list[tuple[str, asyncio.Future[list[CapturedEvent]]]] = []
    for replay in capture.replays:
        intake = route(replay.raw, ingestor)
        if intake is None:
            summary.skipped += 1
            continue
        try:
            events, answer = await intake(replay.raw, network_user_id(replay.raw, replay.nuid))
            # Started now, awaited later: the store commits the whole batch in one transaction.
            batch.append((replay.where, asyncio.ensure_future(store.append(replay.raw, answer, events))))
        except (ValueError, TypeError) as error:  # one odd request must not end the import
            summary.problems.append(Problem(replay.where, str(error)))
            continue
        if len(batch) >= _BATCH:
            await _count(summary, batch)
            batch = []
    await _count(summary, batch)
    summary.problems.sort(key=lambda problem: problem.position)
    return summary


async def _count(summary: ImportSummary, batch: list[tuple[str, asyncio.Future[list[CapturedEvent]]]]
                 ) -> None:
    outcomes = await asyncio.gather(*(future for _, future in batch), return_exceptions=True)
    for (where, _), events in zip(batch, outcomes, strict=True):
        if isinstance(events, StoreError | OSError | sqlite3.OperationalError):
            raise StoreError(f"{where}: {events}")  # the store itself fails: stop, say so
        if isinstance(events, BaseException):
            summary.problems.append(Problem(where, f"could not be stored: {events}"))
            continue
        summary.requests += 1
        summary.events += len(events)
        summary.invalid += sum(event.verdict == "invalid" for event in events)


def network_user_id(raw: RawRequest, assigned: str) -> str:
    """The network user id as the collector set it: from the request, else the one it assigned
    (recorded in the file); empty when neither is known, rather than an invented one."""
    if raw.header("SP-Anonymous") == "*":
        return ANONYMOUS_NUID
    return parse_query(raw.query).get("nuid") or cookie_nuid(raw.header("Cookie")) or assigned


# -- command line --------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="snowcatcher import",
        description="Load a capture (snowcatcher NDJSON export, --headless --json output, or a HAR "
                    "saved from browser devtools) and decode and validate its events again.")
    parser.add_argument("file", type=Path, help="the .ndjson or .har file")
    parser.add_argument("--url", default="http://127.0.0.1:9090",
                        help="the running snowcatcher to load it into (default http://127.0.0.1:9090)")
    parser.add_argument("--token", default=os.environ.get(TOKEN_ENV, ""),
                        help=f"with --url: the token snowcatcher was started with (default: ${TOKEN_ENV})")
    parser.add_argument("--db", type=Path, metavar="PATH",
                        help="write into this capture file instead of a running snowcatcher "
                             "(it must not be open in one)")
    parser.add_argument("--schemas", type=Path, action="append", default=[], metavar="DIR",
                        help="with --db: schema folders, as for snowcatcher itself; repeatable")
    parser.add_argument("--offline", action="store_true", help="with --db: never fetch remote schemas")
    return parser


def main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(argv)
    try:
        data = args.file.read_bytes()
    except OSError as error:
        print(f"snowcatcher import: cannot read {args.file}: {error.strerror or error}", file=sys.stderr)
        return 1
    try:
        if args.db is not None:
            summary = asyncio.run(_import_into_file(data, args))
            sentence, problems = f"{summary.sentence()} into {args.db}", summary.problems
        else:
            sentence, problems = _import_over_http(data, args.url, args.token)
    except (CaptureError, StoreError) as error:
        print(f"snowcatcher import: {args.file}: {error}", file=sys.stderr)
        return 1
    for problem in problems:
        print(f"snowcatcher import: {args.file}: {problem} (skipped)", file=sys.stderr)
    print(f"snowcatcher import: {sentence}")
    return 0


async def _import_into_file(data: bytes, args: argparse.Namespace) -> ImportSummary:
    from snowcatcher.validate.iglu import Registry  # only this path needs schemas

    captured = read_capture(data)
    store = Store(args.db)
    try:
        registry = Registry(args.schemas, offline=args.offline)
        return await import_requests(store, Ingestor(registry), captured)
    finally:
        store.close()


def _import_over_http(data: bytes, url: str, token: str = "") -> tuple[str, list[Problem]]:
    """The summary sentence and the bad lines, as the running snowcatcher reports them."""
    headers = {"Content-Type": "application/octet-stream"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(f"{url.rstrip('/')}/snowcatcher/api/import", data=data,
                                     method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=600) as answer:
            report = orjson.loads(answer.read())
            problems = [Problem(str(item.get("where", "")), str(item.get("reason", "")))
                        for item in report.get("problems") or () if isinstance(item, dict)]
            return str(report.get("message", "imported")), problems
    except urllib.error.HTTPError as error:
        try:
            reason = orjson.loads(error.read()).get("error", error.reason)
        except orjson.JSONDecodeError:
            reason = error.reason
        raise CaptureError(str(reason)) from None
    except (urllib.error.URLError, OSError) as error:
        raise CaptureError(f"cannot reach snowcatcher at {url}: {getattr(error, 'reason', error)} "
                           "(start it first, or use --db to write a capture file)") from None
