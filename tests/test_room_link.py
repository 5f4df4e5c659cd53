"""The address of join links and QR codes (issue 12): one a room can reach, or a plain word
that only this machine can."""

from urllib.parse import urlsplit

import pytest
from streamlit import config

from tests.test_workshop_pages import FAC, LAB, PASSCODE, app, submit
from workbench.access import SYSTEM


@pytest.mark.parametrize(
    "browser, listen, public, ip, expected, reachable",
    [
        # opened at localhost on a server of every interface: the machine's network address
        (
            "http://localhost:8501/workshop",
            "0.0.0.0",
            None,
            "192.168.1.20",
            "http://192.168.1.20:8501",
            True,
        ),
        ("http://127.0.0.1:8080/workshop", "", None, "10.0.0.5", "http://10.0.0.5:8080", True),
        # bound to one address: that one
        ("http://localhost:8501/", "192.168.1.30", None, None, "http://192.168.1.30:8501", True),
        ("http://[::1]:8501/", "fd00::7", None, None, "http://[fd00::7]:8501", True),
        # opened at an address the room reaches already: kept
        (
            "https://workshop.example.org/workshop",
            "0.0.0.0",
            None,
            "10.0.0.5",
            "https://workshop.example.org",
            True,
        ),
        # WORKBENCH_PUBLIC_URL wins
        (
            "http://localhost:8501/",
            "127.0.0.1",
            "https://lab.city.de",
            None,
            "https://lab.city.de",
            True,
        ),
        # served to this machine only, or no network address: loopback, and said so
        (
            "http://localhost:8501/",
            "127.0.0.1",
            None,
            "192.168.1.20",
            "http://localhost:8501",
            False,
        ),
        ("http://localhost:8501/", "0.0.0.0", None, None, "http://localhost:8501", False),
    ],
)
def test_the_room_address_for_join_links(browser, listen, public, ip, expected, reachable):
    from workbench.workshop import room_base

    assert room_base(browser, listen, 8501 if "8501" in browser else 8080, public, ip) == (
        expected,
        reachable,
    )


@pytest.mark.parametrize("listen, warned", [("127.0.0.1", True), ("0.0.0.0", False)])
def test_the_workshop_page_links_to_the_network_address_or_warns(
    demo_store, monkeypatch, listen, warned
):
    from streamlit import net_util

    monkeypatch.setattr(net_util, "get_internal_ip", lambda: "192.168.1.20")
    config.set_option("server.address", listen)
    demo_store.set_passcode("owner", PASSCODE, by=SYSTEM)
    demo_store.create_session(LAB, "Workshop", by=FAC)
    at = app("pages/workshop.py")
    at.text_input(key="workshop_passcode").set_value(PASSCODE)
    submit(at, "workshop_signin_form")
    link = next(c.value for c in at.code if "/join?" in c.value)
    host = urlsplit(link).hostname
    warnings = [w.value for w in at.warning if "this computer only" in w.value]
    if warned:
        assert host in ("localhost", "127.0.0.1") and warnings
    else:
        assert host == "192.168.1.20" and not warnings
