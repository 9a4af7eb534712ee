"""JSON forms of stored requests and our answers, shared by the API, the exports and the importer."""

from __future__ import annotations

import base64
import contextlib
from typing import Any

from snowcatcher.model import JsonDict, RawRequest, Response, StoredRequest, time_problem


def body_json(body: bytes) -> JsonDict:
    """A body as text when it is UTF-8, else as base64 (event data may be anything)."""
    try:
        return {"text": body.decode("utf-8"), "encoding": "utf-8"}
    except UnicodeDecodeError:
        return {"text": base64.b64encode(body).decode("ascii"), "encoding": "base64"}


def body_from_json(data: Any) -> bytes:
    """The bytes `body_json` described; a bare string is taken as UTF-8 text."""
    if isinstance(data, str):
        return data.encode("utf-8")
    if not isinstance(data, dict):
        return b""
    text = data.get("text")
    if not isinstance(text, str):
        return b""
    if data.get("encoding") == "base64":
        return base64.b64decode(text, validate=False)
    return text.encode("utf-8")


def request_json(raw: RawRequest) -> JsonDict:
    return {"id": raw.id, "received_at": raw.received_at, "method": raw.method, "path": raw.path,
            "query": raw.query, "headers": [list(pair) for pair in raw.headers],
            "body": body_json(raw.body), "remote": raw.remote}


def request_from_json(data: JsonDict) -> RawRequest:
    """A RawRequest from `request_json`'s output; raises ValueError when it is not one."""
    received_at = received_time(data.get("received_at"))  # its own sentence, no prefix
    try:
        headers = tuple((str(name), str(value)) for name, value in data.get("headers") or ())
        return RawRequest(method=str(data["method"]), path=str(data["path"]),
                          query=str(data.get("query") or ""), headers=headers,
                          body=body_from_json(data.get("body")), received_at=received_at,
                          remote=str(data.get("remote") or ""))
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"not a stored request: {error}") from None


def response_json(response: Response) -> JsonDict:
    """Our answer; `headers` is null for one stored before they were recorded, `reason` for the
    standard phrase."""
    return {"status": response.status, "reason": response.reason, "content_type": response.content_type,
            "headers": None if response.headers is None else [list(pair) for pair in response.headers],
            "body": body_json(response.body)}


def stored_json(stored: StoredRequest) -> JsonDict:
    """A stored request with the answer snowcatcher gave it."""
    return {"request": request_json(stored.request), "response": response_json(stored.response)}


def received_time(value: object) -> float:
    """An imported `received_at` (seconds since 1970); raises ValueError for one that is no time
    (see model.time_problem: such a time cannot be shown, exported as HAR or become a meta.dt)."""
    if value is None:
        return 0.0
    if isinstance(value, str):  # a stored request's time may be written as a string
        with contextlib.suppress(ValueError):  # if not, time_problem names it
            value = float(value)
    problem = time_problem("request.received_at", value)
    if problem is not None:
        raise ValueError(problem)
    return float(value)  # type: ignore[arg-type]  # time_problem proved it a number


