"""The ``workbench`` command: run the app, manage the demo workspace, list living labs.

Whoever runs it opens the database file directly and so is the workspace's operator: every
store write here passes ``by=access.SYSTEM`` (an owner), which works in a passcode-protected
workspace as well (``by=None`` would be refused there).

It parses arguments and prints; it must not bypass the library's rules: it writes through the
store's judged methods as the operator (``access.SYSTEM``), and serves the app through
``workbench.ui.launch`` (the only Streamlit it touches).
"""

from __future__ import annotations

import argparse
import os
import sys
import tomllib
from collections.abc import Sequence
from typing import TYPE_CHECKING

from workbench import __version__
from workbench.errors import WorkbenchError
from workbench.settings import (
    DEFAULT_BUFFER_M,
    DEFAULT_HOST,
    MAX_BUFFER_M,
    MAX_UPLOAD_MB,
    SERVER_SCRIPT,
    STREAMLIT_CONFIG,
    VENUE_BUFFER_M,
    check_workspace_name,
)

if TYPE_CHECKING:
    from workbench.model import Layer
    from workbench.opendata.osm import ImportReport
    from workbench.store import Store


def streamlit_flags(config_path: str | os.PathLike[str] = STREAMLIT_CONFIG) -> list[str]:
    """``streamlit_config.toml`` as Streamlit command-line flags (``--section.key=value``)."""
    with open(config_path, "rb") as fh:
        config = tomllib.load(fh)
    config.setdefault("browser", {})["gatherUsageStats"] = False
    config.setdefault("server", {})["maxUploadSize"] = MAX_UPLOAD_MB
    flags = []
    for section, values in config.items():
        for key, value in values.items():
            if isinstance(value, bool):
                value = str(value).lower()
            flags.append(f"--{section}.{key}={value}")
    return flags


def streamlit_args(host: str | None, port: int | None) -> list[str]:
    """Arguments of ``streamlit run`` for the app: the server script (``st.App`` with the
    live channel, ``workbench.ui.server``) and our settings. Without ``host`` the app listens on
    this machine only (``settings.DEFAULT_HOST``)."""
    args = ["run", str(SERVER_SCRIPT), *streamlit_flags()]
    args.append(f"--server.address={host or DEFAULT_HOST}")
    if port:
        args.append(f"--server.port={port}")
    return args


def serve(args: Sequence[str]) -> int:
    """Run Streamlit in this process with ``args`` (``workbench.ui.launch.serve``)."""
    from workbench.ui.launch import serve as launch

    return launch(args)


def workspace_arg(value: str) -> str:
    """``--workspace``: a workspace name, checked by the app's one validator."""
    try:
        return check_workspace_name(value)
    except WorkbenchError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def setup_notice(host: str) -> str:
    """What ``workbench run`` tells the operator about set-up: open set-up on a private
    machine, else a fresh one-time set-up token, and which workspaces still lack a passcode."""
    from workbench.hosting import issue_setup_token, open_setup
    from workbench.i18n import t
    from workbench.store import list_workspaces, open_store

    if open_setup(host):
        return t("hosting.cli.open_setup", "en", host=host)
    lines = [t("hosting.cli.token", "en", token=issue_setup_token(), host=host)]
    for name in list_workspaces():
        store = open_store(name)
        try:
            if not store.is_protected():
                lines.append(t("hosting.cli.unprotected", "en", workspace=name))
        finally:
            store.close()
    return "\n".join(lines)


def cmd_run(args: argparse.Namespace) -> int:
    from workbench.demo import ensure_demo

    ensure_demo().close()
    print("Starting the Living Lab Workbench …", flush=True)
    print(setup_notice(args.host or DEFAULT_HOST), flush=True)
    return serve(streamlit_args(args.host, args.port))


