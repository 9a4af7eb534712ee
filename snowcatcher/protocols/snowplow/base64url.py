"""Base64 as trackers send it: URL-safe or standard alphabet, padded or not, with exact error offsets."""

from __future__ import annotations

import base64
import binascii
import json
import re

_INVALID = re.compile(r"[^A-Za-z0-9\-_+/=]")
_PADDING_INSIDE = re.compile(r"=+[^=]")


class Base64Error(ValueError):
    """Text that is not base64; the message says where."""


def decode(text: str) -> bytes:
    """Decode base64url (or standard base64), with or without `=` padding.

    The JS tracker strips the padding, the Python tracker keeps it; both are accepted.
    """
    text = text.strip()
    bad = _INVALID.search(text)
    if bad:
        raise Base64Error(f"invalid base64url at offset {bad.start()}: {json.dumps(bad.group())} is not "
                          "in the base64 alphabet")
    inner = _PADDING_INSIDE.search(text)
    if inner:
        raise Base64Error(f'invalid base64url at offset {inner.start()}: padding "=" inside the data')
    unpadded = text.rstrip("=")
    if len(unpadded) % 4 == 1:
        raise Base64Error(f"truncated base64url: {len(unpadded)} characters cannot encode whole bytes")
    padded = unpadded + "=" * (-len(unpadded) % 4)
    try:
        return base64.urlsafe_b64decode(padded.replace("+", "-").replace("/", "_"))
    except (binascii.Error, ValueError) as error:  # defensive: the checks above should catch all
        raise Base64Error(f"invalid base64url: {error}") from None


def encode(data: bytes) -> str:
    """URL-safe base64 without padding, as the JS tracker sends it."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
