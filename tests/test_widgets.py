"""StructureViewer, its scene model and the colour mapping, without a browser.

The viewer talks to the browser with data-only messages on the NGL widget's comm
(``view.send(content, buffers)``); these tests capture them and decode the buffers.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from ase import Atoms

import zifviz
from zifviz.datasets import fetch_structure
from zifviz.palettes import NAN_COLOR, QUALITATIVE, palette_for
from zifviz.widgets import SceneModel, StructureViewer, color_options, map_colors
from zifviz.widgets.colors import map_values
from zifviz.widgets.viewer import LEVELS, bonds_for, browser_code


# ------------------------------------------------------------------ helpers
class Sent:
    """Pretend a browser view is on screen and capture what is sent to it."""

    def __init__(self, viewer, monkeypatch, load: bool = True):
        self.messages: list[tuple[dict, list]] = []
        monkeypatch.setattr(viewer.view, "send",
                            lambda content, buffers=None: self.messages.append((content, buffers)))
        if load:
            viewer.view.loaded = True

    def of(self, kind: str) -> list[tuple[dict, list]]:
        return [(c, b) for c, b in self.messages if c.get("zifviz") == kind]

    @property
    def code(self) -> list[str]:
        return [c["args"][0] for c, _ in self.messages if c.get("methodName") == "executeCode"]

    def clear(self):
        self.messages.clear()


def _f32(b) -> np.ndarray:
    return np.frombuffer(bytes(b), dtype="<f4").reshape(-1, 3)


@pytest.fixture(scope="module")
def zif4():
    atoms = zifviz.read(fetch_structure("widmer2019/ZIF4-FixedCell.cif"))
    topo = zifviz.perceive(atoms)
    zifviz.annotate(atoms, topo)
    return atoms, topo


@pytest.fixture(scope="module")
def glass():
    atoms = zifviz.read(fetch_structure("gaillac2020/ZIF4_15glass02.cif"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", zifviz.UnderCoordinatedZnWarning)
        topo = zifviz.perceive(atoms)
    zifviz.annotate(atoms, topo)
    return atoms, topo


def _trajectory(atoms, n=3, step=0.05):
    frames = []
    for k in range(n):
        a = atoms.copy()
        a.positions += step * k
        frames.append(a)
    return frames


# ------------------------------------------------------------------ palettes
def test_phase_palette_is_fixed_and_extends_without_recolouring():
    table = palette_for("phase")
    assert set(table) == {"ZIF-4", "ZIF-4-cp", "ZIF-4-cp-II", "ZIF-zni", "ZIF-hPT-II",
                          "glass", "liquid"}
    assert len(set(table.values())) == len(table) and NAN_COLOR not in table.values()
    some = palette_for("phase", ["liquid", "ZIF-4-cp-II", "new-phase"])
    assert some["liquid"] == table["liquid"] and some["ZIF-4-cp-II"] == table["ZIF-4-cp-II"]
    assert some["new-phase"] not in table.values() and some["new-phase"] in QUALITATIVE
    assert palette_for("level", ["A-only", "AB2"]) == {"A-only": palette_for("level")["A"],
                                                       "AB2": palette_for("level")["AB2"]}
    assert palette_for("no-such-property") == {}
    assert list(palette_for("whatever", ["b", "a"]).values()) == list(QUALITATIVE[:2])


def test_category_colours_do_not_depend_on_the_frame():
    """cp-II was orange in one frame and green in the next: now fixed per category."""
    def frame(phases):
        a = Atoms(f"H{len(phases)}", positions=np.zeros((len(phases), 3)))
        a.arrays["phase"] = np.array(phases)
        return a

    m1 = map_colors(frame(["ZIF-4-cp-II", "ZIF-4-cp-II"]), "phase")
    m2 = map_colors(frame(["ZIF-4", "ZIF-4-cp", "ZIF-4-cp-II"]), "phase")
    assert m1.hex[0] == m2.hex[2] == palette_for("phase")["ZIF-4-cp-II"]
    assert dict(zip(m2.labels, m2.label_colors))["ZIF-4"] == palette_for("phase")["ZIF-4"]
    # unknown property: the categories passed fix the colours
    m3 = map_values("label", np.array(["y"]), categories=["x", "y"])
    m4 = map_values("label", np.array(["x", "y"]))
    assert m3.hex[0] == m4.hex[1]
    # an explicit palette wins
    m5 = map_values("phase", np.array(["glass"]), palette={"glass": "#000000"})
    assert m5.hex == ["#000000"]


def test_numeric_colours_are_binned_indexed_and_nan_is_grey():
    atoms = Atoms("H5", positions=np.zeros((5, 3)))
    atoms.set_array("q", np.array([0.0, 0.5, 1.0, np.nan, 1.0]))
    m = map_colors(atoms, "q", n_bins=10)
    assert m.kind == "continuous" and m.has_nan and m.index.dtype == np.uint16
    assert m.vmin == 0.0 and m.vmax == 1.0
    assert m.hex[0] == m.bin_colors[0] and m.hex[2] == m.bin_colors[-1] == m.hex[4]
    assert m.hex[3] == NAN_COLOR and m.palette[m.index[3]] == NAN_COLOR
    assert m.labels == ["0", "0.5", "1"]
    assert "no value" in m.legend_html() and m.bin_colors[0] in m.legend_html()
    # a fixed range makes values comparable between frames
    fixed = map_colors(atoms, "q", n_bins=10, vmin=0.0, vmax=2.0)
    assert fixed.hex[2] == fixed.bin_colors[5]


def test_element_colours_and_options(zif4):
    atoms, _ = zif4
    e = map_colors(atoms, "element")
    assert sorted(e.labels) == ["C", "H", "N", "Zn"] and len(e.palette) == 4
    symbols = np.array(atoms.get_chemical_symbols())
    for label, color in zip(e.labels, e.label_colors):
        assert set(np.asarray(e.hex)[symbols == label]) == {color}
    opts = color_options(atoms)
    assert opts[0] == "element" and {"role", "coordination", "linker"} <= set(opts)
    assert map_colors(atoms, "role").label_colors == [palette_for("role")[r]
                                                      for r in map_colors(atoms, "role").labels]
    with pytest.raises(KeyError):
        map_colors(atoms, "nope")


# ------------------------------------------------------------------ scene model
def test_scene_model_levels(zif4):
    atoms, topo = zif4
    scene = SceneModel(atoms, topo)
    assert scene.levels() == ["atomistic", "AB2", "A"]
    for level, n, n_bonds in [("atomistic", 272, len(topo.bonds)), ("AB2", 48, 64), ("A", 16, 32)]:
        st, geo = scene.static(level), scene.geometry(0, level)
        assert st.n == n and geo.positions.shape == (n, 3) and geo.positions.dtype == np.float32
        assert len(geo.pairs) == n_bonds and geo.shifts.shape == (n_bonds, 3)
        d = (geo.positions[geo.pairs[:, 1]] + geo.shifts @ geo.cell
             - geo.positions[geo.pairs[:, 0]])
        assert np.linalg.norm(d, axis=1).max() < {"atomistic": 2.3, "AB2": 4.5, "A": 6.8}[level]
        assert np.any(geo.shifts != 0)
    cg = zifviz.coarse_grain(atoms, "AB2", topology=topo)
    np.testing.assert_allclose(scene.geometry(0, "AB2").positions, cg.positions, atol=1e-4)
    st = scene.static("AB2")
    assert set(st.kind) == {"A", "B"} and st.radii[st.kind == "A"].min() > st.radii[st.kind == "B"].max()
    assert (st.zn[st.kind == "A"] == np.arange(16)).all() and (st.atom[:16] == topo.zn).all()
    assert scene.static("atomistic").radii[topo.zn].min() > scene.static("atomistic").radii.min()


def test_scene_model_uses_fast_frame_accessors(zif4):
    atoms, topo = zif4
    frames = _trajectory(atoms, 4)

    class Fast:  # like zifviz.Trajectory: positions(i) / cell(i) without building Atoms
        def __init__(self):
            self.built = 0

        def __len__(self):
            return len(frames)

        def __getitem__(self, i):
            self.built += 1
            return frames[i]

        def positions(self, i):
            return frames[i].positions.astype(np.float32)

        def cell(self, i):
            return frames[i].cell.array

    traj = Fast()
    scene = SceneModel(traj, topo)
    built = traj.built
    for i in range(4):
        geo = scene.geometry(i, "A")
        np.testing.assert_allclose(geo.positions, frames[i].positions[topo.zn], atol=1e-4)
    assert traj.built == built  # no Atoms for frame steps


def test_scene_model_of_a_structure_that_is_not_a_zif():
    from ase.build import bulk

    scene = SceneModel(bulk("Si", cubic=True))
    assert scene.levels() == ["atomistic"]
    geo = scene.geometry(0, "atomistic")
    assert len(geo.pairs) == 16  # 8 atoms x 4 bonds / 2
    with pytest.raises(zifviz.ZifvizError):
        scene.geometry(0, "AB2")


# ------------------------------------------------------------------ the viewer
def test_viewer_sends_each_level_once_as_binary_data(zif4, monkeypatch):
    atoms, topo = zif4
    viewer = StructureViewer(atoms, topology=topo)
    sent = Sent(viewer, monkeypatch)
    # the browser code goes once per view, from the package's .js asset
    assert sent.code == [browser_code()] and "zifviz" in browser_code()
    levels = sent.of("level")
    assert [c["level"] for c, _ in levels] == ["atomistic", "AB2", "A"]  # current first
    for content, buffers in levels:
        n = content["n"]
        numbers, positions, pairs, shifts, cell, index = (bytes(b) for b in buffers)
        assert len(numbers) == n and len(positions) == 12 * n and len(index) == 2 * n
        geo = viewer.scene.geometry(0, content["level"])
        np.testing.assert_array_equal(_f32(positions), geo.positions)
        np.testing.assert_array_equal(np.frombuffer(pairs, "<u4").reshape(-1, 2), geo.pairs)
        np.testing.assert_array_equal(np.frombuffer(shifts, "<i2").reshape(-1, 3), geo.shifts)
        assert len(cell) == 36 and all(c.startswith("#") for c in content["palette"])
    (show,) = sent.of("show")
    assert show[0] == {**show[0], "level": "atomistic", "fit": True}
    # JSON parts are data: no code anywhere but the one asset
    for content, _ in sent.messages:
        if content.get("zifviz"):
            assert "function" not in repr(content) and "=>" not in repr(content)


def test_level_toggle_flips_without_data_and_follows_the_browser(zif4, monkeypatch):
    atoms, topo = zif4
    viewer = StructureViewer(atoms, topology=topo)
    sent = Sent(viewer, monkeypatch)
    sent.clear()
    viewer.level = "AB2"  # from Python: a 'show' message only
    assert [c["zifviz"] for c, _ in sent.messages] == ["show"]
    assert viewer.color_by == "bead" and len(viewer.atoms) == 48
    sent.clear()
    # a click in the browser: the browser flipped already; the kernel only follows
    with viewer.level_toggle._lock_property(index=2):
        viewer.level_toggle.value = "A"
    assert sent.messages == [] and viewer.level == "A" and len(viewer.atoms) == 16
    assert "bead" in viewer.legend.value


def test_level_spellings_and_bad_levels(zif4, monkeypatch):
    atoms, topo = zif4
    viewer = StructureViewer(atoms, topology=topo, level="A-only")
    assert viewer.level == "A" and [v for _, v in viewer.level_toggle.options] == ["atomistic", "AB2", "A"]
    assert LEVELS == {"atomistic": "atomistic", "AB2": "AB2", "A-only": "A"}
    viewer.level = "ab2"
    assert viewer.level == "AB2"
    with pytest.raises(zifviz.ZifvizError, match="unknown coarse-graining level"):
        viewer.level = "B"
    with pytest.raises(zifviz.ZifvizError):
        StructureViewer(atoms, topology=topo, level="B")


def test_frame_step_sends_float32_positions_only(zif4, monkeypatch):
    atoms, topo = zif4
    frames = _trajectory(atoms, 3)
    viewer = StructureViewer(frames, topology=topo, level="A")
    assert viewer.frame_slider.layout.display != "none" and viewer.frame_slider.max == 2
    sent = Sent(viewer, monkeypatch)
    sent.clear()
    viewer.frame = 2
    kinds = [(c["zifviz"], c["level"]) for c, _ in sent.messages]
    assert kinds == [("frame", "A"), ("frame", "atomistic"), ("frame", "AB2")]  # shown first
    assert sent.code == []  # no JavaScript per frame
    content, buffers = sent.messages[0]
    assert content["frame"] == 2 and content["has"] == {"pairs": False, "index": False}
    assert len(buffers) == 3  # positions, shifts, cell
    np.testing.assert_allclose(_f32(buffers[0]), frames[2].positions[topo.zn], atol=1e-4)
    assert len(bytes(buffers[0])) == 12 * 16
    # same frame again: nothing to send
    sent.clear()
    viewer.frame = 2
    assert sent.messages == []


def test_numeric_colours_use_one_range_over_the_trajectory(zif4, monkeypatch):
    atoms, topo = zif4
    frames = _trajectory(atoms, 3)
    for k, f in enumerate(frames):
        f.arrays["q"] = np.linspace(0, 1, len(f)) * (k + 1)  # frame k spans 0..k+1
    viewer = StructureViewer(frames, topology=topo, color_by="q")
    assert (viewer.colors.vmin, viewer.colors.vmax) == (0.0, 3.0)
    first = viewer.colors
    sent = Sent(viewer, monkeypatch)
    sent.clear()
    viewer.frame = 2
    content, buffers = sent.messages[0]
    assert content["has"]["index"]  # colours change with the frame: indices sent (uint16)
    index = np.frombuffer(bytes(buffers[-1]), "<u2")
    assert len(index) == len(atoms) and (viewer.colors.vmin, viewer.colors.vmax) == (0.0, 3.0)
    # one scale for all frames: the bin of a value does not depend on the frame
    for k, idx in [(0, first.index), (2, index)]:
        expected = np.clip(np.floor(frames[k].arrays["q"] / 3.0 * 12), 0, 11).astype(int)
        np.testing.assert_array_equal(idx, expected)
    assert first.bin_colors == viewer.colors.bin_colors
    free = StructureViewer(frames, topology=topo, color_by="q", fixed_range=False)
    free.frame = 2
    assert free.colors.vmax == 3.0 and StructureViewer(
        frames, topology=topo, color_by="q", vmin=-1, vmax=5).colors.vmin == -1


def test_colour_change_sends_indices_for_every_level(glass, monkeypatch):
    atoms, topo = glass
    viewer = StructureViewer(atoms, topology=topo, level="A", color_by="coordination")
    assert "coordination" in viewer.legend.value and ">3<" in viewer.legend.value
    sent = Sent(viewer, monkeypatch)
    sent.clear()
    viewer.color_by = "bead"
    # every level changes: A and AB2 to "bead", atomistic (no beads) from coordination to element
    assert {c["level"] for c, _ in sent.of("colors")} == {"A", "AB2", "atomistic"}
    for content, (index,) in sent.of("colors"):
        assert len(bytes(index)) == 2 * viewer.scene.static(content["level"]).n
    with pytest.raises(ValueError):
        viewer.color_by = "no-such-array"
    with pytest.raises(ValueError):
        StructureViewer(atoms, topology=topo, color_by="no-such-array")


def test_picking_reports_frame_atom_bead_and_zn(zif4, monkeypatch):
    atoms, topo = zif4
    viewer = StructureViewer(_trajectory(atoms, 2), topology=topo, level="AB2")
    got = []
    viewer.on_pick(got.append)
    viewer._on_view_msg(None, {"zifviz": "pick", "level": "AB2", "index": 20, "frame": 1}, [])
    assert viewer.picked == {"frame": 1, "level": "AB2", "index": 20, "atom": None, "bead": 20,
                             "zn": None, "linker": 4, "kind": "B", "element": "O"}
    viewer._on_view_msg(None, {"zifviz": "pick", "level": "atomistic", "index": int(topo.zn[3]),
                               "frame": 0}, [])
    assert got[-1]["zn"] == 3 and got[-1]["atom"] == topo.zn[3] and got[-1]["bead"] is None
    assert "Zn 3" in viewer.pick_label.value
    viewer._on_view_msg(None, {"zifviz": "pick", "level": "A", "index": 999}, [])  # ignored
    assert len(got) == 2
    viewer.on_pick(got.append, remove=True)


def test_highlight_and_focus(zif4, monkeypatch):
    atoms, topo = zif4
    viewer = StructureViewer(atoms, topology=topo, level="A")
    sent = Sent(viewer, monkeypatch)
    sent.clear()
    viewer.highlight(zn=[1, 2])
    marks = {c["level"]: c["indices"] for c, _ in sent.of("highlight")}
    assert marks == {"A": [1, 2], "AB2": [1, 2], "atomistic": topo.zn[[1, 2]].tolist()}
    viewer.focus(3)
    (focus,) = sent.of("focus")
    assert focus[0]["level"] == "A" and focus[0]["index"] == 3
    viewer.highlight([0, 5])
    assert sent.of("highlight")[-1][0]["indices"] == [0, 5]
    viewer.highlight()
    assert all(c["indices"] == [] for c, _ in sent.of("highlight")[-3:])
    with pytest.raises(zifviz.ZifvizError):
        viewer.highlight([99])
    with pytest.raises(zifviz.ZifvizError):
        viewer.focus(16)


def test_nothing_is_sent_before_the_view_is_on_screen_and_a_new_view_gets_all(zif4, monkeypatch):
    atoms, topo = zif4
    viewer = StructureViewer(atoms, topology=topo)
    sent = Sent(viewer, monkeypatch, load=False)
    viewer.level = "A"
    viewer.color_by = "coordination"
    assert sent.messages == []
    viewer.view.loaded = True
    assert len(sent.code) == 1 and sent.of("show")[0][0]["level"] == "A"
    viewer.view._ngl_view_id = ["view-1"]
    sent.clear()
    viewer.view._ngl_view_id = ["view-1", "view-2"]  # page reloaded / shown again
    assert len(sent.code) == 1 and len(sent.of("level")) == 3


def test_structures_that_are_not_zifs_show_atomistic(monkeypatch):
    from ase.build import bulk

    viewer = StructureViewer(bulk("Si", cubic=True))
    sent = Sent(viewer, monkeypatch)
    assert [c["level"] for c, _ in sent.of("level")] == ["atomistic"]
    with pytest.raises(zifviz.ZifvizError):
        viewer.level = "AB2"
    assert viewer.level == "atomistic" and "Zn" in viewer.message.value
    with pytest.raises(zifviz.ZifvizError):
        StructureViewer(bulk("Si", cubic=True), level="A-only")


def test_bad_input():
    with pytest.raises(TypeError):
        StructureViewer("not a structure")
    with pytest.raises(ValueError):
        StructureViewer([])
    with pytest.raises(TypeError):
        StructureViewer([1, 2])


def test_atomistic_bonds_are_the_perceived_ones(glass, zif4):
    glass_atoms, topo = glass
    scene = SceneModel(glass_atoms, topo)
    pairs = scene.geometry(0, "atomistic").pairs
    assert sorted(map(tuple, pairs.tolist())) == sorted(map(tuple, topo.bonds.tolist()))
    atoms, _ = zif4
    pairs, shifts = bonds_for(atoms, "atomistic")
    symbols = np.array(atoms.get_chemical_symbols())
    kinds = {}
    for i, j in pairs:
        key = "-".join(sorted((symbols[i], symbols[j])))
        kinds[key] = kinds.get(key, 0) + 1
    assert kinds == {"C-N": 128, "C-C": 32, "C-H": 96, "N-Zn": 64}


def test_large_structure_positions_go_as_binary(zif4, monkeypatch):
    """A 3x3x3 ZIF-4 (7,344 atoms): 12 bytes per atom per frame, no text."""
    atoms, _ = zif4
    big = atoms.repeat((3, 3, 3))
    topo = zifviz.perceive(big)
    viewer = StructureViewer(_trajectory(big, 2), topology=topo, level="A")
    sent = Sent(viewer, monkeypatch)
    # 8,640 atomistic bonds: drawn as lines; the 864 Zn–Zn sticks as cylinders
    styles = {c["level"]: c["bond_style"] for c, _ in sent.of("level")}
    assert styles == {"atomistic": "lines", "AB2": "cylinders", "A": "cylinders"}
    with pytest.raises(zifviz.ZifvizError):
        StructureViewer(atoms, bonds="tubes")
    sent.clear()
    viewer.frame = 1
    sizes = {c["level"]: len(bytes(b[0])) for c, b in sent.of("frame")}
    assert sizes == {"A": 12 * 432, "AB2": 12 * (432 + 864), "atomistic": 12 * 7344}


def test_big_hidden_levels_get_frames_when_shown(zif4, monkeypatch):
    """Levels with many items are not sent on every frame step while hidden."""
    import zifviz.widgets.viewer as viewer_module

    atoms, topo = zif4
    monkeypatch.setattr(viewer_module, "EAGER_MAX_ITEMS", 100)  # atomistic (272) is "big"
    viewer = StructureViewer(_trajectory(atoms, 3), topology=topo, level="A")
    sent = Sent(viewer, monkeypatch)
    sent.clear()
    viewer.frame = 2
    assert [c["level"] for c, _ in sent.of("frame")] == ["A", "AB2"]
    sent.clear()
    with viewer.level_toggle._lock_property(index=0):  # clicked in the browser
        viewer.level_toggle.value = "atomistic"
    (msg,) = sent.messages
    assert msg[0]["zifviz"] == "frame" and msg[0]["level"] == "atomistic" and msg[0]["frame"] == 2


def test_per_zn_colourings_at_every_level(zif4, monkeypatch):
    """Values given per Zn rank colour the Zn (and A beads) of each frame; other items have no
    value: no legend entry, the palette's "" colour or ``no_value_color``."""
    atoms, topo = zif4
    frames = _trajectory(atoms, 3)
    n_zn = len(topo.zn)
    phase = [np.where(np.arange(n_zn) < k * 5, "ZIF-4-cp-II", "ZIF-4") for k in range(3)]
    score = [np.linspace(0, 1, n_zn) * (k + 1) for k in range(3)]

    def phases(i):
        return np.concatenate(phase) if i is None else phase[i]

    def scores(i):
        return np.concatenate(score) if i is None else score[i]

    viewer = StructureViewer(frames, topology=topo, level="A", color_by="phase",
                             per_zn={"phase": phases, "score": scores}, no_value_color="#eeeeee",
                             palette={**palette_for("phase"), "": "#eeeeee"})
    assert {"phase", "score"} <= set(viewer.color_dropdown.options)
    cp2, zif = palette_for("phase")["ZIF-4-cp-II"], palette_for("phase")["ZIF-4"]
    for k in range(3):
        viewer.frame = k
        expected = [cp2 if p == "ZIF-4-cp-II" else zif for p in phase[k]]
        assert [c.lower() for c in viewer.colors.hex] == [c.lower() for c in expected]
    viewer.level = "atomistic"
    colours = np.array([c.lower() for c in viewer.colors.hex])
    is_zn = np.zeros(len(atoms), bool)
    is_zn[topo.zn] = True
    assert set(colours[~is_zn]) == {"#eeeeee"} and "#eeeeee" not in set(colours[is_zn])
    assert "" not in viewer.colors.labels  # the ligands are not a phase of the legend
    viewer.color_by = "score"  # one range over the trajectory, from scores(None)
    assert (viewer.colors.vmin, viewer.colors.vmax) == (0.0, 3.0)
    assert set(np.array(viewer.colors.hex)[~is_zn]) == {"#eeeeee"}
    assert not viewer.colors.has_nan
