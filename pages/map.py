"""The living-lab map: draw and annotate together, live; a list beside the map to filter, read,
add, edit, delete/restore, comment on and vote for annotations without using the map.

Nothing here runs on a timer. The notes reach the map through the live channel
(``workbench.ui.live``): the browser draws them and applies every change pushed by the server.
The base map (basemap, site, context layers, drawing tools) is built once per living lab, data
version and language. The list reruns when the live channel reports a change, and not while
someone types into a field. What a drawing does next is ``workbench.ui.drawing``."""

from __future__ import annotations

import copy

import folium
import streamlit as st
from branca.element import Figure
from folium.plugins import Draw
from shapely.errors import GEOSException
from shapely.geometry import Point, shape

from workbench import i18n, maps, mapview
from workbench.errors import ConflictError, ValidationError, WorkbenchError
from workbench.model import Annotation, Category, Comment, Vote, new_id
from workbench.settings import (
    MAP_COORD_DECIMALS,
    MAX_NAME_CHARS,
    MAX_TEXT_CHARS,
    MAX_VOTE_LIMIT,
    MIN_VOTE_LIMIT,
    NEW_CATEGORY_COLOUR,
)
from workbench.ui import (
    PHONE_MAP_CSS,
    drawing,
    error_text,
    fmt_datetime,
    html_block,
    lang,
    md_escape,
    plain,
    require_lab,
    scroll_into_view,
    show_error,
    show_map,
    store,
    t,
    t_md,
    venue_tiles,
)
from workbench.ui.access import allowed, current_actor
from workbench.ui.keyboard import AddHere, FillFrame, map_focus, skip_link
from workbench.ui.live import live_channel, live_notes

PAGE_SIZE = 25

# Session keys (the workshop pages build on these; see the module docstring of each).
AUTHOR_KEY = "annotate_author"  # the group or author name, remembered for the session
COLOUR_BY_KEY = "annotate_colour_by"  # "category" | "group"
SHOW_ON_MAP_KEY = "_annotate_show_on_map"  # a token per "Show on map": scroll the map to view
SELECTED_KEY = "annotate_selected"  # id of the annotation chosen in the list (highlight+zoom)
UNDO_KEY = "annotate_undo"  # id of the annotation just deleted (offered for undo)
FLASH_KEY = "annotate_flash"  # (kind, message) shown once after a rerun
FILTER_KEYS = ("annotate_filter_categories", "annotate_filter_groups", "annotate_filter_text")


def map_key(lab_id: str) -> str:
    """The st_folium key of a living lab's map (its value holds ``last_active_drawing``)."""
    return f"annotate_map_{lab_id}"


s = store()
lab = require_lab()
LANG = lang()
MAP_KEY = map_key(lab.id)
TEXT_HELP = t("annotate.text_limit", limit=MAX_TEXT_CHARS)
COORD_FORMAT = f"%.{MAP_COORD_DECIMALS}f"  # a form's longitude and latitude
for key, default in ((AUTHOR_KEY, ""), (COLOUR_BY_KEY, "category")):
    st.session_state.setdefault(key, default)

actor = current_actor(s, lab.id)  # passed as by= to every write: the store judges
phase = s.phase(lab.id)  # (phase, editing locked): the workshop's round on this living lab
session = s.active_session(lab.id)
if actor is not None and actor.role == "participant":
    st.session_state[AUTHOR_KEY] = actor.group  # a participant writes as their group
CAN_DRAW = allowed(actor, "annotation.add", phase)
#: The facilitator's map reports where it looks; the presenter view follows it.
LEADS_VIEW = session is not None and actor is not None and actor.may("session.run")

categories = s.list_categories()
codes = [c.code for c in categories]


def cat_label(code: str) -> str:
    # bound to this run's language, not read from session state when called (AppTest calls
    # format functions outside the script run)
    return maps.category_label(code, LANG, categories)


def author() -> str:
    return " ".join(st.session_state.get(AUTHOR_KEY, "").split())


def flash(kind: str, message: str) -> None:
    st.session_state[FLASH_KEY] = (kind, message)


def _copy(widget_key: str, state_key: str) -> None:
    st.session_state[state_key] = st.session_state[widget_key]


