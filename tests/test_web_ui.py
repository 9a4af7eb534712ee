"""`snowcatcher --web`: the TUI in a headless Chromium tab, as a QA person would use it, and its guard."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.browser_support import Page
from tests.data import TP2, body, struct

ROOT = Path(__file__).resolve().parents[1]
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>]")
pytest.importorskip("textual_serve", reason="snowcatcher[web] is not installed")


@contextmanager
def web_snowcatcher(tmp_path: Path, *extra: str) -> Iterator[tuple[str, str]]:
    """`snowcatcher --web` in its own process on free ports; yields the collector's and the UI's URLs."""
    log = tmp_path / "stderr.txt"
    with log.open("w") as errors:
        process = subprocess.Popen(
            [sys.executable, "-m", "snowcatcher", "--web", "--port", "0", "--web-port", "0", "--offline",
             "--db", str(tmp_path / "capture.sqlite"), *extra],
            cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errors,
            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": str(tmp_path)})
    try:
        deadline = time.monotonic() + 30
        while not re.search(r"in a browser: (http://[^\s?]+)", log.read_text()):
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        text = log.read_text()
        collector = re.search(r"listening on (http://\S+),", text)
        browser = re.search(r"in a browser: (http://[^\s?]+)", text)
        assert collector and browser, text
        yield collector.group(1), browser.group(1)
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0, log.read_text()


def send(collector: str, *events: dict[str, str]) -> None:
    request = urllib.request.Request(collector + TP2, data=json.dumps(body(*events)).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200


def screen_text(page: Page, since: int = 0) -> str:
    """What the browser received over the terminal's websocket from event `since` on, without
    the terminal's escape sequences: the text the tab draws."""
    chunks = []
    for event in page.cdp.events[since:]:
        if event["method"] != "Network.webSocketFrameReceived" or event.get("sessionId") != page.session:
            continue
        response = event["params"]["response"]
        data = response["payloadData"]
        chunks.append(base64.b64decode(data).decode("utf-8", "replace") if response["opcode"] == 2 else data)
    return _ANSI.sub("", "".join(chunks))


async def shows(page: Page, text: str, since: int = 0, timeout: float = 30) -> None:
    """Wait until the tab has drawn `text` (received after event `since`)."""
    deadline = time.monotonic() + timeout
    while text not in (shown := screen_text(page, since)):
        # The start and the end of what was drawn meanwhile: a step that drew only part of the
        # screen (one failure drew the list and not the tab asked for) shows which part it was.
        assert time.monotonic() < deadline, (f"the tab never showed {text!r}; it drew "
                                             f"{len(shown)} characters, first {shown[:2000]} ... "
                                             f"last {shown[-2000:]}")
        await asyncio.sleep(0.1)


async def press(page: Page, *keys: str) -> None:
    """Keys as a user types them into the focused terminal (`Enter` for the return key)."""
    for key in keys:
        if key == "Enter":
            down = {"key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13, "text": "\r"}
        else:
            down = {"key": key, "text": key, "unmodifiedText": key}
        await page.call("Input.dispatchKeyEvent", {"type": "keyDown", **down})
        await page.call("Input.dispatchKeyEvent", {"type": "keyUp", "key": down["key"]})


async def test_the_tui_in_a_browser_tab(tmp_path: Path, page: Page) -> None:
    """Events arrive in the tab live; a typed filter narrows the list; Enter opens the event."""
    with web_snowcatcher(tmp_path) as (collector, ui):
        await page.call("Emulation.setDeviceMetricsOverride",
                        {"width": 1400, "height": 860, "deviceScaleFactor": 1, "mobile": False})
        await page.goto(ui)
        await shows(page, "snowcatcher")  # the TUI's status line: the session is up
        send(collector, struct("checkout_clicked", se_la="basket-42"), struct("other_thing", se_va="lots"))
        await shows(page, "checkout_clicked")
        await shows(page, "other_thing")
        await page.click("#terminal")  # focus the terminal, as a user clicks into it
        since = len(page.cdp.events)
        await press(page, "/")  # the filter bar opens (keys typed before it has focus go to the list)
        await shows(page, "filter: text  type:struct", since)
        await press(page, *"name:checkout_clicked")
        since = len(page.cdp.events)
        await press(page, "Enter")
        await shows(page, "filter: name:checkout_clicked (1 of 2)", since)
        await shows(page, "v invalid only", since)  # the list's keys: the list has the focus again
        since = len(page.cdp.events)
        await press(page, "Enter")  # open the selected event: its overview
        await shows(page, "basket-42", since)
        since = len(page.cdp.events)
        await press(page, "4")  # its raw tab: the request body as the tracker sent it
        await shows(page, '"se_la"', since)


def get(url: str, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


def test_the_browser_ui_is_guarded_like_the_read_api(tmp_path: Path) -> None:
    with web_snowcatcher(tmp_path, "--token", "s3cret") as (_, ui):
        assert get(ui + "?token=s3cret", {}) == 200
        assert get(ui, {}) == 401  # the capture is behind the token here too
        # DNS rebinding, another site's page or frame, a websocket opened by another origin:
        assert get(ui + "?token=s3cret", {"Host": "attacker.example"}) == 403
        assert get(ui + "?token=s3cret", {"Sec-Fetch-Site": "cross-site"}) == 403
        assert get(ui + "ws?token=s3cret", {"Origin": "https://attacker.example"}) == 403
        with urllib.request.urlopen(ui + "?token=s3cret", timeout=10) as answer:
            assert answer.headers["X-Frame-Options"] == "DENY"
            assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]
            cookie = answer.headers["Set-Cookie"]
            assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
