"""Set-up: create and edit networks, cities and living labs (with their site boundary).

Only owners and facilitators change the set-up (``setup.edit``): the store refuses anyone else
whatever the page shows. Others see a read-only notice; Save stays enabled so that pressing it
shows the store's translated refusal (Streamlit drops clicks on disabled buttons silently)."""

from collections.abc import Mapping
from dataclasses import replace
from typing import Any, TypedDict

import streamlit as st
from folium.plugins import Draw
from shapely.geometry import Polygon, shape

from workbench.errors import ValidationError, WorkbenchError
from workbench.geometry import boundary_from_geojson, validate_boundary
from workbench.hosting import create_workspace, open_setup
from workbench.i18n import has_key
from workbench.maps import WorldOutline, base_map, fit_to, site_layer
from workbench.model import (
    LAB_STATUSES,
    PRINCIPLES,
    SDG_TARGETS,
    City,
    LivingLab,
    Network,
    new_id,
)
from workbench.settings import MAX_NAME_CHARS, MAX_TEXT_CHARS, MAX_WORKSPACE_NAME_CHARS
from workbench.ui import (
    WORKSPACE_KEY,
    current_lab,
    fmt_datetime,
    select_lab,
    server_host,
    show_error,
    show_map,
    store,
    t,
    t_md,
)
from workbench.ui.access import allowed, current_actor

DRAWN_KEY = "setup_drawn_boundary"
FLASH_KEY = "_setup_flash"  # a message shown once after a rerun
UNDO_KEY = "_setup_undo"  # the last delete's batch, for Undo
CONFIRM_KEY = "_setup_confirm"  # (kind, id) whose deletion waits for a confirmation

s = store()
networks = {n.id: n for n in s.list_networks()}
cities = {c.id: c for c in s.list_cities()}

st.title(t("setup.title"))
_chosen = current_lab()
actor = current_actor(s, _chosen.id if _chosen else None)
can_edit = allowed(actor, "setup.edit", ("open", False))
if not can_edit:
    st.info(t("guard.read_only.setup"), icon="🔒")
# choices made by the previous run for widgets drawn below (a widget's value can only be set
# before it is drawn)
for _key, _value in st.session_state.pop("_setup_pending", {}).items():
    st.session_state[_key] = _value
if FLASH_KEY in st.session_state:  # removed at the end of the page: a run interrupted by a
    st.success(st.session_state[FLASH_KEY], icon="✅")  # second click shows it again


def restore(deleted: Mapping[str, Any]) -> None:
    """Bring back one soft delete (the Undo, or an entry of "Deleted set-up")."""
    try:
        s.restore_trash(deleted["batch"], by=actor)
        st.session_state.pop(UNDO_KEY, None)
        st.session_state[FLASH_KEY] = t_md(
            "setup.delete.restored", names=", ".join(deleted["names"])
        )
        st.rerun()
    except WorkbenchError as exc:
        show_error(exc)


undo = st.session_state.get(UNDO_KEY)
if undo:
    u1, u2 = st.columns([3, 1])
    u1.info(t_md("setup.delete.done", names=", ".join(undo["names"])), icon="🗑️")
    if u2.button(t("setup.delete.undo"), key="setup_undo", type="primary"):
        restore(undo)


def form_id(kind: str, new: bool) -> str:
    """The id a NEW record of this form gets: made when the form opens empty and kept until
    it is saved, so that saving twice (a double click, a retry) stores one record."""
    key = f"_setup_form_id_{kind}"
    if not new:
        st.session_state.pop(key, None)
        return ""
    return st.session_state.setdefault(key, new_id())


def after_new_save(kind: str, picker_key: str | None, record_id: str, name: str) -> None:
    """A new record was saved: the form now edits it (a later Save changes it, never adds a
    second one) and says so after the rerun."""
    st.session_state.pop(f"_setup_form_id_{kind}", None)
    pending = st.session_state.setdefault("_setup_pending", {})
    pending[picker_key or "setup_mode"] = record_id if picker_key else "edit"
    st.session_state[FLASH_KEY] = t_md("setup.saved", title=name)
    st.rerun()


