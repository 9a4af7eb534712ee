"""`snowcatcher expect`: assert that a running snowcatcher received the expected events; exit 0 or 1."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import yaml

from snowcatcher.api.guard import TOKEN_ENV
from snowcatcher.model import Violation
from snowcatcher.text import as_json, inert

DEFAULT_URL = "http://127.0.0.1:9090"
DEFAULT_TIMEOUT = 10.0
#: The longest wait the server accepts (api.MAX_WAIT).
MAX_TIMEOUT = 600.0
_CHECK_KEYS = {"name", "filter", "count", "exact", "timeout", "contexts", "fields", "defined"}
_FILE_KEYS = {"url", "timeout", "no_invalid", "expect"}


class ExpectError(ValueError):
    """An expectation that cannot be run (bad file, bad argument); the message says why."""


@dataclass
class Expectation:
    """One check: at least (or exactly) `count` events matching a filter, contexts and field values."""

    filter: str = ""
    count: int = 1
    exact: bool = False
    timeout: float = DEFAULT_TIMEOUT
    contexts: list[str] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)
    label: str = ""
    #: Each event must be sent as its GitLab definition declares (no definition finding).
    defined: bool = False

    def title(self) -> str:
        words = [f"filter {as_json(self.filter)}" if self.filter else "any event"]
        words += [f"context {name}" for name in self.contexts]
        words += [f"{key}={value}" for key, value in self.fields.items()]
        words += ["as its GitLab definition declares"] if self.defined else []
        text = ", ".join(words)
        return f"{self.label} ({text})" if self.label else text


@dataclass
class Outcome:
    passed: bool
    headline: str
    details: list[str] = field(default_factory=list)


# -- running -------------------------------------------------------------------------------------


def run_expectation(url: str, check: Expectation, token: str = "") -> Outcome:
    params: list[tuple[str, str]] = [("filter", check.filter), ("count", str(check.count)),
                                     ("timeout", f"{check.timeout:g}")]
    params += [("context", name) for name in check.contexts]
    params += [("field", f"{key}={value}") for key, value in check.fields.items()]
    if check.exact:
        params.append(("exact", "1"))
    if check.defined:
        params.append(("defined", "1"))
    status, report = _get(url, "/snowcatcher/api/wait", params, check.timeout + 10, token)
    wanted = f"{'exactly' if check.exact else 'at least'} {check.count}"
    if status not in (200, 504):
        return Outcome(False, f"{check.title()}: {report.get('error', f'HTTP {status}')}")
    found = int(report.get("found", 0))
    waited = float(report.get("waited", 0.0))
    if status == 200 and check.exact:
        # Exactly N must still hold when the timeout ends: wait out the rest for one more.
        later, waited = _one_more(url, params, report, check.timeout - waited, token)
        if later is not None:
            headline = (f"{check.title()}: {found + 1} matching event(s), wanted {wanted} "
                        f"(one more arrived after {waited:.1f}s)")
            return Outcome(False, headline, [_line(event) for event in
                                             [*report.get("events", [])[:4], *later.get("events", [])[:1]]])
    headline = f"{check.title()}: {found} matching event(s), wanted {wanted} (waited {waited:.1f}s)"
    if status == 200:
        return Outcome(True, headline, [_line(event) for event in report.get("events", [])[:5]])
    return Outcome(False, headline, _failure_details(report))


def _one_more(url: str, params: list[tuple[str, str]], report: dict[str, Any], remaining: float,
              token: str) -> tuple[dict[str, Any] | None, float]:
    """The report of a matching event stored after the ones `report` found, if one arrives within
    `remaining` seconds; and the seconds waited in all."""
    waited = float(report.get("waited", 0.0))
    if remaining <= 0:
        return None, waited
    listed = report.get("events", [])
    newest = max((int(event.get("id", 0)) for event in listed), default=0)
    # The report lists the first 100 matches; those it leaves out came after the newest listed.
    unlisted = int(report.get("found", 0)) - len(listed)
    after = [(key, value) for key, value in params if key not in ("count", "timeout", "exact", "after")]
    status, more = _get(url, "/snowcatcher/api/wait", [*after, ("count", str(unlisted + 1)),
                                                       ("after", str(newest)),
                                                       ("timeout", f"{remaining:g}")], remaining + 10, token)
    waited += float(more.get("waited", 0.0))
    return (more if status == 200 else None), waited


def _failure_details(report: dict[str, Any]) -> list[str]:
    details = [f"events matching the filter: {report.get('matching_filter', '?')} "
               f"(the store holds {report.get('store_total', '?')})"]
    misses = report.get("near_misses") or []
    if misses:
        details.append("matched the filter but failed a check:")
        details += [f"  {_line(miss)}: {'; '.join(miss.get('problems', []))}" for miss in misses]
    recent = report.get("recent") or []
    if recent:
        details.append("latest events in the store:")
        details += [f"  {_line(event)}" for event in recent]
    return details


def run_no_invalid(url: str, scope: str, timeout: float = DEFAULT_TIMEOUT, token: str = "") -> Outcome:
    """No invalid event in scope, once every event has its final verdict: events still being
    re-checked ("unchecked") are waited for, up to `timeout` seconds."""
    label = f"no invalid events{f' among {json.dumps(scope)}' if scope else ''}"
    deadline = time.monotonic() + timeout
    while True:
        asked, pending = _get(url, "/snowcatcher/api/events",
                              [("filter", f"unchecked {scope}".strip()), ("limit", "5")], 30, token)
        waiting = int(pending.get("total", 0)) if asked == 200 else 0
        if not waiting or time.monotonic() >= deadline:
            break
        time.sleep(0.2)  # the re-check runs in snowcatcher's background: ask again shortly
    status, report = _get(url, "/snowcatcher/api/events", [("filter", f"invalid {scope}".strip()),
                                                          ("limit", "10"), ("order", "newest")], 30, token)
    if status != 200:
        return Outcome(False, f"no invalid events: {report.get('error', f'HTTP {status}')}")
    total = int(report.get("total", 0))
    details = [_explained(event) for event in report.get("events", [])]
    if waiting:
        details += [_explained(event) for event in pending.get("events", [])]
        return Outcome(False, f"{label}: {total} invalid event(s), and {waiting} not checked yet after "
                              f"{timeout:g}s", details)
    if not total:
        return Outcome(True, f"{label}: none")
    return Outcome(False, f"{label}: {total} invalid event(s)", details)


def _explained(event: dict[str, Any]) -> str:
    """The event's line and its violations, each naming its entity and path (`gitlab_standard /realm: …`)."""
    return f"{_line(event)}: " + "; ".join(Violation.from_json(v).short() for v in event.get(
        "violations", []) if isinstance(v, dict))


