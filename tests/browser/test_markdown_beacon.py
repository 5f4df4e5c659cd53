"""Hostile names in a real browser: every page of a workspace whose names and texts are
markdown images, links and HTML pointing at a beacon on 127.0.0.1 loads without one request to
the beacon (issue 15, item 7). A control image proves the browser would reach it."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from browser_helpers import data_dir_of_this_process, wait_for_streamlit

from tests.test_markdown_escaping import PAGES, populate

pytestmark = pytest.mark.browser


class Beacon(BaseHTTPRequestHandler):
    hits: list[str] = []

    def log_message(self, *args):
        pass

    def do_GET(self):  # noqa: N802
        Beacon.hits.append(self.path)
        self.send_response(204)
        self.end_headers()


@pytest.fixture
def beacon():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Beacon)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Beacon.hits = []
    yield f"127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def _wait_for_hit(path: str, seconds: float = 15.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if path in Beacon.hits:
            return True
        time.sleep(0.1)
    return False


def test_no_page_fetches_what_user_text_names(streamlit_server, new_page, beacon, tmp_path_factory):
    from workbench.demo import ensure_demo

    data = tmp_path_factory.mktemp("hostile-data")
    with data_dir_of_this_process(data):
        store = ensure_demo()
        lab, _note = populate(store, beacon)
        store.close()
    url = streamlit_server(env={"WORKBENCH_DATA_DIR": str(data)})
    page = new_page()
    page.set_content(f'<img src="http://{beacon}/control.png">')  # the beacon is reachable
    assert _wait_for_hit("/control.png"), Beacon.hits
    for path in PAGES:
        name = path.removeprefix("pages/").removesuffix(".py")
        page.goto(f"{url}/{name}?lab={lab.id}")
        wait_for_streamlit(page)
        page.wait_for_load_state("networkidle")
    assert Beacon.hits == ["/control.png"], Beacon.hits
    page.goto(f"{url}/export?lab={lab.id}")
    wait_for_streamlit(page)
    page.get_by_text("P ![x]", exact=False).first.wait_for()  # the snapshot expander, literal