def delete_section(kind: str, record_id: str, name: str) -> None:
    """Delete (soft, for owners): a button, then a confirmation that names what goes with it."""
    if not allowed(actor, "workspace.admin", ("open", False)):
        return
    if st.session_state.get(CONFIRM_KEY) != (kind, record_id):
        if st.button(t(f"setup.delete.{kind}"), key=f"setup_delete_{kind}_{record_id}"):
            st.session_state[CONFIRM_KEY] = (kind, record_id)
            st.rerun()
        return
    goes = s.trash_contents(kind, record_id)
    parts = [t_md(f"setup.delete.confirm_{kind}", name=name)]
    if kind != "lab" and goes["labs"]:
        parts.append(
            t_md("setup.delete.with_labs", count=len(goes["labs"]), names=", ".join(goes["labs"]))
        )
    if kind == "network" and goes["cities"]:
        parts.append(
            t_md(
                "setup.delete.with_cities",
                count=len(goes["cities"]),
                names=", ".join(goes["cities"]),
            )
        )
    parts.append(
        t(
            "setup.delete.with_content",
            notes=goes["notes"],
            layers=goes["layers"],
            snapshots=goes["snapshots"],
        )
    )
    parts.append(t("setup.delete.undo_hint"))
    with st.container(border=True):
        st.warning("  \n".join(parts), icon="⚠️")
        c = st.container(horizontal=True, wrap=True)
        if c.button(t("setup.delete.yes"), key=f"setup_delete_yes_{kind}", type="primary"):
            try:
                batch = s.trash(kind, record_id, by=actor)
                st.session_state.pop(CONFIRM_KEY, None)
                names = goes["networks"] + goes["cities"] + goes["labs"]
                st.session_state[UNDO_KEY] = {"batch": batch, "names": names}
                if st.session_state.get("lab_id") in goes["lab_ids"]:
                    select_lab(None)
                st.rerun()
            except WorkbenchError as exc:
                show_error(exc)
        if c.button(t("common.cancel"), key=f"setup_delete_no_{kind}"):
            st.session_state.pop(CONFIRM_KEY, None)
            st.rerun()


tab_lab, tab_city, tab_network = st.tabs(
    [t("setup.tab_lab"), t("setup.tab_city"), t("setup.tab_network")]
)


def boundary_map(lab: LivingLab | None, city: City | None) -> dict | None:
    """A map to draw the site boundary on; returns the last drawn GeoJSON geometry."""
    if lab is not None:
        m = base_map()
        site_layer(lab, t("map.site")).add_to(m)
        fit_to(m, lab.boundary)
    elif city is not None:
        m = base_map(center=(city.lat, city.lon), zoom=14)
    else:
        m = base_map()
    WorldOutline().add_to(m)  # a venue without internet: countries instead of grey
    Draw(
        export=False,
        draw_options={
            "polyline": False,
            "circle": False,
            "marker": False,
            "circlemarker": False,
            "polygon": {"allowIntersection": False},
            "rectangle": True,
        },
        edit_options={"edit": False, "remove": False},
    ).add_to(m)
    key = f"setup_map_{lab.id if lab else 'new'}"
    out = show_map(
        m, key=key, height=420, use_container_width=True, returned_objects=["last_active_drawing"]
    )
    # st_folium mirrors its last value into session_state[key]; read either.
    drawing = (out or {}).get("last_active_drawing") or (st.session_state.get(key) or {}).get(
        "last_active_drawing"
    )
    return drawing.get("geometry") if drawing else None


def shown_version(kind: str, record) -> int | None:  # type: ignore[no-untyped-def]
    """The version of ``record`` that the previous run showed, i.e. the one the person edited
    when they press Save now (the store refuses a save over a newer one: a conflict, shown
    translated); remembers the version shown now. None for a new record."""
    if record is None:
        return None
    key = f"setup_version_{kind}"
    before = st.session_state.get(key)
    st.session_state[key] = (record.id, record.version)
    return before[1] if before and before[0] == record.id else record.version


def saved_version(kind: str, record) -> None:  # type: ignore[no-untyped-def]
    """After a save, the form shows (and the next save starts from) the saved version."""
    st.session_state[f"setup_version_{kind}"] = (record.id, record.version)


def sdg_label(code: str) -> str:
    return f"{code} {t(f'sdg.{code}')}" if has_key(f"sdg.{code}") else code


class LabFields(TypedDict):
    """What the lab form sets of a living lab (a new one's id and an edited one's times and
    version come from elsewhere)."""

    city_id: str
    network_id: str
    title: str
    summary: str
    themes: tuple[str, ...]
    principles: tuple[str, ...]
    sdg_targets: tuple[str, ...]
    status: str
    illustrative: bool
    boundary: Polygon


