"""HTTP Archive (HAR 1.2): stored requests out as a HAR log, and requests back in from one (devtools too)."""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson

from snowcatcher import __version__
from snowcatcher.model import JsonDict, RawRequest, StoredRequest, epoch_of_iso_time, iso_time, reason_phrase
from snowcatcher.protocols.snowplow.protocol import COOKIE_NAME

#: The cookie a Snowplow collector keeps the network user id in.
NUID_COOKIE = COOKIE_NAME
#: A request and the network user id its collector assigned ("" when unknown).
Captured = tuple[RawRequest, str]


def har_log(stored: Iterable[StoredRequest], base_url: str, nuids: Mapping[int, str]) -> JsonDict:
    """A HAR document holding each request and the answer snowcatcher gave it; `nuids` are the
    network user ids we assigned, by request id, shown as the cookie we set."""
    return {"log": {"version": "1.2", "creator": {"name": "snowcatcher", "version": __version__},
                    "entries": [har_entry(item, base_url, nuids.get(item.request.id, ""))
                                for item in stored]}}


def har_frame() -> tuple[bytes, bytes]:
    """A HAR document's JSON before and after its entries, for writing the entries one by one:
    head + entries joined by "," + tail is the document har_log() makes."""
    empty = orjson.dumps(har_log((), "", {}))
    cut = empty.rindex(b"[]") + 1
    return empty[:cut], empty[cut:]


def har_entry(stored: StoredRequest, base_url: str, nuid: str = "") -> JsonDict:
    raw, answer = stored.request, stored.response
    host = raw.header("Host")
    origin = f"http://{host}" if host else base_url.rstrip("/")
    url = origin + raw.path + (f"?{raw.query}" if raw.query else "")
    request: JsonDict = {
        "method": raw.method, "url": url, "httpVersion": "HTTP/1.1", "cookies": [],
        "headers": [{"name": n, "value": v} for n, v in raw.headers],
        "queryString": [{"name": n, "value": v} for n, v in parse_qsl(raw.query, keep_blank_values=True)],
        "headersSize": -1, "bodySize": len(raw.body)}
    if raw.body or raw.method == "POST":
        request["postData"] = {"mimeType": raw.header("Content-Type"), **_text(raw.body, "_encoding")}
    content = {"size": len(answer.body), "mimeType": answer.content_type,
               **_text(answer.body, "encoding")}
    if answer.headers is not None:
        headers = [{"name": n, "value": v} for n, v in answer.headers]
    else:  # stored before the headers were recorded: what is known of them
        headers = [{"name": "Content-Type", "value": answer.content_type}]
        if nuid:
            headers.append({"name": "Set-Cookie", "value": f"{NUID_COOKIE}={nuid}; Path=/"})
    return {"startedDateTime": iso_time(raw.received_at), "time": 0, "request": request,
            "response": {"status": answer.status, "statusText": reason_phrase(answer),
                         "httpVersion": "HTTP/1.1", "cookies": [],
                         "headers": headers,
                         "content": content, "redirectURL": "", "headersSize": -1,
                         "bodySize": len(answer.body)},
            "cache": {}, "timings": {"send": 0, "wait": 0, "receive": 0},
            # startedDateTime keeps milliseconds; the exact time lets an import match the export
            "_snowcatcher": {"request_id": raw.id, "remote": raw.remote,
                             "received_at": raw.received_at}}


def _text(body: bytes, encoding_key: str) -> JsonDict:
    try:
        return {"text": body.decode("utf-8")}
    except UnicodeDecodeError:
        return {"text": base64.b64encode(body).decode("ascii"), encoding_key: "base64"}


class HarError(ValueError):
    """A file that is not a HAR log; the message says what is wrong."""


def har_entries(document: Any) -> list[tuple[int, Captured | str]]:
    """Every entry of a HAR log, numbered from 0: the request with the network user id the
    collector's answer set, or why the entry is no request; raises HarError when it is no HAR log."""
    entries = document.get("log", {}).get("entries") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise HarError("not a HAR file: it needs {\"log\": {\"entries\": [...]}}")
    found: list[tuple[int, Captured | str]] = []
    for number, entry in enumerate(entries):
        try:
            found.append((number, (_request(entry), _nuid(entry.get("response")))))
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            found.append((number, f"not a request: {_reason(error)}"))
    return found


def _reason(error: Exception) -> str:
    if isinstance(error, KeyError):
        return f"it has no {orjson.dumps(str(error.args[0])).decode()}"
    return str(error)


def _request(entry: JsonDict) -> RawRequest:
    request = entry["request"]
    url = urlsplit(str(request["url"]))
    headers = tuple((str(h["name"]), str(h["value"])) for h in request.get("headers") or ()
                    if not str(h["name"]).startswith(":"))  # HTTP/2 pseudo-headers are no headers
    post = request.get("postData") or {}
    text = str(post.get("text") or "")
    base64_body = "base64" in (post.get("_encoding"), post.get("encoding"))
    body = base64.b64decode(text) if base64_body else text.encode("utf-8")
    if post.get("mimeType") and not any(name.lower() == "content-type" for name, _ in headers):
        headers = (*headers, ("Content-Type", str(post["mimeType"])))
    extra = entry.get("_snowcatcher")
    extra = extra if isinstance(extra, dict) else {}
    received_at = _epoch(str(entry["startedDateTime"]))
    exact = extra.get("received_at")
    if isinstance(exact, float) and abs(exact - received_at) < 0.001:
        received_at = exact
    return RawRequest(method=str(request["method"]).upper(), path=url.path or "/", query=url.query,
                      headers=headers, body=body, received_at=received_at,
                      remote=str(extra.get("remote") or ""))


def _nuid(response: Any) -> str:
    """The `sp` cookie a collector set in its answer (real collectors do; devtools records it)."""
    headers = response.get("headers") if isinstance(response, dict) else None
    return set_cookie_nuid((str(header.get("name", "")), str(header.get("value", "")))
                           for header in (headers if isinstance(headers, list) else ())
                           if isinstance(header, dict))


def set_cookie_nuid(headers: Iterable[tuple[str, str]]) -> str:
    """The network user id in the `sp` cookie an answer's Set-Cookie headers set, or empty."""
    for name, value in headers:
        if name.lower() == "set-cookie":
            try:
                morsel = SimpleCookie(value).get(NUID_COOKIE)
            except CookieError:
                continue
            if morsel is not None:
                return morsel.value
    return ""


def _epoch(stamp: str) -> float:
    try:
        return epoch_of_iso_time(stamp)
    except ValueError:
        raise ValueError(f"startedDateTime {orjson.dumps(stamp).decode()} is not an ISO 8601 time "
                         "from year 1 to 9999") from None
