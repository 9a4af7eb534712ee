"""Load a capture (our NDJSON export, `--headless --json` output, or a HAR) into a store, decoded afresh."""

from __future__ import annotations

import argparse
import asyncio
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from http.cookies import CookieError, SimpleCookie
from pathlib import Path
from typing import Any

import orjson

from snowcatcher.collector import ANONYMOUS_NUID, COOKIE_NAME, PIXEL, TP2_PATH
from snowcatcher.decode.eventgate import is_hasty
from snowcatcher.decode.snowplow import PAYLOAD_DATA_PREFIX, parse_query
from snowcatcher.exchange import request_from_json
from snowcatcher.har import Captured, HarError, requests_from_har
from snowcatcher.ingest import BEACON_PATH, EVENTGATE_PATH, Ingestor
from snowcatcher.model import PROTOCOL_SNOWPLOW, CapturedEvent, RawRequest, Response
from snowcatcher.store import Store, StoreError

#: The request and its network user id -> its events and the answer the collector gives.
Intake = Callable[[RawRequest, str], Awaitable[tuple[list[CapturedEvent], Response]]]
_BATCH = 200


class CaptureError(ValueError):
    """A capture file that cannot be read; the message says which line or entry and why."""


@dataclass
class ImportSummary:
    """What an import did."""

    requests: int = 0
    events: int = 0
    invalid: int = 0
    #: Requests in the file that are no analytics traffic (a HAR holds the whole page load).
    skipped: int = 0
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"requests": self.requests, "events": self.events, "invalid": self.invalid,
                "skipped": self.skipped, "notes": self.notes}

    def sentence(self) -> str:
        text = (f"imported {self.events} events ({self.invalid} invalid) from {self.requests} "
                f"requests")
        return text + (f"; skipped {self.skipped} requests that carry no events" if self.skipped else "")


def route(raw: RawRequest, ingestor: Ingestor) -> Intake | None:
    """How the collector would decode this request (events and our answer), or None for traffic
    that carries no analytics events. Mirrors collector.make_app's routes."""
    parts = raw.path.strip("/").split("/")
    if raw.path == EVENTGATE_PATH and raw.method == "POST":
        return partial(_eventgate, ingestor)
    if raw.path == BEACON_PATH and raw.method in ("GET", "HEAD", "POST"):
        return partial(_beacon, ingestor)
    if raw.method in ("GET", "HEAD"):
        tracker_get = raw.path in ("/i", "/ice.png") or (
            len(parts) == 2 and {"e", "tv"} & parse_query(raw.query).keys())
        return partial(_snowplow, ingestor.snowplow_get, Response(200, PIXEL, "image/gif")) if (
            tracker_get) else None
    if raw.method == "POST" and (raw.path == TP2_PATH or PAYLOAD_DATA_PREFIX.encode() in raw.body[:512]):
        return partial(_snowplow, ingestor.snowplow_post, Response(200, b"ok"))
    return None


async def _snowplow(decode: Callable[[RawRequest, str], Awaitable[list[CapturedEvent]]],
                    answer: Response, raw: RawRequest, nuid: str) -> tuple[list[CapturedEvent], Response]:
    return await decode(raw, nuid), answer


async def _eventgate(ingestor: Ingestor, raw: RawRequest, nuid: str) -> tuple[list[CapturedEvent], Response]:
    result = await ingestor.eventgate(raw, hasty=is_hasty(parse_query(raw.query).get("hasty")))
    return result.events, result.response


async def _beacon(ingestor: Ingestor, raw: RawRequest, nuid: str) -> tuple[list[CapturedEvent], Response]:
    return await ingestor.eventlogging(raw), Response(204)


def read_capture(data: bytes) -> list[Captured]:
    """The requests in a HAR document or an NDJSON capture, each with the network user id the
    collector assigned when the file records it."""
    text = data.lstrip()
    if text.startswith(b"{") and b'"log"' in text[:200]:
        try:
            return requests_from_har(orjson.loads(text))
        except (orjson.JSONDecodeError, HarError) as error:
            raise CaptureError(f"cannot read the HAR file: {error}") from None
    return list(_ndjson_requests(data.splitlines()))


def _ndjson_requests(lines: Iterable[bytes]) -> Iterable[Captured]:
    replayed: set[Any] = set()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = orjson.loads(line)
        except orjson.JSONDecodeError as error:
            raise CaptureError(f"line {number} is not JSON: {error}") from None
        if not isinstance(item, dict):
            raise CaptureError(f"line {number} is not a JSON object")
        key = item.get("request_id")
        if key in replayed and key is not None:
            continue  # one request can carry many events; it is decoded once
        replayed.add(key)
        payload = item.get("payload")
        filled = item.get("filled") or ()
        nuid = payload.get("nuid") if isinstance(payload, dict) and "nuid" in filled else ""
        try:
            yield _line_request(item), nuid if isinstance(nuid, str) else ""
        except ValueError as error:
            raise CaptureError(f"line {number}: {error}") from None


