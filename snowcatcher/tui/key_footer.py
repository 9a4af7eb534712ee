"""The footer of keys, without the leak of Textual's own, rebuilt only when its keys change."""

from __future__ import annotations

from textual.css.query import NoMatches
from textual.dom import NoScreen
from textual.widgets import Footer


class KeyFooter(Footer):
    """Textual's footer, without keeping every key it ever showed alive.

    It recomposes its keys whenever focus moves (the filter bar opens and closes at each filter),
    and each new key watches Footer.compact; the footer forgets the closed keys only when that
    reactive is set. Left alone, each filter kept ~3,000 objects, and every full garbage
    collection walked them all: 100 ms and more after a few dozen filters.

    Rebuilding the keys styles every one of them anew: at 1,000,000 events on a busy machine that
    was most of the time from Enter to the screen (filter applied, detail opened) through a real
    terminal. Focus often moves between parts whose keys the footer shows alike (the list and the
    detail), so the footer is rebuilt only when what it would show differs.
    """

    _shown: object = None

    def _keys_shown(self) -> object:
        """What the footer would show: each shown key with its label and state, and the palette's."""
        try:
            bindings = self.screen.active_bindings
        except (NoScreen, NoMatches):  # not on a screen yet: nothing to compare with
            return None
        return (self.show_command_palette, self.combine_groups, tuple(
            (binding.key, binding.action, binding.description, binding.key_display, binding.group,
             enabled, tooltip)
            for _node, binding, enabled, tooltip in bindings.values() if binding.show))

    async def recompose(self) -> None:
        shown = self._keys_shown()
        if shown is not None and shown == self._shown and self.children:
            return
        self._shown = shown
        await super().recompose()
        self.mutate_reactive(Footer.compact)  # drops the watchers of the keys just removed
