"""The catalogue of OpenStreetMap themes: which tags put a feature into which theme.

This module (with the rest of ``workbench.opendata``) is the only place in the workbench that knows
OSM tags. Each theme lists its tag filter in the form osmnx takes (``{key: True | [values]}``), the
geometry kinds it keeps, its map style and the locale key of its label.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from workbench.palette import THEME_COLOURS

#: Geometry kinds a theme may keep.
POINT, LINE, POLYGON = "point", "line", "polygon"


@dataclass(frozen=True)
class Theme:
    """One OSM theme.

    Attributes
    ----------
    code
        Stable code (``"buildings"``), used in the cache, the CLI and URLs.
    tags
        Tag filter: ``{key: True}`` takes any value except ``no``; ``{key: (v1, v2)}`` takes the
        listed values. Keys are tried in order; the first match becomes ``osm_key``/``osm_value``.
    kinds
        Geometry kinds kept: ``point``, ``line``, ``polygon``. Polygons and lines of a theme whose
        kinds are only ``point`` become their representative point.
    colour
        Stroke/fill colour on the map and in the legend.

    The columns a theme keeps in the cache besides the tag match are
    :func:`workbench.opendata.osm.columns_for`'s (``levels`` read from ``building:levels``).
    """

    code: str
    tags: Mapping[str, Literal[True] | tuple[str, ...]]
    kinds: tuple[str, ...]
    colour: str
    fill_opacity: float = 0.35
    weight: float = 1.0
    radius: float = 4.0

    @property
    def label_key(self) -> str:
        """Locale key of the theme's label (``opendata.theme.<code>``)."""
        return f"opendata.theme.{self.code}"

    @property
    def style(self) -> dict[str, object]:
        """Leaflet path style for the theme's layer."""
        return {
            "color": self.colour,
            "fillColor": self.colour,
            "weight": self.weight,
            "fillOpacity": self.fill_opacity,
            "opacity": 0.9,
        }

    def match(self, tags: Mapping[str, str]) -> tuple[str, str] | None:
        """The ``(key, value)`` that puts an object with ``tags`` into this theme, or None."""
        if self.code == "streets" and not is_walkable(tags):
            return None
        for key, accepted in self.tags.items():
            value = tags.get(key)
            if value is None:
                continue
            if key == "highway" and self.kinds == (POLYGON,) and not is_area(tags):
                continue  # a closed pedestrian way is a loop unless tagged as an area
            if accepted is True:
                if value != "no":
                    return key, value
            elif value in accepted:
                return key, value
        return None


#: Highway values that are never part of the walkable network.
NOT_WALKABLE = frozenset(
    {
        "motorway",
        "motorway_link",
        "trunk",
        "trunk_link",
        "construction",
        "proposed",
        "abandoned",
        "platform",
        "raceway",
        "bus_guideway",
        "escape",
        "corridor",
        "elevator",
        "rest_area",
        "services",
        "planned",
        "razed",
        "busway",
    }
)

#: Highway values of the walkable network (OSM ``highway=*`` on ways).
WALKABLE_HIGHWAYS = (
    "primary",
    "primary_link",
    "secondary",
    "secondary_link",
    "tertiary",
    "tertiary_link",
    "unclassified",
    "residential",
    "living_street",
    "service",
    "pedestrian",
    "footway",
    "path",
    "steps",
    "track",
    "cycleway",
    "bridleway",
    "road",
)


def is_walkable(tags: Mapping[str, str]) -> bool:
    """Whether a way with ``tags`` belongs to the walkable street network."""
    highway = tags.get("highway")
    if highway is None or highway in NOT_WALKABLE or highway not in WALKABLE_HIGHWAYS:
        return False
    if tags.get("area") == "yes" or tags.get("foot") == "no":
        return False
    if tags.get("access") in ("private", "no") and tags.get("foot") not in (
        "yes",
        "designated",
        "permissive",
    ):
        return False
    return tags.get("service") != "private"


def is_area(tags: Mapping[str, str]) -> bool:
    """Whether a highway object is an area: ``area=yes`` on a way, or a multipolygon."""
    return tags.get("area") == "yes" or tags.get("type") == "multipolygon"


_GREEN_LEISURE = (
    "park",
    "garden",
    "playground",
    "nature_reserve",
    "recreation_ground",
    "common",
    "dog_park",
    "pitch",
    "village_green",
)
_GREEN_LANDUSE = (
    "grass",
    "forest",
    "meadow",
    "recreation_ground",
    "village_green",
    "allotments",
    "cemetery",
    "orchard",
    "vineyard",
    "greenfield",
)
_GREEN_NATURAL = ("wood", "scrub", "grassland", "heath", "tree_row")

