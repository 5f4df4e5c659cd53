"""The shared sidebar: workspace, living lab and language, carried through every page.

It must not hold a page's content or a library rule; it only carries the choices.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from workbench import __version__
from workbench.i18n import LANGUAGE_NAMES
from workbench.settings import DEMO_WORKSPACE, LANGUAGES
from workbench.store import list_workspaces, workspace_exists
from workbench.ui import (
    CONTRAST_CSS,
    LAB_KEY,
    LANG_KEY,
    WORKSPACE_KEY,
    lab_label,
    md_escape,
    select_lab,
    store,
    t,
    translate_builtins,
)
from workbench.ui.keyboard import PAGE_FOCUS_CSS

#: A workspace name from the URL that was refused (said once, at the top of the page).
REFUSED_KEY = "_workspace_refused"
#: The workspace the sidebar showed last (a lab choice of another workspace ends quietly).
LAB_WORKSPACE_KEY = "_lab_workspace"


def init_state() -> None:
    """Session defaults, taken from the URL where it names them (``?lab=…&lang=…``)."""
    params = st.query_params
    if LANG_KEY not in st.session_state:
        st.session_state[LANG_KEY] = params.get("lang") if params.get("lang") in LANGUAGES else "en"
    if WORKSPACE_KEY not in st.session_state:
        asked = params.get("ws") or DEMO_WORKSPACE
        if asked == DEMO_WORKSPACE or workspace_exists(asked):
            st.session_state[WORKSPACE_KEY] = asked
        else:  # a name the URL made up, or a path: refused, never created
            st.session_state[WORKSPACE_KEY] = DEMO_WORKSPACE
            st.session_state[REFUSED_KEY] = asked[:60]
    if LAB_KEY not in st.session_state:
        st.session_state[LAB_KEY] = params.get("lab")


def _copy(widget_key: str, state_key: str) -> None:
    st.session_state[state_key] = st.session_state[widget_key]


def _persistent_select(label: str, options: list[str], state_key: str, **kwargs: Any) -> None:
    """A selectbox whose choice lives in a plain session key, so it survives page changes and
    language changes (Streamlit drops the state of widgets whose identity changes, and keeps
    showing a keyed widget's old option labels)."""
    widget_key = f"_{state_key}_widget_{st.session_state.get(LANG_KEY)}"  # labels follow lang
    current = st.session_state.get(state_key)
    if current in options and st.session_state.get(widget_key) != current:
        st.session_state[widget_key] = current
    st.selectbox(
        label, options, key=widget_key, on_change=_copy, args=(widget_key, state_key), **kwargs
    )


def render() -> None:
    """The sidebar; what it had to refuse from the URL is said at the top of the page (a
    phone shows the sidebar folded away)."""
    notices: list[str] = []
    with st.sidebar:
        # The label names itself in every language, so anyone can find the switch.
        _persistent_select(
            "🌐 Language · Sprache · Мова",
            list(LANGUAGES),
            LANG_KEY,
            format_func=lambda code: LANGUAGE_NAMES[code],
        )
        refused = st.session_state.pop(REFUSED_KEY, None)
        if refused is not None:
            notices.append(t("hosting.workspace_refused", name=md_escape(refused)))
        workspaces = sorted(
            set(list_workspaces()) | {DEMO_WORKSPACE, st.session_state[WORKSPACE_KEY]}
        )
        demo_label = t("sidebar.demo_workspace")  # labels bound now, not when drawn later
        _persistent_select(
            t("sidebar.workspace"),
            workspaces,
            WORKSPACE_KEY,
            format_func=lambda w: demo_label if w == DEMO_WORKSPACE else w,
        )
        workspace = st.session_state[WORKSPACE_KEY]
        s = store()
        cities = {c.id: c for c in s.list_cities()}
        labs = sorted(s.list_labs(), key=lambda lab: lab_label(lab, cities))
        ids = [None] + [lab.id for lab in labs]
        labels: dict[str | None, str] = {lab.id: lab_label(lab, cities) for lab in labs}
        current = st.session_state.get(LAB_KEY)
        switched = st.session_state.get(LAB_WORKSPACE_KEY, workspace) != workspace
        st.session_state[LAB_WORKSPACE_KEY] = workspace
        if current and current not in ids and not switched:  # a link to a lab gone
            notices.append(t("sidebar.lab_gone"))
        index = ids.index(current) if current in ids else 0
        labels[None] = t("sidebar.no_lab")
        chosen = st.selectbox(t("sidebar.lab"), ids, index=index, format_func=labels.__getitem__)
        if chosen != current:
            select_lab(chosen)
        st.caption(t("sidebar.version", version=__version__))
        from workbench.ui.access import keep_signed_in  # it imports this package

        keep_signed_in()
        translate_builtins()
        st.html(CONTRAST_CSS)
        st.html(PAGE_FOCUS_CSS)
    for text in notices:
        st.warning(text, icon="⚠️")
