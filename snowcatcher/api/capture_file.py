"""Capture files read back into requests: our NDJSON export, `--headless --json` lines and HAR logs."""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from snowcatcher.api.exchange import request_from_json
from snowcatcher.api.har import HarError, har_entries, set_cookie_nuid
from snowcatcher.model import (
    BAD_REQUEST,
    PROTOCOL_EVENTGATE,
    PROTOCOL_EVENTLOGGING,
    PROTOCOL_SNOWPLOW,
    JsonDict,
    RawRequest,
    time_problem,
)
from snowcatcher.protocols.snowplow.protocol import TP2_PATH
from snowcatcher.protocols.snowplow.samples import PAYLOAD_DATA
from snowcatcher.protocols.wikimedia.eventgate_protocol import EVENTGATE_PATH
from snowcatcher.protocols.wikimedia.eventlogging_protocol import BEACON_PATH

#: Violations only a POST body can cause: an event that has one came in a tp2 POST.
_BODY_ENTITIES = frozenset({"payload_data", "body"})

class CaptureError(ValueError):
    """A capture file that cannot be read at all; the message says why."""


@dataclass(frozen=True, slots=True)
class Problem:
    """A line or entry that could not be imported, and why."""

    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"

    @property
    def position(self) -> tuple[str, int]:
        """For listing problems in file order: ("line", 12), ("HAR entry", 3)."""
        kind, _, number = self.where.rpartition(" ")
        return kind, int(number) if number.isdigit() else 0

    def to_json(self) -> JsonDict:
        return {"where": self.where, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class Replay:
    """A request to decode again, the network user id its collector assigned ("" when unknown)
    and where in the file it came from."""

    raw: RawRequest
    nuid: str
    where: str


@dataclass
class Capture:
    """What a capture file holds: the requests, oldest first, and the parts that are unusable."""

    replays: list[Replay] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def read_capture(data: bytes) -> Capture:
    """The requests in a HAR document or an NDJSON capture; bad lines and entries are listed in
    `problems` and the rest is read. Raises CaptureError when nothing in it is usable."""
    text = data.lstrip()
    if text.startswith(b"{") and b'"log"' in text[:200]:
        try:
            document = orjson.loads(text)
        except orjson.JSONDecodeError as error:
            raise CaptureError(f"cannot read the HAR file: {error}") from None
        capture = _from_har(document)
    else:
        capture = _from_ndjson(data.splitlines())
    if capture.problems and not capture.replays:
        more = len(capture.problems) - 1
        raise CaptureError(f"nothing to import: {capture.problems[0]}"
                           + (f" (and {more} more bad lines or entries)" if more else ""))
    return capture


def _from_har(document: Any) -> Capture:
    capture = Capture()
    try:
        entries = har_entries(document)
    except HarError as error:
        raise CaptureError(str(error)) from None
    for number, entry in entries:
        where = f"HAR entry {number}"
        if isinstance(entry, str):
            capture.problems.append(Problem(where, entry))
        elif (problem := time_problem("startedDateTime", entry[0].received_at)) is not None:
            capture.problems.append(Problem(where, problem))
        else:
            capture.replays.append(Replay(entry[0], entry[1], where))
    capture.replays.sort(key=lambda replay: replay.raw.received_at)
    return capture


@dataclass
class _Line:
    number: int
    item: JsonDict


def _from_ndjson(lines: Iterable[bytes]) -> Capture:
    """Export lines carry their request (on the first event of each); `--headless --json` lines
    carry only the decoded event, so the lines of one request are rebuilt into one request."""
    capture = Capture()
    parsed: list[_Line] = []
    for number, text in enumerate(lines, 1):
        if not text.strip():
            continue
        item, problem = _parse_line(text)
        if problem is not None:
            capture.problems.append(Problem(f"line {number}", problem))
        else:
            parsed.append(_Line(number, item))
    covered = {line.item.get("request_id") for line in parsed if isinstance(line.item.get("request"), dict)}
    groups: dict[Any, list[_Line]] = {}
    order: list[list[_Line]] = []
    for line in parsed:
        key = line.item.get("request_id")
        if isinstance(line.item.get("request"), dict):
            order.append([line])
        elif key in covered and key:
            continue  # a later event of an exported request: the request is on its first line
        elif key and key in groups:
            groups[key].append(line)
        else:
            order.append(groups.setdefault(key, [line]) if key else [line])
    for group in order:
        replay, problems = _replay(group)
        capture.problems.extend(problems)
        if replay is not None:
            capture.replays.append(replay)
    capture.problems.sort(key=lambda problem: problem.position)
    return capture


def _parse_line(line: bytes) -> tuple[JsonDict, str | None]:
    try:
        item = orjson.loads(line)
    except orjson.JSONDecodeError as error:
        return {}, f"not JSON: {error}"
    if not isinstance(item, dict):
        return {}, "not a JSON object"
    problem = time_problem("received_at", item.get("received_at", 0.0))
    return item, problem


def _replay(group: list[_Line]) -> tuple[Replay | None, list[Problem]]:
    first = group[0]
    where = f"line {first.number}"
    stored = first.item.get("request")
    if isinstance(stored, dict):
        try:
            raw = request_from_json(stored.get("request", stored))
        except ValueError as error:  # a field that is not a request's, or not a time
            return None, [Problem(where, str(error))]
        return Replay(raw, _assigned_nuid(first.item) or _answer_nuid(stored.get("response")), where), []
    usable = [line for line in group if line.item.get("event_type") != BAD_REQUEST]
    problems = [Problem(f"line {line.number}", "an undecodable request: a --headless --json line "
                        "does not hold the request itself (import the NDJSON export, "
                        "/snowcatcher/api/export.ndjson, to keep such requests)")
                for line in group if line.item.get("event_type") == BAD_REQUEST]
    if not usable:
        return None, problems
    try:
        raw = _rebuilt([line.item for line in usable])
    except ValueError as error:
        return None, [*problems, Problem(f"line {usable[0].number}", str(error))]
    return Replay(raw, _assigned_nuid(usable[0].item), f"line {usable[0].number}"), problems


def _answer_nuid(response: Any) -> str:
    """The network user id the recorded answer's `sp` cookie set (an undecodable request's
    events carry none)."""
    headers = response.get("headers") if isinstance(response, dict) else None
    pairs = [pair for pair in headers if isinstance(pair, list) and len(pair) == 2] if isinstance(
        headers, list) else []
    return set_cookie_nuid((str(name), str(value)) for name, value in pairs)


def _assigned_nuid(item: JsonDict) -> str:
    payload = item.get("payload")
    nuid = payload.get("nuid") if isinstance(payload, dict) and "nuid" in (item.get("filled") or ()) else ""
    return nuid if isinstance(nuid, str) else ""


def _rebuilt(items: list[JsonDict]) -> RawRequest:
    """The request that the events of one `--headless --json` request came from, as near as the
    decoded events tell: the same parameters or event objects, the same batch, the same time."""
    protocol = items[0].get("protocol")
    payloads = [item.get("payload") for item in items]
    if not all(isinstance(payload, dict) and payload for payload in payloads):
        raise ValueError("the event has no request and no payload to rebuild it from")
    received_at = float(items[0].get("received_at") or 0.0)
    if protocol == PROTOCOL_SNOWPLOW:
        return _snowplow_request([_unfilled(item) for item in items], items, received_at)
    if protocol == PROTOCOL_EVENTGATE:
        return _request("POST", EVENTGATE_PATH, "", orjson.dumps(payloads), received_at)
    if protocol == PROTOCOL_EVENTLOGGING and len(items) == 1:
        capsule = _capsule(items[0])
        return _request("GET", BEACON_PATH, urllib.parse.quote(orjson.dumps(capsule).decode()), b"",
                        received_at)
    raise ValueError(f"cannot rebuild a request for protocol {orjson.dumps(protocol).decode()}")


def _snowplow_request(params: list[JsonDict], items: list[JsonDict], received_at: float) -> RawRequest:
    from_body = any(isinstance(violation, dict) and violation.get("entity") in _BODY_ENTITIES
                    for item in items for violation in item.get("violations") or ())
    if len(params) == 1 and not from_body and all(isinstance(v, str) for v in params[0].values()):
        return _request("GET", "/i", urllib.parse.urlencode(params[0]), b"", received_at)
    body = orjson.dumps({"schema": PAYLOAD_DATA, "data": params})
    return _request("POST", TP2_PATH, "", body, received_at)


def _unfilled(item: JsonDict) -> JsonDict:
    """The tracker's parameters: without those the collector filled in (they are filled again)."""
    filled = set(item.get("filled") or ())
    return {key: value for key, value in item["payload"].items() if key not in filled}


def _capsule(item: JsonDict) -> JsonDict:
    """The beacon's capsule an EventLogging event was made from (the reverse of to_event)."""
    event = dict(item["payload"])
    filled = set(item.get("filled") or ())
    event.pop("$schema", None)
    meta = event.get("meta")
    if isinstance(meta, dict):
        meta = {key: value for key, value in meta.items() if key != "stream"}
        if meta:
            event["meta"] = meta
        else:
            del event["meta"]
    if "client_dt" in filled and "client_dt" in event:
        event["dt"] = event.pop("client_dt")
    return event


def _request(method: str, path: str, query: str, body: bytes, received_at: float) -> RawRequest:
    headers = (("Content-Type", "application/json"),) if body else ()
    return RawRequest(method=method, path=path, query=query, headers=headers, body=body,
                      received_at=received_at)
