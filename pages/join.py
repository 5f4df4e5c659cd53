"""Joining a workshop session: open the link (``/join?ws=…&t=…``), give a group name and pick a
colour, land on the living lab's map ready to draw. No account; the browser keeps a member token
in the URL (``?member=…``) so that a participant who reconnects keeps their group and votes."""

from __future__ import annotations

import streamlit as st

from workbench import i18n
from workbench.access import GROUP_COLOURS
from workbench.errors import WorkbenchError
from workbench.ui import LAB_KEY, lang, plain, show_error, store, t
from workbench.ui.access import MEMBER_KEY

#: A coloured square beside each colour's name (the name says it; the square shows it).
SWATCH = {"blue": "🟦", "orange": "🟧", "green": "🟩", "vermilion": "🟥", "purple": "🟪",
          "sky": "🔷", "yellow": "🟨", "black": "⬛"}

s = store()
LANG = lang()
token = st.query_params.get("t", "")
st.title(t("workshop.join.title"))
try:
    session = s.check_join_token(token)
except WorkbenchError as exc:
    show_error(exc)
    st.stop()
lab = s.get_lab(session.lab_id)
plain(f"{session.title} · {lab.title}")
with st.form("workshop_join_form"):
    group = st.text_input(t("workshop.join.group"), max_chars=80, key="workshop_join_group",
                          help=t("workshop.join.group_help"))
    colour = st.radio(t("workshop.join.colour"), list(GROUP_COLOURS), horizontal=True,
                      key="workshop_join_colour",
                      format_func=lambda c: f"{SWATCH[c]} {i18n.t(f'workshop.colour.{c}', LANG)}")
    go = st.form_submit_button(t("workshop.join.submit"), type="primary")
if go:
    try:
        actor, member_token = s.join_session(token, group, GROUP_COLOURS[colour])
    except WorkbenchError as exc:
        show_error(exc)
        st.stop()
    st.session_state[MEMBER_KEY] = member_token
    st.session_state[LAB_KEY] = lab.id
    st.session_state["annotate_author"] = actor.group
    st.switch_page("pages/map.py", query_params={"lab": lab.id, "member": member_token,
                                                 "ws": st.query_params.get("ws", ""),
                                                 "lang": LANG})