st.title(t("annotate.title"))
plain(lab.title, caption=True)

top = st.columns([2, 2, 3])
# The widget shows the remembered name (also when a form below changed it in the last run).
st.session_state["_annotate_author_widget"] = st.session_state[AUTHOR_KEY]
top[0].text_input(
    t("annotate.author"),
    max_chars=MAX_NAME_CHARS,
    disabled=actor is not None and actor.role in ("participant", "viewer"),
    key="_annotate_author_widget",
    on_change=_copy,
    args=("_annotate_author_widget", AUTHOR_KEY),
    help=t("annotate.author_help"),
)
# One widget per language (its labels change with it), showing the choice kept in
# COLOUR_BY_KEY: a language switch never resets it (as the sidebar's selects do).
COLOUR_WIDGET = f"_annotate_colour_widget_{LANG}"
if st.session_state.get(COLOUR_WIDGET) != st.session_state[COLOUR_BY_KEY]:
    st.session_state[COLOUR_WIDGET] = st.session_state[COLOUR_BY_KEY]
top[1].radio(
    t("annotate.colour_by"),
    ["category", "group"],
    format_func=lambda v: i18n.t(f"annotate.colour_by_{v}", LANG),
    horizontal=True,
    key=COLOUR_WIDGET,
    on_change=_copy,
    args=(COLOUR_WIDGET, COLOUR_BY_KEY),
)
with top[2]:
    if CAN_DRAW:  # a viewer has no drawing tools (the banner below says what they can do)
        st.caption(t("annotate.help"))

# Always the same number of elements above the map (messages go into this one container):
# the map must keep its place in the page, or Streamlit drops and remounts it.
notice = st.container()
if FLASH_KEY in st.session_state:
    kind, message = st.session_state.pop(FLASH_KEY)
    with notice:
        (st.success if kind == "success" else st.info)(
            message, icon="✅" if kind == "success" else "ℹ️"
        )
if actor is not None and actor.role == "viewer":
    with notice:  # say plainly what a viewer can do, and how to do more
        st.info(t("live.viewer_banner"), icon="👀")
elif session is not None:
    with notice:
        who = t(f"workshop.role.{actor.role}") if actor else ""
        state = t(f"workshop.phase_hint.{'discuss_locked' if phase[1] else phase[0]}")
        st.info(
            md_escape(
                t(
                    "workshop.map_banner",
                    who=who,
                    group=actor.group if actor and actor.group else "—",
                    state=state,
                )
            ),
            icon="🧭",
        )


@st.cache_resource(max_entries=64, show_spinner=False)
def base_map(
    store_url: str, lab_id: str, lab_version: int, data_version: tuple, lang: str, draw: bool
) -> tuple[folium.Map, WorkbenchError | None]:
    """The map without its notes: basemap, site, context layers, the drawing tools and the
    live notes layer. Built once per living lab, data version, language and drawing tools,
    shared by every tab (the browser fills in the notes), so it comes out the same on every run
    and the map stays mounted where the user is looking. With the layers' error, if they could
    not be read (then the map has none, and the page says why)."""
    settings = mapview.map_settings(s, lab_id)
    problem = None
    try:  # the lab's one map description: saved basemap and WMS, its layers, muted
        layers = mapview.lab_layers(s, lab_id, lang=lang, settings=settings, muted=True)[0]
    except WorkbenchError as exc:
        layers, problem = [], exc
    m = mapview.lab_map(lab, layers, settings, lang, venue=venue_tiles(lab_id))
    live_notes(m, lab_id)
    map_focus(m)  # a visible focus outline on the map and its controls
    FillFrame().add_to(m)  # as high as its frame, which is lower on a phone (PHONE_MAP_CSS)
    # on a narrow map the attribution wraps beside the scale bar instead of covering it
    root = m.get_root()
    assert isinstance(root, Figure)  # a map's root is the HTML document (folium makes it)
    root.header.add_child(
        folium.Element(
            "<style>@media (max-width: 640px) {.leaflet-control-attribution {"
            "max-width: calc(100vw - 130px); white-space: normal; line-height: 1.25;"
            "font-size: 10px;}}</style>"
        )
    )
    if draw:  # a viewer, or a round in which nobody may add: no drawing tools at all
        maps.DrawLocal(lang).add_to(m)  # Leaflet.draw's texts in the page's language
        Draw(
            export=False,
            position="topleft",
            draw_options={
                "polyline": {"shapeOptions": {"color": "#333333"}},
                "polygon": {"allowIntersection": False, "showArea": False},
                "rectangle": True,
                "circlemarker": True,
                "marker": False,
                "circle": False,
            },
            edit_options={"edit": False, "remove": False},
        ).add_to(m)
        # a point at the centre of the view without the toolbar: a tap on a phone, or Enter
        AddHere(i18n.t("annotate.add_here", lang), i18n.t("annotate.add_here_title", lang)).add_to(
            m
        )
    return m, problem


