"""The capture file stays whole: other programs' databases, two processes, damaged pages, a deleted log."""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import urllib.request
from pathlib import Path

import orjson

from tests.cli_process import CliProcess
from tests.conftest import ROOT

STATUS = "/snowcatcher/api/status"


def _run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "snowcatcher", "--headless", "--port", "0", *map(str, args)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _get(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return orjson.loads(answer.read())  # type: ignore[no-any-return]


def _event(url: str, marker: str) -> None:
    with urllib.request.urlopen(f"{url}/i?e=pv&p=web&tv=x&url={marker}", timeout=10) as answer:
        assert answer.status == 200


def test_another_programs_database_is_refused_and_left_untouched(tmp_path: Path) -> None:
    places = tmp_path / "places.sqlite"
    db = sqlite3.connect(places)
    db.executescript("CREATE TABLE moz_places (id INTEGER PRIMARY KEY, url TEXT);"
                     "CREATE TABLE moz_bookmarks (id INTEGER PRIMARY KEY, fk INTEGER);"
                     "INSERT INTO moz_places VALUES (1, 'https://example.org/');")
    db.close()
    before = _digest(places)
    result = _run("--db", places)
    assert result.returncode == 2
    assert "is not a snowcatcher capture: it holds other tables (moz_bookmarks, moz_places)" in result.stderr
    assert "Traceback" not in result.stderr
    assert _digest(places) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["places.sqlite"]  # no -wal, no lock file


def test_a_database_with_damaged_pages_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "capture.sqlite"
    with CliProcess("--headless", "--offline", "--db", path) as catcher:
        catcher.wait_listening()
        for n in range(200):
            _event(catcher.url, f"{'x' * 400}{n}")
    data = bytearray(path.read_bytes())
    for offset in range(4096 * 3, len(data), 4096 * 2):  # every other page past the schema
        data[offset:offset + 200] = b"\xff" * 200
    path.write_bytes(bytes(data))
    result = _run("--db", path)
    assert result.returncode == 2
    assert "cannot open the database" in result.stderr and "damaged" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_second_snowcatcher_on_one_capture_refuses_to_start(tmp_path: Path) -> None:
    path = tmp_path / "capture.sqlite"
    with CliProcess("--headless", "--offline", "--db", path) as first:
        first.wait_listening()
        result = _run("--db", path)
        assert result.returncode == 2
        assert f"is in use by another snowcatcher (process {first.process.pid}:" in result.stderr
        _event(first.url, "still-served")  # the first one goes on
    # Once the first has stopped, the file opens again.
    with CliProcess("--headless", "--offline", "--db", path) as again:
        again.wait_listening()


def test_a_log_deleted_while_running_is_rescued_and_reported(tmp_path: Path) -> None:
    path = tmp_path / "capture.sqlite"
    catcher = CliProcess("--headless", "--offline", "--db", path)
    try:
        catcher.wait_listening()
        for n in range(300):
            _event(catcher.url, f"before-{n}")
        os.unlink(f"{path}-wal")
        os.unlink(f"{path}-shm")
        for n in range(300):
            _event(catcher.url, f"after-{n}")
        warnings = _get(catcher.url + STATUS)["store"]["warnings"]  # type: ignore[index]
        assert any("capture.sqlite-wal and capture.sqlite-shm deleted while snowcatcher was running"
                   in warning for warning in warnings)
        assert "deleted while snowcatcher was running" in catcher.read_error_line()
        os.kill(catcher.process.pid, signal.SIGKILL)  # no final checkpoint
        catcher.process.wait(timeout=10)
    finally:
        catcher.stop()
    db = sqlite3.connect(path)
    assert db.execute("SELECT count(*) FROM events").fetchone()[0] == 600
