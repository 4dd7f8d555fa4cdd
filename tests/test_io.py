"""Reading structures and trajectories, and every bad input that applies to reading."""

from __future__ import annotations

import gzip

import ase.io
import numpy as np
import pytest
from ase.build import bulk

import zifviz
from zifviz.errors import StructureError, StructureFileError


@pytest.fixture(autouse=True)
def _frame_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ZIFVIZ_CACHE_DIR", str(tmp_path / "frame-cache"))


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


# --- reading defects found on unseen inputs (issue 6) ------------------------------------------

def _bare(atoms):
    out = atoms.copy()
    out.info.clear()
    for key in list(out.arrays):
        if key not in ("numbers", "positions"):
            del out.arrays[key]
    return out


@pytest.mark.parametrize("style", ["atomic", "charge", "full"])
def test_lammps_data_style_read_from_the_file(tmp_path, zif4, style):
    atoms = _bare(zif4)
    if style != "atomic":
        atoms.set_initial_charges(np.linspace(-1, 1, len(atoms)))
    path = tmp_path / f"zif4_{style}.data"
    ase.io.write(path, atoms, format="lammps-data", atom_style=style, masses=True,
                 specorder=["Zn", "N", "C", "H"])
    assert f"Atoms # {style}" in path.read_text()
    back = zifviz.read(path)
    assert back.get_chemical_formula() == "C96H96N64Zn16"
    np.testing.assert_allclose(back.positions, atoms.positions, atol=1e-6)


def test_lammps_data_without_masses_needs_type_map(tmp_path, zif4):
    path = tmp_path / "nomass.data"
    ase.io.write(path, _bare(zif4), format="lammps-data", atom_style="atomic", masses=False,
                 specorder=["Zn", "N", "C", "H"])
    with pytest.raises(StructureFileError, match="no.* Masses section.*type_map") as err:
        zifviz.read(path)
    assert str(path) in str(err.value)
    back = zifviz.read(path, type_map={1: "Zn", 2: "N", 3: "C", 4: "H"})
    assert back.get_chemical_formula() == "C96H96N64Zn16"
    with pytest.raises(StructureFileError, match="type_map has no element for LAMMPS type 3"):
        zifviz.read(path, type_map={1: "Zn", 2: "N"})


@pytest.mark.parametrize("ext, fmt", [("vasp", "vasp"), ("xsf", "xsf"), ("gen", "gen"),
                                      ("res", "res"), ("cfg", "cfg")])
def test_formats_known_by_extension(tmp_path, ext, fmt):
    atoms = bulk("Cu", cubic=True)
    path = tmp_path / f"structure.{ext}"
    ase.io.write(path, atoms, format=fmt)
    back = zifviz.read(path)
    assert back.get_chemical_formula() == "Cu4"
    np.testing.assert_allclose(back.cell.array, atoms.cell.array, atol=1e-5)


def test_truly_unknown_extension_still_refused(tmp_path):
    path = tmp_path / "structure.zzq"
    path.write_text("nothing a reader knows\n")
    with pytest.raises(StructureFileError, match="unknown file format.*'.zzq'.*format="):
        zifviz.read(path)


def _p1_other_program(atoms, path):
    """A P1 CIF in the style of other programs: old symmetry tags, labels first, s.u.s."""
    a, b, c, alpha, beta, gamma = atoms.cell.cellpar()
    lines = ["data_other", "_symmetry_space_group_name_H-M 'P1'", "_symmetry_Int_Tables_number 1",
             f"_cell_length_a {a:.5f}", f"_cell_length_b {b:.5f}", f"_cell_length_c {c:.5f}",
             f"_cell_angle_alpha {alpha:.3f}", f"_cell_angle_beta {beta:.3f}",
             f"_cell_angle_gamma {gamma:.3f}", "loop_", "_symmetry_equiv_pos_site_id",
             "_symmetry_equiv_pos_as_xyz", "1 x,y,z", "loop_", "_atom_site_label",
             "_atom_site_type_symbol", "_atom_site_fract_x", "_atom_site_fract_y",
             "_atom_site_fract_z", "_atom_site_U_iso_or_equiv"]
    for i, (s, p) in enumerate(zip(atoms.get_chemical_symbols(), atoms.get_scaled_positions())):
        lines.append(f"{s}{i + 1} {s} {p[0]:.6f}(4) {p[1]:.6f}(4) {p[2]:.6f} 0.025")
    path.write_text("\n".join(lines) + "\n")


