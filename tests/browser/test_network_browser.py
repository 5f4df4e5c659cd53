"""Learning across the network in real browsers: a peer consultation whose two guest cities
join by the link in two browser contexts and answer on the host's map, which follows live; the
host marks the question answered on the Network page; a Ukrainian reader sees the Ukrainian
translation (marked, the original one click away), a German reader the German original."""

import pytest
from browser_helpers import data_dir_of_this_process, map_frame, screenshot, wait_for_streamlit
from test_map_annotate import MUNICH_LAB, wait_for_notes

from tests.helpers import BALTIMORE_LAB

pytestmark = [pytest.mark.browser, pytest.mark.slow]
QUESTION = "Wo soll die Markthalle hin?"
PEER_QUESTION = "Wie habt ihr die Bänke finanziert?"
IN_UKRAINIAN = "Як ви профінансували лавки?"


@pytest.fixture(scope="module")
def consultation(tmp_path_factory):
    """A demo workspace with a peer consultation on the Munich lab and the host's question."""
    from shapely.geometry import Point

    from workbench.access import SYSTEM, Actor
    from workbench.demo import ensure_demo
    from workbench.model import Annotation, new_id

    data = tmp_path_factory.mktemp("network-data")
    with data_dir_of_this_process(data):
        s = ensure_demo()
        session = s.create_session(
            MUNICH_LAB, "Peer consultation", by=Actor("owner", "Host"), kind="consultation"
        )
        q = s.add_annotation(
            Annotation(
                id=new_id(),
                lab_id=MUNICH_LAB,
                geometry=Point(11.5535, 48.1862),
                category="question",
                text=QUESTION,
                author="Host team",
                lang="de",
            ),
            by=SYSTEM,
        )
        s.mark_note(q.id, "question", principles=("place_based",), by=SYSTEM)
        # a question of a lab with no session running, for the Network page's readers
        peer = s.add_annotation(
            Annotation(
                id=new_id(),
                lab_id=BALTIMORE_LAB,
                geometry=s.get_lab(BALTIMORE_LAB).boundary.representative_point(),
                category="question",
                text=PEER_QUESTION,
                author="Baltimore team",
                lang="de",
            ),
            by=SYSTEM,
        )
        s.mark_note(peer.id, "question", by=SYSTEM)
        s.add_translation(peer.id, "uk", IN_UKRAINIAN, actor="Olena", by=SYSTEM)
        token = s.join_token(session.id)
        s.close()
    return data, token, peer.id


def test_a_consultation_with_two_guest_cities_and_the_network_page(
    streamlit_server, new_page, consultation
):
    from playwright.sync_api import expect

    data, token, peer_id = consultation
    url = streamlit_server(env={"WORKBENCH_DATA_DIR": str(data)})
    host = new_page(f"{url}/map?lab={MUNICH_LAB}")
    expect(host.get_by_role("heading", name="Living-lab map")).to_be_visible(timeout=30_000)
    host_frame = map_frame(host)
    wait_for_notes(host_frame, 1)
    for city in ("Kharkiv", "Baltimore"):  # each guest city in a browser context of its own
        guest = new_page(f"{url}/join?ws=demo&t={token}&lang=en")
        expect(guest.get_by_text("Your city")).to_be_visible(timeout=30_000)
        guest.locator(".st-key-workshop_join_group input").fill(city)
        guest.get_by_role("button", name="Join and open the map").click()
        expect(guest.get_by_role("heading", name="Living-lab map")).to_be_visible(timeout=30_000)
        wait_for_streamlit(guest)
        guest.get_by_text("Add a note without the map").click()
        form = (
            guest.locator('[data-testid="stForm"]')
            .filter(has=guest.get_by_text("a point (coordinates)", exact=False))
            .first
        )
        area = form.locator("textarea")
        expect(area).to_be_visible(timeout=15_000)
        area.fill(f"{city}: beside the tram stop")
        form.get_by_role("button", name="Save").click()
        expect(guest.get_by_text(f"{city}: beside the tram stop").first).to_be_visible(
            timeout=15_000
        )
    wait_for_notes(host_frame, 3, timeout=15)  # the host's map followed both answers live
    expect(host.get_by_text("Kharkiv: beside the tram stop").first).to_be_visible(timeout=15_000)
    screenshot(host, "network_consultation_host")

    reader_uk = new_page(f"{url}/network?lang=uk")
    expect(reader_uk.get_by_text(IN_UKRAINIAN)).to_be_visible(timeout=30_000)
    expect(reader_uk.get_by_text("Olena", exact=False).first).to_be_visible()
    expect(reader_uk.get_by_text(PEER_QUESTION)).to_be_hidden()  # the original: one click away
    reader_uk.get_by_text("Оригінал (de)").first.click()
    expect(reader_uk.get_by_text(PEER_QUESTION)).to_be_visible()
    screenshot(reader_uk, "network_uk")

    reader_de = new_page(f"{url}/network?lang=de")
    expect(reader_de.get_by_text(PEER_QUESTION)).to_be_visible(timeout=30_000)
    expect(reader_de.get_by_text(QUESTION)).to_be_visible()
    expect(reader_de.get_by_text(IN_UKRAINIAN)).to_have_count(0)
    status = reader_de.locator(f".st-key-network_status_{peer_id} button")
    expect(status).to_have_text("Als beantwortet markieren")
    status.click()
    expect(status).to_have_text("Frage wieder öffnen", timeout=15_000)
    expect(reader_de.get_by_text("Frage an die anderen · beantwortet").first).to_be_visible()
    screenshot(reader_de, "network_de_answered")
