"""Untrusted event text made inert: control characters, ANSI/OSC escapes, bidi overrides shown as escapes."""

from __future__ import annotations

from typing import Any

import orjson
from rich.text import Text

_BIDI = [0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
_INVISIBLE = [0x00AD, 0x200B, 0x200C, 0x200D, 0x2028, 0x2029, 0xFEFF]


def _escape_for(code: int) -> str:
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


#: Every C0/C1 control, DEL, bidi control and invisible separator becomes a visible `\xNN`/`\uNNNN`.
_TABLE: dict[int, str] = {code: _escape_for(code)
                          for code in [*range(0x00, 0x20), *range(0x7F, 0xA0), *_BIDI, *_INVISIBLE]}
_MULTILINE_TABLE = {code: text for code, text in _TABLE.items() if code not in (0x09, 0x0A)}


def clean(value: object, *, multiline: bool = False) -> str:
    """The text of `value` with nothing a terminal would interpret (a newline stays if `multiline`)."""
    text = value if isinstance(value, str) else str(value)
    return text.translate(_MULTILINE_TABLE if multiline else _TABLE)


def text(value: object, style: str = "") -> Text:
    """A Rich `Text` holding untrusted `value` verbatim (never parsed as markup), cleaned."""
    return Text(clean(value), style=style, no_wrap=True, end="")


def json_scalar(value: Any) -> str:
    """A JSON value as one line of JSON (strings quoted), for tree leaves and tables."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return repr(value)


def pretty_json(value: Any) -> str:
    """Indented JSON, cleaned for display (escapes inside strings are kept as JSON escapes)."""
    try:
        dumped = orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()
    except TypeError:
        dumped = repr(value)
    return clean(dumped, multiline=True)
