"""The live channel with a room of 30: one ``workbench run`` server, 30 light clients of the
live channel (WebSockets, as a phone's page holds one) plus 2 Chromium pages on the map; it
reports the latency from a committed write to its delta arriving at every client (p50, p95,
max) for 1 write a second and for a burst of 50 writes, and the server's CPU per open page
while nothing happens, against the polling map page of before (``peer_polling_page.py``,
Chromium pages on it) measured in the same run.

The writes come from this process, as from a second app process or the command line: the
server hears them through the workspace file (and its once-a-second revision look); a write in
the server's own process (a participant's save) wakes the readers directly.

Settings: ``BENCH_LIVE_CLIENTS`` (30), ``BENCH_LIVE_IDLE_S`` (60), ``BENCH_LIVE_PEER_PAGES`` (2).
The demo is seeded with the shared OSM extracts where they are (``../shared/geodata``), so the
maps carry their real context layers."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAB = "e6dccaee-317d-4c62-995e-99f99acfc2b5"  # demo: Munich, Milbertshofen
CLIENTS = int(os.environ.get("BENCH_LIVE_CLIENTS", "30"))
IDLE_S = float(os.environ.get("BENCH_LIVE_IDLE_S", "60"))
PEER_PAGES = int(os.environ.get("BENCH_LIVE_PEER_PAGES", "2"))
STEADY_WRITES = 30
BURST = 50


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _serve(script: Path, data: Path, log: Path) -> tuple[subprocess.Popen, str]:
    from workbench.cli import streamlit_flags

    port = _free_port()
    args = [
        "run",
        str(script),
        *streamlit_flags(),
        "--server.address=127.0.0.1",
        f"--server.port={port}",
    ]
    env = {**os.environ, "WORKBENCH_DATA_DIR": str(data)}
    out = log.open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from workbench.cli import serve; sys.exit(serve(sys.argv[1:]))",
            *args,
        ],
        cwd=ROOT,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(240):
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=1):
                return proc, url
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError(f"server did not start: {log.read_text()[-2000:]}")


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def _pages(url: str, n: int):  # type: ignore[no-untyped-def]
    """n Chromium pages on the lab's map (their own contexts); (playwright, browser, pages)."""
    from playwright.sync_api import sync_playwright

    from workbench.settings import chromium_path

    pw = sync_playwright().start()
    browser = pw.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
    pages = []
    for _ in range(n):
        page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
        page.goto(f"{url}/map?lab={LAB}")
        pages.append(page)
    for page in pages:
        page.wait_for_selector(
            'iframe[title="streamlit_folium.st_folium"]', state="attached", timeout=60_000
        )
    return pw, browser, pages


class Room:
    """CLIENTS light clients of the live channel; each notes when each note id arrived."""

    def __init__(self, url: str, token: str) -> None:
        self.ws_url = url.replace("http://", "ws://") + f"/api/live/{LAB}/ws"
        self.token = token
        self.arrivals: list[dict[str, float]] = [{} for _ in range(CLIENTS)]
        self.ready = 0

    async def client(self, k: int) -> None:
        import websockets

        async with websockets.connect(self.ws_url, max_size=2**24) as ws:
            await ws.send(
                json.dumps({"token": self.token, "since": 0, "lang": "en", "device": f"bench{k}"})
            )
            first = True
            last_ping = time.monotonic()
            while True:
                try:
                    raw = await asyncio.wait_for(ws.recv(), 5)
                except TimeoutError:
                    raw = None
                if time.monotonic() - last_ping > 10:
                    await ws.send('{"type":"ping"}')
                    last_ping = time.monotonic()
                if raw is None:
                    continue
                now = time.time()
                message = json.loads(raw)
                if message["type"] != "delta":
                    continue
                if first:
                    self.ready += 1
                    first = False
                for feature in message["features"]:
                    self.arrivals[k].setdefault(feature["id"], now)


