"""StructureViewer and the colour mapping, without a browser.

The viewer sends each scene to the browser as one ``executeCode`` message whose first line
is ``const P = {json};``; these tests decode that payload to check what would be drawn.
"""

from __future__ import annotations

import base64
import json
import time
import warnings

import numpy as np
import pytest
from ase import Atoms

import zifviz
from zifviz.widgets import StructureViewer, color_options, map_colors
from zifviz.widgets.colors import NAN_COLOR
from zifviz.widgets.viewer import bond_cylinders, bonds_for


# ------------------------------------------------------------------ helpers
def _payload(code: str) -> dict:
    first = code.strip().splitlines()[0]
    assert first.startswith("const P = ") and first.endswith(";")
    return json.loads(first[len("const P = "):-1])


def _f32(s: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(s), dtype="<f4")


class Sent:
    """Pretend the browser view is on screen and capture what is sent to it."""

    def __init__(self, viewer, monkeypatch):
        self.messages = []
        viewer.view.loaded = True
        monkeypatch.setattr(viewer.view, "send", self.messages.append)

    @property
    def payloads(self) -> list[dict]:
        return [_payload(m["args"][0]) for m in self.messages
                if m["methodName"] == "executeCode" and m["args"][0].lstrip().startswith("const P")]


def _queued(viewer) -> list[dict]:
    return [_payload(cb._ngl_msg["args"][0])
            for cb in viewer.view._ngl_displayed_callbacks_before_loaded
            if cb._ngl_msg.get("zifviz_scene")]


def _scene(payloads, key) -> dict:
    """The data of scene ``key`` from the messages that built it."""
    for p in payloads:
        for d in p["scenes"]:
            if d["key"] == key:
                return d
    raise KeyError(key)


@pytest.fixture(scope="module")
def zif4_annotated(shared_data):
    atoms = zifviz.read(shared_data / "structures/widmer2019/ZIF4-FixedCell.cif")
    topo = zifviz.perceive(atoms)
    zifviz.annotate(atoms, topo)
    return atoms, topo


@pytest.fixture(scope="module")
def glass(shared_data):
    atoms = zifviz.read(shared_data / "structures/gaillac2020/ZIF4_15glass02.cif")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", zifviz.UnderCoordinatedZnWarning)
        topo = zifviz.perceive(atoms)
    zifviz.annotate(atoms, topo)
    return atoms, topo


# ------------------------------------------------------------------ colours
def test_numeric_colours_are_binned_and_nan_is_grey():
    atoms = Atoms("H5", positions=np.zeros((5, 3)))
    atoms.set_array("q", np.array([0.0, 0.5, 1.0, np.nan, 1.0]))
    m = map_colors(atoms, "q", n_bins=10)
    assert m.kind == "continuous" and m.has_nan
    assert m.vmin == 0.0 and m.vmax == 1.0
    assert m.hex[0] == m.bin_colors[0] and m.hex[2] == m.bin_colors[-1] == m.hex[4]
    assert m.hex[1] in m.bin_colors and m.hex[3] == NAN_COLOR
    assert len(set(m.bin_colors)) == 10
    # 3 distinct values -> swatches with the values; NaN listed as "no value"
    assert m.labels == ["0", "0.5", "1"]
    html = m.legend_html()
    assert "no value" in html and m.bin_colors[0] in html


def test_continuous_legend_bar_has_min_max_and_every_bin_colour():
    atoms = Atoms("H20", positions=np.zeros((20, 3)))
    atoms.set_array("e", np.linspace(-1.5, 2.25, 20))
    m = map_colors(atoms, "e", n_bins=12)
    assert not m.labels and not m.has_nan
    html = m.legend_html()
    assert "-1.5" in html and "2.25" in html
    assert all(c in html for c in m.bin_colors)
    assert set(m.hex) <= set(m.bin_colors)


def test_categorical_and_element_colours(zif4_annotated):
    atoms, _ = zif4_annotated
    m = map_colors(atoms, "role")
    assert m.kind == "categorical"
    assert len(set(m.label_colors)) == len(m.labels)  # distinct
    assert NAN_COLOR not in m.label_colors
    e = map_colors(atoms, "element")
    assert sorted(e.labels) == ["C", "H", "N", "Zn"]
    symbols = np.array(atoms.get_chemical_symbols())
    for label, color in zip(e.labels, e.label_colors):
        assert set(np.asarray(e.hex)[symbols == label]) == {color}


