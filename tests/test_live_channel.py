"""The live channel's routes (workbench.live), served by Starlette's TestClient as st.App
serves them: only a valid token for the lab reads; deltas arrive when a write commits; a
reconnecting client catches up by revision; presence lists who is connected; bad requests get
a clear 4xx."""

from __future__ import annotations

import json

import pytest
from shapely.geometry import Point
from starlette.applications import Starlette
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from tests.helpers import MUNICH_LAB
from workbench import live
from workbench.access import GROUP_COLOURS, SYSTEM, Actor
from workbench.model import Annotation, new_id

LAB = MUNICH_LAB  # Munich, Milbertshofen (demo)
FACILITATOR = Actor("facilitator", "Moderation")


@pytest.fixture
def client(demo_store):
    live.HUB = None  # a fresh hub per test (the process keeps one)
    app = Starlette(routes=live.routes, lifespan=live.lifespan)
    with TestClient(app) as c:
        yield c
    for store in live.hub().stores.values():
        store.close()
    live.HUB = None


def note(text: str = "Shade here", author: str = "Group A") -> Annotation:
    return Annotation(
        id=new_id(),
        lab_id=LAB,
        geometry=Point(11.552, 48.187),
        category="idea",
        text=text,
        author=author,
    )


def other_lab(store) -> str:
    return next(x.id for x in store.list_labs() if x.id != LAB)


def workshop_with_group(store):  # type: ignore[no-untyped-def]
    """A protected workspace with a session on LAB and "Group A" joined: (session, actor)."""
    store.set_passcode("owner", "a long passcode", by=SYSTEM)
    session = store.create_session(LAB, "Workshop", by=FACILITATOR)
    group, _ = store.join_session(store.join_token(session.id), "Group A", GROUP_COLOURS["blue"])
    return session, group


def get_delta(client, token: str | None, since="0", lab: str = LAB, **params):
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return client.get(f"/api/live/{lab}/delta", params={"since": since, **params}, headers=headers)


def hello(ws, token: str, since: int = 0, **kw) -> None:
    ws.send_text(
        json.dumps({"token": token, "since": since, "device": kw.pop("device", "d1"), **kw})
    )


def receive(ws, kind: str) -> dict:
    """The next message of ``kind`` (presence and deltas interleave)."""
    for _ in range(20):
        message = json.loads(ws.receive_text())
        if message["type"] == kind:
            return message
    raise AssertionError(f"no {kind} message")


def test_delta_route_gives_the_state_then_only_what_changed(client, demo_store):
    token = live.issue_token("demo", LAB, None)
    demo_store.add_annotation(note("an older note"), by=SYSTEM)  # revision 0 is "everything"
    first = get_delta(client, token)
    assert first.status_code == 200 and first.headers["cache-control"] == "no-store"
    body = first.json()
    assert body["reset"] is True and body["type"] == "delta"
    a = demo_store.add_annotation(note("Bench by the fountain"), by=SYSTEM)
    second = get_delta(client, token, since=str(body["revision"]), lang="de").json()
    assert second["reset"] is False and second["revision"] == body["revision"] + 1
    assert [f["id"] for f in second["features"]] == [a.id]
    assert "Bench by the fountain" in json.dumps(second["features"])
    assert "Idee" in json.dumps(second["features"])  # the reader's language
    assert get_delta(client, token, since=str(second["revision"])).json()["features"] == []


@pytest.mark.parametrize(
    "token, status, key",
    [
        (None, 401, "live.error.token_missing"),
        ("", 401, "live.error.token_missing"),
        ("not-a-token", 401, "live.error.token_invalid"),
    ],
)
def test_no_or_forged_token_reads_nothing(client, token, status, key):
    response = get_delta(client, token)
    assert response.status_code == status
    assert response.json()["error"] == key and "features" not in response.json()


def test_tampered_expired_and_other_labs_tokens_read_nothing(client, demo_store, monkeypatch):
    token = live.issue_token("demo", LAB, None)
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert get_delta(client, tampered).status_code == 401
    # a token for another lab opens no other lab, and this one none but its own
    other = other_lab(demo_store)
    assert get_delta(client, live.issue_token("demo", other, None)).status_code == 403
    assert get_delta(client, token, lab=other).status_code == 403
    # signed with another server's secret
    (live.data_dir() / "live-secret").write_bytes(b"another secret")
    assert get_delta(client, token).json()["error"] == "live.error.token_invalid"
    fresh = live.issue_token("demo", LAB, None)
    assert get_delta(client, fresh).status_code == 200
    monkeypatch.setattr(live, "LIVE_TOKEN_SECONDS", -1)  # every token is past its age now
    response = get_delta(client, fresh)
    assert response.status_code == 401 and response.json()["error"] == "live.error.token_expired"


