"""Two app processes, one PostgreSQL database, one live room: a note drawn on a page served by
process A appears on a page served by process B without a reload (PostgreSQL LISTEN/NOTIFY
wakes B's live channel; each process keeps one listening connection)."""

import time

import pytest
from browser_helpers import map_frame, screenshot
from test_map_annotate import LIVE_BOUND_S, MUNICH_LAB, draw_polygon, wait_for_notes


@pytest.fixture
def shared_database(tmp_path):
    from tests.conftest import drop_postgres_database, postgres_database

    url = postgres_database()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("WORKBENCH_DATABASE_URL", url)
        env.setenv("WORKBENCH_DATA_DIR", str(tmp_path / "seed"))
        from workbench.demo import ensure_demo

        ensure_demo(on_purpose=True).close()  # `workbench demo` into the database, on purpose
        from workbench.store import _catalog_engines

        for engine in _catalog_engines.values():
            engine.dispose()
        _catalog_engines.clear()
    yield url
    drop_postgres_database(url)


@pytest.mark.browser
def test_a_note_drawn_on_process_a_reaches_process_b(streamlit_server, new_page, shared_database):
    from playwright.sync_api import expect

    a = streamlit_server(env={"WORKBENCH_DATABASE_URL": shared_database, "WB_PROCESS": "A"})
    b = streamlit_server(env={"WORKBENCH_DATABASE_URL": shared_database, "WB_PROCESS": "B"})
    assert a != b
    pages = []
    for base in (a, b):
        page = new_page(f"{base}/map?lab={MUNICH_LAB}")
        expect(page.get_by_role("heading", name="Living-lab map")).to_be_visible(timeout=30_000)
        expect(page.get_by_text("● Live").first).to_be_attached(timeout=15_000)
        pages.append(page)
    page_a, page_b = pages
    frame_a, frame_b = map_frame(page_a), map_frame(page_b)
    wait_for_notes(frame_b, 0)

    draw_polygon(page_a, frame_a)
    text = page_a.locator(".st-key-annotate_new_text textarea")
    expect(text).to_be_visible(timeout=15_000)
    text.fill("Seen from the other process")
    page_a.locator(".st-key-annotate_new_author input").fill("Group A")
    page_a.locator('[data-testid="stForm"]', has=text).get_by_role("button", name="Save").click()
    saved = time.monotonic()
    wait_for_notes(frame_b, 1, timeout=15)
    seen = time.monotonic() - saved
    expect(page_b.get_by_text("Group A").first).to_be_visible(timeout=15_000)
    screenshot(page_b, "map_process_b_live")
    print(f"process B showed the note {seen:.2f} s after the save")
    assert seen < LIVE_BOUND_S, f"process B showed the note after {seen:.2f} s"
