"""Frame identity (structure_id) and the EnvironmentTable: keys, order, properties, alignment."""

from __future__ import annotations

import io
import warnings

import ase.io
import numpy as np
import pandas as pd
import pytest
from ase.build import bulk

import zifviz
from zifviz import datasets
from zifviz.environments import (FRAMEWORKS, PHASES, SOURCE_SETS, environment_table, find,
                                 locate, structure_id)
from zifviz.errors import PerceptionError, StructureError, UnderCoordinatedZnWarning, ZifvizError


@pytest.fixture(scope="module")
def energies_set():
    return datasets.load_demo("energies")


@pytest.fixture(scope="module")
def phases_set():
    return datasets.load_demo("phases")


def _perceive(atoms):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnderCoordinatedZnWarning)
        return zifviz.perceive(atoms)


# ---- structure_id ------------------------------------------------------------------------

def test_structure_id_is_a_content_hash(zif4):
    sid = structure_id(zif4)
    assert len(sid) == 16 and int(sid, 16) >= 0
    copy = zif4.copy()
    copy.info.clear()
    copy.info["energy"] = -1.0
    copy.arrays["energies"] = np.ones(len(copy))
    assert structure_id(copy) == sid  # info and other arrays do not count
    moved = zif4.copy()
    moved.positions[5, 0] += 0.01
    assert structure_id(moved) != sid
    strained = zif4.copy()
    strained.set_cell(zif4.cell.array * 1.001, scale_atoms=False)
    assert structure_id(strained) != sid
    swapped = zif4.copy()
    numbers = swapped.numbers.copy()
    first_h = int(np.flatnonzero(numbers == 1)[0])
    numbers[[0, first_h]] = numbers[[first_h, 0]]
    swapped.numbers = numbers
    assert structure_id(swapped) != sid


def test_structure_id_given_in_info_wins(zif4):
    zif4.info["structure_id"] = "my-zif4"
    assert structure_id(zif4) == "my-zif4"


def test_structure_id_survives_an_extxyz_round_trip(phases_set):
    """Frames read from text keep their id when written and read again."""
    frame = phases_set[3]
    text = io.StringIO()
    ase.io.write(text, frame, format="extxyz")
    again = ase.io.read(io.StringIO(text.getvalue()), format="extxyz")
    assert structure_id(again) == structure_id(frame)
    assert structure_id(phases_set[3]) == structure_id(frame)  # same in every read


def test_structure_id_refuses_nan(zif4):
    zif4.positions[0, 0] = np.nan
    with pytest.raises(StructureError, match="NaN"):
        structure_id(zif4)


def test_ids_of_demo_frames_are_unique(phases_set):
    ids = [structure_id(a) for a in phases_set[::7]]
    assert len(set(ids)) == len(ids)


# ---- environment_table -------------------------------------------------------------------

def test_table_of_one_structure(zif4):
    table = environment_table(zif4)
    topo = zifviz.perceive(zif4)
    assert list(table.columns[:6]) == ["structure_id", "frame", "zn", "zn_rank", "frame_pos",
                                       "coordination"]
    assert len(table) == topo.n_zn == 16
    assert (table["zn"].to_numpy() == np.sort(topo.zn)).all()
    assert (table["zn_rank"].to_numpy() == np.arange(16)).all()
    assert (table["coordination"] == 4).all()
    assert (table["structure_id"] == structure_id(zif4)).all()
    assert (table["frame_pos"] == 0).all()
    assert isinstance(table.index, pd.RangeIndex)
    # no per-atom energies, no phase: those columns are absent, not filled with junk
    assert not {"eps_zn", "eps_local", "eps_local_ref", "phase"} & set(table.columns)


