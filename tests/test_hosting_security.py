"""Hosting safely (issue 15, items 2, 3, 5 and 6): workspaces are names, never paths, and are not
created from a URL; only the operator creates workspaces and sets a first owner passcode (set-up
token, or open set-up on loopback); passcode guesses are checked and counted in one write, per
client, also under parallel guessing at the end of a lock; a group is created once, its name
compared after Unicode normalisation."""

from __future__ import annotations

import io
import multiprocessing
import stat
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
import streamlit as st
from sqlalchemy import create_engine, func, select
from streamlit import config
from streamlit.testing.v1 import AppTest

from tests.conftest import PROJECT_ROOT
from tests.helpers import MUNICH_LAB, OTHER_LAB
from tests.test_workshop_pages import submit
from workbench import access, hosting, settings
from workbench.access import GROUP_COLOURS, SYSTEM, Actor, group_key, same_group
from workbench.errors import (
    NotFoundError,
    PermissionDenied,
    StoreBusy,
    ValidationError,
    WorkbenchError,
)
from workbench.model import utcnow
from workbench.settings import check_workspace_name, database_url, setup_token_path
from workbench.store import list_workspaces, open_store
from workbench.store.schema import workshop_members

LAB = MUNICH_LAB
PASSCODE = "correct horse battery"
FAC = Actor("facilitator", "Fac")
BLUE = GROUP_COLOURS["blue"]
HOSTILE_NAMES = [
    "../../x",
    "/tmp/x",
    "..",
    "a/b",
    "a\\b",
    "x.sqlite",
    "Demo",
    "",
    "-x",
    "_x",
    "a" * 41,
    "demo\x00",
    "ﬁle",
    "dеmo",
    " demo",
    "demo\n",
    "%2e%2e%2fx",
    "~x",
]


@pytest.fixture(autouse=True)
def fresh_store_cache():
    st.cache_resource.clear()
    yield
    st.cache_resource.clear()


@pytest.fixture
def public_server():
    """The app as served with `--host 0.0.0.0` (reachable from other machines)."""
    config.set_option("server.address", "0.0.0.0")
    yield


def sqlite_files(root: Path) -> set[Path]:
    return {p.resolve() for p in root.rglob("*.sqlite")}


# ---- 2. workspaces by name only -----------------------------------------------------------------
@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_workspace_names_are_refused_everywhere(name, data_dir, tmp_path):
    with pytest.raises(ValidationError) as exc:
        check_workspace_name(name)
    assert exc.value.key == "hosting.error.workspace_name"
    assert "lower-case letters" in exc.value.message("en")
    with pytest.raises(ValidationError):
        database_url(name)
    for create in (False, True):
        with pytest.raises(ValidationError):
            open_store(name, create=create)
    assert sqlite_files(tmp_path) == set()
    assert not Path("/tmp/x.sqlite").exists()


def test_good_names_pass_and_unknown_ones_are_not_created(data_dir):
    for name in ("demo", "munich-2026", "a", "x_1", "a" * 40):
        assert check_workspace_name(name) == name
    with pytest.raises(NotFoundError) as exc:
        open_store("nothere")
    assert exc.value.key == "hosting.error.workspace_unknown"
    assert not (data_dir / "workspaces" / "nothere.sqlite").exists()
    open_store("made", create=True).close()
    assert open_store("made").version > 0  # exists now: opened
    # a file of another name in the folder is not a workspace
    (data_dir / "workspaces" / "Evil.sqlite").write_bytes(b"")
    (data_dir / "workspaces" / "a.b.sqlite").write_bytes(b"")
    assert list_workspaces() == ["made"]


@pytest.mark.parametrize("asked", ["../../x", "/tmp/x", "never-made"])
def test_a_url_naming_a_path_or_unknown_workspace_falls_back_to_demo(asked, data_dir, tmp_path):
    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=60)
    at.query_params["ws"] = asked
    at.run()
    assert not at.exception, at.exception
    assert at.session_state["workspace"] == "demo"
    warning = " ".join(w.value for w in at.warning).replace("\\", "")
    assert "the demo workspace is shown instead" in warning
    assert sqlite_files(tmp_path) == {(data_dir / "workspaces" / "demo.sqlite").resolve()}
    assert not Path("/tmp/x.sqlite").exists()


