"""No web page can read or wipe the capture: Host, Origin, token and redaction rules over real HTTP."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest

from snowcatcher.api import importer
from snowcatcher.cli import main as cli_main
from snowcatcher.qa import expect
from snowcatcher.runtime import Settings, Snowcatcher, announce
from tests.browser_support import Page
from tests.conftest import settings
from tests.data import TP2, body, struct

EVIL = "http://evil.example"
SESSION = "4f0c2d7e9b1a_admin_session"
NUID = "c3b5f7a1-2d4e-4f60-8a9b-1c2d3e4f5a6b"
BROWSER_COOKIES = f"_gitlab_session={SESSION}; sp={NUID}; _sp_id.1fff=d-1.1700000000.1; known_sign_in=zz9"
#: Every read and control endpoint, with the method a page would use.
READ_ENDPOINTS = [
    ("GET", "/micro/all"), ("GET", "/micro/good"), ("POST", "/micro/good"), ("GET", "/micro/bad"),
    ("GET", "/micro/reset"), ("POST", "/micro/reset"),
    ("GET", "/micro/iglu/com.snowplowanalytics.snowplow/link_click/jsonschema/1-0-1"),
    ("GET", "/snowcatcher/api"), ("GET", "/snowcatcher/api/status"), ("GET", "/snowcatcher/api/events"),
    ("GET", "/snowcatcher/api/events/1"), ("DELETE", "/snowcatcher/api/events"),
    ("GET", "/snowcatcher/api/wait?timeout=0"), ("GET", "/snowcatcher/api/stream"),
    ("GET", "/snowcatcher/api/export.ndjson"), ("GET", "/snowcatcher/api/export.har"),
    ("POST", "/snowcatcher/api/import"),
]


@pytest.fixture
async def running(request: pytest.FixtureRequest) -> AsyncIterator[Snowcatcher]:
    """A snowcatcher with the settings an indirect parameter gives, holding one captured event."""
    catcher = Snowcatcher(settings(**getattr(request, "param", {})))
    await catcher.start()
    headers = {"Cookie": BROWSER_COOKIES, "Authorization": "Basic YWRtaW46aHVudGVyMg==",
               "Origin": "http://gdk.test:3000"}
    async with aiohttp.ClientSession() as http, http.post(
            catcher.url + TP2, json=body(struct("seen")), headers=headers) as answer:
        assert answer.status == 200
    yield catcher
    await catcher.stop()


async def call(http: aiohttp.ClientSession, method: str, url: str, **headers: str) -> tuple[int, Any, Any]:
    """Status, headers and body text of one request (a stream is read only up to its first bytes)."""
    async with http.request(method, url, headers=headers, data=b"" if method == "POST" else None) as answer:
        streaming = "stream" in url and answer.status == 200  # never ends: its first bytes will do
        text = (await answer.content.read(200) if streaming else await answer.read()).decode()
        return answer.status, answer.headers, text


# -- other origins -------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), READ_ENDPOINTS)
async def test_a_hostile_origin_gets_403_and_no_cors_grant(running: Snowcatcher, method: str,
                                                           path: str) -> None:
    async with aiohttp.ClientSession() as http:
        status, headers, text = await call(http, method, running.url + path, Origin=EVIL)
    assert status == 403
    assert "Access-Control-Allow-Origin" not in headers
    assert "--allow-origin" in json.loads(text)["error"] and EVIL in text
    assert running.store.count() == 1, "a refused request changed the capture"


@pytest.mark.parametrize("headers", [
    {"Origin": "null"},  # sandboxed iframes and file:// pages
    {"Sec-Fetch-Site": "cross-site"},  # an <img> or a link on another site: no Origin on a GET
    {"Sec-Fetch-Site": "same-site"},  # a page on another port of localhost
    {"Referer": "https://evil.example/page.html"},  # older browsers without Sec-Fetch-*
], ids=["origin-null", "sec-fetch-cross-site", "sec-fetch-same-site", "foreign-referer"])
async def test_browser_cross_site_requests_cannot_reset_or_read(running: Snowcatcher,
                                                                headers: dict[str, str]) -> None:
    async with aiohttp.ClientSession() as http:
        for method, path in (("GET", "/micro/reset"), ("DELETE", "/snowcatcher/api/events"),
                             ("GET", "/micro/good")):
            status, answer_headers, text = await call(http, method, running.url + path, **headers)
            assert status == 403, (path, text)
            assert "Access-Control-Allow-Origin" not in answer_headers
    assert running.store.count() == 1


async def test_a_cross_origin_text_plain_import_adds_nothing(running: Snowcatcher) -> None:
    line = json.dumps({"protocol": "snowplow", "payload": struct("forged")})
    async with aiohttp.ClientSession() as http:
        async with http.post(running.url + "/snowcatcher/api/import", data=line,
                             headers={"Content-Type": "text/plain", "Origin": EVIL}) as answer:
            assert answer.status == 403
        assert running.store.count() == 1
        # The same request from a tool (no Origin) imports it.
        async with http.post(running.url + "/snowcatcher/api/import", data=line,
                             headers={"Content-Type": "text/plain"}) as answer:
            assert answer.status == 200
    assert running.store.count() == 2


async def test_tools_without_origin_and_same_origin_pages_keep_working(running: Snowcatcher) -> None:
    async with aiohttp.ClientSession() as http:
        for headers in ({}, {"Origin": running.url}, {"Sec-Fetch-Site": "same-origin"},
                        {"Sec-Fetch-Site": "none"}, {"Referer": running.url + "/micro/good"}):
            status, answer_headers, text = await call(http, "GET", running.url + "/micro/all", **headers)
            assert (status, json.loads(text)["total"]) == (200, 1), headers
            assert "Access-Control-Allow-Origin" not in answer_headers
        status, _, _ = await call(http, "GET", running.url + "/micro/reset", **{"Sec-Fetch-Site": "none"})
        assert status == 200  # typed into the address bar
    assert running.store.count() == 0


@pytest.mark.parametrize("running", [dict(allow_origins=["http://localhost:3000", "https://app.test"])],
                         indirect=True)
async def test_allowed_origins_may_read(running: Snowcatcher) -> None:
    async with aiohttp.ClientSession() as http:
        for origin in ("http://localhost:3000", "https://app.test:443", "HTTPS://APP.TEST"):
            status, headers, _ = await call(http, "GET", running.url + "/snowcatcher/api/events",
                                            Origin=origin)
            assert status == 200 and headers["Access-Control-Allow-Origin"] == origin
            assert headers["Access-Control-Allow-Credentials"] == "true"
        status, _, _ = await call(http, "GET", running.url + "/micro/good", Origin="http://localhost:3001")
        assert status == 403


async def test_tracker_intake_answers_any_origin_and_host_as_the_collector_does(
        running: Snowcatcher) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(running.url + TP2, json=body(struct("from-a-site")), headers={
                "Origin": EVIL, "Host": "rebound.attacker.example:9090",
                "Sec-Fetch-Site": "cross-site"}) as answer:
            assert answer.status == 200
            assert answer.headers["Access-Control-Allow-Origin"] == EVIL
            assert answer.headers["Access-Control-Allow-Credentials"] == "true"
        async with http.options(running.url + TP2, headers={
                "Origin": EVIL, "Access-Control-Request-Method": "POST"}) as answer:
            assert answer.status == 200 and answer.headers["Access-Control-Allow-Origin"] == EVIL
    assert running.store.count() == 2


# -- Host (DNS rebinding) ------------------------------------------------------------------------


async def test_a_foreign_host_is_refused_with_the_reason(running: Snowcatcher) -> None:
    async with aiohttp.ClientSession() as http:
        for method, path in READ_ENDPOINTS:
            status, _, text = await call(http, method, running.url + path,
                                         Host=f"rebound.attacker.example:{running.port}")
            assert status == 403, path
            assert "DNS rebinding" in text and "--allow-host rebound.attacker.example" in text
    assert running.store.count() == 1


async def test_loopback_names_and_addresses_are_accepted(running: Snowcatcher) -> None:
    port = running.port
    async with aiohttp.ClientSession() as http:
        for host in (f"localhost:{port}", "LOCALHOST", f"127.0.0.1:{port}", "127.45.6.7",
                     f"[::1]:{port}", "localhost.", "[::ffff:127.0.0.1]"):
            status, _, text = await call(http, "GET", running.url + "/micro/all", Host=host)
            assert status == 200, (host, text)


@pytest.mark.parametrize("running", [dict(allow_hosts=["gdk.test"])], indirect=True)
async def test_allow_host_adds_a_name(running: Snowcatcher) -> None:
    async with aiohttp.ClientSession() as http:
        assert (await call(http, "GET", running.url + "/micro/all", Host="gdk.test:9090"))[0] == 200
        assert (await call(http, "GET", running.url + "/micro/all", Host="other.test:9090"))[0] == 403


# -- secrets -------------------------------------------------------------------------------------


async def read_everything(http: aiohttp.ClientSession, url: str) -> dict[str, str]:
    """Every place the captured request's headers are shown, by endpoint."""
    texts = {}
    for path in ("/micro/good", "/micro/bad", "/snowcatcher/api/events/1",
                 "/snowcatcher/api/export.ndjson", "/snowcatcher/api/export.har",
                 "/snowcatcher/api/events"):
        async with http.get(url + path) as answer:
            assert answer.status == 200, path
            texts[path] = await answer.text()
    return texts


