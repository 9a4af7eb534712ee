"""Secrets in captured headers (cookies other than the trackers', Authorization) shown as `<redacted>`."""

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
_SECRET_HEADERS = frozenset({"cookie", *_CREDENTIAL_HEADERS})


def redact_cookies(value: str) -> str:
    """A Cookie header with every value except the trackers' replaced by REDACTED."""
    parts = []
    for part in value.split(";"):
        name, sep, _ = part.strip().partition("=")
        parts.append(part.strip() if sep and _TRACKER_COOKIE.match(name) else
                     f"{name}={REDACTED}" if sep else REDACTED)
    return "; ".join(parts)


def redact_header(name: str, value: str) -> str:
    """The value of one request header as it may be shown."""
    lowered = name.lower()
    if lowered == "cookie":
        return redact_cookies(value)
    if lowered in _CREDENTIAL_HEADERS:
        scheme, space, _ = value.partition(" ")
        return f"{scheme} {REDACTED}" if space else REDACTED  # the scheme says which kind it was
    return value


def has_secrets(headers: Iterable[tuple[str, str]]) -> bool:
    return any(name.lower() in _SECRET_HEADERS for name, _ in headers)


def redacted_request(raw: RawRequest) -> RawRequest:
    """`raw` with its secrets redacted; the same object when it has none."""
    if not has_secrets(raw.headers):
        return raw
    return replace(raw, headers=tuple((name, redact_header(name, value)) for name, value in raw.headers))


def redacted_stored(stored: StoredRequest | None) -> StoredRequest | None:
    """A stored request with its secrets redacted (the answer holds none)."""
    if stored is None or not has_secrets(stored.request.headers):
        return stored
    return replace(stored, request=redacted_request(stored.request))