@pytest.mark.parametrize("asked", ["../../etc/passwd", OTHER_LAB, "<b>x</b>"])
def test_a_url_naming_an_unknown_lab_says_so_and_shows_none(asked, demo_store):
    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=60)
    at.query_params["lab"] = asked
    at.run()
    assert not at.exception, at.exception
    assert at.session_state["lab_id"] is None
    assert any("not in this workspace" in w.value for w in at.warning)
    at.run()  # said once: the choice is cleared
    assert not any("not in this workspace" in w.value for w in at.warning)


def test_switching_workspace_drops_the_lab_choice_quietly(demo_store):
    open_store("other", create=True).close()
    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=60)
    at.query_params["lab"] = MUNICH_LAB
    at.run()
    assert at.session_state["lab_id"] == MUNICH_LAB
    workspace = next(b for b in at.sidebar.selectbox if "other" in b.options)
    workspace.set_value("other").run()
    assert not at.exception, at.exception
    assert at.session_state["workspace"] == "other" and at.session_state["lab_id"] is None
    assert not any("not in this workspace" in w.value for w in at.warning)


def test_cli_workspace_uses_the_same_validator(capsys, data_dir):
    from workbench.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["labs", "--workspace", "../../x"])
    assert exc.value.code == 2
    assert "lower-case letters" in capsys.readouterr().err
    assert sqlite_files(data_dir.parent) == set()


# ---- 3. only the operator claims a workspace -----------------------------------------------------
def test_a_visitor_cannot_set_the_first_passcode_of_an_open_workspace(demo_store):
    with pytest.raises(PermissionDenied) as exc:
        demo_store.set_passcode("owner", "i own this now")
    assert exc.value.key == "hosting.error.operator_only"
    with pytest.raises(PermissionDenied):  # nor give themselves a single-sign-on role
        demo_store.set_member_role("me@example.org", "owner", by=None)
    assert not demo_store.is_protected()
    demo_store.set_passcode("owner", PASSCODE, by=SYSTEM)  # the operator can
    assert demo_store.is_protected()


@pytest.mark.parametrize(
    "host, wanted, is_open",
    [
        ("127.0.0.1", None, True),
        ("localhost", None, True),
        ("::1", None, True),
        ("127.0.0.1", "0", False),
        ("0.0.0.0", None, False),
        ("0.0.0.0", "1", False),
        ("::", "1", False),
        (None, "1", False),
        ("192.168.1.20", "1", False),
    ],
)
def test_open_setup_only_on_loopback(host, wanted, is_open, monkeypatch):
    if wanted is None:
        monkeypatch.delenv("WORKBENCH_OPEN_SETUP", raising=False)
    else:
        monkeypatch.setenv("WORKBENCH_OPEN_SETUP", wanted)
    assert hosting.open_setup(host) is is_open
    if is_open:
        assert hosting.operator(None, host) is SYSTEM
    else:
        with pytest.raises(PermissionDenied) as exc:
            hosting.operator(None, host)
        assert exc.value.key == "hosting.error.token_needed"


def test_a_public_address_switches_open_setup_off(monkeypatch):
    """Behind a reverse proxy the app listens on loopback, but is reached from anywhere."""
    monkeypatch.delenv("WORKBENCH_OPEN_SETUP", raising=False)
    monkeypatch.setenv("WORKBENCH_PUBLIC_URL", "https://workbench.example.org")
    assert hosting.open_setup("127.0.0.1") is False


