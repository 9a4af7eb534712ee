"""The schema screen (`o` in the Entities tree): the schema an entity was checked against, and its source."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from snowcatcher.tui.inert_text import clean, pretty_json
from snowcatcher.tui.messages import SchemaRequested

#: Characters of a schema shown (the registries' schemas are far smaller).
MAX_SHOWN = 500_000


class SchemaScreen(ModalScreen[None]):
    """A scrollable view of one resolved schema, titled with its URI and its file or URL."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,o", "dismiss", "close"),
        Binding("E", "edit", "edit", tooltip="Open the schema file in $EDITOR (a local file only)"),
    ]
    DEFAULT_CSS = """
    SchemaScreen { align: center middle; }
    SchemaScreen > VerticalScroll { width: 100; max-width: 100%; height: 90%;
        border: round $accent; background: $surface; padding: 0 1; }
    """

    def __init__(self, uri: str, place: str, schema: Any, problem: str, *, dark: bool) -> None:
        super().__init__()
        self.uri = uri
        #: The file or registry URL the schema came from ("" when it was not found).
        self.place = place
        self.schema = schema
        self.problem = problem
        self.dark = dark

    def compose(self) -> ComposeResult:
        scroll = VerticalScroll(Static(self._body(), id="schema-body"))
        scroll.border_title = f"schema {clean(self.uri)}"
        scroll.border_subtitle = "Esc close · E edit in $EDITOR"
        yield scroll

    def on_mount(self) -> None:
        self.query_one(VerticalScroll).focus()

    def _body(self) -> RenderableType:
        title = Text(clean(self.uri), style="bold")
        where = Text(f"from {clean(self.place)}" if self.place else "not found", style="dim")
        if self.schema is None:
            return Group(title, where, Text(""),
                         Text(f"This schema could not be resolved: {clean(self.problem)}", style="bold red"))
        code = pretty_json(self.schema)[:MAX_SHOWN]
        return Group(title, where, Text(""),
                     Syntax(code, "json", theme="monokai" if self.dark else "default", word_wrap=True))

    def action_edit(self) -> None:
        self.dismiss()
        self.app.post_message(SchemaRequested(self.uri, edit=True))
