"""Headless Chromium driven over the Chrome DevTools Protocol (CDP) with aiohttp, every step bounded."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

#: The flags this machine needs (see the machine notes): no sandbox as root, and no background
#: networking, which would flood the closed network with refused connections.
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
)
START_TIMEOUT = 30.0
CALL_TIMEOUT = 15.0


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def missing(reason: str) -> None:
    """Skip locally; in CI (CI=true) a missing browser or package is a failure, not a skip."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: real-client tests must run in CI, .ci/run installs it)",
                    pytrace=False)
    pytest.skip(reason)


def find_chromium() -> str:
    """The Chromium executable ($CHROMIUM, else chromium on PATH), or skip/fail saying why."""
    for candidate in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if candidate and (path := shutil.which(candidate)):
            return path
    missing("Chromium not found: apt-get install chromium (or set CHROMIUM=/path/to/chromium)")
    raise AssertionError("unreachable")


class CdpError(AssertionError):
    """Chromium answered a command with an error, or a script in the page threw."""


@dataclass
class Request:
    """A request the page made, as Chromium's network panel saw it."""

    method: str
    url: str
    type: str
    headers: dict[str, str] = field(default_factory=dict)


class Cdp:
    """One DevTools websocket: numbered commands with awaited answers, events kept in order."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self._next_id = 0
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.events: list[dict[str, Any]] = []
        self._arrived = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    async def call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None,
                   timeout: float = CALL_TIMEOUT) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        answer = self._pending[self._next_id] = asyncio.get_running_loop().create_future()
        await self._ws.send_str(json.dumps(message))
        try:
            result = await asyncio.wait_for(answer, timeout)
        finally:
            self._pending.pop(message["id"], None)
        if "error" in result:
            raise CdpError(f"{method}: {result['error']}")
        return dict(result.get("result", {}))

    async def wait_for(self, method: str, since: int, session: str | None = None,
                       timeout: float = CALL_TIMEOUT) -> dict[str, Any]:
        """The first event called `method` at or after position `since` in `events`."""
        async def first() -> dict[str, Any]:
            position = since
            while True:
                for event in self.events[position:]:
                    if event["method"] == method and event.get("sessionId") == session:
                        return event
                position = len(self.events)
                self._arrived.clear()
                await self._arrived.wait()
        return await asyncio.wait_for(first(), timeout)

    async def _read(self) -> None:
        async for message in self._ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            data = json.loads(message.data)
            if "id" in data:
                future = self._pending.get(data["id"])
                if future is not None and not future.done():
                    future.set_result(data)
            else:
                self.events.append(data)
                self._arrived.set()
        for future in self._pending.values():
            if not future.done():
                future.set_exception(CdpError("Chromium closed the DevTools connection"))

    async def close(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
        await self._ws.close()


class Page:
    """One tab: navigate, evaluate scripts, click like a user, and see the console and network."""

    def __init__(self, cdp: Cdp, session: str) -> None:
        self.cdp = cdp
        self.session = session

    async def call(self, method: str, params: dict[str, Any] | None = None,
                   timeout: float = CALL_TIMEOUT) -> dict[str, Any]:
        return await self.cdp.call(method, params, self.session, timeout)

    async def goto(self, url: str) -> None:
        """Navigate and wait for the load event."""
        since = len(self.cdp.events)
        result = await self.call("Page.navigate", {"url": url})
        if result.get("errorText"):
            raise CdpError(f"navigating to {url}: {result['errorText']}")
        await self.cdp.wait_for("Page.loadEventFired", since, self.session)

    async def evaluate(self, expression: str, timeout: float = CALL_TIMEOUT) -> Any:
        """The value of a JavaScript expression; a returned promise is awaited."""
        result = await self.call("Runtime.evaluate", {
            "expression": expression, "awaitPromise": True, "returnByValue": True,
        }, timeout=timeout)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise CdpError(f"{expression[:80]}: {text}\nconsole: {self.console()}")
        return result.get("result", {}).get("value")

    async def call_js(self, function: str, *args: Any, timeout: float = CALL_TIMEOUT) -> Any:
        """`function(...args)` in the page, the arguments passed as JSON."""
        arguments = ", ".join(json.dumps(arg) for arg in args)
        return await self.evaluate(f"{function}({arguments})", timeout)

    async def click(self, selector: str) -> None:
        """A real mouse click (move, press, release) in the middle of the element."""
        box = await self.evaluate(
            f"(() => {{ const r = document.querySelector({json.dumps(selector)})"
            ".getBoundingClientRect(); return {x: r.x + r.width / 2, y: r.y + r.height / 2}; })()")
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            await self.call("Input.dispatchMouseEvent", {
                "type": kind, "x": box["x"], "y": box["y"], "button": "left", "clickCount": 1})

    def requests(self, where: Callable[[Request], bool] = lambda request: True) -> list[Request]:
        """The requests the page sent so far (Network.requestWillBeSent), preflights excluded."""
        found = []
        for event in self.cdp.events:
            if event["method"] != "Network.requestWillBeSent" or event.get("sessionId") != self.session:
                continue
            params = event["params"]
            request = Request(params["request"]["method"], params["request"]["url"],
                              params.get("type", ""), params["request"].get("headers", {}))
            if where(request):
                found.append(request)
        return found

    def console(self) -> list[str]:
        """Console messages and uncaught exceptions, for assertion messages."""
        lines = []
        for event in self.cdp.events:
            if event.get("sessionId") != self.session:
                continue
            if event["method"] == "Runtime.consoleAPICalled":
                args = event["params"].get("args", [])
                lines.append(" ".join(str(a.get("value", a.get("description", ""))) for a in args))
            elif event["method"] == "Runtime.exceptionThrown":
                lines.append(str(event["params"]["exceptionDetails"].get("text")))
        return lines


class Chromium:
    """A headless Chromium with a fresh profile, killed with its whole process group at the end."""

    def __init__(self, executable: str) -> None:
        self.executable = executable
        self.profile = Path(tempfile.mkdtemp(prefix="snowcatcher-chromium-"))
        self.process: asyncio.subprocess.Process | None = None
        self.cdp: Cdp | None = None
        self._http: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        log = (self.profile / "chromium.log").open("wb")
        self.process = await asyncio.create_subprocess_exec(
            self.executable, *CHROMIUM_FLAGS, f"--user-data-dir={self.profile}",
            "--remote-debugging-port=0", "about:blank",
            stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        log.close()
        port, path = await asyncio.wait_for(self._devtools_address(), START_TIMEOUT)
        self._http = aiohttp.ClientSession()
        ws = await self._http.ws_connect(f"ws://127.0.0.1:{port}{path}", max_msg_size=0,
                                         timeout=aiohttp.ClientWSTimeout(ws_close=5))
        self.cdp = Cdp(ws)

    async def _devtools_address(self) -> tuple[int, str]:
        """Chromium writes its DevTools port and browser path to DevToolsActivePort."""
        marker = self.profile / "DevToolsActivePort"
        while True:
            assert self.process is not None
            if self.process.returncode is not None:
                raise CdpError(f"Chromium exited with {self.process.returncode}: {self.log()[-2000:]}")
            if marker.is_file():
                lines = marker.read_text().split()
                if len(lines) >= 2:
                    return int(lines[0]), lines[1]
            await asyncio.sleep(0.05)

    def log(self) -> str:
        path = self.profile / "chromium.log"
        return path.read_text(errors="replace") if path.is_file() else ""

    async def new_page(self) -> Page:
        """A new tab with the Page, Runtime and Network domains on."""
        assert self.cdp is not None
        target = await self.cdp.call("Target.createTarget", {"url": "about:blank"})
        attached = await self.cdp.call("Target.attachToTarget",
                                       {"targetId": target["targetId"], "flatten": True})
        page = Page(self.cdp, attached["sessionId"])
        for domain in ("Page", "Runtime", "Network"):
            await page.call(f"{domain}.enable")
        return page

    async def stop(self) -> None:
        if self.cdp is not None:
            with contextlib.suppress(Exception):
                await self.cdp.call("Browser.close", timeout=5)
            await self.cdp.close()
        if self._http is not None:
            await self._http.close()
        if self.process is not None:
            try:
                await asyncio.wait_for(self.process.wait(), 5)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                await asyncio.wait_for(self.process.wait(), 5)
            with contextlib.suppress(ProcessLookupError):  # renderers left behind, if any
                os.killpg(self.process.pid, signal.SIGKILL)
        shutil.rmtree(self.profile, ignore_errors=True)


@contextlib.asynccontextmanager
async def chromium(executable: str) -> AsyncIterator[Chromium]:
    browser = Chromium(executable)
    try:
        await browser.start()
        yield browser
    finally:
        await browser.stop()


#: How long to keep watching after the last answer, so that a retried request would show up.
SETTLE = 0.5


async def send_from_browser(page: Page, page_url: str, collector_url: str,
                            method: str) -> dict[str, object]:
    """Load the page, start the tracker, click the link for real, and wait for the tracker's report."""
    await page.goto(page_url)
    await page.call_js("window.realClients.startSnowplow", {"collector": collector_url, "method": method})
    await page.click("#help")
    report: dict[str, object] = await page.evaluate("window.snowplowSent", timeout=20)
    await asyncio.sleep(SETTLE)
    return report