def the_map() -> None:
    """The map; a finished drawing opens its form (a rerun of the page)."""
    # a copy: rendering a folium map changes it, and the cached one is shared by the tabs
    m, problem = base_map(
        s.url, lab.id, lab.version, mapview.context_version(s, lab.id), LANG, CAN_DRAW
    )
    if problem is not None:
        show_error(problem)  # the map is drawn without its layers
    m = copy.deepcopy(m)
    returned = ["last_active_drawing", "bounds"] if LEADS_VIEW else ["last_active_drawing"]
    show_map(m, key=MAP_KEY, height=560, use_container_width=True, returned_objects=returned)
    if LEADS_VIEW:
        share_view((st.session_state.get(MAP_KEY) or {}).get("bounds"))
    drawn = (st.session_state.get(MAP_KEY) or {}).get("last_active_drawing")
    if CAN_DRAW and drawing.take(
        st.session_state, (drawn or {}).get("geometry"), s.list_annotations(lab.id)
    ):
        st.rerun()  # to show the form beside the (unchanged) map
    shown = st.session_state.get(SHOW_ON_MAP_KEY)
    if shown:  # "Show on map" from the list: the map into view (on a phone it is above)
        scroll_into_view(".st-key-annotate_map_box", shown, only_if_hidden=True)


def share_view(bounds: dict | None) -> None:
    """Store the facilitator's map extent for the presenter view (when it moved)."""
    try:
        sw, ne = bounds["_southWest"], bounds["_northEast"]  # type: ignore[index]
        box = [
            round(float(v), MAP_COORD_DECIMALS)
            for v in (sw["lng"], sw["lat"], ne["lng"], ne["lat"])
        ]
    except (TypeError, KeyError, ValueError):
        return
    view = s.lab_setting(lab.id, "workshop_view", {}) or {}
    if view.get("bounds") != box:
        try:
            s.set_lab_setting(lab.id, "workshop_view", {**view, "bounds": box}, by=actor)
        except WorkbenchError as exc:  # e.g. the session ended meanwhile: say so
            show_error(exc)


def drawn_shape(geometry: dict):  # type: ignore[no-untyped-def]
    """The shapely geometry of a drawing; an unreadable one (a line of one point) is refused."""
    try:
        return shape(geometry)
    except (ValueError, KeyError, TypeError, AttributeError, GEOSException) as exc:
        raise ValidationError("annotate.error.shape_unreadable") from exc


def handled() -> None:
    drawing.handled(st.session_state)