def test_selection_scheme_covers_every_atom_once(zif4_annotated):
    atoms, _ = zif4_annotated
    m = map_colors(atoms, "coordination")
    seen = []
    for color, sele in m.selection_scheme():
        idx = [int(i) for i in sele.lstrip("@").split(",")]
        assert all(m.hex[i] == color for i in idx)
        seen += idx
    assert sorted(seen) == list(range(len(atoms)))


def test_colour_options_list_arrays_and_calculator_energies(zif4_annotated):
    from ase.calculators.singlepoint import SinglePointCalculator

    atoms, _ = zif4_annotated
    opts = color_options(atoms)
    assert opts[0] == "element"
    assert {"role", "coordination", "linker"} <= set(opts)
    assert "positions" not in opts and "numbers" not in opts
    a = atoms.copy()
    a.calc = SinglePointCalculator(a, energies=np.arange(len(a), dtype=float), energy=0.0)
    assert "energies" in color_options(a)
    assert map_colors(a, "energies").vmax == len(a) - 1
    with pytest.raises(KeyError):
        map_colors(atoms, "nope")


# ------------------------------------------------------------------ bonds
def test_periodic_bonds_are_drawn_as_half_bonds():
    # two atoms 1 Å apart across the boundary of a 10 Å cubic cell, one bond inside
    atoms = Atoms("C3", positions=[[0.5, 5, 5], [9.5, 5, 5], [2.0, 5, 5]], cell=[10] * 3, pbc=True)
    pairs = np.array([[0, 1], [0, 2]])
    shifts = np.array([[-1, 0, 0], [0, 0, 0]])
    rgb = np.array([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0]])
    c = bond_cylinders(atoms, pairs, shifts, rgb, 0.2)
    assert len(c["radius"]) == 3  # one inner bond, two half bonds
    p1, p2 = c["position1"], c["position2"]
    np.testing.assert_allclose(p1[0], [0.5, 5, 5])  # inner bond first, whole
    np.testing.assert_allclose(p2[0], [2.0, 5, 5])
    np.testing.assert_allclose(c["color"][0], [1, 0, 0])
    np.testing.assert_allclose(c["color2"][0], [0, 0, 1])
    # half bonds: from each atom 0.5 Å towards the image of the other, in its own colour
    np.testing.assert_allclose(p1[1], [0.5, 5, 5])
    np.testing.assert_allclose(p2[1], [0.0, 5, 5])
    np.testing.assert_allclose(p1[2], [9.5, 5, 5])
    np.testing.assert_allclose(p2[2], [10.0, 5, 5])
    np.testing.assert_allclose(c["color"][1], c["color2"][1])
    np.testing.assert_allclose(c["color"][2], [0, 1, 0])


def test_atomistic_bonds_of_zif4(zif4_annotated):
    atoms, _ = zif4_annotated
    pairs, shifts = bonds_for(atoms, "atomistic")
    symbols = np.array(atoms.get_chemical_symbols())
    kinds = {}
    for i, j in pairs:
        key = "-".join(sorted((symbols[i], symbols[j])))
        kinds[key] = kinds.get(key, 0) + 1
    # per imidazolate: 4 C-N, 1 C-C, 3 C-H and 2 N-Zn
    assert kinds == {"C-N": 128, "C-C": 32, "C-H": 96, "N-Zn": 64}
    # every bond is short once the shift is applied
    d = atoms.positions[pairs[:, 1]] + shifts @ atoms.cell.array - atoms.positions[pairs[:, 0]]
    assert np.linalg.norm(d, axis=1).max() < 2.2
    assert np.any(shifts != 0)