def cmd_workspaces(args: argparse.Namespace) -> int:
    from workbench.errors import ValidationError
    from workbench.settings import configured_database
    from workbench.store import list_workspaces, open_store, workspace_exists
    from workbench.store.engine import host_of

    if args.create:
        if workspace_exists(args.create):
            raise ValidationError("hosting.error.workspace_exists", name=args.create)
        open_store(args.create, create=True).close()
        print(f"Created workspace {args.create}.")
        return 0
    where, names = configured_database(), list_workspaces()
    print(f"Workspaces in {host_of(where) if where else 'the data directory'}:")
    for name in names:
        print(f"  {name}")
    return 0


def cmd_setup_token(args: argparse.Namespace) -> int:
    from workbench.hosting import issue_setup_token
    from workbench.i18n import t

    print(t("hosting.cli.token_only", "en", token=issue_setup_token()))
    return 0


def _read_passcode() -> str:
    """The new passcode: asked twice on a terminal, else one line of standard input."""
    import getpass

    from workbench.errors import ValidationError

    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("New passcode: ")
    if getpass.getpass("Once more: ") != first:
        raise ValidationError("workshop.error.passcode_mismatch")
    return first


def cmd_passcode(args: argparse.Namespace) -> int:
    from workbench.access import SYSTEM
    from workbench.i18n import t
    from workbench.store import open_store

    store = open_store(args.workspace)
    if args.passcode_command == "reset":
        store.reset_passcodes(by=SYSTEM)
        print(t("hosting.cli.reset", "en", workspace=args.workspace))
    else:
        store.set_passcode(args.role, _read_passcode(), by=SYSTEM)
        print(t("hosting.cli.set", "en", workspace=args.workspace, role=args.role))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from workbench.demo import ensure_demo, reset_demo

    store = reset_demo() if args.reset else ensure_demo(on_purpose=True)
    labs = store.list_labs()
    print(
        f"Demo workspace ready: {len(store.list_networks())} networks, "
        f"{len(store.list_cities())} cities, {len(labs)} living labs."
    )
    if args.import_extracts:
        reports = import_demo_extracts(args.import_extracts)
        print(f"Imported {len(reports)} extract(s) into demo living labs.")
        layers = import_demo_files(args.import_extracts)
        print(f"Added {len(layers)} uploaded layer(s) from GeoPackages to demo living labs.")
    return 0


def _print_report(report: ImportReport) -> None:
    from workbench.i18n import t

    counts = ", ".join(f"{code} {n}" for code, n in report.counts.items())
    print(
        f"{report.lab_id}: {report.total} features from {report.source} in "
        f"{report.elapsed_s:.1f} s ({counts}); skipped {report.skipped_ways} ways with missing "
        f"nodes, {report.skipped_relations} relations with missing members."
    )
    when = (report.data_date or "")[:10] or t("comparison.date_unknown", "en")
    source = t(f"comparison.date_source.{report.data_date_source}", "en")
    covered = (
        ""
        if report.covered_share is None
        else (
            f"; the data cover {report.covered_share:.0%} of the site and buffer "
            f"({report.coverage_source})"
        )
    )
    print(f"  {t('comparison.data_as_of', 'en', date=when)} ({source}){covered}.")


def cmd_osm_import(args: argparse.Namespace) -> int:
    from workbench.access import SYSTEM
    from workbench.i18n import t
    from workbench.opendata.osm import EmptyImport, import_extract

    store = _open_workspace(args.workspace)
    lab = store.get_lab(args.lab)
    try:
        report = import_extract(
            store,
            args.file,
            lab,
            buffer_m=args.buffer,
            themes=args.themes,
            allow_empty=args.allow_empty,
            by=SYSTEM,
        )
    except EmptyImport as exc:
        print(f"workbench: {exc}\n{t('comparison.cli.empty_hint', 'en')}", file=sys.stderr)
        return 2
    _print_report(report)
    return 0


def cmd_osm_restore(args: argparse.Namespace) -> int:
    from workbench.access import SYSTEM
    from workbench.i18n import t
    from workbench.opendata.cache import restore_theme
    from workbench.opendata.themes import check_themes

    store = _open_workspace(args.workspace)
    lab = store.get_lab(args.lab)
    for theme in check_themes(args.themes):
        meta = restore_theme(store, lab.id, theme, by=SYSTEM)
        print(
            t(
                "comparison.restored",
                "en",
                theme=theme,
                count=meta["feature_count"],
                date=(meta.get("data_date") or "")[:10] or t("comparison.date_unknown", "en"),
            )
        )
    return 0


