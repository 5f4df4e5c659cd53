"""Data layers: OSM themes (fetch, refresh, import an extract), the city's own files, basemaps
and WMS, previewed on the living lab's map.

Changing the layers is for owners and facilitators (``layers.edit``). Uploads and their removal
are judged by the store; the OSM cache is files outside the store, so before fetching or
importing the page asks the store's judge (``store.require_permission``). Buttons are disabled
for everyone else as a courtesy only."""

import tempfile
from pathlib import Path

import folium
import streamlit as st

from workbench.errors import ValidationError, WorkbenchError
from workbench.maps import context_map, wms_layer
from workbench.mapview import (
    MapSettings,
    WmsOverlay,
    context_legend_html,
    lab_layers,
    layer_group,
    map_settings,
    next_upload_colour,
    save_map_settings,
)
from workbench.model import SOURCE_THEMES
from workbench.opendata import cache
from workbench.opendata.basemaps import BASEMAPS, validate_wms
from workbench.opendata.files import (
    UPLOAD_TYPES,
    delete_upload,
    list_layers,
    read_user_file,
    save_upload,
)
from workbench.opendata.osm import (
    EmptyFetch,
    EmptyImport,
    ImportReport,
    fetch_themes,
    import_extract,
)
from workbench.opendata.themes import THEMES
from workbench.opendata.wms import wms_layers
from workbench.settings import (
    DEFAULT_BUFFER_M,
    MAX_BUFFER_M,
    MAX_WMS,
    WMS_CAPABILITIES_MAX_BYTES,
    WMS_CAPABILITIES_TIMEOUT_S,
)
from workbench.ui import (
    fmt_datetime,
    fmt_number,
    html_block,
    lang,
    md_escape,
    plain,
    require_lab,
    show_error,
    show_map,
    store,
    t,
    t_md,
)
from workbench.ui.access import allowed, current_actor

THEMES_KEY = "layers_themes"
WMS_KEY = "layers_wms"
MAP_KEY = "layers_map"
EMPTY_KEY = "layers_empty_fetch"
CONFIRM_KEY = "layers_empty_confirmed"
IMPORT_EMPTY_KEY = "layers_empty_import"
IMPORT_CONFIRM_KEY = "layers_empty_import_confirmed"
SETTINGS_LAB_KEY = "layers_settings_lab"  # the lab whose saved map settings the widgets show
WMS_CAPS_KEY = "layers_wms_caps"  # (url, [(name, label)]) the service offered
SAVED_FLASH_KEY = "layers_map_saved"

lab = require_lab()
s = store()
actor = current_actor(s, lab.id)
can_edit = allowed(actor, "layers.edit", s.phase(lab.id))
st.title(t("opendata.page.title"))
st.caption(t("opendata.page.intro"))
if not can_edit:
    st.info(t("guard.read_only.layers"), icon="🔒")


def theme_label(code: str) -> str:
    meta = cache.theme_meta(s, lab.id, code)
    label = t(THEMES[code].label_key)
    if meta is None:
        return label
    return t("opendata.page.theme_cached", theme=label, count=meta["feature_count"])


def show_report(report: ImportReport) -> None:
    st.success(
        t(
            "opendata.page.report",
            total=report.total,
            themes=len(report.counts),
            seconds=report.elapsed_s,
        ),
        icon="✅",
    )
    if report.skipped_ways or report.skipped_relations:
        st.info(
            t(
                "opendata.page.skipped",
                ways=report.skipped_ways,
                relations=report.skipped_relations,
            ),
            icon="ℹ️",
        )
    st.caption(
        t(
            "comparison.page.report_date",
            date=(report.data_date or "")[:10] or t("comparison.date_unknown"),
            source=t(f"comparison.date_source.{report.data_date_source}"),
            share=100 * (report.covered_share if report.covered_share is not None else 1),
        )
    )


def progress_bar():  # type: ignore[no-untyped-def]
    bar = st.progress(0.0, text=t("opendata.stage.read"))

    def update(fraction: float, stage: str) -> None:
        bar.progress(fraction, text=t(f"opendata.stage.{stage}"))

    return update


