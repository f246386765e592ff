"""Hidden stays hidden and refused stays refused, for every request kind, every user, over
HTTP (digest), a unix socket (digest) and FastCGI (front-end user).

The world (tests/access/support.py): anonymous, guest and admin; ``/Objects/secret`` visible to
admin only (holding an object and a command), ``/Objects/members`` hidden from anonymous,
``/Objects/public/allhidden`` hidden from all (anonymous included), methods allowed per item,
commands with and without rules, on a read-only server.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio

from tests.access.support import MARKER, TRANSPORTS, USERS, Client, serve_world
from trioserve import Server

pytestmark = pytest.mark.trio


@pytest.fixture(params=TRANSPORTS)
async def world(
    request: pytest.FixtureRequest, nursery: trio.Nursery, short_tmp: Path
) -> AsyncIterator[tuple[Client, Server]]:
    async with serve_world(nursery, request.param, short_tmp) as pair:
        yield pair


# status per user (anonymous, guest, admin); a str is "200 with exactly this body"
A, G, M = USERS
TABLE: list[tuple[str, tuple[int | str, int | str, int | str]]] = [
    # the secret folder: visible to admin only, for every read request kind
    ("/Objects/secret/plan/root.json", (404, 404, 200)),
    ("/Objects/secret/plan/root.json.gz", (404, 404, 200)),
    ("/Objects/secret/plan/root.bin", (404, 404, 200)),
    ("/Objects/secret/plan/root.xml", (404, 404, 200)),
    ("/Objects/secret/plan/item.json", (404, 404, 200)),
    ("/Objects/secret/plan/h.json", (404, 404, 200)),
    ("/Objects/secret/h.xml", (404, 404, 200)),
    ("/Objects/secret/plan/label/root.json", (404, 404, json.dumps(MARKER))),
    ("/Objects/secret/plan/inner/value/root.json", (404, 404, "7731")),
    # exe on the secret item: hidden -> 404; admin sees it but the server is read-only -> 403
    ("/Objects/secret/plan/exe.json?method=describe", (404, 404, 403)),
    ("/Objects/secret/plan/exe.bin?method=describe", (404, 404, 403)),
    # a command in the hidden folder: 404, not ROOT's "runs anyway"
    ("/Objects/secret/Wipe/cmd.json", (404, 404, json.dumps(MARKER))),
    # allow_method=describe on panel: describe for all, nothing else
    ("/Objects/public/panel/exe.json?method=describe", ('"panel:7"',) * 3),
    ("/Objects/public/panel/exe.json?method=set_title&title=x", (403, 403, 403)),
    ("/Objects/public/panel/exe.bin?method=set_title&title=x", (403, 403, 403)),
    ("/Objects/public/panel/exe.json?method=add&a=1", (403, 403, 403)),
    # allow_method does not leak to members of the item or to its siblings
    ("/Objects/public/open/inner/exe.json?method=describe", (404, 404, 404)),
    ("/Objects/public/adminonly/exe.json?method=describe", (403, 403, '"adminonly:7"')),
    # allow=all includes anonymous (ROOT: anonymous never matched any rule)
    ("/Objects/public/open/exe.json?method=add&a=2", ("3", "3", "3")),
    ("/Objects/public/open/exe.json?method=add&a=x", (400, 400, 400)),
    ("/Objects/public/open/exe.json?method=choose&mode=fast&xs=1,2,3", ('"fast:6"',) * 3),
    ("/Objects/public/open/exe.json?method=nosuch", (404, 404, 404)),
    ("/Objects/public/adminonly/exe.json?method=add&a=2", (403, 403, "3")),
    # hidden=all hides from anonymous too; hidden=anonymous only from anonymous
    ("/Objects/public/allhidden/root.json", (404, 404, 404)),
    ("/Objects/public/allhidden/exe.json?method=describe", (404, 404, 404)),
    ("/Objects/members/thing/root.json", (404, 200, 200)),
    ("/Objects/members/thing/item.json", (404, 200, 200)),
    # a rule on a member path hides that member only
    ("/Objects/public/panel/inner/root.json", (200, 404, 200)),
    ("/Objects/public/panel/count/root.json", ("7", "7", "7")),
    # commands: default on a read-only server runs; allow=admin refuses others with false
    ("/Commands/Ping/cmd.json", ('"pong"',) * 3),
    ("/Commands/Reset/cmd.json?arg1=5", ("false", "false", "5")),
    ("/Commands/Reset/cmd.json?n=6", ("false", "false", "6")),
    ("/Commands/Reset/cmd.json?arg1=six", ("false", "false", "false")),
    ("/Commands/Reset/cmd.json", ("false", "false", "false")),
    # cmd.json on something that is not a command: false, as ROOT
    ("/Objects/public/panel/cmd.json", ("false",) * 3),
]


async def test_request_kinds_per_user(world: tuple[Client, Server]) -> None:
    client, _ = world
    failures = []
    for target, expected in TABLE:
        for user, want in zip(USERS, expected, strict=True):
            r = await client.fetch(target, user)
            if isinstance(want, str):
                ok = r.status == 200 and r.text == want
            else:
                ok = r.status == want
            if not ok:
                failures.append(f"{user} {target}: wanted {want!r}, got {r.status} {r.text[:80]}")
            if user != "admin":
                assert MARKER not in r.text, f"{user} {target} leaked the secret"
    assert not failures, "\n".join(failures)


def _names(node: dict[str, object], prefix: str = "") -> set[str]:
    out = set()
    for child in node.get("_childs", []):  # type: ignore[union-attr]
        path = f"{prefix}/{child['_name']}"
        out.add(path)
        out |= _names(child, path)
    return out


async def test_listings_leave_hidden_items_out(world: tuple[Client, Server]) -> None:
    client, _ = world
    seen = {}
    for user in USERS:
        r = await client.fetch("/h.json", user)
        assert r.status == 200
        doc = json.loads(r.body)
        seen[user] = _names(doc)
        assert doc.get("_username") == (None if user == "anonymous" else user)
        xml = await client.fetch("/h.xml", user)
        xml_names = {e.get("_name") for e in ET.fromstring(xml.body).iter("item")}
        assert ("secret" in xml_names) == (user == "admin")
        if user != "admin":
            assert MARKER not in r.text and MARKER not in xml.text
    assert "/Objects/secret" in seen["admin"] and "/Objects/secret/Wipe" in seen["admin"]
    for user in ("anonymous", "guest"):
        assert not any(p.startswith("/Objects/secret") for p in seen[user])
    for user in USERS:
        assert "/Objects/public/allhidden" not in seen[user]
        assert "/Commands/Ping" in seen[user]
    assert "/Objects/members" not in seen["anonymous"]
    assert "/Objects/members/thing" in seen["guest"]
    # member listing: guest does not see panel's hidden member
    panel = {
        u: {
            c["_name"]
            for c in json.loads((await client.fetch("/Objects/public/panel/h.json", u)).body)[
                "_childs"
            ]
        }
        for u in ("guest", "admin")
    }
    assert "inner" in panel["admin"] and "inner" not in panel["guest"]


async def test_command_items_carry_jsroot_fields(world: tuple[Client, Server]) -> None:
    client, _ = world
    doc = json.loads((await client.fetch("/Commands/h.json", "guest")).body)
    items = {c["_name"]: c for c in doc["_childs"]}
    assert items["Ping"]["_kind"] == "Command" and items["Ping"]["_fastcmd"] == "true"
    assert "_numargs" not in items["Ping"]
    assert items["Reset"]["_numargs"] == "1" and items["Reset"]["_title"] == "command Reset"


async def test_hidden_looks_exactly_like_missing(world: tuple[Client, Server]) -> None:
    """Byte-for-byte: a guest cannot tell the hidden ``secret/plan`` from a name that does not
    exist, whatever the request kind."""
    client, _ = world
    kinds = [
        "root.json",
        "root.bin",
        "item.json",
        "h.json",
        "h.xml",
        "exe.json?method=describe",
        "exe.bin?method=describe",
        "cmd.json",
        "label/root.json",
    ]
    for user in ("anonymous", "guest"):
        for kind in kinds:
            hidden = await client.fetch(f"/Objects/secret/plan/{kind}", user)
            missing = await client.fetch(f"/Objects/nosuch/plan/{kind}", user)
            assert (hidden.status, hidden.content_type, hidden.body) == (
                missing.status,
                missing.content_type,
                missing.body,
            ), kind
            assert hidden.status == 404
        hidden_txt = await client.fetch("/Objects/secret/plan/exe.txt?method=describe", user)
        missing_txt = await client.fetch("/Objects/nosuch/plan/exe.txt?method=describe", user)
        assert hidden_txt.status == missing_txt.status == 200
        assert hidden_txt.text.replace("secret", "X") == missing_txt.text.replace("nosuch", "X")
        assert "found: false" in hidden_txt.text
        cmd_txt = await client.fetch("/Objects/secret/Wipe/cmd.txt", user)
        assert "found: false" in cmd_txt.text and MARKER not in cmd_txt.text


# spellings of the secret object's URL that reach it (admin gets it on every transport):
# so for guest and anonymous only the policy can be what stops them
REACHING = [
    "/Objects/%73ecret/plan/root.json",
    "/Objects%2Fsecret%2Fplan/root.json",
    "/Objects/secret%2Fplan/root.json",
    "/Objects/secret/plan%2Froot.json",
    "//Objects//secret//plan//root.json",
    "/Objects/secret/plan//root.json",
    "/Objects/secret/./plan/root.json",
    "/Objects/public/../secret/plan/root.json",
    "/Objects/secret/plan/label/root.json",
    "/Objects/secret/plan/root.json?compact=3",
]
# every one of these must fail for guest (and anonymous): no status 200 carrying the secret
BYPASS = [
    *REACHING,
    "/Objects/public/%2e%2e/secret/plan/root.json",
    "/Objects/public/%2E%2E%2Fsecret/plan/root.json",
    "/Objects/public/..%2fsecret/plan/root.json",
    "/Objects/Secret/plan/root.json",
    "/objects/secret/plan/root.json",
    "/OBJECTS/SECRET/PLAN/ROOT.JSON",
    "/Objects/secret/plan/root.json/",
    "/Objects/secret/plan/",
    "/Objects/secret/plan/index.htm",
    "/Objects/secret/plan/jsroot.htm",
    "/Objects/secret/plan/label/",
    "/Objects/%73ecret/plan/exe.json?method=describe",
    "/Objects/%73ecret/Wipe/cmd.json",
    "/Objects//secret/Wipe/cmd.json",
    "/Objects/secret/Wipe/cmd.txt",
    "/Objects/public/open/exe.json?method=describe&_ret_object_=/Objects/secret/plan",
    "/Objects/public/open/exe.json?method=describe&_ret_object_=../secret/plan",
    "/Objects/public/open/exe.json?method=describe&_ret_object_=allhidden",
    "/Objects/public/open/exe.txt?method=describe&_ret_object_=/Objects/secret/plan",
    # Python names, on an item where every public method is allowed
    "/Objects/public/open/exe.json?method=_private_method",
    "/Objects/public/open/exe.json?method=__init__",
    "/Objects/public/open/exe.json?method=__class__",
    "/Objects/public/open/exe.json?method=__globals__",
    "/Objects/public/open/exe.json?method=__reduce__",
    "/Objects/public/open/exe.json?method=__getattribute__&name=_private_method",
    "/Objects/public/open/exe.json?method=describe.__globals__",
    "/Objects/public/open/exe.json?method=add.__globals__",
    "/Objects/public/open/exe.json?method=fail",
    "/Objects/public/open/exe.txt?method=fail",
    "/Objects/public/open/__class__/root.json",
    "/Objects/public/open/__dict__/root.json",
    "/Objects/public/open/_private/root.json",
    "/Objects/public/open/inner/_secret/root.json",
    "/Objects/public/open/describe/root.json",
    "/Objects/public/open/describe/__globals__/root.json",
    "/Objects/public/open/__init__/__globals__/root.json",
    "/Objects/public/open/%5F%5Fclass%5F%5F/root.json",
    "/Objects/public/open/calls/__class__/root.json",
]


async def test_bypass_attempts_fail(world: tuple[Client, Server]) -> None:
    client, server = world
    plan_title = "plan"
    for user in ("anonymous", "guest"):
        for target in BYPASS:
            r = await client.fetch(target, user)
            assert MARKER not in r.text, f"{user} {target}: {r.status} leaked"
            assert "7731" not in r.text, f"{user} {target}: {r.status} leaked"
            if r.status == 200:
                # only pages (a shell with no data), exe.txt logs and null results may be 200
                assert r.content_type.startswith(("text/html", "text/plain")) or r.text in (
                    "null",
                    '"open:7"',
                ), f"{user} {target}: {r.text[:80]}"
    for target in REACHING:
        r = await client.fetch(target, "admin")
        assert r.status == 200 and MARKER in r.text, f"admin {target}: {r.status}"
    # admin gets the object through _ret_object_, which proves the path form works
    admin = await client.fetch(
        "/Objects/public/open/exe.json?method=describe&_ret_object_=/Objects/secret/plan", "admin"
    )
    assert admin.status == 200 and MARKER in admin.text and plan_title in admin.text
    assert server.tree.find("/Objects/public/open") is not None


async def test_exception_in_a_method_is_a_500_without_details(world: tuple[Client, Server]) -> None:
    client, _ = world
    r = await client.fetch("/Objects/public/open/exe.json?method=fail", "guest")
    assert r.status == 500
    body = json.loads(r.body)
    assert body["error"] == "call_failed" and "RuntimeError" in body["message"]
    assert "Traceback" not in r.text and MARKER not in r.text


MULTI_BODY = (
    b"Objects/public/panel/count/root.json\n"
    b"Objects/secret/plan/root.json\n"
    b"Objects/%73ecret/plan/root.json\n"
    b"Objects/public/../secret/plan/root.json\n"
    b"Objects/public/allhidden/root.json\n"
    b"Objects/public/open/exe.json?method=__init__\n"
    b"Objects/public/open/exe.json?method=add&a=4\n"
    b"Objects/public/panel/exe.json?method=set_title&title=pwned\n"
    b"multi.json?number=1\n"
    b"h.json\n"
    b"Commands/Reset/cmd.json?arg1=9\n"
    b"Objects/secret/Wipe/cmd.json\n"
    b"Objects/public/open/__class__/root.json\n"
    b"Objects/secret/plan/root.json.gz\n"
)


async def test_multi_judges_each_line_as_if_alone(world: tuple[Client, Server]) -> None:
    client, _ = world
    expected = {
        "anonymous": ["7"] + ["null"] * 5 + ["5", "null", "null", "null", "false"] + ["null"] * 3,
        "guest": ["7"] + ["null"] * 5 + ["5", "null", "null", "null", "false"] + ["null"] * 3,
        # line 3: dot segments make a multi line fail for everyone
        "admin": [
            "7",
            None,
            None,
            "null",
            "null",
            "null",
            "5",
            "null",
            "null",
            "null",
            "9",
            json.dumps(MARKER),
            "null",
            "null",
        ],
    }
    for user in USERS:
        r = await client.fetch("/multi.json?number=14", user, method="POST", body=MULTI_BODY)
        assert r.status == 200, r.text
        assert r.text.startswith("[") and r.text.endswith("]")
        items = json.loads(r.body)
        assert len(items) == 14
        raw = [json.dumps(x) if not isinstance(x, dict) else None for x in items]
        for i, want in enumerate(expected[user]):
            if want is None:  # admin: the secret object itself
                assert isinstance(items[i], dict) and items[i]["label"] == MARKER
            else:
                assert raw[i] == want, f"{user} line {i}: {raw[i]} != {want}"
        if user != "admin":
            assert MARKER not in r.text
    # nobody's set_title went through
    panel = await client.fetch("/Objects/public/panel/title/root.json", "admin")
    assert panel.text == '"a sample object"'


async def test_multi_bin_lengths_and_failures(world: tuple[Client, Server]) -> None:
    client, _ = world
    body = (
        b"Objects/public/panel/count/root.json\nObjects/secret/plan/root.json\n"
        b"Objects/public/open/exe.txt?method=add&a=1\n"
    )
    for user in ("guest", "admin"):
        r = await client.fetch("/multi.bin?number=3", user, method="POST", body=body)
        assert r.status == 200
        parts, data = [], r.body
        while data:
            n = int.from_bytes(data[:4], "little")
            parts.append(data[4 : 4 + n])
            data = data[4 + n :]
        assert parts[0] == b"7"
        assert (parts[1] == b"") == (user == "guest")
        assert b"Result = 2" in parts[2]


async def test_multi_relative_to_its_path_and_caps(world: tuple[Client, Server]) -> None:
    client, _ = world
    r = await client.fetch(
        "/Objects/public/multi.json?number=2",
        "guest",
        method="POST",
        body=b"panel/count/root.json\n/open/exe.json?method=add&a=1\n",
    )
    assert r.text == "[7, 2]"
    # a final line without \n is not processed, as in ROOT
    r = await client.fetch(
        "/multi.json?number=2",
        "guest",
        method="POST",
        body=b"Objects/public/panel/count/root.json\nObjects/public/panel/count/root.json",
    )
    assert r.text == "[7, null]"
    assert (await client.fetch("/multi.json", "guest")).text == "[]"
    assert (
        await client.fetch("/multi.json?number=1001", "guest", method="POST", body=b"x\n")
    ).status == 400
    assert (await client.fetch("/multi.json?number=2", "guest")).status == 400
    assert (
        await client.fetch("/multi.json?number=-1", "guest", method="POST", body=b"x\n")
    ).status == 400