def test_setup_token_is_one_time_hashed_and_expires(data_dir):
    token = hosting.issue_setup_token()
    path = setup_token_path()
    assert token not in path.read_text() and stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(PermissionDenied) as exc:
        hosting.operator("not the token", "0.0.0.0")
    assert exc.value.key == "hosting.error.token_wrong"
    assert hosting.operator(token, "0.0.0.0") is SYSTEM
    with pytest.raises(PermissionDenied):  # used up
        hosting.operator(token, "0.0.0.0")
    old = hosting.issue_setup_token()
    newer = hosting.issue_setup_token()  # a new one replaces the old
    with pytest.raises(PermissionDenied):
        hosting.use_setup_token(old)
    with pytest.raises(PermissionDenied) as exc:
        hosting.use_setup_token(newer, now=utcnow() + timedelta(days=2))
    assert exc.value.key == "hosting.error.token_expired"


def test_parallel_uses_of_one_token_grant_once(data_dir):
    token = hosting.issue_setup_token()
    barrier = threading.Barrier(16)

    def use(_):
        barrier.wait()
        try:
            hosting.use_setup_token(token)
            return "granted"
        except PermissionDenied:
            return "refused"

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(use, range(16)))
    assert results.count("granted") == 1


def test_creating_a_workspace_beyond_loopback_needs_the_token(data_dir):
    with pytest.raises(PermissionDenied):
        hosting.create_workspace("team", PASSCODE, None, "0.0.0.0")
    assert not (data_dir / "workspaces" / "team.sqlite").exists()
    token = hosting.issue_setup_token()
    with pytest.raises(ValidationError):  # a short passcode is refused before the token is used
        hosting.create_workspace("team", "short", token, "0.0.0.0")
    with pytest.raises(ValidationError):  # beyond loopback a passcode is required
        hosting.create_workspace("team", "", token, "0.0.0.0")
    with pytest.raises(ValidationError):
        hosting.create_workspace("../team", PASSCODE, token, "0.0.0.0")
    store = hosting.create_workspace("team", PASSCODE, token, "0.0.0.0")
    assert store.is_protected() and store.sign_in(PASSCODE, "c").role == "owner"
    with pytest.raises(PermissionDenied):  # the token is used up
        hosting.create_workspace("team2", PASSCODE, token, "0.0.0.0")
    with pytest.raises(ValidationError) as exc:
        hosting.create_workspace("team", PASSCODE, None, "127.0.0.1")
    assert exc.value.key == "hosting.error.workspace_exists"
    assert hosting.create_workspace("local", "", None, "127.0.0.1").is_protected() is False
    assert list_workspaces() == ["local", "team"]


def workshop_page() -> AppTest:
    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=60)
    at.session_state["lab_id"] = LAB
    at.run()
    at.switch_page("pages/workshop.py")
    at.run()
    assert not at.exception, at.exception
    return at


def test_first_passcode_on_a_public_server_needs_the_token(demo_store, public_server):
    at = workshop_page()
    at.text_input[0].set_value("i own this now")
    at.text_input[1].set_value("i own this now")
    submit(at, "workshop_setup_form")
    assert "enter the set-up token" in " ".join(e.value for e in at.error)
    assert not demo_store.is_protected()
    token = hosting.issue_setup_token()
    at.text_input[0].set_value(PASSCODE)
    at.text_input[1].set_value(PASSCODE)
    at.text_input(key="workshop_setup_token").set_value(token)
    submit(at, "workshop_setup_form")
    assert "Signed in" in " ".join(c.value for c in at.caption).replace("\\", "")
    assert demo_store.sign_in(PASSCODE, "c").role == "owner"


def test_on_a_public_server_an_open_workspace_is_read_only(demo_store, public_server):
    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=60)
    at.session_state["lab_id"] = LAB
    at.run()
    at.switch_page("pages/setup.py")
    at.run()
    assert any("You can look at the set-up" in i.value for i in at.info)


def test_setup_page_creates_a_workspace_with_the_token(demo_store, public_server, data_dir):
    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=60)
    at.run()
    at.switch_page("pages/setup.py")
    at.run()
    at.text_input(key="workspace_new_name").set_value("riverside")
    at.text_input(key="workspace_new_passcode").set_value(PASSCODE)
    at.text_input(key="workspace_new_token").set_value("guessed")
    submit(at, "workspace_new_form")
    assert "not valid" in " ".join(e.value for e in at.error)
    assert "riverside" not in list_workspaces()
    at.text_input(key="workspace_new_token").set_value(hosting.issue_setup_token())
    submit(at, "workspace_new_form")
    assert at.session_state["workspace"] == "riverside"
    assert open_store("riverside").is_protected()