def pending_form() -> None:
    """The short form after a drawing: category, text, group; or confirming a redraw."""
    pending = drawing.pending(st.session_state)
    if not pending:
        return
    # after a drawing the form comes into view (on a phone it is below the map)
    # (and its first field gets the focus: a keyboard goes on from there)
    scroll_into_view(
        ".st-key-annotate_pending_form",
        str(pending.get("id") or pending.get("redraw") or "form"),
        block="center",
        focus="input, textarea, button",
    )
    with st.container(border=True, key="annotate_pending_form"):
        if pending.get("redraw"):
            st.markdown("**" + t("annotate.redraw_title") + "**")
            c1, c2 = st.columns(2)
            if c1.button(t("annotate.redraw_save"), type="primary", key="annotate_redraw_save"):
                try:
                    s.update_annotation(
                        pending["redraw"],
                        name=author() or "—",
                        expected_version=pending["version"],
                        geometry=drawn_shape(pending["geometry"]),
                        by=actor,
                    )
                    handled()
                    flash("success", t("annotate.redrawn"))
                    st.rerun()
                except WorkbenchError as exc:
                    show_error(exc)
            if c2.button(t("common.cancel"), key="annotate_redraw_cancel"):
                handled()
                st.rerun()
            return
        st.markdown("**" + t("annotate.new_title") + "**")
        with st.form("annotate_new_form", clear_on_submit=False):
            category = st.selectbox(
                t("annotate.category"), codes, format_func=cat_label, key="annotate_new_category"
            )
            text = st.text_area(
                t("annotate.text"),
                help=TEXT_HELP,
                key="annotate_new_text",
                placeholder=t("annotate.text_hint"),
            )
            group = st.text_input(
                t("annotate.author"),
                value=st.session_state[AUTHOR_KEY],
                max_chars=MAX_NAME_CHARS,
                key="annotate_new_author",
            )
            c1, c2 = st.columns(2)
            save = c1.form_submit_button(t("common.save"), type="primary")
            cancel = c2.form_submit_button(t("annotate.discard"))
        if cancel:
            handled()
            st.rerun()
        if save:
            try:
                geometry = drawn_shape(pending["geometry"])
                saved = s.add_annotation(
                    Annotation(
                        id=pending["id"],
                        lab_id=lab.id,
                        geometry=geometry,
                        category=category,
                        text=text,
                        author=group,
                        lang=LANG,
                    ),
                    by=actor,
                )
            except WorkbenchError as exc:
                show_error(exc)
                return
            st.session_state[AUTHOR_KEY] = saved.author
            for key in ("annotate_new_text",):
                st.session_state.pop(key, None)
            handled()
            flash("success", t("annotate.saved"))
            st.rerun()


