"""Confirmation dialogs for what cannot be undone: clearing the capture, quitting a temporary one."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid
from textual.screen import ModalScreen
from textual.widgets import Button, Label


class Confirm(ModalScreen[bool]):
    """Asks before something that cannot be undone; Cancel has the focus, so a reflex Enter
    changes nothing."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,n", "dismiss(False)", "Cancel"), Binding("y", "dismiss(True)", "Yes")]

    def __init__(self, question: str, yes: str) -> None:
        super().__init__()
        self.question = question
        self.yes = yes

    def compose(self) -> ComposeResult:
        with Grid(id="confirm"):
            yield Label(Text(self.question), id="confirm-question")
            yield Button(f"{self.yes} (y)", variant="error", id="yes")
            yield Button("Cancel (n)", variant="primary", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    @on(Button.Pressed)
    def _answer(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


class ConfirmClear(Confirm):
    """Asks before forgetting every captured event."""

    def __init__(self, count: int) -> None:
        super().__init__(f"Forget all {count:,} captured events? This cannot be undone.", "Clear")
        self.count = count


class ConfirmQuit(Confirm):
    """Asks before quitting a temporary capture that holds events: they go with it."""

    def __init__(self, count: int) -> None:
        super().__init__(f"This capture is temporary: its {count:,} events are deleted when "
                         "snowcatcher quits (start with --db FILE to keep a capture). Quit?", "Quit")
