"""Realistic captured events (GitLab, Snowplow JS, Wikimedia, hostile) for TUI tests, screenshots, bench."""

from __future__ import annotations

from typing import Any

import orjson

from snowcatcher.model import PROTOCOL_SNOWPLOW, CapturedEvent, Entity, RawRequest, Response, Violation
from snowcatcher.protocols.answer import as_sent, cors_headers
from snowcatcher.protocols.snowplow.protocol import SnowplowProtocol
from snowcatcher.protocols.snowplow.samples import encode
from snowcatcher.store.store import Store

T0 = 1742205227.525  # 2025-03-17 09:53:47.525 UTC
STANDARD = "iglu:com.gitlab/gitlab_standard/jsonschema/1-1-1"
SERVICE_PING = "iglu:com.gitlab/gitlab_service_ping/jsonschema/1-0-1"
CONTEXTS = "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1"
PAYLOAD_DATA = "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4"
LINK_CLICK = "iglu:com.snowplowanalytics.snowplow/link_click/jsonschema/1-0-1"
HOMEPAGEVISIT = "/analytics/legacy/homepagevisit/1.2.1"


def standard_context(realm: str = "saas", user_id: int = 11979729) -> dict[str, Any]:
    return {"environment": "development", "source": "gitlab-rails", "plan": "ultimate",
            "extra": {"label": "merge_request"}, "user_id": user_id, "namespace_id": 9970,
            "project_id": 278964, "realm": realm, "instance_version": "17.10.0",
            "correlation_id": "01JPHRC3K30KDDV165EWTCFJ02"}


def gitlab_struct(action: str, *, at: float = T0, realm: str = "saas",
                  user_id: int = 11979729) -> tuple[RawRequest, CapturedEvent]:
    """A GitLab backend internal event (`se`), the way the Ruby tracker POSTs it."""
    contexts = [{"schema": STANDARD, "data": standard_context(realm, user_id)},
                {"schema": SERVICE_PING, "data": {"data_source": "redis_hll", "event_name": action}}]
    params = {"e": "se", "se_ca": "Projects::MergeRequestsController", "se_ac": action,
              "se_la": "merge_request", "se_pr": "approve", "se_va": "1", "eid": "12c18f54-ef65",
              "tv": "rb-0.8.0", "tna": "gl", "aid": "gitlab", "p": "srv",
              "dtm": str(int(at * 1000)), "stm": str(int(at * 1000) + 3),
              "cx": encode({"schema": CONTEXTS, "data": contexts})}
    violations = () if realm in ("saas", "self-managed", "dedicated") else (
        Violation(f"contexts[0] {STANDARD}", "/realm", "enum",
                  f'"{realm}" is not one of "self-managed", "saas", "dedicated", null'),)
    entities = tuple(Entity("context", i, c["schema"], c["data"], "cx") for i, c in enumerate(contexts))
    event = CapturedEvent("snowplow", "struct", action, "", "gitlab", params, entities, violations, at)
    return _post(params, at), event


def page_view(url: str, *, at: float = T0) -> tuple[RawRequest, CapturedEvent]:
    """A browser page view from the JS tracker with a web_page context."""
    contexts = [{"schema": "iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0",
                 "data": {"id": "90ea98bd-3bdb-48d2-935c-59a4d03a4710"}}]
    params = {"e": "pv", "url": url, "page": "GitLab", "refr": "https://gdk.test:3443/",
              "eid": "564f9834-3f98", "tv": "js-3.24.2", "tna": "gl", "aid": "gitlab", "p": "web",
              "lang": "en-GB", "res": "1728x1117", "vp": "1920x331", "tz": "Europe/Berlin",
              "dtm": str(int(at * 1000)), "duid": "9e5500ac-3437", "sid": "1574509e-5d6d", "vid": "7",
              "cx": encode({"schema": CONTEXTS, "data": contexts})}
    entities = (Entity("context", 0, contexts[0]["schema"], contexts[0]["data"], "cx"),)
    return _post(params, at), CapturedEvent("snowplow", "page_view", url, "", "gitlab", params,
                                            entities, (), at)