# ---- the list: filters, the chosen item, add without the map, deleted items -----------------
def detail(a: Annotation, totals: dict[str, int], all_totals: dict[str, int]) -> None:
    """The chosen annotation: text, votes, edit, delete, comments and history."""
    me = author()
    with st.container(border=True):
        st.markdown(f"**{md_escape(cat_label(a.category))}**")
        plain(a.text)
        st.caption(
            md_escape(
                t(
                    "annotate.meta",
                    author=a.author,
                    time=fmt_datetime(a.created_at),
                    version=a.version,
                )
            )
        )
        st.caption(
            "● "
            + md_escape(
                maps.vote_counts_text(
                    totals.get(a.id, 0), all_totals.get(a.id, 0), s.vote_round(lab.id), LANG
                )
            )
        )
        # side by side, each as wide as its label, wrapping to a new line where space ends
        c1 = c2 = c3 = st.container(horizontal=True, wrap=True)
        left = s.votes_left(lab.id, me) if me else 0
        if c1.button(
            t("annotate.vote", count=totals.get(a.id, 0)),
            key=f"vote_{a.id}",
            disabled=not me or left == 0 or not allowed(actor, "vote.cast", phase),
            help=t("annotate.votes_left", left=left) if me else t("annotate.need_author"),
        ):
            try:
                s.cast_vote(Vote(id=new_id(), annotation_id=a.id, voter=me), by=actor)
                st.rerun()
            except WorkbenchError as exc:
                show_error(exc)
        mine = s.vote_totals(lab.id, voter=me).get(a.id, 0) if me else 0
        if c2.button(
            t("annotate.unvote"),
            key=f"unvote_{a.id}",
            disabled=mine == 0 or not allowed(actor, "vote.retract", phase),
        ):
            try:
                s.retract_vote(a.id, me, by=actor)
                st.rerun()
            except WorkbenchError as exc:
                show_error(exc)
        if c3.button(
            t("annotate.delete"),
            key=f"delete_{a.id}",
            disabled=not allowed(actor, "annotation.delete", phase, a.author),
        ):
            try:
                s.delete_annotation(a.id, name=me or "—", by=actor)
                st.session_state[UNDO_KEY] = a.id
                st.session_state.pop(SELECTED_KEY, None)
                st.rerun()
            except WorkbenchError as exc:
                show_error(exc)

        seen_key = f"annotate_seen_{a.id}"
        seen = st.session_state.setdefault(seen_key, a.version)
        with st.expander(t("annotate.edit"), expanded=seen != a.version):
            if seen != a.version:
                st.warning(t_md("annotate.changed_meanwhile", actor=a.updated_by), icon="⚠️")
            with st.form(f"annotate_edit_{a.id}"):
                category = st.selectbox(
                    t("annotate.category"),
                    codes,
                    format_func=cat_label,
                    index=codes.index(a.category) if a.category in codes else 0,
                    key=f"annotate_edit_cat_{a.id}_{seen}",
                )
                text = st.text_area(
                    t("annotate.text"),
                    value=a.text,
                    help=TEXT_HELP,
                    key=f"annotate_edit_text_{a.id}_{seen}",
                )
                save = st.form_submit_button(t("common.save"), type="primary")
            if save:
                try:
                    s.update_annotation(
                        a.id,
                        name=me or "—",
                        expected_version=seen,
                        text=text,
                        category=category,
                        by=actor,
                    )
                    st.session_state.pop(seen_key, None)
                    flash("success", t("annotate.updated"))
                    st.rerun()
                except ConflictError as exc:
                    show_error(exc)
                    if isinstance(exc.current, Annotation):  # the note as it is now
                        st.caption(t("annotate.current_text"))
                        plain(exc.current.text)
                except WorkbenchError as exc:
                    show_error(exc)
            if seen != a.version and st.button(
                t("annotate.reload_current"), key=f"annotate_reload_{a.id}"
            ):
                st.session_state.pop(seen_key, None)
                st.rerun()
            if st.button(
                t("annotate.redraw"), key=f"annotate_redraw_{a.id}", help=t("annotate.redraw_help")
            ):
                drawing.start_redraw(st.session_state, a.id)
                flash("info", t("annotate.redraw_now"))
                st.rerun()

        with st.expander(t("annotate.comments", count=len(s.list_comments(a.id)))):
            for c in s.list_comments(a.id):
                st.caption(md_escape(f"{c.author} · {fmt_datetime(c.created_at)}"))
                plain(c.text)
            id_key = f"annotate_comment_id_{a.id}"
            st.session_state.setdefault(id_key, new_id())
            with st.form(f"annotate_comment_form_{a.id}", clear_on_submit=True):
                body = st.text_area(
                    t("annotate.comment"), help=TEXT_HELP, key=f"annotate_comment_text_{a.id}"
                )
                send = st.form_submit_button(t("annotate.comment_send"))
            if send:
                try:
                    s.add_comment(
                        Comment(
                            id=st.session_state[id_key], annotation_id=a.id, author=me, text=body
                        ),
                        by=actor,
                    )
                    st.session_state[id_key] = new_id()
                    st.rerun()
                except WorkbenchError as exc:
                    show_error(exc)

        with st.expander(t("annotate.history")):
            for h in s.annotation_history(a.id):
                what = ", ".join(t(f"annotate.field.{k}") for k in h.data.get("changed", {}))
                line = t(f"annotate.action.{h.action}", actor=h.actor, time=fmt_datetime(h.at))
                st.caption(md_escape(line + (f" ({what})" if what else "")))


def add_without_map() -> None:
    """The accessible path: an annotation for the whole site or a point by coordinates."""
    with st.expander(t("annotate.add_without_map")):
        with st.form("annotate_add_form"):
            where = st.radio(
                t("annotate.where"),
                ["site", "point"],
                format_func=lambda v: i18n.t(f"annotate.where_{v}", LANG),
                horizontal=True,
            )
            c = lab.boundary.representative_point()
            c1, c2 = st.columns(2)
            lat = c1.number_input(
                t("annotate.lat"),
                -90.0,
                90.0,
                value=round(c.y, MAP_COORD_DECIMALS),
                format=COORD_FORMAT,
            )
            lon = c2.number_input(
                t("annotate.lon"),
                -180.0,
                180.0,
                value=round(c.x, MAP_COORD_DECIMALS),
                format=COORD_FORMAT,
            )
            category = st.selectbox(t("annotate.category"), codes, format_func=cat_label)
            text = st.text_area(t("annotate.text"), help=TEXT_HELP)
            group = st.text_input(
                t("annotate.author"), value=st.session_state[AUTHOR_KEY], max_chars=MAX_NAME_CHARS
            )
            st.session_state.setdefault("annotate_add_id", new_id())
            if st.form_submit_button(t("common.save"), type="primary"):
                geometry = lab.boundary if where == "site" else Point(lon, lat)
                try:
                    s.add_annotation(
                        Annotation(
                            id=st.session_state["annotate_add_id"],
                            lab_id=lab.id,
                            geometry=geometry,
                            category=category,
                            text=text,
                            author=group,
                            lang=LANG,
                        ),
                        by=actor,
                    )
                    st.session_state[AUTHOR_KEY] = " ".join(group.split())
                    st.session_state["annotate_add_id"] = new_id()
                    flash("success", t("annotate.saved"))
                    st.rerun()
                except WorkbenchError as exc:
                    show_error(exc)


