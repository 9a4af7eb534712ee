"""The command line: parse arguments, build a Snowcatcher, run the TUI or the headless printer."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import math
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from snowcatcher import __version__
from snowcatcher.api.guard import TOKEN_ENV, origin_error
from snowcatcher.capture.collector import DEFAULT_BODY_TIMEOUT, DEFAULT_MAX_BODY
from snowcatcher.gitlab.checkout import find_checkout
from snowcatcher.gitlab.definitions import NotAGitLabCheckout
from snowcatcher.headless import HeadlessPrinter
from snowcatcher.protocols.wikimedia.streams import is_url
from snowcatcher.runtime import (
    DEFAULT_IDLE_TIMEOUT,
    Settings,
    Snowcatcher,
    StartupError,
    serve_until_stopped,
    start_announced,
)
from snowcatcher.text import InertFormatter, as_json

SUBCOMMANDS = ("expect", "import")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="snowcatcher",
        description="Capture, decode and validate Snowplow and Wikimedia analytics events locally.",
        epilog="other commands: `snowcatcher expect --help` asserts that events arrived at a running "
               "snowcatcher; `snowcatcher import --help` loads an NDJSON or HAR capture.")
    parser.add_argument("--version", action="version", version=f"snowcatcher {__version__}")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=9090, help="port to listen on (default 9090)")
    parser.add_argument("--schemas", type=Path, action="append", default=[], metavar="DIR",
                        help="a folder of schemas, searched before the bundled ones and the remote "
                             "registries: Iglu layout (vendor/name/jsonschema/M-R-A) or a clone of a "
                             "Wikimedia schema repository (jsonschema/<title>/<version>.yaml); the "
                             "kind is detected; repeatable")
    parser.add_argument("--streams", metavar="FILE|URL",
                        help="Wikimedia stream configuration, a file or a wiki's "
                             "…/api.php?action=streamconfigs&format=json (fetched at start and on r) "
                             "(YAML or JSON: stream name or /regex/ -> "
                             "schema_title); events for other streams are refused like EventGate "
                             "does (default: every stream is accepted)")
    parser.add_argument("--iglu", action="append", default=[], metavar="URL",
                        help="an extra remote static Iglu registry; repeatable")
    parser.add_argument("--offline", action="store_true", help="never fetch schemas over the network")
    parser.add_argument("--db", type=Path, metavar="PATH",
                        help="keep the capture in this SQLite file and reopen it next time "
                             "(default: a fresh temporary capture each run)")
    parser.add_argument("--max-body", type=int, default=DEFAULT_MAX_BODY, metavar="BYTES",
                        help=f"largest request body accepted (default {DEFAULT_MAX_BODY})")
    parser.add_argument("--idle-timeout", type=_seconds, default=DEFAULT_IDLE_TIMEOUT, metavar="SECONDS",
                        help="close a connection that has not sent a complete request (headers "
                             f"included) for this long (default {DEFAULT_IDLE_TIMEOUT:g})")
    parser.add_argument("--body-timeout", type=_seconds, default=DEFAULT_BODY_TIMEOUT, metavar="SECONDS",
                        help="a request body must arrive within this long; a stalled one is recorded "
                             f"and answered 408 (default {DEFAULT_BODY_TIMEOUT:g})")
    parser.add_argument("--forward", metavar="URL",
                        help="also relay every captured request, unchanged, to this upstream collector "
                             "(in the background; failures are counted in /snowcatcher/api/status)")
    parser.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                        help="a host name the read API (/micro/*, /snowcatcher/api/*) answers to besides "
                             "loopback names and addresses and --host, e.g. gdk.test; repeatable")
    parser.add_argument("--allow-origin", action="append", default=[], metavar="ORIGIN",
                        help="let pages of this origin (http://localhost:3000) read the read API "
                             "from a browser; repeatable (default: no other origin)")
    parser.add_argument("--token", metavar="TOKEN", default=os.environ.get(TOKEN_ENV, ""),
                        help="require this token on every read and control request (Authorization: "
                             f"Bearer TOKEN or ?token=TOKEN); tracker intake stays open (default: "
                             f"${TOKEN_ENV})")
    parser.add_argument("--show-secrets", action="store_true",
                        help="show cookies and Authorization headers unredacted in the read API, "
                             "exports and the TUI")
    parser.add_argument("--gitlab", type=Path, metavar="PATH",
                        help="a GitLab checkout (for GDK, ~/gdk/gitlab): check GitLab internal events "
                             "against its config/events definitions and show the metrics they feed "
                             "(default: the GDK around the current folder or in $GDK_ROOT, if any)")
    parser.add_argument("--web", action="store_true",
                        help="serve the TUI to browser tabs (each tab gets its own view of the "
                             "capture) besides the collector; needs snowcatcher[web]")
    parser.add_argument("--web-port", type=int, default=9091, metavar="PORT",
                        help="with --web: the browser UI's port (default 9091)")
    parser.add_argument("--web-host", default="127.0.0.1", metavar="ADDRESS",
                        help="with --web: the address the browser UI listens on (default 127.0.0.1: "
                             "it shows the capture, so keep it on loopback unless you mean it)")
    parser.add_argument("--headless", action="store_true", help="print one line per event, no TUI")
    parser.add_argument("--json", action="store_true", help="with --headless: print NDJSON")
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    return Settings(host=args.host, port=args.port, schemas=list(args.schemas), db=args.db,
                    offline=args.offline, iglu=list(args.iglu), max_body=args.max_body,
                    streams=args.streams, forward=args.forward, allow_hosts=list(args.allow_host),
                    allow_origins=list(args.allow_origin), token=args.token,
                    show_secrets=args.show_secrets, idle_timeout=args.idle_timeout,
                    body_timeout=args.body_timeout, gitlab=args.gitlab)


#: The longest timeout the command line takes: a day.
_LONGEST_TIMEOUT = 86_400.0


def _seconds(text: str) -> float:
    """A timeout in seconds: a number above 0 and at most a day."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{as_json(text)} is not a number of seconds") from None
    if not (math.isfinite(value) and 0 < value <= _LONGEST_TIMEOUT):
        raise argparse.ArgumentTypeError(f"{text} must be above 0 and at most {_LONGEST_TIMEOUT:g} seconds")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in SUBCOMMANDS:
        return _subcommand(argv[0], argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.forward and not args.forward.startswith(("http://", "https://")):
        parser.error(f"--forward {args.forward}: give a URL such as http://collector.example:8080")
    for origin in args.allow_origin:
        if problem := origin_error(origin):
            parser.error(f"--allow-origin {origin}: {problem}")
    if args.json and not args.headless:
        args.headless = True
    for folder in args.schemas:
        if not folder.is_dir():
            parser.error(f"--schemas {folder}: no such folder")
    if args.streams is not None and not is_url(args.streams) and not Path(args.streams).is_file():
        parser.error(f"--streams {args.streams}: no such file (or give an http:// or https:// URL)")
    try:
        checkout = find_checkout(args.gitlab, os.environ, Path.cwd())
    except NotAGitLabCheckout as error:
        parser.error(f"--gitlab {error}")
    args.gitlab = checkout.path if checkout else None
    handler = logging.StreamHandler()
    handler.setFormatter(InertFormatter("snowcatcher: %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
    settings = settings_from(args)
    if checkout is not None:
        # The TUI covers stderr once it starts: say where the definitions come from before it does.
        print(f"snowcatcher: {checkout.found_by} -> {checkout.path}: checking GitLab internal events "
              "against its definitions", file=sys.stderr)
    if args.web:
        return _run_web(parser, settings, args.web_host, args.web_port)
    if args.headless or not sys.stdout.isatty():
        return _run_headless(settings, as_json=args.json)
    return _run_tui(settings)


def _subcommand(name: str, argv: list[str]) -> int:
    # Imported here so that `snowcatcher` itself starts without loading them.
    if name == "expect":
        from snowcatcher.qa import expect
        return expect.main(argv)
    from snowcatcher.api import importer
    return importer.main(argv)


def _run_tui(settings: Settings) -> int:
    try:
        from snowcatcher.tui.app import run_tui
    except ImportError:
        return _run_headless(settings, as_json=False)
    return run_tui(settings)


def _run_web(parser: argparse.ArgumentParser, settings: Settings, host: str, port: int) -> int:
    try:
        import textual_serve  # noqa: F401

        from snowcatcher.tui.web import serve_web
    except ImportError as error:
        parser.error(f"--web needs textual-serve ({error}): pip install 'snowcatcher[web]'")
    return asyncio.run(serve_web(settings, host, port))


def _run_headless(settings: Settings, *, as_json: bool) -> int:
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(_serve_headless(settings, as_json=as_json))
    return 0


async def _serve_headless(settings: Settings, *, as_json: bool) -> int:
    try:
        catcher = Snowcatcher(settings)
    except StartupError as error:
        print(f"snowcatcher: {error}", file=sys.stderr)
        return 2
    printer = HeadlessPrinter(as_json=as_json)
    catcher.store.subscribe(printer)
    # An event stored "not checked" is printed again, with the same id, once it has its verdict.
    catcher.store.signals.updated.connect(
        lambda ids: printer([event for event in map(catcher.store.get, ids) if event is not None]))
    stopped = asyncio.Event()
    with contextlib.suppress(NotImplementedError):  # no signal handlers on Windows
        # CI runners and process managers stop services with SIGTERM: close the store cleanly,
        # even when it comes the moment the start-up lines are out.
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopped.set)
    if not await start_announced(catcher):
        return 2
    await serve_until_stopped(catcher, stopped)
    return 0
