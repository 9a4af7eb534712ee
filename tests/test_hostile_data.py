"""Hostile data: schema references that try to leave the configured sources, patterns that backtrack
forever, huge arrays, terminal escapes in headless output, where we listen, and unusable databases."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace

import aiohttp
import orjson
import pytest
from aiohttp import web

from snowcatcher.cli import build_parser
from snowcatcher.headless import HeadlessPrinter
from snowcatcher.model import CapturedEvent
from snowcatcher.protocols.snowplow import samples
from snowcatcher.runtime import Settings, Snowcatcher, announce
from snowcatcher.text import InertFormatter
from tests.conftest import ROOT
from tests.data import TP2, unstruct, write_schema
from tests.loopback import serving

JSON = {"Content-Type": "application/json"}


@pytest.fixture
async def spy() -> AsyncIterator[tuple[str, list[str]]]:
    """A server on 127.0.0.1 that must never be asked anything; it records what it was asked."""
    asked: list[str] = []

    async def serve(request: web.Request) -> web.Response:
        asked.append(request.path)
        return web.json_response({"type": "object"})

    app = web.Application()
    app.router.add_get("/{tail:.*}", serve)
    async with serving(app) as url:
        yield url, asked



@pytest.fixture
async def running(tmp_path: Path, spy: tuple[str, list[str]]) -> AsyncIterator[tuple[Snowcatcher, Path]]:
    folder = tmp_path / "schemas"
    folder.mkdir()
    catcher = Snowcatcher(Settings(port=0, schemas=[folder], iglu=[spy[0] + "/registry"],
                                   cache_dir=tmp_path / "cache"))
    await catcher.start()
    yield catcher, folder
    await catcher.stop()


async def post(catcher: Snowcatcher, *events: dict[str, str]) -> float:
    started = time.monotonic()
    async with aiohttp.ClientSession() as http, http.post(
            catcher.url + TP2, data=samples.body(*events), headers=JSON) as answer:
        assert answer.status == 200
    return time.monotonic() - started


# -- where schemas may come from ---------------------------------------------------------------


async def test_refs_cannot_reach_other_hosts_or_local_files(
        running: tuple[Snowcatcher, Path], spy: tuple[str, list[str]], tmp_path: Path) -> None:
    catcher, folder = running
    secret = tmp_path / "secret.json"
    secret.write_text(json.dumps({"type": "string"}))  # would make {"s": 1} invalid if it were read
    refs = {"file": secret.as_uri(), "http": spy[0] + "/evil.json", "relative": "../../secret.json"}
    for name, ref in refs.items():
        uri = write_schema(folder, f"ref_{name}", {"type": "object", "properties": {"s": {"$ref": ref}}})
        await post(catcher, unstruct(uri, {"s": 1}))
    events = catcher.store.window()
    assert len(events) == 3
    for event in events:
        [violation] = event.violations
        assert violation.keyword == "$ref" and "cannot be followed" in violation.message
    assert [path for path in spy[1] if not path.startswith("/registry/schemas/")] == []


async def test_fetches_go_only_to_configured_registries(
        running: tuple[Snowcatcher, Path], spy: tuple[str, list[str]]) -> None:
    catcher, _ = running
    hostile = ["iglu:com.acme/../../../etc/jsonschema/1-0-0", f"{spy[0]}/x/jsonschema/1-0-0",
               "iglu:com.acme@127.0.0.2/x/jsonschema/1-0-0", "iglu:com.acme/x/jsonschema/1-0-0?x=1",
               "iglu:com.acme/x%2F..%2F../jsonschema/1-0-0", "iglu:com.acme/fine/jsonschema/1-0-0"]
    await post(catcher, *(unstruct(uri, {}) for uri in hostile))
    await asyncio.sleep(0.5)
    # Only the well-formed URI was asked for, under the configured registry's /schemas/ path.
    assert spy[1] == ["/registry/schemas/com.acme/fine/jsonschema/1-0-0"]
    assert sum("not a valid Iglu URI" in v.message for e in catcher.store.window()
               for v in e.violations) == 5


# -- bounded validation cost -------------------------------------------------------------------


async def test_a_backtracking_pattern_does_not_stall_other_requests(
        running: tuple[Snowcatcher, Path]) -> None:
    catcher, folder = running
    uri = write_schema(folder, "evil", {"type": "object", "properties": {
        "s": {"type": "string", "pattern": "^(a|aa)+$"}}})
    # With Python's re this takes longer than the age of the universe.
    hostile = asyncio.ensure_future(post(catcher, *(unstruct(uri, {"s": "a" * 60 + "!"}),) * 5))
    await asyncio.sleep(0.05)
    async with aiohttp.ClientSession() as http:
        started = time.monotonic()
        async with http.get(catcher.url + "/i", params={"e": "pv", "p": "web", "tv": "js"}) as answer:
            assert answer.status == 200
        other = time.monotonic() - started
    took = await hostile
    assert took < 3 and other < 1.5, (took, other)
    evil = [e for e in catcher.store.window() if e.event_type == "unstruct"]
    assert len(evil) == 5
    # RE2 runs the pattern in linear time, so the answer is a real verdict, not a timeout.
    assert all(e.verdict == "invalid" and [v.keyword for v in e.violations] == ["pattern"] for e in evil)
    await post(catcher, unstruct(uri, {"s": "a" * 61}))
    assert catcher.store.window(limit=1, newest_first=True)[0].verdict == "valid"


async def test_huge_arrays_are_validated_in_bounded_time(running: tuple[Snowcatcher, Path]) -> None:
    catcher, folder = running
    uri = write_schema(folder, "many", {"type": "object", "properties": {
        "xs": {"type": "array", "uniqueItems": True, "items": {"type": "object"}}}})
    items = [{"i": n} for n in range(60_000)]
    took = await post(catcher, unstruct(uri, {"xs": items}))
    duplicate = await post(catcher, unstruct(uri, {"xs": [*items[:30_000], {"i": 5}]}))
    assert took < 5 and duplicate < 5, (took, duplicate)  # jsonschema's pairwise check: hours
    first, second = catcher.store.window()
    assert first.valid and [v.keyword for v in second.violations] == ["uniqueItems"]


# -- terminal output ---------------------------------------------------------------------------

ESCAPES = {"clear": "\x1b[2J\x1b[H", "title": "\x1b]0;pwned\x07", "osc52": "\x1b]52;c;cm0gLXJmIH4=\x07",
           "c1-csi": "\x9b2J", "c1-osc": "\x9d0;t\x9c", "bidi": "\u202eevil\u202c",
           "isolate": "\u2066x\u2069",
           "bell-del-nul": "\x07\x7f\x00", "backspace": "ab\x08\x08", "cr": "line\roverwrite"}
FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
async def test_headless_output_cannot_drive_the_terminal(running: tuple[Snowcatcher, Path],
                                                         as_json: bool) -> None:
    catcher, _ = running
    out = io.StringIO()
    catcher.store.subscribe(HeadlessPrinter(as_json=as_json, out=out))
    events = [{"e": "se", "p": "web", "tv": "js", "se_ac": f"{name}{text}", "aid": text, "url": text}
              for name, text in ESCAPES.items()]
    await post(catcher, *events)
    async with aiohttp.ClientSession() as http, http.get(
            catcher.url + "/\x1b]0;title\x07/" + "\u202e", params={"e": "\x1b[31m"}) as answer:
        assert answer.status in (200, 404)
    printed = out.getvalue()
    lines = printed.splitlines()
    assert len(lines) == len(ESCAPES) + 1
    assert not FORBIDDEN.search(printed.replace("\n", "")), repr(printed)
    if as_json:  # the data is all still there, escaped
        names = [orjson.loads(line)["name"] for line in lines[: len(ESCAPES)]]
        assert names == [f"{name}{text}" for name, text in ESCAPES.items()]
    else:
        assert "clear\\x1b[2J" in printed and "bidi\\u202eevil" in printed


def test_log_lines_are_inert() -> None:
    record = logging.LogRecord("x", logging.ERROR, "f", 1, "decoding %s failed", ("/\x1b]52;c;x\x07",), None)
    assert InertFormatter("%(message)s").format(record) == "decoding /\\x1b]52;c;x\\x07 failed"


# -- where we listen ---------------------------------------------------------------------------


def test_the_default_is_loopback_and_all_interfaces_warn(capsys: pytest.CaptureFixture[str]) -> None:
    assert build_parser().parse_args([]).host == "127.0.0.1" and Settings().host == "127.0.0.1"
    for host, warned in (("127.0.0.1", False), ("0.0.0.0", True), ("::", True), ("", True)):
        settings = Settings(host=host)
        announce(SimpleNamespace(settings=settings, url=f"http://{host}:9090",  # type: ignore[arg-type]
                                 store=SimpleNamespace(path="x")))
        assert ("listening on all interfaces" in capsys.readouterr().err) is warned, host


# -- unusable databases ------------------------------------------------------------------------


def run_cli_as(args: list[str], *, file_limit: int | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI in a subprocess; as root (where permissions do not bind) it drops to nobody first,
    after its imports, so that a read-only file really is read-only to it."""
    code = ("import os, sys, snowcatcher.cli as cli\n"
            "if os.geteuid() == 0:\n    os.setgid(65534); os.setuid(65534)\n"
            "sys.exit(cli.main(sys.argv[1:]))")

    def limit() -> None:
        if file_limit is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_limit, file_limit))

    return subprocess.run([sys.executable, "-c", code, "--headless", "--offline", "--port", "0", *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=60, preexec_fn=limit,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


@pytest.mark.parametrize("case", ["read-only-file", "read-only-folder", "disk-full"])
def test_an_unwritable_database_is_a_clear_error_at_start(case: str) -> None:
    # Not under tmp_path: pytest's folders are private to root, and the CLI runs as nobody.
    folder = Path(tempfile.mkdtemp(prefix="snowcatcher-db-"))
    folder.chmod(0o755)
    db = folder / "capture.sqlite"
    if case == "read-only-file":
        db.write_bytes(b"")
        db.chmod(0o444)
    elif case == "read-only-folder":
        folder.chmod(0o555)
    else:
        folder.chmod(0o777)
    try:
        result = run_cli_as(["--db", str(db)], file_limit=1024 if case == "disk-full" else None)
    finally:
        folder.chmod(0o755)
        shutil.rmtree(folder, ignore_errors=True)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert f"cannot open the database {db}" in result.stderr, result.stderr
    assert re.search(r"read-only|disk is full|cannot write", result.stderr), result.stderr



@pytest.mark.parametrize("received_at", [1e20, -1e20, float("nan")])
def test_headless_prints_an_event_whose_time_has_no_date(received_at: float) -> None:
    event = CapturedEvent(protocol="snowplow", event_type="page_view", name="", schema="", app_id="web",
                          payload={"e": "pv"}, received_at=received_at, id=1)
    printed = io.StringIO()
    HeadlessPrinter(out=printed)([event])
    assert printed.getvalue().startswith(f"invalid time: {received_at} ✓ sp page_view")