# The basemap, WMS layers and opacities start from what the lab saved (once per lab and
# session); changes are a preview until "Save for the living lab".
map_saved = map_settings(s, lab.id)
if st.session_state.get(SETTINGS_LAB_KEY) != lab.id:
    st.session_state[SETTINGS_LAB_KEY] = lab.id
    st.session_state["layers_basemap"] = map_saved.basemap
    st.session_state[WMS_KEY] = [(w.url, w.layer, w.opacity) for w in map_saved.wms]
    st.session_state.pop(WMS_CAPS_KEY, None)
    for key in [k for k in st.session_state if str(k).startswith("layers_opacity_")]:
        del st.session_state[key]

controls, preview = st.columns([2, 3], gap="large")

with controls:
    # ---- OSM themes -----------------------------------------------------------------------
    st.subheader(t("opendata.page.osm"))
    cached = cache.cached_themes(s, lab.id)
    if THEMES_KEY not in st.session_state:
        st.session_state[THEMES_KEY] = cached or ["buildings", "green", "streets"]
    chosen = st.multiselect(
        t("opendata.page.themes"),
        list(THEMES),
        key=THEMES_KEY,
        format_func=theme_label,
        placeholder=t("common.choose_options"),
    )
    buffer_m = st.number_input(
        t("opendata.page.buffer"),
        min_value=0,
        max_value=MAX_BUFFER_M,
        value=DEFAULT_BUFFER_M,
        step=100,
        key="layers_buffer",
    )
    if cached:
        metas = [cache.theme_meta(s, lab.id, c) for c in cached]
        newest = max(m["fetched_at"] for m in metas if m)
        sources = sorted({m["source"] for m in metas if m})
        st.caption(
            t("opendata.page.cache_state", when=fmt_datetime(newest), sources=", ".join(sources))
        )
    else:
        st.caption(t("opendata.page.nothing_cached"))
    fetch_now = st.button(
        t("opendata.page.fetch"),
        type="primary",
        disabled=not chosen or not can_edit,
        key="layers_fetch",
        help=t("opendata.page.fetch_help"),
    )
    replace_empty = bool(st.session_state.pop(CONFIRM_KEY, None))  # set by the button below
    emptied = st.session_state.get(EMPTY_KEY)  # themes an empty reply would have emptied
    if emptied and not (fetch_now or replace_empty):
        st.warning(
            t(
                "fetch_safety.page.empty_warning",
                themes=", ".join(t(THEMES[c].label_key) for c in emptied),
            ),
            icon="⚠️",
        )
        st.button(
            t("fetch_safety.page.replace_empty"),
            key="layers_fetch_empty",
            disabled=not can_edit,
            help=t("fetch_safety.page.replace_empty_help"),
            on_click=lambda: st.session_state.update({CONFIRM_KEY: True}),
        )
    if fetch_now or replace_empty:
        st.session_state.pop(EMPTY_KEY, None)
        try:
            with st.spinner(t("opendata.stage.download")):
                show_report(
                    fetch_themes(
                        s,
                        lab,
                        chosen,
                        buffer_m=float(buffer_m),
                        progress=progress_bar(),
                        allow_empty=replace_empty,
                        by=actor,
                    )
                )
        except EmptyFetch as exc:  # nothing replaced; ask before emptying cached themes
            st.session_state[EMPTY_KEY] = exc.themes
            st.rerun()
        except WorkbenchError as exc:
            show_error(exc)
            if cached:
                st.info(t("opendata.page.kept_cache"), icon="💾")

    with st.expander(t("opendata.page.import")):
        st.caption(t("opendata.page.import_help"))
        extract = st.file_uploader(
            t("opendata.page.import_file"),
            type=["osm", "pbf", "gz", "bz2", "xml"],
            key="layers_extract",
        )
        import_now = st.button(
            t("opendata.page.import_go"),
            disabled=extract is None or not can_edit,
            key="layers_import",
        )
        import_empty = bool(st.session_state.pop(IMPORT_CONFIRM_KEY, None)) and extract is not None
        refused = st.session_state.get(IMPORT_EMPTY_KEY)  # (file name, themes) last refused
        if refused and not (import_now or import_empty):
            st.warning(
                t(
                    "comparison.import_empty",
                    name=refused[0],
                    themes=", ".join(t(THEMES[c].label_key) for c in refused[1]),
                ),
                icon="⚠️",
            )
            st.button(
                t("fetch_safety.page.replace_empty"),
                key="layers_import_empty",
                disabled=not can_edit or extract is None,
                on_click=lambda: st.session_state.update({IMPORT_CONFIRM_KEY: True}),
            )
        if extract is not None and (import_now or import_empty):  # both need a file
            st.session_state.pop(IMPORT_EMPTY_KEY, None)
            try:
                s.require_permission(actor, "layers.edit", lab.id)  # before taking the file
                with tempfile.TemporaryDirectory(prefix="wb-extract-") as tmp:
                    path = Path(tmp) / Path(extract.name).name
                    path.write_bytes(extract.getvalue())
                    show_report(
                        import_extract(
                            s,
                            path,
                            lab,
                            buffer_m=float(buffer_m),
                            themes=chosen or None,
                            progress=progress_bar(),
                            allow_empty=import_empty,
                            by=actor,
                        )
                    )
            except EmptyImport as exc:  # nothing replaced; ask before emptying cached themes
                st.session_state[IMPORT_EMPTY_KEY] = (extract.name, exc.themes)
                st.rerun()
            except WorkbenchError as exc:
                show_error(exc)
    earlier = [c for c in cached if cache.previous_meta(s, lab.id, c)]
    if earlier:
        with st.expander(t("comparison.page.earlier")):
            pick = st.selectbox(
                t("comparison.page.earlier_theme"),
                earlier,
                key="layers_restore",
                format_func=theme_label,
            )
            before = cache.previous_meta(s, lab.id, pick) or {}
            st.caption(
                t(
                    "comparison.page.earlier_state",
                    count=before.get("feature_count", 0),
                    when=fmt_datetime(before.get("fetched_at")),
                    date=(before.get("data_date") or "")[:10] or t("comparison.date_unknown"),
                )
            )
            if st.button(
                t("comparison.page.restore"), key="layers_restore_go", disabled=not can_edit
            ):
                try:
                    meta = cache.restore_theme(s, lab.id, pick, by=actor)
                    st.success(
                        t(
                            "comparison.restored",
                            theme=theme_label(pick),
                            count=meta["feature_count"],
                            date=(meta.get("data_date") or "")[:10] or t("comparison.date_unknown"),
                        )
                    )
                except WorkbenchError as exc:
                    show_error(exc)

    # ---- the city's own files ---------------------------------------------------------------
    st.subheader(t("opendata.page.uploads"))
    st.caption(t("comparison.clip_rule"))
    upload = st.file_uploader(
        t("opendata.page.upload_file"),
        type=UPLOAD_TYPES,
        key="layers_upload",
        help=t("opendata.page.upload_help"),
    )
    if upload is not None:
        data = upload.getvalue()
        layer_name = None
        try:
            names = list_layers(upload.name, data)
        except WorkbenchError as exc:
            names = []
            show_error(exc)
        if len(names) > 1:
            layer_name = st.selectbox(
                t("opendata.page.upload_layer"), names, key="layers_upload_layer"
            )
        with st.form("layers_upload_form"):
            # a file's layer keeps its own name (a GeoPackage's "baeume"), else the file's
            title = st.text_input(
                t("opendata.page.upload_name"),
                value=(
                    layer_name
                    or (
                        names[0]
                        if len(names) == 1 and upload.name.lower().endswith(".gpkg")
                        else Path(upload.name).stem
                    )
                )[:120],
            )
            colour = st.color_picker(
                t("opendata.page.upload_colour"),
                next_upload_colour(s.list_layers(lab.id, kind="upload")),
            )
            if st.form_submit_button(
                t("opendata.page.upload_go"), type="primary", disabled=not can_edit
            ):
                try:
                    user_layer = read_user_file(upload.name, data, layer=layer_name)
                    saved = save_upload(
                        s, lab.id, user_layer, name=title or None, style={"color": colour}, by=actor
                    )
                    st.success(
                        t_md(
                            "opendata.page.upload_done", name=saved.name, count=saved.feature_count
                        ),
                        icon="✅",
                    )
                    if user_layer.repaired or user_layer.dropped:
                        st.info(
                            t(
                                "opendata.page.upload_repaired",
                                repaired=user_layer.repaired,
                                dropped=user_layer.dropped,
                            ),
                            icon="🛠️",
                        )
                    if user_layer.flattened:
                        st.info(t("opendata.page.upload_flattened"), icon="ℹ️")
                except WorkbenchError as exc:
                    show_error(exc)
    uploads = s.list_layers(lab.id, kind="upload")
    for layer in uploads:
        c1, c2 = st.columns([4, 1])
        with c1:
            plain(f"{layer.name} · {fmt_number(layer.feature_count)}")
            choice = st.selectbox(
                t("comparison.page.source_for"),
                ["", *SOURCE_THEMES],
                index=(["", *SOURCE_THEMES]).index(layer.source_for or ""),
                key=f"layers_source_{layer.id}",
                disabled=not can_edit,
                help=t("comparison.page.source_help"),
                format_func=lambda c: (
                    t(f"comparison.source.{c}") if c else t("comparison.page.source_none")
                ),
            )
            if choice != (layer.source_for or ""):
                try:
                    s.set_layer_source(layer.id, choice, by=actor)
                    st.rerun()
                except WorkbenchError as exc:
                    show_error(exc)
        if c2.button(
            "🗑️",
            key=f"layers_delete_{layer.id}",
            help=t("opendata.page.delete"),
            disabled=not can_edit,
        ):
            try:
                delete_upload(s, layer, by=actor)
                st.rerun()
            except WorkbenchError as exc:
                show_error(exc)

    # ---- basemaps and WMS: saved with the living lab -----------------------------------------
    st.subheader(t("opendata.page.basemap"))
    basemap = st.selectbox(
        t("opendata.page.basemap"),
        list(BASEMAPS),
        key="layers_basemap",
        format_func=lambda c: t(BASEMAPS[c].label_key),
        label_visibility="collapsed",
    )
    with st.expander(t("opendata.page.wms"), expanded=bool(st.session_state[WMS_KEY])):
        wms_url = st.text_input(
            t("opendata.page.wms_url"), placeholder="https://…/wms", key="layers_wms_url"
        )
        offered = st.session_state.get(WMS_CAPS_KEY)
        if offered and offered[0] == wms_url:  # the service's layers, asked for below
            labels: dict[str, str] = dict(offered[1])  # name → "title (name)"
            wms_name = st.selectbox(
                t("mapview.page.wms_pick"),
                [n for n, _ in offered[1]],
                key="layers_wms_pick",
                format_func=labels.__getitem__,
            )
        else:
            wms_name = st.text_input(t("opendata.page.wms_layer"), key="layers_wms_layer")
        wms_opacity = st.slider(
            t("mapview.page.wms_opacity"), 0.1, 1.0, 0.8, 0.1, key="layers_wms_opacity"
        )
        b1 = b2 = st.container(horizontal=True, wrap=True)  # labels never cut off
        if b1.button(
            t("mapview.page.wms_fetch"),
            key="layers_wms_caps",
            help=t(
                "mapview.page.wms_fetch_help",
                seconds=WMS_CAPABILITIES_TIMEOUT_S,
                megabytes=WMS_CAPABILITIES_MAX_BYTES / 1_000_000,
            ),
            disabled=not wms_url or not can_edit,
        ):
            try:
                found = wms_layers(wms_url)
                st.session_state[WMS_CAPS_KEY] = (
                    wms_url,
                    [(x.name, f"{x.title} ({x.name})") for x in found],
                )
                st.rerun()
            except WorkbenchError as exc:
                show_error(exc)
        if b2.button(t("opendata.page.wms_add"), key="layers_wms_add", type="primary"):
            try:
                url, name = validate_wms(wms_url, wms_name or "")
                if len(st.session_state[WMS_KEY]) >= MAX_WMS:
                    raise ValidationError("mapview.error.too_many_wms", limit=MAX_WMS)
                if (url, name) not in [w[:2] for w in st.session_state[WMS_KEY]]:
                    st.session_state[WMS_KEY].append((url, name, float(wms_opacity)))
            except WorkbenchError as exc:
                show_error(exc)
        for i, (url, name, opacity) in enumerate(list(st.session_state[WMS_KEY])):
            row = st.container(border=True)
            with row:
                plain(f"{name} · {url} · {round(opacity * 100)} %", caption=True)
            if row.button(t("mapview.page.wms_remove"), key=f"layers_wms_remove_{i}"):
                st.session_state[WMS_KEY].pop(i)
                st.rerun()