async def test_cookies_and_authorization_are_redacted_everywhere(running: Snowcatcher) -> None:
    async with aiohttp.ClientSession() as http:
        texts = await read_everything(http, running.url)
    for path, text in texts.items():
        assert SESSION not in text and "zz9" not in text and "YWRtaW46aHVudGVyMg" not in text, path
    good = json.loads(texts["/micro/good"])[0]["rawEvent"]["context"]["headers"]
    cookie = next(line for line in good if line.startswith("Cookie: "))
    # The trackers' own cookies stay: they identify the test traffic, not the developer.
    assert cookie == (f"Cookie: _gitlab_session=<redacted>; sp={NUID}; _sp_id.1fff=d-1.1700000000.1; "
                      "known_sign_in=<redacted>")
    assert "Authorization: Basic <redacted>" in good
    # The store keeps them: a debugging tool may need them (and --show-secrets shows them).
    stored = running.store.request(1)
    assert stored is not None and stored.request.header("Cookie") == BROWSER_COOKIES


@pytest.mark.parametrize("running", [dict(show_secrets=True)], indirect=True)
async def test_show_secrets_shows_them(running: Snowcatcher) -> None:
    async with aiohttp.ClientSession() as http:
        texts = await read_everything(http, running.url)
    for path in ("/micro/good", "/snowcatcher/api/events/1", "/snowcatcher/api/export.ndjson",
                 "/snowcatcher/api/export.har"):
        assert SESSION in texts[path] and "YWRtaW46aHVudGVyMg" in texts[path], path


