"""Every colour the workbench draws with, in one place (re-exported by ``workbench.settings``).

It owns the colour values only; it must not import anything of the workbench (every layer may
read it, the store included). A module that draws names a colour from here instead of writing
its hex value.
"""

from __future__ import annotations

#: The colour-blind-safe palette of Okabe & Ito (2008), by name. Group colours are offered by
#: these names (``workshop.colour.<name>``), so that a colour is never told by colour alone.
OKABE_ITO = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "green": "#009E73",
    "vermilion": "#D55E00",
    "purple": "#CC79A7",
    "sky": "#56B4E9",
    "yellow": "#F0E442",
    "black": "#000000",
}
BLUE = OKABE_ITO["blue"]
ORANGE = OKABE_ITO["orange"]
GREEN = OKABE_ITO["green"]
VERMILION = OKABE_ITO["vermilion"]
PURPLE = OKABE_ITO["purple"]
SKY = OKABE_ITO["sky"]

#: Colours handed out in turn (networks, groups without a colour of their own).
PALETTE = tuple(OKABE_ITO.values())
#: The group colours offered when joining a workshop session.
GROUP_COLOURS = OKABE_ITO
#: One colour per compared site (charts and profiles of the comparison); at most six sites.
SITE_SERIES_COLOURS = PALETTE[:6]
#: Colours of uploaded layers, each layer its own (Okabe & Ito, then Tol's muted scheme), none
#: of them a colour of the OSM themes' greys and greens.
UPLOAD_PALETTE = (
    BLUE,
    ORANGE,
    PURPLE,
    GREEN,
    VERMILION,
    "#882255",
    "#44AA99",
    "#332288",
    "#999933",
    "#AA4499",
)
#: A layer's colour when it has none of its own.
DEFAULT_LAYER_COLOUR = BLUE

#: The built-in annotation categories' colours.
ANNOTATION_CATEGORY_COLOURS = {
    "strength": GREEN,
    "problem": VERMILION,
    "idea": BLUE,
    "question": PURPLE,
    "next_step": ORANGE,
}
#: The colour a new category is offered with.
NEW_CATEGORY_COLOUR = SKY
#: A category the workspace no longer defines.
UNKNOWN_CATEGORY_COLOUR = "#777777"
#: Lessons and open questions shared with the network.
NOTE_KIND_COLOURS = {"lesson": GREEN, "question": PURPLE}

#: The site boundary on every map, sheet and chart.
SITE_COLOUR = VERMILION
#: Outlines of the notes' markers: light on the map, dark when enlarged or highlighted.
OUTLINE_LIGHT = "#ffffff"
OUTLINE_DARK = OKABE_ITO["black"]

#: The OSM themes' colours (``opendata.themes``).
THEME_COLOURS = {
    "buildings": "#7f7f7f",
    "green": "#2ca02c",
    "streets": "#404040",
    "transit": BLUE,
    "schools": ORANGE,
    "health": VERMILION,
    "shops": PURPLE,
    "community": "#9467bd",
    "water": SKY,
    "landuse": "#bcbd22",
}

#: How comparable a figure is, on the twin sheet.
COMPARABILITY_COLOURS = {"comparable": "#1a7f37", "thin": "#b26b00", "not_comparable": "#8c8c8c"}

__all__ = [
    "ANNOTATION_CATEGORY_COLOURS",
    "BLUE",
    "COMPARABILITY_COLOURS",
    "DEFAULT_LAYER_COLOUR",
    "GREEN",
    "GROUP_COLOURS",
    "NEW_CATEGORY_COLOUR",
    "NOTE_KIND_COLOURS",
    "OKABE_ITO",
    "ORANGE",
    "OUTLINE_DARK",
    "OUTLINE_LIGHT",
    "PALETTE",
    "PURPLE",
    "SITE_COLOUR",
    "SITE_SERIES_COLOURS",
    "SKY",
    "THEME_COLOURS",
    "UNKNOWN_CATEGORY_COLOUR",
    "UPLOAD_PALETTE",
    "VERMILION",
]
