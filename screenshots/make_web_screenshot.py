"""Regenerates screenshots/web.png: `snowcatcher --web` in headless Chromium, an invalid event open.

    python screenshots/make_web_screenshot.py      (needs snowcatcher[web] and Debian's chromium)
"""

from __future__ import annotations

import asyncio
import base64
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.browser_support import chromium, find_chromium
from tests.conftest import struct
from tests.test_web_ui import press, send, shows, web_snowcatcher

HERE = Path(__file__).resolve().parent


async def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        async with chromium(find_chromium()) as browser:
            page = await browser.new_page()
            with web_snowcatcher(Path(folder)) as (collector, ui):
                await page.call("Emulation.setDeviceMetricsOverride",
                                {"width": 1280, "height": 720, "deviceScaleFactor": 1, "mobile": False})
                await page.goto(ui)
                await shows(page, "snowcatcher")
                send(collector, struct("add_to_basket", se_la="shelf", se_va="2"),
                     struct("checkout_started", se_la="basket"),
                     {"e": "pv", "tv": "js-4.10.1", "p": "web", "aid": "shop",
                      "url": "https://shop.example/checkout", "page": "Checkout"},
                     struct("payment_failed", se_la="card", se_va="a lot"))
                await shows(page, "payment_failed")
                await page.click("#terminal")
                since = len(page.cdp.events)
                await press(page, "Enter")
                await shows(page, "card", since)
                await asyncio.sleep(0.5)  # let the last frame paint
                shot = await page.call("Page.captureScreenshot", {"format": "png"})
                (HERE / "web.png").write_bytes(base64.b64decode(shot["data"]))
    print(HERE / "web.png")


if __name__ == "__main__":
    asyncio.run(main())
