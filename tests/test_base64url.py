"""base64url as the trackers send it, checked against Enrich's and the JS tracker's own cases."""

from __future__ import annotations

import base64

import pytest

from snowcatcher.protocols.snowplow import base64url
from tests.conftest import load_json


def test_enrich_decode_cases() -> None:
    inputs = {case["name"]: case["encoded"] for case in load_json(
        "events", "snowplow", "enrich", "base64url_decode_cases.json")}
    expected = load_json("expected", "snowplow", "enrich", "base64url_decode_cases.expected.json")
    for case in expected["cases"]:
        encoded = inputs[case["name"]]
        if case["name"] == "Unescaped characters":
            # Enrich silently turns this into ""; we say exactly where it breaks instead.
            with pytest.raises(base64url.Base64Error, match="offset 0"):
                base64url.decode(encoded)
        else:
            assert base64url.decode(encoded).decode("utf-8") == case["decoded"], case["name"]


def test_js_tracker_pairs_round_trip() -> None:
    for pair in load_json("events", "snowplow", "js-tracker", "base64url_pairs.json"):
        assert base64url.decode(pair["encoded"]).decode("utf-8") == pair["decoded"]
        assert base64url.encode(pair["decoded"].encode("utf-8")) == pair["encoded"]


@pytest.mark.parametrize("data", [b"a", b"ab", b"abc", b"\xff\xfe\xfd\xfc", "Χαριτίνη".encode()])
def test_padded_unpadded_and_standard_alphabet_all_decode(data: bytes) -> None:
    for encoded in (base64.urlsafe_b64encode(data).decode(), base64.b64encode(data).decode(),
                    base64url.encode(data)):
        assert base64url.decode(encoded) == data


def test_errors_say_where() -> None:
    with pytest.raises(base64url.Base64Error, match=r'offset 12: "\*"'):
        base64url.decode("eyJzY2hlbWEi*OiJ")
    with pytest.raises(base64url.Base64Error, match="truncated"):
        base64url.decode("eyJzY")
    with pytest.raises(base64url.Base64Error, match="padding"):
        base64url.decode("ab==cd")
