"""ZIF perception on the public structures, their supercells, glasses, and bad inputs."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from ase import Atoms
from ase.build import molecule

import zifviz
from zifviz.errors import PerceptionError, StructureError, UnderCoordinatedZnWarning

# file -> (Zn, linkers, number of 3-coordinated Zn)
EXPECTED = {
    "widmer2019/ZIF4-FixedCell.cif": (16, 32, 0),
    "widmer2019/ZIF4-RelaxedCell.cif": (16, 32, 0),
    "widmer2019/ZIF4-CP-II-FixedCell.cif": (16, 32, 0),
    "widmer2019/ZIF4-CP-II-RelaxedCell.cif": (16, 32, 0),
    "widmer2019/ZNI-FixedCell.cif": (32, 64, 0),
    "widmer2019/ZNI-RelaxedCell.cif": (32, 64, 0),
    "widmer2019/ZIF-4-cp-II.cif": (16, 32, 0),
    "widmer2019/ZIF-4-hPT-II.cif": (8, 16, 0),
    "gaillac2020/ZIF4_15glass01.cif": (16, 32, 0),
    "gaillac2020/ZIF4_15glass02.cif": (16, 32, 1),
    "gaillac2020/ZIF4_15glass03.cif": (16, 32, 1),
}


def _perceive_quiet(atoms):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnderCoordinatedZnWarning)
        return zifviz.perceive(atoms)


@pytest.mark.parametrize("name", sorted(EXPECTED))
@pytest.mark.parametrize("repeat", [1, 2])
def test_counts_in_every_shared_structure_and_supercell(shared_data, name, repeat):
    n_zn, n_linkers, n_three = EXPECTED[name]
    atoms = zifviz.read(shared_data / "structures" / name).repeat(repeat)
    topo = _perceive_quiet(atoms)
    m = repeat**3
    assert (topo.n_zn, topo.n_linkers) == (m * n_zn, m * n_linkers)
    assert np.count_nonzero(topo.coordination == 3) == m * n_three
    assert np.count_nonzero(topo.coordination == 4) == m * (n_zn - n_three)
    # Every linker bridges two Zn except those next to a 3-coordinated Zn... which have one.
    assert len(topo.net_edges) == m * (n_linkers - n_three)
    cell = atoms.cell.array
    # Bond vectors with their shifts are short; net edges are Zn···Zn through a linker (~6 Å).
    bv = atoms.positions[topo.bonds[:, 1]] + topo.bond_shifts @ cell - atoms.positions[topo.bonds[:, 0]]
    assert np.linalg.norm(bv, axis=1).max() < 2.6
    ev = (atoms.positions[topo.net_edges[:, 1]] + topo.net_shifts @ cell
          - atoms.positions[topo.net_edges[:, 0]])
    assert 4.5 < np.linalg.norm(ev, axis=1).min() and np.linalg.norm(ev, axis=1).max() < 6.6
    # Roles: one C2, two C45, two N, three H per linker.
    roles = topo.role[topo.linkers]
    assert (roles == np.array(["N", "C2", "N", "C45", "C45", "H2", "H45", "H45"])).all()


def test_ring_order_and_centres(zif4):
    topo = zifviz.perceive(zif4)
    ring = topo.linker_positions[:, :5]
    # consecutive ring atoms N1-C2-N3-C4-C5-N1 are bonded (< 1.5 Å)
    d = np.linalg.norm(ring - np.roll(ring, -1, axis=1), axis=2)
    assert d.max() < 1.5
    # H atoms sit on their carbons
    for h, c in ((5, 1), (6, 3), (7, 4)):
        assert np.linalg.norm(topo.linker_positions[:, h] - topo.linker_positions[:, c], axis=1).max() < 1.2
    frac = topo.centres @ np.linalg.inv(zif4.cell.array)
    assert (frac >= 0).all() and (frac < 1).all()


def test_centres_across_the_boundary(zif4):
    """Shifting the origin must move ring centres rigidly, whatever the wrapping."""
    ref = zifviz.perceive(zif4)
    moved = zif4.copy()
    shift = np.array([7.1, 3.3, 11.9])
    moved.positions += shift
    moved.wrap()
    topo = zifviz.perceive(moved)
    inv = np.linalg.inv(zif4.cell.array)
    # match linkers through their N1/N3 atom sets
    key = lambda t: {frozenset(row[[0, 2]].tolist()): k for k, row in enumerate(t.linkers)}
    a, b = key(ref), key(topo)
    for atoms_key, k in a.items():
        diff = (topo.centres[b[atoms_key]] - ref.centres[k] - shift) @ inv
        assert np.allclose(diff - np.rint(diff), 0, atol=1e-8)


def test_glass_with_three_coordinated_zn_warns(shared_data):
    atoms = zifviz.read(shared_data / "structures/gaillac2020/ZIF4_15glass02.cif")
    with pytest.warns(UnderCoordinatedZnWarning, match="1 of 16 Zn"):
        topo = zifviz.perceive(atoms)
    dangling = (topo.linker_zn < 0).any(axis=1)
    assert dangling.sum() == 1


def test_six_by_six_by_six_supercell(zif4):
    topo = zifviz.perceive(zif4.repeat(6))
    assert topo.n_atoms == 58_752 and topo.n_zn == 3456 and topo.n_linkers == 6912


def test_annotate_adds_arrays(zif4):
    zifviz.annotate(zif4)
    assert np.nansum(zif4.arrays["coordination"]) == 64
    assert (zif4.arrays["linker"] >= 0).sum() == 256
    assert set(zif4.arrays["role"]) == {"Zn", "N", "C2", "C45", "H2", "H45"}


# ---- bad input -------------------------------------------------------------------------

def test_no_zn(zif4):
    atoms = zif4[[a.index for a in zif4 if a.symbol != "Zn"]]
    with pytest.raises(PerceptionError, match="no Zn"):
        zifviz.perceive(atoms, source="nozn.cif")


def test_missing_hydrogens(zif4):
    atoms = zif4[[a.index for a in zif4 if a.symbol != "H"]]
    with pytest.raises(PerceptionError, match="no hydrogen") as err:
        zifviz.perceive(atoms, source="noH.cif")
    assert "noH.cif" in str(err.value)


def test_broken_linker(zif4):
    topo = zifviz.perceive(zif4)
    drop = topo.linkers[3, 3]  # a C4 atom
    atoms = zif4[[i for i in range(len(zif4)) if i != drop]]
    with pytest.raises(PerceptionError, match="1 broken or incomplete linkers"):
        zifviz.perceive(atoms, source="broken.cif")


def test_missing_linker_atom_h(zif4):
    topo = zifviz.perceive(zif4)
    atoms = zif4[[i for i in range(len(zif4)) if i != topo.linkers[0, 6]]]
    with pytest.raises(PerceptionError, match="broken"):
        zifviz.perceive(atoms)


def test_solvent_guest(zif4):
    water = molecule("H2O")
    water.positions += zif4.cell.array.sum(axis=0) / 2 + np.array([0.3, 0.1, 0.0])
    atoms = zif4 + water
    # make sure the guest is not accidentally near the framework
    with pytest.raises(PerceptionError, match="guest or solvent"):
        zifviz.perceive(atoms, source="solvated.cif")


def test_overlapping_atoms(zif4):
    atoms = zif4.copy()
    atoms.positions[10] = atoms.positions[11] + [0.2, 0, 0]
    with pytest.raises(StructureError, match="overlapping"):
        zifviz.perceive(atoms)


def test_no_cell(zif4):
    atoms = Atoms(zif4.get_chemical_symbols(), positions=zif4.positions)
    with pytest.raises(StructureError, match="no periodic cell"):
        zifviz.perceive(atoms, source="molecule.xyz")


def test_non_periodic_xyz_file(tmp_path, zif4):
    path = tmp_path / "plain.xyz"
    path.write_text(f"{len(zif4)}\nplain xyz\n" + "".join(
        f"{s} {x:.6f} {y:.6f} {z:.6f}\n" for s, (x, y, z) in zip(zif4.get_chemical_symbols(), zif4.positions)))
    atoms = zifviz.read(path)
    with pytest.raises(StructureError, match="plain.xyz: no periodic cell"):
        zifviz.perceive(atoms)
