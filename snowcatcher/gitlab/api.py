"""/snowcatcher/api/gitlab/*: the definitions, their problems, and this capture's metric contributions."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from snowcatcher.api.micro import json_response
from snowcatcher.capture.app_keys import STORE
from snowcatcher.gitlab.definitions import DefinitionSource
from snowcatcher.gitlab.metrics import Contribution, MetricTally
from snowcatcher.store.query import Filter

PREFIX = "/snowcatcher/api/gitlab"
#: The definitions of --gitlab, or None without it.
GITLAB: web.AppKey[DefinitionSource | None] = web.AppKey("gitlab_definitions")
TALLY: web.AppKey[MetricTally] = web.AppKey("gitlab_metric_tally")
NOTE = ("values are this capture's contributions (every captured event, whatever its age), "
        "not the GitLab instance's totals")
STRUCT = Filter.parse("type:struct")
PAGE = 500


def install(app: web.Application) -> None:
    app.setdefault(GITLAB, None)
    app[TALLY] = MetricTally()
    app.router.add_get(PREFIX + "/definitions", _definitions)
    app.router.add_get(PREFIX + "/metrics", _metrics)


def _source(request: web.Request) -> DefinitionSource:
    source = request.app.get(GITLAB)
    if source is None:
        raise web.HTTPNotFound(text='{"error": "this snowcatcher was started without --gitlab"}',
                               content_type="application/json")
    return source


async def _definitions(request: web.Request) -> web.Response:
    definitions = _source(request).current()
    return json_response({
        "checkout": str(definitions.root), "internal_events": len(definitions.internal_names()),
        "metrics": len(definitions.metrics),
        "problems": [{"path": str(p.path), "line": p.line, "message": p.message}
                     for p in definitions.problems]})


async def _metrics(request: web.Request) -> web.Response:
    definitions = _source(request).current()
    store = request.app[STORE]
    tally = request.app[TALLY]
    tally.catch_up(definitions, lambda after: store.after(after, STRUCT, PAGE), store.generation)
    return json_response({"note": NOTE, "metrics": [_row(row) for row in tally.rows()]})


def _row(row: Contribution) -> dict[str, Any]:
    metric = row.metric
    return {"key_path": metric.key_path, "time_frame": metric.time_frame,
            "data_source": metric.data_source, "counts": metric.counts(),
            "events": sorted(row.events), "value": row.value, "file": str(metric.path)}