# ---- living lab ---------------------------------------------------------------------------
with tab_lab:
    chosen = current_lab()
    modes = ["edit", "new"] if chosen else ["new"]
    mode = st.radio(
        t("setup.mode"),
        modes,
        horizontal=True,
        format_func=lambda m: t(f"setup.mode_{m}"),
        key="setup_mode",
    )
    lab = chosen if mode == "edit" else None
    lab_seen = shown_version("lab", lab)
    new_lab_id = form_id("lab", lab is None)
    if not networks:
        st.info(t("setup.need_network"))
    else:
        net_ids = sorted(networks, key=lambda i: networks[i].name)
        network_id = st.selectbox(
            t("setup.network"),
            net_ids,
            index=net_ids.index(lab.network_id) if lab else 0,
            format_func=lambda i: networks[i].name,
            key=f"lab_network_{mode}",
        )
        city_ids = sorted(
            (c.id for c in cities.values() if network_id in c.network_ids),
            key=lambda i: cities[i].name,
        )
        if not city_ids:
            st.info(t("setup.need_city"))
        else:
            city_id = st.selectbox(
                t("setup.city"),
                city_ids,
                index=city_ids.index(lab.city_id) if lab and lab.city_id in city_ids else 0,
                format_func=lambda i: f"{cities[i].name} ({cities[i].country})",
                key=f"lab_city_{mode}",
            )
            st.markdown("**" + t("setup.boundary") + "**")
            st.caption(t("setup.boundary_help"))
            drawn = boundary_map(lab, cities[city_id])
            upload = st.file_uploader(
                t("setup.boundary_upload"), type=["geojson", "json"], key=f"boundary_upload_{mode}"
            )
            with st.form(f"lab_form_{mode}"):
                title = st.text_input(
                    t("setup.lab_title"), value=lab.title if lab else "", max_chars=MAX_NAME_CHARS
                )
                summary = st.text_area(
                    t("setup.summary"), value=lab.summary if lab else "", max_chars=MAX_TEXT_CHARS
                )
                themes = st.text_input(
                    t("setup.themes"),
                    value=", ".join(lab.themes) if lab else "",
                    help=t("setup.themes_help"),
                )
                principles = st.multiselect(
                    t("setup.principles"),
                    PRINCIPLES,
                    default=list(lab.principles) if lab else [],
                    format_func=lambda p: t(f"principle.{p}"),
                    placeholder=t("common.choose_options"),
                )
                sdgs = st.multiselect(
                    t("setup.sdg"),
                    SDG_TARGETS,
                    default=list(lab.sdg_targets) if lab else [],
                    format_func=sdg_label,
                    placeholder=t("common.choose_options"),
                )
                status = st.selectbox(
                    t("setup.status"),
                    LAB_STATUSES,
                    index=LAB_STATUSES.index(lab.status) if lab else 0,
                    format_func=lambda v: t(f"status.{v}"),
                )
                illustrative = st.checkbox(
                    t("setup.illustrative"), value=lab.illustrative if lab else False
                )
                submitted = st.form_submit_button(t("common.save"), type="primary")
            if submitted:
                try:
                    if upload is not None:
                        boundary = boundary_from_geojson(upload.getvalue())
                    elif drawn is not None:
                        boundary = shape(drawn)
                    elif lab is not None:
                        boundary = lab.boundary
                    else:
                        raise ValidationError("boundary.missing")
                    lab_city = cities[city_id]
                    values = LabFields(
                        city_id=city_id,
                        network_id=network_id,
                        title=title,
                        summary=summary,
                        themes=tuple(x.strip() for x in themes.split(",") if x.strip()),
                        principles=tuple(principles),
                        sdg_targets=tuple(sdgs),
                        status=status,
                        illustrative=illustrative,
                        boundary=validate_boundary(boundary, lab_city.lon, lab_city.lat),
                    )
                    if lab is None:
                        saved = s.add_lab(LivingLab(id=new_lab_id, **values), by=actor)
                        select_lab(saved.id)
                        after_new_save("lab", None, saved.id, saved.title)
                    else:
                        saved = s.update_lab(
                            replace(lab, **values), by=actor, expected_version=lab_seen
                        )
                        saved_version("lab", saved)
                    st.success(t_md("setup.saved", title=saved.title), icon="✅")
                except WorkbenchError as exc:
                    show_error(exc)
    if lab is not None:
        delete_section("lab", lab.id, lab.title)