def link_click(*, at: float = T0) -> tuple[RawRequest, CapturedEvent]:
    """A self-describing link_click event (`ue_px`)."""
    data = {"targetUrl": "https://gitlab.com/", "elementClasses": ["brand-logo"]}
    params = {"e": "ue", "aid": "gitlab", "p": "web", "tv": "js-3.24.2", "dtm": str(int(at * 1000)),
              "ue_px": encode({"schema": "iglu:com.snowplowanalytics.snowplow/unstruct_event/"
                             "jsonschema/1-0-0", "data": {"schema": LINK_CLICK, "data": data}})}
    entities = (Entity("event", 0, LINK_CLICK, data, "ue_px"),)
    return _post(params, at), CapturedEvent("snowplow", "unstruct", "link_click", LINK_CLICK,
                                            "gitlab", params, entities, (), at)


def homepage_visit(state: str = "broken", *, at: float = T0) -> tuple[RawRequest, CapturedEvent]:
    """A Wikimedia EventGate HomepageVisit, invalid when `state` is not one of the enum's values."""
    body = {"$schema": HOMEPAGEVISIT, "client_dt": "2020-04-02T19:11:20.942Z",
            "event": {"homepage_pageview_token": "example token", "impact_module_state": state,
                      "is_mobile": True, "start_email_state": "noemail", "user_editcount": 123,
                      "user_id": 456},
            "meta": {"dt": "2020-04-02T19:11:20.942Z", "stream": "eventlogging_HomepageVisit"}}
    violations = () if state in ("activated", "unactivated", "notrendered") else (
        Violation(f"event {HOMEPAGEVISIT}", "/event/impact_module_state", "enum",
                  f'"{state}" is not one of "activated", "unactivated", "notrendered"'),)
    request = RawRequest("POST", "/v1/events", "", (("Content-Type", "application/json"),),
                         orjson.dumps([body]), at, "127.0.0.1")
    event = CapturedEvent("eventgate", "event", "eventlogging_HomepageVisit", HOMEPAGEVISIT, "devwiki",
                          body, (Entity("event", 0, HOMEPAGEVISIT, body, "body"),), violations, at)
    return request, event


def hostile(*, at: float = T0) -> tuple[RawRequest, CapturedEvent]:
    """An event whose strings try Rich markup, ANSI colours, OSC titles, bells and bidi overrides."""
    evil = "[bold red]pwn[/] \x1b[31mred\x1b[0m \x1b]0;owned\x07 \u202egnp.exe\u202c"
    params = {"e": "se", "se_ca": evil, "se_ac": evil, "aid": "[link=http://x]app[/link]",
              "dtm": str(int(at * 1000)), "p": "web"}
    violation = Violation("payload_data", "/se_ca", "maxLength", evil)
    return _post(params, at), CapturedEvent("snowplow", "struct", evil, "", params["aid"], params,
                                            (), (violation,), at)


def _post(params: dict[str, Any], at: float) -> RawRequest:
    body = orjson.dumps({"schema": PAYLOAD_DATA, "data": [params]})
    headers = (("Host", "127.0.0.1:9090"), ("Content-Type", "application/json; charset=utf-8"),
               ("User-Agent", "snowplow-ruby-tracker/0.8.0"))
    return RawRequest("POST", "/com.snowplowanalytics.snowplow/tp2", "", headers, body, at, "127.0.0.1")


def mixed(count: int, *, start: float = T0) -> list[tuple[RawRequest, CapturedEvent]]:
    """`count` events cycling through the kinds above, 0.25 s apart."""
    makers = [lambda at: gitlab_struct("i_code_review_user_approve_mr", at=at),
              lambda at: page_view("https://gdk.test:3443/dashboard/projects", at=at),
              lambda at: gitlab_struct("i_quickactions_approve", at=at, realm="moon"),
              lambda at: link_click(at=at),
              lambda at: homepage_visit("broken", at=at),
              lambda at: homepage_visit("activated", at=at)]
    return [makers[i % len(makers)](start + i * 0.25) for i in range(count)]


#: The network user id the samples' answers set in the `sp` cookie.
SAMPLE_NUID = "5e3a0c57-9d1b-4f2e-8c6a-7b4d2e1f0a93"


def fill(store: Store, pairs: list[tuple[RawRequest, CapturedEvent]]) -> None:
    """Store each (request, event) pair the way the collector would, one request per event, with
    the answer's headers as the collector sends them (a fixed `sp` cookie for Snowplow events)."""
    for request, event in pairs:
        answer = Response(200, b"ok")
        if event.protocol == PROTOCOL_SNOWPLOW:
            answer = SnowplowProtocol().finish(answer, [event], SAMPLE_NUID)
        store.append_now(request, as_sent(answer, cors_headers(None, request.header("Origin"))), [event])
