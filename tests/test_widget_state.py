"""Widget state saved to a small JSON file and reopened (zifviz.widgets.state), Python side."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

import zifviz
from zifviz.datasets import fetch_structure, load_demo
from zifviz.errors import StateFileError
from zifviz.widgets import EmbeddingExplorer, GridExplorer, StructureViewer
from zifviz.widgets.grid_explorer import SEED000_COLUMNS, seed000_grid_tables
from zifviz.widgets.state import (STATE_FORMAT, file_sha256, load_state, read_state,
                                  save_state)

CAMERA = [float(v) for v in np.arange(16) / 10 + 1]


@pytest.fixture(scope="module")
def hot():
    phases = load_demo("phases")
    return phases.query("phase == 'liquid' and source_set == 'NVT'")[:4]


def test_viewer_on_demo_frames_round_trip(tmp_path, hot):
    viewer = StructureViewer(hot, level="AB2")
    viewer.frame = 2
    viewer.level = "A"
    viewer.highlight(zn=[0, 3])
    viewer.view._camera_orientation = CAMERA
    path = save_state(viewer, tmp_path / "hot.json")
    doc = json.loads(path.read_text())
    assert doc["format"] == STATE_FORMAT
    assert doc["widget"] == "zifviz.widgets.viewer:StructureViewer"
    ref = doc["data"]["frames"]
    assert ref["kind"] == "demo" and ref["name"] == "phases"
    assert ref["sha256"] == file_sha256(hot.path)
    assert path.stat().st_size < 4000  # a reference, not the frames
    assert list(tmp_path.iterdir()) == [path]  # no side file for a demo set

    again = load_state(path)
    assert isinstance(again, StructureViewer)
    assert (again.level, again.frame, again.color_by) == ("A", 2, viewer.color_by)
    assert np.array_equal(again.scene.frames.frames, hot.frames)
    assert again._highlight == viewer._highlight and again._highlight["A"]
    assert list(again.view._camera_orientation) == CAMERA
    assert np.allclose(again.atoms.positions, viewer.atoms.positions)


def test_viewer_on_file_and_changed_file(tmp_path, zif4_path):
    cif = tmp_path / "zif4.cif"
    shutil.copy(zif4_path, cif)
    atoms = zifviz.read(cif)
    viewer = StructureViewer(atoms, level="AB2")
    path = save_state(viewer, tmp_path / "view.json")
    ref = json.loads(path.read_text())["data"]["frames"]
    assert ref["kind"] == "file" and ref["path"] == "zif4.cif"  # unchanged atoms: the file
    assert load_state(path).level == "AB2"

    cif.write_text(cif.read_text().replace("ZIF", "ZIF ", 1))  # the data file changed
    with pytest.raises(StateFileError, match="changed since the state was saved"):
        load_state(path)
    cif.unlink()
    with pytest.raises(StateFileError, match="is not there"):
        load_state(path)


def test_viewer_on_changed_atoms_writes_them_beside(tmp_path):
    atoms = zifviz.read(fetch_structure("widmer2019/ZIF4-FixedCell.cif"))
    topo = zifviz.perceive(atoms)
    zifviz.annotate(atoms, topo)   # arrays the file does not have
    viewer = StructureViewer(atoms, topo, level="A", color_by="coordination")
    path = save_state(viewer, tmp_path / "annotated.json")
    ref = read_state(path)["data"]["frames"]
    assert ref["kind"] == "file" and ref["path"] == "annotated.frames.extxyz"
    again = load_state(path)
    assert (again.level, again.color_by) == ("A", "coordination")
    assert np.array_equal(again.colors.index, viewer.colors.index)


def test_load_state_with_data_in_memory_is_checked(tmp_path, hot):
    viewer = StructureViewer(hot, level="AB2")
    path = save_state(viewer, tmp_path / "v.json")
    assert load_state(path, data={"frames": hot}).level == "AB2"
    other = load_demo("phases").query("phase == 'ZIF-zni'")[:4]
    with pytest.raises(StateFileError, match="not the ones the state was saved with"):
        load_state(path, data={"frames": other})


def test_demo_set_changed(tmp_path, hot):
    path = save_state(StructureViewer(hot), tmp_path / "v.json")
    doc = json.loads(path.read_text())
    doc["data"]["frames"]["sha256"] = "0" * 64
    path.write_text(json.dumps(doc))
    with pytest.raises(StateFileError, match="demo set 'phases'.*not the one"):
        load_state(path)


def test_not_a_state_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(StateFileError, match="not a JSON state file"):
        load_state(bad)
    bad.write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(StateFileError, match="not a zifviz widget state"):
        load_state(bad)
    bad.write_text(json.dumps({"format": STATE_FORMAT, "widget": "os:system", "data": {},
                               "state": {}}))
    with pytest.raises(StateFileError, match="unknown widget"):
        load_state(bad)
    with pytest.raises(StateFileError, match="no such state file"):
        load_state(tmp_path / "missing.json")


def test_grid_explorer_from_tables_round_trip(tmp_path):
    grid = GridExplorer.from_tables(seed000_grid_tables(), columns=SEED000_COLUMNS)
    grid.controls["metric"].value = "train_rmse"
    grid.select("AB2", 6.0, 0.5)
    path = save_state(grid, tmp_path / "grid.json")
    doc = read_state(path)
    assert doc["data"]["tables"]["kind"] == "files"
    assert set(doc["data"]["tables"]["files"]) == {"atomistic", "AB2", "A"}
    assert path.stat().st_size < 4000
    again = load_state(path)
    assert again.metric == "train_rmse"
    assert again.selected == grid.selected
    pd.testing.assert_frame_equal(again.minima, grid.minima)


def test_grid_explorer_from_a_table_in_memory(tmp_path):
    results = pd.DataFrame({"level": ["A"] * 4 + ["AB2"] * 4,
                            "r_cut": [4.0, 4.0, 6.0, 6.0] * 2, "sigma": [0.3, 0.6] * 4,
                            "test_rmse": np.linspace(0.05, 0.12, 8),
                            "target": ["eps_local"] * 8})
    grid = GridExplorer(results, color_range=None)
    grid.select("A", 6.0, 0.6)
    path = save_state(grid, tmp_path / "g.json")
    assert (tmp_path / "g.results.csv").is_file()
    again = load_state(path)
    assert again.selected == grid.selected and again.color_range == grid.color_range
    pd.testing.assert_frame_equal(again.results, grid.results, check_dtype=False)
    # the side table edited by hand: refused
    side = tmp_path / "g.results.csv"
    side.write_text(side.read_text().replace("0.05", "0.04"))
    with pytest.raises(StateFileError, match="g.results.csv changed"):
        load_state(path)


def test_embedding_explorer_round_trip(tmp_path):
    frames = load_demo("phases")[::60]
    table = zifviz.environment_table(frames, progress=False)
    table["phase"] = table["phase"].astype("category")
    rng = np.random.default_rng(0)
    xy = rng.normal(size=(len(table), 2))
    explorer = EmbeddingExplorer(table, xy, frames, color_by="phase", level="A",
                                 color_columns=["phase", "ensemble", "temperature"])
    explorer.color_by = "temperature"
    explorer.select([3, 5, 8])
    explorer.figure.layout.xaxis.range = [-1.0, 1.0]
    explorer.figure.layout.yaxis.range = [-0.5, 0.5]
    path = save_state(explorer, tmp_path / "map.json")
    doc = read_state(path)
    assert doc["data"]["frames"]["kind"] == "demo"
    assert doc["data"]["table"]["path"] == "map.table.csv"
    assert doc["data"]["embedding"]["path"] == "map.embedding.npy"

    again = load_state(path)
    assert again.color_by == "temperature"
    assert list(again.selected) == [3, 5, 8]
    assert np.array_equal(again.xy, explorer.xy)
    assert list(again.figure.layout.xaxis.range) == [-1.0, 1.0]
    assert again.table["phase"].dtype == "category"
    pd.testing.assert_frame_equal(again.table, explorer.table, check_dtype=False)
    assert again.viewer.level == "A" and again.viewer.frame == explorer.viewer.frame


def test_a_widget_without_state_hooks_is_refused(tmp_path):
    import ipywidgets

    with pytest.raises(StateFileError, match="not a zifviz widget"):
        save_state(ipywidgets.Label("x"), tmp_path / "x.json")


def test_gzip_trajectory_reference(tmp_path, hot):
    # a Trajectory view of a file is referenced by path, frames and the file's SHA-256
    traj_path = tmp_path / "hot.extxyz.gz"
    zifviz.write(traj_path, list(hot), format="extxyz")
    traj = zifviz.Trajectory(traj_path)[1:3]
    viewer = StructureViewer(traj, level="AB2")
    path = save_state(viewer, tmp_path / "t.json")
    ref = read_state(path)["data"]["frames"]
    assert ref["trajectory"] and ref["path"] == "hot.extxyz.gz"
    again = load_state(path)
    assert again.n_frames == 2
    assert np.allclose(again.scene.positions(1), viewer.scene.positions(1))


def test_viewer_over_frames_of_different_sizes(tmp_path):
    # the phases demo mixes 272-atom (ZIF-4), 544-atom (ZIF-zni) and 136-atom (hPT-II) frames
    frames = load_demo("phases")[::12]
    sizes = frames.frames_info["n_atoms"].to_numpy()
    big = int(np.flatnonzero(sizes == 544)[0])
    viewer = StructureViewer(frames, level="AB2")
    viewer.frame = big
    viewer.focus(20)  # a Zn rank that only the 32-Zn frame has
    assert viewer.scene.static("AB2", big).n == 96 == len(viewer.atoms)
    again = load_state(save_state(viewer, tmp_path / "mixed.json"))
    assert again.frame == big and again._highlight["A"] == viewer._highlight["A"]
    again.frame = 0
    assert again.scene.static("AB2", 0).n == 48 == len(again.atoms)


def test_a_demo_format_file_of_ones_own(tmp_path, hot):
    # a DemoSet opened from another file (e.g. a bigger build) is referenced by path + SHA-256
    from zifviz.datasets import DemoSet

    copy = tmp_path / "mine.extxyz.gz"
    shutil.copy(hot.path, copy)
    mine = DemoSet.open(copy)[hot.frames]
    path = save_state(StructureViewer(mine, level="A"), tmp_path / "mine.json")
    ref = read_state(path)["data"]["frames"]
    assert ref["kind"] == "file" and ref["path"] == "mine.extxyz.gz"
    again = load_state(path)
    assert isinstance(again.scene.frames, DemoSet)
    assert np.array_equal(again.scene.frames.frames, hot.frames) and again.level == "A"
