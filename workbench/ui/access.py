"""Who is using this browser tab: a participant (member token from the join link, kept in the
URL as ``?member=…``), an owner or facilitator (passcode or single sign-on), or a viewer.

A reload keeps both: a passcode sign-in and a membership are also kept as a signed, expiring
token (``workbench.live.issue_signin_token``/``issue_member_token``) in an HttpOnly cookie that
the server sets (:func:`keep_signed_in`); never the passcode. A changed owner passcode voids
kept sign-ins; signing out removes the cookie.

Pages pass :func:`current_actor` as ``by=`` to every store write; the store decides.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import streamlit as st

from workbench import live
from workbench.access import Actor, check, client_key
from workbench.errors import PermissionDenied
from workbench.hosting import open_setup
from workbench.store import Store
from workbench.ui import WORKSPACE_KEY, server_host

if TYPE_CHECKING:
    from streamlit.components.v2.types import ComponentRenderer

MEMBER_KEY = "workshop_member_token"  # the participant's member token (also ?member= in the URL)
LOGIN_KEY = "workshop_login"  # {"workspace", "role", "name"} after a passcode sign-in
KEEP_KEY = "_workshop_keep"  # {"signin"/"member": token, "" to remove} for the cookies
SIGNED_OUT_KEY = "_workshop_signed_out"  # this tab signed out: its old cookie no longer counts


def _cookie(name: str) -> str | None:
    try:
        cookies = st.context.cookies
        value = cookies.get(name) if cookies else None
    except Exception:  # noqa: BLE001 - no request context (tests, scripts)
        return None
    return value if isinstance(value, str) else None


def sign_in_as(workspace: str, role: str, name: str, stamp: str | None) -> None:
    """Sign this tab in (after a right passcode) and keep the sign-in across reloads."""
    st.session_state[LOGIN_KEY] = {
        "workspace": workspace,
        "role": role,
        "name": name,
        "stamp": stamp,
    }
    st.session_state.pop(SIGNED_OUT_KEY, None)
    keep = st.session_state.setdefault(KEEP_KEY, {})
    keep["signin"] = live.issue_signin_token(workspace, role, name, stamp)


def sign_out() -> None:
    """Sign this tab out and remove the kept sign-in."""
    st.session_state.pop(LOGIN_KEY, None)
    st.session_state[SIGNED_OUT_KEY] = True
    st.session_state.setdefault(KEEP_KEY, {})["signin"] = ""


def keep_member(workspace: str, member_token: str) -> None:
    """Keep a participant's membership across reloads (also when the URL loses ``?member``)."""
    st.session_state[MEMBER_KEY] = member_token
    keep = st.session_state.setdefault(KEEP_KEY, {})
    if keep.get("_member_plain") != member_token:
        keep["_member_plain"] = member_token
        keep["member"] = live.issue_member_token(workspace, member_token)


@cache
def _keep_component() -> ComponentRenderer:
    js = (Path(__file__).parent / "keep.js").read_text(encoding="utf-8")
    return st.components.v2.component("workbench_keep", js=js)


def keep_signed_in() -> None:
    """Hand the browser the tokens to keep (called once per run, from the sidebar)."""
    keep = st.session_state.get(KEEP_KEY)
    if not keep:
        return
    base = (st.get_option("server.baseUrlPath") or "").strip("/")
    path = "/" + "/".join(p for p in (base, "api/keep") if p)
    _keep_component()(
        key="workbench_keep",
        height=0,
        data={"path": path, "signin": keep.get("signin"), "member": keep.get("member")},
    )


def _restore_sign_in(s: Store, workspace: str) -> None:
    """A sign-in kept by this browser (the cookie) for this workspace and its passcode."""
    if st.session_state.get(LOGIN_KEY) or st.session_state.get(SIGNED_OUT_KEY):
        return
    token = _cookie(live.SIGNIN_COOKIE)
    data = live.read_kept_token(token, "signin")
    if data is None or data["w"] != workspace or data.get("r") not in ("owner", "facilitator"):
        return
    stamp = s.passcode_stamp()
    if stamp is None or data.get("s") != stamp:
        return
    st.session_state[LOGIN_KEY] = {
        "workspace": workspace,
        "role": data["r"],
        "name": str(data.get("n") or ""),
        "stamp": stamp,
    }


def _kept_member(workspace: str) -> str | None:
    data = live.read_kept_token(_cookie(live.MEMBER_COOKIE), "member")
    if data is None or data["w"] != workspace:
        return None
    return str(data.get("m") or "") or None


def auth_configured() -> bool:
    """Whether the deployment configured single sign-on (``[auth]`` in secrets.toml)."""
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all  # noqa: BLE001
        return False


def sso_user() -> dict[str, Any] | None:
    """The signed-in single-sign-on user (email, name), or None."""
    if not auth_configured():
        return None
    try:
        if st.user.is_logged_in:
            return {
                "email": str(st.user.get("email") or ""),
                "name": str(st.user.get("name") or ""),
            }
    except Exception:  # noqa: BLE001 - a misconfigured provider: treat as not signed in
        return None
    return None


def client() -> str:
    """This browser's key for the passcode rate limit (hash of its address)."""
    try:
        raw = st.context.ip_address
    except Exception:  # noqa: BLE001
        raw = None
    return client_key(raw if isinstance(raw, str) else None)


def current_actor(s: Store, lab_id: str | None) -> Actor | None:
    """The acting person of this tab for ``lab_id``; None = the workspace is open (no passcode),
    the living lab has no session and the server is a private one (open set-up, see
    ``workbench.hosting``): the local single-user mode, allowed everything. On a server reachable
    from other machines a workspace without passcode is read-only until the operator sets one."""
    workspace = st.session_state.get(WORKSPACE_KEY) or ""
    token = st.query_params.get("member") or st.session_state.get(MEMBER_KEY)
    if not token:  # a reload: a kept sign-in first, else a kept membership
        _restore_sign_in(s, workspace)
        token = None if st.session_state.get(LOGIN_KEY) else _kept_member(workspace)
    if token:
        actor = s.resume_member(token)
        if actor is not None:
            keep_member(workspace, token)
            session = s.active_session(lab_id) if lab_id else None
            if session is not None and session.id == actor.session_id:
                return actor
    _restore_sign_in(s, workspace)
    login = st.session_state.get(LOGIN_KEY)
    if login and login.get("workspace") == st.session_state.get(WORKSPACE_KEY):
        if login.get("stamp") == s.passcode_stamp():
            return Actor(login["role"], login["name"])
        st.session_state.pop(LOGIN_KEY, None)  # the passcode was reset or changed since
    user = sso_user()
    if user is not None:
        role = s.member_role(user["email"])
        if role is not None:
            return Actor(role, user["name"] or user["email"])
    if (
        not s.is_protected()
        and open_setup(server_host())
        and (lab_id is None or s.active_session(lab_id) is None)
    ):
        return None
    return Actor("viewer")


def allowed(
    actor: Actor | None, action: str, phase: tuple[str, bool], owner: str | None = None
) -> bool:
    """Whether to offer an action (the store checks again when it is taken)."""
    if actor is None:
        return True
    try:
        check(actor, action, phase=phase[0], owner=owner, lock_edits=phase[1])
    except PermissionDenied:
        return False
    return True