THEMES: dict[str, Theme] = {
    theme.code: theme
    for theme in (
        Theme(
            "buildings",
            {"building": True},
            (POLYGON,),
            THEME_COLOURS["buildings"],
            fill_opacity=0.45,
            weight=0.6,
        ),
        # green and open space: parks, woods ... and the paved open spaces of SDG 11.7.1
        # (squares, pedestrian areas), which the open-public-space indicator reads from here
        Theme(
            "green",
            {
                "leisure": _GREEN_LEISURE,
                "landuse": _GREEN_LANDUSE,
                "natural": _GREEN_NATURAL,
                "place": ("square",),
                "highway": ("pedestrian",),
            },
            (POLYGON,),
            THEME_COLOURS["green"],
            fill_opacity=0.35,
            weight=0.8,
        ),
        Theme(
            "streets",
            {"highway": WALKABLE_HIGHWAYS},
            (LINE,),
            THEME_COLOURS["streets"],
            weight=2.0,
            fill_opacity=0.0,
        ),
        Theme(
            "transit",
            {
                "highway": ("bus_stop",),
                "railway": ("station", "halt", "tram_stop", "subway_entrance"),
                "public_transport": ("platform", "stop_position", "station"),
                "amenity": ("bus_station", "ferry_terminal"),
            },
            (POINT,),
            THEME_COLOURS["transit"],
            radius=5,
        ),
        Theme(
            "schools",
            {"amenity": ("school", "kindergarten", "childcare", "college", "university")},
            (POINT, POLYGON),
            THEME_COLOURS["schools"],
            fill_opacity=0.3,
            radius=5,
        ),
        Theme(
            "health",
            {
                "amenity": ("hospital", "clinic", "doctors", "dentist", "pharmacy"),
                "healthcare": True,
            },
            (POINT,),
            THEME_COLOURS["health"],
            radius=5,
        ),
        Theme(
            "shops",
            {
                "shop": True,
                "amenity": (
                    "marketplace",
                    "restaurant",
                    "cafe",
                    "fast_food",
                    "pub",
                    "bar",
                    "food_court",
                    "ice_cream",
                ),
            },
            (POINT,),
            THEME_COLOURS["shops"],
            radius=4,
        ),
        Theme(
            "community",
            {
                "amenity": (
                    "community_centre",
                    "library",
                    "theatre",
                    "arts_centre",
                    "place_of_worship",
                    "social_facility",
                    "townhall",
                    "cinema",
                    "social_centre",
                    "youth_centre",
                    "bank",
                    "post_office",
                ),
                "tourism": ("museum", "gallery"),
                "leisure": ("sports_centre",),
            },
            (POINT,),
            THEME_COLOURS["community"],
            radius=5,
        ),
        Theme(
            "water",
            {
                "natural": ("water", "wetland", "spring"),
                "waterway": ("river", "stream", "canal", "riverbank", "ditch", "drain"),
                "water": True,
                "landuse": ("reservoir", "basin"),
            },
            (LINE, POLYGON),
            THEME_COLOURS["water"],
            fill_opacity=0.5,
            weight=1.5,
        ),
        Theme(
            "landuse",
            {"landuse": True},
            (POLYGON,),
            THEME_COLOURS["landuse"],
            fill_opacity=0.2,
            weight=0.5,
        ),
    )
}

#: Every tag key that any theme looks at (for pre-filtering OSM files).
ALL_KEYS: tuple[str, ...] = tuple(dict.fromkeys(k for th in THEMES.values() for k in th.tags))


def check_themes(themes: list[str] | tuple[str, ...] | None) -> list[str]:
    """The theme codes asked for (all when None), in catalogue order; unknown codes raise."""
    from workbench.errors import ValidationError

    if themes is None:
        return list(THEMES)
    unknown = [code for code in themes if code not in THEMES]
    if unknown:
        raise ValidationError(
            "opendata.theme_unknown", codes=", ".join(unknown), known=", ".join(THEMES)
        )
    return [code for code in THEMES if code in themes]


def union_tags(themes: list[str]) -> dict[str, Literal[True] | list[str]]:
    """One osmnx tag filter covering every theme in ``themes`` (for a single Overpass query)."""
    merged: dict[str, Literal[True] | list[str]] = {}
    for code in themes:
        for key, accepted in THEMES[code].tags.items():
            have = merged.get(key)
            if accepted is True or have is True:
                merged[key] = True
            else:
                merged[key] = sorted(set(have or []) | set(accepted))
    return merged
