"""Fixed colours for categories, shared by every widget and plot.

A category keeps its colour everywhere: ZIF-4-cp-II is the same green in every frame of a
trajectory, in the 3D view, in its legend and in a plotly figure. Known properties
(``phase``, ``source_set``, ``level``, ``bead``, ``role``) have fixed tables; any other
categorical property gets the colours of :data:`QUALITATIVE` in the order of the categories
you pass (pass the full list, e.g. every value of a whole trajectory, to keep colours fixed).

>>> palette_for("phase")["ZIF-4-cp-II"]
'#2ca02c'
>>> palette_for("phase", ["liquid", "mystery"])
{'liquid': '#d62728', 'mystery': '#e377c2'}
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["NAN_COLOR", "QUALITATIVE", "KNOWN", "palette_for", "known_properties"]

#: colour of "no value" (NaN, missing category); never used for a category
NAN_COLOR = "#b4b4b4"

#: distinct colours for categories without a fixed table (D3 without its grey, then more)
QUALITATIVE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22",
    "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2",
    "#dbdb8d", "#9edae5", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd",
)

_PHASE = {
    "ZIF-4": "#1f77b4",
    "ZIF-4-cp": "#ff7f0e",
    "ZIF-4-cp-II": "#2ca02c",
    "ZIF-zni": "#9467bd",
    "ZIF-hPT-II": "#8c564b",
    "glass": "#17becf",
    "liquid": "#d62728",
}
_SOURCE_SET = {"NVT": "#4c78a8", "NPT": "#f58518", "minimised": "#54a24b",
               "rattled": "#b279a2", "reference": "#72b7b2"}
_LEVEL = {"atomistic": "#636efa", "AB2": "#ef553b", "A": "#00cc96"}
_BEAD = {"A": "#1f77b4", "B": "#ff7f0e"}
_ROLE = {"Zn": "#7d80b0", "N": "#3050f8", "C2": "#606060", "C45": "#909090",
         "H2": "#e377c2", "H45": "#e0e0e0"}
_BOOL = {"False": "#c6dbef", "True": "#d62728"}

#: property -> {category: '#rrggbb'}; the fixed tables
KNOWN: dict[str, dict[str, str]] = {
    "phase": _PHASE, "source_set": _SOURCE_SET, "level": _LEVEL, "bead": _BEAD,
    "role": _ROLE, "bool": _BOOL,
}
_LEVEL_ALIASES = {"A-only": "A", "a-only": "A", "ab2": "AB2", "a": "A"}


def known_properties() -> list[str]:
    """Properties with a fixed colour table."""
    return list(KNOWN)


def _fixed(prop: str) -> dict[str, str]:
    return KNOWN.get(str(prop), {})


def palette_for(property: str, categories: Iterable | None = None) -> dict[str, str]:
    """Colours of the categories of ``property``: ``{category: '#rrggbb'}``.

    Without ``categories``: the fixed table of a known property (empty for others).
    With ``categories`` (any iterable, converted to ``str``): one colour for each, in the
    given order; known categories keep their fixed colour, the others get the first
    :data:`QUALITATIVE` colours not used by the table (so adding a category never changes
    the colour of another).
    """
    table = _fixed(property)
    if categories is None:
        return dict(table)
    cats = list(dict.fromkeys(str(c) for c in categories))
    if property == "level":
        cats_key = {c: _LEVEL_ALIASES.get(c, c) for c in cats}
    else:
        cats_key = {c: c for c in cats}
    used = set(table.values())
    spare = [c for c in QUALITATIVE if c not in used]
    out: dict[str, str] = {}
    k = 0
    for c in cats:
        if cats_key[c] in table:
            out[c] = table[cats_key[c]]
        else:
            out[c] = spare[k % len(spare)]
            k += 1
    return out