def test_table_energies_match_energetics(energies_set):
    frames = energies_set.query("framework in ['ZIF-zni', 'glass-02', 'ABW', 'net-dia']")[::2]
    table = environment_table(frames)
    assert len(table) == int(frames.frames_info["n_zn"].sum())
    # frames in input order, Zn by atom index within each frame
    assert (np.diff(table["frame_pos"]) >= 0).all()
    for pos, atoms in enumerate(frames):
        rows = table[table["frame_pos"] == pos]
        topo = _perceive(atoms)
        e = atoms.arrays["energies"]
        assert (rows["frame"] == atoms.info["frame"]).all()
        assert (np.diff(rows["zn"]) > 0).all()
        order = np.argsort(topo.zn)
        local = zifviz.local_energies(e, topo)[order]
        assert np.allclose(rows["eps_local"], local)
        assert rows["eps_local"].sum() == pytest.approx(atoms.info["energy"], abs=1e-5)
        assert np.allclose(rows["eps_zn"], e[rows["zn"].to_numpy()])
        assert np.allclose(rows["eps_local_ref"], local - atoms.info["zni_energy_per_zn"])
        assert (rows["framework"] == atoms.info["framework"]).all()
        assert (rows["source_file"] == str(energies_set.path)).all()
    assert list(table["framework"].cat.categories[:len(FRAMEWORKS)]) == list(FRAMEWORKS)
    # a glass has 3-coordinated Zn: the coordination column says so
    glass = table[table["framework"] == "glass-02"]
    assert (glass["coordination"] == 3).any() and (table["coordination"] == 4).sum() > 0


def test_table_phase_columns_are_categorical_in_seed_order(phases_set):
    frames = phases_set.query("run == 0 and step == 600")  # the first frame of every run 0
    table = environment_table(frames)
    assert table["phase"].dtype == "category"
    assert list(table["phase"].cat.categories) == list(PHASES)
    assert list(table["source_set"].cat.categories) == list(SOURCE_SETS)
    assert set(table["phase"]) == set(frames.frames_info["phase"])
    for key in ("temperature", "pressure", "ensemble", "time", "step", "framework"):
        assert table[key].notna().all(), key
    assert table["step"].dtype == np.int64
    assert "eps_local_ref" not in table  # the phases set has no ZIF-zni reference
    # codes of a phase are the same whatever subset the table was made from
    liquid = environment_table(phases_set.query("phase == 'liquid'")[:2])
    assert liquid["phase"].cat.codes.iloc[0] == PHASES.index("liquid")


def test_locate_and_find_are_inverse(energies_set):
    frames = energies_set[100:104]
    table = environment_table(frames)
    for label in (0, 17, len(table) - 1):
        pos, zn = locate(table, label)
        assert frames[pos].numbers[zn] == 30
        assert list(find(table, pos, zn)) == [label]
        assert locate(table, table.loc[label]) == (pos, zn)
    assert len(find(table, 2)) == frames.frames_info["n_zn"].iloc[2]


def test_reused_topology_gives_the_same_table(phases_set):
    run = phases_set.query("phase == 'ZIF-4' and source_set == 'NVT'")[:6]
    topo = _perceive(run[0])
    reused = environment_table(run, topologies=topo)
    fresh = environment_table(run)
    pd.testing.assert_frame_equal(reused, fresh)
    listed = environment_table(run, topologies=[_perceive(a) for a in run])
    pd.testing.assert_frame_equal(listed, fresh)


def test_topologies_that_do_not_fit_are_refused(phases_set, zif4):
    run = phases_set[:3]
    with pytest.raises(ZifvizError, match="2 topologies for 3 frames"):
        environment_table(run, topologies=[_perceive(run[0])] * 2)
    zni = datasets.load_demo("energies").query("framework == 'ZIF-zni'")[0]
    with pytest.raises(ZifvizError):
        environment_table([zni], topologies=_perceive(zif4))
    with pytest.raises(StructureError, match="topology 0 is for"):
        environment_table([zni], topologies=[_perceive(zif4)])


def test_a_frame_that_is_not_a_zif_is_named(zif4):
    silicon = bulk("Si", "diamond", a=5.43, cubic=True)
    with pytest.raises(PerceptionError, match="frame at position 1"):
        environment_table([zif4, silicon])


def test_table_over_a_trajectory_file(tmp_path, phases_set):
    path = tmp_path / "run.extxyz"
    frames = list(phases_set.query("phase == 'glass' and source_set == 'NPT'")[:3])
    for atoms in frames:
        atoms.info.pop("frame", None)
    zifviz.write(path, frames)
    table = environment_table(zifviz.Trajectory(path))
    assert sorted(set(table["frame"])) == [0, 1, 2]
    assert set(table["source_file"]) == {str(path)}
    assert list(table.groupby("frame_pos")["structure_id"].first()) == [
        structure_id(a) for a in frames]
    assert len(table) == sum(int((a.numbers == 30).sum()) for a in frames)


def test_empty_input_gives_an_empty_table():
    table = environment_table([])
    assert len(table) == 0 and list(table.columns[:5]) == ["structure_id", "frame", "zn",
                                                          "zn_rank", "frame_pos"]
