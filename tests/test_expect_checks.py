"""`snowcatcher expect` against a plain_catcher snowcatcher: bad files, --exact over the whole timeout,
readable no-invalid lines, and POST /snowcatcher/api/wait."""

from __future__ import annotations

import asyncio
import io
import threading
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from snowcatcher.qa import expect
from snowcatcher.runtime import Snowcatcher
from tests.conftest import post_events
from tests.data import struct

API = "/snowcatcher/api"


@pytest.mark.parametrize(("text", "key"), [
    ("expect:\n  - count: two\n", 'check 1: count must be a whole number, 0 or more, got "two"'),
    ("expect:\n  - filter: x\n    count: 1.7\n", "check 1: count must be a whole number, 0 or more, got 1.7"),
    ("expect:\n  - filter: x\n    count: -1\n", "check 1: count must be a whole number, 0 or more, got -1"),
    ("expect:\n  - name: basket\n    count: true\n", "check 1 (basket): count must be a whole number"),
    ("expect:\n  - filter: x\n    exact: yes please\n", 'exact must be true or false, got "yes please"'),
    ("expect:\n  - filter: x\n    timeout: soon\n", 'check 1: timeout must be a number of seconds'),
    ("expect:\n  - filter: x\n    timeout: -3\n", "timeout must be a number of seconds from 0 to 600"),
    ("expect:\n  - filter: x\n    contexts: gitlab_standard\n", "contexts must be a list"),
    ("expect:\n  - filter: x\n    fields: [a, b]\n", "fields must be a mapping"),
    ("expect:\n  - filter: x\n    fields: {plan: {a: 1}}\n", "fields: plan must be a single value"),
    ("expect:\n  - filter: [x]\n", 'filter must be a string, got ["x"]'),
    ("expect:\n  - 12\n", "check 1 must be a filter string or a mapping, got 12"),
    ("expect: type:struct\n", 'expect must be a list of checks, got "type:struct"'),
    ("timeout: forever\nexpect: []\n", 'timeout must be a number of seconds from 0 to 600, got "forever"'),
    ("url: 9090\nexpect: []\n", "url must be a string, got 9090"),
    ("no_invalid: 3\nexpect: []\n", "no_invalid must be true, false or a filter string, got 3"),
    ("expect:\n  - filter: x\n  - filter: y\n    count: 2.5\n", "check 2: count"),
])
def test_a_bad_expectations_file_exits_2_naming_file_check_and_key(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, key: str) -> None:
    path = tmp_path / "tracking.yml"
    path.write_text(text)
    with pytest.raises(SystemExit) as exited:
        expect.main(["--file", str(path), "--url", "http://127.0.0.1:9"])
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert f"{path}: " in error and key in error and "Traceback" not in error


def test_bad_count_and_timeout_arguments_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    for args, message in ((["--count", "-1"], "--count must be 0 or more"),
                          (["--timeout", "-1"], "--timeout must be from 0 to 600 seconds"),
                          (["--count", "two"], "invalid int value: 'two'")):
        with pytest.raises(SystemExit) as exited:
            expect.main(["type:struct", "--url", "http://127.0.0.1:9", *args])
        assert exited.value.code == 2 and message in capsys.readouterr().err


def run_expect(args: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    code = expect.main(args, out)
    return code, out.getvalue()


async def test_exact_holds_for_the_whole_timeout(plain_catcher: Snowcatcher, http: aiohttp.ClientSession,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A duplicate that arrives after the expected event, within --timeout, fails --exact."""
    await post_events(http, plain_catcher.url, struct("once"))
    first_answer = threading.Event()
    asked = expect._get

    def get_and_tell(*args: Any, **kwargs: Any) -> tuple[int, dict[str, Any]]:
        answer = asked(*args, **kwargs)
        first_answer.set()
        return answer

    monkeypatch.setattr(expect, "_get", get_and_tell)
    running_expect = asyncio.ensure_future(asyncio.to_thread(
        run_expect, ["name:once", "--exact", "--timeout", "30", "--url", plain_catcher.url]))
    await asyncio.to_thread(first_answer.wait, 30)
    await post_events(http, plain_catcher.url, struct("once"))  # the duplicate, after the first answer
    code, out = await asyncio.wait_for(running_expect, 60)
    assert code == 1, out
    assert "2 matching event(s), wanted exactly 1 (one more arrived after" in out


async def test_exact_passes_when_no_duplicate_arrives(plain_catcher: Snowcatcher,
                                                      http: aiohttp.ClientSession) -> None:
    await post_events(http, plain_catcher.url, struct("once"), struct("other"))
    code, out = await asyncio.to_thread(
        run_expect, ["name:once", "--exact", "--timeout", "0.3", "--url", plain_catcher.url])
    assert code == 0, out
    assert "1 matching event(s), wanted exactly 1" in out


async def test_no_invalid_lines_name_the_entity_and_path(plain_catcher: Snowcatcher,
                                                         http: aiohttp.ClientSession) -> None:
    await post_events(http, plain_catcher.url, struct("oops", se_va="a lot"))
    code, out = await asyncio.to_thread(run_expect, ["--no-invalid", "--url", plain_catcher.url])
    assert code == 1
    line = next(line for line in out.splitlines() if "#1 struct oops" in line)
    assert line.endswith(": event /se_va: se_va (value) must be a number, got \"a lot\""), line


async def test_wait_accepts_its_query_as_a_json_body(plain_catcher: Snowcatcher,
                                                     http: aiohttp.ClientSession) -> None:
    await post_events(http, plain_catcher.url, struct("here", se_la="yes"), struct("here", se_la="no"))
    query = {"filter": "name:here", "count": 1, "timeout": 5, "field": {"se_label": "yes"},
             "context": [], "exact": True}
    async with http.post(plain_catcher.url + API + "/wait", json=query) as answer:
        report = await answer.json()
        assert answer.status == 200, report
    assert report["found"] == 1 and report["events"][0]["payload"]["se_la"] == "yes"
    missing = {"filter": "name:missing", "timeout": 0.1}
    async with http.post(plain_catcher.url + API + "/wait", json=missing) as answer:
        report = await answer.json()
        assert answer.status == 504
    # The report's times are ISO-8601, as everywhere else a person reads them.
    assert report["recent"][0]["received_at"].endswith("Z") and report["recent"][0]["received_at"][:2] == "20"
    async with http.post(plain_catcher.url + API + "/wait", data=b"[1]",
                         headers={"Content-Type": "application/json"}) as answer:
        assert answer.status == 400 and "JSON object" in (await answer.json())["error"]
    async with http.post(plain_catcher.url + API + "/wait", json={"count": {"a": 1}}) as answer:
        assert answer.status == 400 and "count must be" in (await answer.json())["error"]


async def test_endpoint_list_names_each_path_once(plain_catcher: Snowcatcher,
                                                  http: aiohttp.ClientSession) -> None:
    async with http.get(plain_catcher.url + API + "/nothing") as answer:
        listed = (await answer.json())["endpoints"]
    assert answer.status == 404
    assert len(listed) == len(set(listed)) and API + "/events" in listed and API + "/wait" in listed
