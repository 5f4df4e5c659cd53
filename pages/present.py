"""The presenter view for the shared screen: the map fills the screen with big markers, no
editing tools; a side panel with the round, its timer, the newest annotations and, whenever a
session runs, the QR code and the short join code for the room. It follows the facilitator's
view: the extent their map shows and the layers they chose.

Nothing runs on a timer: the live channel (``workbench.ui.live``) draws the notes on the map,
moves it with the facilitator's extent, counts the round down and shows who is in the room; it
reruns the side panel when notes or the round changed, and the page when the layers did."""

from __future__ import annotations

import copy

import folium
import streamlit as st
from shapely.geometry import box

from workbench import i18n, maps, mapview
from workbench.errors import WorkbenchError
from workbench.ui import (
    WORKSPACE_KEY,
    html_block,
    lang,
    require_lab,
    room_base,
    show_error,
    show_map,
    store,
    t,
    venue_tiles,
)
from workbench.ui.access import current_actor
from workbench.ui.keyboard import map_focus, skip_link
from workbench.ui.live import live_channel, live_notes
from workbench.workshop import join_url, presenter_layer_ids, qr_png

NEWEST = 5
MAP_HEIGHT = 960

s = store()
lab = require_lab()
LANG = lang()
actor = current_actor(s, lab.id)
categories = s.list_categories()

# Full screen, large type, high contrast: no sidebar, header or toolbar; the panel's text is
# black on white at 26 px and more (readable from about three metres on a 1080p screen).
html_block("""<style>
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], header,
[data-testid="stToolbar"], [data-testid="stDecoration"] {display: none !important;}
.block-container {padding: 0.5rem 1rem 0 1rem !important; max-width: 100% !important;}
.wb-present {font-size: 26px; line-height: 1.3; color: #000; background: #fff;}
.wb-present h2 {font-size: 40px; margin: 0 0 4px 0; font-weight: 800;}
.wb-present .wb-timer {font-size: 72px; font-weight: 800; font-variant-numeric: tabular-nums;}
.wb-present .wb-over {color: #B00020;}
.wb-present .wb-phase {font-size: 26px; font-weight: 600;}
.wb-present ol {padding-left: 1.2em; margin: 0;}
.wb-present li {margin: 0 0 10px 0; overflow-wrap: anywhere;}
.wb-present .wb-who {font-weight: 700;}
.wb-present .wb-dot {display: inline-block; width: 22px; height: 22px; border-radius: 50%;
  border: 2px solid #000; vertical-align: middle; margin-right: 8px;}
.wb-present .wb-link {font-size: 18px; overflow-wrap: anywhere;}
.wb-present .wb-code {font-size: 56px; font-weight: 800; letter-spacing: 0.12em;
  font-family: ui-monospace, "DejaVu Sans Mono", monospace;}
.wb-legend {font-size: 22px !important;}
[class*="st-key-live_present_"] {--wb-timer-size: 72px; --wb-live-size: 22px;}
</style>""")


@st.cache_resource(max_entries=32, show_spinner=False)
def present_map(
    store_url: str,
    lab_id: str,
    lab_version: int,
    data_version: tuple,
    layer_ids: tuple | None,
    lang: str,
) -> tuple[folium.Map, WorkbenchError | None]:
    """The map without its notes: basemap, site, the layers the facilitator chose, and the
    live notes layer (filled in by the browser); no drawing tools. Built once per lab, data
    version, layer choice and language."""
    settings = mapview.map_settings(s, lab_id)
    problem = None  # the layers' error, said beside the map (drawn without them)
    try:  # the lab's one map description, as on the living-lab map
        layers = mapview.lab_layers(s, lab_id, lang=lang, settings=settings, muted=True)[0]
    except WorkbenchError as exc:
        layers, problem = [], exc
    if layer_ids is not None:
        layers = [x for x in layers if x.layer_id in layer_ids]
    m = mapview.lab_map(lab, layers, settings, lang, controls=False, venue=venue_tiles(lab_id))
    return map_focus(live_notes(m, lab_id)), problem


def panel_head(session) -> str:  # type: ignore[no-untyped-def]
    """The round and its phase (the timer below it is the live channel's)."""
    esc = maps.escape_text
    parts = ['<div class="wb-present">']
    current = s.current_round(session.id) if session else None
    if current is not None:
        kind = i18n.t(f"workshop.round.{current.kind}", LANG)
        parts.append(
            f"<h2>{esc(t('workshop.present.round', number=current.number, kind=kind))}</h2>"
        )
        state = (
            "paused"
            if current.status == "paused"
            else ("discuss_locked" if current.lock_edits else current.kind)
        )
        parts.append(f'<div class="wb-phase">{esc(t(f"workshop.phase_hint.{state}"))}</div>')
    else:
        parts.append(f"<h2>{esc(t('workshop.present.no_round'))}</h2>")
    return "".join(parts) + "</div>"


