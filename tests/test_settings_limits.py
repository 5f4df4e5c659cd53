"""Every limit, precision and colour lives in ``workbench.settings`` (colours in
``workbench.palette``, re-exported there): the library refuses past a limit, the widgets and the
CLI offer exactly up to it, and no module writes its own copy."""

from __future__ import annotations

import re

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from tests.conftest import PROJECT_ROOT
from workbench import palette, settings
from workbench.cli import build_parser
from workbench.errors import ValidationError
from workbench.opendata.osm import clip_area

LAB = "e6dccaee-317d-4c62-995e-99f99acfc2b5"  # a demo lab
PASSCODE = "correct horse battery"


@pytest.fixture(autouse=True)
def fresh_store_cache():
    st.cache_resource.clear()
    yield
    st.cache_resource.clear()


def _page(page: str) -> AppTest:
    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=60)
    at.session_state["lab_id"] = LAB
    at.run()
    at.switch_page(page)
    at.run()
    assert not at.exception, at.exception
    return at


def _submit(at: AppTest, form: str) -> None:
    next(b for b in at.button if (b.key or "").startswith(f"FormSubmitter:{form}-")).click()
    at.run()
    assert not at.exception, at.exception


# ---- the buffer: one limit for the library, the CLI and the data-layers page ---------------------
def test_the_library_takes_the_buffer_up_to_the_limit_and_no_further(demo_store):
    boundary = demo_store.get_lab(LAB).boundary
    assert clip_area(boundary, settings.MAX_BUFFER_M).area > boundary.area
    with pytest.raises(ValidationError) as err:
        clip_area(boundary, settings.MAX_BUFFER_M + 1)
    assert err.value.key == "opendata.buffer_range"
    assert err.value.params["limit"] == settings.MAX_BUFFER_M


@pytest.mark.parametrize("command", [["osm", "import", "x.osm"], ["osm", "fetch"]])
def test_the_cli_buffer_default_and_help_are_the_settings(command):
    parser = build_parser()
    args = parser.parse_args([*command, "--lab", LAB])
    assert args.buffer == settings.DEFAULT_BUFFER_M
    sub = parser._subparsers._group_actions[0].choices["osm"]  # noqa: SLF001 - argparse's tree
    action = next(
        a
        for a in sub._subparsers._group_actions[0].choices[command[1]]._actions
        if "--buffer" in a.option_strings
    )
    assert f"0 to {settings.MAX_BUFFER_M} " in action.help


def test_the_layers_page_offers_the_buffer_up_to_the_limit(demo_store):
    buffer = _page("pages/layers.py").number_input(key="layers_buffer")
    assert (buffer.min, buffer.max, buffer.value) == (
        0,
        settings.MAX_BUFFER_M,
        settings.DEFAULT_BUFFER_M,
    )


# ---- the workshop page's inputs: the store's limits ---------------------------------------------
def test_the_workshop_page_offers_the_stores_limits(demo_store):
    at = _page("pages/workshop.py")
    at.text_input[0].set_value(PASSCODE)
    at.text_input[1].set_value(PASSCODE)
    _submit(at, "workshop_setup_form")
    hours = next(n for n in at.number_input if n.label == "Join link valid for (hours)")
    assert (hours.min, hours.max, hours.value) == (
        1,
        settings.MAX_SESSION_HOURS,
        settings.DEFAULT_SESSION_HOURS,
    )
    _submit(at, "workshop_create_form")
    minutes = at.number_input(key="workshop_round_minutes")
    assert (minutes.min, minutes.max, minutes.value) == (
        0,
        settings.MAX_ROUND_MINUTES,
        settings.DEFAULT_ROUND_MINUTES,
    )
    votes = at.number_input(key="workshop_vote_limit")
    assert (votes.min, votes.max) == (settings.MIN_VOTE_LIMIT, settings.MAX_VOTE_LIMIT)


def test_the_store_refuses_a_vote_limit_past_the_settings(demo_store):
    from workbench.access import SYSTEM

    demo_store.set_vote_limit(LAB, settings.MAX_VOTE_LIMIT, by=SYSTEM)
    assert demo_store.vote_limit(LAB) == settings.MAX_VOTE_LIMIT
    for bad in (settings.MIN_VOTE_LIMIT - 1, settings.MAX_VOTE_LIMIT + 1):
        with pytest.raises(ValidationError):
            demo_store.set_vote_limit(LAB, bad, by=SYSTEM)


# ---- no copies: the values are written once ------------------------------------------------------
SOURCES = [p for folder in ("workbench", "pages") for p in (PROJECT_ROOT / folder).rglob("*.py")]


def _sources_except(*names: str) -> list[tuple[str, str]]:
    skip = {PROJECT_ROOT / "workbench" / n for n in names}
    return [
        (str(p.relative_to(PROJECT_ROOT)), p.read_text(encoding="utf-8"))
        for p in SOURCES
        if p not in skip
    ]


# A dead name the store's rewrite removes (issue 16); nothing reads it.
DEAD = {"workbench/store/annotations.py": {"#56B4E9", "#F0E442", "#000000"}}


def test_each_palette_colour_is_written_only_in_the_palette():
    colours = {c.lower() for c in palette.OKABE_ITO.values()} | {
        c.lower() for c in palette.THEME_COLOURS.values()
    }
    found = []
    for path, text in _sources_except("palette.py"):
        for hit in re.findall(r"#[0-9a-fA-F]{6}\b", text):
            if hit.lower() in colours and hit not in DEAD.get(path, ()):
                found.append((path, hit))
    assert not found, found


def test_the_coordinate_precision_is_written_only_in_the_settings():
    found = [
        (path, m)
        for path, text in _sources_except("settings.py")
        for m in re.findall(r"rounding_precision=\d+|round\([^()]*\b, [67]\)", text)
    ]
    assert not found, found


def test_widgets_write_no_limit_of_their_own():
    """A number input's bounds and a text input's length come from the settings."""
    found = [
        (path, m)
        for path, text in _sources_except()
        if path.startswith("pages/")
        for m in re.findall(r"number_input\([^)]*?[(,]\s*\d+, \d+[,)]|max_chars=\d{2,}", text)
    ]
    assert not found, found
