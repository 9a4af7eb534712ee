"""Every capture format snowcatcher writes imports back with the same events, through the real CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from snowcatcher.store.store import Store
from tests.cli_process import CliProcess
from tests.conftest import IGLU, ROOT
from tests.data import TP2, body, struct

API = "/snowcatcher/api"
#: received_at values no reader can show: far future, far past, the year 10000.
OUT_OF_RANGE = [1e20, -1e300, 253402300800.0]


def _post(url: str, path: str, data: bytes, content_type: str = "application/json") -> tuple[int, bytes]:
    request = urllib.request.Request(url + path, data=data, method="POST",
                                     headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as answer:
        return bytes(answer.read())


def _catcher(*extra: str) -> CliProcess:
    schemas = ["--schemas", str(IGLU)] if IGLU.is_dir() else []
    process = CliProcess("--headless", "--json", "--offline", *schemas, *extra)
    process.wait_listening()
    return process


def _send_traffic(url: str) -> int:
    """Batches with valid and invalid events, a single GET, an EventGate batch, an undecodable
    request and an EventLogging beacon; returns how many events the store holds for them."""
    _post(url, TP2, json.dumps(body(struct("first"), struct("second", se_va="x"),
                                    struct("third"))).encode())
    _get(url + "/i?e=pv&tv=js-3&p=web&aid=site&url=http%3A%2F%2Fshop.example%2F")
    # payload_data requires tv: the pipeline rejects the whole batch, both events are invalid
    _post(url, TP2, json.dumps(body(struct("kept back"), {"e": "pv", "p": "web"})).encode())
    wikimedia = {"$schema": "/test/0.0.1", "meta": {"stream": "test.event"}, "test": "x"}
    _post(url, "/v1/events", json.dumps([wikimedia, {**wikimedia, "test": "y"}]).encode())
    _post(url, TP2, b"{this is no json")
    capsule = {"schema": "HomepageVisit", "revision": 19792380, "wiki": "devwiki",
               "dt": "2020-04-02T19:11:20.942Z", "event": {"is_mobile": True, "user_id": 456}}
    _get(url + "/beacon/event?" + urllib.parse.quote(json.dumps(capsule)) + ";")
    return 3 + 1 + 2 + 2 + 1 + 1


def _events(db: Path) -> list[tuple[Any, ...]]:
    store = Store(db)
    try:
        return [(e.protocol, e.event_type, e.name, e.valid, e.violations, e.payload, e.received_at,
                 e.index, e.app_id) for e in store.after(0, limit=10_000)]
    finally:
        store.close()


def _import(file: Path, db: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "snowcatcher", "import", str(file), "--db", str(db),
                           "--offline"], cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def captured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """One session captured three ways (its store, `--headless --json`, both exports)."""
    folder = tmp_path_factory.mktemp("captured")
    process = _catcher("--db", str(folder / "original.sqlite"))
    try:
        expected = _send_traffic(process.url)
        (folder / "headless.ndjson").write_text("".join(process.read_line() for _ in range(expected)))
        (folder / "export.ndjson").write_bytes(_get(process.url + API + "/export.ndjson"))
        (folder / "export.har").write_bytes(_get(process.url + API + "/export.har"))
    finally:
        process.stop()
    yield {name: folder / name for name in ("original.sqlite", "headless.ndjson", "export.ndjson",
                                             "export.har")}


@pytest.mark.parametrize("name", ["export.ndjson", "headless.ndjson", "export.har"])
def test_each_format_imports_back_the_same_events(captured: dict[str, Path], tmp_path: Path,
                                                  name: str) -> None:
    result = _import(captured[name], tmp_path / "again.sqlite")
    assert result.returncode == 0, result.stderr
    original = _events(captured["original.sqlite"])
    again = _events(tmp_path / "again.sqlite")
    if name == "headless.ndjson":
        # A --headless --json line does not hold an undecodable request's bytes: it is named, not lost.
        assert "line 9: an undecodable request" in result.stderr
        assert "skipped 1 bad line or entry" in result.stdout
        original = [event for event in original if event[1] != "bad_request"]
    else:
        assert result.stderr == ""
    assert again == original
    invalid = sum(not event[3] for event in original)
    assert f"imported {len(original)} events ({invalid} invalid)" in result.stdout


def _poisoned(line: dict[str, Any], value: Any) -> dict[str, Any]:
    if "request" in line:
        request = json.loads(json.dumps(line["request"]))
        request["request"]["received_at"] = value
        return {**line, "request": request}
    return {**line, "received_at": value}


@pytest.mark.parametrize("name", ["export.ndjson", "headless.ndjson"])
def test_bad_lines_are_named_and_the_rest_is_imported(captured: dict[str, Path], tmp_path: Path,
                                                      name: str) -> None:
    lines = captured[name].read_text().splitlines()
    # a lone GET's line: poisoning it takes no other event along
    single = next(n for n, line in enumerate(lines) if json.loads(line)["event_type"] == "page_view")
    template = json.loads(lines[single])
    bad = [json.dumps(_poisoned(template, value)) for value in OUT_OF_RANGE]
    bad += [json.dumps(_poisoned(template, "NaN")), json.dumps(_poisoned(template, "inf")),
            '{"id": 1, "received_at": 17', "[1, 2]"]
    file = tmp_path / name
    file.write_text("\n".join([*lines, *bad]) + "\n")
    result = _import(file, tmp_path / "again.sqlite")
    assert result.returncode == 0, result.stderr
    first = len(lines) + 1
    key = "request.received_at" if name == "export.ndjson" else "received_at"
    shown = ["1e+20", "-1e+300", "253402300800.0"]
    if name == "export.ndjson":  # a stored request's time may be a string
        shown += ["NaN", "Infinity"]
    else:
        assert f"line {first + 3}: received_at must be a number of seconds since 1970, not a string" in (
            result.stderr)
    for number, value in enumerate(shown, first):
        assert f"line {number}: {key} {value} is not a time between 1970 and the end of 9999" in (
            result.stderr)
    assert f"line {first + 5}: not JSON" in result.stderr
    assert f"line {first + 6}: not a JSON object" in result.stderr
    imported = _events(tmp_path / "again.sqlite")
    assert len(imported) == len(_events(captured["original.sqlite"])) - (name == "headless.ndjson")
    assert f"skipped {7 + (name == 'headless.ndjson')} bad lines or entries" in result.stdout


def test_har_entries_out_of_range_are_named(captured: dict[str, Path], tmp_path: Path) -> None:
    har = json.loads(captured["export.har"].read_text())
    entries = har["log"]["entries"]
    good = len(entries)
    entries.append({**entries[0], "startedDateTime": "10000-01-01T00:00:00Z"})
    entries.append({**entries[0], "startedDateTime": "1900-01-01T00:00:00Z"})
    entries.append({"startedDateTime": "2025-03-18T03:22:43.000Z"})
    file = tmp_path / "poisoned.har"
    file.write_text(json.dumps(har))
    result = _import(file, tmp_path / "again.sqlite")
    assert result.returncode == 0, result.stderr
    assert f'HAR entry {good}: not a request: startedDateTime "10000-01-01T00:00:00Z" is not' in result.stderr
    assert f"HAR entry {good + 1}: startedDateTime -2208988800.0 is not a time" in result.stderr
    assert f'HAR entry {good + 2}: not a request: it has no "request"' in result.stderr
    assert _events(tmp_path / "again.sqlite") == _events(captured["original.sqlite"])


def test_import_over_http_keeps_every_reader_whole(captured: dict[str, Path], tmp_path: Path) -> None:
    """Poisoned lines posted to a running snowcatcher: named in the answer, and the events beside
    them reach --headless output, wait and /micro/good, which stay whole afterwards."""
    lines = captured["export.ndjson"].read_text().splitlines()
    bad = [json.dumps(_poisoned(json.loads(lines[0]), value)) for value in [*OUT_OF_RANGE, "NaN"]]
    process = _catcher()
    try:
        status, answer = _post(process.url, API + "/import", "\n".join([*bad, *lines]).encode(),
                               "application/x-ndjson")
        assert status == 200, answer
        report = json.loads(answer)
        assert report["bad"] == 4 and [p["where"] for p in report["problems"]] == [
            "line 1", "line 2", "line 3", "line 4"]
        total = len(_events(captured["original.sqlite"]))
        printed = [json.loads(process.read_line()) for _ in range(total)]
        assert [event["id"] for event in printed] == list(range(1, total + 1))
        waited = json.loads(_get(process.url + API + f"/wait?count={total}&timeout=10"))
        assert waited["ok"] and waited["found"] == total
        good = json.loads(_get(process.url + "/micro/good"))
        assert len(good) == sum(event[3] and event[0] == "snowplow"
                                for event in _events(captured["original.sqlite"]))
        file = tmp_path / "two.ndjson"
        file.write_text("\n".join([bad[0], lines[0]]))
        cli = subprocess.run([sys.executable, "-m", "snowcatcher", "import", str(file), "--url",
                              process.url], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert cli.returncode == 0, cli.stderr
        assert "line 1: request.received_at 1e+20 is not a time" in cli.stderr
        assert "skipped 1 bad line or entry" in cli.stdout
    finally:
        process.stop()


def _answers(db: Path) -> list[tuple[Any, ...]]:
    """Each stored request's answer: status, reason phrase and headers as sent."""
    store = Store(db)
    try:
        found = []
        for request_id in sorted({event.request_id for event in store.after(0, limit=10_000)}):
            stored = store.request(request_id)
            assert stored is not None
            found.append((stored.response.status, stored.response.reason, stored.response.headers))
        return found
    finally:
        store.close()


@pytest.mark.parametrize("name", ["export.ndjson", "export.har"])
def test_the_answers_headers_come_back_from_each_export(captured: dict[str, Path], tmp_path: Path,
                                                        name: str) -> None:
    """The answers' headers (Set-Cookie, CORS, Content-Type) and reason phrases are written to both
    exports and imported back as the collector sent them."""
    assert _import(captured[name], tmp_path / "again.sqlite").returncode == 0
    original = _answers(captured["original.sqlite"])
    assert all(headers for _, _, headers in original)
    assert any(("Access-Control-Allow-Origin", "*") in headers for _, _, headers in original)
    assert any(name == "Set-Cookie" for _, _, headers in original for name, _ in headers)
    assert any(reason and "accepted" in reason for _, reason, _ in original)  # EventGate's
    assert _answers(tmp_path / "again.sqlite") == original
    exported = captured[name].read_text()
    assert "Access-Control-Allow-Credentials" in exported and "SameSite=None" in exported
