"""GitLab internal events over real HTTP to a snowcatcher started with a GitLab checkout (--gitlab)."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from snowcatcher.qa import expect
from snowcatcher.runtime import Settings, Snowcatcher
from tests.cli_process import CliProcess
from tests.data import TP2
from tests.gitlab_support import (
    ACTIVE_ISSUE_CLOSED,
    SERVICE_PING,
    STANDARD,
    declare_key_kind,
    fake_checkout,
    internal_event,
    standard,
    tp2_body,
)
from tests.test_cli import run_cli


@pytest.fixture
async def gitlab_catcher(iglu: Path, tmp_path: Path) -> AsyncIterator[Snowcatcher]:
    checkout = fake_checkout(tmp_path / "gitlab", leave_out=[ACTIVE_ISSUE_CLOSED])
    server = Snowcatcher(Settings(port=0, offline=True, schemas=[iglu], cache_dir=tmp_path / "cache",
                                  gitlab=checkout))
    await server.start()
    yield server
    await server.stop()


async def post(http: aiohttp.ClientSession, url: str, *events: dict[str, str]) -> None:
    async with http.post(url + TP2, data=tp2_body(*events),
                         headers={"Content-Type": "application/json"}) as answer:
        assert answer.status == 200


async def api(http: aiohttp.ClientSession, url: str, path: str, **params: str) -> Any:
    async with http.get(f"{url}/snowcatcher/api{path}", params=params) as answer:
        assert answer.status == 200, await answer.text()
        return await answer.json()


def findings(event: dict[str, Any]) -> list[str]:
    return [v["message"] for v in event["violations"] if v["keyword"] == "definition"]


async def test_each_kind_of_finding_over_http(gitlab_catcher: Snowcatcher,
                                              http: aiohttp.ClientSession) -> None:
    url = gitlab_catcher.url
    await post(http, url,
               internal_event("create_ci_runner", label="instance_type"),        # as defined
               internal_event("create_ci_runnr"),                                 # undefined name
               internal_event("create_ssh_key", extra={"key_kind": "rsa"}),      # undeclared property
               internal_event("create_ci_runner", user_id=None),                  # missing identifier
               internal_event("g_project_management_issue_closed"))               # removed
    events = (await api(http, url, "/events"))["events"]
    assert [e["valid"] for e in events] == [True, False, False, False, False]
    messages = [findings(e) for e in events]
    assert messages[0] == []
    assert "Unknown event: create_ci_runnr" in messages[1][0] and "create_ci_runner" in messages[1][0]
    assert messages[2][0].startswith("undeclared property: key_kind")
    assert messages[3][0].startswith("missing identifier:")
    assert messages[4][0].startswith("removed event:")
    # Only definition findings: the contexts themselves are valid against their Iglu schemas.
    assert all(v["keyword"] == "definition" for e in events for v in e["violations"])
    found = await api(http, url, "/events", filter="definition")
    assert found["total"] == 4
    undeclared = await api(http, url, "/events", filter="definition:undeclared")
    assert [e["name"] for e in undeclared["events"]] == ["create_ssh_key"]
    by_name = await api(http, url, "/events", filter="definition:create_ci_*")
    assert [e["name"] for e in by_name["events"]] == ["create_ci_runnr", "create_ci_runner"]
    assert (await api(http, url, "/events", filter="-definition"))["total"] == 1


async def test_the_python_tracker_sending_a_defined_event(gitlab_catcher: Snowcatcher) -> None:
    tracker = pytest.importorskip("snowplow_tracker", reason="pip install snowplow-tracker")

    def send() -> None:
        emitter = tracker.Emitter(gitlab_catcher.url, method="post", batch_size=1)
        track = tracker.Tracker(namespace="gl", emitters=emitter, app_id="gitlab")
        contexts = [tracker.SelfDescribingJson(STANDARD, standard()),
                    tracker.SelfDescribingJson(SERVICE_PING, {"data_source": "redis_hll",
                                                              "event_name": "create_ci_runner"})]
        for action in ("create_ci_runner", "create_ci_runer"):
            track.track(tracker.StructuredEvent(category="InternalEventTracking", action=action,
                                                label="group_type", context=contexts))
        track.flush()

    await asyncio.to_thread(send)
    good, bad = gitlab_catcher.store.window()
    assert good.valid, good.violations
    assert [v.keyword for v in bad.violations] == ["definition"]


async def test_metrics_fed_after_n_events_from_m_users(gitlab_catcher: Snowcatcher,
                                                       http: aiohttp.ClientSession) -> None:
    url = gitlab_catcher.url
    await post(http, url, *[internal_event("create_ci_runner", user_id=n % 3, project_id=9)
                            for n in range(7)])
    report = await api(http, url, "/gitlab/metrics")
    assert "this capture's contributions" in report["note"]
    values = {row["key_path"]: row["value"] for row in report["metrics"]}
    assert values["counts.count_total_ci_runners_created"] == 7
    assert values["counts.count_total_ci_runners_created_weekly"] == 7
    assert values["redis_hll_counters.count_distinct_user_id_from_create_ci_runner_monthly"] == 3
    assert values["redis_hll_counters.count_distinct_project_id_from_create_ci_runner_weekly"] == 1
    row = next(r for r in report["metrics"] if r["key_path"].endswith("user_id_from_create_ci_runner_weekly"))
    assert (row["counts"], row["time_frame"], row["events"]) == ("unique users", "7d", ["create_ci_runner"])
    await post(http, url, internal_event("create_ci_runner", user_id=42))
    values = {row["key_path"]: row["value"] for row in (await api(http, url, "/gitlab/metrics"))["metrics"]}
    assert values["counts.count_total_ci_runners_created"] == 8
    assert values["redis_hll_counters.count_distinct_user_id_from_create_ci_runner_monthly"] == 4


async def test_a_fixed_definition_clears_the_finding_on_revalidation(gitlab_catcher: Snowcatcher,
                                                                     http: aiohttp.ClientSession) -> None:
    await post(http, gitlab_catcher.url, internal_event("create_ssh_key", extra={"key_kind": "rsa"}))
    [event] = gitlab_catcher.store.window()
    assert not event.valid
    assert gitlab_catcher.gitlab is not None
    declare_key_kind(gitlab_catcher.gitlab.root)
    report = await gitlab_catcher.revalidate()
    assert report.changed == 1
    [event] = gitlab_catcher.store.window()
    assert event.valid


async def test_expect_asserts_an_event_was_sent_as_defined(gitlab_catcher: Snowcatcher,
                                                           http: aiohttp.ClientSession) -> None:
    url = gitlab_catcher.url
    await post(http, url, internal_event("create_ci_runner"),
               internal_event("create_ssh_key", extra={"key_kind": "rsa"}))

    def run(*argv: str) -> tuple[int, str]:
        out = io.StringIO()
        return expect.main([*argv, "--url", url, "--timeout", "0"], out=out), out.getvalue()

    code, text = await asyncio.to_thread(run, "name:create_ci_runner", "--defined")
    assert code == 0, text
    code, text = await asyncio.to_thread(run, "name:create_ssh_key", "--defined")
    assert code == 1 and "undeclared property: key_kind" in text
    code, text = await asyncio.to_thread(run, "--no-invalid")
    assert code == 1 and "create_ssh_key" in text


async def test_expect_defined_needs_gitlab(catcher: Snowcatcher) -> None:
    out = io.StringIO()
    code = await asyncio.to_thread(expect.main, ["--url", catcher.url, "--defined", "--timeout", "0"], out)
    assert code == 1 and "start snowcatcher with --gitlab" in out.getvalue()


async def test_without_gitlab_events_are_not_checked(catcher: Snowcatcher,
                                                     http: aiohttp.ClientSession) -> None:
    await post(http, catcher.url, internal_event("no_such_event_anywhere"))
    [event] = catcher.store.window()
    assert event.valid
    async with http.get(f"{catcher.url}/snowcatcher/api/gitlab/metrics") as answer:
        assert answer.status == 404


def test_a_path_that_is_no_checkout_is_a_clear_error(tmp_path: Path) -> None:
    result = run_cli("--headless", "--gitlab", str(tmp_path))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "is not a GitLab checkout" in result.stderr and "config/events/" in result.stderr


def test_a_gdk_is_found_from_gdk_root_and_said_at_start(tmp_path: Path) -> None:
    fake_checkout(tmp_path / "gdk/gitlab")
    (tmp_path / "gdk/gdk.yml").write_text("---\n")
    (tmp_path / "gdk/gitlab/config/events/broken.yml").write_text("action: [\n")
    cli = CliProcess("--headless", "--offline", env={"GDK_ROOT": str(tmp_path / "gdk")})
    try:
        lines = [cli.read_error_line() for _ in range(4)]
    finally:
        cli.stop()
    text = "".join(lines)
    assert f"GDK_ROOT -> {tmp_path / 'gdk/gitlab'}" in lines[0]
    assert "listening on" in text and "internal events" in text
    assert "problem(s) in definition files" in text