# ------------------------------------------------------------------ the viewer
def test_viewer_levels_and_scenes(zif4_annotated, monkeypatch):
    atoms, topo = zif4_annotated
    viewer = StructureViewer(atoms, topology=topo)
    assert viewer.level == "atomistic" and viewer.color_by == "element"
    assert [v for _, v in viewer.level_toggle.options] == ["atomistic", "AB2", "A"]
    assert viewer.frame_slider.layout.display == "none"  # one frame: no slider
    assert len(viewer.atoms) == 272
    # before the view is on screen one message waits in nglview's queue: it centres, shows
    # the atomistic scene and carries the other two levels too (toggle = visibility switch)
    (first,) = _queued(viewer)
    assert first["center"] and first["wanted"] == "0/atomistic/element/12"
    assert [d["key"] for d in first["scenes"]] == [
        "0/atomistic/element/12", "0/AB2/bead/12", "0/A/bead/12"]
    assert "CRYST1" in first["scenes"][0]["pdb"]

    sent = Sent(viewer, monkeypatch)
    n_atom_bonds = len(bonds_for(atoms, "atomistic")[0])
    for level, n, n_bonds, default in [("AB2", 48, 64, "bead"), ("A", 16, 32, "bead")]:
        viewer.level = level
        assert viewer.level == level and len(viewer.atoms) == n
        assert viewer.color_by == default
        msg = sent.payloads[-1]
        assert msg["wanted"] == f"0/{level}/{default}/12"
        assert msg["scenes"] == [] and not msg["center"]  # already there; keep the camera
        assert viewer.last_built == []
        scene = _scene([first], msg["wanted"])
        assert scene["pdb"].count("ATOM ") == n
        # spheres: every bead in exactly one size group
        idx = sorted(int(i) for g in scene["groups"] for i in g["sele"][1:].split(","))
        assert idx == list(range(n))
        pairs, shifts = zifviz.net_bonds(topo, level)
        n_cross = int(np.any(shifts != 0, axis=1).sum())
        assert len(pairs) == n_bonds and n_cross > 0
        # in-cell bonds whole, bonds across the boundary as two half bonds
        assert len(_f32(scene["bonds"]["radius"])) == n_bonds + n_cross
        assert len(_f32(scene["bonds"]["position1"])) == 3 * (n_bonds + n_cross)
    viewer.level = "atomistic"
    assert len(_f32(first["scenes"][0]["bonds"]["radius"])) >= n_atom_bonds
    assert [p["serial"] for p in sent.payloads] == sorted(p["serial"] for p in sent.payloads)
    assert len(sent.payloads) == 3  # one message per redraw
    with pytest.raises(zifviz.ZifvizError, match="unknown coarse-graining level"):
        viewer.level = "B"
    viewer.level = "A-only"  # the spellings coarse_grain accepts
    assert viewer.level == "A"
    viewer.level = "atomistic"


def test_new_colour_builds_new_scenes_and_old_ones_are_dropped(zif4_annotated, monkeypatch):
    atoms, topo = zif4_annotated
    viewer = StructureViewer(atoms, topology=topo)
    sent = Sent(viewer, monkeypatch)
    viewer.color_by = "coordination"
    msg = sent.payloads[-1]
    assert msg["wanted"] == "0/atomistic/coordination/12"
    # the colour sticks across levels, so those scenes come along
    assert [d["key"] for d in msg["scenes"]] == [
        "0/atomistic/coordination/12", "0/AB2/coordination/12", "0/A/coordination/12"]
    for color in ["role", "linker", "element", "role"]:
        viewer.color_by = color
    # the browser keeps at most max_scenes; Python tells it which to forget
    assert len(viewer._scene.sent) <= viewer._scene.max_scenes
    assert any(p["drop"] for p in sent.payloads)
    last = sent.payloads[-1]
    assert last["wanted"] in viewer._scene.sent and last["wanted"] not in last["drop"]
    assert last["scenes"] == []  # the "role" scenes were still there


def test_ab2_beads_distinct_sizes(zif4_annotated):
    atoms, topo = zif4_annotated
    viewer = StructureViewer(atoms, topology=topo, level="AB2")
    scene = _scene(_queued(viewer), "0/AB2/bead/12")
    beads = np.asarray(viewer.atoms.arrays["bead"]).astype(str)
    radius = {}
    for g in scene["groups"]:
        for i in g["sele"][1:].split(","):
            radius[int(i)] = g["radius"]
    ra = {radius[i] for i in np.flatnonzero(beads == "A")}
    rb = {radius[i] for i in np.flatnonzero(beads == "B")}
    assert len(ra) == len(rb) == 1 and ra.pop() > rb.pop()


def test_colour_by_changes_scene_and_legend(glass, monkeypatch):
    atoms, topo = glass
    viewer = StructureViewer(atoms, topology=topo, level="A", color_by="coordination")
    assert viewer.color_by == "coordination"
    assert "coordination" in viewer.legend.value and ">3<" in viewer.legend.value
    # the 3-coordinated Zn has its own colour, and the scene uses the legend's colours
    cn = viewer.atoms.arrays["coordination"]
    assert np.count_nonzero(cn == 3) == 1
    scene = _scene(_queued(viewer), "0/A/coordination/12")
    colors = {c for c, _ in scene["scheme"]}
    assert colors == set(viewer.colors.label_colors) and len(colors) == 2
    sent = Sent(viewer, monkeypatch)
    # the colour choice sticks across levels where the array exists
    viewer.level = "AB2"
    assert viewer.color_by == "coordination" and viewer.colors.has_nan  # B beads: NaN
    viewer.color_by = "bead"
    assert "bead" in viewer.legend.value and len(sent.payloads) == 2
    with pytest.raises(ValueError):
        viewer.color_by = "no-such-array"
    with pytest.raises(ValueError):
        StructureViewer(atoms, topology=topo, color_by="no-such-array")


