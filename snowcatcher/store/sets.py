"""Entity sets: decoded contexts, and the tracker parameters they came from, stored once for the
many events that share them (GitLab sends the same `cx` with every event of a page)."""

from __future__ import annotations

from snowcatcher.model import PROTOCOL_SNOWPLOW, CapturedEvent, Entity, JsonDict
from snowcatcher.store.sql import DATA_IS_PAYLOAD, dump

#: The tracker parameters that carry self-describing JSON: kept with the set, not in each event.
ENVELOPE_PARAMS = frozenset({"ue_pr", "ue_px", "co", "cx"})
#: How many sets are remembered, and up to what size of JSON and parameters (bounds the memory).
_MEMORY = 1024
_REMEMBER_UP_TO = 16 * 1024
_REMEMBER_IN_ALL = 2 * 1024 * 1024

#: A new row of the entity_sets table: id, entities JSON, parameters JSON.
SetRow = tuple[int, str, str]
#: The shape of an entity stored without its data: role, index, schema, source.
_PayloadEntity = tuple[str, int, str, str]


class EntitySets:
    """Decides which entity set each stored event points to, writing a set only once."""

    def __init__(self, next_id: int) -> None:
        self._next_id = next_id
        # id(entities) -> (entities, their parameters, set id). The decoder hands out the same
        # tuple for the same envelopes, so identity finds a set without hashing kilobytes of cx;
        # holding the tuple keeps its id from being reused by another object.
        self._known: dict[int, tuple[tuple[Entity, ...], tuple[tuple[str, str], ...], int]] = {}
        #: The size of the remembered sets' JSON and parameters, bounded by _REMEMBER_IN_ALL.
        self.remembered_bytes = 0
        # The sets of events that are their own entity, by that entity's shape: one per schema.
        self._own_entity: dict[_PayloadEntity, int] = {}

    def place(self, event: CapturedEvent, new_rows: list[SetRow]) -> tuple[int, JsonDict]:
        """The event's set id (0 without entities) and the payload its own row keeps.

        A set not seen before is appended to `new_rows`, for the caller to insert.
        """
        entities, payload = event.entities, event.payload
        if not entities:
            return 0, payload
        if len(entities) == 1 and entities[0].data is payload:
            return self._own_entity_set(entities[0], new_rows), payload
        params: tuple[tuple[str, str], ...] = ()
        if event.protocol == PROTOCOL_SNOWPLOW and not ENVELOPE_PARAMS.isdisjoint(payload):
            params = tuple((name, payload[name]) for name in sorted(ENVELOPE_PARAMS.intersection(payload))
                           if type(payload[name]) is str)
            if params:
                payload = {name: value for name, value in payload.items()
                           if name not in ENVELOPE_PARAMS or type(value) is not str}
        known = self._known.get(id(entities))
        # The same entities from other parameters (a cx next to an undecodable co) is another set.
        if known is not None and known[0] is entities and known[1] == params:
            return known[2], payload
        set_id = self._next_id
        self._next_id += 1
        stored = dump([entity.to_json() for entity in entities])
        new_rows.append((set_id, stored, dump(dict(params))))
        # Only the Snowplow decoder hands out one tuple for many events (a Wikimedia event is its
        # own entity, never shared), and big sets are seldom shared: not worth the memory.
        size = len(stored) + sum(len(value) for _, value in params)
        if event.protocol == PROTOCOL_SNOWPLOW and size <= _REMEMBER_UP_TO:
            if len(self._known) >= _MEMORY or self.remembered_bytes + size > _REMEMBER_IN_ALL:
                self.forget()
            self._known[id(entities)] = (entities, params, set_id)
            self.remembered_bytes += size
        return set_id, payload

    def _own_entity_set(self, entity: Entity, new_rows: list[SetRow]) -> int:
        """The set of an event that is its own entity (EventGate's): the event's JSON is stored
        once, in its row, and every event of a schema shares one set."""
        shape = (entity.role, entity.index, entity.schema, entity.source)
        set_id = self._own_entity.get(shape)
        if set_id is None:
            set_id = self._next_id
            self._next_id += 1
            described = {"role": entity.role, "index": entity.index, "schema": entity.schema,
                         "source": entity.source, DATA_IS_PAYLOAD: True}
            new_rows.append((set_id, dump([described]), "{}"))
            if len(self._own_entity) >= _MEMORY:
                self._own_entity.clear()
            self._own_entity[shape] = set_id
        return set_id

    def forget(self) -> None:
        """After a rollback or a reset: the remembered sets may not exist."""
        self._known.clear()
        self._own_entity.clear()
        self.remembered_bytes = 0
