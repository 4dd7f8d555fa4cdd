"""Reading structures and trajectories, and every bad input that applies to reading."""

from __future__ import annotations

import gzip

import ase.io
import numpy as np
import pytest
from ase.build import bulk

import zifviz
from zifviz.errors import StructureError, StructureFileError


def test_reads_every_shared_structure(shared_data):
    for path in sorted((shared_data / "structures").rglob("*.cif")):
        atoms = zifviz.read(path)
        assert len(atoms) in (136, 272, 544)
        assert atoms.info["source"] == path.name


def test_reads_lammps_data_with_elements_from_masses(shared_data):
    atoms = zifviz.read(shared_data / "mofff/castel2023_zif4/ZIF-4_supercell111.data")
    assert atoms.get_chemical_formula() == "C96H96N64Zn16"


def test_extxyz_keeps_per_atom_energies(tmp_path, zif4):
    zif4.arrays["energies"] = np.linspace(-1, 1, len(zif4))
    zif4.info["energy"] = 3.5
    path = zifviz.write(tmp_path / "e.extxyz", zif4)
    back = zifviz.read(path)
    np.testing.assert_allclose(back.arrays["energies"], zif4.arrays["energies"], atol=1e-7)  # extxyz keeps 8 decimals
    assert back.info["energy"] == 3.5


def test_write_is_atomic_and_leaves_no_temporary(tmp_path, zif4):
    zifviz.write(tmp_path / "a.extxyz", zif4)
    assert [p.name for p in tmp_path.iterdir()] == ["a.extxyz"]


def test_trajectory_is_lazy_and_indexable(tmp_path, zif4):
    frames = []
    for k in range(5):
        a = zif4.copy()
        a.positions += 0.01 * k
        frames.append(a)
    path = tmp_path / "traj.extxyz"
    ase.io.write(path, frames)
    traj = zifviz.Trajectory(path)
    it = zifviz.iread(path)
    first = next(it)  # a generator: nothing else read yet
    assert first.info["frame"] == 0
    assert len(traj) == 5
    np.testing.assert_allclose(traj[3].positions, frames[3].positions)
    np.testing.assert_allclose(traj[-1].positions, frames[4].positions)
    assert [a.info["frame"] for a in traj] == [0, 1, 2, 3, 4]
    with pytest.raises(IndexError):
        traj[5]


