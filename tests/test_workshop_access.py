"""The permission matrix in the library: every role against every guarded store write, round
phases, own-group rules, join links (tampered, expired, replayed after the end), passcodes
(hashed, wrong, rate-limited) and the automatic snapshot at each round end."""

from __future__ import annotations

from datetime import timedelta

import pytest
from shapely.geometry import Point

from tests.helpers import MUNICH_LAB
from workbench import access, settings
from workbench.access import ACTIONS, GROUP_COLOURS, PERMISSIONS, SYSTEM, Actor
from workbench.errors import PermissionDenied, ValidationError
from workbench.model import Annotation, Category, Comment, Vote, new_id, utcnow
from workbench.store.schema import workspace_settings
from workbench.workshop import end_round, end_session, start_round

LAB = MUNICH_LAB
PASSCODE = "correct horse battery"
OWNER = Actor("owner", "Owner")
FAC = Actor("facilitator", "Fac")
BLUE = GROUP_COLOURS["blue"]

#: every store rule here must hold on SQLite and on PostgreSQL alike
pytestmark = pytest.mark.usefixtures("backend")


def note(group: str = "Group A", text: str = "a note") -> Annotation:
    return Annotation(
        id=new_id(),
        lab_id=LAB,
        geometry=Point(11.551, 48.186),
        category="idea",
        text=text,
        author=group,
    )


@pytest.fixture
def ws(demo_store):
    """The demo workspace with an owner passcode and a running session on the Munich lab,
    two participant groups joined through the link."""
    demo_store.set_passcode("owner", PASSCODE, by=SYSTEM)
    session = demo_store.create_session(LAB, "Workshop", by=OWNER)
    token = demo_store.join_token(session.id)
    a, a_token = demo_store.join_session(token, "Group A", BLUE)
    b, _ = demo_store.join_session(token, "Group B", GROUP_COLOURS["orange"])
    return {"s": demo_store, "session": session, "token": token, "a": a, "b": b, "a_token": a_token}


def actors(ws) -> dict[str, Actor]:
    return {"owner": OWNER, "facilitator": FAC, "participant": ws["a"], "viewer": Actor("viewer")}


# ---- each write of the store, as (action, function(store, actor, fixtures)) ---------------------
def _setup(s, ws):
    """An annotation of Group A with a comment of Group A, for the actions on existing items."""
    a = s.add_annotation(note("Group A"), by=ws["a"])
    c = s.add_comment(Comment(id=new_id(), annotation_id=a.id, author="x", text="hm"), by=ws["a"])
    return a, c


WRITES = {
    "annotation.add": lambda s, who, a, c: s.add_annotation(note(), by=who),
    "annotation.edit": lambda s, who, a, c: s.update_annotation(
        a.id, name="x", expected_version=a.version, text="changed", by=who
    ),
    "annotation.delete": lambda s, who, a, c: s.delete_annotation(a.id, name="x", by=who),
    "annotation.restore": lambda s, who, a, c: (
        # deleted as by its own group (not hidden by a moderator: that only a moderator undoes)
        s.delete_annotation(a.id, name=a.author, by=OWNER),
        s.restore_annotation(a.id, name="x", by=who),
    ),
    "comment.add": lambda s, who, a, c: s.add_comment(
        Comment(id=new_id(), annotation_id=a.id, author="x", text="hi"), by=who
    ),
    "comment.delete": lambda s, who, a, c: s.delete_comment(c.id, by=who),
    "vote.cast": lambda s, who, a, c: s.cast_vote(
        Vote(id=new_id(), annotation_id=a.id, voter="x"), by=who
    ),
    "vote.retract": lambda s, who, a, c: s.retract_vote(a.id, "x", by=who),
    "lab.settings": lambda s, who, a, c: s.set_vote_limit(LAB, 5, by=who),
    "lab.settings.view": lambda s, who, a, c: s.set_lab_setting(LAB, "workshop_view", {}, by=who),
    "lab.settings.category": lambda s, who, a, c: s.save_category(
        Category(code="wish", colour="#56B4E9", labels={"en": "Wish"}), by=who
    ),
    "lab.settings.round": lambda s, who, a, c: s.start_vote_round(LAB, by=who),
    "session.run": lambda s, who, a, c: s.start_round(ws_session(s), "collect", by=who),
    "workspace.admin": lambda s, who, a, c: s.set_passcode("facilitator", "another code", by=who),
}


