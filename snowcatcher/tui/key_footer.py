"""The footer of keys, without the leak of Textual's own."""

from __future__ import annotations

from textual.widgets import Footer


class KeyFooter(Footer):
    """Textual's footer, without keeping every key it ever showed alive.

    It recomposes its keys whenever focus moves (the filter bar opens and closes at each filter),
    and each new key watches Footer.compact; the footer forgets the closed keys only when that
    reactive is set. Left alone, each filter kept ~3,000 objects, and every full garbage
    collection walked them all: 100 ms and more after a few dozen filters.
    """

    async def recompose(self) -> None:
        await super().recompose()
        self.mutate_reactive(Footer.compact)  # drops the watchers of the keys just removed