def facilitator_tools() -> None:
    if actor is not None and not actor.can_moderate:
        return
    with st.expander(t("annotate.facilitator")):
        limit = st.number_input(
            t("annotate.vote_limit"),
            MIN_VOTE_LIMIT,
            MAX_VOTE_LIMIT,
            value=s.vote_limit(lab.id),
            step=1,
            key="annotate_vote_limit",
        )
        c1, c2 = st.columns(2)
        try:
            if c1.button(t("annotate.vote_limit_set"), key="annotate_vote_limit_set"):
                s.set_vote_limit(lab.id, int(limit), by=actor)
                st.rerun()
            if c2.button(
                t("annotate.new_round", round=s.vote_round(lab.id) + 1), key="annotate_new_round"
            ):
                s.start_vote_round(lab.id, by=actor)
                st.rerun()
        except WorkbenchError as exc:
            show_error(exc)
        st.markdown("**" + t("annotate.own_categories") + "**")
        with st.form("annotate_category_form", clear_on_submit=True):
            code = st.text_input(t("annotate.category_code"), help=t("annotate.category_code_help"))
            cols = st.columns(3)
            labels = {
                lg: cols[i].text_input(t(f"annotate.category_label_{lg}"))
                for i, lg in enumerate(("en", "de", "uk"))
            }
            colour = st.color_picker(t("annotate.category_colour"), NEW_CATEGORY_COLOUR)
            if st.form_submit_button(t("common.save")):
                try:
                    s.save_category(
                        Category(code=code.strip().lower(), colour=colour, labels=labels), by=actor
                    )
                    st.rerun()
                except WorkbenchError as exc:
                    show_error(exc)


