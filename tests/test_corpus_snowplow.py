"""Every Snowplow case of the third-party corpus, with the outcome the real pipeline gives it."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest

from snowcatcher.model import CapturedEvent, schema_name
from snowcatcher.protocols.ingest import Ingestor
from tests.conftest import CORPUS, corpus_path
from tests.decoding import get, ingestor, post

EXPECTED = CORPUS / "expected" / "snowplow"
CASES = sorted(p.name.removesuffix(".expected.json") for folder in ("enrich", "micro")
               for p in (EXPECTED / folder).glob("*.expected.json")
               if not p.name.startswith("base64url")) if EXPECTED.is_dir() else []

#: Enrich's tracker-protocol message for each request case, and the words our violation uses.
PROTOCOL_MESSAGES = {
    "tp2_bad_content_type_text_plain": 'content type "text/plain" is not accepted',
    "tp2_body_without_content_type": "content type missing is not accepted",
    "tp2_body_not_json": "the body is not valid JSON",
    "tp2_body_not_self_describing": "not a self-describing JSON",
    "tp2_body_wrong_schema_geolocation_context": "must be a payload_data 1-0-* JSON",
    "tp2_content_type_without_body": "empty body",
    "tp2_no_querystring_no_body": "empty body",
    "tp2_payload_data_object_instead_of_array": "is not of type array",
}


#: Enrich's enriched names for the structured-event parameters.
STRUCT_FIELDS = {"se_category": "se_ca", "se_action": "se_ac", "se_label": "se_la",
                 "se_property": "se_pr", "se_value": "se_va"}


@pytest.fixture(scope="module")
def ingest() -> Ingestor:
    return ingestor(corpus_path("iglu"))


def run_case(ingest: Ingestor, name: str) -> list[CapturedEvent]:
    folder = "micro" if (CORPUS / "events/snowplow/micro" / f"{name}.params.json").exists() else "enrich"
    base = CORPUS / "events" / "snowplow" / folder
    if (base / f"{name}.request.json").exists():
        request = json.loads((base / f"{name}.request.json").read_text())
        return post(ingest, request["body"] or "", content_type=request["content_type"],
                    query=request["querystring"] or "", path=request["path"])
    if (base / f"{name}.params.json").exists():
        return get(ingest, urlencode(json.loads((base / f"{name}.params.json").read_text())))
    if (base / f"{name}.txt").exists():
        return get(ingest, (base / f"{name}.txt").read_text().strip(), path="/ice.png")
    return post(ingest, (base / f"{name}.json").read_bytes(), content_type="application/json")


@pytest.mark.parametrize("name", CASES)
def test_corpus_case(ingest: Ingestor, name: str) -> None:
    folder = "micro" if (EXPECTED / "micro" / f"{name}.expected.json").exists() else "enrich"
    expected = json.loads((EXPECTED / folder / f"{name}.expected.json").read_text())
    events = run_case(ingest, name)
    assert events, "every request yields at least one stored event"
    if name == "tp2_post_three_events_plus_querystring":
        check_raw_events(events, expected["raw_events"])
        return
    if expected["result"] == "valid":
        assert all(event.valid for event in events), [event.violations for event in events]
        check_fields(events, expected)
    else:
        assert not any(event.valid for event in events)
        if name in PROTOCOL_MESSAGES:
            messages = " | ".join(v.message for e in events for v in e.violations)
            assert PROTOCOL_MESSAGES[name] in messages
        check_reports(events, expected)


def check_raw_events(events: list[CapturedEvent], raw_events: list[dict[str, str]]) -> None:
    """Query parameters merge into every body event and win (the body said tv=1, 2, 3)."""
    assert [{k: v for k, v in e.payload.items() if k in raw} for e, raw in zip(
        events, raw_events, strict=True)] == raw_events
    # Enrich's adapter accepts them; its next step rejects e=1, and so do we, per event.
    assert all("is not a valid event type" in e.violations[0].message for e in events)


def check_fields(events: list[CapturedEvent], expected: dict[str, Any]) -> None:
    if "expected" in expected and "exactly 10" in expected["expected"]:
        assert len(events) == 10
    [event, *_] = events
    if "contexts" in expected:
        assert event.contexts == expected["contexts"]
    if expected.get("schema"):
        assert event.schema == expected["schema"]
    fields = expected.get("expected_enriched_fields", {})
    if "event" in fields:
        assert event.event_type == fields["event"]
    if "event_name" in fields:
        assert schema_name(event.schema) == fields["event_name"]
        assert event.schema.startswith(f"iglu:{fields['event_vendor']}/")
    if "unstruct_event" in fields:
        assert json.loads(fields["unstruct_event"])["data"]["data"] == event.entities[0].data
    if "contexts" in fields:
        decoded = [entity.data for entity in event.entities if entity.role == "context"]
        assert decoded == [item["data"] for item in json.loads(fields["contexts"])["data"]]
    for enriched, parameter in STRUCT_FIELDS.items():
        if enriched in fields:
            assert event.payload[parameter] == fields[enriched]


def check_reports(events: list[CapturedEvent], expected: dict[str, Any]) -> None:
    """Enrich's data reports (keyword + property) each appear among our violations."""
    ours = {(v.keyword, v.message) for e in events for v in e.violations}
    for message in expected.get("messages", []):
        error = message.get("error")
        for report in error.get("dataReports", []) if isinstance(error, dict) else []:
            # `type` reports list [found, expected]; the others name the property.
            target = report["targets"][-1 if report["keyword"] == "type" else 0]
            assert any(keyword == report["keyword"] and target in text for keyword, text in ours), (
                report, ours)