@pytest.mark.parametrize("since", ["-1", "abc", "1.5", "99999999999999999999", "", str(2**53)])
def test_malformed_revisions_get_a_clear_400(client, since):
    response = get_delta(client, live.issue_token("demo", LAB, None), since=since)
    assert response.status_code == 400
    assert response.json()["error"].startswith("live.error.since")
    assert "Traceback" not in response.text


def test_bad_view_and_unknown_lab(client):
    token = live.issue_token("demo", LAB, None)
    assert get_delta(client, token, colour_by="<script>").status_code == 400
    assert get_delta(client, token, scale="7").status_code == 400
    unknown = "00000000-0000-4000-8000-000000000000"
    response = get_delta(client, live.issue_token("demo", unknown, None), lab=unknown)
    assert response.status_code == 404 and response.json()["error"] == "notfound.lab"


def test_protected_workspace_readers_and_hidden_notes(client, demo_store):
    demo_store.set_passcode("owner", "a long passcode", by=SYSTEM)
    demo_store.create_session(LAB, "Workshop", by=FACILITATOR)
    rude = demo_store.add_annotation(note("rude words", author="Group B"), by=FACILITATOR)
    demo_store.delete_annotation(rude.id, name="Moderation", by=FACILITATOR)  # hidden
    # the local single-user token (no actor) is refused once a passcode protects the workspace
    refused = get_delta(client, live.issue_token("demo", LAB, None))
    assert refused.status_code == 401 and refused.json()["error"] == "live.error.sign_in"
    viewer = get_delta(client, live.issue_token("demo", LAB, Actor("viewer"))).json()
    assert rude.id not in json.dumps(viewer)
    facilitator = get_delta(client, live.issue_token("demo", LAB, FACILITATOR)).json()
    [hidden] = [f for f in facilitator["features"] if f["id"] == rude.id]
    assert hidden["properties"]["hidden"] is True


def test_a_changed_passcode_voids_a_signed_in_token(client, demo_store):
    demo_store.set_passcode("owner", "a long passcode", by=SYSTEM)
    token = live.issue_token("demo", LAB, Actor("owner", "Ana"), demo_store.passcode_stamp())
    assert get_delta(client, token).status_code == 200
    demo_store.set_passcode("owner", "another long passcode", by=SYSTEM)
    response = get_delta(client, token)
    assert response.status_code == 401 and response.json()["error"] == "live.error.token_expired"


def test_a_participant_reads_only_while_in_the_session(client, demo_store):
    session, group = workshop_with_group(demo_store)
    token = live.issue_token("demo", LAB, group)
    assert get_delta(client, token).status_code == 200
    demo_store.end_session(session.id, by=FACILITATOR)
    assert get_delta(client, token).status_code == 403


def test_websocket_pushes_each_write_once_and_catches_up_after_a_gap(client, demo_store):
    token = live.issue_token("demo", LAB, None)
    demo_store.add_annotation(note("an older note"), by=SYSTEM)  # revision 0 is "everything"
    with client.websocket_connect(f"/api/live/{LAB}/ws") as ws:
        hello(ws, token)
        first = receive(ws, "delta")
        assert first["reset"] is True
        a = demo_store.add_annotation(note("first"), by=SYSTEM)
        pushed = receive(ws, "delta")
        assert [f["id"] for f in pushed["features"]] == [a.id] and not pushed["reset"]
        demo_store.update_annotation(
            a.id, name="", expected_version=1, text="first, edited", by=SYSTEM
        )
        edited = receive(ws, "delta")
        assert edited["revision"] == pushed["revision"] + 1
        assert "first, edited" in json.dumps(edited["features"])
        ws.send_text('{"type": "ping"}')
        assert receive(ws, "pong")["now"] > 0
        last = edited["revision"]
    # offline (a phone whose screen went off): three changes happen meanwhile
    b = demo_store.add_annotation(note("second"), by=SYSTEM)
    demo_store.delete_annotation(a.id, name="", by=SYSTEM)
    demo_store.restore_annotation(a.id, name="", by=SYSTEM)
    with client.websocket_connect(f"/api/live/{LAB}/ws") as ws:
        hello(ws, token, since=last)
        catch_up = receive(ws, "delta")
    assert catch_up["reset"] is False and catch_up["revision"] == last + 3
    assert sorted(f["id"] for f in catch_up["features"]) == sorted([a.id, b.id])
    assert catch_up["removed"] == []  # deleted and restored: there again, sent once


def test_presence_lists_groups_with_their_devices(client, demo_store):
    session, group = workshop_with_group(demo_store)
    fac_token = live.issue_token("demo", LAB, FACILITATOR)
    group_token = live.issue_token("demo", LAB, group)
    with client.websocket_connect(f"/api/live/{LAB}/ws") as fac:
        hello(fac, fac_token, device="screen")
        assert [g["role"] for g in receive(fac, "presence")["groups"]] == ["facilitator"]
        with (
            client.websocket_connect(f"/api/live/{LAB}/ws") as phone,
            client.websocket_connect(f"/api/live/{LAB}/ws") as laptop,
        ):
            hello(phone, group_token, device="phone")
            hello(laptop, group_token, device="laptop")
            seen = receive(fac, "presence")
            while sum(g["devices"] for g in seen["groups"]) < 3:
                seen = receive(fac, "presence")
            [a] = [g for g in seen["groups"] if g["role"] == "participant"]
            assert (a["name"], a["colour"], a["devices"]) == ("Group A", GROUP_COLOURS["blue"], 2)
        gone = receive(fac, "presence")
        while len(gone["groups"]) > 1:
            gone = receive(fac, "presence")
        assert [g["role"] for g in gone["groups"]] == ["facilitator"]


