"""Make untrusted event text inert for a terminal: no control characters, escapes or bidi overrides."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

# C0 and C1 controls (ESC starts ANSI/OSC sequences), DEL, the bidi embedding, override and isolate
# characters that make text display differently from what it is, and invisible separators.
_BIDI = [0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
_INVISIBLE = [0x00AD, 0x200B, 0x200C, 0x200D, 0x2028, 0x2029, 0xFEFF]
# Unicode's Default_Ignorable_Code_Point set (DerivedCoreProperties.txt, Unicode 15.1): characters
# a terminal draws as nothing, so `login` and `log\u2060in` look alike. Word joiners and invisible
# operators, the Mongolian vowel separator, Hangul fillers, variation selectors and the tag
# characters. The interlinear annotation marks (U+FFF9-FFFB) are no ignorables but hide text too.
_IGNORABLE = [0x034F, *range(0x115F, 0x1161), 0x17B4, 0x17B5, *range(0x180B, 0x1810),
              *range(0x2060, 0x2070), 0x3164, *range(0xFE00, 0xFE10), 0xFFA0, *range(0xFFF0, 0xFFFC),
              *range(0x1BCA0, 0x1BCA4), *range(0x1D173, 0x1D17B), *range(0xE0000, 0xE1000)]


def _escape(code: int) -> str:
    if code > 0xFFFF:
        return f"\\U{code:08x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _json_escape(code: int) -> str:
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    high, low = divmod(code - 0x10000, 0x400)
    return f"\\u{0xD800 + high:04x}\\u{0xDC00 + low:04x}"


def _char_class(codes: list[int]) -> re.Pattern[str]:
    """A regular expression matching any of `codes`, written as ranges."""
    ranges: list[list[int]] = []
    for code in sorted(codes):
        if ranges and code == ranges[-1][1] + 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    return re.compile("[" + "".join(re.escape(chr(low)) if low == high else
                                    f"{re.escape(chr(low))}-{re.escape(chr(high))}"
                                    for low, high in ranges) + "]")


_ONE_LINE = {code: _escape(code) for code in [*range(0x00, 0x20), *range(0x7F, 0xA0), *_BIDI,
                                               *_INVISIBLE, *_IGNORABLE]}
_MULTILINE = {code: text for code, text in _ONE_LINE.items() if code not in (0x09, 0x0A)}
_UNSAFE_ONE_LINE = _char_class(list(_ONE_LINE))
_UNSAFE_MULTILINE = _char_class(list(_MULTILINE))
# JSON already escapes C0 controls; the rest become \uXXXX escapes (a surrogate pair beyond the
# BMP, as JSON writes them), which keep the same data.
_IN_JSON = {code: _json_escape(code) for code in _ONE_LINE if code >= 0x7F}


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


def as_json(value: Any, limit: int | None = None) -> str:
    """`value` as JSON text for a message people read (`"moon"`, `null`, `true`, `[1, 2]`), never a
    Python repr (`'moon'`, `None`, `True`); cut to `limit` characters when given."""
    try:
        shown = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError, RecursionError):
        shown = str(value)
    return shown if limit is None or len(shown) <= limit else shown[: limit - 1] + "…"