async def test_a_redacted_export_imports_back_with_the_same_verdicts(running: Snowcatcher,
                                                                     tmp_path: Path) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(running.url + "/snowcatcher/api/export.ndjson") as answer:
            exported = await answer.read()
        async with http.get(running.url + "/snowcatcher/api/export.har") as answer:
            har = await answer.read()
    for name, data in (("capture.ndjson", exported), ("capture.har", har)):
        target = Snowcatcher(settings())
        await target.start()
        try:
            path = tmp_path / name
            path.write_bytes(data)
            assert await asyncio.to_thread(importer.main, [str(path), "--url", target.url]) == 0
            original, imported = running.store.window()[0], target.store.window()[0]
            assert (imported.valid, imported.name, imported.violations) == (
                original.valid, original.name, original.violations), name
            assert imported.payload["nuid"] == NUID == original.payload["nuid"]  # the sp cookie survives
            stored = target.store.request(imported.request_id)
            # The placeholders are kept as text: the secret is gone, and nothing decodes them.
            assert stored is not None and "_gitlab_session=<redacted>" in stored.request.header("Cookie")
        finally:
            await target.stop()


# -- the token -----------------------------------------------------------------------------------


@pytest.mark.parametrize("running", [dict(token="s3cr3t-t0ken")], indirect=True)
async def test_a_token_guards_reading_but_not_intake(running: Snowcatcher) -> None:
    url = running.url + "/micro/all"
    async with aiohttp.ClientSession() as http:
        missing = await call(http, "GET", url)
        assert missing[0] == 401 and "Bearer" in missing[1]["WWW-Authenticate"]
        assert "Authorization: Bearer TOKEN" in json.loads(missing[2])["error"]
        assert (await call(http, "GET", url, Authorization="Bearer wrong"))[0] == 401
        assert (await call(http, "GET", url + "?token=s3cr3t-t0ke"))[0] == 401
        assert (await call(http, "GET", url, Authorization="Bearer s3cr3t-t0ken"))[0] == 200
        assert (await call(http, "GET", url + "?token=s3cr3t-t0ken"))[0] == 200
        assert (await call(http, "GET", running.url + "/snowcatcher/api/stream?token=s3cr3t-t0ken"))[0] == 200
        assert (await call(http, "GET", running.url + "/micro/reset"))[0] == 401
        async with http.post(running.url + TP2, json=body(struct("open"))) as answer:
            assert answer.status == 200
    assert running.store.count() == 2


