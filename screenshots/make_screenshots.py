"""Regenerates the README's screenshots: the live list, an invalid event's violation, a GitLab event,
and (when ../shared/corpus/gitlab is there to build a GitLab checkout from) the metrics view.

    python screenshots/make_screenshots.py      (writes SVG, and PNG when rsvg-convert is installed)
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ["TZ"] = "UTC"
time.tzset()

from snowcatcher.gitlab.definitions import DefinitionSource  # noqa: E402 - after TZ is set
from snowcatcher.gitlab.findings import check  # noqa: E402
from snowcatcher.model import CapturedEvent  # noqa: E402
from snowcatcher.store.store import Store  # noqa: E402
from snowcatcher.tui.app import SnowcatcherApp  # noqa: E402
from tests.conftest import CORPUS  # noqa: E402
from tests.gitlab_support import fake_checkout  # noqa: E402
from tests.tui import samples  # noqa: E402

HERE = Path(__file__).resolve().parent
SIZE = (150, 44)
#: name -> keys pressed before the picture is taken
SHOTS = {
    "live-list": [],
    "invalid-event": ["up", "up", "up", "2"],
    "gitlab-event": ["up", "up", "up", "up", "up", "g", "6"],
}


async def shoot(name: str, keys: list[str]) -> Path:
    store = Store()
    samples.fill(store, samples.mixed(24))
    app = SnowcatcherApp(store, address="listening on http://127.0.0.1:9090")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.2)
        await pilot.press(*keys)
        await pilot.pause(0.3)
        path = Path(app.save_screenshot(f"{name}.svg", path=str(HERE)))
    store.close()
    return path


async def shoot_gitlab_metrics() -> Path:
    """The metrics view over runner events from three users, one of them an undefined name."""
    with tempfile.TemporaryDirectory() as folder:
        source = DefinitionSource(fake_checkout(Path(folder) / "gitlab"))
        store = Store()
        for n, (action, user) in enumerate([("create_ci_runner", 1), ("create_ci_runner", 2),
                                            ("create_ssh_key", 1), ("create_ci_runner", 3),
                                            ("create_ci_runnr", 1)]):
            request, event = samples.gitlab_struct(action, at=samples.T0 + n, user_id=user)
            found = tuple(check(event, source.definitions))
            event = CapturedEvent(event.protocol, event.event_type, event.name, event.schema, event.app_id,
                                  event.payload, event.entities, found, event.received_at)
            samples.fill(store, [(request, event)])
        app = SnowcatcherApp(store, address="listening on http://127.0.0.1:9090", gitlab=source)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause(0.2)
            await pilot.press("m")
            await pilot.pause(0.3)
            path = Path(app.save_screenshot("gitlab-metrics.svg", path=str(HERE)))
        store.close()
    return path


def main() -> None:
    shots = [asyncio.run(shoot(name, keys)) for name, keys in SHOTS.items()]
    if (CORPUS / "gitlab").is_dir():
        shots.append(asyncio.run(shoot_gitlab_metrics()))
    for svg in shots:
        print(svg)
        if shutil.which("rsvg-convert"):
            subprocess.run(["rsvg-convert", str(svg), "-o", str(svg.with_suffix(".png"))], check=True)
            print(svg.with_suffix(".png"))


if __name__ == "__main__":
    main()