# ---- city -----------------------------------------------------------------------------------
with tab_city:
    city_options = [None, *sorted(cities, key=lambda i: cities[i].name)]
    edit_city_id = st.selectbox(
        t("setup.city_pick"),
        city_options,
        format_func=lambda i: (
            f"{cities[i].name} ({cities[i].country})" if i else t("setup.city_new")
        ),
        key="setup_city_pick",
    )
    city = cities.get(edit_city_id) if edit_city_id else None
    city_seen = shown_version("city", city)
    new_city_id = form_id("city", city is None)
    with st.form("city_form"):
        name = st.text_input(t("setup.city_name"), value=city.name if city else "")
        country = st.text_input(
            t("setup.country"),
            value=city.country if city else "",
            max_chars=2,
            help=t("setup.country_help"),
        )
        c1, c2 = st.columns(2)
        lat = c1.number_input(
            t("setup.lat"), -90.0, 90.0, value=city.lat if city else 0.0, format="%.5f"
        )
        lon = c2.number_input(
            t("setup.lon"), -180.0, 180.0, value=city.lon if city else 0.0, format="%.5f"
        )
        member_of = st.multiselect(
            t("setup.city_networks"),
            sorted(networks, key=lambda i: networks[i].name),
            default=list(city.network_ids) if city else [],
            format_func=lambda i: networks[i].name,
            placeholder=t("common.choose_options"),
        )
        if st.form_submit_button(t("common.save"), type="primary"):
            try:
                city_record = City(
                    id=city.id if city else new_city_id,
                    name=name,
                    country=country,
                    lon=lon,
                    lat=lat,
                    network_ids=tuple(member_of),
                )
                saved_city = (
                    s.update_city(city_record, by=actor, expected_version=city_seen)
                    if city
                    else s.add_city(city_record, by=actor)
                )
                saved_version("city", saved_city)
                if city is None:
                    after_new_save("city", "setup_city_pick", saved_city.id, saved_city.name)
                st.success(t_md("setup.saved", title=saved_city.name), icon="✅")
            except WorkbenchError as exc:
                show_error(exc)
    if city is not None:
        delete_section("city", city.id, city.name)

# ---- network --------------------------------------------------------------------------------
with tab_network:
    net_options = [None, *sorted(networks, key=lambda i: networks[i].name)]
    edit_net_id = st.selectbox(
        t("setup.network_pick"),
        net_options,
        format_func=lambda i: networks[i].name if i else t("setup.network_new"),
        key="setup_network_pick",
    )
    network = networks.get(edit_net_id) if edit_net_id else None
    network_seen = shown_version("network", network)
    new_network_id = form_id("network", network is None)
    with st.form("network_form"):
        name = st.text_input(t("setup.network_name"), value=network.name if network else "")
        countries = st.text_input(
            t("setup.countries"),
            value=", ".join(network.countries) if network else "",
            help=t("setup.countries_help"),
        )
        description = st.text_area(
            t("setup.description"), value=network.description if network else ""
        )
        if st.form_submit_button(t("common.save"), type="primary"):
            try:
                net_record = Network(
                    id=network.id if network else new_network_id,
                    name=name,
                    countries=tuple(c.strip() for c in countries.split(",") if c.strip()),
                    description=description,
                )
                saved_net = (
                    s.update_network(net_record, by=actor, expected_version=network_seen)
                    if network
                    else s.add_network(net_record, by=actor)
                )
                saved_version("network", saved_net)
                if network is None:
                    after_new_save("network", "setup_network_pick", saved_net.id, saved_net.name)
                st.success(t_md("setup.saved", title=saved_net.name), icon="✅")
            except WorkbenchError as exc:
                show_error(exc)
    if network is not None:
        delete_section("network", network.id, network.name)

# ---- what was deleted, to restore (owners, from any session) --------------------------------
trash = s.list_trash() if allowed(actor, "workspace.admin", ("open", False)) else []
if trash:
    with st.expander(t("setup.delete.trash", count=len(trash))):
        for entry in trash:
            r1, r2 = st.columns([4, 1])
            r1.caption(
                t_md(
                    "setup.delete.trash_entry",
                    names=", ".join(entry["names"]),
                    time=fmt_datetime(entry["at"]),
                    who=entry["by"] or "—",
                )
            )
            if r2.button(t("setup.delete.restore"), key=f"setup_restore_{entry['batch']}"):
                restore(entry)

# ---- a new workspace (for the operator: open set-up or the set-up token) --------------------
with st.expander(t("hosting.new_workspace")):
    need_token = not open_setup(server_host())
    st.caption(
        t("hosting.new_workspace_help_token" if need_token else "hosting.new_workspace_help_open")
    )
    with st.form("workspace_new_form"):
        ws_name = st.text_input(
            t("hosting.workspace_name"),
            max_chars=MAX_WORKSPACE_NAME_CHARS,
            help=t("hosting.workspace_name_help"),
            key="workspace_new_name",
        )
        ws_code = st.text_input(
            t("workshop.passcode_new"), type="password", key="workspace_new_passcode"
        )
        ws_token = (
            st.text_input(t("hosting.token"), type="password", key="workspace_new_token")
            if need_token
            else None
        )
        if st.form_submit_button(t("hosting.create"), type="primary"):
            try:
                create_workspace(ws_name, ws_code, ws_token, server_host()).close()
                st.session_state[WORKSPACE_KEY] = ws_name.strip()
                st.query_params["ws"] = ws_name.strip()
                select_lab(None)
                st.rerun()
            except WorkbenchError as exc:
                show_error(exc)

st.session_state.pop(FLASH_KEY, None)  # shown by a run that came to its end
