"""Export: the lab's map and data as files (built on click), and the named snapshots.

Everyone may download; saving a snapshot is for owners and facilitators (``snapshot.manage``,
judged by the store; the button is disabled for others as a courtesy)."""

import streamlit as st

from workbench import export
from workbench.errors import WorkbenchError
from workbench.export.content import OSM_LAYER_PREFIX, osm_layers
from workbench.export.web import renderer_help
from workbench.opendata.themes import THEMES
from workbench.ui import (
    error_text,
    fmt_datetime,
    lang,
    md_escape,
    plain,
    require_lab,
    show_error,
    store,
    t,
    t_md,
)
from workbench.ui.access import allowed, current_actor

s = store()
lab = require_lab()
st.title(t("export.title"))
plain(lab.title, caption=True)
st.write(t("export.intro"))

st.subheader(t("export.section.files"))
c1, c2 = st.columns(2)
size_name = c1.selectbox(
    t("export.size"),
    export.SIZE_NAMES,
    format_func=lambda n: t(f"export.size.{n}"),
    key="export_size",
)
dpi = c2.selectbox(t("export.dpi"), (150, 300), key="export_dpi", disabled=size_name == "slide")
HOW_TO_ENABLE = renderer_help(lang())
if HOW_TO_ENABLE is not None:  # drawn without a browser here: say so, and how to change it
    st.caption(t("export.renderer_static") + " " + HOW_TO_ENABLE)

# The OSM themes shown in the exports: those cached for the lab with features (all by default).
have = {layer.theme for layer in osm_layers(s, lab.id, lang=lang())}
cached = [code for code in THEMES if code in have]  # in catalogue order
themes = st.multiselect(
    t("export.themes"),
    cached,
    default=cached,
    key="export_themes",
    format_func=lambda code: t(THEMES[code].label_key),
    help=t("export.themes_help"),
    disabled=not cached,
    placeholder=t("common.choose_options"),
)
if not cached:
    st.caption(t("export.themes_none"))


def _builder(fmt: str, snapshot_id: str | None = None):  # type: ignore[no-untyped-def]
    """A callable that builds the file when the button is clicked (not on every rerun)."""

    def build() -> bytes:
        size = export.page_size(size_name, dpi)
        if snapshot_id:
            content = export.snapshot_content(s, s.get_snapshot(snapshot_id), lang())
            return export.export_bytes(content, fmt, size)
        return export.export_lab(s, lab.id, fmt, lang=lang(), size=size, themes=themes)

    return build


content_for_names = export.gather(s, lab.id, lang=lang(), layers=[], annotations=[])
columns = st.columns(4)
for i, fmt in enumerate(export.FORMATS):
    columns[i % 4].download_button(
        t("export.download", fmt=t(f"export.fmt.{fmt}")),
        data=_builder(fmt),
        file_name=export.file_name(content_for_names, fmt),
        mime=export.MIME[fmt],
        key=f"download_{fmt}",
        use_container_width=True,
        on_click="ignore",
    )

st.subheader(t("export.section.snapshots"))
st.write(t("export.snapshots_intro"))
snapshots = s.list_snapshots(lab.id)
actor = current_actor(s, lab.id)
can_snapshot = allowed(actor, "snapshot.manage", s.phase(lab.id))
if not can_snapshot:
    st.caption("🔒 " + t("guard.read_only.snapshots"))
with st.form("snapshot_form", clear_on_submit=True):
    name = st.text_input(
        t("export.snapshot_name"), value=t("export.snapshot_name_default", n=len(snapshots) + 1)
    )
    if st.form_submit_button(t("export.snapshot_save"), disabled=not can_snapshot):
        try:
            visible = [OSM_LAYER_PREFIX + c for c in themes] + [
                layer.id for layer in s.list_layers(lab.id, kind="upload")
            ]
            snap = export.take_snapshot(
                s,
                lab.id,
                name,
                visible_layer_ids=visible,
                created_by=st.session_state.get("author", ""),
                by=actor,
            )
            st.success(t_md("export.snapshot_saved", name=snap.name), icon="📸")
            snapshots = s.list_snapshots(lab.id)
        except WorkbenchError as exc:
            show_error(exc)

if not snapshots:
    st.info(t("export.snapshots_none"), icon="ℹ️")
for snap in snapshots:
    with st.expander(f"📸 {md_escape(snap.name)} · {fmt_datetime(snap.created_at)}"):
        st.caption(
            t_md(
                "export.snapshot_meta",
                date=fmt_datetime(snap.created_at),
                count=len(snap.state.get("annotations", [])),
                author=snap.created_by or "—",
            )
        )
        diff = export.diff_snapshot(s, snap)
        st.write(
            t("export.snapshot_unchanged")
            if diff.empty
            else t(
                "export.snapshot_changes",
                added=len(diff.added),
                changed=len(diff.changed),
                removed=len(diff.removed),
            )
        )
        try:
            export.snapshot_settings(snap)
        except WorkbenchError as exc:  # its files show the lab's current basemap and WMS
            st.warning(t("export.note.snapshot_settings", reason=error_text(exc)), icon="⚠️")
        cols = st.columns(4)
        for i, fmt in enumerate(("png", "pdf", "html", "gpkg")):
            cols[i].download_button(
                t(f"export.fmt.{fmt}"),
                data=_builder(fmt, snap.id),
                file_name=f"snapshot_{snap.created_at:%Y-%m-%d_%H%M}.{export.EXTENSION[fmt]}",
                mime=export.MIME[fmt],
                key=f"snap_{snap.id}_{fmt}",
                on_click="ignore",
                use_container_width=True,
            )