def _latencies(room: Room, committed: dict[str, float]) -> list[float]:
    out = []
    for note, at in committed.items():
        for arrivals in room.arrivals:
            if note in arrivals:
                out.append(arrivals[note] - at)
            else:
                out.append(float("inf"))  # never arrived
    return out


def _summary(values: list[float]) -> dict[str, float]:
    finite = sorted(v for v in values if v != float("inf"))
    lost = len(values) - len(finite)
    q = statistics.quantiles(finite, n=100) if len(finite) > 1 else finite * 99
    return {"p50": statistics.median(finite), "p95": q[94], "max": max(finite), "lost": lost}


def _write(store, n: int, committed: dict[str, float]) -> None:  # type: ignore[no-untyped-def]
    from shapely.geometry import Point

    from workbench.access import SYSTEM
    from workbench.model import Annotation, new_id

    note = Annotation(
        id=new_id(),
        lab_id=LAB,
        geometry=Point(11.546 + n * 1e-5, 48.185),
        category="idea",
        text=f"bench note {n}",
        author="Bench",
    )
    store.add_annotation(note, by=SYSTEM)
    committed[note.id] = time.time()


async def _room_run(url: str, data: Path, pid: int, idle_s: float = IDLE_S) -> dict:
    """Connect the room, write steadily and in a burst, then leave it idle: the room (for the
    arrivals), the commit times of both series and the server's idle CPU (cores)."""
    os.environ["WORKBENCH_DATA_DIR"] = str(data)
    from workbench.live import issue_token
    from workbench.store import open_store

    room = Room(url, issue_token("demo", LAB, None))
    tasks = [asyncio.ensure_future(room.client(k)) for k in range(CLIENTS)]
    while room.ready < CLIENTS:
        await asyncio.sleep(0.1)
    store = open_store("demo")
    steady: dict[str, float] = {}
    for n in range(STEADY_WRITES):
        await asyncio.to_thread(_write, store, n, steady)
        await asyncio.sleep(1.0)
    await asyncio.sleep(2)
    burst: dict[str, float] = {}
    for n in range(BURST):
        await asyncio.to_thread(_write, store, 1000 + n, burst)
    await asyncio.sleep(5)
    store.close()
    before = _cpu_seconds(pid)
    await asyncio.sleep(idle_s)  # the clients stay, answering with their heartbeats
    idle = (_cpu_seconds(pid) - before) / idle_s
    for task in tasks:
        task.cancel()
    await asyncio.sleep(0.5)
    return {"room": room, "steady": steady, "burst": burst, "idle": idle}


