"""3D view of a ZIF at three resolutions: atomistic, AB2 and A-only.

:class:`StructureViewer` is a thin ipywidgets layer: the science (topology
perception, coarse-graining, net bonds) comes from :mod:`zifviz`; this module
only turns ``ase.Atoms`` plus bond lists into NGL drawing commands.

What is drawn for one frame, level and colouring (a *scene*):

* one NGL structure component (the atoms or beads, written as PDB with the unit
  cell) drawn as spheres, coloured with one selection-based colour scheme that
  comes from :func:`zifviz.widgets.colors.map_colors` (so it matches the legend),
  plus the unit cell;
* one NGL shape component holding every bond as a cylinder, sent as flat arrays in
  the same message. Bonds that cross the periodic boundary are drawn as two half
  bonds, each from an atom towards the image of its partner, so the net looks right
  at the cell edges.

The browser keeps the last few scenes and shows one at a time: switching level (or
back to a colouring seen before) only flips the visibility of components that are
already built. For a single structure the other two levels are sent along with the
first scene, so the toggle never waits for a build. The NGL widget, its camera and
the controls stay for the life of the viewer.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
import time
from collections import OrderedDict
from collections.abc import Sequence

import ipywidgets as widgets
import numpy as np
from ase import Atoms

from .colors import color_options, legend_html, map_colors

__all__ = ["StructureViewer", "LEVELS", "bonds_for"]

#: toggle label -> level value
LEVELS = {"atomistic": "atomistic", "AB2": "AB2", "A-only": "A"}

# Drawing sizes in Å.
_ATOM_RADIUS = 0.28
_ZN_RADIUS = 0.45
_ATOM_BOND_RADIUS = 0.12
_A_RADIUS = 0.85
_B_RADIUS = 0.55
_CG_BOND_RADIUS = {"AB2": 0.16, "A": 0.22}
# Covalent radii x this factor decide atomistic bonds (Zn-N is ~2.0 Å, 1.93 Å in radii).
_BOND_TOLERANCE = 1.15
# Single structures up to this size get all three levels sent at once.
_PREFETCH_MAX_ATOMS = 20000

# --------------------------------------------------------------------------- data
def _frames_of(structure) -> Sequence[Atoms]:
    if isinstance(structure, Atoms):
        return [structure]
    if isinstance(structure, (str, bytes, os.PathLike)):
        raise TypeError("StructureViewer needs structures, not a file name: read it first "
                        "with zifviz.read(path) or zifviz.Trajectory(path)")
    if hasattr(structure, "__len__") and hasattr(structure, "__getitem__"):
        if len(structure) == 0:
            raise ValueError("StructureViewer: the trajectory has no frames")
        if not isinstance(structure[0], Atoms):
            raise TypeError("StructureViewer: the frames must be ase.Atoms, not "
                            f"{type(structure[0]).__name__}")
        return structure
    raise TypeError(
        "StructureViewer needs an ase.Atoms, a sequence of Atoms or a zifviz.Trajectory, "
        f"not {type(structure).__name__}")


def _atomistic_bonds(atoms: Atoms) -> tuple[np.ndarray, np.ndarray]:
    """Covalent bonds by distance (each once, i < j or a periodic image), with shifts."""
    from ase.neighborlist import natural_cutoffs, neighbor_list

    if len(atoms) == 0:
        return np.zeros((0, 2), int), np.zeros((0, 3), int)
    cutoffs = natural_cutoffs(atoms, mult=_BOND_TOLERANCE)
    i, j, S = neighbor_list("ijS", atoms, cutoffs, self_interaction=False)
    # keep each bond once: i < j, or i == j (bond to own image) with a "positive" shift
    keep = (i < j) | ((i == j) & _positive(S))
    return np.stack([i[keep], j[keep]], axis=1), S[keep].astype(int)


def _positive(S: np.ndarray) -> np.ndarray:
    """True for shifts whose first non-zero component is positive."""
    out = np.zeros(len(S), bool)
    decided = np.zeros(len(S), bool)
    for k in range(3):
        nz = (S[:, k] != 0) & ~decided
        out[nz] = S[nz, k] > 0
        decided |= nz
    return out


def bonds_for(atoms: Atoms, level: str, topology=None):
    """Bond pairs and cell shifts drawn at ``level`` (bond vector = r[j] + S @ cell - r[i])."""
    import zifviz

    if level == "atomistic" and topology is None:
        return _atomistic_bonds(atoms)

    pairs, shifts = zifviz.net_bonds(topology, level)
    return np.asarray(pairs, int).reshape(-1, 2), np.asarray(shifts, int).reshape(-1, 3)


def bond_cylinders(atoms: Atoms, pairs: np.ndarray, shifts: np.ndarray, rgb: np.ndarray,
                   radius: float) -> dict[str, np.ndarray]:
    """Arrays for NGL's ``CylinderBuffer`` (``position1``, ``position2``, ``color``,
    ``color2``: (n, 3); ``radius``: (n,)). A bond inside the cell is one cylinder coloured
    half and half; a bond to a periodic image is two half bonds, one from each end
    towards the image of the other, each in its own atom's colour."""
    pos = atoms.positions
    cell = np.asarray(atoms.cell)
    pairs = np.asarray(pairs, int).reshape(-1, 2)
    shifts = np.asarray(shifts, int).reshape(-1, 3)
    i, j = pairs[:, 0], pairs[:, 1]
    dvec = pos[j] + shifts @ cell - pos[i]
    inner = ~np.any(shifts != 0, axis=1)
    ii, jj, dd = i[~inner], j[~inner], dvec[~inner]
    p1 = np.concatenate([pos[i[inner]], pos[ii], pos[jj]])
    p2 = np.concatenate([pos[j[inner]], pos[ii] + 0.5 * dd, pos[jj] - 0.5 * dd])
    c1 = np.concatenate([rgb[i[inner]], rgb[ii], rgb[jj]])
    c2 = np.concatenate([rgb[j[inner]], rgb[ii], rgb[jj]])
    return {"position1": p1, "position2": p2, "color": c1, "color2": c2,
            "radius": np.full(len(p1), float(radius))}


