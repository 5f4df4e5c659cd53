"""Joining a workshop session: open the link (``/join?ws=…&t=…``) or type the short code shown
on the shared screen, give a group name and pick a colour, land on the living lab's map ready to
draw. No account; the browser keeps a member token
in the URL (``?member=…``) so that a participant who reconnects keeps their group and votes."""

from __future__ import annotations

import streamlit as st

from workbench import i18n
from workbench.access import GROUP_COLOURS, JOIN_CODE_LENGTH
from workbench.errors import WorkbenchError
from workbench.settings import MAX_GROUP_NAME_CHARS
from workbench.store import list_workspaces, open_store
from workbench.ui import LAB_KEY, WORKSPACE_KEY, lang, plain, show_error, store, t
from workbench.ui.access import client, keep_member

#: A coloured square beside each colour's name (the name says it; the square shows it).
SWATCH = {
    "blue": "🟦",
    "orange": "🟧",
    "green": "🟩",
    "vermilion": "🟥",
    "purple": "🟪",
    "sky": "🔷",
    "yellow": "🟨",
    "black": "⬛",
}

s = store()
LANG = lang()
token = st.query_params.get("t", "")
st.title(t("workshop.join.title"))


def find_code(code: str) -> tuple[str, str] | None:
    """(workspace, join token) of the active session whose code this is, in any workspace;
    the attempt is counted first (per client, as passcodes are)."""
    s.count_code_attempt(client())
    for name in list_workspaces():
        other = open_store(name)
        try:
            found = other.token_for_code(code)
        finally:
            other.close()
        if found:
            s.clear_code_attempts(client())
            return name, found
    return None


def code_form() -> None:
    """Join without a link: the code shown large on the shared screen."""
    with st.form("workshop_code_form"):
        code = st.text_input(
            t("live.join.code"),
            max_chars=2 * JOIN_CODE_LENGTH,  # room for dashes
            key="workshop_join_code",
            help=t("live.join.code_help"),
        )
        go = st.form_submit_button(t("live.join.code_submit"), type="primary")
    if go:
        try:
            found = find_code(code)
        except WorkbenchError as exc:
            show_error(exc)
            return
        if found is None:
            st.error(t("live.join.code_wrong"), icon="⚠️")
            return
        st.query_params.update({"ws": found[0], "t": found[1], "lang": LANG})
        st.rerun()


if not token:
    code_form()
    st.stop()
try:
    session = s.check_join_token(token)
except WorkbenchError as exc:
    show_error(exc)
    code_form()
    st.stop()
lab = s.get_lab(session.lab_id)
plain(f"{session.title} · {lab.title}")
with st.form("workshop_join_form"):
    group = st.text_input(
        t("network.consultation.city")
        if session.kind == "consultation"
        else t("workshop.join.group"),
        max_chars=MAX_GROUP_NAME_CHARS,
        key="workshop_join_group",
        help=t("workshop.join.group_help"),
    )
    colour = st.radio(
        t("workshop.join.colour"),
        list(GROUP_COLOURS),
        horizontal=True,
        key="workshop_join_colour",
        format_func=lambda c: f"{SWATCH[c]} {i18n.t(f'workshop.colour.{c}', LANG)}",
    )
    go = st.form_submit_button(t("workshop.join.submit"), type="primary")
if go:
    try:
        actor, member_token = s.join_session(token, group, GROUP_COLOURS[colour])
    except WorkbenchError as exc:
        show_error(exc)
        st.stop()
    keep_member(
        st.query_params.get("ws", "") or st.session_state.get(WORKSPACE_KEY, ""), member_token
    )
    st.session_state[LAB_KEY] = lab.id
    st.session_state["annotate_author"] = actor.group
    st.switch_page(
        "pages/map.py",
        query_params={
            "lab": lab.id,
            "member": member_token,
            "ws": st.query_params.get("ws", ""),
            "lang": LANG,
        },
    )
