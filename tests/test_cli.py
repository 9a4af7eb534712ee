"""The command line, run for real: headless lines, the NDJSON contract, and clear start-up errors."""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import sys
import urllib.request
from pathlib import Path

from snowcatcher.protocols.snowplow import samples
from tests.cli_process import CliProcess
from tests.conftest import ROOT
from tests.data import TP2


def send(url: str, body: bytes) -> int:
    request = urllib.request.Request(url + TP2, data=body,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return int(answer.status)


def test_headless_prints_one_readable_line_per_event(iglu: Path) -> None:
    cli = CliProcess("--headless", "--offline", "--schemas", iglu)
    try:
        assert "storing in a temporary capture" in cli.wait_listening()
        send(cli.url, samples.body(samples.gitlab_struct_event("i_code_review_user_approve_mr"),
                                   samples.gitlab_struct_event("i_quickactions_approve", realm="moon")))
        good, bad = cli.read_line(), cli.read_line()
        assert "✓ sp struct" in good and "i_code_review_user_approve_mr" in good and "gitlab" in good
        assert "✗ sp struct" in bad and "gitlab_standard /realm: \"moon\" is not one of" in bad
    finally:
        cli.stop()


def test_headless_json_follows_the_contract(iglu: Path) -> None:
    cli = CliProcess("--headless", "--json", "--offline", "--schemas", iglu)
    try:
        cli.wait_listening()
        send(cli.url, samples.body(samples.link_click()))
        record = json.loads(cli.read_line())
    finally:
        cli.stop()
    assert {"id", "received_at", "protocol", "event_type", "name", "schema", "app_id", "contexts",
            "valid", "violations", "payload"} <= record.keys()
    assert (record["protocol"], record["event_type"], record["name"]) == ("snowplow", "unstruct",
                                                                          "link_click")
    assert record["schema"] == samples.LINK_CLICK and record["valid"] is True
    assert record["payload"]["e"] == "ue" and isinstance(record["id"], int)


def test_a_kept_database_survives_a_restart(iglu: Path, tmp_path: Path) -> None:
    db = tmp_path / "capture.sqlite"
    for _ in range(2):
        cli = CliProcess("--headless", "--offline", "--schemas", iglu, "--db", db)
        try:
            assert str(db) in cli.wait_listening()
            send(cli.url, samples.body(samples.page_view()))
            line = cli.read_line()
            assert "page_view" in line
        finally:
            cli.stop()
    with sqlite3.connect(db) as connection:
        assert connection.execute("SELECT count(*) FROM events").fetchone()[0] == 2


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "snowcatcher", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=30, stdin=subprocess.DEVNULL)


def test_a_busy_port_is_a_clear_error() -> None:
    holder = CliProcess("--headless", "--offline")
    try:
        holder.wait_listening()
        result = run_cli("--headless", "--offline", "--port", str(holder.port))
    finally:
        holder.stop()
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "the port is already in use" in result.stderr


def test_an_unusable_database_is_a_clear_error(tmp_path: Path) -> None:
    result = run_cli("--headless", "--offline", "--port", "0", "--db", str(tmp_path / "no" / "x.db"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "cannot open the database" in result.stderr


def test_a_missing_schemas_folder_is_a_clear_error(tmp_path: Path) -> None:
    result = run_cli("--headless", "--schemas", str(tmp_path / "nowhere"))
    assert result.returncode == 2 and "no such folder" in result.stderr


def test_timeouts_are_set_on_the_command_line() -> None:
    cli = CliProcess("--headless", "--offline", "--idle-timeout", "0.3", "--body-timeout", "0.3")
    try:
        cli.wait_listening()
        with socket.create_connection(("127.0.0.1", cli.port), timeout=60) as idle:
            assert idle.recv(1) == b""  # closed by the server: it sent nothing for 0.3 s
        with socket.create_connection(("127.0.0.1", cli.port), timeout=60) as stalled:
            stalled.sendall(f"POST {TP2} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                            "Content-Length: 100\r\n\r\n{".encode())
            assert stalled.recv(100).startswith(b"HTTP/1.1 408")
    finally:
        cli.stop()


def test_bad_timeouts_are_clear_errors() -> None:
    for option, value, reason in (("--idle-timeout", "soon", '"soon" is not a number of seconds'),
                                  ("--body-timeout", "0", "0 must be above 0"),
                                  ("--idle-timeout", "nan", "nan must be above 0"),
                                  ("--body-timeout", "1e9", "1e9 must be above 0 and at most 86400 seconds")):
        result = run_cli("--headless", "--offline", option, value)
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert f"argument {option}: {reason}" in result.stderr, result.stderr


def test_listening_on_all_interfaces_warns(tmp_path: Path) -> None:
    cli = CliProcess("--headless", "--offline", "--host", "0.0.0.0", env={"TMPDIR": str(tmp_path)})
    try:
        cli.wait_listening()
        warning = cli.read_error_line()
    finally:
        cli.stop()  # at once: the temporary capture is removed even this early
    assert "listening on all interfaces" in warning
    assert cli.process.returncode == 0 and not list(tmp_path.glob("snowcatcher-*")), \
        "the temporary capture was left behind"
