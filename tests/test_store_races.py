"""Races: eight processes, released together by a barrier, hit each store rule at once.

The same seven scenarios run on SQLite and on PostgreSQL (``backend``); every invariant must
hold exactly on both: one winner per version, never more dots than the limit, one active
session per living lab, a retried add stored once and answered as a success, distinct round
numbers and one running round, every passcode guess counted, and one migration of a new
workspace.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections import Counter

import pytest

from tests.helpers import MUNICH_LAB

WORKERS = 8
NOTES = 30
VOTERS = 30
LIMIT = 3
SCENARIOS = ("migrate", "retried_add", "update", "vote", "session", "vote_round", "round")
LAB = MUNICH_LAB  # München, a demo lab
PASSCODE = "correct horse battery"

pytestmark = pytest.mark.slow


def _outcome(call) -> str:  # type: ignore[no-untyped-def]
    try:
        call()
        return "ok"
    except Exception as exc:  # noqa: BLE001 - what each attempt ended in is the result
        return f"{type(exc).__name__}:{getattr(exc, 'key', exc)}"


def _racer(env: dict, worker: int, plan: dict, barrier, results) -> None:  # type: ignore[no-untyped-def]
    os.environ.update(env)
    from shapely.geometry import Point

    from workbench.access import Actor
    from workbench.model import Annotation, Vote, new_id
    from workbench.store import open_store

    owner = Actor("owner", "Owner")
    store = open_store("race")
    point = Point(11.553, 48.186)
    for scenario in SCENARIOS:
        barrier.wait(timeout=120)
        out: list[str] = []
        if scenario == "migrate":
            out.append(_outcome(lambda: open_store("fresh", create=True).close()))
        elif scenario == "retried_add":
            for note_id in plan["retried"]:
                out.append(
                    _outcome(
                        lambda i=note_id: store.add_annotation(
                            Annotation(
                                id=i,
                                lab_id=LAB,
                                geometry=point,
                                category="idea",
                                text=f"try {worker}",
                                author="G",
                            ),
                            by=owner,
                        )
                    )
                )
        elif scenario == "update":
            for note_id in plan["notes"]:
                out.append(
                    _outcome(
                        lambda i=note_id: store.update_annotation(
                            i,
                            name=f"w{worker}",
                            expected_version=1,
                            text=f"edit of {worker}",
                            by=owner,
                        )
                    )
                )
        elif scenario == "vote":
            for v in range(VOTERS):
                out.append(
                    _outcome(
                        lambda v=v: store.cast_vote(
                            Vote(
                                id=new_id(),
                                annotation_id=plan["notes"][(v + worker) % NOTES],
                                voter=f"voter {v}",
                            ),
                            by=owner,
                        )
                    )
                )
        elif scenario == "session":
            for lab in plan["labs"]:
                out.append(_outcome(lambda lab=lab: store.create_session(lab, "W", by=owner)))
        elif scenario == "vote_round":
            out.append(
                _outcome(
                    lambda: results.put(
                        ("vote_round_number", worker, store.start_vote_round(LAB, by=owner))
                    )
                )
            )
        elif scenario == "round":
            session = store.active_session(LAB)
            out.append(_outcome(lambda s=session: store.start_round(s.id, "collect", by=owner)))
        results.put((scenario, worker, out))
    store.close()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def races(request, tmp_path_factory):  # type: ignore[no-untyped-def]
    """Set up a workspace, run the eight racers through every scenario (once per database)
    and return what each attempt ended in (scenario -> Counter of outcomes), with the store."""
    from tests.conftest import drop_postgres_database, postgres_database

    with pytest.MonkeyPatch.context() as mp_env:
        mp_env.setenv("WORKBENCH_DATA_DIR", str(tmp_path_factory.mktemp("races")))
        mp_env.delenv("WORKBENCH_DATABASE_URL", raising=False)
        url = None
        if request.param == "postgresql":
            url = postgres_database()
            mp_env.setenv("WORKBENCH_DATABASE_URL", url)
        try:
            yield _run_races()
        finally:
            if url:
                from workbench.store import _catalog_engines

                for engine in _catalog_engines.values():
                    engine.dispose()
                _catalog_engines.clear()
                drop_postgres_database(url)


def _run_races() -> dict:
    from shapely.geometry import Point

    from workbench.access import SYSTEM
    from workbench.demo import seed
    from workbench.model import Annotation, new_id
    from workbench.store import open_store

    store = open_store("race", create=True)
    seed(store)
    store.set_vote_limit(LAB, LIMIT, by=SYSTEM)
    notes = [
        store.add_annotation(
            Annotation(
                id=new_id(),
                lab_id=LAB,
                geometry=Point(11.553, 48.186),
                category="idea",
                text=f"note {i}",
                author="G",
            ),
            by=SYSTEM,
        ).id
        for i in range(NOTES)
    ]
    plan = {
        "notes": notes,
        "retried": [new_id() for _ in range(NOTES)],
        "labs": [lab.id for lab in store.list_labs()[:5]],
    }
    if LAB not in plan["labs"]:
        plan["labs"][-1] = LAB
    env = {k: v for k, v in os.environ.items() if k.startswith("WORKBENCH_")}
    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(WORKERS), ctx.Queue()
    procs = [
        ctx.Process(target=_racer, args=(env, w, plan, barrier, results)) for w in range(WORKERS)
    ]
    for p in procs:
        p.start()
    outcomes: dict[str, Counter] = {s: Counter() for s in SCENARIOS}
    numbers = []
    expected = WORKERS * len(SCENARIOS) + WORKERS  # + the vote round numbers
    while expected:
        item = results.get(timeout=120)
        expected -= 1
        if item[0] == "vote_round_number":
            numbers.append(item[2])
            continue
        outcomes[item[0]].update(item[2])
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    fresh = open_store("fresh")
    with fresh.read() as conn:
        versions = [r[0] for r in conn.exec_driver_sql("SELECT version FROM schema_version")]
    fresh.close()
    return {
        "store": store,
        "plan": plan,
        "outcomes": outcomes,
        "numbers": numbers,
        "fresh_versions": versions,
    }


def test_one_migration_when_eight_processes_open_a_new_workspace(races):
    from workbench.store import SCHEMA_VERSION

    assert races["outcomes"]["migrate"] == Counter(ok=WORKERS)
    # each step exactly once
    assert sorted(races["fresh_versions"]) == list(range(1, SCHEMA_VERSION + 1))


def test_a_retried_add_is_stored_once_and_answered_as_a_success(races):
    store, plan, outcomes = races["store"], races["plan"], races["outcomes"]
    assert outcomes["retried_add"] == Counter(ok=WORKERS * NOTES)
    stored = {a.id for a in store.list_annotations(LAB)} & set(plan["retried"])
    assert stored == set(plan["retried"])


def test_one_winner_per_version(races):
    store, plan, outcomes = races["store"], races["plan"], races["outcomes"]
    assert outcomes["update"]["ok"] == NOTES
    assert outcomes["update"]["ConflictError:annotate.error.conflict"] == (WORKERS - 1) * NOTES
    assert sum(outcomes["update"].values()) == WORKERS * NOTES
    for note_id in plan["notes"]:
        note = store.get_annotation(note_id)
        assert note.version == 2 and note.text.startswith("edit of ")
        assert [c.action for c in store.annotation_history(note_id)].count("edited") == 1


def test_never_more_dots_than_the_limit(races):
    store, outcomes = races["store"], races["outcomes"]
    assert outcomes["vote"]["ok"] == VOTERS * LIMIT
    assert outcomes["vote"]["ValidationError:annotate.error.vote_limit_reached"] == VOTERS * (
        WORKERS - LIMIT
    )
    with store.read() as conn:
        per_voter = Counter(
            r[0] for r in conn.exec_driver_sql("SELECT voter FROM annotation_votes WHERE round = 1")
        )
    assert per_voter == Counter({f"voter {v}": LIMIT for v in range(VOTERS)})


def test_one_active_session_per_living_lab(races):
    store, plan, outcomes = races["store"], races["plan"], races["outcomes"]
    assert outcomes["session"]["ok"] == len(plan["labs"])
    assert outcomes["session"]["ValidationError:workshop.error.session_exists"] == (
        WORKERS - 1
    ) * len(plan["labs"])
    with store.read() as conn:
        active = Counter(
            r[0]
            for r in conn.exec_driver_sql(
                "SELECT lab_id FROM workshop_sessions WHERE status = 'active'"
            )
        )
    assert active == Counter({lab: 1 for lab in plan["labs"]})


def test_vote_rounds_and_workshop_rounds_get_distinct_numbers(races):
    store, outcomes, numbers = races["store"], races["outcomes"], races["numbers"]
    assert outcomes["vote_round"] == Counter(ok=WORKERS)
    assert sorted(numbers) == list(range(2, WORKERS + 2))
    assert store.vote_round(LAB) == WORKERS + 1
    assert outcomes["round"] == Counter(ok=WORKERS)
    rounds = store.list_rounds(store.active_session(LAB).id)
    assert sorted(r.number for r in rounds) == list(range(1, WORKERS + 1))
    assert [r.status for r in rounds].count("ended") == WORKERS - 1  # one round runs


@pytest.mark.usefixtures("backend")
def test_parallel_wrong_passcodes_are_each_counted(data_dir):
    """Eight processes guess at once for one client: every guess is counted as a failure
    before it is checked, so the stored count equals the guesses that were checked."""
    from workbench.access import SYSTEM
    from workbench.store import open_store

    store = open_store("guard", create=True)
    store.set_passcode("owner", PASSCODE, by=SYSTEM)
    env = {k: v for k, v in os.environ.items() if k.startswith("WORKBENCH_")}
    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(WORKERS), ctx.Queue()
    procs = [ctx.Process(target=_guesser, args=(env, barrier, results)) for _ in range(WORKERS)]
    for p in procs:
        p.start()
    outcomes = Counter(results.get(timeout=300) for _ in procs)
    for p in procs:
        p.join(timeout=60)
    checked = outcomes["PermissionDenied:workshop.error.passcode_wrong"]
    assert checked + outcomes["PermissionDenied:workshop.error.wait"] == WORKERS, outcomes
    with store.read() as conn:
        failures = conn.exec_driver_sql(
            "SELECT failures FROM access_attempts WHERE client = 'one-client'"
        ).scalar()
    assert failures == checked
    store.close()


def _guesser(env: dict, barrier, results) -> None:  # type: ignore[no-untyped-def]
    os.environ.update(env)
    from workbench.store import open_store

    store = open_store("guard")
    barrier.wait(timeout=120)
    results.put(_outcome(lambda: store.sign_in("wrong passcode", client="one-client")))
    store.close()