def panel(annotations: list) -> str:
    """The newest notes (all user text through maps.escape_text)."""
    esc = maps.escape_text
    parts = ['<div class="wb-present">']
    parts.append(f"<h2 style='margin-top:18px'>{esc(t('workshop.present.newest'))}</h2><ol>")
    colours = maps.category_colours(categories)
    for a in list(reversed(annotations))[:NEWEST]:
        label = maps.category_label(a.category, LANG, categories)
        text = a.text if len(a.text) <= 90 else a.text[:89] + "…"
        parts.append(
            f'<li><span class="wb-dot" style="background:'
            f'{esc(colours.get(a.category, "#999999"))}"></span>'
            f'<span class="wb-who">{esc(label)} · {esc(a.author)}</span><br>'
            f'<span dir="auto">{esc(text)}</span></li>'
        )
    if not annotations:
        parts.append(f"<li>{esc(t('workshop.present.none'))}</li>")
    parts.append("</ol></div>")
    return "".join(parts)


session = s.active_session(lab.id)
LINK = None
if session is not None:  # the room joins from the shared screen: the QR code and the code
    BASE = room_base()[0]
    LINK = join_url(BASE, s.join_token(session.id), st.session_state.get(WORKSPACE_KEY, ""), LANG)
    QR = qr_png(LINK, box_size=8)
    CODE = s.join_code(session.id)


view = s.lab_setting(lab.id, "workshop_view", {}) or {}
_CHOSEN = presenter_layer_ids(s, lab.id, view)
LAYERS = tuple(_CHOSEN) if _CHOSEN is not None else None  # ids; None: every layer
MAP_SETTINGS = mapview.map_settings(s, lab.id).key()  # the lab's saved basemap and WMS


@st.fragment
def side_panel() -> None:
    """The round, its timer (counted down in the browser), who is in the room, the newest
    notes, the legend and the join code; rerun by the live channel when something changed."""
    now = s.lab_setting(lab.id, "workshop_view", {}) or {}
    chosen = presenter_layer_ids(s, lab.id, now)
    if (tuple(chosen) if chosen is not None else None) != LAYERS or mapview.map_settings(
        s, lab.id
    ).key() != MAP_SETTINGS:
        st.rerun(scope="app")  # other layers, basemap or WMS: a new base map
    annotations = s.list_annotations(lab.id)
    current = s.active_session(lab.id)
    html_block(panel_head(current))
    live_channel(
        s, lab.id, actor, page="present", scale=2.0, timer=True, presence=True, follow_view=True
    )
    if LINK:  # first: joining is what the room needs the shared screen for at the start
        html_block(
            f'<div class="wb-present wb-phase">{maps.escape_text(t("workshop.present.scan"))}</div>'
        )
        st.image(QR, width=220)
        html_block(
            f'<div class="wb-present"><div class="wb-phase">'
            f"{maps.escape_text(t('live.join.code_caption'))}</div>"
            f'<div class="wb-code">{maps.escape_text(CODE)}</div>'
            f'<div class="wb-link">'
            f"{maps.escape_text(t('live.join.or_code', url=BASE + '/join'))}</div></div>"
        )
    html_block(panel(annotations))
    html_block(
        maps.legend_html(
            maps.annotation_legend(annotations, "category", LANG, categories), t("annotate.legend")
        )
    )


map_col, side_col = st.columns([3, 1], gap="small")
with map_col:
    # the keyboard's way past the map to the round, the join code and the newest notes
    skip_link(t("workshop.present.skip_map"), ".st-key-present_panel")
    bounds = view.get("bounds")
    centre, zoom = maps.view_for(box(*bounds), width_px=1400) if bounds else (None, None)
    # a copy: rendering a folium map changes it, and the cached one is shared by the tabs
    base, problem = present_map(
        s.url, lab.id, lab.version, mapview.context_version(s, lab.id), LAYERS, LANG
    )
    if problem is not None:
        show_error(problem)
    show_map(
        copy.deepcopy(base),
        key=f"present_map_{lab.id}",
        height=MAP_HEIGHT,
        use_container_width=True,
        returned_objects=[],
        center=centre,
        zoom=zoom,
    )
with side_col, st.container(key="present_panel"):
    side_panel()