def cmd_osm_fetch(args: argparse.Namespace) -> int:
    from workbench.access import SYSTEM
    from workbench.opendata.osm import fetch_themes

    store = _open_workspace(args.workspace)
    lab = store.get_lab(args.lab)
    _print_report(
        fetch_themes(
            store,
            lab,
            args.themes,
            buffer_m=args.buffer,
            timeout_s=args.timeout,
            allow_empty=args.allow_empty,
            by=SYSTEM,
        )
    )
    return 0


def cmd_venue_prepare(args: argparse.Namespace) -> int:
    from workbench.opendata.venue import parse_zooms, prepare_venue, venue_info

    lab = _open_workspace(args.workspace).get_lab(args.lab)

    def progress(done: int, total: int) -> None:
        if done == total or done % 50 == 0:
            print(f"  {done}/{total} tiles", file=sys.stderr)

    path = prepare_venue(
        lab, parse_zooms(args.zoom), args.tiles, buffer_m=args.buffer, progress=progress
    )
    info = venue_info(lab.id) or {}
    print(
        f"{lab.id}: {info.get('tiles', 0)} tiles, zoom {info.get('minzoom')}–"
        f"{info.get('maxzoom')}, in {path}; the app serves them to this lab's maps."
    )
    return 0


def import_demo_extracts(folder: str, buffer_m: float = DEFAULT_BUFFER_M) -> list[ImportReport]:
    """Import every OSM extract in ``folder`` into each demo lab whose site it overlaps."""
    from pathlib import Path

    from shapely.geometry import box

    from workbench.access import SYSTEM
    from workbench.demo import ensure_demo
    from workbench.opendata.osm import EXTRACT_SUFFIXES, clip_area, extract_bounds, import_extract

    store = ensure_demo()
    reports = []
    files = sorted(
        p
        for p in Path(folder).iterdir()
        if p.is_file() and p.name.lower().endswith(EXTRACT_SUFFIXES)
    )
    for path in files:
        bounds = extract_bounds(path)
        for lab in store.list_labs():
            area = clip_area(lab.boundary, buffer_m)
            if bounds is not None and not box(*bounds).intersects(area):
                continue
            try:
                report = import_extract(store, path, lab, buffer_m=buffer_m, by=SYSTEM)
            except WorkbenchError as exc:
                if exc.key != "opendata.import.no_overlap":
                    print(f"{path.name} → {lab.title}: {exc}", file=sys.stderr)
                continue
            _print_report(report)
            reports.append(report)
    return reports


#: Attribution of the demo's user files (``southafrica_swellendam_training.gpkg`` is the QGIS
#: training data set, whose buildings come from OSM).
DEMO_FILE_ATTRIBUTION = (
    "QGIS Training Data (github.com/qgis/QGIS-Training-Data); buildings "
    "© OpenStreetMap contributors"
)


def import_demo_files(folder: str, buffer_m: float = DEFAULT_BUFFER_M) -> list[Layer]:
    """Add each layer of every GeoPackage in ``folder`` as an uploaded layer of each demo lab
    whose site (plus ``buffer_m``) it overlaps, whole, as the app keeps an upload (one rule:
    OSM layers are clipped to the site and buffer, a city's own files are kept whole).
    Layers already added from the same file are kept (running it again adds nothing)."""
    from pathlib import Path

    from workbench.access import SYSTEM
    from workbench.demo import ensure_demo
    from workbench.opendata.files import list_layers, read_user_file, save_upload
    from workbench.opendata.osm import clip_area

    store = ensure_demo()
    added = []
    for path in sorted(p for p in Path(folder).iterdir() if p.suffix.lower() == ".gpkg"):
        data = path.read_bytes()
        for layer_name in list_layers(path.name, data):
            try:
                layer = read_user_file(path.name, data, layer=str(layer_name))
            except WorkbenchError as exc:
                print(f"{path.name} ({layer_name}): {exc}", file=sys.stderr)
                continue
            for lab in store.list_labs():
                area = clip_area(lab.boundary, buffer_m)
                if any(
                    x.source == f"file:{layer.name}"
                    for x in store.list_layers(lab.id, kind="upload")
                ):
                    continue
                if not layer.gdf.intersects(area).any():
                    continue
                record = save_upload(
                    store, lab.id, layer, attribution=DEMO_FILE_ATTRIBUTION, by=SYSTEM
                )
                print(
                    f"{lab.id}: layer “{record.name}” with {record.feature_count} features "
                    f"from {path.name}"
                )
                added.append(record)
    return added