def test_cli_passcode_set_reset_and_setup_token(demo_store, monkeypatch, capsys):
    from workbench.cli import main, setup_notice

    monkeypatch.setattr("sys.stdin", io.StringIO(PASSCODE + "\n"))
    assert main(["passcode", "set", "--workspace", "demo"]) == 0
    assert demo_store.sign_in(PASSCODE, "c").role == "owner"
    for _ in range(settings.FREE_ATTEMPTS):
        with pytest.raises(PermissionDenied):
            demo_store.sign_in("wrong guess", "c")
    assert main(["passcode", "reset", "--workspace", "demo"]) == 0
    assert not demo_store.is_protected()
    monkeypatch.setattr("sys.stdin", io.StringIO("another passcode\n"))
    assert main(["passcode", "set", "--workspace", "demo"]) == 0
    assert demo_store.sign_in("another passcode", "c").role == "owner"  # attempts cleared too
    capsys.readouterr()
    assert main(["setup-token"]) == 0
    token = capsys.readouterr().out.strip().rsplit(" ", 1)[-1]
    assert hosting.operator(token, "0.0.0.0") is SYSTEM
    assert "without a token" in setup_notice("127.0.0.1")
    demo_store.reset_passcodes(by=SYSTEM)
    notice = setup_notice("0.0.0.0")
    assert "set-up token" in notice and "“demo” has no owner passcode" in notice
    printed = notice.splitlines()[0].rsplit(" ", 1)[-1]
    hosting.use_setup_token(printed)


def test_workbench_run_listens_on_loopback_by_default():
    from workbench.cli import streamlit_args

    assert "--server.address=127.0.0.1" in streamlit_args(None, None)
    assert "--server.address=0.0.0.0" in streamlit_args("0.0.0.0", None)


# ---- 5. the passcode rate limit under parallel guesses -------------------------------------------
def locked_client(s, now):
    """A client that just used its free attempts: locked for 2 s from ``now``."""
    for _ in range(settings.FREE_ATTEMPTS):
        with pytest.raises(PermissionDenied):
            s.sign_in("wrong guess", "attacker", now=now)
    with pytest.raises(PermissionDenied) as exc:
        s.sign_in("wrong guess", "attacker", now=now)
    assert exc.value.key == "workshop.error.wait"
    return now + timedelta(seconds=2, milliseconds=1)  # the moment the lock has ended


def test_parallel_guesses_at_the_lock_boundary_are_checked_once(demo_store, monkeypatch):
    import workbench.store.workshop as workshop_store

    s = demo_store
    s.set_passcode("owner", PASSCODE, by=SYSTEM)
    boundary = locked_client(s, utcnow())
    checks = []
    real = workshop_store.verify_passcode

    def counting(passcode, stored):
        checks.append(passcode)
        return real(passcode, stored)

    monkeypatch.setattr(workshop_store, "verify_passcode", counting)
    barrier = threading.Barrier(64)

    def guess(i):
        barrier.wait()
        try:
            s.sign_in(f"guess {i}", "attacker", now=boundary)
        except WorkbenchError as exc:
            return exc.key
        return "signed in"

    with ThreadPoolExecutor(64) as pool:
        keys = list(pool.map(guess, range(64)))
    assert len(checks) == 1
    assert keys.count("workshop.error.passcode_wrong") == 1
    assert keys.count("workshop.error.wait") == 63
    # the owner elsewhere is never locked out
    assert s.sign_in(PASSCODE, "the owner", now=boundary).role == "owner"


def _guess_in_a_process(barrier, now_iso, results):  # runs in a forked process
    from datetime import datetime

    s = open_store("demo")
    barrier.wait()
    try:
        s.sign_in("a guess", "attacker", now=datetime.fromisoformat(now_iso))
        results.put("signed in")
    except WorkbenchError as exc:
        results.put(exc.key)
    finally:
        s.close()


