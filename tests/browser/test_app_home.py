"""The real app in a browser: the overview map renders offline, the language switch and the
choice of a living lab carry across pages."""

import pytest
from browser_helpers import map_frame, screenshot, unexpected_requests, wait_for_streamlit

from tests.helpers import MUNICH_LAB


@pytest.mark.browser
def test_home_map_language_and_lab_choice(app_server, new_page, blocked_requests):
    from playwright.sync_api import expect

    page = new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(app_server)
    wait_for_streamlit(page)
    expect(page.get_by_role("heading", name="Living labs across the networks")).to_be_visible()
    frame = map_frame(page)
    # Leaflet & co. come from the app's own server (static/web-assets), not from a CDN
    assert any("/app/static/web-assets/" in url and url.endswith("leaflet.js") for url in requested)
    assert [u for u in requested if not u.startswith(app_server) and "tile." not in u] == []
    # one circle marker and one outline per demo site, drawn by Leaflet in the frame
    expect(frame.locator("path.leaflet-interactive")).to_have_count(18, timeout=15_000)
    attribution = frame.locator(".leaflet-control-attribution").inner_text()
    assert "OpenStreetMap contributors" in attribution
    screenshot(page, "home_en")

    page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').first.click()
    page.get_by_role("option", name="Deutsch").click()
    expect(page.get_by_role("heading", name="Reallabore in den Netzwerken")).to_be_visible()
    wait_for_streamlit(page)
    map_frame(page)  # the map is still there after the rerun

    button = page.locator(f".st-key-choose_{MUNICH_LAB} button")
    expect(button).to_have_text("Dieses Reallabor öffnen")
    button.click()  # opens the lab's map (issue 12), not only marks the card
    expect(page.get_by_role("heading", name="Karte des Reallabors")).to_be_visible(timeout=15_000)
    assert f"lab={MUNICH_LAB}" in page.url and "/map" in page.url
    wait_for_streamlit(page)

    page.get_by_role("link", name="Einrichten").click()
    expect(
        page.get_by_role("heading", name="Netzwerke, Städte und Reallabore einrichten")
    ).to_be_visible()
    wait_for_streamlit(page)
    expect(page.get_by_label("Titel")).to_have_value(
        "Milbertshofen: a neighbourhood centre for all generations"
    )
    screenshot(page, "setup_de")
    assert unexpected_requests(blocked_requests) == []


@pytest.mark.browser
def test_a_link_to_a_page_opens_it_inside_the_app(streamlit_server, new_page):
    """A join or share link (/map?lab=…) on a fresh server runs the page inside app.py: the
    sidebar is there and the link's living lab is chosen."""
    from playwright.sync_api import expect

    # a fresh server
    base = streamlit_server("workbench/ui/server.py", env={"WORKBENCH_DEEP_LINK_TEST": "1"})
    page = new_page(f"{base}/map?lab={MUNICH_LAB}")
    wait_for_streamlit(page)
    sidebar = page.locator('[data-testid="stSidebar"]')
    expect(sidebar.get_by_text("Language · Sprache · Мова")).to_be_visible()
    screenshot(page, "deep_link_map")
    main = page.locator('[data-testid="stMain"]')
    expect(main.get_by_text("Milbertshofen: a neighbourhood centre").first).to_be_visible()
    expect(main.get_by_role("heading", name="Living-lab map")).to_be_visible()
    map_frame(page)
    page.reload()
    wait_for_streamlit(page)
    expect(main.get_by_text("Milbertshofen: a neighbourhood centre").first).to_be_visible()
    assert "/map" in page.url