def ws_session(s) -> str:
    return s.active_session(LAB).id


EXPECTED = {  # role -> writes allowed (the matrix; a participant acting on their own items)
    "owner": set(WRITES),
    "facilitator": set(WRITES) - {"workspace.admin"},
    "participant": {
        "annotation.add",
        "annotation.edit",
        "annotation.delete",
        "annotation.restore",
        "comment.add",
        "comment.delete",
        "vote.cast",
        "vote.retract",
    },
    "viewer": set(),
}


@pytest.mark.parametrize("role", list(EXPECTED))
@pytest.mark.parametrize("write", list(WRITES))
def test_permission_matrix_every_role_every_write(ws, role, write):
    s = ws["s"]
    a, c = _setup(s, ws)
    who = actors(ws)[role]
    if write in EXPECTED[role]:
        WRITES[write](s, who, a, c)
    else:
        with pytest.raises(PermissionDenied):
            WRITES[write](s, who, a, c)


def test_matrix_table_matches_the_documented_roles():
    assert set(PERMISSIONS) == set(access.ROLES)
    assert PERMISSIONS["owner"] == set(ACTIONS)
    assert PERMISSIONS["viewer"] == frozenset()
    assert "annotation.moderate" not in PERMISSIONS["participant"]


def test_viewer_writing_through_the_store_directly_changes_nothing(ws):
    s, viewer = ws["s"], Actor("viewer")
    for name, write in WRITES.items():
        a, c = _setup(s, ws)
        before = (
            s.count_annotations(LAB),
            len(s.list_comments(a.id)),
            s.vote_totals(LAB),
            s.vote_limit(LAB),
            s.vote_round(LAB),
            len(s.list_categories()),
        )
        with pytest.raises(PermissionDenied) as exc:
            write(s, viewer, a, c)
        assert exc.value.key in (
            "workshop.denied.viewer",
            "workshop.denied.facilitator_only",
            "workshop.denied.owner_only",
        ), name
        if name != "annotation.restore":  # (its set-up deleted the annotation as owner)
            assert (
                s.count_annotations(LAB),
                len(s.list_comments(a.id)),
                s.vote_totals(LAB),
                s.vote_limit(LAB),
                s.vote_round(LAB),
                len(s.list_categories()),
            ) == before
            assert s.get_annotation(a.id).text == "a note"


def test_anonymous_writes_refused_during_a_session_and_once_protected(ws):
    s = ws["s"]
    with pytest.raises(PermissionDenied) as exc:
        s.add_annotation(note())
    assert exc.value.key == "workshop.denied.anonymous"
    other = next(lab.id for lab in s.list_labs() if lab.id != LAB)
    # no session on the other lab, but the workspace has a passcode: no local mode any more
    with pytest.raises(PermissionDenied) as exc:
        s.add_annotation(
            Annotation(
                id=new_id(),
                lab_id=other,
                geometry=s.get_lab(other).boundary.representative_point(),
                category="idea",
                text="refused",
                author="Me",
            )
        )
    assert exc.value.key == "guard.denied.protected"
    assert s.count_annotations(other) == 0


