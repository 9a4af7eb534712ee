"""Leaks through the side doors: `nuid` into Set-Cookie, schema folders' symlinks, look-alike text."""

from __future__ import annotations

import json
import os
import unicodedata
from pathlib import Path

import aiohttp
import pytest

from snowcatcher.runtime import Snowcatcher
from snowcatcher.text import inert
from snowcatcher.validate.iglu import Registry
from snowcatcher.validate.wikimedia_schemas import WikimediaSchemas
from tests.conftest import settings

UUID = "5e3a0c57-9d1b-4f2e-8c6a-7b4d2e1f0a93"
PAGE_VIEW = "e=pv&tv=js-4.1.0&p=web&aid=shop&url=http%3A%2F%2Fshop.example%2F"


@pytest.fixture
async def running() -> Snowcatcher:  # type: ignore[misc]
    catcher = Snowcatcher(settings())
    await catcher.start()
    yield catcher
    await catcher.stop()


# -- nuid into Set-Cookie ------------------------------------------------------------------------


async def pixel(catcher: Snowcatcher, nuid: str) -> tuple[int, str, list[str]]:
    """Status, the Set-Cookie header and every header name of a GET /i carrying `nuid` (raw)."""
    async with aiohttp.ClientSession() as http, http.get(
            f"{catcher.url}/i?{PAGE_VIEW}&nuid={nuid}", headers={"Cookie": f"sp={UUID}"}) as answer:
        return answer.status, answer.headers.get("Set-Cookie", ""), list(answer.headers)


async def test_a_uuid_nuid_becomes_the_cookie(running: Snowcatcher) -> None:
    other = "0b6f3f0e-3c57-4a39-9d43-6a1f3e2b7c10"
    status, cookie, _ = await pixel(running, other)
    assert status == 200 and cookie.startswith(f"sp={other};")
    assert running.store.window()[0].valid


async def test_a_nuid_with_cookie_attributes_is_a_violation_and_never_a_header(running: Snowcatcher) -> None:
    status, cookie, _ = await pixel(running, "x;%20Domain=evil.example;%20Path=/admin;%20Max-Age=999999999")
    assert status == 200
    assert cookie.startswith(f"sp={UUID};") and "evil" not in cookie and "999999999" not in cookie
    event = running.store.window()[0]
    assert event.payload["nuid"] == "x; Domain=evil.example; Path=/admin; Max-Age=999999999"  # as Enrich
    [violation] = event.violations
    assert (violation.path, violation.keyword) == ("/nuid", "format")
    assert '"x; Domain=evil.example;' in violation.message and "send a UUID" in violation.message


async def test_a_nuid_with_cr_lf_is_answered_and_stored_once(running: Snowcatcher) -> None:
    status, cookie, names = await pixel(running, "abc%0D%0AX-Injected:%201")
    assert status == 200 and "X-Injected" not in names and cookie.startswith(f"sp={UUID};")
    [event] = running.store.window()
    assert [v.path for v in event.violations] == ["/nuid"]


async def test_a_nuid_snowplow_accepts_is_no_violation_but_no_cookie_either(running: Snowcatcher) -> None:
    """Enrich's own tests send `nuid=123`: the pipeline keeps it, so it is no violation."""
    status, cookie, _ = await pixel(running, "123")
    assert status == 200 and cookie.startswith(f"sp={UUID};")
    [event] = running.store.window()
    assert event.valid and event.payload["nuid"] == "123"


async def test_a_post_with_a_bad_nuid_in_its_query_is_flagged(running: Snowcatcher) -> None:
    data = {"schema": "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4",
            "data": [{"e": "pv", "tv": "js-4", "p": "web"}]}
    async with aiohttp.ClientSession() as http, http.post(
            f"{running.url}/com.snowplowanalytics.snowplow/tp2?nuid=a%20b", json=data) as answer:
        assert answer.status == 200 and "a b" not in answer.headers.get("Set-Cookie", "")
    [event] = running.store.window()
    assert [v.path for v in event.violations] == ["/nuid"]


# -- schema folders ------------------------------------------------------------------------------


def iglu_link(folder: Path, target: str) -> str:
    path = folder / "com.acme" / "leak" / "jsonschema" / "1-0-0"
    path.parent.mkdir(parents=True)
    path.symlink_to(target)
    return "iglu:com.acme/leak/jsonschema/1-0-0"


