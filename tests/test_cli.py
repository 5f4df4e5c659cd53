"""The workbench command."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.helpers import (
    BALTIMORE_LAB,
    BAYREUTH_LAB,
    KHARKIV_LAB,
    MUNICH_LAB,
    NUERNBERG_LAB,
    SEATTLE_LAB,
    SWELLENDAM_LAB,
)
from workbench import __version__, cli
from workbench.settings import DEMO_DIR


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["--version"])
    assert info.value.code == 0 and __version__ in capsys.readouterr().out


def test_help_lists_commands():
    out = subprocess.run(
        [sys.executable, "-m", "workbench", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for command in ("run", "demo", "labs"):
        assert command in out


def test_labs_lists_demo_labs_tab_separated(capsys):
    assert cli.main(["labs"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    features = json.loads((DEMO_DIR / "labs.geojson").read_text())["features"]
    assert len(lines) == len(features)
    rows = [line.split("\t") for line in lines]
    assert all(len(r) == 4 for r in rows)
    assert {r[0] for r in rows} == {f["properties"]["id"] for f in features}
    # user text is bidi-isolated (U+2068 … U+2069)
    assert ("\u2068Kharkiv\u2069", "UA") in {(r[1], r[2]) for r in rows}


def test_labs_into_a_closed_pipe_stops_quietly(demo_store):
    """`workbench labs | head -c 1`: the reader goes away; no traceback, exit 0."""
    demo_store.close()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from workbench import cli;"
            "sys.stdout.reconfigure(write_through=True); sys.exit(cli.main())",
            "labs",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        bufsize=0,
    )
    assert proc.stdout.read(1)
    proc.stdout.close()
    assert proc.wait(timeout=60) == 0
    assert b"Traceback" not in proc.stderr.read()


def test_demo_reset_recreates_workspace(capsys, demo_store):
    lab = demo_store.list_labs()[0]
    demo_store.delete_lab(lab.id)
    demo_store.close()
    assert cli.main(["demo", "--reset"]) == 0
    assert "9 living labs" in capsys.readouterr().out
    from workbench.demo import ensure_demo

    assert lab.id in {x.id for x in ensure_demo().list_labs()}


def test_run_applies_streamlit_config():
    args = cli.streamlit_args("127.0.0.1", 8765)
    assert args[:2] == ["run", str(cli.SERVER_SCRIPT)]
    assert "--browser.gatherUsageStats=false" in args
    assert "--server.maxUploadSize=200" in args
    assert "--client.showErrorDetails=none" in args
    assert args[-2:] == ["--server.address=127.0.0.1", "--server.port=8765"]


def test_unknown_workspace_error_is_a_message(capsys, data_dir):
    assert cli.main(["labs", "--workspace", "empty"]) == 2  # refused, not created
    out = capsys.readouterr()
    assert out.out == "" and "There is no workspace “empty”" in out.err
    assert not (data_dir / "workspaces" / "empty.sqlite").exists()


def test_workbench_run_serves_the_demo_workspace(data_dir):
    """`workbench run` starts Streamlit with our settings; the app answers on its port."""
    import os
    import socket
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "WORKBENCH_DATA_DIR": str(data_dir)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "workbench", "run", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health") as r:
                    assert r.read() == b"ok"
                    break
            except OSError:
                assert proc.poll() is None, proc.stdout.read()
                assert time.monotonic() < deadline, "the app did not answer within 60 s"
                time.sleep(0.5)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/") as r:
            assert r.status == 200 and b'<div id="root">' in r.read()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert (data_dir / "workspaces" / "demo.sqlite").exists()  # seeded before serving


DEMO_WITH_DATA = {  # demo lab → what `workbench demo --import-extracts` gives it
    MUNICH_LAB: "osm",  # München
    NUERNBERG_LAB: "osm",  # Nürnberg
    SEATTLE_LAB: "osm",  # Seattle
    BALTIMORE_LAB: "osm",  # Baltimore
    KHARKIV_LAB: "osm",  # Kharkiv
    BAYREUTH_LAB: "osm",  # Bayreuth
    SWELLENDAM_LAB: "upload",  # Swellendam: the user's GeoPackage
}


@pytest.mark.realdata
@pytest.mark.slow
def test_demo_import_extracts_from_a_fresh_data_dir(capsys):
    """The offline demo: OSM extracts into the labs' caches, the Swellendam GeoPackage as
    uploaded layers (once: a second run adds nothing); exports then carry both."""
    from tests.conftest import shared_geodata
    from workbench import export
    from workbench.demo import ensure_demo
    from workbench.opendata.cache import cached_themes

    folder = shared_geodata("southafrica_swellendam_training.gpkg").parent
    assert cli.main(["demo", "--import-extracts", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "Added 4 uploaded layer(s)" in out
    store = ensure_demo()
    for lab_id, kind in DEMO_WITH_DATA.items():
        content = export.gather(store, lab_id)
        kinds = {x.kind for x in content.layers}
        assert kind in kinds, lab_id
        if kind == "osm":
            assert "streets" in cached_themes(store, lab_id)
    uploads = store.list_layers(SWELLENDAM_LAB, kind="upload")
    # each keeps its own layer's name, not the file's
    assert sorted(x.name for x in uploads) == ["buildings", "restaurants", "roads", "schools"]
    assert all("OpenStreetMap contributors" in x.attribution for x in uploads)
    assert cli.main(["demo", "--import-extracts", str(folder)]) == 0
    assert "Added 0 uploaded layer(s)" in capsys.readouterr().out
    assert len(store.list_layers(SWELLENDAM_LAB)) == 4


@pytest.mark.parametrize(
    "argv",
    [
        ["demo", "--import-extracts", "/nonexistent/extracts"],
        ["import", "/nonexistent/lab.gpkg", "--workspace", "demo"],
    ],
)
def test_a_missing_path_is_one_clear_line(capsys, data_dir, argv):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("workbench: ") and "Traceback" not in err[0]
