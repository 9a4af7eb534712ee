"""Rich renderables for the detail tabs: Overview, Raw, HTTP and GitLab, built only from cleaned Text."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import orjson
from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from snowcatcher.gitlab.definitions import Definitions
from snowcatcher.model import PROTOCOL_EVENTLOGGING, CapturedEvent, Response, StoredRequest, reason_phrase
from snowcatcher.redact import hides_something, redact_header
from snowcatcher.runtime import PROTOCOLS
from snowcatcher.tui import fields, gitlab
from snowcatcher.tui.gitlab_views import definition_sections
from snowcatcher.tui.inert_text import clean, json_scalar, pretty_json, text

MAX_BODY = 200_000


def _grid() -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    return table


def _heading(title: str) -> Text:
    return Text(title, style="bold underline")


def overview(event: CapturedEvent) -> RenderableType:
    """Parameters under human names, grouped into event, app, user, page, browser and timestamps."""
    parts: list[RenderableType] = [summary_line(event)]
    for group, rows in fields.grouped(event):
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", no_wrap=True)
        table.add_column(style="dim", no_wrap=True)
        table.add_column(overflow="fold")
        for human, key, value in rows:
            shown = text(value)
            if key and key in event.filled:
                shown.append("  filled in by snowcatcher", style="dim italic")
            table.add_row(text(human), text(key if key != human else ""), shown)
        parts += [Text(""), _heading(group), table]
    return Group(*parts)


def summary_line(event: CapturedEvent) -> Text:
    """`✓ struct  i_code_review_user_approve_mr  (snowplow, app gitlab)` for the top of Overview."""
    if event.verdict == "unchecked":
        line = Text("? not checked yet  ", style="bold yellow")
    else:
        line = Text("✓ valid  " if event.valid else f"✗ {len(event.violations)} violation(s)  ",
                    style="bold green" if event.valid else "bold red")
    line.append_text(text(event.event_type, "bold"))
    line.append("  ")
    line.append_text(text(event.name, "bold"))
    line.append(f"  ({clean(event.protocol)}, app {clean(event.app_id) or '-'}, #{event.id})",
                style="dim")
    return line


def raw(stored: StoredRequest | None, dark: bool) -> RenderableType:
    """The request body (pretty JSON when it is JSON) or its query string, Pygments-highlighted."""
    if stored is None:
        return Text("The request is no longer stored.", style="dim")
    request = stored.request
    theme = "monokai" if dark else "default"
    parts: list[RenderableType] = []
    # A legacy beacon's query string is one URL-encoded JSON capsule, not key=value pairs.
    decoded = PROTOCOLS.query_view(request) if request.query else None
    if decoded is not None:
        parts.append(_heading(f"{decoded.title} ({len(request.query)} bytes)"))
        parts.append(Syntax(pretty_json(decoded.value)[:MAX_BODY], "json", theme=theme, word_wrap=True))
    elif request.query:
        parts.append(_heading(f"query string ({len(request.query)} bytes)"))
        parameters = dict(parse_qsl(request.query, keep_blank_values=True))
        parts.append(Syntax(pretty_json(parameters), "json", theme=theme, word_wrap=True))
    if request.body:
        parts.append(_heading(f"body ({len(request.body)} bytes)"))
        parts.append(_body(request.body, theme))
    return Group(*parts) if parts else Text("Empty request: no query string, no body.", style="dim")


def _body(body: bytes, theme: str) -> RenderableType:
    try:
        code, lexer = pretty_json(orjson.loads(body)), "json"
    except orjson.JSONDecodeError:
        code, lexer = clean(body[:MAX_BODY].decode("utf-8", "replace"), multiline=True), "text"
    return Syntax(code[:MAX_BODY], lexer, theme=theme, word_wrap=True)


def http(stored: StoredRequest | None, *, reveal: bool = False) -> RenderableType:
    """Method, path, headers, the remote address, and the answer the collector gave; cookies and
    Authorization redacted unless `reveal`."""
    if stored is None:
        return Text("The request is no longer stored.", style="dim")
    request, response = stored.request, stored.response
    table = _grid()
    table.add_row("request", text(f"{request.method} {request.path}"
                                  + (f"?{request.query}" if request.query else "")))
    table.add_row("from", text(request.remote or "-"))
    table.add_row("received", Text(fields.readable_time(request.received_at)))
    headers = _grid()
    for name, value in request.headers:
        headers.add_row(text(name), text(value if reveal else redact_header(name, value)))
    if not reveal and hides_something((*request.headers, *(response.headers or ()))):
        headers.add_row("", Text("cookies and Authorization are redacted: press s to show them",
                                 style="dim"))
    return Group(table, Text(""), _heading("headers"), headers, Text(""),
                 _heading("our answer"), _answer(response, reveal))


def _answer(response: Response, reveal: bool) -> Table:
    """The status line with its reason phrase, the headers as sent (or why they are not known),
    and the body."""
    answer = _grid()
    answer.add_row("status", text(f"{response.status} {reason_phrase(response)}".rstrip()))
    if response.headers is None:
        answer.add_row("headers", Text("not recorded (captured by an older snowcatcher)", style="dim"))
    for name, value in response.headers or ():
        answer.add_row(text(name), text(value if reveal else redact_header(name, value)))
    answer.add_row("body", text(response.body[:2000].decode("utf-8", "replace") or "(empty)"))
    return answer


def gitlab_panel(event: CapturedEvent, definitions: Definitions | None = None) -> RenderableType:
    """monitor.rb's view of a GitLab internal event: name, category, ids, plan and extra; with
    --gitlab also its definition and the metrics that count it."""
    if not gitlab.is_gitlab(event):
        return Text("Not a GitLab internal event: it has no gitlab_standard context.", style="dim")
    table = _grid()
    for name, value in gitlab.summary(event) + gitlab.service_ping_rows(event):
        table.add_row(name, text(_plain(value)))
    parts: list[RenderableType] = [_heading("GitLab internal event"), table]
    if definitions is not None and event.event_type == "struct":
        parts += definition_sections(event, definitions)
    return Group(*parts)


def _plain(value: Any) -> str:
    if value is None:
        return "null"
    return value if isinstance(value, str) else json_scalar(value)


def welcome(base_url: str) -> RenderableType:
    """The first screen before any event: where to send events, and a curl to try each protocol."""
    base = base_url or "http://127.0.0.1:9090"
    beacon = PROTOCOLS.entry_path(PROTOCOL_EVENTLOGGING)
    table = _grid()
    table.add_row("Snowplow", text(f"{base}/com.snowplowanalytics.snowplow/tp2  (POST)   "
                                   f"{base}/i  (GET)"))
    table.add_row("EventGate", text(f"{base}/v1/events  (POST)"))
    table.add_row("EventLogging", text(f"{base}{beacon}?…  (GET beacon)"))
    # One command a line, whole, so that it can be selected and pasted.
    commands = [text(f"  curl '{base}/i?e=pv&p=web&tv=curl&url=https://example.test/'"),
                text(f"  curl -H 'content-type: application/json' {base}/v1/events "
                     """-d '[{"$schema": "/test/event/1.0.0", "meta": {"stream": "test.event"}}]'""")]
    for command in commands:
        command.end = "\n"
    tries = Group(Text("a page view:", style="bold"), commands[0],
                  Text("an EventGate event:", style="bold"), commands[1])
    setup = _grid()
    setup.add_row("GitLab GDK", text("run snowcatcher --port 9091 (GDK's Snowplow Micro port), or "
                                     "gdk config set snowplow_micro.port to this port"))
    setup.add_row("MediaWiki", text(f"$wgEventLoggingServiceUri = '{base}/v1/events'; "
                                    f"$wgEventLoggingBaseUri = '{base}{beacon}'"))
    return Group(Text("No events yet. Send them here:", style="bold"), Text(""), table, Text(""),
                 _heading("try it"), tries, Text(""), _heading("point your app here"), setup,
                 Text(""), Text("Press ? for the keys.", style="dim"))
