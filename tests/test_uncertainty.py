"""Per-Zn model results as atom colours at every level (zifviz.uncertainty)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import zifviz
from zifviz.datasets import fetch_structure
from zifviz.errors import DataError
from zifviz.palettes import NAN_COLOR
from zifviz.uncertainty import per_zn_arrays, prediction_columns
from zifviz.widgets import StructureViewer


@pytest.fixture(scope="module")
def frames():
    atoms = zifviz.read(fetch_structure("widmer2019/ZIF4-FixedCell.cif"))
    second = atoms.copy()
    second.positions += 0.02
    return [atoms, second]


def test_prediction_columns(frames):
    table = zifviz.environment_table(frames)
    n = len(table)
    y_true = np.linspace(0, 1, n)
    out = prediction_columns(table, y_true + 0.1, np.full(n, 0.05), y_true=y_true)
    assert {"gpr_pred", "gpr_std", "gpr_error", "gpr_abs_error"} <= set(out.columns)
    assert np.allclose(out["gpr_abs_error"], 0.1) and "gpr_pred" not in table
    with pytest.raises(DataError, match="row-aligned"):
        prediction_columns(table, y_true[:-1])


def test_zn_values_reach_the_zn_atoms_and_the_a_beads(frames):
    table = zifviz.environment_table(frames)
    table["std"] = np.arange(len(table), dtype=float) / 100
    coloured = per_zn_arrays(frames, table, {"gpr_std": "std"})
    assert "gpr_std" not in frames[0].arrays  # the input frames are not changed
    for i, atoms in enumerate(coloured):
        rows = table[table["frame_pos"] == i]
        values = atoms.arrays["gpr_std"]
        np.testing.assert_array_equal(values[rows["zn"]], rows["std"])
        others = np.setdiff1d(np.arange(len(atoms)), rows["zn"])
        assert np.isnan(values[others]).all() and len(others) > 0

    topo = zifviz.perceive(coloured[1])
    for level in ("AB2", "A"):
        cg = zifviz.coarse_grain(coloured[1], level, topo)
        v = cg.arrays["gpr_std"]
        a_beads = np.flatnonzero(cg.arrays["bead"] == "A") if "bead" in cg.arrays else \
            np.arange(len(topo.zn))
        rows = table[table["frame_pos"] == 1]
        np.testing.assert_array_equal(v[a_beads], rows["std"])  # Zn order = A-bead order
        assert np.isnan(np.delete(v, a_beads)).all()


def test_viewer_colours_the_zn_by_the_value_at_each_level(frames):
    table = zifviz.environment_table(frames[:1])
    table["std"] = np.linspace(0.01, 0.2, len(table))
    coloured = per_zn_arrays(frames[:1], table, "std")
    viewer = StructureViewer(coloured, level="A-only", color_by="std")
    colors = viewer.colors
    assert colors.kind == "continuous" and (colors.vmin, colors.vmax) == pytest.approx((0.01, 0.2))
    hexes = np.asarray(colors.hex)
    n_zn = len(table)
    assert len(set(hexes[:n_zn])) > 4 and NAN_COLOR not in hexes[:n_zn]
    for level in ("AB2", "atomistic"):
        viewer.level = level
        hexes = np.asarray(viewer.colors.hex)
        zn_index = np.arange(n_zn) if level == "AB2" else table["zn"].to_numpy()
        assert NAN_COLOR not in hexes[zn_index]
        assert (np.delete(hexes, zn_index) == NAN_COLOR).all()  # everything else grey


def test_frames_without_rows_and_bad_tables(frames):
    table = zifviz.environment_table(frames)
    table["v"] = 1.0
    only_first = per_zn_arrays(frames, table[table["frame_pos"] == 0], "v")
    assert np.isnan(only_first[1].arrays["v"]).all()
    single = per_zn_arrays(frames[0], table[table["frame_pos"] == 0], "v")
    assert len(single) == 1 and np.nansum(single[0].arrays["v"]) == (table["frame_pos"] == 0).sum()
    with pytest.raises(DataError, match="no column 'w'"):
        per_zn_arrays(frames, table, "w")
    with pytest.raises(DataError, match="only 1 frames"):
        per_zn_arrays(frames[:1], table, "v")
    shifted = table.assign(zn=table["zn"] + 1)
    with pytest.raises(DataError, match="not a Zn"):
        per_zn_arrays(frames, shifted, "v")
    with pytest.raises(DataError, match="frame_pos"):
        per_zn_arrays(frames, pd.DataFrame({"zn": [0], "v": [1.0]}), "v")