def _line_request(item: dict[str, Any]) -> RawRequest:
    stored = item.get("request")
    if isinstance(stored, dict):
        return request_from_json(stored.get("request", stored))
    # A `--headless --json` line has the decoded parameters only: send them again as a GET.
    payload = item.get("payload")
    if item.get("protocol") != PROTOCOL_SNOWPLOW or not isinstance(payload, dict) or not payload:
        raise ValueError("the event has no request and no Snowplow parameters to rebuild it from")
    params = {k: v for k, v in payload.items() if isinstance(v, str)}
    return RawRequest(method="GET", path="/i", query=urllib.parse.urlencode(params), headers=(),
                      body=b"", received_at=float(item.get("received_at") or 0.0))


async def import_requests(store: Store, ingestor: Ingestor, captured: Iterable[Captured]) -> ImportSummary:
    """Decode, validate and store each request as the collector would have; commits in batches."""
    summary = ImportSummary()
    batch: list[asyncio.Future[list[CapturedEvent]]] = []
    for raw, nuid in captured:
        intake = route(raw, ingestor)
        if intake is None:
            summary.skipped += 1
            continue
        events, answer = await intake(raw, network_user_id(raw, nuid))
        # Started now, awaited later: the store commits the whole batch in one transaction.
        batch.append(asyncio.ensure_future(store.append(raw, answer, events)))
        if len(batch) >= _BATCH:
            _count(summary, [await item for item in batch])
            batch = []
    _count(summary, [await item for item in batch])
    return summary


def _count(summary: ImportSummary, stored: list[list[CapturedEvent]]) -> None:
    for events in stored:
        summary.requests += 1
        summary.events += len(events)
        summary.invalid += sum(event.verdict == "invalid" for event in events)


def network_user_id(raw: RawRequest, assigned: str) -> str:
    """The network user id as the collector set it: from the request, else the one it assigned
    (recorded in the file); empty when neither is known, rather than an invented one."""
    if raw.header("SP-Anonymous") == "*":
        return ANONYMOUS_NUID
    return parse_query(raw.query).get("nuid") or _cookie(raw.header("Cookie")) or assigned


def _cookie(header: str) -> str:
    try:
        jar: SimpleCookie = SimpleCookie(header)
    except CookieError:
        return ""
    morsel = jar.get(COOKIE_NAME)
    return morsel.value if morsel else ""


# -- command line --------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="snowcatcher import",
        description="Load a capture (snowcatcher NDJSON export, --headless --json output, or a HAR "
                    "saved from browser devtools) and decode and validate its events again.")
    parser.add_argument("file", type=Path, help="the .ndjson or .har file")
    parser.add_argument("--url", default="http://127.0.0.1:9090",
                        help="the running snowcatcher to load it into (default http://127.0.0.1:9090)")
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
            print(f"snowcatcher import: {summary.sentence()} into {args.db}")
        else:
            print(f"snowcatcher import: {_import_over_http(data, args.url)}")
    except (CaptureError, StoreError) as error:
        print(f"snowcatcher import: {args.file}: {error}", file=sys.stderr)
        return 1
    return 0


async def _import_into_file(data: bytes, args: argparse.Namespace) -> ImportSummary:
    from snowcatcher.registry import Registry  # only this path needs schemas

    captured = read_capture(data)
    store = Store(args.db)
    try:
        registry = Registry(args.schemas, offline=args.offline)
        return await import_requests(store, Ingestor(registry), captured)
    finally:
        store.close()


def _import_over_http(data: bytes, url: str) -> str:
    request = urllib.request.Request(f"{url.rstrip('/')}/snowcatcher/api/import", data=data,
                                     method="POST", headers={"Content-Type": "application/octet-stream"})
    try:
        with urllib.request.urlopen(request, timeout=600) as answer:
            return str(orjson.loads(answer.read()).get("message", "imported"))
    except urllib.error.HTTPError as error:
        try:
            reason = orjson.loads(error.read()).get("error", error.reason)
        except orjson.JSONDecodeError:
            reason = error.reason
        raise CaptureError(str(reason)) from None
    except (urllib.error.URLError, OSError) as error:
        raise CaptureError(f"cannot reach snowcatcher at {url}: {getattr(error, 'reason', error)} "
                           "(start it first, or use --db to write a capture file)") from None
