"""Shared helpers for the Wikimedia tests: corpus paths, a running snowcatcher, subset matching."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from snowcatcher.runtime import Settings, Snowcatcher

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
WIKIMEDIA = CORPUS / "wikimedia"
TEST_SCHEMAS = WIKIMEDIA / "eventgate-test-schemas"
PRIMARY = WIKIMEDIA / "schemas-event-primary"
SECONDARY = WIKIMEDIA / "schemas-event-secondary"
EVENTGATE_EVENTS = CORPUS / "events" / "wikimedia" / "eventgate"
EVENTGATE_EXPECTED = CORPUS / "expected" / "wikimedia" / "eventgate"
SCHEMA_EXAMPLES = CORPUS / "events" / "wikimedia" / "schema-examples"
SEED = CORPUS.parent / "seeds" / "wikimedia_homepagevisit_schema.txt"

needs_corpus = pytest.mark.skipif(
    not WIKIMEDIA.is_dir(),
    reason=f"the third-party test corpus is not at {CORPUS} (it lives in ../shared/corpus "
           "next to the repository and is never copied into it)")


@contextlib.asynccontextmanager
async def running(*schemas: Path, streams: Path | None = None) -> AsyncIterator[Snowcatcher]:
    """A snowcatcher on 127.0.0.1 with a free port, offline, using these schema folders."""
    catcher = Snowcatcher(Settings(port=0, offline=True, cache_dir=None, schemas=list(schemas),
                                   streams=streams))
    await catcher.start()
    try:
        yield catcher
    finally:
        await catcher.stop()


def assert_subset(expected: Any, actual: Any, where: str = "body") -> None:
    """The spec's subset match: every key and list item given in `expected` is in `actual`."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: expected an object, got {actual!r}"
        for key, value in expected.items():
            assert key in actual, f"{where}: missing {key!r} in {actual!r}"
            assert_subset(value, actual[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) >= len(expected), f"{where}: {actual!r}"
        for index, item in enumerate(expected):
            assert_subset(item, actual[index], f"{where}[{index}]")
    else:
        assert actual == expected, f"{where}: expected {expected!r}, got {actual!r}"
