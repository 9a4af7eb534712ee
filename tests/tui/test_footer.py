"""The footer's keys come and go with focus; the ones it stops showing must not stay alive."""

from __future__ import annotations

import gc
from pathlib import Path

from textual.widgets._footer import FooterKey

from snowcatcher.store.store import Store
from snowcatcher.tui.app import SnowcatcherApp
from tests.tui import samples
from tests.tui.pilot import SIZE, settle


def footer_keys() -> int:
    gc.collect()
    return sum(isinstance(thing, FooterKey) for thing in gc.get_objects())


async def test_filtering_again_and_again_keeps_no_old_footer_keys(tmp_path: Path) -> None:
    store = Store(tmp_path / "events.sqlite")
    samples.fill(store, samples.mixed(12))
    app = SnowcatcherApp(store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("slash", "escape")  # the filter bar's keys have been shown once
        await settle(pilot)
        before = footer_keys()
        for text in ["invalid", ""] * 3:
            await pilot.press("slash", "ctrl+u", *text, "enter")
            await pilot.pause()
        await settle(pilot)
        assert footer_keys() <= before
    store.close()
