"""Staying signed in across reloads (issue 12): the keep tokens of ``workbench.live`` say who
signed in for which workspace, expire, cannot be forged, and ``/api/keep`` sets them as an
HttpOnly, SameSite=Strict cookie (and removes it again)."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from workbench import live
from workbench.settings import data_dir


@pytest.fixture
def client():
    with TestClient(Starlette(routes=live.routes)) as c:
        yield c


def test_a_signin_token_reads_back_only_as_what_it_is():
    token = live.issue_signin_token("demo", "facilitator", "Anna", "stamp1")
    data = live.read_kept_token(token, "signin")
    assert (data["w"], data["r"], data["n"], data["s"]) == ("demo", "facilitator", "Anna", "stamp1")
    assert live.read_kept_token(token, "member") is None  # not a membership
    member = live.issue_member_token("demo", "member-secret")
    assert live.read_kept_token(member, "member")["m"] == "member-secret"
    assert live.read_kept_token(member, "signin") is None


def test_forged_tampered_other_secret_and_expired_tokens_read_nothing(monkeypatch):
    token = live.issue_signin_token("demo", "owner", "Owner", "s")
    assert live.read_kept_token(token[:-2] + ("AA" if token[-2:] != "AA" else "BB")) is None
    assert live.read_kept_token("") is None and live.read_kept_token(None) is None
    assert live.read_kept_token("x" * 3000) is None
    # a live token (another salt) is no keep token
    assert live.read_kept_token(live.issue_token("demo", "lab", None)) is None
    monkeypatch.setitem(live._KEEP, "signin", (live.SIGNIN_COOKIE, -1))
    assert live.read_kept_token(token) is None  # past its age
    (data_dir() / "live-secret").write_bytes(b"another secret")
    assert live.read_kept_token(live.issue_member_token("demo", "m")) is not None
    assert live.read_kept_token(token) is None  # signed with the old secret


def test_keep_route_sets_an_http_only_cookie_and_removes_it(client):
    token = live.issue_signin_token("demo", "facilitator", "Anna", "s")
    r = client.post("/api/keep", json={"token": token})
    assert r.status_code == 200
    header = r.headers["set-cookie"]
    assert header.startswith(f"{live.SIGNIN_COOKIE}={token};")
    assert "HttpOnly" in header and "SameSite=strict" in header and "Path=/" in header
    assert f"Max-Age={live.SIGNIN_TOKEN_SECONDS}" in header
    r = client.delete("/api/keep", params={"kind": "signin"})
    assert r.status_code == 200 and f'{live.SIGNIN_COOKIE}=""' in r.headers["set-cookie"]


def test_keep_route_refuses_what_it_did_not_sign(client):
    assert client.post("/api/keep", json={"token": "made.up"}).status_code == 400
    assert client.post("/api/keep", json=["x"]).status_code == 400
    assert (
        client.post(
            "/api/keep",
            content=b"token=x",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        ).status_code
        == 415
    )
    assert client.delete("/api/keep", params={"kind": "passcode"}).status_code == 400
