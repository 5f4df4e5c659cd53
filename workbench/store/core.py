"""Networks, cities, living labs, layers and snapshots.

Deleting a network, city or living lab in the app is soft (:meth:`CoreMixin.trash`): the
record and what goes with it (a city's or network's living labs, a network's cities that
belong to no other network) are left out of every list, kept with their notes, layers and
snapshots, and :meth:`CoreMixin.restore_trash` brings them back. The marks live in
``workspace_settings`` (``trash.<kind>.<id>``), so the schema stays as it is.

Every write takes ``by`` (the acting :class:`~workbench.access.Actor`, None in local mode) and is
judged by ``store.judge.authorize`` inside its transaction: ``setup.edit`` for networks,
cities and living labs, ``layers.edit`` for layers, ``snapshot.manage`` for snapshots.

Like every store module it imports nothing of export, maps, i18n or ui (the store is the bottom
layer, ``tests/test_import_graph.py``) and judges no permission itself: every guarded write asks
``store.judge.authorize`` inside its transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import TypedDict

import shapely
from sqlalchemy import Connection, RowMapping, Table, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from workbench.access import Actor
from workbench.errors import ConflictError, NotFoundError, ValidationError
from workbench.geometry import validate_boundary
from workbench.model import (
    LAB_STATUSES,
    PRINCIPLES,
    SDG_TARGETS,
    SOURCE_THEMES,
    City,
    Layer,
    LivingLab,
    Network,
    Snapshot,
    clean_colour,
    strip_controls,
    utcnow,
)
from workbench.settings import COORD_DECIMALS, MAX_NAME_CHARS, MAX_TEXT_CHARS
from workbench.store.base import StoreBase, dumps, from_iso, iso, loads
from workbench.store.judge import active_session_row, authorize
from workbench.store.schema import annotations as annotations_table
from workbench.store.schema import (
    cities,
    labs,
    layers,
    network_cities,
    networks,
    snapshots,
    workspace_settings,
)

#: Kinds of set-up records that can be deleted softly, and their table.
TRASH_KINDS = ("network", "city", "lab")
_TRASH_PREFIX = "trash."


class TrashContents(TypedDict):
    """What deleting a record takes with it (:meth:`CoreMixin.trash_contents`)."""

    networks: list[str]  # names
    cities: list[str]
    labs: list[str]  # titles
    notes: int
    layers: int
    snapshots: int
    lab_ids: list[str]


class TrashBatch(TypedDict):
    """One soft delete that can be undone (:meth:`CoreMixin.list_trash`)."""

    batch: str  # the id to restore it with
    at: datetime | None
    by: str  # the group that deleted
    names: list[str]  # of what was deleted, networks and cities first


def _trashed(conn: Connection, kind: str | None = None) -> set[str]:
    """Ids of the softly deleted records (of ``kind``, or of every kind)."""
    prefix = _TRASH_PREFIX + (f"{kind}." if kind else "")
    keys = conn.execute(
        select(workspace_settings.c.key).where(workspace_settings.c.key.like(prefix + "%"))
    ).scalars()
    return {key.rsplit(".", 1)[1] for key in keys}


def clean_name(value: str, field: str, limit: int = MAX_NAME_CHARS) -> str:
    """A required single-line name: without control characters (``model.strip_controls``),
    whitespace collapsed, not empty, not too long."""
    value = " ".join(strip_controls(value or "").split())
    if not value:
        raise ValidationError("field.required", field=field)
    if len(value) > limit:
        raise ValidationError("field.too_long", field=field, limit=limit)
    return value


def clean_text(value: str, field: str, limit: int = MAX_TEXT_CHARS) -> str:
    """Free text: kept as typed (plain text; newlines and tabs kept, other control characters
    removed), stripped at the ends, bounded in length."""
    value = strip_controls(value or "", keep_lines=True).strip()
    if len(value) > limit:
        raise ValidationError("field.too_long", field=field, limit=limit)
    return value


def clean_style(style: Mapping[str, object] | None) -> dict[str, str | bool | int | float]:
    """A layer's style: colours (keys naming a colour) must be colour values
    (``model.clean_colour``), everything else a number or a truth value; nothing reaches CSS
    unchecked."""
    clean: dict[str, str | bool | int | float] = {}
    for key, value in (style or {}).items():
        key = str(key)
        if "colo" in key.lower():
            clean[key] = clean_colour(value)
        elif isinstance(value, bool | int | float):
            clean[key] = value
        else:
            raise ValidationError("integrity.bad_style", name=strip_controls(key)[:40])
    return clean


def _bump(
    conn: Connection,
    table: Table,
    record_id: str,
    expected_version: int | None,
    kind: str,
    values: Mapping[str, object],
    load: Callable[[], object],
) -> None:
    """Write ``values`` to a network, city or living lab and bump its version, in the caller's
    write transaction; with ``expected_version`` (the version the editor saw), a record changed
    by someone else since raises :class:`ConflictError` (``current``: the record as stored now,
    from ``load()``) and nothing is written."""
    current = conn.execute(select(table.c.version).where(table.c.id == record_id)).scalar()
    if current is None:
        raise NotFoundError(f"notfound.{kind}")
    if expected_version is not None and current != expected_version:
        raise ConflictError(
            f"integrity.conflict_{kind}", current=load(), version=current, expected=expected_version
        )
    done = conn.execute(
        update(table)
        .where(table.c.id == record_id, table.c.version == current)
        .values(**values, version=current + 1)
    )
    if done.rowcount != 1:  # changed between the read and the write: never a lost update
        raise ConflictError(
            f"integrity.conflict_{kind}",
            current=load(),
            version=current + 1,
            expected=expected_version if expected_version is not None else current,
        )


def _country(code: str) -> str:
    code = (code or "").strip().upper()
    if len(code) != 2 or not code.isalpha() or not code.isascii():
        raise ValidationError("field.country", value=code)
    return code


class CoreMixin(StoreBase):
    # ---- networks -----------------------------------------------------------------------------
    def add_network(self, network: Network, by: Actor | None = None) -> Network:
        network = replace(
            network,
            name=clean_name(network.name, "name"),
            countries=tuple(_country(c) for c in network.countries),
            description=clean_text(network.description, "description"),
        )
        with self.write() as conn:
            authorize(conn, by, "setup.edit", None)
            if self._network_row(conn, network.id) is None:
                conn.execute(
                    insert(networks).values(
                        id=network.id,
                        name=network.name,
                        countries=dumps(list(network.countries)),
                        description=network.description,
                        created_at=iso(network.created_at),
                    )
                )
        return self.get_network(network.id)

    def update_network(
        self, network: Network, by: Actor | None = None, expected_version: int | None = None
    ) -> Network:
        """Change a network; ``expected_version``: the version the editor saw (a stale one
        raises :class:`ConflictError`, nothing written)."""
        self.get_network(network.id)
        values = dict(
            name=clean_name(network.name, "name"),
            countries=dumps([_country(c) for c in network.countries]),
            description=clean_text(network.description, "description"),
        )
        with self.write() as conn:
            authorize(conn, by, "setup.edit", None)
            _bump(
                conn,
                networks,
                network.id,
                expected_version,
                "network",
                values,
                lambda: self.get_network(network.id),
            )
        return self.get_network(network.id)

    def get_network(self, network_id: str) -> Network:
        with self.read() as conn:
            row = self._network_row(conn, network_id)
        if row is None:
            raise NotFoundError("notfound.network")
        return _network(row)

    def list_networks(self) -> list[Network]:
        with self.read() as conn:
            rows = conn.execute(select(networks).order_by(networks.c.name)).mappings().all()
            gone = _trashed(conn, "network")
        return [_network(r) for r in rows if r["id"] not in gone]

    def delete_network(self, network_id: str, by: Actor | None = None) -> None:
        with self.write() as conn:
            authorize(conn, by, "setup.edit", None)
            if conn.execute(select(labs.c.id).where(labs.c.network_id == network_id)).first():
                raise ValidationError("network.has_labs")
            conn.execute(delete(networks).where(networks.c.id == network_id))

    @staticmethod
    def _network_row(conn: Connection, network_id: str) -> RowMapping | None:
        return conn.execute(select(networks).where(networks.c.id == network_id)).mappings().first()

    # ---- cities -------------------------------------------------------------------------------
    def add_city(self, city: City, by: Actor | None = None) -> City:
        city = _clean_city(city)
        with self.write() as conn:
            authorize(conn, by, "setup.edit", None)
            self._require_networks(conn, city.network_ids)
            exists = conn.execute(select(cities.c.id).where(cities.c.id == city.id)).first()
            if exists is None:
                conn.execute(
                    insert(cities).values(
                        id=city.id,
                        name=city.name,
                        country=city.country,
                        lon=city.lon,
                        lat=city.lat,
                        illustrative_only=int(city.illustrative_only),
                    )
                )
                self._set_city_networks(conn, city.id, city.network_ids)
        return self.get_city(city.id)

    def update_city(
        self, city: City, by: Actor | None = None, expected_version: int | None = None
    ) -> City:
        """Change a city; ``expected_version`` as in :meth:`update_network`."""
        self.get_city(city.id)
        city = _clean_city(city)
        with self.write() as conn:
            authorize(conn, by, "setup.edit", None)
            self._require_networks(conn, city.network_ids)
            _bump(
                conn,
                cities,
                city.id,
                expected_version,
                "city",
                dict(
                    name=city.name,
                    country=city.country,
                    lon=city.lon,
                    lat=city.lat,
                    illustrative_only=int(city.illustrative_only),
                ),
                lambda: self.get_city(city.id),
            )
            self._set_city_networks(conn, city.id, city.network_ids)
        return self.get_city(city.id)

    def get_city(self, city_id: str) -> City:
        with self.read() as conn:
            row = conn.execute(select(cities).where(cities.c.id == city_id)).mappings().first()
            if row is None:
                raise NotFoundError("notfound.city")
            return _city(row, self._city_networks(conn, city_id))

    def list_cities(self, network_id: str | None = None) -> list[City]:
        query = select(cities).order_by(cities.c.name)
        if network_id:
            query = query.join(network_cities, network_cities.c.city_id == cities.c.id).where(
                network_cities.c.network_id == network_id
            )
        with self.read() as conn:
            rows = conn.execute(query).mappings().all()
            members: dict[str, list[str]] = {}
            gone = _trashed(conn)
            for m in conn.execute(select(network_cities)).mappings():
                if m["network_id"] not in gone:
                    members.setdefault(m["city_id"], []).append(m["network_id"])
        return [_city(r, sorted(members.get(r["id"], []))) for r in rows if r["id"] not in gone]

    def delete_city(self, city_id: str, by: Actor | None = None) -> None:
        with self.write() as conn:
            authorize(conn, by, "setup.edit", None)
            if conn.execute(select(labs.c.id).where(labs.c.city_id == city_id)).first():
                raise ValidationError("city.has_labs")
            conn.execute(delete(cities).where(cities.c.id == city_id))

    @staticmethod
    def _require_networks(conn: Connection, network_ids: tuple[str, ...]) -> None:
        for nid in network_ids:
            if conn.execute(select(networks.c.id).where(networks.c.id == nid)).first() is None:
                raise NotFoundError("notfound.network")

    @staticmethod
    def _set_city_networks(conn: Connection, city_id: str, network_ids: tuple[str, ...]) -> None:
        conn.execute(delete(network_cities).where(network_cities.c.city_id == city_id))
        for nid in dict.fromkeys(network_ids):
            conn.execute(insert(network_cities).values(network_id=nid, city_id=city_id))

    @staticmethod
    def _city_networks(conn: Connection, city_id: str) -> list[str]:
        q = select(network_cities.c.network_id).where(network_cities.c.city_id == city_id)
        return sorted(conn.execute(q).scalars())

    # ---- living labs --------------------------------------------------------------------------
    def add_lab(self, lab: LivingLab, by: Actor | None = None) -> LivingLab:
        """Add a living lab; one with the same id already there is kept as it is (after the
        same permission check, so a refused actor learns nothing new)."""
        with self.read() as conn:
            authorize(conn, by, "setup.edit", lab.id)
            if conn.execute(select(labs.c.id).where(labs.c.id == lab.id)).first():
                return self.get_lab(lab.id)
        lab = self._clean_lab(lab)
        with self.write() as conn:
            authorize(conn, by, "setup.edit", lab.id)
            if conn.execute(select(labs.c.id).where(labs.c.id == lab.id)).first() is None:
                conn.execute(
                    insert(labs).values(
                        **_lab_values(lab), id=lab.id, created_at=iso(lab.created_at)
                    )
                )
        return self.get_lab(lab.id)

    def update_lab(
        self, lab: LivingLab, by: Actor | None = None, expected_version: int | None = None
    ) -> LivingLab:
        """Change a living lab; ``expected_version`` as in :meth:`update_network`."""
        self.get_lab(lab.id)
        lab = replace(self._clean_lab(lab), updated_at=utcnow())
        with self.write() as conn:
            authorize(conn, by, "setup.edit", lab.id)
            _bump(
                conn,
                labs,
                lab.id,
                expected_version,
                "lab",
                _lab_values(lab),
                lambda: self.get_lab(lab.id),
            )
        return self.get_lab(lab.id)

    def get_lab(self, lab_id: str) -> LivingLab:
        with self.read() as conn:
            row = conn.execute(select(labs).where(labs.c.id == lab_id)).mappings().first()
        if row is None:
            raise NotFoundError("notfound.lab")
        return _lab(row)

    def list_labs(
        self, network_id: str | None = None, city_id: str | None = None
    ) -> list[LivingLab]:
        query = select(labs).order_by(labs.c.title)
        if network_id:
            query = query.where(labs.c.network_id == network_id)
        if city_id:
            query = query.where(labs.c.city_id == city_id)
        with self.read() as conn:
            gone = _trashed(conn, "lab")
            return [_lab(r) for r in conn.execute(query).mappings() if r["id"] not in gone]

    def delete_lab(self, lab_id: str, by: Actor | None = None) -> None:
        with self.write() as conn:
            authorize(conn, by, "setup.edit", lab_id)
            conn.execute(delete(labs).where(labs.c.id == lab_id))

    # ---- soft deletes (the app's Delete, with undo) ---------------------------------------------
    def trash_contents(self, kind: str, record_id: str) -> TrashContents:
        """What deleting ``kind`` ``record_id`` takes with it, for the confirmation: the
        records (``networks``, ``cities``, ``labs``: lists of names; ``lab_ids``) and the number
        of ``notes``, ``layers`` and ``snapshots`` of those living labs."""
        with self.read() as conn:
            ids = self._trash_ids(conn, kind, record_id)
            lab_ids = list(ids["lab"])
            names = {
                "networks": [
                    r.name
                    for r in conn.execute(
                        select(networks.c.name).where(networks.c.id.in_(ids["network"]))
                    )
                ],
                "cities": [
                    r.name
                    for r in conn.execute(select(cities.c.name).where(cities.c.id.in_(ids["city"])))
                ],
                "labs": [
                    r.title
                    for r in conn.execute(
                        select(labs.c.title).where(labs.c.id.in_(lab_ids)).order_by(labs.c.title)
                    )
                ],
            }
            counts = {
                "notes": conn.execute(
                    select(annotations_table.c.id).where(
                        annotations_table.c.lab_id.in_(lab_ids),
                        annotations_table.c.deleted_at.is_(None),
                    )
                ).all(),
                "layers": conn.execute(
                    select(layers.c.id).where(layers.c.lab_id.in_(lab_ids))
                ).all(),
                "snapshots": conn.execute(
                    select(snapshots.c.id).where(snapshots.c.lab_id.in_(lab_ids))
                ).all(),
            }
        return TrashContents(
            networks=names["networks"],
            cities=names["cities"],
            labs=names["labs"],
            notes=len(counts["notes"]),
            layers=len(counts["layers"]),
            snapshots=len(counts["snapshots"]),
            lab_ids=lab_ids,
        )

    def trash(self, kind: str, record_id: str, by: Actor | None = None) -> str:
        """Delete a network, city or living lab softly, with what goes with it (see
        :meth:`trash_contents`); only owners (``workspace.admin``). Refused while one of those
        living labs runs a workshop session. Returns the id to :meth:`restore_trash` with."""
        batch = uuid.uuid4().hex
        with self.write() as conn:
            authorize(conn, by, "workspace.admin", None)
            ids = self._trash_ids(conn, kind, record_id)
            if any(active_session_row(conn, lab_id) is not None for lab_id in ids["lab"]):
                raise ValidationError("setup.delete.session_running")
            value = dumps(
                {"batch": batch, "at": iso(utcnow()), "by": by.group if by is not None else ""}
            )
            for k, found in ids.items():
                for rid in found:
                    key = f"{_TRASH_PREFIX}{k}.{rid}"
                    conn.execute(delete(workspace_settings).where(workspace_settings.c.key == key))
                    conn.execute(insert(workspace_settings).values(key=key, value=value))
        return batch

    def restore_trash(self, batch: str, by: Actor | None = None) -> int:
        """Undo one :meth:`trash` (everything it took); the number of records back."""
        with self.write() as conn:
            authorize(conn, by, "workspace.admin", None)
            rows = conn.execute(
                select(workspace_settings.c.key, workspace_settings.c.value).where(
                    workspace_settings.c.key.like(_TRASH_PREFIX + "%")
                )
            ).all()
            keys = [r.key for r in rows if (loads(r.value, {}) or {}).get("batch") == batch]
            if keys:
                conn.execute(delete(workspace_settings).where(workspace_settings.c.key.in_(keys)))
        return len(keys)

    def list_trash(self) -> list[TrashBatch]:
        """The soft deletes that can be undone, newest first: ``batch``, ``at``, ``by`` and the
        ``names`` of what was deleted (networks and cities first)."""
        with self.read() as conn:
            rows = conn.execute(
                select(workspace_settings.c.key, workspace_settings.c.value).where(
                    workspace_settings.c.key.like(_TRASH_PREFIX + "%")
                )
            ).all()
            names = {
                **{r.id: r.name for r in conn.execute(select(networks.c.id, networks.c.name))},
                **{r.id: r.name for r in conn.execute(select(cities.c.id, cities.c.name))},
                **{r.id: r.title for r in conn.execute(select(labs.c.id, labs.c.title))},
            }
        order = {k: i for i, k in enumerate(TRASH_KINDS)}
        batches: dict[str, TrashBatch] = {}
        for key, value in sorted(rows, key=lambda r: order.get(r.key.split(".")[1], 9)):
            data = loads(value, {}) or {}
            entry = batches.setdefault(
                data.get("batch", ""),
                TrashBatch(
                    batch=data.get("batch", ""),
                    at=from_iso(data.get("at")),
                    by=data.get("by", ""),
                    names=[],
                ),
            )
            entry["names"].append(names.get(key.rsplit(".", 1)[1], "—"))
        return sorted(batches.values(), key=lambda e: e["at"] or utcnow(), reverse=True)

    @staticmethod
    def _trash_ids(conn: Connection, kind: str, record_id: str) -> dict[str, set[str]]:
        """The records deleting ``kind`` ``record_id`` takes (not counting deleted ones)."""
        if kind not in TRASH_KINDS:
            raise ValidationError("setup.delete.kind", value=str(kind)[:20])
        table = {"network": networks, "city": cities, "lab": labs}[kind]
        gone = _trashed(conn)
        if (
            record_id in gone
            or conn.execute(select(table.c.id).where(table.c.id == record_id)).first() is None
        ):
            raise NotFoundError(f"notfound.{kind}")
        ids: dict[str, set[str]] = {"network": set(), "city": set(), "lab": set()}
        ids[kind].add(record_id)
        if kind == "network":
            for city_id in conn.execute(
                select(network_cities.c.city_id).where(network_cities.c.network_id == record_id)
            ).scalars():
                others = (
                    set(
                        conn.execute(
                            select(network_cities.c.network_id).where(
                                network_cities.c.city_id == city_id
                            )
                        ).scalars()
                    )
                    - gone
                    - {record_id}
                )
                if not others:
                    ids["city"].add(city_id)
            ids["lab"] |= set(
                conn.execute(select(labs.c.id).where(labs.c.network_id == record_id)).scalars()
            )
        if ids["city"]:
            ids["lab"] |= set(
                conn.execute(select(labs.c.id).where(labs.c.city_id.in_(ids["city"]))).scalars()
            )
        ids["lab"] -= gone
        return ids

    def _clean_lab(self, lab: LivingLab) -> LivingLab:
        city = self.get_city(lab.city_id)
        self.get_network(lab.network_id)
        if lab.network_id not in city.network_ids:
            raise ValidationError("lab.city_not_in_network")
        if lab.status not in LAB_STATUSES:
            raise ValidationError("lab.status", value=lab.status)
        unknown = [p for p in lab.principles if p not in PRINCIPLES]
        unknown += [s for s in lab.sdg_targets if s not in SDG_TARGETS]
        if unknown:
            raise ValidationError("lab.unknown_codes", codes=", ".join(unknown))
        themes = tuple(dict.fromkeys(clean_name(t, "themes", 60) for t in lab.themes if t.strip()))
        return replace(
            lab,
            title=clean_name(lab.title, "title"),
            summary=clean_text(lab.summary, "summary"),
            themes=themes,
            principles=tuple(dict.fromkeys(lab.principles)),
            sdg_targets=tuple(dict.fromkeys(lab.sdg_targets)),
            boundary=validate_boundary(lab.boundary, city.lon, city.lat),
        )

    # ---- layers -------------------------------------------------------------------------------
    def add_layer(self, layer: Layer, by: Actor | None = None) -> Layer:
        with self.write() as conn:
            authorize(conn, by, "layers.edit", layer.lab_id)
            if conn.execute(select(layers.c.id).where(layers.c.id == layer.id)).first() is None:
                insert_row(
                    conn,
                    layers,
                    dict(
                        id=layer.id,
                        lab_id=layer.lab_id,
                        name=clean_name(layer.name, "name"),
                        kind=layer.kind,
                        source=clean_text(layer.source, "source"),
                        attribution=clean_text(layer.attribution, "attribution"),
                        style=dumps(clean_style(layer.style)),
                        path=layer.path,
                        feature_count=layer.feature_count,
                        created_at=iso(layer.created_at),
                        source_for=_check_source_for(layer.source_for),
                    ),
                )
        return self.get_layer(layer.id)

    def update_layer_style(
        self, layer_id: str, style: Mapping[str, object], by: Actor | None = None
    ) -> Layer:
        with self.write() as conn:
            authorize(conn, by, "layers.edit", self._lab_of(conn, layers, layer_id))
            conn.execute(
                update(layers)
                .where(layers.c.id == layer_id)
                .values(style=dumps(clean_style(style)))
            )
        return self.get_layer(layer_id)

    def set_layer_source(self, layer_id: str, theme: str, by: Actor | None = None) -> Layer:
        """Mark an uploaded layer as the source of an indicator theme (``""``: none). A lab has
        one source per theme: another layer marked for the same theme is unmarked."""
        theme = _check_source_for(theme)
        with self.write() as conn:
            lab_id = self._lab_of(conn, layers, layer_id)
            authorize(conn, by, "layers.edit", lab_id)
            if theme:
                conn.execute(
                    update(layers)
                    .where((layers.c.lab_id == lab_id) & (layers.c.source_for == theme))
                    .values(source_for="")
                )
            conn.execute(update(layers).where(layers.c.id == layer_id).values(source_for=theme))
        return self.get_layer(layer_id)

    def get_layer(self, layer_id: str) -> Layer:
        with self.read() as conn:
            row = conn.execute(select(layers).where(layers.c.id == layer_id)).mappings().first()
        if row is None:
            raise NotFoundError("notfound.layer")
        return _layer(row)

    def list_layers(self, lab_id: str, kind: str | None = None) -> list[Layer]:
        query = select(layers).where(layers.c.lab_id == lab_id).order_by(layers.c.created_at)
        if kind:
            query = query.where(layers.c.kind == kind)
        with self.read() as conn:
            return [_layer(r) for r in conn.execute(query).mappings()]

    def delete_layer(self, layer_id: str, by: Actor | None = None) -> None:
        with self.write() as conn:
            authorize(conn, by, "layers.edit", self._lab_of(conn, layers, layer_id))
            conn.execute(delete(layers).where(layers.c.id == layer_id))

    # ---- snapshots ----------------------------------------------------------------------------
    def add_snapshot(self, snapshot: Snapshot, by: Actor | None = None) -> Snapshot:
        with self.write() as conn:
            authorize(conn, by, "snapshot.manage", snapshot.lab_id)
            insert_snapshot(conn, snapshot)
        return self.get_snapshot(snapshot.id)

    def get_snapshot(self, snapshot_id: str) -> Snapshot:
        with self.read() as conn:
            row = (
                conn.execute(select(snapshots).where(snapshots.c.id == snapshot_id))
                .mappings()
                .first()
            )
        if row is None:
            raise NotFoundError("notfound.snapshot")
        return _snapshot(row)

    def list_snapshots(self, lab_id: str) -> list[Snapshot]:
        query = (
            select(snapshots)
            .where(snapshots.c.lab_id == lab_id)
            .order_by(snapshots.c.created_at.desc())
        )
        with self.read() as conn:
            return [_snapshot(r) for r in conn.execute(query).mappings()]

    def delete_snapshot(self, snapshot_id: str, by: Actor | None = None) -> None:
        with self.write() as conn:
            authorize(conn, by, "snapshot.manage", self._lab_of(conn, snapshots, snapshot_id))
            conn.execute(delete(snapshots).where(snapshots.c.id == snapshot_id))

    @staticmethod
    def _lab_of(conn: Connection, table: Table, record_id: str) -> str | None:
        """The living lab a layer or snapshot belongs to (None when there is no such record:
        then the write is judged workspace-wide)."""
        return conn.execute(select(table.c.lab_id).where(table.c.id == record_id)).scalar()


def _clean_city(city: City) -> City:
    try:
        lon, lat = float(city.lon), float(city.lat)
    except (TypeError, ValueError) as exc:
        raise ValidationError("city.location") from exc
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise ValidationError("city.location")
    return replace(
        city, name=clean_name(city.name, "name"), country=_country(city.country), lon=lon, lat=lat
    )


def _network(r: RowMapping) -> Network:
    return Network(
        id=r["id"],
        name=r["name"],
        countries=tuple(loads(r["countries"], [])),
        description=r["description"],
        created_at=datetime.fromisoformat(r["created_at"]),
        version=r["version"],
    )


def _city(r: RowMapping, network_ids: Iterable[str]) -> City:
    return City(
        id=r["id"],
        name=r["name"],
        country=r["country"],
        lon=r["lon"],
        lat=r["lat"],
        network_ids=tuple(network_ids),
        illustrative_only=bool(r["illustrative_only"]),
        version=r["version"],
    )


def _lab_values(lab: LivingLab) -> dict[str, object]:
    return dict(
        city_id=lab.city_id,
        network_id=lab.network_id,
        title=lab.title,
        summary=lab.summary,
        themes=dumps(list(lab.themes)),
        principles=dumps(list(lab.principles)),
        sdg_targets=dumps(list(lab.sdg_targets)),
        status=lab.status,
        boundary=shapely.to_wkt(lab.boundary, rounding_precision=COORD_DECIMALS),
        illustrative=int(lab.illustrative),
        updated_at=iso(lab.updated_at),
    )


def _lab(r: RowMapping) -> LivingLab:
    return LivingLab(
        id=r["id"],
        city_id=r["city_id"],
        network_id=r["network_id"],
        title=r["title"],
        boundary=shapely.from_wkt(r["boundary"]),
        summary=r["summary"],
        themes=tuple(loads(r["themes"], [])),
        principles=tuple(loads(r["principles"], [])),
        sdg_targets=tuple(loads(r["sdg_targets"], [])),
        status=r["status"],
        illustrative=bool(r["illustrative"]),
        created_at=datetime.fromisoformat(r["created_at"]),
        updated_at=datetime.fromisoformat(r["updated_at"]),
        version=r["version"],
    )


def _layer(r: RowMapping) -> Layer:
    return Layer(
        id=r["id"],
        lab_id=r["lab_id"],
        name=r["name"],
        kind=r["kind"],
        source=r["source"],
        attribution=r["attribution"],
        style=loads(r["style"], {}),
        path=r["path"],
        feature_count=r["feature_count"],
        created_at=datetime.fromisoformat(r["created_at"]),
        source_for=r.get("source_for") or "",
    )


def _check_source_for(theme: str) -> str:
    if theme and theme not in SOURCE_THEMES:
        raise ValidationError(
            "comparison.source_unknown", theme=str(theme)[:40], known=", ".join(SOURCE_THEMES)
        )
    return theme or ""


def _snapshot(r: RowMapping) -> Snapshot:
    return Snapshot(
        id=r["id"],
        lab_id=r["lab_id"],
        name=r["name"],
        state=loads(r["state"], {}),
        created_by=r["created_by"],
        created_at=datetime.fromisoformat(r["created_at"]),
    )


def insert_snapshot(conn: Connection, snapshot: Snapshot) -> None:
    """Store ``snapshot`` in the caller's (judged) write transaction, unless one with its id
    is there already."""
    exists = conn.execute(select(snapshots.c.id).where(snapshots.c.id == snapshot.id))
    if exists.first() is not None:
        return
    insert_row(
        conn,
        snapshots,
        dict(
            id=snapshot.id,
            lab_id=snapshot.lab_id,
            name=clean_name(snapshot.name, "name"),
            state=dumps(snapshot.state),
            created_by=strip_controls(snapshot.created_by or ""),
            created_at=iso(snapshot.created_at),
        ),
    )


def insert_row(conn: Connection, table: Table, values: Mapping[str, object]) -> None:
    """Insert one record of a living lab (``values`` with ``id`` and ``lab_id``) in the
    caller's write transaction. A refusal of the database is told apart: a living lab that
    does not exist is :class:`NotFoundError` (``notfound.lab``); the id stored meanwhile for
    the same living lab is the retry of this write (kept as stored); the id taken by a record
    of another living lab is ``integrity.duplicate_id``; any other rule of the schema broken
    is ``integrity.constraint``."""
    try:
        with conn.begin_nested():  # a savepoint: the transaction stays usable to tell why
            conn.execute(insert(table).values(**values))
    except IntegrityError as exc:
        if conn.execute(select(labs.c.id).where(labs.c.id == values["lab_id"])).first() is None:
            raise NotFoundError("notfound.lab") from exc
        stored = conn.execute(select(table.c.lab_id).where(table.c.id == values["id"])).first()
        if stored is not None and stored.lab_id == values["lab_id"]:
            return
        if stored is not None:
            raise ValidationError("integrity.duplicate_id", id=values["id"]) from exc
        raise ValidationError("integrity.constraint", table=table.name) from exc
