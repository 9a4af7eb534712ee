"""The protocol registry is the one seam for a protocol: one registered from here is captured over
HTTP, imported from an export, re-validated, filtered and shown under its short name and field names,
without another module knowing of it."""

from __future__ import annotations

import json
from pathlib import Path
from types import MappingProxyType
from unittest.mock import ANY

import aiohttp
import orjson
from textual.widgets import Input

from snowcatcher.api.capture_file import read_capture
from snowcatcher.api.importer import import_requests
from snowcatcher.headless import format_line
from snowcatcher.model import CapturedEvent, Entity, RawRequest, Response, Violation
from snowcatcher.protocols import PROTOCOLS, Intake, Protocol, Route
from snowcatcher.protocols.ingest import Ingestor
from snowcatcher.runtime import Settings, Snowcatcher
from snowcatcher.store.store import Store
from snowcatcher.tui import fields
from snowcatcher.tui.app import SnowcatcherApp
from snowcatcher.tui.event_list import EventList
from snowcatcher.tui.filter_bar import FilterBar
from snowcatcher.validate.iglu import Registry

SCHEMA_PATH = "com.acme/order/jsonschema/1-0-0"
URI = "iglu:com.acme/order/jsonschema/1-0-0"


class AcmeProtocol(Protocol):
    """A made-up protocol: POST /acme/track with {"schema": an Iglu URI, "data": the event}."""

    name = "acme"
    short = "am"  # not its first two letters, which a list could show by itself
    routes = (Route("POST", "/acme/track"),)
    fields = MappingProxyType({"total": ("order", "order total")})
    field_groups = ("order",)

    async def ingest(self, ingestor: Ingestor, raw: RawRequest, nuid: str) -> Intake:
        return Intake(self.decode(ingestor, raw), Response(202, b"accepted"))

    def decode(self, ingestor: Ingestor, raw: RawRequest) -> list[CapturedEvent]:
        try:
            body = orjson.loads(raw.body)
            uri, data = body["schema"], body["data"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return [CapturedEvent(self.name, "bad_request", "", "", "", {}, (),
                                  (Violation("body", "", "format", "not an acme event"),), raw.received_at)]
        entity = Entity("event", 0, uri, data, "body")
        return [CapturedEvent(self.name, "order", "order", uri, "acme", data, (entity,),
                              ingestor.validator.check(uri, data, entity.label), raw.received_at)]

    def finish(self, answer: Response, events: list[CapturedEvent], nuid: str) -> Response:
        return answer.with_headers(("Acme-Verdict", events[0].verdict))


def write_schema(folder: Path, kind: str) -> None:
    path = folder / SCHEMA_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"type": "object", "properties": {"total": {"type": kind}}}))


async def test_a_protocol_registered_by_a_test_is_captured_imported_and_revalidated(tmp_path: Path) -> None:
    schemas = tmp_path / "schemas"
    write_schema(schemas, "integer")
    with PROTOCOLS.registered(AcmeProtocol()):
        catcher = Snowcatcher(Settings(port=0, offline=True, schemas=[schemas], cache_dir=None))
        await catcher.start()
        try:
            async with aiohttp.ClientSession() as http:
                event = {"schema": URI, "data": {"total": 9.5}}
                async with http.post(catcher.url + "/acme/track", json=event) as answer:
                    assert (answer.status, await answer.read()) == (202, b"accepted")
                    assert answer.headers["Acme-Verdict"] == "invalid"
                async with http.get(catcher.url + "/snowcatcher/api/export.ndjson") as answer:
                    export = await answer.read()
            [captured] = catcher.store.window()
            assert (captured.protocol, captured.verdict) == ("acme", "invalid")
            assert captured.violations[0].keyword == "type"
            await shown_under_its_names(catcher, captured)

            copy = Store(tmp_path / "copy.db")
            try:
                summary = await import_requests(copy, Ingestor(Registry([schemas], offline=True)),
                                                read_capture(export))
                assert (summary.requests, summary.events, summary.invalid) == (1, 1, 1)
                assert [event.protocol for event in copy.window()] == ["acme"]
            finally:
                copy.close()

            write_schema(schemas, "number")
            report = await catcher.revalidate()
            assert (report.checked, report.changed, report.invalid) == (1, 1, 0)
            assert [event.verdict for event in catcher.store.window()] == ["valid"]
        finally:
            await catcher.stop()
    assert PROTOCOLS.named("acme") is None


async def shown_under_its_names(catcher: Snowcatcher, captured: CapturedEvent) -> None:
    """The headless line, the TUI's list and Overview and the filter (HTTP API and TUI) all take the
    protocol's short name and field names from the registry."""
    assert format_line(captured).split()[2] == "am"
    assert list(fields.grouped(captured)) == [("order", [("order total", "total", "9.5")]),
                                              ("timestamps", [("received", "", ANY)])]
    async with aiohttp.ClientSession() as http:
        for text, found in (("protocol:am", 1), ("protocol:AM", 1), ("protocol:acme", 1), ("protocol:sp", 0)):
            async with http.get(catcher.url + "/snowcatcher/api/events", params={"filter": text}) as answer:
                assert len((await answer.json())["events"]) == found, text
    async with SnowcatcherApp(catcher.store).run_test(size=(100, 20)) as pilot:
        await pilot.pause()
        events = pilot.app.query_one(EventList)
        assert events.row(captured, 100).plain.split()[2] == "am"
        pilot.app.query_one(FilterBar).query_one(Input).value = "protocol:am"
        where = pilot.app.query_one(FilterBar).parse()
        assert where is not None and where.params == ("acme",)


def test_the_registry_routes_as_the_collector_does() -> None:
    def raw(method: str, path: str, query: str = "", body: bytes = b"") -> RawRequest:
        return RawRequest(method=method, path=path, query=query, headers=(), body=body, received_at=0.0)

    routed = {(method, path): getattr(PROTOCOLS.routing(raw(method, path)), "short", None)
              for method, path in [("POST", "/com.snowplowanalytics.snowplow/tp2"), ("HEAD", "/i"),
                                   ("GET", "/com.acme/v1"), ("POST", "/v1/events/"), ("GET", "/v1/events"),
                                   ("GET", "/beacon/event"), ("PUT", "/beacon/event"),
                                   ("POST", "/any/where")]}
    assert routed == {("POST", "/com.snowplowanalytics.snowplow/tp2"): "sp", ("HEAD", "/i"): "sp",
                      ("GET", "/com.acme/v1"): "sp", ("POST", "/v1/events/"): "eg",
                      ("GET", "/v1/events"): None, ("GET", "/beacon/event"): "el",
                      ("PUT", "/beacon/event"): None, ("POST", "/any/where"): "sp"}
    # A capture file holds a whole page load: only tracker traffic is recognised.
    assert PROTOCOLS.recognising(raw("GET", "/static/app")) is None
    assert PROTOCOLS.recognising(raw("GET", "/static/app", "e=pv&tv=js")) is not None
    assert PROTOCOLS.recognising(raw("POST", "/any/where", body=b"{}")) is None