def cmd_labs(args: argparse.Namespace) -> int:
    from workbench.demo import ensure_demo
    from workbench.model import isolate, strip_controls
    from workbench.store import open_store

    store = open_store(args.workspace) if args.workspace else ensure_demo()
    cities = {c.id: c for c in store.list_cities()}
    for lab in store.list_labs():
        city = cities[lab.city_id]
        # user text: no terminal control sequences, and isolated so RTL text stays in its field
        print(
            "\t".join(
                (
                    lab.id,
                    isolate(strip_controls(city.name)),
                    city.country,
                    isolate(strip_controls(lab.title)),
                )
            )
        )
    return 0


def _theme_codes() -> list[str]:
    from workbench.opendata.themes import THEMES

    return list(THEMES)


def cmd_indicators(args: argparse.Namespace) -> int:
    import json

    from workbench.demo import ensure_demo
    from workbench.i18n import t
    from workbench.indicators import lab_indicators
    from workbench.settings import OSM_ATTRIBUTION
    from workbench.store import open_store

    store = open_store(args.workspace) if args.workspace else ensure_demo()
    lab = store.get_lab(args.lab)
    lang = args.lang

    def progress(fraction: float, key: str) -> None:
        print(f"[{fraction:4.0%}] {t(key, lang)}", file=sys.stderr, flush=True)

    from workbench.opendata.sources import lab_sources

    result = lab_indicators(
        store, lab, progress=None if args.json else progress, sources=lab_sources(store, lab.id)
    )
    if args.json:
        doc = result.to_dict(lang)
        doc["title"] = lab.title
        doc["attribution"] = OSM_ATTRIBUTION
        print(json.dumps(doc, ensure_ascii=False, indent=2))
        return 0
    print(f"{lab.title}  ({result.area_m2 / 1e6:.3f} km², {result.crs})")
    for note in result.notes:
        print(f"  ! {note.text(lang)}")
    for ind in result.indicators:
        mark = "" if ind.comparable else "  †"
        unit = f" {ind.unit_label(lang)}" if ind.value is not None else ""
        print(f"{ind.label(lang)}: {ind.display_value(lang)}{unit}{mark}")
        for note in ind.notes:
            print(f"    - {note.text(lang)}")
    dates = sorted({i.data_date for i in result.indicators if i.data_date})
    when = (
        (dates[0] + (f" – {dates[-1]}" if len(dates) > 1 else ""))
        if dates
        else t("comparison.date_unknown", lang)
    )
    print(t("comparison.data_as_of", lang, date=when))
    print(OSM_ATTRIBUTION)
    return 0


def _open_workspace(name: str | None) -> Store:
    """The store of workspace ``name``, or the demo's (seeded on first use) without one."""
    from workbench.demo import ensure_demo
    from workbench.store import open_store

    return open_store(name) if name else ensure_demo()


