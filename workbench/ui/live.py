"""The page side of the live channel: :func:`live_channel` mounts the component that follows a
living lab (``live_channel.js``; the server side is ``workbench.live``), and
:func:`live_notes` is the layer of a folium map that it keeps up to date
(``maps.NotesLayer``, ``workbench/notes_layer.js``).

It must not decide who may read: the live channel asks the store (``Store.live_access``).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import folium
import streamlit as st
from branca.element import Figure

from workbench import live
from workbench.access import Actor
from workbench.store import Store
from workbench.ui import WORKSPACE_KEY, lang, t
from workbench.ui.access import LOGIN_KEY
from workbench.ui.drawing import CLEAR_COUNT_KEY

if TYPE_CHECKING:
    from streamlit.components.v2.types import ComponentRenderer

HERE = Path(__file__).parent


_CSS = """
.wb-live {font-size: var(--wb-live-size, 0.85rem); color: #333; display: flex; flex-wrap: wrap;
  gap: 0.25rem 0.75rem; align-items: center;}
.wb-status {font-weight: 600;} .wb-s-live {color: #1b7a3a;}
.wb-s-offline, .wb-s-reload {color: #b00020;}
.wb-timer:empty, .wb-presence:empty {display: none;}
.wb-timer {font-size: var(--wb-timer-size, 1.4rem); font-weight: 800;
  font-variant-numeric: tabular-nums;}
.wb-timer.wb-over {color: #b00020;}
.wb-presence {flex-basis: 100%; display: flex; flex-wrap: wrap; gap: 0.25rem 0.5rem;}
.wb-presence-title {flex-basis: 100%; font-weight: 700;}
.wb-chip {border: 1px solid #ccc; border-radius: 1rem; padding: 0.1rem 0.5rem; background: #fff;}
.wb-dot {display: inline-block; width: 0.8em; height: 0.8em; border-radius: 50%;
  border: 1px solid #000; margin-right: 0.3em; vertical-align: -0.05em;}
.wb-n {color: #555;}
"""


@cache
def _component() -> ComponentRenderer:
    return st.components.v2.component(
        "workbench_live", js=(HERE / "live_channel.js").read_text(encoding="utf-8"), css=_CSS
    )


def _noop() -> None:
    pass


def live_channel(
    s: Store,
    lab_id: str,
    actor: Actor | None,
    *,
    page: str,
    colour_by: str = "category",
    scale: float = 1.0,
    selected: str | None = None,
    rerun: bool = True,
    presence: bool = False,
    timer: bool = False,
    follow_view: bool = False,
) -> Any:
    """Follow ``lab_id`` live on this page (``page``: a name, one channel per page and lab).

    The maps of the page (with :func:`live_notes`) get every change; with ``rerun`` the part of
    the page this is called in reruns when notes or the round changed; ``presence`` shows who is
    in the room, ``timer`` the round's countdown, ``follow_view`` makes the maps follow the
    facilitator's extent. Returns the component's result (``.changed``, ``.expired``)."""
    login = st.session_state.get(LOGIN_KEY)
    stamp = (
        s.passcode_stamp() if login and actor is not None and actor.role != "participant" else None
    )
    token = live.issue_token(st.session_state.get(WORKSPACE_KEY) or "demo", lab_id, actor, stamp)
    base = (st.get_option("server.baseUrlPath") or "").strip("/")
    path = "/" + "/".join(p for p in (base, f"api/live/{lab_id}/ws") if p)
    texts = {
        key: t(f"live.status.{key}") for key in ("live", "connecting", "offline", "reload", "over")
    }
    texts.update(
        presence_title=t("live.presence.title"),
        presence_none=t("live.presence.none"),
        devices=t("live.presence.devices", count="{count}"),
        **{f"role_{r}": t(f"live.presence.role.{r}") for r in ("owner", "facilitator", "viewer")},
    )
    data = {
        "lab": lab_id,
        "page": page,
        "path": path,
        "token": token,
        "lang": lang(),
        "colour_by": colour_by,
        "scale": scale,
        "selected": selected,
        "clear": st.session_state.get(CLEAR_COUNT_KEY, 0),
        "rerun": rerun,
        "revision": s.lab_revision(lab_id),  # what this run of the page shows
        "presence": presence,
        "timer": timer,
        "follow_view": follow_view,
        "texts": texts,
    }
    return _component()(
        key=f"live_{page}_{lab_id}",
        data=data,
        height="content",
        on_changed_change=_noop,
        on_expired_change=_noop,
    )


def live_notes(m: folium.Map, lab_id: str) -> folium.Map:
    """Add the live notes layer of ``lab_id`` to ``m`` (and return ``m``): the one notes layer
    of every map (``maps.NotesLayer``), here filled and kept up to date by the live channel."""
    from workbench.maps import ANNOTATION_POPUP_CSS, NotesLayer

    root = m.get_root()
    assert isinstance(root, Figure)  # a map's root is the HTML document (folium makes it)
    root.header.add_child(folium.Element(f"<style>{ANNOTATION_POPUP_CSS}</style>"))
    m.add_child(NotesLayer(lab_id, t("annotate.layer_name"), live=True))
    return m
