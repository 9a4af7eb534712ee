"""Make untrusted event text inert for a terminal: no control characters, escapes or bidi overrides."""

from __future__ import annotations

import re

# C0 and C1 controls (ESC starts ANSI/OSC sequences), DEL, and the bidi embedding, override and
# isolate characters that can make text display differently from what it is.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def inert(text: str, *, newlines: bool = False) -> str:
    """`text` with every unsafe character shown as a visible escape such as `\\x1b`."""
    cleaned = _UNSAFE.sub(_escape, text)
    return cleaned if newlines else cleaned.replace("\n", "\\n").replace("\t", " ")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
