"""The TUI with a real client: the official browser tracker's events in the live list and their trees."""

from __future__ import annotations

from pathlib import Path

from snowcatcher.runtime import Settings, Snowcatcher
from snowcatcher.tui.app import SnowcatcherApp
from snowcatcher.tui.entity_tree import EntityTree
from tests.browser_support import Page, send_from_browser
from tests.tui.pilot import SIZE, labels, rows, status, until


async def test_browser_tracker_events_appear_with_their_context_tree(
        page: Page, page_url: str, iglu: Path, tmp_path: Path) -> None:
    server = Snowcatcher(Settings(port=0, offline=True, schemas=[iglu], cache_dir=None))
    app = SnowcatcherApp(server.store, server=server, export_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        report = await send_from_browser(page, page_url, server.url, "post")
        assert report["failures"] == [], report
        await until(pilot, lambda: len(rows(app)) == 4 and "✓ 4" in status(app))
        shown = rows(app)
        assert [row.split()[3] for row in shown] == ["page_view", "struct", "unstruct", "unstruct"]
        assert "email_sent" in shown[2] and "link_click" in shown[3]
        assert "✓ 4" in status(app) and "✗ 0" in status(app)
        await pilot.press("up", "2")  # the email_sent event, its Entities tab
        await until(pilot, lambda: any("email_sent" in text for text in labels(app.query_one(EntityTree))))
        tree = labels(app.query_one(EntityTree))
        assert any("iglu:com.acme/email_sent/jsonschema/1-0-0" in text for text in tree)
        assert any("iglu:com.snowplowanalytics.snowplow/geolocation_context/jsonschema/1-1-0" in text
                   for text in tree)
        assert "latitude = 52.52" in tree and 'emailAddress = "ada@example.com"' in tree