def test_parallel_guesses_from_processes_are_checked_once(demo_store):
    s = demo_store
    s.set_passcode("owner", PASSCODE, by=SYSTEM)
    boundary = locked_client(s, utcnow())
    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(8), ctx.Queue()
    procs = [
        ctx.Process(target=_guess_in_a_process, args=(barrier, boundary.isoformat(), results))
        for _ in range(8)
    ]
    for p in procs:
        p.start()
    keys = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert keys.count("workshop.error.passcode_wrong") == 1, keys
    assert keys.count("workshop.error.wait") == 7, keys


def test_the_wait_grows_per_client_and_is_never_global(demo_store):
    s = demo_store
    s.set_passcode("owner", PASSCODE, by=SYSTEM)
    now = locked_client(s, utcnow())
    waits = []
    for _ in range(4):
        with pytest.raises(PermissionDenied) as exc:  # the lock has ended: checked, counted
            s.sign_in("wrong guess", "attacker", now=now)
        assert exc.value.key == "workshop.error.passcode_wrong"
        with pytest.raises(PermissionDenied) as exc:  # then even the right one waits
            s.sign_in(PASSCODE, "attacker", now=now)
        assert exc.value.key == "workshop.error.wait"
        waits.append(exc.value.params["seconds"])
        now += timedelta(seconds=exc.value.params["seconds"])
    assert all(a < b for a, b in zip(waits, waits[1:], strict=False)) and waits[-1] > 4 * waits[0]
    for i in range(30):  # 30 other addresses failing lock nobody else
        with pytest.raises(PermissionDenied) as exc:
            s.sign_in("bot guess", access.client_key(f"10.0.0.{i}"), now=now)
        assert exc.value.key == "workshop.error.passcode_wrong"
    assert s.sign_in(PASSCODE, access.client_key("192.168.1.7"), now=now).role == "owner"


def test_client_keys_count_an_ipv6_network_as_one_client():
    key = access.client_key
    assert key("2001:db8:1:2::1") == key("2001:db8:1:2:ffff:ffff:ffff:fffe")
    assert key("2001:db8:1:2::1") != key("2001:db8:1:3::1")
    assert key("::ffff:192.0.2.7") == key("192.0.2.7") != key("192.0.2.8")
    assert key(None) == key("unknown") and len(key("192.0.2.7")) == 32


def test_a_16_thread_hammer_gives_only_answers_or_translated_errors(demo_store):
    s = demo_store
    s.set_passcode("owner", PASSCODE, by=SYSTEM)
    barrier = threading.Barrier(16)

    def hammer(i):
        barrier.wait()
        out = []
        for j in range(3):
            try:
                who = s.sign_in(PASSCODE if j == 2 else "nope nope", f"client {i}")
                out.append(who.role)
            except WorkbenchError as exc:
                assert exc.message("uk") != exc.key
                out.append(exc.key)
        return out

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(hammer, range(16)))  # any other exception fails here
    assert all(r == ["workshop.error.passcode_wrong"] * 2 + ["owner"] for r in results)


def test_a_pool_time_out_is_a_translated_error(demo_store):
    s = demo_store
    s.set_passcode("owner", PASSCODE, by=SYSTEM)
    s.engine.dispose()
    s.engine = create_engine(s.url, pool_size=1, max_overflow=0, pool_timeout=0.2)
    held = s.engine.connect()  # every connection taken
    try:
        with pytest.raises(StoreBusy) as exc:
            s.sign_in(PASSCODE, "c")
        assert exc.value.key == "hosting.error.busy"
        assert "nichts wurde gespeichert" in exc.value.message("de")
    finally:
        held.close()
    assert s.sign_in(PASSCODE, "c").role == "owner"


# ---- 6. a group is created once -----------------------------------------------------------------
LOOK_ALIKES = [
    "Group B",
    "group b",
    "GROUP B",
    "Group B\u200b",
    "Group \u0412",
    "Gr\u043eup B",
    "\uff27roup \uff22",
    "Group\u00a0B",
    "\u202eGroup B\u202c",
    "Group\u2066 B\u2069",
    "  group   b ",
    "Group \u0392",
    "Gro\u00adup B",
]