def test_redraw_is_fast_and_queue_keeps_only_the_newest_message(zif4_annotated):
    atoms, topo = zif4_annotated
    viewer = StructureViewer(atoms, topology=topo)
    times = []
    for level in ["AB2", "A", "atomistic", "AB2", "A", "atomistic"]:
        t0 = time.perf_counter()
        viewer.level = level
        times.append(time.perf_counter() - t0)
    assert max(times) < 0.2, times  # Python side of a redraw, one cell
    (msg,) = _queued(viewer)
    assert msg["serial"] == viewer._scene.serial and msg["center"]
    assert len(msg["scenes"]) == 3  # the one message left carries every scene


def test_new_browser_view_gets_everything_again(zif4_annotated, monkeypatch):
    atoms, topo = zif4_annotated
    viewer = StructureViewer(atoms, topology=topo)
    sent = Sent(viewer, monkeypatch)
    viewer.view._ngl_view_id = ["view-1"]
    assert sent.payloads == []  # the first view gets the queued message
    viewer.view._ngl_view_id = ["view-1", "view-2"]  # page reloaded / shown again
    msg = sent.payloads[-1]
    assert msg["center"] and len(msg["scenes"]) == 3


def test_structures_that_are_not_zifs_still_show_atomistic(monkeypatch):
    from ase.build import bulk

    si = bulk("Si", cubic=True)
    viewer = StructureViewer(si)  # no cg prefetch possible: no error
    (msg,) = _queued(viewer)
    assert [d["key"] for d in msg["scenes"]] == ["0/atomistic/element/12"]
    with pytest.raises(zifviz.ZifvizError):
        viewer.level = "AB2"
    # the toggle goes back and the problem is shown under the view
    assert viewer.level == "atomistic"
    assert "Zn" in viewer.message.value


def test_trajectory_frames_and_lazy_sequences(zif4_annotated, monkeypatch):
    atoms, topo = zif4_annotated
    frames = []
    for k in range(3):
        a = atoms.copy()
        a.positions += 0.05 * k
        frames.append(a)

    class Lazy:  # like zifviz.Trajectory: len() and [i], frames read on demand
        def __init__(self):
            self.reads = 0

        def __len__(self):
            return len(frames)

        def __getitem__(self, i):
            self.reads += 1
            return frames[i]

    lazy = Lazy()
    viewer = StructureViewer(lazy, level="AB2")  # topology perceived per frame
    assert viewer.n_frames == 3
    assert viewer.frame_slider.layout.display != "none" and viewer.frame_slider.max == 2
    sent = Sent(viewer, monkeypatch)
    viewer.frame = 2
    assert viewer.frame == 2 and len(sent.payloads) == 1
    # trajectories: no prefetch of other levels (one scene per frame step)
    assert [d["key"] for d in sent.payloads[0]["scenes"]] == ["2/AB2/bead/12"]
    np.testing.assert_allclose(viewer.atoms.positions[0],
                               zifviz.coarse_grain(frames[2], "AB2", topology=topo).positions[0],
                               atol=1e-6)
    reads = lazy.reads
    viewer.level = "A"
    viewer.level = "AB2"
    assert lazy.reads - reads <= 1  # levels of the current frame are cached


def test_bad_input():
    with pytest.raises(TypeError):
        StructureViewer("not a structure")
    with pytest.raises(ValueError):
        StructureViewer([])
    with pytest.raises(ValueError):
        StructureViewer(Atoms("H"), level="B")


def test_atomistic_view_draws_the_perceived_bonds(glass):
    """With a topology the atomistic sticks are zifviz's bonds (stretched Zn–N included)."""
    glass, topo = glass
    viewer = StructureViewer(glass, topology=topo)
    _, pairs, _ = viewer._level_data(0, "atomistic")
    assert sorted(map(tuple, pairs.tolist())) == sorted(map(tuple, topo.bonds.tolist()))
    pairs_guess, _ = bonds_for(glass, "atomistic")
    assert len(pairs_guess) > 0
