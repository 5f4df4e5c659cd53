"""Floor 4 of the tests: the app served by `streamlit run`, driven by Playwright in Chromium.

Fixtures (see README.md in this folder):
  web_assets          session  {CDN URL: local file}, fetched with scripts/fetch_web_assets.py
  chromium_path       session  path of Debian's Chromium
  browser             session  headless playwright Browser
  streamlit_server    session  start(script=APP_ENTRY, env=None) -> base URL (one server per
                               script and env, stopped at the end of the session)
  app_server          session  base URL of the real app (APP_ENTRY)
  new_page            function make(url=None) -> Page, offline: CDN URLs answered from
                               web_assets, every other non-local request aborted
  blocked_requests    function list of the URLs new_page's pages aborted

Without Chromium, Playwright or the assets the tests skip, except with CI=true: there they fail.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Generator
from pathlib import Path
from typing import NoReturn

import pytest

from workbench.cli import streamlit_flags
from workbench.settings import WEB_ASSETS_DIR

ROOT = Path(__file__).resolve().parents[2]
APP_ENTRY = ROOT / "workbench" / "ui" / "server.py"  # as `workbench run` serves it (st.App)
ASSETS_DIR = WEB_ASSETS_DIR
FETCH_SCRIPT = ROOT / "scripts" / "fetch_web_assets.py"
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", shutil.which("chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-sync",
]
STREAMLIT_FLAGS = {
    "server.headless": "true",
    "server.address": "127.0.0.1",
    "server.fileWatcherType": "none",
    "browser.gatherUsageStats": "false",
}
VIEWPORT = {"width": 1400, "height": 900}
SERVER_START_TIMEOUT = 60.0
# Not inherited by the server, so that it keeps everything in its fresh WORKBENCH_DATA_DIR.
WORKBENCH_ENV_DROPPED = ("WORKBENCH_DATABASE_URL", "WORKBENCH_CACHE_DIR")
# Set for every server: a bad message key or placeholder on a page raises (workbench.i18n), as in
# the other tests, instead of being logged and shown as the raw key.
SERVER_ENV = {"WORKBENCH_I18N_STRICT": "1"}
# What a server logs for an uncaught exception: Streamlit logs "Uncaught app execution" with the
# traceback (before the page shows its exception box), Tornado and asyncio log theirs with one.
SERVER_ERROR = re.compile(r"Traceback \(most recent call last\)|MessageError")
#: Log of every server started in this session → its URL (see pytest_runtest_call).
SERVER_LOGS: dict[Path, str] = {}
# Requests to anything but this machine: answered from web_assets or aborted.
NOT_LOCAL = re.compile(r"^(?!https?://(127\.0\.0\.1|localhost|\[::1\])[:/])")
CONTENT_TYPES = {
    ".js": "application/javascript",
    ".css": "text/css",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".ttf": "font/ttf",
    ".eot": "application/vnd.ms-fontobject",
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives the app in headless Chromium")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    """A test that passed fails when a server logged an uncaught exception while it ran (a
    strict-i18n MessageError included): the page may only show it in an exception box the test
    never looks at. A test that failed (often waiting for what the error stopped) keeps its
    failure, with the error shown in a "server log" section of its report."""
    before = {log: log.stat().st_size for log in SERVER_LOGS}
    try:
        result = yield
    except BaseException:
        for problem in _server_errors(before):
            item.add_report_section("call", "server log", problem)
        raise
    problems = _server_errors(before)
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)
    return result


def _server_errors(before: dict[Path, int]) -> list[str]:
    """What each server logged since ``before`` (log → size) around its first error."""
    problems = []
    for log, url in SERVER_LOGS.items():
        with log.open("rb") as fh:
            fh.seek(before.get(log, 0))  # a server started by this test: its whole log
            added = fh.read().decode("utf-8", errors="replace")
        found = SERVER_ERROR.search(added)
        if found:
            excerpt = added[max(0, found.start() - 500) : found.start() + 4000]
            problems.append(
                f"the server at {url} logged an error during the test ({log}):\n{excerpt}"
            )
    return problems


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:  # every test that (through new_page, ...) needs the browser
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)


def unavailable(reason: str) -> NoReturn:
    """Skip, or fail when CI=true: in CI the browser tests must run."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"browser tests cannot run in CI: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def web_assets() -> dict[str, Path]:
    detail = ""
    if shutil.which("npm"):  # the script does nothing when the assets are up to date
        run = subprocess.run(
            [sys.executable, str(FETCH_SCRIPT), str(ASSETS_DIR)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        detail = (run.stdout + run.stderr).strip() if run.returncode else ""
    else:
        detail = "npm not found to fetch them"
    manifest = ASSETS_DIR / "manifest.json"
    if not manifest.is_file():
        unavailable(
            f"no offline web assets in {ASSETS_DIR} (run scripts/fetch_web_assets.py): {detail}"
        )
    assets = json.loads(manifest.read_text())["assets"]
    return {url: ASSETS_DIR / entry["file"] for url, entry in assets.items()}


@pytest.fixture(scope="session")
def chromium_path() -> str:
    for candidate in CHROMIUM_CANDIDATES:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    unavailable("no Chromium at /usr/bin/chromium or on PATH (apt-get install chromium)")


@pytest.fixture(scope="session")
def browser(chromium_path, web_assets):
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("Playwright for Python is not installed (pip install -e '.[test]')")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_healthy(proc: subprocess.Popen, url: str, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(
                f"streamlit exited with {proc.returncode}:\n{log.read_text()[-3000:]}",
                pytrace=False,
            )
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    pytest.fail(
        f"streamlit not healthy after {SERVER_START_TIMEOUT:.0f} s:\n{log.read_text()[-3000:]}",
        pytrace=False,
    )


@pytest.fixture(scope="session")
def streamlit_server(browser, tmp_path_factory):
    """start(script=APP_ENTRY, env=None) -> base URL, e.g. "http://127.0.0.1:40123".

    Each server gets a fresh, empty WORKBENCH_DATA_DIR (and no WORKBENCH_DATABASE_URL or
    WORKBENCH_CACHE_DIR from the environment) and WORKBENCH_I18N_STRICT=1; `env` adds or
    overrides variables. A test fails when a server logs a traceback while it runs.
    Asking twice for the same script and env returns the running server.
    """
    servers: dict[tuple, tuple[str, subprocess.Popen]] = {}

    def start(script: str | Path = APP_ENTRY, env: dict[str, str] | None = None) -> str:
        script = ROOT / script  # relative to the repo root; an absolute path stays as it is
        key = (script, tuple(sorted((env or {}).items())))
        if key in servers:
            return servers[key][0]
        if not script.is_file():
            unavailable(f"entry script {script} does not exist")
        workdir = tmp_path_factory.mktemp("streamlit")
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        log = workdir / "server.log"
        flags = {**STREAMLIT_FLAGS, "server.port": port}
        # As `workbench run` serves the app: streamlit_config.toml applied, pages/ left to
        # st.navigation (see workbench.ui.launch.serve).
        args = ["run", str(script), *streamlit_flags()]
        args += [f"--{name}={value}" for name, value in flags.items()]
        command = [
            sys.executable,
            "-c",
            "import sys; from workbench.cli import serve; sys.exit(serve(sys.argv[1:]))",
            *args,
        ]
        server_env = {k: v for k, v in os.environ.items() if k not in WORKBENCH_ENV_DROPPED}
        server_env.update(
            {**SERVER_ENV, "WORKBENCH_DATA_DIR": str(workdir / "data"), **(env or {})}
        )
        with log.open("w") as out:
            proc = subprocess.Popen(
                command, cwd=ROOT, env=server_env, stdout=out, stderr=subprocess.STDOUT
            )
        servers[key] = (url, proc)
        SERVER_LOGS[log] = url
        _wait_healthy(proc, url, log)
        return url

    yield start
    for _, proc in servers.values():
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def app_server(streamlit_server) -> str:
    """Base URL of the real app, served from APP_ENTRY."""
    return streamlit_server(APP_ENTRY)


@pytest.fixture
def blocked_requests() -> list[str]:
    return []


@pytest.fixture
def new_page(browser, web_assets, blocked_requests):
    """make(url=None) -> Page in a fresh offline context; goes to url when given."""
    contexts = []

    def serve_offline(route):
        url = route.request.url.split("#")[0].split("?")[0]
        path = web_assets.get(url)
        if path is None:
            blocked_requests.append(route.request.url)
            route.abort()
            return
        route.fulfill(
            path=path,
            content_type=CONTENT_TYPES.get(path.suffix, "application/octet-stream"),
            headers={"Access-Control-Allow-Origin": "*"},  # fonts are loaded with CORS
        )

    def make(url: str | None = None):
        context = browser.new_context(viewport=VIEWPORT)
        contexts.append(context)
        context.route(NOT_LOCAL, serve_offline)
        page = context.new_page()
        if url:
            page.goto(url)
        return page

    yield make
    for context in contexts:
        context.close()
