"""Re-validation: fix a schema on disk and the captured events are re-checked without a restart."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import orjson

from snowcatcher.protocols.snowplow import samples
from snowcatcher.runtime import Settings, Snowcatcher

SCHEMA_PATH = "com.acme/checkout/jsonschema/1-0-0"
URI = "iglu:com.acme/checkout/jsonschema/1-0-0"


def write(folder: Path, schema: dict[str, object]) -> None:
    path = folder / SCHEMA_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(schema))


async def test_a_schema_edit_is_applied_to_captured_events(tmp_path: Path) -> None:
    write(tmp_path, {"type": "object", "properties": {"total": {"type": "integer"}}})
    server = Snowcatcher(Settings(port=0, offline=True, schemas=[tmp_path], cache_dir=None))
    await server.start()
    try:
        event = {"schema": samples.UNSTRUCT, "data": {"schema": URI, "data": {"total": 9.5}}}
        params = {"e": "ue", "tv": "js", "p": "web", "ue_pr": orjson.dumps(event).decode()}
        async with aiohttp.ClientSession() as http:
            for _ in range(3):
                async with http.post(server.url + "/com.snowplowanalytics.snowplow/tp2",
                                     data=samples.body(params),
                                     headers={"Content-Type": "application/json"}) as answer:
                    assert answer.status == 200
            async with http.get(server.url + "/nowhere"):
                pass
        assert server.store.counts().invalid == 4
        write(tmp_path, {"type": "object", "properties": {"total": {"type": "number"}}})
        seen: list[tuple[int, int]] = []
        report = await server.revalidate(lambda done, total: seen.append((done, total)))
        assert (report.checked, report.changed, report.invalid) == (4, 3, 1)
        assert seen[-1] == (4, 4)
        assert [e.valid for e in server.store.window()] == [True, True, True, False]
    finally:
        await server.stop()
