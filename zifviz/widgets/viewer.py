"""3D view of a ZIF at three resolutions (atomistic, AB2, A-only), streaming frames.

:class:`StructureViewer` is a thin widget over three parts:

* the scene model (:mod:`zifviz.widgets.scene`): what is drawn per frame and level —
  positions, radii, bonds as pairs + cell shifts — from the topology;
* the colour mapping (:mod:`zifviz.widgets.colors`, :mod:`zifviz.palettes`): one small
  index per atom into a fixed palette;
* the browser code, ``viewer.js`` (package data), sent once per browser view through
  nglview's ``executeCode`` channel.

After that only data travels, as binary buffers on the NGL widget's comm: each level's
structure goes to the browser once (the level toggle then flips visibility in the browser,
without a kernel round trip); a frame change sends float32 positions, int16 bond shifts and
the cell (bond pairs and colour indices only when they change). A click on an atom or bead
comes back as :attr:`StructureViewer.picked` and to :meth:`StructureViewer.on_pick`
callbacks.
"""

from __future__ import annotations

import html
import time
from importlib import resources

import ipywidgets as widgets
import numpy as np
import traitlets

from ..coarse import LEVEL_LABELS, normalise_level
from ..errors import ZifvizError
from .colors import DEFAULT_BINS, ColorMapping, color_options, legend_html, map_colors, map_values
from .scene import BOND_RADII, SceneModel, covalent_bonds

__all__ = ["StructureViewer", "LEVELS", "bonds_for", "browser_code"]

#: toggle label -> level value
LEVELS = {LEVEL_LABELS[k]: k for k in ("atomistic", "AB2", "A")}
# frames sampled to fix the colour range of a numeric array over a trajectory
_RANGE_FRAMES = 20
_STATIC_COLORS = ("element", "bead")
#: with bonds="auto", levels with more bonds than this draw them as lines (cylinders would be
#: thinner than a pixel there, and cost ~10x more to render in software WebGL)
LINE_BONDS = 4000
#: hidden levels with more items than this get a new frame only when they are shown (their
#: arrival would delay drawing the frame of the level on screen)
EAGER_MAX_ITEMS = 20000


def browser_code() -> str:
    """The browser side of the viewer (``viewer.js``, package data)."""
    return resources.files(__package__).joinpath("viewer.js").read_text(encoding="utf-8")


def bonds_for(atoms, level: str, topology=None):
    """Bond pairs and cell shifts drawn at ``level`` (bond vector = r[j] + S @ cell - r[i])."""
    import zifviz

    level = normalise_level(level)
    if level == "atomistic" and topology is None:
        return covalent_bonds(atoms)
    pairs, shifts = zifviz.net_bonds(topology, level)
    return np.asarray(pairs, int).reshape(-1, 2), np.asarray(shifts, int).reshape(-1, 3)


def _b(arr, dtype) -> memoryview:
    return memoryview(np.ascontiguousarray(arr, dtype=dtype).tobytes())