with preview:
    shown = [c for c in chosen if c in cache.cached_themes(s, lab.id)]
    opacities: dict[str, float] = {}
    with st.expander(t("opendata.page.opacity")):
        for code in shown:
            opacities[code] = st.slider(
                t(THEMES[code].label_key),
                0.0,
                1.0,
                map_saved.opacities.get(code, 1.0),
                0.1,
                key=f"layers_opacity_{code}",
            )
        for layer in uploads:
            opacities[layer.id] = st.slider(
                md_escape(layer.name),
                0.0,
                1.0,
                map_saved.opacities.get(layer.id, 1.0),
                0.1,
                key=f"layers_opacity_{layer.id}",
            )
    preview_settings = MapSettings(
        basemap,
        tuple(WmsOverlay(*w) for w in st.session_state[WMS_KEY]),
        {k: v for k, v in opacities.items() if v != 1.0},
    )
    drawn, unreadable = lab_layers(s, lab.id, shown, lang(), MapSettings(opacities=opacities))
    groups = [layer_group(layer, lang()) for layer in drawn]
    for name in unreadable:  # an upload whose features cannot be read: said, not dropped
        st.warning(t("export.note.layer_missing", name=name), icon="⚠️")
    for overlay in preview_settings.wms:
        group = folium.FeatureGroup(name=f"WMS: {overlay.layer}")
        wms_layer(overlay.url, overlay.layer, overlay.layer, overlay.opacity).add_to(group)
        groups.append(group)
    m = context_map(lab, lang(), basemap, t("map.site"))
    show_map(
        m,
        key=MAP_KEY,
        height=560,
        use_container_width=True,
        returned_objects=[],
        feature_group_to_add=groups,
        layer_control=folium.LayerControl(collapsed=True),
    )
    save_bar = st.container(horizontal=True, wrap=True)
    changed = preview_settings.key() != map_saved.key()
    if save_bar.button(
        t("mapview.page.save"),
        key="layers_map_save",
        type="primary",
        disabled=not can_edit or not changed,
        help=t("mapview.page.save_help"),
    ):
        try:
            save_map_settings(s, lab.id, preview_settings, by=actor)
            st.session_state[SAVED_FLASH_KEY] = True
            st.rerun()
        except WorkbenchError as exc:
            show_error(exc)
    if st.session_state.pop(SAVED_FLASH_KEY, False):
        st.success(t("mapview.page.saved"), icon="✅")
    with save_bar:
        st.caption(
            t("mapview.page.unsaved")
            if changed
            else t(
                "mapview.page.saved_state",
                basemap=t(BASEMAPS[map_saved.basemap].label_key),
                wms=len(map_saved.wms),
            )
        )
    legend = context_legend_html(s, lab.id, shown, lang())
    if legend:
        html_block(legend)
    missing = [c for c in chosen if c not in shown]
    if missing:
        st.caption(
            t("opendata.page.not_cached", themes=", ".join(t(THEMES[c].label_key) for c in missing))
        )
