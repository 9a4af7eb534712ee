"""Fills a store with a million realistic events fast, through the store's batched executemany writer."""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from snowcatcher.model import Response
from snowcatcher.store.store import Store
from tests.tui import samples

CHUNK = 20_000


def fill(path: Path, count: int) -> Store:
    """Open (or create) the store at `path` holding `count` events (GitLab, JS, Wikimedia, 1 in 3 invalid)."""
    store = Store(path)
    have = store.counts().total
    if have > count and store._db.execute("SELECT count(*) FROM events WHERE id <= ?",
                                          (count,)).fetchone()[0] == count:
        store._db.execute("DELETE FROM events WHERE id > ?", (count,))  # what an earlier run added
        store._db.execute("DELETE FROM requests WHERE id > ?", (count,))
        store.close()
        store = Store(path)
        have = store.counts().total
    if have == count:
        return store
    store.reset()
    started = time.perf_counter()
    templates = [*samples.mixed(6 * 5), samples.hostile()]
    answer = Response(200, b"ok")
    for first in range(0, count, CHUNK):
        batch = []
        for n in range(first, min(count, first + CHUNK)):
            request, event = templates[n % len(templates)]
            at = samples.T0 + n * 0.0005
            batch.append((replace(request, received_at=at), answer, [replace(event, received_at=at)], None))
        store._write(batch)  # the store's own batched executemany, without notifying anyone
    store.close()
    print(f"filled {path} with {count:,} events in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return Store(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db", type=Path, help="the capture file to fill (created if missing)")
    parser.add_argument("count", type=int, nargs="?", default=1_000_000, help="how many events")
    args = parser.parse_args()
    fill(args.db, args.count).close()


if __name__ == "__main__":
    main()
