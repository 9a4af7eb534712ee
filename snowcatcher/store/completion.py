"""Tab completion for the filter language: its keys and words, and values seen in the capture."""

from __future__ import annotations

from collections.abc import Callable

from snowcatcher.store.query import KEYS

#: The words a filter term can be besides `key:value` and plain text.
WORDS = ("invalid", "valid", "unchecked", "definition")
#: Values a key has in the capture that start with a prefix: Store.values_seen.
ValuesSeen = Callable[[str, str], list[str]]


def completions(text: str, values_seen: ValuesSeen) -> list[str]:
    """Every way to complete the last term of `text`, each the whole new filter text."""
    head, _, term = text.rpartition(" ")
    head = f"{head} " if head else ""
    negation = "-" if term.startswith("-") else ""
    term = term.removeprefix("-")
    key, colon, partial = term.partition(":")
    if colon:
        if key.lower() not in KEYS:
            return []
        return [f"{head}{negation}{key}:{_quoted(value)}"
                for value in values_seen(key.lower(), partial.strip('"'))]
    words = [f"{known}:" for known in KEYS] + list(WORDS)
    return [f"{head}{negation}{word}" for word in words if word.startswith(term.lower()) and word != term]


def _quoted(value: str) -> str:
    return f'"{value}"' if " " in value or not value else value
