"""The command line against real processes: expect (passing, failing, YAML), import, and persistence."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import IGLU
from tests.data import TP2, body, struct

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def running_snowcatcher(tmp_path: Path, db: Path, *extra: str) -> Iterator[str]:
    """`snowcatcher --headless` in its own process on a free port; yields its URL."""
    log = tmp_path / f"stderr-{time.monotonic_ns()}.txt"
    schemas = ["--schemas", str(IGLU)] if IGLU.is_dir() else []
    with log.open("w") as errors:
        process = subprocess.Popen(
            [sys.executable, "-m", "snowcatcher", "--headless", "--port", "0", "--offline", "--db", str(db),
             *schemas, *extra], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=errors, env=_env())
    try:
        yield _wait_for_url(log, process)
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0, log.read_text()


def _wait_for_url(log: Path, process: subprocess.Popen[bytes]) -> str:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        found = re.search(r"listening on (http://\S+),", log.read_text())
        if found:
            return found.group(1)
        assert process.poll() is None, log.read_text()
        time.sleep(0.05)
    raise AssertionError(f"snowcatcher did not start: {log.read_text()}")


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "XDG_CACHE_HOME": str(ROOT / ".pytest_cache")}


def send(url: str, *events: dict[str, str]) -> None:
    request = urllib.request.Request(url + TP2, data=json.dumps(body(*events)).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=5) as answer:
        assert answer.status == 200


def read(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as answer:
        return json.loads(answer.read())


def snowcatcher(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "snowcatcher", *args], cwd=ROOT, env=_env(),
                          capture_output=True, text=True, timeout=timeout)


def test_expect_passes_and_fails_readably(tmp_path: Path) -> None:
    with running_snowcatcher(tmp_path, tmp_path / "c.sqlite") as url:
        send(url, struct("checkout", se_la="basket"), struct("oops", se_va="a lot"))
        passed = snowcatcher("expect", "name:checkout", "--url", url, "--field", "se_label=basket",
                             "--field", "se_category=cat", "--timeout", "5")
        assert passed.returncode == 0, passed.stdout + passed.stderr
        assert 'PASS  filter "name:checkout", se_label=basket, se_category=cat: 1 matching' in passed.stdout
        assert "all 1 checks passed" in passed.stdout
        failed = snowcatcher("expect", "name:checkout", "--url", url, "--count", "2", "--timeout", "0.5",
                             "--field", "se_label=shelf", "--no-invalid")
        assert failed.returncode == 1
        out = failed.stdout
        assert 'FAIL  filter "name:checkout", se_label=shelf: 0 matching event(s), wanted at least 2' in out
        assert 'se_label is "basket", wanted "shelf"' in out
        assert "FAIL  no invalid events: 1 invalid event(s)" in out
        assert "se_va (value) must be a number" in out
        assert "2 of 2 checks failed" in out


def test_expect_waits_for_events_that_arrive_later(tmp_path: Path) -> None:
    with running_snowcatcher(tmp_path, tmp_path / "c.sqlite") as url:
        waiting = subprocess.Popen([sys.executable, "-m", "snowcatcher", "expect", "type:struct",
                                    "--url", url, "--timeout", "20"], cwd=ROOT, env=_env(),
                                   stdout=subprocess.PIPE, text=True)
        time.sleep(1.0)
        assert waiting.poll() is None
        send(url, struct("late"))
        out, _ = waiting.communicate(timeout=20)
        assert waiting.returncode == 0, out


def test_expectations_file(tmp_path: Path) -> None:
    checks = tmp_path / "tracking.yml"
    checks.write_text(
        "timeout: 3\n"
        "expect:\n"
        "  - name: add to basket\n"
        "    filter: name:add app:shop\n"
        "    count: 2\n"
        "    fields: {se_category: cat, se_value: 2}\n"
        "  - name: page view\n"
        "    filter: type:page_view\n"
        "    timeout: 0.5\n"
        "  - type:struct\n")
    with running_snowcatcher(tmp_path, tmp_path / "c.sqlite") as url:
        send(url, struct("add", se_va="2"), struct("add", se_va="2.0"))
        result = snowcatcher("expect", "--file", str(checks), "--url", url)
        assert result.returncode == 1
        lines = result.stdout.splitlines()
        assert any(line.startswith('PASS  add to basket (filter "name:add app:shop"') for line in lines)
        assert any(line.startswith('FAIL  page view (filter "type:page_view")') for line in lines)
        assert any(line.startswith('PASS  filter "type:struct"') for line in lines)
        assert "1 of 3 checks failed" in result.stdout
    broken = tmp_path / "broken.yml"
    broken.write_text("expect:\n  - filter: x\n    colour: red\n")
    result = snowcatcher("expect", "--file", str(broken))
    assert result.returncode == 2 and "unknown key(s) colour" in result.stderr


def test_expect_reports_an_unreachable_server() -> None:
    result = snowcatcher("expect", "type:struct", "--url", "http://127.0.0.1:9", "--timeout", "1")
    assert result.returncode == 1 and "cannot reach snowcatcher at http://127.0.0.1:9" in result.stdout


def test_capture_survives_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "capture.sqlite"
    with running_snowcatcher(tmp_path, db) as url:
        send(url, struct("kept"), struct("kept too", se_va="x"))
        counts = read(url + "/micro/all")
        good = read(url + "/micro/good")
    assert counts == {"total": 2, "good": 1, "bad": 1}
    with running_snowcatcher(tmp_path, db) as url:
        assert read(url + "/micro/all") == counts
        assert read(url + "/micro/good") == good
        send(url, struct("new"))
        assert read(url + "/micro/all") == {"total": 3, "good": 2, "bad": 1}


def test_import_har_into_a_file_and_over_http(tmp_path: Path) -> None:
    with running_snowcatcher(tmp_path, tmp_path / "first.sqlite") as url:
        send(url, struct("a"), struct("b", se_va="x"))
        with urllib.request.urlopen(url + "/snowcatcher/api/export.har", timeout=5) as answer:
            (tmp_path / "session.har").write_bytes(answer.read())
        exported = read(url + "/micro/all")
    result = snowcatcher("import", str(tmp_path / "session.har"), "--db", str(tmp_path / "second.sqlite"),
                         "--offline")
    assert result.returncode == 0, result.stderr
    assert "imported 2 events (1 invalid) from 1 requests" in result.stdout
    with running_snowcatcher(tmp_path, tmp_path / "second.sqlite") as url:
        assert read(url + "/micro/all") == exported
        over_http = snowcatcher("import", str(tmp_path / "session.har"), "--url", url)
        assert over_http.returncode == 0 and "imported 2 events" in over_http.stdout
        assert read(url + "/micro/all")["total"] == 4
    missing = snowcatcher("import", str(tmp_path / "nothing.har"), "--url", "http://127.0.0.1:9")
    assert missing.returncode == 1 and "cannot read" in missing.stderr


@pytest.mark.parametrize("args", [["--help"], ["expect", "--help"], ["import", "--help"]])
def test_help_mentions_the_commands(args: list[str]) -> None:
    result = snowcatcher(*args)
    assert result.returncode == 0 and "snowcatcher" in result.stdout
