"""Make untrusted event text inert for a terminal: no control characters, escapes or bidi overrides."""

from __future__ import annotations

import logging
import re

# C0 and C1 controls (ESC starts ANSI/OSC sequences), DEL, the bidi embedding, override and isolate
# characters that make text display differently from what it is, and invisible separators.
_BIDI = [0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
_INVISIBLE = [0x00AD, 0x200B, 0x200C, 0x200D, 0x2028, 0x2029, 0xFEFF]


def _escape(code: int) -> str:
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


_ONE_LINE = {code: _escape(code) for code in [*range(0x00, 0x20), *range(0x7F, 0xA0), *_BIDI,
                                               *_INVISIBLE]}
_MULTILINE = {code: text for code, text in _ONE_LINE.items() if code not in (0x09, 0x0A)}
_UNSAFE_ONE_LINE = re.compile("[" + "".join(re.escape(chr(code)) for code in _ONE_LINE) + "]")
_UNSAFE_MULTILINE = re.compile("[" + "".join(re.escape(chr(code)) for code in _MULTILINE) + "]")
# JSON already escapes C0 controls; the rest become \uXXXX escapes, which keep the same data.
_IN_JSON = {code: f"\\u{code:04x}" for code in _ONE_LINE if code >= 0x7F}


def inert(value: object, *, newlines: bool = False) -> str:
    """The text of `value` with every unsafe character shown as a visible escape such as `\\x1b`.

    With `newlines`, line breaks and tabs are kept (multi-line views and logs).
    """
    text = value if isinstance(value, str) else str(value)
    if text.isascii() and text.isprintable():
        return text  # the common case, decided at C speed: translate() looks up every character
    if newlines:
        return text.translate(_MULTILINE) if _UNSAFE_MULTILINE.search(text) else text
    return text.translate(_ONE_LINE) if _UNSAFE_ONE_LINE.search(text) else text


def inert_json(text: str) -> str:
    """Serialized JSON with the unsafe characters JSON leaves raw escaped as `\\uXXXX`."""
    return text.translate(_IN_JSON)


class InertFormatter(logging.Formatter):
    """Log lines quote request paths and registry answers: keep them from driving the terminal."""

    def format(self, record: logging.LogRecord) -> str:
        return inert(super().format(record), newlines=True)
