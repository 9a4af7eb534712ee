"""GitLab definitions loaded from a checkout built from the corpus; findings and metric contributions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from snowcatcher.gitlab.definitions import DefinitionSource, NotAGitLabCheckout
from snowcatcher.gitlab.findings import check
from snowcatcher.gitlab.metrics import MetricTally, feeds
from snowcatcher.model import CapturedEvent, Entity
from tests.gitlab_support import (
    ACTIVE_ISSUE_CLOSED,
    SERVICE_PING,
    STANDARD,
    add_fixtures,
    declare_key_kind,
    fake_checkout,
    standard,
)


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    return fake_checkout(tmp_path / "gitlab")


def captured(action: str, *, ping: str | None = None, event_id: int = 1, label: str | None = None,
             value: str | None = None, extra: dict[str, Any] | None = None,
             category: str = "InternalEventTracking", **fields: Any) -> CapturedEvent:
    payload = {"e": "se", "se_ac": action, "se_ca": category}
    if label is not None:
        payload["se_la"] = label
    if value is not None:
        payload["se_va"] = value
    entities = (Entity("context", 0, STANDARD, standard(extra=extra or {}, **fields), "cx"),
                Entity("context", 1, SERVICE_PING, {"data_source": "redis_hll", "event_name": ping or action},
                       "cx"))
    return CapturedEvent("snowplow", "struct", action, "", "gitlab", payload, entities, id=event_id)


def test_events_are_found_by_action_not_file_name(checkout: Path) -> None:
    definitions = DefinitionSource(checkout).definitions
    merge_request = definitions.find("i_code_review_user_create_mr")
    assert merge_request is not None and merge_request.internal
    assert merge_request.path.name.startswith("1671198983_")
    legacy = definitions.find("approve")
    assert legacy is not None and not legacy.internal
    assert "g_project_management_issue_closed" in definitions.removed
    assert "i_code_review_user_approve_mr" in definitions.legacy_hll


def test_declared_properties_leave_identifier_keys_out(checkout: Path) -> None:
    build = DefinitionSource(checkout).definitions.find("create_ci_build")
    assert build is not None and build.properties == {"property": "the name of the build"}
    ssh = DefinitionSource(checkout).definitions.find("create_ssh_key")
    assert ssh is not None and set(ssh.properties) == {"creation_source", "usage_type"}
    assert ssh.identifiers == ("user",)


def test_a_time_frame_list_becomes_one_metric_per_frame(checkout: Path) -> None:
    metrics = DefinitionSource(checkout).definitions.metrics_for("create_ci_runner")
    totals = {m.key_path: m.time_frame for m in metrics if m.counts() == "all events"}
    assert totals == {"counts.count_total_ci_runners_created_monthly": "28d",
                      "counts.count_total_ci_runners_created_weekly": "7d",
                      "counts.count_total_ci_runners_created": "all"}
    kinds = {m.counts() for m in metrics}
    assert kinds == {"all events", "unique users", "unique projects", "unique namespaces"}


def test_problems_name_the_file_and_line_and_loading_goes_on(checkout: Path) -> None:
    (checkout / "config/events/broken.yml").write_text("---\naction: broken\ntiers: [free\n")
    definitions = DefinitionSource(checkout).definitions
    by_file = {(p.path.name, p.line): p.message for p in definitions.problems}
    broken = [(line, message) for (name, line), message in by_file.items() if name == "broken.yml"]
    assert broken and broken[0][0] == 4 and "not valid YAML" in broken[0][1]
    # The corpus's create_ci_runner names product group "runner", unknown to this product_groups.json.
    assert '"runner" is not one of' in by_file[("create_ci_runner.yml", 14)]
    assert definitions.find("create_ci_runner") is not None  # still loaded: GitLab loads it too


def test_definitions_reload_when_a_file_changes(checkout: Path) -> None:
    now = [0.0]
    source = DefinitionSource(checkout, clock=lambda: now[0])
    event = captured("create_ssh_key", extra={"creation_source": "ui", "key_kind": "rsa"})
    assert [v.message.split(":")[0] for v in check(event, source.current())] == ["undeclared property"]
    declare_key_kind(checkout)
    assert check(event, source.current()) != []  # not looked at again within a second
    now[0] = 1.5
    assert check(event, source.current()) == []


def test_a_folder_without_definitions_is_not_a_checkout(tmp_path: Path) -> None:
    with pytest.raises(NotAGitLabCheckout, match="no config/events/ folder"):
        DefinitionSource(tmp_path)


def test_an_event_sent_as_defined_has_no_findings(checkout: Path) -> None:
    definitions = DefinitionSource(checkout).definitions
    assert check(captured("create_ci_runner", label="instance_type"), definitions) == []
    # The legacy mirror of an HLL event: se_ac=approve with its legacy definition.
    assert check(captured("approve", ping="i_code_review_user_approve_mr",
                          category="Gitlab::UsageDataCounters::MergeRequestActivityUniqueCounter"),
                 definitions) == []


def test_an_undefined_event_says_gitlab_raises_and_suggests_names(checkout: Path) -> None:
    [finding] = check(captured("create_ci_runer"), DefinitionSource(checkout).definitions)
    assert finding.keyword == "definition" and finding.entity == "definition create_ci_runer"
    assert 'UnknownEventError ("Unknown event: create_ci_runer")' in finding.message
    assert "Did you mean create_ci_runner" in finding.message


def test_an_undeclared_custom_property_and_an_undeclared_label(checkout: Path) -> None:
    definitions = DefinitionSource(checkout).definitions
    findings = check(captured("create_ssh_key", label="x", extra={"origin": "api"}), definitions)
    messages = {f.path: f.message for f in findings}
    assert set(messages) == {"/label", "/extra/origin"}
    assert "undocumented property: label" in messages["/label"]
    assert "Unknown additional property: origin for event_name: create_ssh_key" in messages["/extra/origin"]


def test_a_missing_identifier_names_the_metrics_that_skip_the_event(checkout: Path) -> None:
    findings = check(captured("create_ci_runner", user_id=None), DefinitionSource(checkout).definitions)
    [finding] = findings
    assert finding.path == "/user_id" and "declares identifier user" in finding.message
    assert "count_distinct_user_id_from_create_ci_runner_monthly" in finding.message


def test_a_removed_event_says_when_and_by_what(tmp_path: Path) -> None:
    checkout = fake_checkout(tmp_path / "gitlab", leave_out=[ACTIVE_ISSUE_CLOSED])
    [finding] = check(captured("g_project_management_issue_closed"), DefinitionSource(checkout).definitions)
    assert finding.message.startswith("removed event:") and "18.9" in finding.message


def test_a_legacy_struct_event_without_definition_is_left_alone(checkout: Path) -> None:
    event = captured("click_button", ping="something_else")
    legacy = CapturedEvent("snowplow", "struct", "click_button", "", "gitlab",
                           {"e": "se", "se_ac": "click_button", "se_ca": "projects:show"},
                           event.entities[:1])
    assert check(legacy, DefinitionSource(checkout).definitions) == []


def test_capture_contributions_after_n_events_from_m_users(checkout: Path) -> None:
    definitions = DefinitionSource(checkout).definitions
    events = [captured("create_ci_runner", event_id=n + 1, user_id=n % 2, project_id=5) for n in range(5)]
    tally = MetricTally()
    changed = tally.catch_up(definitions, lambda after: [e for e in events if e.id > after][:2])
    values = {row.metric.key_path: row.value for row in tally.rows()}
    assert values["counts.count_total_ci_runners_created"] == 5
    assert values["redis_hll_counters.count_distinct_user_id_from_create_ci_runner_monthly"] == 2
    assert values["redis_hll_counters.count_distinct_project_id_from_create_ci_runner_weekly"] == 1
    assert "counts.count_total_ci_runners_created" in changed
    assert tally.catch_up(definitions, lambda after: []) == set()


def test_filters_and_sums_follow_the_metric_rules(checkout: Path) -> None:
    add_fixtures(checkout)
    definitions = DefinitionSource(checkout).definitions
    used = [captured("internal_events_cli_used", event_id=1, value="30", extra={}),
            captured("internal_events_cli_used", event_id=2, value="12", extra={}),
            captured("internal_events_cli_used", event_id=3, label="failure", value="4")]
    tally = MetricTally()
    for event in used:
        tally.add(definitions, event)
    values = {row.metric.key_path: row.value for row in tally.rows()}
    # sum(value) with filter property=flow: none of these sent property, so nothing is summed.
    assert values["sums.sum_value_from_failed_usage_time"] == 0
    metric = next(m for m in definitions.metrics_for("internal_events_cli_used")
                  if m.key_path == "sums.sum_value_from_failed_usage_time")
    assert feeds(metric, used[0]) == (False, "filter property=flow does not match")
