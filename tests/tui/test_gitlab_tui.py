"""The GitLab tab with definitions and the metrics view (`m`): Pilot tests over a live collector started
with a GitLab checkout built from the corpus, and snapshots over fixed events."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Static

from snowcatcher.gitlab.definitions import DefinitionSource
from snowcatcher.gitlab.findings import check
from snowcatcher.model import CapturedEvent, RawRequest
from snowcatcher.runtime import Settings, Snowcatcher
from snowcatcher.store.store import Store
from snowcatcher.tui.app import SnowcatcherApp
from snowcatcher.tui.metrics_view import MetricsScreen
from tests.gitlab_support import fake_checkout
from tests.tui import samples
from tests.tui.pilot import SIZE, settle, shown, until
from tests.tui.tracker import gitlab_event, post

SnapCompare = Callable[..., bool]


@pytest.fixture
async def gitlab_live(schemas: Path, tmp_path: Path) -> AsyncIterator[SnowcatcherApp]:
    settings = Settings(port=0, schemas=[schemas], offline=True, cache_dir=None,
                        gitlab=fake_checkout(tmp_path / "gitlab"))
    server = Snowcatcher(settings)
    yield SnowcatcherApp(server.store, server=server, export_dir=tmp_path)


def runner_event(user_id: int) -> dict[str, Any]:
    return gitlab_event("create_ci_runner", extra={"user_id": user_id, "extra": {}})


def metric_value(app: SnowcatcherApp, key_path: str) -> str:
    text = shown(app.screen.query_one("#metrics-table", Static))
    found = [line for line in text.splitlines() if line.strip().startswith(key_path)]
    assert found, text
    return found[0].split()[-1]


async def test_the_gitlab_tab_shows_definition_findings_and_metrics(gitlab_live: SnowcatcherApp) -> None:
    async with gitlab_live.run_test(size=SIZE) as pilot:
        assert gitlab_live.server is not None
        await post(gitlab_live.server.url, runner_event(5))
        await until(pilot, lambda: gitlab_live.store.counts().total == 1)
        await pilot.press("6")
        await settle(pilot)
        text = shown(gitlab_live.query_one("#gitlab-body", Static))
        assert re.search(r"service ping event_name +create_ci_runner", text)
        assert "config/events/create_ci_runner.yml" in text and "Tracks the number of CI runners" in text
        assert "The runner type, which can be" in text  # label's description
        assert "counts.count_total_ci_runners_created_weekly" in text and "unique namespaces" in text
        # The tracker helper sends se_la only: it is declared, so the event has no finding.
        assert "✗" not in text and "✓ counted" in text


async def test_the_metrics_view_counts_this_capture_live(gitlab_live: SnowcatcherApp) -> None:
    async with gitlab_live.run_test(size=SIZE) as pilot:
        assert gitlab_live.server is not None
        url = gitlab_live.server.url
        await post(url, runner_event(1), runner_event(2), runner_event(1))
        await until(pilot, lambda: gitlab_live.store.counts().total == 3)
        await pilot.press("m")
        await until(pilot, lambda: isinstance(gitlab_live.screen, MetricsScreen))
        note = shown(gitlab_live.screen.query_one("#metrics-note", Static))
        assert "not the GitLab instance's totals" in note
        assert metric_value(gitlab_live, "counts.count_total_ci_runners_created ") == "3"
        user_metric = "redis_hll_counters.count_distinct_user_id_from_create_ci_runner_monthly"
        assert metric_value(gitlab_live, user_metric) == "2"
        await post(url, runner_event(3))
        await until(pilot, lambda: metric_value(gitlab_live, user_metric) == "3")
        assert user_metric in gitlab_live.screen.changed  # highlighted
        await pilot.press("v", "slash")  # the list's keys do nothing here
        assert isinstance(gitlab_live.screen, MetricsScreen)
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(gitlab_live.screen, MetricsScreen))


async def test_without_gitlab_there_is_no_metrics_key(live: SnowcatcherApp) -> None:
    async with live.run_test(size=SIZE) as pilot:
        await pilot.press("m")
        await settle(pilot)
        assert not isinstance(live.screen, MetricsScreen)
        commands = [command.title for command in live.get_system_commands(live.screen)]
        assert not any(title.startswith("Metrics") for title in commands)
        assert "Revalidate  (r)" in commands


# -- snapshots -----------------------------------------------------------------------------------


@pytest.fixture
def make_gitlab_app(tmp_path: Path) -> Iterator[Callable[[], SnowcatcherApp]]:
    """The app over fixed GitLab events checked against the corpus checkout (no collector)."""
    source = DefinitionSource(fake_checkout(tmp_path / "gitlab"))
    stores: list[Store] = []

    def checked(pair: tuple[RawRequest, CapturedEvent]) -> tuple[RawRequest, CapturedEvent]:
        request, event = pair
        found = tuple(check(event, source.definitions))
        return request, CapturedEvent(event.protocol, event.event_type, event.name, event.schema,
                                      event.app_id, event.payload, event.entities, found, event.received_at)

    def make() -> SnowcatcherApp:
        stores.append(Store())
        pairs = [samples.gitlab_struct(action, at=samples.T0 + n, user_id=user)
                 for n, (action, user) in enumerate([("create_ci_runner", 1), ("create_ci_runner", 2),
                                                     ("create_ssh_key", 1), ("create_ci_runnr", 1)])]
        samples.fill(stores[-1], [checked(pair) for pair in pairs])
        return SnowcatcherApp(stores[-1], address="listening on http://127.0.0.1:9090", gitlab=source)

    yield make
    for store in stores:
        store.close()


def test_gitlab_tab_with_definitions(make_gitlab_app: Callable[[], SnowcatcherApp],
                                     snap_compare: SnapCompare) -> None:
    async def select(pilot: Pilot[Any]) -> None:
        await pilot.press("home", "6")
        await pilot.pause(0.2)

    assert snap_compare(make_gitlab_app(), terminal_size=(150, 60), run_before=select)


def test_metrics_view(make_gitlab_app: Callable[[], SnowcatcherApp], snap_compare: SnapCompare) -> None:
    async def metrics(pilot: Pilot[Any]) -> None:
        await pilot.press("m")
        await pilot.pause(0.2)

    assert snap_compare(make_gitlab_app(), terminal_size=(150, 44), run_before=metrics)