def _line(event: dict[str, Any]) -> str:
    verdict = event.get("verdict") or ("valid" if event.get("valid") else "invalid")
    mark = "INVALID" if verdict == "invalid" else verdict.replace("unchecked", "not checked yet")
    return (f"#{event.get('id')} {event.get('event_type', '')} {event.get('name') or '-'} "
            f"app={event.get('app_id') or '-'} ({mark})")


def _get(url: str, path: str, params: list[tuple[str, str]], timeout: float,
         token: str = "") -> tuple[int, dict[str, Any]]:
    address = f"{url.rstrip('/')}{path}?{urllib.parse.urlencode(params)}"
    request = urllib.request.Request(address, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        try:
            return error.code, json.loads(error.read())
        except ValueError:
            return error.code, {"error": f"{url} answered HTTP {error.code} {error.reason}"}
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        return 0, {"error": f"cannot reach snowcatcher at {url}: {reason} (is it running? "
                            "start it with `snowcatcher --headless`)"}
    except ValueError:
        return 0, {"error": f"{url} did not answer JSON: is it a snowcatcher?"}


# -- the expectations file -----------------------------------------------------------------------


def load_file(path: Path) -> tuple[dict[str, Any], list[Expectation]]:
    """The settings and checks of an expectations YAML file."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ExpectError(f"cannot read {path}: {error}") from None
    if not isinstance(data, dict):
        raise ExpectError(f"{path}: the file must be a mapping with an `expect:` list")
    _no_unknown(data, _FILE_KEYS, str(path))
    items = data.get("expect")
    if items is None:
        items = []
    if not isinstance(items, list):
        raise ExpectError(f"{path}: expect must be a list of checks, got {_shown(items)}")
    for key in ("url",):
        if key in data and not isinstance(data[key], str):
            raise ExpectError(f"{path}: {key} must be a string, got {_shown(data[key])}")
    if "no_invalid" in data and not isinstance(data["no_invalid"], bool | str):
        raise ExpectError(f"{path}: no_invalid must be true, false or a filter string, "
                          f"got {_shown(data['no_invalid'])}")
    timeout = _seconds(data.get("timeout", DEFAULT_TIMEOUT), f"{path}: timeout")
    return data, [_expectation(item, f"{path}: check {n + 1}", timeout) for n, item in enumerate(items)]


def _expectation(item: Any, where: str, timeout: float) -> Expectation:
    if isinstance(item, str):
        item = {"filter": item}
    if not isinstance(item, dict):
        raise ExpectError(f"{where} must be a filter string or a mapping, got {_shown(item)}")
    if isinstance(item.get("name"), str) and item["name"]:
        where = f"{where} ({item['name']})"
    _no_unknown(item, _CHECK_KEYS, where)
    for key in ("name", "filter"):
        if item.get(key) is not None and not isinstance(item[key], str):
            raise ExpectError(f"{where}: {key} must be a string, got {_shown(item[key])}")
    for key in ("exact", "defined"):
        if key in item and not isinstance(item[key], bool):
            raise ExpectError(f"{where}: {key} must be true or false, got {_shown(item[key])}")
    count = item.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ExpectError(f"{where}: count must be a whole number, 0 or more, got {_shown(count)}")
    contexts = item.get("contexts") or []
    if not isinstance(contexts, list) or not all(isinstance(c, str) and c for c in contexts):
        raise ExpectError(f"{where}: contexts must be a list of schema names or URIs, "
                          f"got {_shown(contexts)}")
    fields = item.get("fields") or {}
    if not isinstance(fields, dict):
        raise ExpectError(f"{where}: fields must be a mapping of KEY: VALUE, got {_shown(fields)}")
    for key, value in fields.items():
        if isinstance(value, dict | list):
            raise ExpectError(f"{where}: fields: {key} must be a single value (text, a number, true, "
                              f"false or null), got {_shown(value)}")
    return Expectation(filter=item.get("filter") or "", count=count, exact=item.get("exact", False),
                       timeout=_seconds(item.get("timeout", timeout), f"{where}: timeout"),
                       contexts=contexts, fields={str(k): _scalar(v) for k, v in fields.items()},
                       label=item.get("name") or "", defined=item.get("defined") is True)


def _no_unknown(data: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(map(str, data)) - allowed)
    if unknown:
        raise ExpectError(f"{where}: unknown key(s) {', '.join(unknown)}; use {', '.join(sorted(allowed))}")


def _seconds(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= MAX_TIMEOUT:
        raise ExpectError(f"{where} must be a number of seconds from 0 to {MAX_TIMEOUT:g}, "
                          f"got {_shown(value)}")
    return float(value)


def _shown(value: Any) -> str:
    """A YAML value as JSON text for a message ("two", 1.7, null)."""
    return json.dumps(value, default=str)


def _scalar(value: Any) -> str:
    """YAML turns `value: 2` into an int and `plan: null` into None; compare them as JSON text."""
    return value if isinstance(value, str) else json.dumps(value)


# -- command line --------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="snowcatcher expect",
        description="Assert that a running snowcatcher received the expected events. Exits 0 when "
                    "every check passes, 1 otherwise, with a report for the CI log.")
    parser.add_argument("filter", nargs="?", default=None,
                        help="events to wait for, in the filter language (e.g. 'name:i_code_* app:gitlab')")
    parser.add_argument("--url", help=f"the snowcatcher to ask (default {DEFAULT_URL})")
    parser.add_argument("--count", type=int, default=1, help="how many must arrive (default 1)")
    parser.add_argument("--exact", action="store_true", help="exactly --count, not at least")
    parser.add_argument("--timeout", type=float, default=None,
                        help=f"seconds to wait for them (default {DEFAULT_TIMEOUT:g})")
    parser.add_argument("--context", action="append", default=[], metavar="SCHEMA",
                        help="a context each event must carry: a schema name or URI prefix; repeatable")
    parser.add_argument("--field", action="append", default=[], metavar="KEY=VALUE",
                        help="a value each event must have (se_label=x, gitlab_standard.realm=saas, "
                             "`*` is a wildcard); repeatable")
    parser.add_argument("--defined", action="store_true",
                        help="each event must be sent as its GitLab definition declares: defined, "
                             "active, only declared properties, its identifiers present (needs a "
                             "snowcatcher started with --gitlab)")
    parser.add_argument("--no-invalid", action="store_true",
                        help="also fail if any event is invalid (with --gitlab: or breaks its definition)")
    parser.add_argument("--file", "-f", type=Path, help="an expectations YAML file with several checks")
    parser.add_argument("--token", default=os.environ.get(TOKEN_ENV, ""),
                        help=f"the token snowcatcher was started with (default: ${TOKEN_ENV})")
    return parser


def main(argv: Sequence[str], out: TextIO | None = None) -> int:
    out = out or sys.stdout
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        url, checks, no_invalid = _plan(args)
    except ExpectError as error:
        parser.error(str(error))
    print(f"snowcatcher expect: asking {url}", file=out)
    outcomes = [run_expectation(url, check, args.token) for check in checks]
    if no_invalid is not None:
        outcomes.append(run_no_invalid(url, no_invalid, token=args.token))
    for outcome in outcomes:
        print(inert(f"{'PASS' if outcome.passed else 'FAIL'}  {outcome.headline}"), file=out)
        for detail in outcome.details:
            print(inert(f"      {detail}"), file=out)
    failed = sum(not outcome.passed for outcome in outcomes)
    print(f"{failed} of {len(outcomes)} checks failed" if failed else f"all {len(outcomes)} checks passed",
          file=out)
    return 1 if failed else 0


def _plan(args: argparse.Namespace) -> tuple[str, list[Expectation], str | None]:
    """The URL, the checks and the scope of the no-invalid check (None: no such check)."""
    settings: dict[str, Any] = {}
    checks: list[Expectation] = []
    if args.file is not None:
        settings, checks = load_file(args.file)
    if args.filter is not None or args.context or args.field or args.defined or (
            not checks and not args.no_invalid):
        checks.append(Expectation(filter=args.filter or "", count=args.count, exact=args.exact,
                                  timeout=args.timeout if args.timeout is not None else DEFAULT_TIMEOUT,
                                  contexts=args.context, fields=dict(_pairs(args.field)),
                                  defined=args.defined))
    if args.count < 0:
        raise ExpectError("--count must be 0 or more")
    if args.timeout is not None and not 0 <= args.timeout <= MAX_TIMEOUT:
        raise ExpectError(f"--timeout must be from 0 to {MAX_TIMEOUT:g} seconds")
    wanted = settings.get("no_invalid")
    no_invalid = "" if args.no_invalid or wanted is True else (wanted if isinstance(wanted, str) else None)
    return str(args.url or settings.get("url") or DEFAULT_URL), checks, no_invalid


def _pairs(items: list[str]) -> list[tuple[str, str]]:
    pairs = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ExpectError(f"--field {as_json(item)} must look like KEY=VALUE")
        pairs.append((key, value))
    return pairs
