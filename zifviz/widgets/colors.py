"""Per-atom colours for the 3D views, and the matching legends.

One function, :func:`map_colors`, turns a per-atom (or per-bead) quantity of an
``ase.Atoms`` into a :class:`ColorMapping`: one colour per atom, the same
colours grouped for NGL's selection-based colour scheme, and an HTML legend.
Because the 3D view and the legend are built from the same mapping, the
colours on screen match the legend exactly.

* ``"element"``: Jmol colours of the chemical symbols (ASE's table).
* numeric arrays: a continuous palette (Viridis) cut into ``n_bins`` equal
  bins between the minimum and maximum; NaN is drawn grey.
* string or boolean arrays: the fixed category colours of :mod:`zifviz.palettes` (a phase
  keeps its colour in every frame, legend and plot).
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

import numpy as np
from ase import Atoms
from ase.data import chemical_symbols
from ase.data.colors import jmol_colors

from ..palettes import NAN_COLOR, palette_for

__all__ = ["ColorMapping", "color_options", "get_values", "map_colors", "map_values",
           "NAN_COLOR"]
#: continuous palette (a plotly colour-scale name)
CONTINUOUS_SCALE = "Viridis"
DEFAULT_BINS = 12

# Arrays ASE keeps for itself or that are not per-atom scalars worth colouring by.
_SKIP_ARRAYS = {"numbers", "positions", "momenta", "spacegroup_kinds", "parent", "lammps_type"}


def _to_hex(color) -> str:
    """'rgb(r, g, b)' | '#rrggbb' | (r, g, b) floats in [0, 1] -> '#rrggbb'."""
    if isinstance(color, str):
        if color.startswith("#"):
            return color.lower()
        nums = color[color.index("(") + 1: color.index(")")].split(",")
        rgb = [int(round(float(x))) for x in nums[:3]]
    else:
        rgb = [int(round(255 * float(x))) for x in color[:3]]
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def hex_to_rgb(hexes) -> np.ndarray:
    """List of '#rrggbb' -> (n, 3) float array in [0, 1]."""
    return np.array([[int(h[k:k + 2], 16) / 255.0 for k in (1, 3, 5)] for h in hexes],
                    dtype=float).reshape(-1, 3)


def _per_atom_calc_results(atoms: Atoms) -> dict[str, np.ndarray]:
    """Per-atom 1-D results stored on an attached calculator (e.g. ``energies``)."""
    calc = atoms.calc
    out = {}
    results = getattr(calc, "results", None) or {}
    for name, value in results.items():
        arr = np.asarray(value)
        if arr.ndim == 1 and len(arr) == len(atoms) and name not in atoms.arrays:
            out[name] = arr
    return out


def _usable(arr: np.ndarray, n: int) -> bool:
    return arr.ndim == 1 and len(arr) == n and arr.dtype.kind in "biufUSO"


def color_options(atoms: Atoms) -> list[str]:
    """Names that :func:`map_colors` accepts for ``atoms``: ``"element"``, then every
    per-atom 1-D numeric, boolean or string array (``atoms.arrays`` and per-atom
    calculator results), in the order they were added."""
    names = ["element"]
    for name, arr in atoms.arrays.items():
        if name not in _SKIP_ARRAYS and _usable(np.asarray(arr), len(atoms)):
            names.append(name)
    for name, arr in _per_atom_calc_results(atoms).items():
        if _usable(arr, len(atoms)):
            names.append(name)
    return names


def get_values(atoms: Atoms, name: str) -> np.ndarray:
    """The per-atom values called ``name`` (``"element"`` gives the symbols)."""
    if name == "element":
        return np.array(atoms.get_chemical_symbols())
    if name in atoms.arrays:
        return np.asarray(atoms.arrays[name])
    calc_arrays = _per_atom_calc_results(atoms)
    if name in calc_arrays:
        return calc_arrays[name]
    raise KeyError(f"no per-atom array {name!r}; choose one of {color_options(atoms)}")


@dataclass
class ColorMapping:
    """Colours of the atoms of one structure for one quantity.

    The colours are a small ``palette`` and one ``index`` per atom into it: the browser
    gets the index array (a few bytes per atom) and maps it with the palette.

    Attributes
    ----------
    name: the quantity (``"element"`` or an array name).
    kind: ``"element"``, ``"categorical"`` or ``"continuous"``.
    index: (n_atoms,) uint16 index into ``palette``.
    palette: ``'#rrggbb'`` colours (NaN atoms use :data:`NAN_COLOR`, last when present).
    labels, label_colors: legend entries (categories, or distinct values of a
        numeric array with few values) and their colours.
    vmin, vmax, bin_colors: the continuous palette (``kind == "continuous"``).
    has_nan: some atoms have no value (drawn :data:`NAN_COLOR`).
    """

    name: str
    kind: str
    index: np.ndarray
    palette: list[str]
    labels: list[str] = field(default_factory=list)
    label_colors: list[str] = field(default_factory=list)
    vmin: float | None = None
    vmax: float | None = None
    bin_colors: list[str] = field(default_factory=list)
    has_nan: bool = False

    @property
    def hex(self) -> list[str]:
        """One ``'#rrggbb'`` per atom."""
        pal = np.asarray(self.palette)
        return pal[self.index].tolist() if len(self.index) else []

    @property
    def rgb(self) -> np.ndarray:
        """(n_atoms, 3) floats in [0, 1]."""
        return hex_to_rgb(self.palette)[self.index].reshape(-1, 3)

    @property
    def key(self) -> tuple:
        """Changes whenever the drawn colours change."""
        return (self.name, tuple(self.palette), hash(self.index.tobytes()))

    def groups(self) -> dict[str, np.ndarray]:
        """Colour -> indices of the atoms drawn in it."""
        out: dict[str, list] = {}
        for k, c in enumerate(self.palette):
            idx = np.flatnonzero(self.index == k)
            if len(idx):
                out.setdefault(c, []).append(idx)
        return {c: np.sort(np.concatenate(v)) for c, v in out.items()}

    def legend_html(self, title: str | None = None) -> str:
        return legend_html(self, title)


def _format(x: float) -> str:
    return f"{x:.4g}"


def _indexed(hexes: list[str]) -> tuple[np.ndarray, list[str]]:
    palette = list(dict.fromkeys(hexes))
    lookup = {c: k for k, c in enumerate(palette)}
    return np.array([lookup[c] for c in hexes], dtype=np.uint16), palette


def map_colors(atoms: Atoms, name: str = "element", n_bins: int = DEFAULT_BINS,
               vmin: float | None = None, vmax: float | None = None,
               palette: str | dict | None = None, categories=None) -> ColorMapping:
    """Colour ``atoms`` by ``name`` (see the module docstring and :func:`map_values`)."""
    if name == "element":
        return map_values(name, np.asarray(atoms.numbers))
    return map_values(name, get_values(atoms, name), n_bins=n_bins, vmin=vmin, vmax=vmax,
                      palette=palette, categories=categories)


def map_values(name: str, values, n_bins: int = DEFAULT_BINS, vmin: float | None = None,
               vmax: float | None = None, palette: str | dict | None = None,
               categories=None) -> ColorMapping:
    """Colour one value per atom.

    ``name == "element"``: ``values`` are atomic numbers (Jmol colours). Numbers: ``n_bins``
    colours of a continuous scale (``palette``: a plotly scale name, default Viridis) between
    ``vmin`` and ``vmax`` (default: the finite minimum and maximum; pass them to compare
    frames), values outside clipped, NaN grey. Strings and booleans: the fixed colours of
    :func:`zifviz.palettes.palette_for` (``palette``: the name of a known property whose
    table to use, or a ``{category: colour}`` dict; ``categories``: every category to
    expect, in order, so that colours do not depend on which ones a frame has).
    """
    values = np.asarray(values)
    n = len(values)
    if name == "element":
        numbers = values.astype(int)
        present = list(dict.fromkeys(numbers.tolist()))
        pal = [_to_hex(jmol_colors[z]) for z in present]
        lookup = np.zeros(max(present, default=0) + 1, dtype=np.uint16)
        lookup[present] = np.arange(len(present))
        return ColorMapping(name, "element", lookup[numbers], pal,
                            labels=[chemical_symbols[z] for z in present], label_colors=pal)

    if values.dtype.kind in "iuf":
        vals = values.astype(float)
        finite = np.isfinite(vals)
        has_nan = not finite.all()
        if not finite.any():
            return ColorMapping(name, "continuous", np.zeros(n, np.uint16), [NAN_COLOR],
                                has_nan=True)
        lo = float(np.min(vals[finite])) if vmin is None else float(vmin)
        hi = float(np.max(vals[finite])) if vmax is None else float(vmax)
        from plotly.colors import sample_colorscale

        n_bins = max(int(n_bins), 2)
        positions = [k / (n_bins - 1) for k in range(n_bins)]
        scale = palette if isinstance(palette, str) else CONTINUOUS_SCALE
        bin_colors = [_to_hex(c) for c in sample_colorscale(scale, positions)]
        if hi > lo:
            idx = np.floor((vals - lo) / (hi - lo) * n_bins)
        else:
            idx = np.full(n, (n_bins - 1) // 2, dtype=float)
        idx = np.clip(np.nan_to_num(idx, nan=0), 0, n_bins - 1).astype(np.uint16)
        pal = list(bin_colors)
        if has_nan:
            pal.append(NAN_COLOR)
            idx[~finite] = len(pal) - 1
        mapping = ColorMapping(name, "continuous", idx, pal, vmin=lo, vmax=hi,
                               bin_colors=bin_colors, has_nan=has_nan)
        distinct = np.unique(vals[finite])
        if len(distinct) <= 8:
            # Few values (e.g. a coordination number): list them in the legend.
            for v in distinct:
                mapping.labels.append(_format(v))
                mapping.label_colors.append(pal[int(idx[np.flatnonzero(finite & (vals == v))[0]])])
        return mapping

    # categorical: strings, booleans, objects
    cats = np.array([str(v) for v in values.tolist()])
    present = sorted(set(cats.tolist()))
    wanted = [str(c) for c in categories] if categories is not None else []
    order = list(dict.fromkeys(wanted + present))
    if isinstance(palette, dict):
        fixed = {str(k): _to_hex(v) for k, v in palette.items()}
        extra = palette_for(name, [c for c in order if c not in fixed])
        colors = {c: fixed.get(c) or extra[c] for c in order}
    else:
        prop = palette if isinstance(palette, str) else ("bool" if values.dtype.kind == "b"
                                                         else name)
        colors = palette_for(prop, order)
    pal = [colors[c] for c in order]
    lookup = {c: k for k, c in enumerate(order)}
    index = np.array([lookup[c] for c in cats.tolist()], dtype=np.uint16)
    return ColorMapping(name, "categorical", index, pal, labels=present,
                        label_colors=[colors[c] for c in present])


def _swatch(color: str, label: str) -> str:
    return (
        '<span style="display:inline-flex;align-items:center;margin-right:10px">'
        f'<span style="display:inline-block;width:12px;height:12px;border-radius:6px;'
        f'background:{color};border:1px solid #666;margin-right:4px"></span>'
        f"{html.escape(label)}</span>"
    )


def legend_html(mapping: ColorMapping, title: str | None = None) -> str:
    """HTML legend matching ``mapping`` (swatches, or a stepped colour bar with its
    minimum and maximum)."""
    title = html.escape(title if title is not None else mapping.name)
    parts = [f'<div class="zifviz-legend" style="font-size:12px;line-height:1.6">'
             f"<b>{title}</b>&nbsp; "]
    if mapping.kind == "continuous" and mapping.bin_colors and not mapping.labels:
        nb = len(mapping.bin_colors)
        stops = []
        for k, c in enumerate(mapping.bin_colors):
            stops.append(f"{c} {100 * k / nb:.3f}%")
            stops.append(f"{c} {100 * (k + 1) / nb:.3f}%")
        parts.append(
            '<span style="display:inline-flex;align-items:center">'
            f"<span>{_format(mapping.vmin)}</span>"
            '<span style="display:inline-block;width:160px;height:12px;margin:0 6px;'
            f'border:1px solid #666;background:linear-gradient(to right, {", ".join(stops)})">'
            f"</span><span>{_format(mapping.vmax)}</span></span>"
        )
    else:
        for label, color in zip(mapping.labels, mapping.label_colors):
            parts.append(_swatch(color, label))
    if mapping.has_nan:
        parts.append("&nbsp; " + _swatch(NAN_COLOR, "no value"))
    parts.append("</div>")
    return "".join(parts)
