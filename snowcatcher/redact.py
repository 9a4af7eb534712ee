"""Secrets in captured headers (cookies but the trackers', sent or set, and Authorization) shown redacted."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace

from snowcatcher.model import RawRequest, StoredRequest

#: What a secret value is shown as. `<` cannot appear in a cookie value (RFC 6265), so a
#: redacted export is never mistaken for a real cookie.
REDACTED = "<redacted>"
#: The trackers' own cookies: the collector's network user id and the JavaScript tracker's
#: domain user and session cookies. They identify test traffic, not the developer.
_TRACKER_COOKIE = re.compile(r"^(sp|_sp_id\..*|_sp_ses\..*)$")
_CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization"})
_SECRET_HEADERS = frozenset({"cookie", "set-cookie", *_CREDENTIAL_HEADERS})


def redact_cookies(value: str) -> str:
    """A Cookie header with every value except the trackers' replaced by REDACTED."""
    parts = []
    for part in value.split(";"):
        name, sep, _ = part.strip().partition("=")
        parts.append(part.strip() if sep and _TRACKER_COOKIE.match(name) else
                     f"{name}={REDACTED}" if sep else REDACTED)
    return "; ".join(parts)


def redact_set_cookie(value: str) -> str:
    """A Set-Cookie header with its value redacted unless it is a tracker's cookie; its
    attributes (Path, Max-Age, SameSite …) hold no secret and stay."""
    cookie, sep, attributes = value.partition(";")
    name, equals, _ = cookie.strip().partition("=")
    if equals and _TRACKER_COOKIE.match(name):
        return value
    return (f"{name}={REDACTED}" if equals else REDACTED) + sep + attributes


def redact_header(name: str, value: str) -> str:
    """The value of one request or answer header as it may be shown."""
    lowered = name.lower()
    if lowered == "cookie":
        return redact_cookies(value)
    if lowered == "set-cookie":
        return redact_set_cookie(value)
    if lowered in _CREDENTIAL_HEADERS:
        scheme, space, _ = value.partition(" ")
        return f"{scheme} {REDACTED}" if space else REDACTED  # the scheme says which kind it was
    return value


def has_secrets(headers: Iterable[tuple[str, str]]) -> bool:
    return any(name.lower() in _SECRET_HEADERS for name, _ in headers)


def hides_something(headers: Iterable[tuple[str, str]]) -> bool:
    """Whether redacting these headers changes any (the trackers' own cookies stay as they are)."""
    return any(redact_header(name, value) != value for name, value in headers
               if name.lower() in _SECRET_HEADERS)


def redacted_request(raw: RawRequest) -> RawRequest:
    """`raw` with its secrets redacted; the same object when it has none."""
    if not has_secrets(raw.headers):
        return raw
    return replace(raw, headers=tuple((name, redact_header(name, value)) for name, value in raw.headers))


def redacted_stored(stored: StoredRequest | None) -> StoredRequest | None:
    """A stored request with its secrets redacted, and the cookies its answer set."""
    if stored is None:
        return None
    answer = stored.response
    if answer.headers is not None and has_secrets(answer.headers):
        answer = replace(answer, headers=tuple((name, redact_header(name, value))
                                               for name, value in answer.headers))
    if answer is stored.response and not has_secrets(stored.request.headers):
        return stored
    return StoredRequest(redacted_request(stored.request), answer)