def _dump(tmp_path, atoms, with_element=False):
    types = {"C": 1, "H": 2, "N": 5, "Zn": 6}
    path = tmp_path / "frames.dump"
    lines = []
    for step in (0, 10):
        lines += ["ITEM: TIMESTEP", str(step), "ITEM: NUMBER OF ATOMS", str(len(atoms)),
                  "ITEM: BOX BOUNDS pp pp pp"]
        lines += [f"0 {x}" for x in atoms.cell.lengths()]
        cols = "id type element x y z" if with_element else "id type x y z"
        lines.append("ITEM: ATOMS " + cols)
        for i, (s, p) in enumerate(zip(atoms.get_chemical_symbols(), atoms.positions), 1):
            el = f" {s}" if with_element else ""
            lines.append(f"{i} {types[s]}{el} {p[0]} {p[1]} {p[2]}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_lammps_dump_needs_a_type_map(tmp_path, zif4):
    path = _dump(tmp_path, zif4)
    with pytest.raises(StructureFileError, match="type_map"):
        zifviz.read(path)
    atoms = zifviz.read(path, type_map={1: "C", 2: "H", 5: "N", 6: "Zn"})
    assert atoms.get_chemical_formula() == zif4.get_chemical_formula()
    frames = list(zifviz.iread(path, type_map={1: "C", 2: "H", 5: "N", 6: "Zn"}))
    assert len(frames) == 2
    with pytest.raises(StructureFileError, match=r"no element for LAMMPS types \[6\]"):
        zifviz.read(path, type_map={1: "C", 2: "H", 5: "N"})


def test_lammps_dump_with_element_column_needs_no_map(tmp_path, zif4):
    atoms = zifviz.read(_dump(tmp_path, zif4, with_element=True))
    assert atoms.get_chemical_formula() == zif4.get_chemical_formula()


def test_poscar(tmp_path, zif4):
    ase.io.write(tmp_path / "POSCAR", zif4, format="vasp")
    assert len(zifviz.read(tmp_path / "POSCAR")) == len(zif4)


@pytest.mark.parametrize("content, match", [
    (b"", "empty"),
    (b"\x00\x01\x02binary\xff\xfe" * 50, "binary"),
    (bytes(range(128, 256)) * 20, "not text"),
])
def test_unreadable_files_name_the_file(tmp_path, content, match):
    path = tmp_path / "bad.cif"
    path.write_bytes(content)
    with pytest.raises(StructureFileError, match=match) as err:
        zifviz.read(path)
    assert str(path) in str(err.value)


def test_missing_file_and_unknown_extension(tmp_path):
    with pytest.raises(StructureFileError, match="does not exist"):
        zifviz.read(tmp_path / "nope.cif")
    path = tmp_path / "structure.weird"
    path.write_text("hello\n")
    with pytest.raises(StructureFileError, match="unknown file format"):
        zifviz.read(path)


def test_truncated_cif_and_extxyz(tmp_path, zif4_path, zif4):
    text = zif4_path.read_text()
    cut = tmp_path / "cut.cif"
    cut.write_text(text[: len(text) // 3].rsplit("\n", 1)[0][:-7])
    with pytest.raises((StructureFileError, StructureError)) as err:
        zifviz.read(cut)
    assert "cut.cif" in str(err.value)
    ase.io.write(tmp_path / "t.extxyz", [zif4, zif4])
    lines = (tmp_path / "t.extxyz").read_text().splitlines()
    (tmp_path / "t.extxyz").write_text("\n".join(lines[: len(lines) - 40]) + "\n")
    with pytest.raises(StructureFileError, match="t.extxyz"):
        list(zifviz.iread(tmp_path / "t.extxyz"))


def test_nan_coordinates(tmp_path, zif4):
    zif4.positions[5] = np.nan
    ase.io.write(tmp_path / "nan.extxyz", zif4)
    with pytest.raises(StructureError, match="NaN"):
        zifviz.read(tmp_path / "nan.extxyz")


def test_partial_occupancy_cif(tmp_path, zif4_path):
    text = zif4_path.read_text().replace("   C1         1.0  ", "   C1         0.5  ", 1)
    path = tmp_path / "disordered.cif"
    path.write_text(text)
    with pytest.raises(StructureError, match="partial occupancy"):
        zifviz.read(path)


def test_gzip_extxyz(tmp_path, zif4):
    path = tmp_path / "a.extxyz.gz"
    with gzip.open(path, "wt") as fh:
        ase.io.write(fh, zif4, format="extxyz")
    assert len(zifviz.read(path, format="extxyz")) == len(zif4)


def test_silicon_reads_but_is_no_zif(tmp_path):
    ase.io.write(tmp_path / "si.cif", bulk("Si", cubic=True))
    atoms = zifviz.read(tmp_path / "si.cif")
    with pytest.raises(zifviz.PerceptionError, match="no Zn"):
        zifviz.perceive(atoms)


def test_trajectory_random_access_plain_and_gzip(tmp_path, zif4):
    frames = []
    for k in range(6):
        a = zif4.copy()
        a.positions += 0.02 * k
        a.arrays["energies"] = np.full(len(a), float(k))
        frames.append(a)
    ase.io.write(tmp_path / "t.extxyz", frames)
    with gzip.open(tmp_path / "t.extxyz.gz", "wt") as fh:
        ase.io.write(fh, frames, format="extxyz")
    for name in ("t.extxyz", "t.extxyz.gz"):
        traj = zifviz.Trajectory(tmp_path / name, format="extxyz")
        assert len(traj) == 6
        for k in (4, 0, 5, 2):
            np.testing.assert_allclose(traj[k].positions, frames[k].positions, atol=1e-6)
            assert traj[k].arrays["energies"][0] == k and traj[k].info["frame"] == k


def test_trajectory_truncated_last_frame_is_the_only_bad_one(tmp_path, zif4):
    ase.io.write(tmp_path / "t.extxyz", [zif4, zif4])
    text = (tmp_path / "t.extxyz").read_text().splitlines()
    (tmp_path / "t.extxyz").write_text("\n".join(text[:-10]) + "\n")
    traj = zifviz.Trajectory(tmp_path / "t.extxyz")
    assert len(traj) == 2
    np.testing.assert_allclose(traj[0].positions, zif4.positions, atol=1e-6)
    with pytest.raises(StructureFileError, match="frame 1: truncated"):
        traj[1]
    with pytest.raises(StructureFileError, match="frame 1: truncated"):
        traj.positions(-1)