@pytest.mark.parametrize("running", [dict(token="s3cr3t-t0ken")], indirect=True)
async def test_expect_and_import_send_the_token(running: Snowcatcher, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    def run_expect(*argv: str) -> tuple[int, str]:
        report = io.StringIO()
        code = expect.main(["name:seen", "--url", running.url, "--timeout", "0", *argv], out=report)
        return code, report.getvalue()

    code, report = await asyncio.to_thread(run_expect)
    assert code == 1 and "started with a token" in report and "SNOWCATCHER_TOKEN" in report
    assert (await asyncio.to_thread(run_expect, "--token", "s3cr3t-t0ken"))[0] == 0
    monkeypatch.setenv("SNOWCATCHER_TOKEN", "s3cr3t-t0ken")
    assert (await asyncio.to_thread(run_expect))[0] == 0
    capture = tmp_path / "capture.ndjson"
    capture.write_text(json.dumps({"protocol": "snowplow", "payload": struct("imported")}) + "\n")
    assert await asyncio.to_thread(importer.main, [str(capture), "--url", running.url]) == 0
    assert running.store.count() == 2


# -- where we listen -----------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["0", "0.0.0.0", "::0", "::", "0:0:0:0:0:0:0:0", "000.000.000.000", ""])
def test_every_spelling_of_all_interfaces_warns_and_recommends_a_token(
        host: str, capsys: pytest.CaptureFixture[str]) -> None:
    announce(SimpleNamespace(settings=Settings(host=host), url="http://x:9090",  # type: ignore[arg-type]
                             store=SimpleNamespace(path="x")))
    error = capsys.readouterr().err
    assert "listening on all interfaces" in error and "--token" in error


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.1"])
def test_loopback_spellings_do_not_warn(host: str, capsys: pytest.CaptureFixture[str]) -> None:
    announce(SimpleNamespace(settings=Settings(host=host), url="http://x:9090",  # type: ignore[arg-type]
                             store=SimpleNamespace(path="x")))
    assert "warning" not in capsys.readouterr().err


def test_with_a_token_the_warning_says_reading_needs_it(capsys: pytest.CaptureFixture[str]) -> None:
    announce(SimpleNamespace(settings=Settings(host="0", token="t"), url="http://x:9090",  # type: ignore[arg-type]
                             store=SimpleNamespace(path="x")))
    assert "reading them needs the token" in capsys.readouterr().err


# -- a real browser on another origin ------------------------------------------------------------


async def test_a_page_in_chromium_can_neither_read_nor_wipe_the_capture(
        running: Snowcatcher, page: Page, page_url: str) -> None:
    await page.goto(page_url)
    outcome = await page.evaluate(f"""(async () => {{
        const read = await fetch({json.dumps(running.url + '/micro/good')}, {{credentials: 'include'}})
            .then(r => r.text(), e => 'blocked: ' + e.name);
        const wiped = await new Promise(done => {{
            const img = new Image();
            img.onload = img.onerror = () => done('answered');
            img.src = {json.dumps(running.url + '/micro/reset')};
        }});
        const posted = await fetch({json.dumps(running.url + '/snowcatcher/api/import')}, {{
            method: 'POST', mode: 'no-cors', headers: {{'Content-Type': 'text/plain'}},
            body: JSON.stringify({{protocol: 'snowplow', payload: {{e: 'se', se_ca: 'x', se_ac: 'forged'}}}})
        }}).then(() => 'sent', e => 'failed: ' + e.name);
        return {{read, wiped, posted}};
    }})()""")
    assert outcome["read"] == "blocked: TypeError", outcome
    assert outcome["wiped"] == "answered" and outcome["posted"] == "sent"
    assert running.store.count() == 1, "the page wiped or forged events"


@pytest.mark.parametrize("origin", ["localhost:3000", "http://localhost:3000/app", "*", "null"])
def test_allow_origin_wants_an_origin(origin: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_code:
        cli_main(["--allow-origin", origin, "--headless"])
    assert exit_code.value.code == 2
    assert f"--allow-origin {origin}: give an origin such as http://localhost:3000" in capsys.readouterr().err