class StructureViewer(widgets.VBox):
    """ZIF structure or trajectory in 3D at a chosen resolution.

    Parameters
    ----------
    structure:
        ``ase.Atoms``, a sequence of Atoms, or a lazy :class:`zifviz.Trajectory`.
    topology:
        :class:`zifviz.ZIFTopology` serving every frame; perceived on the first frame when
        not given (and again on a frame it does not fit).
    level:
        ``"atomistic"``, ``"AB2"`` or ``"A"`` (any spelling of
        :func:`zifviz.coarse.normalise_level`, e.g. ``"A-only"``).
    color_by:
        ``"element"`` or a per-atom/per-bead array (see :func:`~zifviz.widgets.colors.color_options`).
        A level without that array uses its default (``"element"`` atomistic, ``"bead"``).
    n_bins:
        Number of colours a numeric array is binned into.
    palette, categories:
        Fixed colours of a categorical array (see :func:`zifviz.palettes.palette_for`);
        categories seen in earlier frames keep their colour.
    vmin, vmax, fixed_range:
        Range of a numeric colour scale. With ``fixed_range`` (default) the range is taken
        once over up to 20 frames spread over the trajectory, so frames are comparable.
    height:
        CSS height of the 3D view.
    bonds:
        ``"cylinders"``, ``"lines"``, or ``"auto"``: lines for levels with more than
        :data:`LINE_BONDS` bonds (e.g. a 3x3x3 ZIF-4 supercell atomistic).
    per_zn:
        Colourings given per Zn instead of per atom: ``{name: values}`` where ``values(i)``
        returns one value per Zn rank (the order of :func:`zifviz.environment_table`) for
        frame position ``i``, and ``values(None)`` every value of the trajectory (for the
        colour range). They are read at every level through the items' Zn rank, with no
        coarse-grained copy of the frame, so a frame step costs the positions only (e.g. the
        predicted phase of every Zn along a trajectory). Items that are not a Zn (ligand
        atoms, B beads) have no value: ``""`` for categories (the ``palette``'s ``""`` colour,
        left out of the legend), NaN for numbers.
    no_value_color:
        Colour of the items without a value in a numeric ``per_zn`` colouring (left out of the
        legend); default the NaN grey.

    Attributes
    ----------
    view: the ``nglview.NGLWidget``.
    level_toggle, color_dropdown, frame_slider, legend, message, pick_label: the controls.
    picked: the last pick (dict: frame, level, index, atom, bead, zn, linker, kind, element).
    colors: the :class:`~zifviz.widgets.colors.ColorMapping` drawn now.
    scene: the :class:`~zifviz.widgets.scene.SceneModel`.
    """

    picked = traitlets.Dict()

    def __init__(self, structure, topology=None, level: str = "atomistic",
                 color_by: str | None = None, n_bins: int = DEFAULT_BINS,
                 height: str = "420px", palette=None, categories=None,
                 vmin: float | None = None, vmax: float | None = None,
                 fixed_range: bool = True, bonds: str = "auto", per_zn=None,
                 no_value_color: str | None = None):
        import nglview

        if bonds not in ("auto", "cylinders", "lines"):
            raise ZifvizError(f"bonds must be 'auto', 'cylinders' or 'lines', not {bonds!r}")
        self.bonds = bonds
        self.scene = SceneModel(structure, topology)
        level = normalise_level(level)
        self.n_bins, self.palette, self.vmin, self.vmax = n_bins, palette, vmin, vmax
        self.fixed_range = fixed_range
        self.per_zn = dict(per_zn or {})
        self.no_value_color = no_value_color
        self._categories: dict[str, list[str]] = {}
        if categories is not None:
            self._categories[str(color_by)] = [str(c) for c in categories]
        self._ranges: dict[tuple[str, str], tuple] = {}
        self._options: dict[str, list[str]] = {}
        self._static_maps: dict[tuple, ColorMapping] = {}
        self._map_cache: dict[tuple, ColorMapping] = {}
        self._browser: dict[str, dict] = {}  # what the browser views have, per level
        self._highlight: dict[str, list[int]] = {}
        self._focus: tuple[int, int] | None = None  # (Zn rank, frame) of the last focus
        self._pick_callbacks: list = []
        self._requested_color = color_by
        self.last_redraw_seconds = float("nan")
        self.n_redraws = 0
        self.n_messages = 0
        self.last_message_bytes = 0
        self.sent_code: list[str] = []  # executeCode payloads (the asset, once per view)
        if level != "atomistic" and not self.scene.is_zif():
            self.scene.topology(0)  # raises the perception error

        self.level_toggle = widgets.ToggleButtons(
            options=list(LEVELS.items()), value=level, style={"button_width": "86px"},
            tooltips=["all atoms", "A bead on each Zn, B bead on each imidazolate ring centre",
                      "Zn only (A beads)"])
        self.level_toggle.add_class("zifviz-level")
        self.color_dropdown = widgets.Dropdown(description="colour by",
                                               layout=widgets.Layout(width="260px"))
        self.color_dropdown.add_class("zifviz-color-by")
        n = self.scene.n_frames
        self.frame_slider = widgets.IntSlider(
            value=0, min=0, max=max(n - 1, 0), description="frame", continuous_update=False,
            layout=widgets.Layout(width="60%", display="flex" if n > 1 else "none"))
        self.frame_slider.add_class("zifviz-frame")
        self.legend = widgets.HTML()
        self.legend.add_class("zifviz-legend-box")
        self.message = widgets.HTML()
        self.message.add_class("zifviz-message")
        self.pick_label = widgets.HTML()
        self.pick_label.add_class("zifviz-pick")
        self.view = nglview.NGLWidget()
        self.view.layout.height = height
        self.view.layout.width = "100%"
        self.view.add_class("zifviz-ngl")
        super().__init__(children=[
            widgets.HBox([self.level_toggle, self.color_dropdown],
                         layout=widgets.Layout(flex_flow="row wrap")),
            self.view, self.legend, self.pick_label, self.message, self.frame_slider])
        self.add_class("zifviz-structure-viewer")

        self._updating = False
        if color_by is not None and color_by not in self._color_options(level):
            raise ValueError(f"cannot colour by {color_by!r} at level {level!r}; "
                             f"choose one of {self._color_options(level)}")
        self._refresh_controls()
        self.level_toggle.observe(self._on_level, "value")
        self.color_dropdown.observe(self._on_color, "value")
        self.frame_slider.observe(self._on_frame, "value")
        self.view.observe(self._on_loaded, "loaded")
        self.view.observe(self._on_new_view, "_ngl_view_id")
        self.view.on_msg(self._on_view_msg)

    # ---------------------------------------------------------------- state
    @property
    def level(self) -> str:
        return self.level_toggle.value

    @level.setter
    def level(self, value: str):
        self.level_toggle.value = normalise_level(value)

    @property
    def color_by(self) -> str:
        return self.color_dropdown.value

    @color_by.setter
    def color_by(self, value: str):
        if value not in self.color_dropdown.options:
            raise ValueError(f"cannot colour by {value!r} at level {self.level!r}; "
                             f"choose one of {list(self.color_dropdown.options)}")
        self._requested_color = value
        self.color_dropdown.value = value

    @property
    def frame(self) -> int:
        return self.frame_slider.value

    @frame.setter
    def frame(self, value: int):
        self.frame_slider.value = int(value)

    @property
    def n_frames(self) -> int:
        return self.scene.n_frames

    @property
    def atoms(self):
        """The current frame at the current level as Atoms (beads at a cg level)."""
        return self.scene.level_atoms(self.frame, self.level)

    @property
    def topology(self):
        return self.scene.topology(self.frame)

    @property
    def colors(self) -> ColorMapping:
        return self._mapping(self.frame, self.level)

    # ---------------------------------------------------------------- saved state
    def state(self) -> dict:
        """What the view shows, JSON-able: level, colouring, frame, highlights, camera
        (nglview's last browser orientation) and the display options
        (:func:`zifviz.widgets.state.save_state` writes it with a reference to the data)."""
        return {"level": self.level, "color_by": self.color_by, "frame": self.frame,
                "highlight": {lv: list(map(int, idx)) for lv, idx in self._highlight.items()},
                "camera": [float(v) for v in self.view._camera_orientation],
                "options": {"n_bins": self.n_bins, "vmin": self.vmin, "vmax": self.vmax,
                            "fixed_range": self.fixed_range, "bonds": self.bonds,
                            "height": self.view.layout.height,
                            "palette": self.palette if isinstance(self.palette, str) else None}}

    def state_data(self) -> dict:
        """The data :meth:`state` refers to: ``{"frames": ...}``."""
        return {"frames": self.scene.frames}

    @classmethod
    def from_state(cls, data: dict, state: dict) -> "StructureViewer":
        """A viewer on ``data["frames"]`` showing what :meth:`state` recorded."""
        options = {k: v for k, v in state.get("options", {}).items() if v is not None}
        level = state.get("level", "atomistic")
        viewer = cls(data["frames"], level=level, **options)
        color = state.get("color_by")
        if color is not None and color != viewer.color_by:
            viewer.color_by = color  # a clear error if the data lack that array
        viewer.frame = int(state.get("frame", 0))
        for lv, idx in state.get("highlight", {}).items():
            if idx:
                viewer.highlight(idx, level=lv)
        viewer.restore_camera(state.get("camera"))
        return viewer

    def restore_camera(self, camera) -> None:
        """Show the view from ``camera`` (nglview's 16-number orientation, as :meth:`state`
        records it; anything else is ignored): the browser applies it after its first fit."""
        camera = [float(v) for v in camera or []]
        if len(camera) != 16:
            return
        self.view._camera_orientation = camera

        def restore(change):
            if change["new"]:
                self._post({"zifviz": "orient", "matrix": camera})
        self.view.observe(restore, "loaded")

    # ---------------------------------------------------------------- colours
    def _color_options(self, level: str) -> list[str]:
        if level not in self._options:
            options = color_options(self.scene.level_atoms(self.frame, level))
            self._options[level] = options + [n for n in self.per_zn if n not in options]
        return self._options[level]

    def _color_at(self, level: str) -> str:
        options = self._color_options(level)
        if self._requested_color in options:
            return self._requested_color
        return "bead" if level != "atomistic" and "bead" in options else "element"

    def _mapping(self, frame: int, level: str) -> ColorMapping:
        name = self._color_at(level)
        if name in _STATIC_COLORS:
            key = (level, name, self.scene.static(level, frame).n)
            if key not in self._static_maps:
                st = self.scene.static(level, frame)
                values = st.numbers if name == "element" else st.kind
                self._static_maps[key] = map_values(name, values, palette=self.palette
                                                    if name != "element" else None)
            return self._static_maps[key]
        key = (frame, level, name, self.n_bins, repr(self.palette),
               tuple(self._categories.get(name, ())), self.vmin, self.vmax)
        if key in self._map_cache:
            return self._map_cache[key]
        if len(self._map_cache) > 8:
            self._map_cache.clear()
        self._map_cache[key] = mapping = self._compute_mapping(frame, level, name)
        return mapping

    def _per_zn_mapping(self, frame: int, level: str, name: str) -> ColorMapping:
        by_rank = np.asarray(self.per_zn[name](frame))
        rank = self.scene.static(level, frame).zn
        has = (rank >= 0) & (rank < len(by_rank))
        if by_rank.dtype.kind in "iuf":
            values = np.full(len(rank), np.nan)
            values[has] = by_rank[rank[has]]
            lo, hi = self._range(level, name)
            mapping = map_values(name, values, n_bins=self.n_bins, vmin=lo, vmax=hi)
            if mapping.has_nan and np.isfinite(values[has]).all():  # NaN = not a Zn
                if self.no_value_color is not None:
                    mapping.palette[-1] = self.no_value_color
                mapping.has_nan = False
            return mapping
        values = np.full(len(rank), "", dtype=by_rank.dtype if by_rank.dtype.kind == "U"
                         else object)
        values[has] = by_rank[rank[has]]
        mapping = map_values(name, values.astype(str), palette=self.palette,
                             categories=self._categories.get(name))
        if "" in mapping.labels:  # the items that are not a Zn: not a category of the legend
            k = mapping.labels.index("")
            del mapping.labels[k], mapping.label_colors[k]
        return mapping

    def _compute_mapping(self, frame: int, level: str, name: str) -> ColorMapping:
        if name in self.per_zn:
            return self._per_zn_mapping(frame, level, name)
        atoms = self.scene.level_atoms(frame, level)
        values = np.asarray(atoms.arrays[name]) if name in atoms.arrays else None
        if values is not None and values.dtype.kind in "iuf":
            lo, hi = self._range(level, name)
            return map_colors(atoms, name, n_bins=self.n_bins, vmin=lo, vmax=hi,
                              palette=self.palette if isinstance(self.palette, str) else None)
        mapping = map_colors(atoms, name, n_bins=self.n_bins, palette=self.palette,
                             categories=self._categories.get(name))
        if mapping.kind == "categorical":
            seen = self._categories.setdefault(name, [])
            seen.extend(c for c in mapping.labels if c not in seen)
        return mapping

    def _range(self, level: str, name: str) -> tuple:
        if self.vmin is not None and self.vmax is not None:
            return self.vmin, self.vmax
        if not self.fixed_range:
            return self.vmin, self.vmax
        key = (level, name)
        if key not in self._ranges and name in self.per_zn:
            v = np.asarray(self.per_zn[name](None), float)
            v = v[np.isfinite(v)]
            self._ranges[key] = (float(v.min()), float(v.max())) if len(v) else (None, None)
        if key not in self._ranges:
            n = self.n_frames
            frames = sorted(set(np.linspace(0, n - 1, min(n, _RANGE_FRAMES)).round().astype(int)))
            lo, hi = np.inf, -np.inf
            for i in frames:
                try:
                    v = np.asarray(self.scene.level_atoms(int(i), level).arrays[name], float)
                except (KeyError, ZifvizError):
                    continue
                v = v[np.isfinite(v)]
                if len(v):
                    lo, hi = min(lo, v.min()), max(hi, v.max())
            self._ranges[key] = (float(lo) if np.isfinite(lo) else None,
                                 float(hi) if np.isfinite(hi) else None)
        lo, hi = self._ranges[key]
        return (self.vmin if self.vmin is not None else lo,
                self.vmax if self.vmax is not None else hi)

    # ---------------------------------------------------------------- messages
    def _post(self, content: dict, buffers=None):
        content = {**content, "labels": LEVELS}
        self.n_messages += 1
        self.last_message_bytes = sum(len(b) for b in buffers or [])
        self.view.send(content, buffers)

    def _send_code(self):
        code = browser_code()
        self.sent_code.append(code)
        self.view.send(self.view._get_remote_call_msg("executeCode", target="Widget",
                                                      args=[code]))

    def _levels(self) -> list[str]:
        """Levels to keep in the browser: the current one first."""
        levels = self.scene.levels()
        return [self.level] + [lv for lv in levels if lv != self.level]

    def _push(self, level: str):
        """Bring the browser's copy of ``level`` to the current frame and colours."""
        frame = self.frame
        st = self.scene.static(level, frame)
        geo = self.scene.geometry(frame, level)
        mapping = self._mapping(frame, level)
        had = self._browser.get(level)
        version = f"{id(self):x}-{level}-{id(st):x}"
        shifts = geo.shifts
        if shifts.size and np.abs(shifts).max() > 32767:
            raise ZifvizError(f"cell shifts of bonds too large ({np.abs(shifts).max()}); "
                              "wrap the positions into the cell")
        pairs_key = hash(np.ascontiguousarray(geo.pairs).tobytes())
        if had is None or had["version"] != version:
            self._post({"zifviz": "level", "level": level, "version": version, "frame": frame,
                        "n": st.n, "radius_by_element": st.radius_by_element(),
                        "bond_radius": BOND_RADII[level], "bond_style": self._bond_style(geo),
                        "line_width": 2, "palette": mapping.palette},
                       [_b(st.numbers, np.uint8), _b(geo.positions, "<f4"),
                        _b(geo.pairs, "<u4"), _b(shifts, "<i2"),
                        _b(geo.cell, "<f4"), _b(mapping.index, "<u2")])
        elif had["frame"] != frame:
            has = {"pairs": had["pairs"] != pairs_key, "index": had["colors"] != mapping.key}
            buffers = [_b(geo.positions, "<f4"), _b(shifts, "<i2"), _b(geo.cell, "<f4")]
            if has["pairs"]:
                buffers.append(_b(geo.pairs, "<u4"))
            if has["index"]:
                buffers.append(_b(mapping.index, "<u2"))
            self._post({"zifviz": "frame", "level": level, "frame": frame, "has": has,
                        "palette": mapping.palette}, buffers)
        elif had["colors"] != mapping.key:
            self._post({"zifviz": "colors", "level": level, "palette": mapping.palette},
                       [_b(mapping.index, "<u2")])
        else:
            return
        self._browser[level] = {"version": version, "frame": frame, "pairs": pairs_key,
                                "colors": mapping.key}

    def _bond_style(self, geo) -> str:
        if self.bonds != "auto":
            return self.bonds
        return "lines" if len(geo.pairs) > LINE_BONDS else "cylinders"

    def _sync(self, show: bool = False, fit: bool = False):
        """Send what the browser lacks: the current level first, then the others."""
        t0 = time.perf_counter()
        if self.view.loaded:
            for k, level in enumerate(self._levels()):
                if (k > 0 and level in self._browser
                        and self.scene.static(level, self.frame).n > EAGER_MAX_ITEMS):
                    continue  # big hidden level: brought up to date when it is shown
                self._push(level)
                if k == 0 and (show or fit):
                    self._post({"zifviz": "show", "level": level, "fit": fit})
        self.n_redraws += 1
        self.last_redraw_seconds = time.perf_counter() - t0

    def _send_all(self):
        self._browser.clear()
        self._send_code()
        self._sync(show=True, fit=True)
        for level, idx in self._highlight.items():
            self._send_highlight(level, idx)
        self._send_focus()  # e.g. an explorer's select() before the view was in the page

    # ---------------------------------------------------------------- controls
    def _refresh_controls(self):
        level = self.level
        options = self._color_options(level)
        color = self._color_at(level)
        self._updating = True
        try:
            if list(self.color_dropdown.options) != options:
                self.color_dropdown.options = options
            self.color_dropdown.value = color
        finally:
            self._updating = False
        self.legend.value = legend_html(self.colors)

    def redraw(self):
        """Send the current level, colour and frame again (e.g. after changing arrays)."""
        self._options.clear()
        self._static_maps.clear()
        self._map_cache.clear()
        self._browser.clear()
        self._refresh_controls()
        self._sync(show=True)

    def reset_camera(self):
        """Fit the structure in the view."""
        self._focus = None
        if self.view.loaded:
            self._post({"zifviz": "fit"})

    def _on_level(self, change):
        if self._updating:
            return
        # a click in the browser (the toggle syncs its "index"): the browser already shows it
        lock = getattr(self.level_toggle, "_property_lock", {})
        from_browser = "index" in lock or "value" in lock
        level = change["new"]
        if level not in self.scene.levels():
            try:
                self.scene.topology(self.frame)
                err = ZifvizError(f"level {level!r} is not available")
            except ZifvizError as e:
                err = e
            self._updating = True
            try:
                self.level_toggle.value = change["old"]
            finally:
                self._updating = False
            if self.view.loaded:
                self._post({"zifviz": "show", "level": change["old"]})
            self.message.value = (f'<span style="color:#b00020">Cannot show level '
                                  f'{html.escape(str(level))}: {html.escape(str(err))}</span>')
            raise err
        self.message.value = ""
        self._refresh_controls()
        self._sync(show=not from_browser)

    def _on_color(self, change):
        if self._updating or change["new"] is None:
            return
        self._requested_color = change["new"]
        self._refresh_controls()
        self._sync()

    def _on_frame(self, change):
        self._refresh_controls()
        self._sync()

    def _on_loaded(self, change):
        if change["new"]:
            self._send_all()

    def _on_new_view(self, change):
        # Another browser view appeared (page reloaded, displayed again): it starts empty.
        old, new = change["old"] or [], change["new"] or []
        if old and len(new) > len(old) and self.view.loaded:
            self._send_all()

    # ---------------------------------------------------------------- picking
    def on_pick(self, callback, remove: bool = False):
        """Call ``callback(pick)`` when an atom or bead is clicked (see :attr:`picked`)."""
        if remove:
            self._pick_callbacks.remove(callback)
        else:
            self._pick_callbacks.append(callback)

    def pick_info(self, level: str, index: int, frame: int | None = None) -> dict:
        """What item ``index`` of ``level`` is: atomistic atom, bead, Zn rank, linker."""
        from ase.data import chemical_symbols

        level = normalise_level(level)
        frame = self.frame if frame is None else int(frame)
        st = self.scene.static(level, frame)
        if not 0 <= index < st.n:
            raise ZifvizError(f"no item {index} at level {level} ({st.n} items)")
        atom, zn, linker = int(st.atom[index]), int(st.zn[index]), int(st.linker[index])
        return {"frame": frame, "level": level, "index": int(index),
                "atom": atom if atom >= 0 else None,
                "bead": int(index) if level != "atomistic" else None,
                "zn": zn if zn >= 0 else None, "linker": linker if linker >= 0 else None,
                "kind": str(st.kind[index]), "element": chemical_symbols[int(st.numbers[index])]}

    def _on_view_msg(self, _, content, buffers):
        if not isinstance(content, dict) or content.get("zifviz") != "pick":
            return
        try:
            pick = self.pick_info(content["level"], int(content["index"]), content.get("frame"))
        except (ZifvizError, KeyError, TypeError, ValueError):
            return
        self.picked = pick
        what = (f"Zn {pick['zn']}" if pick["zn"] is not None else
                f"linker {pick['linker']}" if pick["linker"] is not None else pick["element"])
        self.pick_label.value = (
            f'<span class="zifviz-picked" data-level="{pick["level"]}" '
            f'data-index="{pick["index"]}">picked {html.escape(what)} '
            f'({pick["kind"]} {pick["index"]} at {pick["level"]}, atom {pick["atom"]}, '
            f'frame {pick["frame"]})</span>')
        for cb in list(self._pick_callbacks):
            cb(pick)

    # ---------------------------------------------------------------- linked views
    def _items_of_zn(self, level: str, zn) -> list[int]:
        st = self.scene.static(level, self.frame)
        zn = np.atleast_1d(np.asarray(zn, int))
        pos = np.full(int(st.zn.max(initial=-1)) + 1, -1)
        pos[st.zn[st.zn >= 0]] = np.flatnonzero(st.zn >= 0)
        if np.any((zn < 0) | (zn >= len(pos))):
            raise ZifvizError(f"Zn index out of range 0..{len(pos) - 1}: {zn.tolist()}")
        return pos[zn].tolist()

    def highlight(self, indices=None, *, zn=None, level: str | None = None):
        """Draw items (atoms or beads of ``level``, default the current one), or the Zn with
        ranks ``zn`` at every level, as slightly larger gold spheres; ``highlight()`` clears."""
        if zn is not None:
            targets = {lv: self._items_of_zn(lv, zn) for lv in self.scene.levels()}
        else:
            lv = normalise_level(level or self.level)
            idx = [int(i) for i in np.atleast_1d(indices if indices is not None else [])]
            n = self.scene.static(lv, self.frame).n
            if any(not 0 <= i < n for i in idx):
                raise ZifvizError(f"highlight: indices out of range 0..{n - 1} at level {lv}")
            targets = {lv: idx} if idx else {k: [] for k in self.scene.levels()}
        for lv, idx in targets.items():
            self._highlight[lv] = idx
            self._send_highlight(lv, idx)

    def _send_highlight(self, level: str, idx: list[int]):
        if self.view.loaded:
            radius = 1.15 * float(self.scene.static(level, self.frame).radii.max(initial=0.5))
            self._post({"zifviz": "highlight", "level": level, "indices": idx,
                        "radius": radius})

    def focus(self, zn: int):
        """Centre the view on the Zn of rank ``zn`` (at the current level), zoomed so that it
        and its bonded neighbours fill it, and highlight it."""
        self._items_of_zn(self.level, [zn])  # checks the rank
        self.highlight(zn=[zn])
        # kept for a browser view that appears later (focus before display, page reloaded)
        self._focus = (int(zn), self.frame)
        self._send_focus()

    def _send_focus(self):
        if self._focus is None or self._focus[1] != self.frame or not self.view.loaded:
            return
        (index,) = self._items_of_zn(self.level, [self._focus[0]])
        # the browser centres the Zn and frames it with its bonded neighbours, each at its
        # bonded image (from the bonds it draws), after any level it is still building
        self._post({"zifviz": "focus", "level": self.level, "index": int(index)})