def test_participants_touch_only_their_own_group_items(ws):
    s, b_actor = ws["s"], ws["b"]
    mine, comment = _setup(s, ws)
    with pytest.raises(PermissionDenied) as exc:
        s.update_annotation(mine.id, name="B", expected_version=1, text="mine now", by=b_actor)
    assert exc.value.key == "workshop.denied.not_own"
    for attempt in (
        lambda: s.delete_annotation(mine.id, name="B", by=b_actor),
        lambda: s.delete_comment(comment.id, by=b_actor),
    ):
        with pytest.raises(PermissionDenied):
            attempt()
    # the group's name is theirs whatever the form said
    forged = s.add_annotation(note("Group A", "pretending"), by=b_actor)
    assert forged.author == "Group B"
    # the facilitator hides and restores anyone's annotation and comment
    s.delete_annotation(mine.id, name="Fac", by=FAC)
    assert s.list_deleted_annotations(LAB)[0].id == mine.id
    s.restore_annotation(mine.id, name="Fac", by=FAC)
    s.delete_comment(comment.id, by=FAC)
    assert s.list_comments(mine.id) == [] and s.list_hidden_comments(LAB)[0]["id"] == comment.id
    s.restore_comment(comment.id, by=FAC)
    assert [c.id for c in s.list_comments(mine.id)] == [comment.id]


def test_a_made_up_participant_is_refused(ws):
    s = ws["s"]
    fake = Actor("participant", "Group A", ws["session"].id, member_id="not-a-member")
    with pytest.raises(PermissionDenied) as exc:
        s.add_annotation(note(), by=fake)
    assert exc.value.key == "workshop.denied.not_in_session"
    renamed = Actor("participant", "Group Z", ws["session"].id, ws["a"].member_id)
    with pytest.raises(PermissionDenied):
        s.add_annotation(note(), by=renamed)


def test_rounds_vote_only_voting_discuss_lock_pause(ws):
    s, sid, a_actor = ws["s"], ws["session"].id, ws["a"]
    mine = s.add_annotation(note(), by=a_actor)
    round_before = s.vote_round(LAB)
    s.start_round(sid, "vote", by=FAC, minutes=5)
    assert s.phase(LAB) == ("vote", False)
    assert s.vote_round(LAB) == round_before + 1  # fresh dots
    for attempt in (
        lambda: s.add_annotation(note(), by=a_actor),
        lambda: s.add_annotation(note(), by=FAC),  # nobody adds while voting
        lambda: s.update_annotation(mine.id, name="A", expected_version=1, text="x", by=a_actor),
        lambda: s.add_comment(
            Comment(id=new_id(), annotation_id=mine.id, author="A", text="c"), by=a_actor
        ),
    ):
        with pytest.raises(PermissionDenied) as exc:
            attempt()
        assert exc.value.key == "workshop.denied.phase_vote"
    s.cast_vote(Vote(id=new_id(), annotation_id=mine.id, voter="A"), by=a_actor)
    assert s.vote_totals(LAB, voter="Group A") == {mine.id: 1}

    s.start_round(sid, "discuss", by=FAC, lock_edits=True)
    with pytest.raises(PermissionDenied) as exc:
        s.add_annotation(note(), by=a_actor)
    assert exc.value.key == "workshop.denied.phase_discuss_locked"
    s.add_comment(Comment(id=new_id(), annotation_id=mine.id, author="A", text="ok"), by=a_actor)
    s.set_round_lock(sid, False, by=FAC)
    s.update_annotation(mine.id, name="A", expected_version=1, text="unlocked", by=a_actor)

    s.pause_round(sid, by=FAC)
    with pytest.raises(PermissionDenied) as exc:
        s.cast_vote(Vote(id=new_id(), annotation_id=mine.id, voter="A"), by=a_actor)
    assert exc.value.key == "workshop.denied.phase_paused"
    s.resume_round(sid, by=FAC)
    s.add_comment(Comment(id=new_id(), annotation_id=mine.id, author="A", text="again"), by=a_actor)


def test_each_round_end_takes_a_named_snapshot(ws):
    s, sid = ws["s"], ws["session"].id
    s.add_annotation(note(text="before the end"), by=ws["a"])
    s.set_lab_setting(LAB, "workshop_view", {"bounds": [11.54, 48.18, 11.56, 48.19]}, by=FAC)
    s.start_round(sid, "collect", by=FAC, minutes=10)
    start_round(s, sid, "vote", by=FAC, lang="de")  # ends the collect round first
    ended = end_round(s, sid, by=FAC, lang="de")
    rounds = s.list_rounds(sid)
    assert [(r.kind, r.status) for r in rounds] == [("collect", "ended"), ("vote", "ended")]
    assert ended.snapshot_id and all(r.snapshot_id for r in rounds)
    snap = s.get_snapshot(rounds[0].snapshot_id)
    assert snap.name.startswith("Runde 1 · Sammeln · ")
    assert snap.state["bounds"] == [11.54, 48.18, 11.56, 48.19]
    assert [a["text"] for a in snap.state["annotations"]] == ["before the end"]
    assert s.current_round(sid) is None and s.phase(LAB) == ("open", False)