@pytest.mark.parametrize(
    "first",
    [
        "not json",
        "[1, 2]",
        json.dumps({"since": 0}),
        json.dumps({"token": "forged", "since": 0}),
        "x" * 10_000,
    ],
)
def test_a_bad_hello_gets_an_error_and_is_closed(client, first):
    with client.websocket_connect(f"/api/live/{LAB}/ws") as ws:
        ws.send_text(first)
        message = json.loads(ws.receive_text())
        assert message["type"] == "error" and message["error"].startswith("live.error.")
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
    assert 4000 <= closed.value.code < 5000


def test_a_participant_is_cut_off_when_the_session_ends(client, demo_store):
    session, group = workshop_with_group(demo_store)
    with client.websocket_connect(f"/api/live/{LAB}/ws") as ws:
        hello(ws, live.issue_token("demo", LAB, group))
        receive(ws, "delta")
        demo_store.end_session(session.id, by=FACILITATOR)
        error = receive(ws, "error")
        assert error["error"] == "workshop.denied.not_in_session"
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
    assert closed.value.code == 4403


def test_a_client_that_does_not_read_is_dropped_without_a_queue(monkeypatch):
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    closed = []

    from starlette.websockets import WebSocketState

    class Stuck:  # a WebSocket whose reader never takes anything
        client_state = application_state = WebSocketState.CONNECTED

        async def send_text(self, text):
            await asyncio.sleep(3600)

        async def close(self, code=1000):
            closed.append(code)

    monkeypatch.setattr(live, "LIVE_SEND_TIMEOUT_S", 0.05)
    claim = live.Claim("demo", LAB, None)
    reader = live.Reader(claim, 0, "en", "category", "d1", websocket=Stuck())
    # on a loop of its own (a browser test's Playwright may hold this thread's loop)
    with ThreadPoolExecutor(1) as pool:
        sent = pool.submit(asyncio.run, live._send(reader, {"type": "delta"})).result()
    assert sent is False
    assert closed == [4408]


@pytest.fixture
def served(demo_store):
    """The live routes on a real uvicorn server (the WebSocket implementation Streamlit picks),
    in a thread, with uvicorn's log captured: (base URL, records)."""
    import logging
    import socket
    import threading
    import time

    import uvicorn

    live.HUB = None
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep(logging.WARNING)
    logging.getLogger("uvicorn.error").addHandler(handler)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = Starlette(routes=live.routes, lifespan=live.lifespan)
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, ws="websockets-sansio", log_config=None, lifespan="on"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    yield f"ws://127.0.0.1:{port}/api/live/{LAB}/ws", records
    server.should_exit = True
    thread.join(10)
    logging.getLogger("uvicorn.error").removeHandler(handler)
    for store in live.hub().stores.values():
        store.close()
    live.HUB = None


def test_a_page_that_goes_away_is_let_go_without_an_error(served, demo_store):
    """A browser that leaves (code 1001) before its hello, after a bad hello or while
    connected, and a client sending binary frames: the server closes its side quietly and logs
    nothing (CI saw a traceback here when the close of a socket already gone raised)."""
    import time

    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    url, records = served
    token = live.issue_token("demo", LAB, SYSTEM)
    with connect(url) as ws:  # gone before the hello
        ws.close(1001)
    with connect(url) as ws:  # gone right after a hello that is refused
        ws.send("not json")
        ws.close(1001)
    with connect(url) as ws:  # gone while connected
        ws.send(json.dumps({"token": token, "since": 0, "device": "d1"}))
        assert json.loads(ws.recv(timeout=10))["type"] in ("delta", "presence")
        ws.close(1001)
    with connect(url) as ws:  # a binary hello is refused like any message that is not JSON
        ws.send(b"\x00\xff" * 8)
        assert json.loads(ws.recv(timeout=10))["error"] == "live.error.message"
    with connect(url) as ws:  # a binary frame once connected ends the connection
        ws.send(json.dumps({"token": token, "since": 0, "device": "d2"}))
        ws.recv(timeout=10)
        ws.send(b"\x00")
        with pytest.raises(ConnectionClosed):
            for _ in range(20):
                ws.recv(timeout=10)
    time.sleep(1.0)  # the server's side of each close
    errors = [r.getMessage() for r in records if r.levelno >= 40]
    assert errors == []
