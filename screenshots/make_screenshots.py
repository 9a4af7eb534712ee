"""Regenerates the README's screenshots: the live list, an invalid event's violation, a GitLab event.

    python screenshots/make_screenshots.py      (writes SVG, and PNG when rsvg-convert is installed)
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ["TZ"] = "UTC"
time.tzset()

from snowcatcher.store import Store  # noqa: E402 - after TZ is set
from snowcatcher.tui.app import SnowcatcherApp  # noqa: E402
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


def main() -> None:
    for name, keys in SHOTS.items():
        svg = asyncio.run(shoot(name, keys))
        print(svg)
        if shutil.which("rsvg-convert"):
            subprocess.run(["rsvg-convert", str(svg), "-o", str(svg.with_suffix(".png"))], check=True)
            print(svg.with_suffix(".png"))


if __name__ == "__main__":
    main()
