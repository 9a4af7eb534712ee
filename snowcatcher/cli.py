"""The command line: parse arguments, build a Snowcatcher, run the TUI or the headless printer."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from snowcatcher import __version__
from snowcatcher.collector import DEFAULT_MAX_BODY
from snowcatcher.headless import HeadlessPrinter
from snowcatcher.server import Settings, Snowcatcher
from snowcatcher.store import StoreError
from snowcatcher.streams import StreamConfigError
from snowcatcher.text import InertFormatter

ALL_INTERFACES = ("0.0.0.0", "::", "")
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
    parser.add_argument("--streams", type=Path, metavar="FILE",
                        help="Wikimedia stream configuration (YAML or JSON: stream name or /regex/ -> "
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
    parser.add_argument("--forward", metavar="URL",
                        help="also relay every captured request, unchanged, to this upstream collector "
                             "(in the background; failures are counted in /snowcatcher/api/status)")
    parser.add_argument("--headless", action="store_true", help="print one line per event, no TUI")
    parser.add_argument("--json", action="store_true", help="with --headless: print NDJSON")
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    return Settings(host=args.host, port=args.port, schemas=list(args.schemas), db=args.db,
                    offline=args.offline, iglu=list(args.iglu), max_body=args.max_body,
                    streams=args.streams, forward=args.forward)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in SUBCOMMANDS:
        return _subcommand(argv[0], argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.forward and not args.forward.startswith(("http://", "https://")):
        parser.error(f"--forward {args.forward}: give a URL such as http://collector.example:8080")
    if args.json and not args.headless:
        args.headless = True
    for folder in args.schemas:
        if not folder.is_dir():
            parser.error(f"--schemas {folder}: no such folder")
    if args.streams is not None and not args.streams.is_file():
        parser.error(f"--streams {args.streams}: no such file")
    handler = logging.StreamHandler()
    handler.setFormatter(InertFormatter("snowcatcher: %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
    settings = settings_from(args)
    if args.headless or not sys.stdout.isatty():
        return _run_headless(settings, as_json=args.json)
    return _run_tui(settings)


def _subcommand(name: str, argv: list[str]) -> int:
    # Imported here so that `snowcatcher` itself starts without loading them.
    if name == "expect":
        from snowcatcher import expect
        return expect.main(argv)
    from snowcatcher import importer
    return importer.main(argv)


def _run_tui(settings: Settings) -> int:
    try:
        from snowcatcher.tui.app import run_tui
    except ImportError:
        return _run_headless(settings, as_json=False)
    return run_tui(settings)


def _run_headless(settings: Settings, *, as_json: bool) -> int:
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(_serve_headless(settings, as_json=as_json))
    return 0


async def _serve_headless(settings: Settings, *, as_json: bool) -> int:
    try:
        catcher = Snowcatcher(settings)
    except (StoreError, StreamConfigError) as error:
        print(f"snowcatcher: {error}", file=sys.stderr)
        return 2
    printer = HeadlessPrinter(as_json=as_json)
    catcher.store.subscribe(printer)
    # An event stored "not checked" is printed again, with the same id, once it has its verdict.
    catcher.store.subscribe_updates(
        lambda ids: printer([event for event in map(catcher.store.get, ids) if event is not None]))
    stopped = asyncio.Event()
    with contextlib.suppress(NotImplementedError):  # no signal handlers on Windows
        # CI runners and process managers stop services with SIGTERM: close the store cleanly,
        # even when it comes the moment the start-up lines are out.
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopped.set)
    try:
        await catcher.start()
    except OSError as error:
        catcher.store.close()
        print(f"snowcatcher: {listen_error(settings, error)}", file=sys.stderr)
        return 2
    announce(catcher)
    try:
        await stopped.wait()
    finally:
        await catcher.stop()
    return 0


def listen_error(settings: Settings, error: OSError) -> str:
    """A sentence for a failed bind."""
    where = f"{settings.host}:{settings.port}"
    if error.errno == errno.EADDRINUSE:
        return (f"cannot listen on {where}: the port is already in use (is another snowcatcher or "
                "Snowplow Micro running? choose another with --port)")
    return f"cannot listen on {where}: {error.strerror or error}"


def announce(catcher: Snowcatcher) -> None:
    """The start-up lines on stderr, so that stdout stays the event stream."""
    store = catcher.store.path if catcher.settings.db else "a temporary capture (use --db to keep it)"
    print(f"snowcatcher {__version__} listening on {catcher.url}, storing in {store}", file=sys.stderr)
    if catcher.settings.host in ALL_INTERFACES:
        print("snowcatcher: warning: listening on all interfaces; anyone who can reach this machine "
              "can send events and read them", file=sys.stderr)
