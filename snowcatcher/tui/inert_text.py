"""Untrusted event text made inert: control characters, ANSI/OSC escapes, bidi overrides shown as escapes."""

from __future__ import annotations

from typing import Any

import orjson
from rich.text import Text

from snowcatcher.text import inert


def clean(value: object, *, multiline: bool = False) -> str:
    """The text of `value` with nothing a terminal would interpret (a newline stays if `multiline`)."""
    return inert(value, newlines=multiline)


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