def _b64_float32(arr: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(arr, dtype="<f4").tobytes()).decode("ascii")


def _pdb_string(atoms: Atoms) -> str:
    """Plain PDB for NGL (positions, symbols, CRYST1 for the unit cell)."""
    from ase.io import write

    # Only what NGL needs: per-atom arrays (strings, NaN) would confuse the PDB writer.
    bare = Atoms(atoms.get_chemical_symbols(), positions=atoms.positions,
                 cell=atoms.cell, pbc=atoms.pbc)
    buf = io.StringIO()
    write(buf, bare, format="proteindatabank")
    return buf.getvalue()


def _sphere_radii(atoms: Atoms, level: str) -> np.ndarray:
    if level == "atomistic":
        return np.where(atoms.numbers == 30, _ZN_RADIUS, _ATOM_RADIUS)
    if "bead" in atoms.arrays:
        beads = np.asarray(atoms.arrays["bead"]).astype(str)
        return np.where(beads == "B", _B_RADIUS, _A_RADIUS)
    return np.where(atoms.numbers == 30, _A_RADIUS, _B_RADIUS)


# ----------------------------------------------------------------- NGL plumbing
# Runs inside nglview's NGLView (``this``; ``NGL`` is the NGL module in that scope) through
# nglview's ``executeCode`` message. Each message names the scene to show (``P.wanted``),
# carries the scenes the browser does not have yet (the wanted one first; built one after
# the other, hidden) and the keys of scenes to forget. A scene is shown once it is fully
# built and only if it is still the one wanted, so fast clicking is safe.
_SCENE_JS = """
const P = %s;
const view = this, stage = this.stage;
const S = view.__zifviz || (view.__zifviz = {scenes: {}, wanted: null, serial: 0,
                                             center: false, chain: Promise.resolve()});
// for tests and debugging: the NGL stage, and progress marks (performance.now() times)
view.el.zifvizStage = stage;
view.el.dataset.zifvizRequested = P.serial;
view.el.dataset.zifvizReceivedAt = performance.now();
const f32 = (s) => {
  const b = atob(s), u = new Uint8Array(b.length);
  for (let k = 0; k < b.length; k++) u[k] = b.charCodeAt(k);
  return new Float32Array(u.buffer);
};
const show = () => {
  const want = S.scenes[S.wanted];
  if (!want || !want.ready) return;
  for (const [key, sc] of Object.entries(S.scenes)) {
    const on = key === S.wanted;
    if (sc.ready && sc.on !== on) { sc.comps.forEach((c) => c.setVisibility(on)); sc.on = on; }
  }
  if (S.center) { stage.autoView(0); S.center = false; }
  view.el.dataset.zifvizScene = S.wanted;
  view.el.dataset.zifvizDrawnAt = performance.now();
  view.el.dataset.zifvizDrawn = S.serial;
};
const drop = (key) => {
  const sc = S.scenes[key];
  if (!sc || key === S.wanted) return;
  delete S.scenes[key];
  sc.comps.forEach((c) => stage.removeComponent(c));
  if (sc.scheme) NGL.ColormakerRegistry.removeScheme(sc.scheme);
};
const build = (d) => {
  if (S.scenes[d.key]) return Promise.resolve();
  const sc = S.scenes[d.key] = {comps: [], ready: false, on: false, scheme: null};
  return stage.loadFile(new Blob([d.pdb], {type: 'text/plain'}),
                        {ext: 'pdb', defaultRepresentation: false, name: 'zifviz ' + d.key})
  .then((comp) => new Promise((resolve) => {
    if (S.scenes[d.key] !== sc) { stage.removeComponent(comp); resolve(); return; }
    comp.setVisibility(false);
    sc.comps.push(comp);
    sc.scheme = NGL.ColormakerRegistry.addSelectionScheme(d.scheme, 'zifviz ' + d.key);
    for (const g of d.groups) {
      comp.addRepresentation('spacefill', {sele: g.sele, color: sc.scheme, radiusType: 'size',
                                           radiusSize: g.radius});
    }
    comp.addRepresentation('unitcell', {});
    if (d.bonds) {
      const shape = new NGL.Shape('zifviz bonds ' + d.key);
      shape.addBuffer(new NGL.CylinderBuffer({
        position1: f32(d.bonds.position1), position2: f32(d.bonds.position2),
        color: f32(d.bonds.color), color2: f32(d.bonds.color2), radius: f32(d.bonds.radius)}));
      const bc = stage.addComponentFromObject(shape);
      bc.setVisibility(false);
      bc.addRepresentation('buffer', {});
      sc.comps.push(bc);
    }
    // NGL may build representations asynchronously: ready when all is built
    stage.tasks.onZeroOnce(() => { sc.ready = true; show(); resolve(); });
  }));
};
S.wanted = P.wanted;
S.serial = P.serial;
if (P.center) { stage.setParameters({cameraType: 'orthographic'}); S.center = true; }
(P.drop || []).forEach(drop);
for (const d of P.scenes) {
  S.chain = S.chain.then(() => build(d))
    .catch((err) => console.error('zifviz: scene ' + d.key + ' failed', err));
}
show();
"""

