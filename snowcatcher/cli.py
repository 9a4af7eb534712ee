"""The command line: parse arguments, build a Snowcatcher, run the TUI or the headless printer."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from snowcatcher import __version__
from snowcatcher.collector import DEFAULT_MAX_BODY
from snowcatcher.headless import HeadlessPrinter
from snowcatcher.server import Settings, Snowcatcher
from snowcatcher.store import StoreError

ALL_INTERFACES = ("0.0.0.0", "::", "")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="snowcatcher",
        description="Capture, decode and validate Snowplow and Wikimedia analytics events locally.")
    parser.add_argument("--version", action="version", version=f"snowcatcher {__version__}")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=9090, help="port to listen on (default 9090)")
    parser.add_argument("--schemas", type=Path, action="append", default=[], metavar="DIR",
                        help="a folder of schemas in Iglu layout (vendor/name/jsonschema/M-R-A), "
                             "searched before the bundled ones; repeatable")
    parser.add_argument("--iglu", action="append", default=[], metavar="URL",
                        help="an extra remote static Iglu registry; repeatable")
    parser.add_argument("--offline", action="store_true", help="never fetch schemas over the network")
    parser.add_argument("--db", type=Path, metavar="PATH",
                        help="keep the capture in this SQLite file and reopen it next time "
                             "(default: a fresh temporary capture each run)")
    parser.add_argument("--max-body", type=int, default=DEFAULT_MAX_BODY, metavar="BYTES",
                        help=f"largest request body accepted (default {DEFAULT_MAX_BODY})")
    parser.add_argument("--headless", action="store_true", help="print one line per event, no TUI")
    parser.add_argument("--json", action="store_true", help="with --headless: print NDJSON")
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    return Settings(host=args.host, port=args.port, schemas=list(args.schemas), db=args.db,
                    offline=args.offline, iglu=list(args.iglu), max_body=args.max_body)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.json and not args.headless:
        args.headless = True
    for folder in args.schemas:
        if not folder.is_dir():
            parser.error(f"--schemas {folder}: no such folder")
    logging.basicConfig(level=logging.WARNING, format="snowcatcher: %(message)s")
    settings = settings_from(args)
    if args.headless or not sys.stdout.isatty():
        return _run_headless(settings, as_json=args.json)
    return _run_tui(settings)


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
    except StoreError as error:
        print(f"snowcatcher: {error}", file=sys.stderr)
        return 2
    catcher.store.subscribe(HeadlessPrinter(as_json=as_json))
    try:
        await catcher.start()
    except OSError as error:
        catcher.store.close()
        print(f"snowcatcher: {listen_error(settings, error)}", file=sys.stderr)
        return 2
    announce(catcher)
    try:
        await asyncio.Event().wait()
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