def annotation_list(everyone: list[Annotation]) -> None:
    groups = sorted({a.author for a in everyone}, key=str.casefold)
    totals = s.vote_totals(lab.id)
    all_totals = s.vote_totals(lab.id, all_rounds=True)
    vote_round = s.vote_round(lab.id)
    me = author()
    st.subheader(t("annotate.list_title", count=len(everyone)))
    if me:
        st.caption(
            md_escape(
                t(
                    "annotate.votes_status",
                    name=me,
                    left=s.votes_left(lab.id, me),
                    limit=s.vote_limit(lab.id),
                    round=s.vote_round(lab.id),
                )
            )
        )
    undo = st.session_state.get(UNDO_KEY)
    if undo:
        u1, u2 = st.columns([3, 1])
        u1.info(t("annotate.deleted") + " " + t("annotate.deleted_later"), icon="🗑️")
        if u2.button(t("annotate.undo"), key="annotate_undo_button", type="primary"):
            try:
                s.restore_annotation(undo, name=me or "—", by=actor)
                st.session_state[SELECTED_KEY] = undo
            except WorkbenchError as exc:
                flash("info", error_text(exc))
            st.session_state.pop(UNDO_KEY, None)
            st.rerun()
    if allowed(actor, "annotation.add", phase):
        add_without_map()
    f1, f2 = st.columns(2)
    chosen_cats = f1.multiselect(
        t("annotate.filter_category"),
        codes,
        format_func=cat_label,
        key=FILTER_KEYS[0],
        placeholder=t("common.choose_options"),
    )
    chosen_groups = f2.multiselect(
        t("annotate.filter_group"),
        groups,
        key=FILTER_KEYS[1],
        placeholder=t("common.choose_options"),
    )
    search = st.text_input(t("annotate.filter_text"), key=FILTER_KEYS[2])
    shown = s.list_annotations(lab.id, categories=chosen_cats, authors=chosen_groups, search=search)
    selected = st.session_state.get(SELECTED_KEY)
    current = next((a for a in everyone if a.id == selected), None)
    if current is not None:
        detail(current, totals, all_totals)
    if not shown:
        st.caption(t("annotate.none"))
    pages = max(1, -(-len(shown) // PAGE_SIZE))
    page = (
        st.number_input(t("annotate.page", pages=pages), 1, pages, 1, key="annotate_page")
        if pages > 1
        else 1
    )
    for a in list(reversed(shown))[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]:
        row = st.container(border=True)
        with row:  # the button below the text: its label is never cut off, in any language
            st.markdown(
                f"**{md_escape(cat_label(a.category))}** · "
                f"{md_escape(a.author)} · ● "
                + md_escape(
                    maps.vote_counts_text(
                        totals.get(a.id, 0), all_totals.get(a.id, 0), vote_round, LANG
                    )
                )
            )
            plain(a.text if len(a.text) <= 200 else a.text[:199] + "…", caption=True)
        if row.button(
            t("annotate.show") if a.id != selected else t("annotate.shown"),
            key=f"annotate_pick_{a.id}",
            disabled=a.id == selected,
        ):
            st.session_state[SELECTED_KEY] = a.id
            st.session_state[SHOW_ON_MAP_KEY] = f"{a.id}:{new_id()}"
            st.session_state.pop(f"annotate_seen_{a.id}", None)
            st.rerun()
    # what this person may restore, from any browser or session (their group's notes; all for
    # facilitators): Undo above is only the newest delete of this tab
    deleted = s.list_deleted_annotations(lab.id, restorable_by=actor)
    with st.expander(t("annotate.deleted_list", count=len(deleted))):
        if not deleted:
            st.caption(t("annotate.deleted_none"))
        for a in deleted:
            d1, d2 = st.columns([4, 1])
            with d1:
                st.markdown(f"**{md_escape(cat_label(a.category))}** · {md_escape(a.author)}")
                plain(a.text[:200], caption=True)
                st.caption(
                    md_escape(
                        t(
                            "annotate.deleted_meta",
                            who=a.updated_by or "—",
                            time=fmt_datetime(a.deleted_at),
                        )
                    )
                )
            if d2.button(
                t("annotate.restore"),
                key=f"annotate_restore_{a.id}",
                disabled=not allowed(actor, "annotation.restore", phase, a.author),
            ):
                try:
                    s.restore_annotation(a.id, name=me or "—", by=actor)
                    st.rerun()
                except WorkbenchError as exc:
                    show_error(exc)
    facilitator_tools()


@st.fragment
def list_view() -> None:
    """The list beside the map, with the page's live channel: when others change notes (or the
    round), the channel reruns this fragment (not while someone types here), and the whole page
    when the round changed what this tab may do."""
    if allowed(actor, "annotation.add", s.phase(lab.id)) != CAN_DRAW:
        st.rerun(scope="app")  # the facilitator changed the round: Draw and the forms follow
    live_channel(
        s,
        lab.id,
        actor,
        page="map",
        colour_by=st.session_state[COLOUR_BY_KEY],
        selected=st.session_state.get(SELECTED_KEY),
    )
    everyone = s.list_annotations(lab.id)
    html_block(
        maps.legend_html(
            maps.annotation_legend(
                everyone,
                st.session_state[COLOUR_BY_KEY],
                LANG,
                categories,
                [a.author for a in everyone],
            ),
            t("annotate.legend"),
        )
    )
    annotation_list(everyone)


map_col, list_col = st.columns([3, 2], gap="medium")
with map_col:
    redraw_notice = st.container()  # always there, so that the map keeps its place
    if drawing.redraw_id(st.session_state):
        redraw_notice.info(t("annotate.redraw_now"), icon="✏️")
    st.html(PHONE_MAP_CSS)
    # the keyboard's way past the map (Tab would go through its controls first)
    skip_link(t("annotate.skip_map"), ".st-key-annotate_list_box")
    with st.container(key="annotate_map_box"):
        the_map()
    pending_form()
with list_col, st.container(key="annotate_list_box"):
    list_view()
