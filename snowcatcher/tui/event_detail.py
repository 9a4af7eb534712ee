"""The detail pane: Overview, Entities, Violations, Raw, HTTP and GitLab tabs for the selected event."""

from __future__ import annotations

from rich.console import RenderableType
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.reactive import reactive
from textual.widgets import OptionList, Static, TabbedContent, TabPane
from textual.widgets.option_list import Option

from snowcatcher.gitlab.definitions import DefinitionSource
from snowcatcher.model import PROTOCOL_SNOWPLOW, CapturedEvent
from snowcatcher.store.store import Store
from snowcatcher.tui import views
from snowcatcher.tui.entity_tree import EntityTree
from snowcatcher.tui.inert_text import clean
from snowcatcher.tui.resilience import guarded

TABS = ("overview", "entities", "violations", "raw", "http", "gitlab")


class EventDetail(Vertical):
    """Everything about one event; set `event_id` and the tabs follow (a reactive and its watcher)."""

    event_id: reactive[int | None] = reactive(None, always_update=True)

    def __init__(self, store: Store, *, id: str | None = None,
                 gitlab: DefinitionSource | None = None) -> None:
        super().__init__(id=id)
        self.store = store
        #: GitLab definitions (--gitlab) for the GitLab tab, or None.
        self.gitlab = gitlab
        self.event: CapturedEvent | None = None
        #: Whether the HTTP tab shows cookies and Authorization (`s`, or --show-secrets).
        self.reveal_secrets = False
        #: Where the collector listens, for the first screen's addresses and curl commands.
        self.base_url = ""

    def compose(self) -> ComposeResult:
        with TabbedContent(id="tabs"):
            for tab, title in zip(TABS, ("Overview", "Entities", "Violations", "Raw", "HTTP",
                                         "GitLab"), strict=True):
                with TabPane(title, id=tab):
                    yield from self._body(tab)

    def _body(self, tab: str) -> ComposeResult:
        if tab == "entities":
            yield EntityTree(id="entity-tree")
        elif tab == "violations":
            yield OptionList(id="violation-list")
        else:
            with VerticalScroll():
                yield Static(id=f"{tab}-body")

    def watch_event_id(self, event_id: int | None) -> None:
        self.event = self.store.get(event_id) if event_id is not None else None
        self._fill(self.event)

    def _fill(self, event: CapturedEvent | None) -> None:
        tree = self.query_one(EntityTree)
        tree.error_style = f"bold {self.app.theme_variables.get('error', 'red')}"
        what = f"event #{event.id}" if event else "the event"
        guarded(f"{what}'s entities", lambda: tree.show(event), tree.show_message)
        guarded(f"{what}'s violations", lambda: self._fill_violations(event),
                lambda message: self._fill_violations(None))
        if event is None:
            for tab in ("overview", "raw", "http", "gitlab"):
                self._set(tab, Text("No event selected.", style="dim"))
            if not self.store.counts().total:  # the very first screen says where to send events
                self._set("overview", views.welcome(self.base_url))
            return
        stored = guarded(f"{what}'s request", lambda: self.store.request(event.request_id),
                         lambda message: None)
        dark = self.app.current_theme.dark
        definitions = self.gitlab.current() if self.gitlab else None
        for tab, build in (("overview", lambda: views.overview(event)),
                           ("raw", lambda: views.raw(stored, dark)),
                           ("http", lambda: views.http(stored, reveal=self.reveal_secrets)),
                           ("gitlab", lambda: views.gitlab_panel(event, definitions))):
            self._set(tab, guarded(f"{what}'s {tab} tab", build, lambda message: message))

    def toggle_secrets(self) -> None:
        """Show or hide the secrets in the HTTP tab."""
        self.reveal_secrets = not self.reveal_secrets
        self._fill(self.event)

    def _set(self, tab: str, renderable: RenderableType) -> None:
        self.query_one(f"#{tab}-body", Static).update(renderable)

    def _fill_violations(self, event: CapturedEvent | None) -> None:
        options = self.query_one("#violation-list", OptionList)
        options.clear_options()
        violations = event.violations if event else ()
        for index, violation in enumerate(violations):
            prompt = Text("✗ ", style="bold red")
            prompt.append(clean(violation.short()))
            prompt.append(f"  [{clean(violation.keyword)}]", style="dim")
            options.add_option(Option(prompt, id=str(index)))
        if event is not None and not violations:
            options.add_option(Option(Text("✓ No violations.", style="green"), disabled=True))
        tabs = self.query_one(TabbedContent)
        # GitLab internal events are Snowplow events: a Wikimedia event has no GitLab tab.
        if event is not None:
            gitlab_tab = tabs.get_tab("gitlab")
            gitlab_tab.display = event.protocol == PROTOCOL_SNOWPLOW
            if not gitlab_tab.display and tabs.active == "gitlab":
                tabs.active = "overview"
        tabs.get_tab("violations").label = f"Violations ({len(violations)})"

    def on_option_list_option_selected(self, message: OptionList.OptionSelected) -> None:
        """Choosing a violation jumps to its node in the Entities tree."""
        message.stop()
        if self.event is not None and message.option.id is not None:
            self.jump_to(int(message.option.id))

    def jump_to(self, index: int) -> None:
        """Show violation `index` in place in the Entities tree."""
        assert self.event is not None
        tree = self.query_one(EntityTree)
        node = tree.node_for(self.event.violations[index])
        self.query_one(TabbedContent).active = "entities"
        if node is not None:
            tree.show_node(node)
        tree.focus()

    def show_tab(self, tab: str) -> None:
        tabs = self.query_one(TabbedContent)
        if not tabs.get_tab(tab).display:
            return
        tabs.active = tab
        if tab == "entities":
            self.query_one(EntityTree).show_first_violation()

    def focus_active(self) -> None:
        """Move the focus into the active tab (the tree, the violation list or the scrolled text)."""
        tab = self.query_one(TabbedContent).active
        if tab == "entities":
            tree = self.query_one(EntityTree)
            tree.show_first_violation()
            tree.focus()
        elif tab == "violations":
            options = self.query_one("#violation-list", OptionList)
            if options.option_count and options.highlighted is None:
                options.highlighted = 0
            options.focus()
        else:
            self.query_one(f"#{tab} VerticalScroll", VerticalScroll).focus()
