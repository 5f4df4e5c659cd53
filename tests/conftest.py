"""Shared fixtures: every test gets its own data directory, so nothing touches a real workspace."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from workbench.settings import SHARED_GEODATA

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "data"
    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(path))
    monkeypatch.delenv("WORKBENCH_DATABASE_URL", raising=False)
    monkeypatch.delenv("WORKBENCH_CACHE_DIR", raising=False)
    return path


@pytest.fixture(autouse=True)
def _served_on_this_machine_only():
    """Pages run as under `workbench run` without --host: bound to loopback (open set-up, see
    workbench.hosting). Tests of a server reachable from elsewhere set server.address again."""
    from streamlit import config

    before = config.get_option("server.address")
    config.set_option("server.address", "127.0.0.1")
    yield
    config.set_option("server.address", before)


@pytest.fixture
def store():
    from workbench.store import open_store

    s = open_store("test", create=True)
    yield s
    s.close()


@pytest.fixture
def demo_store():
    from workbench.demo import ensure_demo

    s = ensure_demo()
    yield s
    s.close()


def shared_geodata(name: str) -> Path:
    """Path of an extract in ../shared/geodata; skips (or fails in CI) when it is missing."""
    path = SHARED_GEODATA / name
    if not path.exists():
        reason = f"real-data test needs {path} (the shared OSM extracts beside the project)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return path


@pytest.fixture(autouse=True)
def _pages_left_to_st_navigation(monkeypatch):
    """AppTest decides anew on every run whether pages/ is Streamlit's old multipage folder (it
    is not: app.py navigates with st.navigation); decide it as `workbench run` does."""
    from streamlit.runtime.pages_manager import PagesManager

    original = PagesManager.__init__

    def init(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init)