def test_timer_stops_while_paused(ws):
    s, sid = ws["s"], ws["session"].id
    r = s.start_round(sid, "collect", by=FAC, minutes=10)
    later = r.started_at + timedelta(minutes=3)
    assert r.remaining_seconds(later) == pytest.approx(420, abs=1)
    paused = s.pause_round(sid, by=FAC)
    assert paused.remaining_seconds(utcnow() + timedelta(hours=1)) == pytest.approx(600, abs=2)


# ---- join links -------------------------------------------------------------------------------
def test_join_link_tampered_expired_replayed_after_end(ws):
    s, token = ws["s"], ws["token"]
    payload, signature = token.split(".")
    with pytest.raises(PermissionDenied) as exc:  # another session id, same signature
        forged = access._b64(b'{"s":"' + ws["session"].id[::-1].encode() + b'","e":9999999999}')
        s.check_join_token(forged + "." + signature)
    assert exc.value.key == "workshop.error.link_invalid"
    for bad in (payload + "." + signature[:-2] + "AA", "garbage", ""):
        with pytest.raises(PermissionDenied):
            s.check_join_token(bad)
    expired = access.sign_join_token(
        s.join_secret(), ws["session"].id, utcnow() - timedelta(seconds=1)
    )
    with pytest.raises(PermissionDenied) as exc:
        s.check_join_token(expired)
    assert exc.value.key == "workshop.error.link_expired"
    other_secret = access.sign_join_token(b"x" * 32, ws["session"].id, utcnow() + timedelta(1))
    with pytest.raises(PermissionDenied):
        s.check_join_token(other_secret)

    s.end_session(ws["session"].id, by=FAC)
    with pytest.raises(PermissionDenied) as exc:  # a replay after the end
        s.join_session(token, "Late group", BLUE)
    assert exc.value.key == "workshop.error.session_over"
    assert s.resume_member(ws["a_token"]) is None  # members' tokens die with the session
    with pytest.raises(PermissionDenied):
        s.add_annotation(note(), by=ws["a"])


def test_reconnect_keeps_group_and_votes(ws):
    s, a_actor = ws["s"], ws["a"]
    mine = s.add_annotation(note(), by=a_actor)
    s.cast_vote(Vote(id=new_id(), annotation_id=mine.id, voter="A"), by=a_actor)
    back = s.resume_member(ws["a_token"])
    assert back == a_actor
    assert s.votes_left(LAB, back.group) == s.vote_limit(LAB) - 1
    # someone else joining under the same name (any case) is refused: a group is created once
    with pytest.raises(PermissionDenied) as exc:
        s.join_session(ws["token"], "  group   a ", GROUP_COLOURS["black"])
    assert exc.value.key == "hosting.error.group_taken"
    assert s.session_groups(ws["session"].id)["Group A"] == BLUE


def test_join_refuses_bad_group_and_colour_and_keeps_html_as_text(ws):
    s, token = ws["s"], ws["token"]
    with pytest.raises(ValidationError):
        s.join_session(token, "   ", BLUE)
    with pytest.raises(ValidationError):
        s.join_session(token, "Group C", "#123456")
    html, _ = s.join_session(token, "<b>Bold</b> & co", BLUE)
    assert html.group == "<b>Bold</b> & co"


