"""`snowcatcher --web`: the collector, plus the TUI served to browser tabs (textual-serve), guarded."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hmac
import os
import shlex
import signal
import sys
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from snowcatcher.api.guard import TOKEN_ENV, Access
from snowcatcher.runtime import Settings, Snowcatcher, StartupError, start_announced
from snowcatcher.store.follow import Change, FollowedStore
from snowcatcher.tui.app import SnowcatcherApp
from snowcatcher.tui.event_list import EventList

DEFAULT_WEB_PORT = 9091
#: How often a browser session looks for events the collector stored.
FOLLOW_INTERVAL = 0.25
#: The cookie that carries --token for the page's assets and websocket, once the page was opened
#: with ?token=TOKEN (a browser cannot add a header to them).
TOKEN_COOKIE = "snowcatcher_token"
#: Nobody may put the capture in a frame of their page (clickjacking, reading it through a frame).
NO_FRAMING = {"X-Frame-Options": "DENY", "Content-Security-Policy": "frame-ancestors 'none'",
              "Cross-Origin-Resource-Policy": "same-origin", "Referrer-Policy": "no-referrer"}


class WebSessionApp(SnowcatcherApp):
    """The TUI of one browser tab: the collector's capture, read from its file as it grows."""

    def __init__(self, store: FollowedStore, *, collector_url: str, show_secrets: bool) -> None:
        super().__init__(store, address=f"listening on {collector_url}")
        self.followed = store
        self._show_secrets = show_secrets

    @property
    def show_secrets(self) -> bool:
        return self._show_secrets

    def on_ready(self) -> None:
        self.set_interval(FOLLOW_INTERVAL, self._follow)

    def _follow(self) -> None:
        if self.followed.refresh() is Change.REPLACED:
            for events in self.query(EventList):
                events.reload()
            self._show_status()


def session_main(argv: list[str]) -> int:
    """One browser tab's process (started by textual-serve for each websocket)."""
    parser = argparse.ArgumentParser(prog="snowcatcher-web-session")
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--collector", required=True)
    parser.add_argument("--show-secrets", action="store_true")
    args = parser.parse_args(argv)
    store = FollowedStore(args.db, reset_url=f"{args.collector}/snowcatcher/api/events",
                          token=os.environ.get(TOKEN_ENV, ""))
    try:
        app = WebSessionApp(store, collector_url=args.collector, show_secrets=args.show_secrets)
        return app.run() or 0
    finally:
        store.close()


# -- the web server ------------------------------------------------------------------------------


def guard_middleware(access: Access, token: str) -> Any:
    """Host and cross-site rules of the read API (guard.Access), the token from the query, a
    bearer header or the cookie set when the page was opened with it, and no framing."""
    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        refused = access.refusal(request)
        if refused is not None:
            refused.headers.update(NO_FRAMING)
            return refused
        supplied = (request.query.get("token") or request.cookies.get(TOKEN_COOKIE, "")
                    or request.headers.get("Authorization", "").removeprefix("Bearer "))
        if token and not hmac.compare_digest(supplied.encode(), token.encode()):
            return web.Response(status=401, text=(
                "snowcatcher was started with a token: open this page as /?token=TOKEN"),
                headers={**NO_FRAMING, "WWW-Authenticate": 'Bearer realm="snowcatcher"'})
        response = await handler(request)
        response.headers.update(NO_FRAMING)
        if token and request.query.get("token"):
            response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="Strict", path="/")
        return response
    return guard


def make_server(command: str, access: Access, token: str, host: str, port: int) -> Any:
    """A textual-serve Server for `command`, behind the guard."""
    from textual_serve.server import Server

    class GuardedServer(Server):
        async def _make_app(self) -> web.Application:
            app: web.Application = await super()._make_app()
            app.middlewares.append(guard_middleware(access, token))
            return app

        async def handle_index(self, request: web.Request) -> web.StreamResponse:
            # The page's websocket and assets at the address the browser used (the guard
            # checked its Host), so that they are same-origin whatever name reached us.
            self.public_url = f"{request.scheme}://{request.host}"
            response: web.StreamResponse = await super().handle_index(request)
            return response

        async def on_startup(self, app: web.Application) -> None:
            """No banner: snowcatcher announces its own addresses."""

        async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
            task = asyncio.current_task()
            if task is not None:
                sessions.add(task)
            try:
                return await super().handle_websocket(request)
            finally:
                sessions.discard(task)

        async def on_shutdown(self, app: web.Application) -> None:
            """End every tab's session (its websocket and process) instead of waiting for it."""
            for task in list(sessions):
                task.cancel()

    sessions: set[asyncio.Task[Any]] = set()

    return GuardedServer(command, host=host, port=port, title="snowcatcher")


async def serve_web(settings: Settings, web_host: str, web_port: int) -> int:
    """Run the collector and the browser UI until SIGTERM or Ctrl+C; 2 when either cannot start."""
    try:
        catcher = Snowcatcher(settings)
    except StartupError as error:
        print(f"snowcatcher: {error}", file=sys.stderr)
        return 2
    stopped = asyncio.Event()
    with contextlib.suppress(NotImplementedError):
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stopped.set)
        loop.add_signal_handler(signal.SIGINT, stopped.set)
    if not await start_announced(catcher):
        return 2
    if settings.token:
        os.environ[TOKEN_ENV] = settings.token  # for the sessions' clear (DELETE) requests
    command = " ".join(shlex.quote(part) for part in (
        sys.executable, "-m", "snowcatcher.tui.web", "--db", str(catcher.store.path),
        "--collector", catcher.url, *(["--show-secrets"] if settings.show_secrets else [])))
    access = Access(host=web_host, allow_hosts=settings.allow_hosts, allow_origins=())
    server = make_server(command, access, settings.token, web_host, web_port)
    runner = web.AppRunner(await server._make_app(), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, web_host, web_port).start()
    except OSError as error:
        await runner.cleanup()
        await catcher.stop()
        print(f"snowcatcher: cannot serve the browser UI on {web_host}:{web_port}: "
              f"{error.strerror or error} (choose another port with --web-port)", file=sys.stderr)
        return 2
    address = runner.addresses[0]
    url = f"http://{web_host if ':' not in web_host else f'[{web_host}]'}:{address[1]}/"
    print(f"snowcatcher: the TUI in a browser: {url}{'?token=TOKEN' if settings.token else ''}",
          file=sys.stderr)
    try:
        await stopped.wait()
    finally:
        await runner.cleanup()
        await catcher.stop()
    return 0


if __name__ == "__main__":
    sys.exit(session_main(sys.argv[1:]))