def _in_thread(coroutine):  # type: ignore[no-untyped-def]
    """Run a coroutine on its own event loop in a thread (Playwright's own loop runs here)."""
    import threading

    out: dict = {}

    def target() -> None:
        try:
            out["value"] = asyncio.run(coroutine)
        except BaseException as exc:  # noqa: BLE001 - raised again in the caller
            out["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in out:
        raise out["error"]
    return out["value"]


def run() -> list[dict]:
    from workbench.settings import SERVER_SCRIPT, SHARED_GEODATA

    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="bench-live-") as tmp:
        data = Path(tmp) / "data"
        env = {**os.environ, "WORKBENCH_DATA_DIR": str(data)}
        seed = ["demo"] + (
            ["--import-extracts", str(SHARED_GEODATA)] if SHARED_GEODATA.is_dir() else []
        )
        subprocess.run(
            [sys.executable, "-m", "workbench", *seed],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )

        # ---- the live server: 30 clients + 2 Chromium pages ----
        proc, url = _serve(SERVER_SCRIPT, data, Path(tmp) / "live.log")
        pw = browser = None
        try:
            pw, browser, _ = _pages(url, 2)
            result = _in_thread(_room_run(url, data, proc.pid))
            room, idle = result["room"], result["idle"]
            for name, committed in (
                ("1 write/s", result["steady"]),
                (f"burst of {BURST}", result["burst"]),
            ):
                stats = _summary(_latencies(room, committed))
                for key in ("p50", "p95", "max"):
                    rows.append(
                        {
                            "name": f"latency {name}, {CLIENTS} clients, {key}",
                            "value": stats[key],
                            "unit": "s",
                        }
                    )
                rows.append(
                    {"name": f"deltas lost ({name})", "value": stats["lost"], "unit": "deliveries"}
                )
        finally:
            if browser is not None:
                browser.close()
                pw.stop()
            _stop(proc)
        live_pages = CLIENTS + 2

        # ---- the peer: the polling map page, Chromium pages on it ----
        # served from a folder of its own with a copy of the web assets beside it, so that
        # its maps load Leaflet from the server as the app's do
        import shutil

        from workbench.settings import WEB_ASSETS_DIR

        peer_dir = Path(tmp) / "peer"
        peer_dir.mkdir()
        shutil.copy(ROOT / "benchmarks" / "peer_polling_page.py", peer_dir)
        if WEB_ASSETS_DIR.is_dir():
            shutil.copytree(WEB_ASSETS_DIR, peer_dir / "static" / "web-assets")
        proc, url = _serve(peer_dir / "peer_polling_page.py", data, Path(tmp) / "peer.log")
        try:
            pw, browser, _ = _pages(url, PEER_PAGES)
            time.sleep(5)
            before = _cpu_seconds(proc.pid)
            time.sleep(min(IDLE_S, 30))
            peer_idle = (_cpu_seconds(proc.pid) - before) / min(IDLE_S, 30)
            browser.close()
            pw.stop()
        finally:
            _stop(proc)
        ours, peer = idle / live_pages, peer_idle / PEER_PAGES
        rows.append(
            {
                "name": f"idle server CPU per open page ({live_pages} pages)",
                "value": ours,
                "unit": "core",
                "peer": "polling page (3 s fragment)",
                "peer_value": peer,
                "ratio": peer / ours if ours else float("inf"),
            }
        )
        rows.append({"name": "idle server CPU, whole room", "value": idle, "unit": "core"})
        rows += _postgres_rows(Path(tmp))
    return rows


def _postgres_rows(tmp: Path) -> list[dict]:
    """The same room on PostgreSQL: the writes of this process reach the server's clients
    through NOTIFY (its one listening connection), as a second app process's would."""
    from benchmarks.scratch_postgres import scratch_database
    from workbench.settings import SERVER_SCRIPT

    rows: list[dict] = []
    with scratch_database() as database:
        if database is None:
            return rows
        data = tmp / "pg-data"
        os.environ["WORKBENCH_DATABASE_URL"] = database
        try:
            env = {**os.environ, "WORKBENCH_DATA_DIR": str(data)}
            subprocess.run(
                [sys.executable, "-m", "workbench", "demo"],
                env=env,
                check=True,
                stdout=subprocess.DEVNULL,
            )
            proc, url = _serve(SERVER_SCRIPT, data, tmp / "live-pg.log")
            try:
                result = _in_thread(_room_run(url, data, proc.pid, idle_s=10))
            finally:
                _stop(proc)
        finally:
            os.environ.pop("WORKBENCH_DATABASE_URL", None)
        for name, committed in (
            ("1 write/s", result["steady"]),
            (f"burst of {BURST}", result["burst"]),
        ):
            stats = _summary(_latencies(result["room"], committed))
            for key in ("p50", "p95", "max"):
                rows.append(
                    {
                        "name": f"PostgreSQL, another process writes: latency {name}, "
                        f"{CLIENTS} clients, {key}",
                        "value": stats[key],
                        "unit": "s",
                    }
                )
            rows.append(
                {
                    "name": f"PostgreSQL: deltas lost ({name})",
                    "value": stats["lost"],
                    "unit": "deliveries",
                }
            )
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
