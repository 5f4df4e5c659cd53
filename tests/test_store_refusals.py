"""A write the database refuses says why: a living lab that is not there, an id another record
holds, or another rule of the schema (not all "living lab not found"). On both databases."""

from __future__ import annotations

import pytest

from tests.helpers import MUNICH_LAB, OTHER_LAB
from workbench.access import SYSTEM
from workbench.errors import NotFoundError, ValidationError
from workbench.model import Layer, Snapshot, new_id
from workbench.store.core import insert_row
from workbench.store.schema import layers

pytestmark = pytest.mark.usefixtures("backend")


def _layer(lab_id: str = MUNICH_LAB, **changes) -> Layer:  # type: ignore[no-untyped-def]
    values = dict(
        id=new_id(), lab_id=lab_id, name="Trees", kind="upload", path="t.parquet", feature_count=3
    )
    return Layer(**{**values, **changes})


def test_a_layer_or_snapshot_of_a_missing_lab_is_lab_not_found(demo_store):
    with pytest.raises(NotFoundError) as exc:
        demo_store.add_layer(_layer(OTHER_LAB), by=SYSTEM)
    assert exc.value.key == "notfound.lab"
    with pytest.raises(NotFoundError) as exc:
        demo_store.add_snapshot(
            Snapshot(id=new_id(), lab_id=OTHER_LAB, name="S", state={}), by=SYSTEM
        )
    assert exc.value.key == "notfound.lab"


def test_another_broken_rule_is_not_called_a_missing_lab(demo_store):
    with pytest.raises(ValidationError) as exc:
        demo_store.add_layer(_layer(feature_count=None), by=SYSTEM)  # NOT NULL
    assert exc.value.key == "integrity.constraint" and exc.value.params["table"] == "layers"
    assert "breaks a rule of the table layers" in str(exc.value)
    assert demo_store.list_layers(MUNICH_LAB) == []  # nothing half written


def test_an_id_held_by_another_labs_record_is_a_duplicate_and_a_retry_is_kept(demo_store):
    kept = demo_store.add_layer(_layer(), by=SYSTEM)
    second_lab = next(lab.id for lab in demo_store.list_labs() if lab.id != MUNICH_LAB)
    row = dict(
        id=kept.id,
        lab_id=second_lab,
        name="Other",
        kind="upload",
        source="",
        attribution="",
        style="{}",
        path="o.parquet",
        feature_count=1,
        created_at=kept.created_at.isoformat(),
        source_for="",
    )
    with demo_store.write() as conn:  # as a writer racing past the store's own check
        with pytest.raises(ValidationError) as exc:
            insert_row(conn, layers, row)
        assert exc.value.key == "integrity.duplicate_id" and exc.value.params["id"] == kept.id
        insert_row(conn, layers, {**row, "lab_id": MUNICH_LAB})  # the same write again: kept
    assert demo_store.list_layers(MUNICH_LAB) == [kept]
    assert demo_store.list_layers(second_lab) == []