@pytest.mark.parametrize("name", LOOK_ALIKES)
def test_group_key_makes_look_alikes_one_group(name):
    assert group_key(name) == "group b"
    assert same_group(name, "Group B")
    assert not same_group(name, "Group A")


@pytest.fixture
def session(demo_store):
    s = demo_store
    s.set_passcode("owner", PASSCODE, by=SYSTEM)
    sess = s.create_session(LAB, "Workshop", by=FAC)
    token = s.join_token(sess.id)
    group_b, b_token = s.join_session(token, "Group B", BLUE)
    return {"s": s, "id": sess.id, "token": token, "b": group_b, "b_token": b_token}


def members(s, session_id) -> int:
    with s.read() as conn:
        return conn.execute(
            select(func.count())
            .select_from(workshop_members)
            .where(workshop_members.c.session_id == session_id)
        ).scalar()


@pytest.mark.parametrize("name", LOOK_ALIKES)
def test_joining_an_existing_group_through_the_link_is_refused(session, name):
    s = session["s"]
    with pytest.raises(PermissionDenied) as exc:
        s.join_session(session["token"], name, GROUP_COLOURS["orange"])
    assert exc.value.key == "hosting.error.group_taken"
    assert members(s, session["id"]) == 1


def test_a_name_of_invisible_characters_is_refused(session):
    with pytest.raises(ValidationError) as exc:
        session["s"].join_session(session["token"], "\u200b\u200d\u2066", BLUE)
    assert exc.value.key == "hosting.error.group_empty"


def test_another_device_joins_with_the_facilitators_link_or_the_groups_own(session):
    s = session["s"]
    for who in (session["b"], Actor("viewer"), None):
        with pytest.raises(PermissionDenied):
            s.add_group_device(session["id"], "Group B", by=who)
    with pytest.raises(NotFoundError):
        s.add_group_device(session["id"], "Group Z", by=FAC)
    device = s.add_group_device(session["id"], "group b", by=FAC)
    second = s.resume_member(device)
    assert second.group == "Group B" and second.member_id != session["b"].member_id
    assert s.resume_member(session["b_token"]) == session["b"]  # the group's own link
    assert s.session_groups(session["id"]) == {"Group B": BLUE}


def test_the_join_page_shows_the_refusal(session):
    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=60)
    at.query_params["t"] = session["token"]
    at.query_params["ws"] = "demo"
    at.run()
    at.switch_page("pages/join.py")
    at.run()
    at.text_input(key="workshop_join_group").set_value("group \u0412")
    submit(at, "workshop_join_form")
    assert "has already joined" in " ".join(e.value for e in at.error)
    assert at.title[0].value == "Join the workshop"
    assert members(session["s"], session["id"]) == 1


def test_the_workshop_page_makes_a_device_link_for_a_group(session):
    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=60)
    at.session_state["lab_id"] = LAB
    at.session_state["workshop_login"] = {
        "workspace": "demo",
        "role": "facilitator",
        "name": "Fac",
        "stamp": session["s"].passcode_stamp(),
    }
    at.run()
    at.switch_page("pages/workshop.py")
    at.run()
    at.button(key="workshop_device_make").click().run()
    link = next(c.value for c in at.code if "/map?" in c.value)
    token = link.split("member=")[1].split("&")[0]
    assert session["s"].resume_member(token).group == "Group B"


def test_a_passcode_reset_signs_out_the_signed_in_tabs(demo_store):
    demo_store.set_passcode("owner", PASSCODE, by=SYSTEM)
    at = workshop_page()
    at.text_input(key="workshop_passcode").set_value(PASSCODE)
    submit(at, "workshop_signin_form")
    assert at.button(key="workshop_signout")  # signed in
    demo_store.reset_passcodes(by=SYSTEM)
    demo_store.set_passcode("owner", "the operator's new one", by=SYSTEM)
    at.run()
    assert "workshop_login" not in at.session_state
    assert not [b for b in at.button if b.key == "workshop_signout"]
