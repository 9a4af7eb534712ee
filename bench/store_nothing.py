"""snowcatcher whose store builds every row but writes none to SQLite: what storing costs, for
bench/where_time_goes.py. A measuring tool, never for capturing anything.

    python bench/store_nothing.py --headless --port 9090 ...   (snowcatcher's own options)
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from snowcatcher.store import store


class _NoDatabase:
    """Takes the writer's statements and does nothing with them."""

    def executemany(self, sql: str, rows: Iterable[Any]) -> None:
        for _ in rows:
            pass


def _write_nothing(original: Any) -> Any:
    def write(self: store.Store, batch: Any) -> Any:
        database, self._db = self._db, _NoDatabase()  # type: ignore[assignment]
        try:
            return original(self, batch)
        finally:
            self._db = database

    return write


def main() -> int:
    store.Store._write = _write_nothing(store.Store._write)  # type: ignore[method-assign]
    store.Store._transaction = lambda self: contextlib.nullcontext()  # type: ignore[assignment,method-assign,return-value]
    from snowcatcher.cli import main as snowcatcher
    sys.argv[0] = "snowcatcher"
    return snowcatcher()


if __name__ == "__main__":
    sys.exit(main())