def test_an_iglu_folder_does_not_follow_links_out_of_itself(tmp_path: Path) -> None:
    secret = tmp_path / "outside" / "config.json"
    secret.parent.mkdir()
    secret.write_text(json.dumps({"auths": {"registry.example": {"auth": "dG9rZW4="}}}))
    folder = tmp_path / "schemas"
    uri = iglu_link(folder, str(secret))
    found = Registry([folder], offline=True).lookup(uri)
    assert found.schema is None and "leads out of" in found.explain()


def test_an_iglu_link_to_a_device_is_not_read(tmp_path: Path) -> None:
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero on this system")
    uri = iglu_link(tmp_path, "/dev/zero")
    found = Registry([tmp_path], offline=True).lookup(uri)  # reading it would never end
    assert found.schema is None and "leads out of" in found.explain()
    inside = tmp_path / "com.acme" / "dev" / "jsonschema" / "1-0-0"
    inside.parent.mkdir(parents=True)
    inside.symlink_to("/dev/zero")
    assert not Registry([tmp_path], offline=True).lookup("iglu:com.acme/dev/jsonschema/1-0-0").found


def test_links_inside_the_folder_still_work(tmp_path: Path) -> None:
    real = tmp_path / "com.acme" / "real" / "jsonschema" / "1-0-0"
    real.parent.mkdir(parents=True)
    real.write_text(json.dumps({"type": "object"}))
    uri = iglu_link(tmp_path, str(real))
    assert Registry([tmp_path], offline=True).lookup(uri).schema == {"type": "object"}


async def test_micro_iglu_does_not_serve_an_outside_file(tmp_path: Path) -> None:
    secret = tmp_path / "token.json"
    secret.write_text(json.dumps({"token": "hunter2"}))
    folder = tmp_path / "schemas"
    iglu_link(folder, str(secret))
    catcher = Snowcatcher(settings(schemas=[folder]))
    await catcher.start()
    try:
        async with aiohttp.ClientSession() as http, http.get(
                catcher.url + "/micro/iglu/com.acme/leak/jsonschema/1-0-0") as answer:
            assert answer.status == 404 and "hunter2" not in await answer.text()
    finally:
        await catcher.stop()


def test_the_wikimedia_side_refuses_the_same_links(tmp_path: Path) -> None:
    secret = tmp_path / "secret.yaml"
    secret.write_text("title: leaked\ntype: object\n")
    title = tmp_path / "repo" / "jsonschema" / "leak"
    title.mkdir(parents=True)
    (title / "1.0.0.yaml").symlink_to(secret)
    (title / "1.1.0.yaml").symlink_to("/dev/zero")
    schemas = WikimediaSchemas([tmp_path / "repo"], offline=True, cache_dir=None)
    assert not schemas.lookup("/leak/1.0.0").found
    assert not schemas.lookup("/leak/1.1.0").found


# -- look-alike text -----------------------------------------------------------------------------

#: Unicode's Default_Ignorable_Code_Point property (DerivedCoreProperties.txt) and the interlinear
#: annotation characters; each draws as nothing in a terminal.
LOOK_ALIKES = [0x00AD, 0x034F, 0x061C, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x180B, 0x180E, 0x180F,
               0x200B, 0x200F, 0x202A, 0x2060, 0x2061, 0x2062, 0x2063, 0x2064, 0x2065, 0x206F, 0x3164,
               0xFE00, 0xFE0F, 0xFEFF, 0xFFA0, 0xFFF0, 0xFFF9, 0xFFFA, 0xFFFB, 0x1BCA0, 0x1D173,
               0xE0000, 0xE0001, 0xE0041, 0xE007F, 0xE0100, 0xE0FFF]


@pytest.mark.parametrize("code", LOOK_ALIKES, ids=lambda code: f"U+{code:04X}")
def test_look_alike_invisible_characters_are_escaped(code: int) -> None:
    name = f"i_code_review{chr(code)}_approve"
    shown = inert(name)
    assert chr(code) not in shown and shown != "i_code_review_approve"
    assert f"{code:x}" in shown  # the escape names the character


def test_visible_letters_and_marks_stay() -> None:
    for text in ("naïve café", "日本語", "مرحبا", "e\u0301", "Ελληνικά"):
        assert inert(unicodedata.normalize("NFC", text)) == unicodedata.normalize("NFC", text)