_CENTER_JS = """
const stage = this.stage;
if (NGL.Matrix4) stage.viewerControls.orient(new NGL.Matrix4());
stage.autoView(0);
"""


class _Scene:
    """Keeps the browser's scenes of an nglview 3.1.4 ``NGLWidget`` in step with Python.

    Everything goes as ``executeCode`` messages (nglview's ``view._js`` channel), sent
    straight away when the view is on screen, otherwise queued by nglview until it is
    (then only the newest message is kept, and it carries every scene it needs).
    """

    max_scenes = 9  # scenes the browser keeps (3 levels x a few colourings or frames)

    def __init__(self, view):
        self.view = view
        self.serial = 0
        self.n_messages = 0
        self.last_payload_bytes = 0
        self.sent: OrderedDict[str, None] = OrderedDict()  # keys the browser has, oldest first

    def forget(self):
        """The browser has nothing (e.g. a new view appeared): send everything again."""
        self.sent.clear()

    def _send(self, code: str, scene_message: bool):
        view = self.view
        self.n_messages += 1
        if view.loaded:
            view.send(view._get_remote_call_msg("executeCode", target="Widget", args=[code]))
            return
        if scene_message:
            queue = view._ngl_displayed_callbacks_before_loaded
            queue[:] = [cb for cb in queue if not cb._ngl_msg.get("zifviz_scene")]
        view._remote_call("executeCode", target="Widget", args=[code], fire_once=True,
                          zifviz_scene=scene_message)

    def show(self, wanted: str, scenes, center: bool = False) -> list[str]:
        """Show scene ``wanted``; ``scenes`` is ``[(key, make), ...]`` (``wanted`` first) of
        the scenes the browser should have, ``make()`` giving the data of one. Returns the
        keys that were built and sent now."""
        if not self.view.loaded:
            self.forget()  # queued messages are replaced: the newest must carry everything
        self.serial += 1
        new = []
        for key, make in scenes:
            if key in self.sent:
                continue
            new.append({"key": key, **make()})
            self.sent[key] = None
        self.sent.move_to_end(wanted)
        keep = {wanted} | {d["key"] for d in new}
        drop = [k for k in list(self.sent)[: max(0, len(self.sent) - self.max_scenes)]
                if k not in keep]
        for k in drop:
            del self.sent[k]
        payload = {"serial": self.serial, "wanted": wanted, "scenes": new, "drop": drop,
                   # until the view is on screen every message centres (only the last is sent)
                   "center": bool(center or not self.view.loaded)}
        code = _SCENE_JS % json.dumps(payload)
        self.last_payload_bytes = len(code)
        self._send(code, scene_message=True)
        return [d["key"] for d in new]

    def center(self):
        """Default orientation, structure fitted in the view."""
        self._send(_CENTER_JS, scene_message=False)


