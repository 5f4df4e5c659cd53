"""The ``workbench`` command: run the app, manage the demo workspace, list living labs."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tomllib
from collections.abc import Sequence

from workbench import __version__
from workbench.errors import WorkbenchError
from workbench.settings import APP_SCRIPT, MAX_UPLOAD_MB, STREAMLIT_CONFIG


def streamlit_flags(config_path=STREAMLIT_CONFIG) -> list[str]:  # type: ignore[no-untyped-def]
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


def streamlit_command(host: str | None, port: int | None) -> list[str]:
    cmd = [sys.executable, "-m", "streamlit", "run", str(APP_SCRIPT), *streamlit_flags()]
    if host:
        cmd.append(f"--server.address={host}")
    if port:
        cmd.append(f"--server.port={port}")
    return cmd


def cmd_run(args: argparse.Namespace) -> int:
    from workbench.demo import ensure_demo

    ensure_demo()
    cmd = streamlit_command(args.host, args.port)
    print("Starting the Living Lab Workbench:", " ".join(cmd[3:5]), flush=True)
    try:
        return subprocess.call(cmd, env=os.environ.copy())
    except KeyboardInterrupt:
        return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from workbench.demo import ensure_demo, reset_demo

    store = reset_demo() if args.reset else ensure_demo()
    labs = store.list_labs()
    print(f"Demo workspace ready: {len(store.list_networks())} networks, "
          f"{len(store.list_cities())} cities, {len(labs)} living labs.")
    return 0


def cmd_labs(args: argparse.Namespace) -> int:
    from workbench.demo import ensure_demo
    from workbench.store import open_store

    store = open_store(args.workspace) if args.workspace else ensure_demo()
    cities = {c.id: c for c in store.list_cities()}
    for lab in store.list_labs():
        city = cities[lab.city_id]
        print("\t".join((lab.id, city.name, city.country, lab.title)))
    return 0


def _open_workspace(name: str | None):  # type: ignore[no-untyped-def]
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
        data = export.export_lab(store, args.lab, args.format, lang=args.lang, size=size,
                                 renderer=args.renderer)
    out = Path(args.output)
    out.write_bytes(data)
    print(f"{out}: {len(data):,} bytes ({args.format})")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from workbench.export import import_geopackage
    from workbench.i18n import t
    from workbench.store import open_store

    store = open_store(args.workspace)
    lab_id = import_geopackage(store, args.file)
    print(t("export.imported", "en", title=store.get_lab(lab_id).title,
            workspace=args.workspace))
    print(lab_id)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="workbench",
        description="Living Lab Workbench: plan living labs together on a shared map.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="start the app (seeds the demo workspace on first start)")
    run.add_argument("--host", help="address to listen on (default: from streamlit_config.toml)")
    run.add_argument("--port", type=int, help="port to listen on (default: 8501)")
    run.set_defaults(func=cmd_run)

    demo = sub.add_parser("demo", help="create the demo workspace (or recreate it with --reset)")
    demo.add_argument("--reset", action="store_true",
                      help="delete the demo workspace and seed it anew from geodata/demo/")
    demo.set_defaults(func=cmd_demo)

    labs = sub.add_parser(
        "labs", help="list living labs: id, city, country, title (tab-separated, one per line)")
    labs.add_argument("--workspace", help="workspace name (default: the demo workspace)")
    labs.set_defaults(func=cmd_labs)

    from workbench.export import FORMATS, RENDERERS, SIZE_NAMES
    from workbench.settings import LANGUAGES

    exp = sub.add_parser("export", help="export a living lab's map or data to a file")
    which = exp.add_mutually_exclusive_group(required=True)
    which.add_argument("--lab", help="id of the living lab (see `workbench labs`)")
    which.add_argument("--snapshot", help="a saved snapshot's id (exports the map as it was)")
    exp.add_argument("--format", required=True, choices=FORMATS)
    exp.add_argument("--size", default="slide", choices=SIZE_NAMES,
                     help="image size for png (default: slide, 1920×1080)")
    exp.add_argument("--dpi", type=int, default=150, choices=(150, 300),
                     help="resolution of the print sizes (default: 150)")
    exp.add_argument("--lang", default="en", choices=LANGUAGES)
    exp.add_argument("--renderer", default="auto", choices=RENDERERS,
                     help="png: auto (Chromium where available), chromium, or static")
    exp.add_argument("--workspace", help="workspace name (default: the demo workspace)")
    exp.add_argument("-o", "--output", required=True, help="file to write")
    exp.set_defaults(func=cmd_export)

    imp = sub.add_parser("import", help="import a living lab from an exported GeoPackage")
    imp.add_argument("file", help="a GeoPackage written by `workbench export --format gpkg`")
    imp.add_argument("--workspace", required=True, help="workspace to import into (created)")
    imp.set_defaults(func=cmd_import)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except WorkbenchError as exc:
        print(f"workbench: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
