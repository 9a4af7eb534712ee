"""The Entities tree: decoded event and contexts, each violation marked on the node it is about."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from snowcatcher.model import PROTOCOL_SNOWPLOW, CapturedEvent, Entity, Violation, json_pointer
from snowcatcher.tui.safe import clean, json_scalar, text

#: The entity name violations of the tracker parameters use.
PARAMETERS = "payload_data"
MAX_CHILDREN = 500
Node = TreeNode[Violation | None]


class EntityTree(Tree[Violation | None]):
    """A tree of the event's entities; `node_for` finds the node a violation points at."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(Text("entities"), id=id)
        self.show_root = False
        self.guide_depth = 3
        self._by_pointer: dict[tuple[str, str], Node] = {}
        self.error_style = "bold red"

    def show(self, event: CapturedEvent | None) -> None:
        """Rebuild the tree for `event` and mark its violations."""
        self.clear()
        self._by_pointer = {}
        if event is None:
            return
        wrong = {violation.entity for violation in event.violations}
        if event.protocol == PROTOCOL_SNOWPLOW:
            label = _mark_valid(Text("tracker parameters", style="bold"), PARAMETERS not in wrong)
            self._add_owner(PARAMETERS, label, event.payload, expand=False)
        for entity in event.entities:
            label = _mark_valid(_entity_label(entity), entity.label not in wrong)
            self._add_owner(entity.label, label, entity.data, expand=True)
        unplaced = [v for v in event.violations if self.node_for(v) is None]
        if unplaced:
            other = self.root.add(Text("request", style="bold"), expand=True)
            self._by_pointer[("", "")] = other
        for violation in event.violations:
            self._mark(violation)

    def show_message(self, message: Text) -> None:
        """Only `message` (why the event's entities cannot be shown)."""
        self.clear()
        self._by_pointer = {}
        self.root.add_leaf(message)

    def node_for(self, violation: Violation) -> Node | None:
        """The node a violation is about: its path, or the nearest ancestor that exists."""
        owner = violation.entity if (violation.entity, "") in self._by_pointer else None
        if owner is None:
            return self._by_pointer.get(("", ""))
        path = violation.path
        while (owner, path) not in self._by_pointer and path:
            path = path.rsplit("/", 1)[0]
        return self._by_pointer.get((owner, path))

    def _add_owner(self, owner: str, label: Text, data: Any, *, expand: bool) -> None:
        node = self.root.add(label, expand=expand)
        self._by_pointer[(owner, "")] = node
        self._add_data(node, owner, "", data)

    def _add_data(self, node: Node, owner: str, pointer: str, data: Any) -> None:
        items = (list(data.items()) if isinstance(data, dict)
                 else list(enumerate(data)) if isinstance(data, list) else [])
        for key, value in items[:MAX_CHILDREN]:
            child_pointer = f"{pointer}/{_escape(str(key))}"
            if isinstance(value, dict | list) and value:
                child = node.add(_branch_label(key, value))
                self._add_data(child, owner, child_pointer, value)
            else:
                child = node.add_leaf(_leaf_label(key, value))
            self._by_pointer[(owner, child_pointer)] = child
        if len(items) > MAX_CHILDREN:
            node.add_leaf(Text(f"… {len(items) - MAX_CHILDREN} more", style="dim"))

    def _mark(self, violation: Violation) -> None:
        node = self.node_for(violation)
        if node is None:
            return
        label = node.label.copy() if isinstance(node.label, Text) else Text(str(node.label))
        label.stylize(self.error_style, 0, len(label))
        if violation.path and node is self._by_pointer.get((violation.entity, "")):
            label.append(f"  {clean(violation.path)}", style=self.error_style)
        label.append(f"  ✗ {clean(violation.keyword)}: {clean(violation.message)}",
                     style=self.error_style)
        node.set_label(label)
        node.data = node.data or violation
        while node.parent is not None:
            node.expand()
            node = node.parent


def _mark_valid(label: Text, valid: bool) -> Text:
    label.append("  ✓" if valid else "  ✗", style="green" if valid else "bold red")
    return label


def _escape(key: str) -> str:
    return json_pointer((key,))[1:]


def _entity_label(entity: Entity) -> Text:
    role = "event" if entity.role == "event" else f"context[{entity.index}]"
    label = Text(f"{role}  ", style="bold")
    label.append_text(text(entity.schema, "italic"))
    label.append(f"  ({clean(entity.source)})", style="dim")
    return label


def _branch_label(key: object, value: dict[Any, Any] | list[Any]) -> Text:
    label = text(key, "bold")
    label.append(f" {{{len(value)}}}" if isinstance(value, dict) else f" [{len(value)}]", style="dim")
    return label


def _leaf_label(key: object, value: Any) -> Text:
    label = text(key, "bold")
    label.append(" = ")
    shown = json_scalar(value)
    label.append_text(text(shown if len(shown) <= 300 else f"{shown[:300]}…"))
    return label