def test_p1_cif_same_as_ase(tmp_path, zif4):
    import warnings

    for name, write in (("ase.cif", lambda a, p: ase.io.write(p, a)),
                        ("other.cif", _p1_other_program)):
        path = tmp_path / name
        write(_bare(zif4), path)
        ours = zifviz.read(path)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = ase.io.read(path)
        assert ours.get_chemical_symbols() == theirs.get_chemical_symbols()
        np.testing.assert_allclose(ours.positions, theirs.positions, atol=1e-8)
        np.testing.assert_allclose(ours.cell.array, theirs.cell.array)
        assert ours.pbc.all() and set(theirs.info) <= set(ours.info)
        np.testing.assert_array_equal(ours.arrays["spacegroup_kinds"],
                                      theirs.arrays["spacegroup_kinds"])


def test_large_p1_cif_reads_fast(tmp_path, zif4):
    import time

    big = _bare(zif4).repeat((2, 2, 2))  # 2,176 atoms; ASE's symmetry expansion takes ~30 s
    for name, write in (("ase.cif", lambda a, p: ase.io.write(p, a)),
                        ("other.cif", _p1_other_program)):
        path = tmp_path / name
        write(big, path)
        t = time.perf_counter()
        atoms = zifviz.read(path)
        elapsed = time.perf_counter() - t
        assert len(atoms) == 2176 and atoms.get_chemical_formula() == "C768H768N512Zn128"
        np.testing.assert_allclose(atoms.get_scaled_positions(), big.get_scaled_positions(),
                                   atol=2e-6)
        assert elapsed < 10, f"{name}: {elapsed:.1f} s (target 2 s; generous bound for CI)"


def test_symmetric_cif_still_expanded(shared_data):
    atoms = zifviz.read(shared_data / "structures/widmer2019/ZIF-4-hPT-II.cif")
    assert atoms.get_chemical_symbols().count("Zn") == 8


def test_index_out_of_range_and_header_only_cif(tmp_path, zif4):
    one = tmp_path / "one.extxyz"
    ase.io.write(one, zif4)
    with pytest.raises(StructureFileError, match="file has 1 frame; index 5 out of range"):
        zifviz.read(one, index=5)
    cif = tmp_path / "one.cif"
    ase.io.write(cif, _bare(zif4))
    with pytest.raises(StructureFileError, match="file has 1 frame; index 5 out of range"):
        zifviz.read(cif, index=5)
    poscar = tmp_path / "POSCAR"
    ase.io.write(poscar, zif4, format="vasp")
    with pytest.raises(StructureFileError, match="index 5 out of range|out of range"):
        zifviz.read(poscar, index=5)
    header = tmp_path / "header.cif"
    header.write_text("data_empty\n_cell_length_a 10\n_cell_length_b 10\n_cell_length_c 10\n"
                      "_cell_angle_alpha 90\n_cell_angle_beta 90\n_cell_angle_gamma 90\n")
    with pytest.raises(StructureFileError, match="contains no atoms") as err:
        zifviz.read(header)
    assert "StopIteration" not in str(err.value)
    with pytest.raises(IndexError, match="out of range: .* has 1 frame"):
        zifviz.Trajectory(one)[5]


def test_write_into_missing_folder_names_the_folder(tmp_path, zif4):
    folder = tmp_path / "missing"
    with pytest.raises(StructureFileError, match="folder does not exist") as err:
        zifviz.write(folder / "out.extxyz", zif4)
    assert err.value.source == str(folder) and ".tmp" not in str(err.value)
    assert not folder.exists()
