"""The set-based payload_data check: it never accepts what jsonschema rejects, and knows its limits."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft4Validator

from snowcatcher.validate.flat_records import flat_records_check

BUNDLED = (Path(__file__).resolve().parent.parent
           / "schemas/com.snowplowanalytics.snowplow/payload_data/jsonschema")
VERSIONS = sorted(path.name for path in BUNDLED.iterdir())


def payload_data(version: str) -> dict[str, Any]:
    return json.loads((BUNDLED / version).read_text())  # type: ignore[no-any-return]


GOOD = [{"e": "pv", "p": "web", "tv": "js-4.6.1", "url": "http://gdk.test:3000/"}]
CASES = [
    GOOD,
    GOOD * 3,
    [],  # minItems 1
    {"e": "pv"},  # not an array
    [{"e": "pv", "p": "web"}],  # tv is required
    [{**GOOD[0], "se_va": 3}],  # a number where the protocol sends strings
    [{**GOOD[0], "made_up": "x"}],  # not a tracker parameter
    [{**GOOD[0], "cx": None}],
    [GOOD[0], "pv"],
    [{**GOOD[0], "co": {"schema": "x"}}],
]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("data", CASES)
def test_agrees_with_jsonschema_on_every_bundled_payload_data(version: str, data: Any) -> None:
    schema = payload_data(version)
    check = flat_records_check(schema)
    assert check is not None, f"payload_data {version} should take the quick path"
    assert check(data) == Draft4Validator(schema).is_valid(data)


values = st.one_of(st.text(max_size=5), st.integers(), st.none(), st.booleans(),
                   st.lists(st.text(max_size=2), max_size=2))
records = st.dictionaries(st.sampled_from(["e", "p", "tv", "aid", "cx", "zz", "url"]), values, max_size=6)


@given(st.one_of(st.lists(records, max_size=3), records))
def test_never_accepts_what_jsonschema_rejects(data: Any) -> None:
    schema = payload_data(VERSIONS[-1])
    check = flat_records_check(schema)
    assert check is not None
    if check(data):
        assert Draft4Validator(schema).is_valid(data)


@pytest.mark.parametrize("change", [
    {"maxLength": 10},  # a rule on the strings: fastjsonschema/jsonschema must see it
    {"type": ["string", "null"]},
    {"pattern": "^x"},
])
def test_a_schema_with_any_other_rule_is_left_to_the_full_validators(change: dict[str, Any]) -> None:
    schema = payload_data(VERSIONS[-1])
    schema["items"]["properties"]["e"] = {"type": "string", **change}
    assert flat_records_check(schema) is None


def test_open_records_check_only_the_properties_they_name() -> None:
    schema = {"type": "array", "items": {"type": "object", "properties": {"e": {"type": "string"}}}}
    check = flat_records_check(schema)
    assert check is not None
    assert check([{"e": "pv", "anything": 1}]) and not check([{"e": 1}])
    assert flat_records_check({"type": "object"}) is None
