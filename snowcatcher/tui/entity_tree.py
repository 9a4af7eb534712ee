"""The Entities tree: decoded event and contexts, each violation marked on the node it is about."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import orjson
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widgets import Tree
from textual.widgets.tree import NodeID, TreeNode

from snowcatcher.model import PROTOCOL_SNOWPLOW, CapturedEvent, Entity, Violation, json_pointer
from snowcatcher.tui.inert_text import clean, json_scalar, text
from snowcatcher.tui.messages import CopyRequested, SchemaRequested

#: The entity name violations of the tracker parameters use.
PARAMETERS = "payload_data"
MAX_CHILDREN = 500
Node = TreeNode[Violation | None]


@dataclass(frozen=True, slots=True)
class Field:
    """What a node of the tree shows: a value at a JSON pointer inside an entity (or the tracker
    parameters), and the entity itself (None for the tracker parameters)."""

    pointer: str
    value: Any
    entity: Entity | None

    @property
    def where(self) -> str:
        """`context[0] iglu:…` or `the tracker parameters`, for messages."""
        if self.entity is None:
            return "the tracker parameters"
        role = "the event" if self.entity.role == "event" else f"context[{self.entity.index}]"
        return f"{role} {self.entity.schema}"


class EntityTree(Tree[Violation | None]):
    """A tree of the event's entities; `node_for` finds the node a violation points at."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("x", "copy_value", "copy value",
                tooltip="Copy the highlighted field's value as JSON"),
        Binding("P", "copy_pointer", "copy pointer",
                tooltip="Copy the highlighted field's JSON pointer (/realm), as violations name it"),
        Binding("o", "open_schema", "schema",
                tooltip="Show the schema the highlighted entity was validated against"),
        Binding("E", "edit_schema", "edit schema",
                tooltip="Open the highlighted entity's schema file in $EDITOR"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(Text("entities"), id=id)
        self.show_root = False
        self.guide_depth = 3
        self._by_pointer: dict[tuple[str, str], Node] = {}
        #: What each value node shows, by node id (for the copy keys and the schema keys).
        self._fields: dict[NodeID, Field] = {}
        self.error_style = "bold red"

    def show(self, event: CapturedEvent | None) -> None:
        """Rebuild the tree for `event` and mark its violations."""
        self.clear()
        self._by_pointer = {}
        self._fields = {}
        if event is None:
            return
        snowplow = event.protocol == PROTOCOL_SNOWPLOW
        wrong = {self._owner(violation, event if snowplow else None) for violation in event.violations}
        if snowplow:
            label = _mark_valid(Text("tracker parameters", style="bold"), PARAMETERS not in wrong)
            self._add_owner(PARAMETERS, label, event.payload, None, expand=False)
        for entity in event.entities:
            label = _mark_valid(_entity_label(entity), entity.label not in wrong)
            self._add_owner(entity.label, label, entity.data, entity, expand=True)
        self._mark_filled(event)
        unplaced = [v for v in event.violations if self.node_for(v) is None]
        if unplaced:
            other = self.root.add(Text("request", style="bold"), expand=True)
            self._by_pointer[("", "")] = other
        for violation in event.violations:
            self._add_missing(violation)
        for violation in event.violations:
            self._mark(violation)

    @staticmethod
    def _owner(violation: Violation, snowplow: CapturedEvent | None) -> str:
        """The tree owner of a violation: tracker-field checks (`event /dtm`, `request /nuid`)
        are about a tracker parameter, so they belong under "tracker parameters"."""
        if (snowplow is not None and violation.entity in ("event", "request") and violation.path
                and violation.path.split("/")[1] in snowplow.payload):
            return PARAMETERS
        return violation.entity

    def first_violation(self) -> Node | None:
        """The node of the first violation marked in the tree, if any."""
        for (owner, pointer), node in self._by_pointer.items():
            if isinstance(node.data, Violation) and (owner, pointer) != ("", ""):
                return node
        return self._by_pointer.get(("", ""))

    def show_first_violation(self) -> None:
        """Put the cursor on the first violation and scroll it into view."""
        node = self.first_violation()
        if node is not None:
            self.move_cursor(node)
            self.call_after_refresh(self.scroll_to_node, node)

    def _mark_filled(self, event: CapturedEvent) -> None:
        """Fields snowcatcher filled in itself (`nuid`, `meta.dt`) say so, dimmed."""
        owners = [PARAMETERS, *(entity.label for entity in event.entities if entity.role == "event")]
        for dotted in event.filled:
            pointer = "".join(f"/{_escape(part)}" for part in dotted.split("."))
            node = next((self._by_pointer[(owner, pointer)] for owner in owners
                         if (owner, pointer) in self._by_pointer), None)
            if node is not None:
                label = node.label.copy() if isinstance(node.label, Text) else Text(str(node.label))
                label.append("  filled in by snowcatcher", style="dim italic")
                node.set_label(label)

    def _add_missing(self, violation: Violation) -> None:
        """A dimmed `missing: name` row under the object that lacks a required field."""
        if violation.keyword != "required":
            return
        parent = self.node_for(violation)
        owner = self._placed_owner(violation)
        if parent is None or owner is None:
            return
        for name in violation.named_properties()[:1]:
            pointer = f"{violation.path}/{_escape(name)}"
            if (owner, pointer) not in self._by_pointer:
                self._by_pointer[(owner, pointer)] = parent.add_leaf(
                    Text(f"missing: {name}", style="dim italic"))

    def show_message(self, message: Text) -> None:
        """Only `message` (why the event's entities cannot be shown)."""
        self.clear()
        self._by_pointer = {}
        self._fields = {}
        self.root.add_leaf(message)

    @property
    def field(self) -> Field | None:
        """The field under the cursor (None on a `missing:` row or a message)."""
        node = self.cursor_node
        return self._fields.get(node.id) if node is not None else None

    def action_copy_value(self) -> None:
        self._copy_field(lambda field: (copyable_json(field.value),
                                        f"the value at {field.pointer or '(the whole entity)'}"))

    def action_copy_pointer(self) -> None:
        self._copy_field(lambda field: (field.pointer,
                                        "the JSON pointer " + (field.pointer or '"" (the whole entity)')))

    def _copy_field(self, copied: Callable[[Field], tuple[str, str]]) -> None:
        """Ask the app to copy what `copied` takes from the field under the cursor."""
        field = self.field
        if field is None:
            self.notify("No field here to copy.", severity="warning")
            return
        text, what = copied(field)
        self.post_message(CopyRequested(text, f"{what} in {field.where}"))

    def action_open_schema(self) -> None:
        self._ask_schema(edit=False)

    def action_edit_schema(self) -> None:
        self._ask_schema(edit=True)

    def _ask_schema(self, *, edit: bool) -> None:
        field = self.field
        if field is None or field.entity is None:
            self.notify("Put the cursor on an entity (the event or a context) to see its schema: "
                        "the tracker parameters are checked by snowcatcher's own rules.",
                        severity="warning")
            return
        self.post_message(SchemaRequested(field.entity.schema, edit=edit))

    def _placed_owner(self, violation: Violation) -> str | None:
        if (violation.entity, "") in self._by_pointer:
            return violation.entity
        if violation.entity in ("event", "request") and (PARAMETERS, violation.path) in self._by_pointer:
            return PARAMETERS
        return None

    def node_for(self, violation: Violation) -> Node | None:
        """The node a violation is about: its path (for a missing field its `missing:` row, for
        an undeclared property the property itself), or the nearest ancestor that exists."""
        nodes = self._nodes_for(violation)
        return nodes[0] if nodes else self._by_pointer.get(("", ""))

    def _nodes_for(self, violation: Violation) -> list[Node]:
        owner = self._placed_owner(violation)
        if owner is None:
            return []
        path = violation.path
        if violation.keyword in ("required", "additionalProperties"):
            named = [self._by_pointer.get((owner, f"{path}/{_escape(name)}"))
                     for name in violation.named_properties()]
            found = [node for node in named if node is not None]
            if found:
                return found
        while (owner, path) not in self._by_pointer and path:
            path = path.rsplit("/", 1)[0]
        node = self._by_pointer.get((owner, path))
        return [node] if node is not None else []

    def _add_owner(self, owner: str, label: Text, data: Any, entity: Entity | None, *,
                   expand: bool) -> None:
        node = self.root.add(label, expand=expand)
        self._by_pointer[(owner, "")] = node
        self._fields[node.id] = Field("", data, entity)
        self._add_data(node, owner, "", data, entity)

    def _add_data(self, node: Node, owner: str, pointer: str, data: Any, entity: Entity | None) -> None:
        items = (list(data.items()) if isinstance(data, dict)
                 else list(enumerate(data)) if isinstance(data, list) else [])
        for key, value in items[:MAX_CHILDREN]:
            child_pointer = f"{pointer}/{_escape(str(key))}"
            if isinstance(value, dict | list) and value:
                child = node.add(_branch_label(key, value))
                self._add_data(child, owner, child_pointer, value, entity)
            else:
                child = node.add_leaf(_leaf_label(key, value))
            self._by_pointer[(owner, child_pointer)] = child
            self._fields[child.id] = Field(child_pointer, value, entity)
        if len(items) > MAX_CHILDREN:
            node.add_leaf(Text(f"… {len(items) - MAX_CHILDREN} more", style="dim"))

    def _mark(self, violation: Violation) -> None:
        nodes = self._nodes_for(violation)
        fallback = self.node_for(violation)
        for node in nodes or ([fallback] if fallback is not None else []):
            self._mark_node(node, violation)

    def _mark_node(self, node: Node, violation: Violation) -> None:
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


def copyable_json(value: Any) -> str:
    """A value as JSON to paste: objects and arrays indented, integers of any size whole."""
    try:
        return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()
    except TypeError:  # an integer beyond 64 bits, which orjson refuses
        return json.dumps(value, indent=2, ensure_ascii=False)


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