# --------------------------------------------------------------------- the widget
class StructureViewer(widgets.VBox):
    """ZIF structure or trajectory in 3D at a chosen resolution.

    Parameters
    ----------
    structure:
        ``ase.Atoms``, a sequence of Atoms, or a lazy :class:`zifviz.Trajectory`
        (anything with ``len()`` and ``[i]``).
    topology:
        :class:`zifviz.ZIFTopology` to use for every frame. If not given it is perceived
        (:func:`zifviz.perceive`) for each frame shown at a coarse-grained level.
    level:
        ``"atomistic"``, ``"AB2"`` or ``"A"`` (A-only).
    color_by:
        ``"element"`` or the name of a per-atom/per-bead array (see
        :func:`zifviz.widgets.colors.color_options`). If an array is missing at some
        level, that level uses its default (``"element"`` atomistic, ``"bead"`` AB2).
    n_bins:
        Number of colours a numeric array is binned into.
    height:
        CSS height of the 3D view.

    Attributes
    ----------
    view: the ``nglview.NGLWidget``.
    level_toggle, color_dropdown, frame_slider, legend: the controls.
    message: problems shown to the user (e.g. a structure that cannot be coarse-grained).
    atoms: the Atoms drawn now (atomistic frame, or beads at a cg level).
    colors: the :class:`~zifviz.widgets.colors.ColorMapping` drawn now.
    last_redraw_seconds: Python-side time of the last redraw (preparing and sending).
    last_built: keys of the scenes built and sent by the last redraw (empty when the
        browser already had the scene and only switched to it).
    """

    def __init__(self, structure, topology=None, level: str = "atomistic",
                 color_by: str | None = None, n_bins: int = 12, height: str = "420px"):
        import nglview

        self._frames = _frames_of(structure)
        self._fixed_topology = topology
        self._topologies: dict[int, object] = {}
        self._cache: dict[tuple[int, str], tuple[Atoms, np.ndarray, np.ndarray]] = {}
        self._requested_color = color_by
        self.n_bins = n_bins
        self.last_redraw_seconds = float("nan")
        self.n_redraws = 0
        self.last_built: list[str] = []
        if level not in LEVELS.values():
            raise ValueError(f"level must be one of {list(LEVELS.values())}, not {level!r}")

        self.level_toggle = widgets.ToggleButtons(
            options=list(LEVELS.items()), value=level,
            style={"button_width": "86px"}, tooltips=[
                "all atoms", "A bead on each Zn, B bead on each imidazolate ring centre",
                "Zn only (A beads)"])
        self.level_toggle.add_class("zifviz-level")
        self.color_dropdown = widgets.Dropdown(description="colour by",
                                               layout=widgets.Layout(width="260px"))
        self.color_dropdown.add_class("zifviz-color-by")
        n = len(self._frames)
        self.frame_slider = widgets.IntSlider(
            value=0, min=0, max=max(n - 1, 0), description="frame", continuous_update=False,
            layout=widgets.Layout(width="60%", display="flex" if n > 1 else "none"))
        self.frame_slider.add_class("zifviz-frame")
        self.legend = widgets.HTML()
        self.legend.add_class("zifviz-legend-box")
        self.message = widgets.HTML()
        self.message.add_class("zifviz-message")
        self.view = nglview.NGLWidget()
        self.view.layout.height = height
        self.view.layout.width = "100%"
        self.view.add_class("zifviz-ngl")
        self._scene = _Scene(self.view)

        super().__init__(children=[
            widgets.HBox([self.level_toggle, self.color_dropdown],
                         layout=widgets.Layout(flex_flow="row wrap")),
            self.view, self.legend, self.message, self.frame_slider])
        self.add_class("zifviz-structure-viewer")

        self._updating = False
        if color_by is not None:
            available = color_options(self.atoms)
            if color_by not in available:
                raise ValueError(f"cannot colour by {color_by!r} at level {level!r}; "
                                 f"choose one of {available}")
        self._draw(center=True)
        self.level_toggle.observe(self._on_level, "value")
        self.color_dropdown.observe(self._on_color, "value")
        self.frame_slider.observe(self._on_frame, "value")
        self.view.observe(self._on_new_view, "_ngl_view_id")

    # ---------------------------------------------------------------- state
    @property
    def level(self) -> str:
        return self.level_toggle.value

    @level.setter
    def level(self, value: str):
        from ..coarse import normalise_level  # accepts 'A-only', 'ab2', ...; ZifvizError otherwise

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
        return len(self._frames)

    @property
    def atoms(self) -> Atoms:
        return self._level_data(self.frame, self.level)[0]

    @property
    def topology(self):
        """Topology of the current frame (perceived on first use if none was given)."""
        return self._topology(self.frame)

    # ---------------------------------------------------------------- data
    def _topology(self, frame: int):
        if self._fixed_topology is not None:
            return self._fixed_topology
        if frame not in self._topologies:
            import zifviz

            self._topologies = {frame: zifviz.perceive(self._frames[frame])}
        return self._topologies[frame]

    def _level_data(self, frame: int, level: str):
        key = (frame, level)
        if key not in self._cache:
            if not any(k[0] == frame for k in self._cache):
                self._cache.clear()  # keep one frame's levels only
            atoms = self._frames[frame]
            if level == "atomistic":
                drawn = atoms
                if self._fixed_topology is not None or frame in self._topologies:
                    # the bonds zifviz perceived (e.g. long Zn–N in glasses), not a distance guess
                    pairs, shifts = bonds_for(atoms, level, self._topology(frame).at(atoms))
                else:  # any structure, also one that is not a ZIF
                    pairs, shifts = bonds_for(atoms, level)
            else:
                import zifviz

                topo = self._topology(frame).at(atoms)  # geometry of this frame
                drawn = zifviz.coarse_grain(atoms, level, topology=topo)
                pairs, shifts = bonds_for(drawn, level, topo)
            self._cache[key] = (drawn, pairs, shifts)
        return self._cache[key]

    def _color_at(self, level: str, options: list[str]) -> str:
        if self._requested_color in options:
            return self._requested_color
        if level != "atomistic" and "bead" in options:
            return "bead"  # A beads look the same at AB2 and A-only
        return "element"

    def _scene_key(self, frame: int, level: str, color: str) -> str:
        return f"{frame}/{level}/{color}/{self.n_bins}"

    def _scene_data(self, frame: int, level: str, color: str) -> dict:
        atoms, pairs, shifts = self._level_data(frame, level)
        mapping = map_colors(atoms, color, n_bins=self.n_bins)
        radii = _sphere_radii(atoms, level)
        groups = [{"sele": "@" + ",".join(map(str, np.flatnonzero(radii == r))), "radius": float(r)}
                  for r in np.unique(radii)]
        bond_radius = _ATOM_BOND_RADIUS if level == "atomistic" else _CG_BOND_RADIUS[level]
        cyl = bond_cylinders(atoms, pairs, shifts, mapping.rgb, bond_radius)
        bonds = {k: _b64_float32(v) for k, v in cyl.items()} if len(cyl["radius"]) else None
        return {"pdb": _pdb_string(atoms), "scheme": mapping.selection_scheme(),
                "groups": groups, "bonds": bonds}

    def _prefetch(self, frame: int) -> list[tuple[str, object]]:
        """The other levels of a single, not too big structure, sent along so that the level
        toggle only switches visibility. Skipped when the structure cannot be coarse-grained."""
        if self.n_frames > 1 or len(self._frames[frame]) > _PREFETCH_MAX_ATOMS:
            return []
        out = []
        for level in LEVELS.values():
            if level == self.level:
                continue
            try:
                atoms = self._level_data(frame, level)[0]
            except Exception:  # not a ZIF: that level will report its error when chosen
                continue
            color = self._color_at(level, color_options(atoms))
            out.append((self._scene_key(frame, level, color),
                        lambda level=level, color=color: self._scene_data(frame, level, color)))
        return out

    # ---------------------------------------------------------------- drawing
    def _draw(self, center: bool = False):
        t0 = time.perf_counter()
        frame, level = self.frame, self.level
        atoms = self._level_data(frame, level)[0]
        options = color_options(atoms)
        color = self._color_at(level, options)
        self._updating = True
        try:
            if list(self.color_dropdown.options) != options:
                self.color_dropdown.options = options
            self.color_dropdown.value = color
        finally:
            self._updating = False
        key = self._scene_key(frame, level, color)
        scenes = [(key, lambda: self._scene_data(frame, level, color))] + self._prefetch(frame)
        self.last_built = self._scene.show(key, scenes, center=center)
        self.colors = map_colors(atoms, color, n_bins=self.n_bins)
        self.legend.value = legend_html(self.colors)
        self.n_redraws += 1
        self.last_redraw_seconds = time.perf_counter() - t0

    def redraw(self):
        """Draw the current level, colour and frame again."""
        self._draw()

    def reset_camera(self):
        """Fit the structure in the view (deterministic: NGL's default direction)."""
        self._scene.center()

    def _on_level(self, change):
        if self._updating:
            return
        try:
            self._draw()
        except Exception as err:
            # e.g. a structure that cannot be coarse-grained: stay where we were, say why
            self._updating = True
            try:
                self.level_toggle.value = change["old"]
            finally:
                self._updating = False
            self.message.value = (f'<span style="color:#b00020">Cannot show level '
                                  f'{html.escape(str(change["new"]))}: {html.escape(str(err))}</span>')
            raise
        self.message.value = ""

    def _on_color(self, change):
        if self._updating or change["new"] is None:
            return
        self._requested_color = change["new"]
        self._draw()

    def _on_frame(self, change):
        self._draw()

    def _on_new_view(self, change):
        # Another browser view of this widget appeared (page reloaded, displayed again):
        # it starts empty, so draw the scene again (all views receive it).
        old, new = change["old"] or [], change["new"] or []
        if old and len(new) > len(old):
            self._scene.forget()
            self._draw(center=True)