def cmd_export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from workbench import export

    store = _open_workspace(args.workspace)
    size = export.page_size(args.size, args.dpi)
    if args.snapshot:
        content = export.snapshot_content(store, store.get_snapshot(args.snapshot), args.lang)
        data = export.export_bytes(content, args.format, size, args.renderer)
    else:
        data = export.export_lab(
            store,
            args.lab,
            args.format,
            lang=args.lang,
            size=size,
            renderer=args.renderer,
            themes=args.themes,
        )
    out = Path(args.output)
    out.write_bytes(data)
    print(f"{out}: {len(data):,} bytes ({args.format})")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from pathlib import Path

    from workbench import twin
    from workbench.settings import public_url

    store = _open_workspace(args.workspace)
    lab_ids = [x.strip() for x in args.labs.split(",") if x.strip()]
    url = twin.compare_url(public_url() or "http://localhost:8501", lab_ids)
    if not twin.MIN_LABS <= len(lab_ids) <= twin.MAX_LABS:  # before any computing
        from workbench.errors import ValidationError

        raise ValidationError("comparison.twin.count", low=twin.MIN_LABS, high=twin.MAX_LABS)
    data = twin.twin_sheet(twin.sheet_labs(store, lab_ids, args.lang), args.lang, args.format, url)
    out = Path(args.output)
    out.write_bytes(data)
    print(f"{out}: {len(data):,} bytes ({args.format})")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from workbench import report

    store = _open_workspace(args.workspace)

    def progress(fraction: float, what: str) -> None:
        print(f"[{fraction:4.0%}] {what}", file=sys.stderr, flush=True)

    data = report.write(
        report.gather(
            store, args.network, args.lang, indicators=not args.no_indicators, progress=progress
        ),
        args.format,
    )
    out = Path(args.output)
    out.write_bytes(data)
    print(f"{out}: {len(data):,} bytes ({args.format})")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from workbench.access import SYSTEM
    from workbench.export import import_geopackage
    from workbench.i18n import t
    from workbench.model import isolate
    from workbench.store import open_store

    store = open_store(args.workspace, create=True)
    lab_id = import_geopackage(store, args.file, by=SYSTEM)
    print(
        t(
            "export.imported",
            "en",
            title=isolate(store.get_lab(lab_id).title),
            workspace=args.workspace,
        )
    )
    print(lab_id)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="workbench",
        description="Living Lab Workbench: plan living labs together on a shared map.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser(
        "run", help="start the app and its live channel (seeds the demo workspace on first start)"
    )
    run.add_argument(
        "--host",
        help=f"address to listen on (default: {DEFAULT_HOST}, this "
        "machine only; 0.0.0.0 serves a room and needs the set-up token)",
    )
    run.add_argument("--port", type=int, help="port to listen on (default: 8501)")
    run.set_defaults(func=cmd_run)

    demo = sub.add_parser("demo", help="create the demo workspace (or recreate it with --reset)")
    demo.add_argument(
        "--reset",
        action="store_true",
        help="delete the demo workspace and seed it anew from geodata/demo/",
    )
    demo.add_argument(
        "--import-extracts",
        metavar="DIR",
        help="import each OSM extract in DIR into every demo lab it overlaps",
    )
    demo.set_defaults(func=cmd_demo)

    osm = sub.add_parser("osm", help="OpenStreetMap themes: import an extract or fetch ahead")
    osm_sub = osm.add_subparsers(dest="osm_command", required=True, metavar="ACTION")
    themes_help = "theme codes (default: all): " + " ".join(_theme_codes())
    imp = osm_sub.add_parser("import", help="import an OSM extract (.osm, .bz2, .gz, .pbf)")
    imp.add_argument("file", metavar="FILE")
    fetch = osm_sub.add_parser("fetch", help="fetch themes from Overpass (needs internet)")
    fetch.add_argument(
        "--timeout",
        type=float,
        help="overall time limit in seconds (default: WORKBENCH_OVERPASS_TIMEOUT_S or 60)",
    )
    for p in (imp, fetch):
        p.add_argument(
            "--allow-empty",
            action="store_true",
            help="let an empty result replace themes that have cached features "
            "(their earlier version is kept: see `osm restore`)",
        )
    restore = osm_sub.add_parser(
        "restore", help="bring back the version each theme had before its last import or fetch"
    )
    restore.add_argument("--themes", nargs="+", required=True, metavar="THEME", help=themes_help)
    restore.add_argument("--lab", required=True, metavar="ID", help="living lab id (see: labs)")
    restore.add_argument(
        "--workspace", type=workspace_arg, help="workspace name (default: the demo workspace)"
    )
    restore.set_defaults(func=cmd_osm_restore)
    for p in (imp, fetch):
        p.add_argument("--lab", required=True, metavar="ID", help="living lab id (see: labs)")
        p.add_argument(
            "--buffer",
            type=float,
            default=float(DEFAULT_BUFFER_M),
            metavar="M",
            help=f"buffer around the site in metres, 0 to {MAX_BUFFER_M} "
            f"(default: {DEFAULT_BUFFER_M})",
        )
        p.add_argument("--themes", nargs="+", metavar="THEME", help=themes_help)
        p.add_argument(
            "--workspace", type=workspace_arg, help="workspace name (default: the demo workspace)"
        )
    imp.set_defaults(func=cmd_osm_import)
    fetch.set_defaults(func=cmd_osm_fetch)

    venue = sub.add_parser(
        "venue",
        help="a venue without internet: store the basemap tiles "
        "of a living lab's site for the app to serve",
    )
    venue_sub = venue.add_subparsers(dest="venue_command", required=True, metavar="ACTION")
    prep = venue_sub.add_parser(
        "prepare",
        help="store the tiles of the site and its buffer in "
        "one MBTiles archive (needs internet once)",
    )
    prep.add_argument("--lab", required=True, help="the living lab's id")
    prep.add_argument(
        "--zoom",
        default="12-17",
        help="zoom levels, e.g. 12-17 (default; at "
        "most 17 from the public OpenStreetMap tile server)",
    )
    prep.add_argument(
        "--tiles",
        default=None,
        metavar="URL",
        help="a tile URL template with {z}/{x}/{y} (default: the OpenStreetMap street map)",
    )
    prep.add_argument(
        "--buffer",
        type=float,
        default=VENUE_BUFFER_M,
        help=f"metres around the site (default: {VENUE_BUFFER_M:g})",
    )
    prep.add_argument("--workspace", type=workspace_arg, default=None)
    prep.set_defaults(func=cmd_venue_prepare)

    labs = sub.add_parser(
        "labs", help="list living labs: id, city, country, title (tab-separated, one per line)"
    )
    labs.add_argument(
        "--workspace", type=workspace_arg, help="workspace name (default: the demo workspace)"
    )
    labs.set_defaults(func=cmd_labs)

    indicators = sub.add_parser(
        "indicators", help="neighbourhood indicators of a living lab, with units and notes"
    )
    indicators.add_argument("--lab", required=True, help="living lab id (see `workbench labs`)")
    indicators.add_argument("--json", action="store_true", help="print JSON instead of text")
    indicators.add_argument(
        "--lang",
        default="en",
        choices=("en", "de", "uk"),
        help="language of names, units and notes (default: en)",
    )
    indicators.add_argument(
        "--workspace", type=workspace_arg, help="workspace name (default: the demo workspace)"
    )
    indicators.set_defaults(func=cmd_indicators)

    from workbench.export import FORMATS, RENDERERS, SIZE_NAMES
    from workbench.settings import LANGUAGES

    exp = sub.add_parser("export", help="export a living lab's map or data to a file")
    which = exp.add_mutually_exclusive_group(required=True)
    which.add_argument("--lab", help="id of the living lab (see `workbench labs`)")
    which.add_argument("--snapshot", help="a saved snapshot's id (exports the map as it was)")
    exp.add_argument("--format", required=True, choices=FORMATS)
    exp.add_argument(
        "--size",
        default="slide",
        choices=SIZE_NAMES,
        help="image size for png (default: slide, 1920×1080)",
    )
    exp.add_argument(
        "--dpi",
        type=int,
        default=150,
        choices=(150, 300),
        help="resolution of the print sizes (default: 150)",
    )
    exp.add_argument("--lang", default="en", choices=LANGUAGES)
    exp.add_argument(
        "--renderer",
        default="auto",
        choices=RENDERERS,
        help="png: auto (Chromium where available), chromium, or static",
    )
    exp.add_argument(
        "--themes",
        nargs="*",
        metavar="THEME",
        choices=_theme_codes(),
        help="cached OSM themes shown (default: all cached; none: --themes)",
    )
    exp.add_argument(
        "--workspace", type=workspace_arg, help="workspace name (default: the demo workspace)"
    )
    exp.add_argument("-o", "--output", required=True, help="file to write")
    exp.set_defaults(func=cmd_export)

    twin_p = sub.add_parser(
        "compare",
        help="a twin sheet of 2 to 4 living labs side by side (A3 PDF or a 1920×1080 PNG slide)",
    )
    twin_p.add_argument(
        "--labs",
        required=True,
        metavar="A,B[,…]",
        help="comma-separated living lab ids (see `workbench labs`)",
    )
    twin_p.add_argument("--format", required=True, choices=("pdf", "png"))
    twin_p.add_argument("--lang", default="en", choices=LANGUAGES)
    twin_p.add_argument(
        "--workspace", type=workspace_arg, help="workspace name (default: the demo workspace)"
    )
    twin_p.add_argument("-o", "--output", required=True, help="file to write")
    twin_p.set_defaults(func=cmd_compare)

    rep = sub.add_parser(
        "report",
        help="the network report: per living lab its site map, "
        "lessons, open questions and indicators (PDF, or DOCX to edit)",
    )
    rep.add_argument("--network", required=True, help="network id")
    rep.add_argument("--format", required=True, choices=("pdf", "docx"))
    rep.add_argument("--lang", default="en", choices=LANGUAGES)
    rep.add_argument(
        "--no-indicators",
        action="store_true",
        help="leave the indicators out (they are computed from the OSM caches)",
    )
    rep.add_argument(
        "--workspace", type=workspace_arg, help="workspace name (default: the demo workspace)"
    )
    rep.add_argument("-o", "--output", required=True, help="file to write")
    rep.set_defaults(func=cmd_report)

    imp = sub.add_parser("import", help="import a living lab from an exported GeoPackage")
    imp.add_argument("file", help="a GeoPackage written by `workbench export --format gpkg`")
    imp.add_argument(
        "--workspace", required=True, type=workspace_arg, help="workspace to import into (created)"
    )
    imp.set_defaults(func=cmd_import)

    ws = sub.add_parser(
        "workspaces",
        help="list the workspaces (SQLite files, or the schemas "
        "of WORKBENCH_DATABASE_URL), or create one",
    )
    ws.add_argument(
        "--create",
        metavar="NAME",
        type=workspace_arg,
        help="create an empty workspace (then set its passcode: `workbench "
        "passcode set --workspace NAME`)",
    )
    ws.set_defaults(func=cmd_workspaces)

    token = sub.add_parser(
        "setup-token",
        help="print a new one-time set-up token (to create "
        "workspaces and set a first owner passcode in the app)",
    )
    token.set_defaults(func=cmd_setup_token)

    code = sub.add_parser("passcode", help="the operator sets or resets a workspace's passcodes")
    code_sub = code.add_subparsers(dest="passcode_command", required=True, metavar="ACTION")
    code_set = code_sub.add_parser(
        "set", help="set a passcode (asked on the terminal, or one line of standard input)"
    )
    code_set.add_argument("--role", default="owner", choices=("owner", "facilitator"))
    code_reset = code_sub.add_parser(
        "reset",
        help="remove the owner and facilitator passcodes and every client's failed attempts",
    )
    for p in (code_set, code_reset):
        p.add_argument("--workspace", required=True, type=workspace_arg)
        p.set_defaults(func=cmd_passcode)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except WorkbenchError as exc:
        print(f"workbench: {exc}", file=sys.stderr)
        return 2
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError) as exc:
        # a path given on the command line that is not there (or not what it must be): one line
        what = exc.strerror or type(exc).__name__
        print(f"workbench: {exc.filename or ''}: {what}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader went away (`workbench labs | head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