# ---- passcodes --------------------------------------------------------------------------------
def test_passcode_is_stored_salted_never_plain(demo_store):
    demo_store.set_passcode("owner", PASSCODE, by=SYSTEM)
    with demo_store.read() as conn:
        stored = dict(conn.execute(workspace_settings.select()).all())
    assert PASSCODE not in " ".join(stored.values())
    assert stored["passcode.owner"].startswith("scrypt$")
    assert access.hash_passcode(PASSCODE) != access.hash_passcode(PASSCODE)  # salted
    assert access.verify_passcode(PASSCODE, stored["passcode.owner"])
    assert not access.verify_passcode(PASSCODE + "x", stored["passcode.owner"])
    with pytest.raises(ValidationError):
        access.hash_passcode("short")


def test_only_the_owner_changes_passcodes_once_set(demo_store):
    with pytest.raises(ValidationError):  # the owner's comes first
        demo_store.set_passcode("facilitator", "facilitate me")
    demo_store.set_passcode("owner", PASSCODE, by=SYSTEM)
    for who in (None, FAC, Actor("viewer")):
        with pytest.raises(PermissionDenied):
            demo_store.set_passcode("owner", "taken over!", by=who)
    demo_store.set_passcode("facilitator", "facilitate me", by=OWNER)
    assert demo_store.sign_in("facilitate me", "c1").role == "facilitator"
    assert demo_store.sign_in(PASSCODE, "c1", "Olena").group == "Olena"


def test_wrong_passcode_and_rate_limit_per_client_only(demo_store):
    s = demo_store
    s.set_passcode("owner", PASSCODE, by=SYSTEM)
    now = utcnow()
    for _ in range(settings.FREE_ATTEMPTS):
        with pytest.raises(PermissionDenied) as exc:
            s.sign_in("wrong guess", "attacker", now=now)
        assert exc.value.key == "workshop.error.passcode_wrong"
    with pytest.raises(PermissionDenied) as exc:  # now even the right one waits
        s.sign_in(PASSCODE, "attacker", now=now)
    assert exc.value.key == "workshop.error.wait" and exc.value.params["seconds"] >= 2
    assert s.sign_in(PASSCODE, "someone else", now=now).role == "owner"  # per client
    later = now + timedelta(seconds=3)
    with pytest.raises(PermissionDenied):  # another wrong one doubles the wait
        s.sign_in("wrong again", "attacker", now=later)
    with pytest.raises(PermissionDenied) as exc:
        s.sign_in(PASSCODE, "attacker", now=later + timedelta(seconds=1))
    assert exc.value.params["seconds"] >= 3
    assert s.sign_in(PASSCODE, "attacker", now=later + timedelta(seconds=5)).role == "owner"
    # many clients failing never lock the owner out (the limit is per client only)
    for i in range(25):
        with pytest.raises(PermissionDenied) as exc:
            s.sign_in("guess", f"bot{i}", now=later + timedelta(seconds=10))
        assert exc.value.key == "workshop.error.passcode_wrong"
    assert s.sign_in(PASSCODE, "fresh client", now=later + timedelta(seconds=10)).role == "owner"


def test_backoff_doubles_and_is_capped():
    assert [access.backoff_seconds(n) for n in range(6)] == [0, 0, 0, 2, 4, 8]
    assert access.backoff_seconds(100) == settings.MAX_BACKOFF_S


def test_session_rules(demo_store):
    s = demo_store
    with pytest.raises(PermissionDenied):
        s.create_session(LAB, "W", by=None)
    with pytest.raises(PermissionDenied):
        s.create_session(LAB, "W", by=Actor("participant", "A"))
    session = s.create_session(LAB, "W", by=FAC)
    with pytest.raises(ValidationError):
        s.create_session(LAB, "again", by=FAC)
    with pytest.raises(ValidationError):
        s.start_round(session.id, "brainstorm", by=FAC)
    with pytest.raises(ValidationError):
        s.pause_round(session.id, by=FAC)
    s.start_round(session.id, "collect", by=FAC)
    ended = end_session(s, session.id, by=FAC)
    assert ended.status == "ended" and s.active_session(LAB) is None
    assert s.list_rounds(session.id)[0].snapshot_id  # the running round ended with a snapshot
