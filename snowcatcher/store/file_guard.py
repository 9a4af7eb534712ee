"""Keeping a capture file whole: no other program's database, one snowcatcher at a time, its log on disk."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; SQLite's own locking is all there is
    fcntl = None  # type: ignore[assignment]

#: The tables a snowcatcher capture holds; SQLite's own (sqlite_*) are ignored.
OWN_TABLES = frozenset({"requests", "events", "entity_sets", "schema_sets"})


class CaptureFileError(RuntimeError):
    """The file must not be used as a capture; the message says why and what to do."""


def check_foreign(path: Path) -> None:
    """Refuse, before anything is written, a database that holds tables of another program.

    Opening it the usual way would turn it into WAL mode and add four tables: a browser's
    places.sqlite given to --db by mistake must stay exactly as it was.
    """
    if not path.is_file() or path.stat().st_size == 0:
        return
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return  # the usual open reports it, with its hint
    try:
        tables = {name for (name,) in db.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}
    except sqlite3.Error:
        return
    finally:
        db.close()
    foreign = sorted(name for name in tables - OWN_TABLES if not name.startswith("sqlite_"))
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise CaptureFileError(
            f"{path} is not a snowcatcher capture: it holds other tables ({shown}); it was left "
            "untouched; give --db a new file or an earlier capture")


class CaptureLock:
    """An advisory lock on `<db>.lock`, held while a process uses the capture.

    Two snowcatchers on one file would both number events from the same last id and fail each
    other's inserts. SQLite's locks cannot name the other process and are taken only while a
    transaction runs; flock on a separate file (SQLite uses POSIX locks on the database itself,
    which flock never touches) is held for the whole run and released by the kernel however the
    process ends, even on kill -9. The file records the holder's pid for the message.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(f"{path}.lock")
        self._fd: int | None = None
        if fcntl is None:
            return
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            return  # a read-only folder: the store's own open says what is wrong
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = _read_holder(fd)
            os.close(fd)
            raise CaptureFileError(
                f"{path} is in use by another snowcatcher{holder}: two processes writing one "
                "capture would corrupt it; stop the other one or choose another --db") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        # The file stays: removing it would let a third process lock a new file while a second
        # still holds the old one.
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _read_holder(fd: int) -> str:
    with contextlib.suppress(OSError, ValueError):
        pid = int(os.pread(fd, 32, 0).decode().strip())
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        return f" (process {pid}: {command.strip()[:120]})" if command else f" (process {pid})"
    return ""


class LogWatch:
    """Notices when the -wal or -shm file beside the database is deleted or replaced while open.

    SQLite keeps writing to the deleted file through its open descriptor: everything committed
    since the last checkpoint would vanish when the process ends.
    """

    SUFFIXES = ("-wal", "-shm")

    def __init__(self, path: Path) -> None:
        self.path = path
        self._identity = self._identities()

    def _identities(self) -> dict[str, tuple[int, int] | None]:
        found: dict[str, tuple[int, int] | None] = {}
        for suffix in self.SUFFIXES:
            try:
                stat = os.stat(f"{self.path}{suffix}")
                found[suffix] = (stat.st_dev, stat.st_ino)
            except OSError:
                found[suffix] = None
        return found

    def missing(self) -> list[str]:
        """The files (e.g. `capture.sqlite-wal`) gone or replaced since the last `reset()`."""
        now = self._identities()
        for suffix, known in self._identity.items():
            if known is None:  # SQLite creates the log at the first write after an open
                self._identity[suffix] = now[suffix]
        return [f"{self.path.name}{suffix}" for suffix, known in self._identity.items()
                if known is not None and now[suffix] != known]

    def reset(self) -> None:
        self._identity = self._identities()
