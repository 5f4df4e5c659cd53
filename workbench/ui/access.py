"""Who is using this browser tab: a participant (member token from the join link, kept in the
URL as ``?member=…``), an owner or facilitator (passcode or single sign-on), or a viewer.

Pages pass :func:`current_actor` as ``by=`` to every store write; the store decides.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from workbench.access import Actor, check, client_key
from workbench.errors import PermissionDenied
from workbench.hosting import open_setup
from workbench.store import Store
from workbench.ui import WORKSPACE_KEY, server_host

MEMBER_KEY = "workshop_member_token"  # the participant's member token (also ?member= in the URL)
LOGIN_KEY = "workshop_login"          # {"workspace", "role", "name"} after a passcode sign-in


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
            return {"email": str(st.user.get("email") or ""), "name": str(st.user.get("name")
                                                                        or "")}
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
    token = st.query_params.get("member") or st.session_state.get(MEMBER_KEY)
    if token:
        actor = s.resume_member(token)
        if actor is not None:
            st.session_state[MEMBER_KEY] = token
            session = s.active_session(lab_id) if lab_id else None
            if session is not None and session.id == actor.session_id:
                return actor
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
    if not s.is_protected() and open_setup(server_host()) \
            and (lab_id is None or s.active_session(lab_id) is None):
        return None
    return Actor("viewer")


def allowed(actor: Actor | None, action: str, phase: tuple[str, bool], owner: str | None = None
            ) -> bool:
    """Whether to offer an action (the store checks again when it is taken)."""
    if actor is None:
        return True
    try:
        check(actor, action, phase=phase[0], owner=owner, lock_edits=phase[1])
    except PermissionDenied:
        return False
    return True
