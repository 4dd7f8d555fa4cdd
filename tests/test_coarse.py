"""Coarse-graining to AB2 and A-only, net bonds, and energy bookkeeping."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import zifviz
from zifviz.coarse import bead_atoms, normalise_level
from zifviz.errors import UnderCoordinatedZnWarning, ZifvizError


def test_ab2_of_zif4_has_48_beads(zif4):
    cg = zifviz.coarse_grain(zif4, "AB2")
    assert len(cg) == 48
    assert cg.get_chemical_formula() == "O32Zn16"
    assert (cg.arrays["bead"] == "A").sum() == 16
    assert cg.info["cg_level"] == "AB2"
    assert np.allclose(cg.cell.array, zif4.cell.array)
    a = zifviz.coarse_grain(zif4, "A-only")
    assert len(a) == 16 and a.info["cg_level"] == "A"
    assert len(zifviz.coarse_grain(zif4, "atomistic")) == 272


def test_levels_and_aliases():
    assert [normalise_level(x) for x in ("Atomistic", "ab2", "A-only", "a")] == ["atomistic", "AB2", "A", "A"]
    with pytest.raises(ZifvizError, match="unknown coarse-graining level"):
        normalise_level("AB3")


def test_b_bead_is_ring_centroid_and_refers_back(zif4):
    topo = zifviz.perceive(zif4)
    cg = zifviz.coarse_grain(zif4, "AB2", topo)
    members = bead_atoms(cg, topo)
    assert [len(m) for m in members] == [1] * 16 + [8] * 32
    assert all(zif4[m[0]].symbol == "Zn" for m in members[:16])
    # B bead = centroid of the five ring atoms (unwrapped), up to a lattice vector
    ring = topo.linker_positions[:, :5].mean(axis=1)
    diff = (cg.positions[16:] - ring) @ np.linalg.inv(zif4.cell.array)
    assert np.allclose(diff - np.rint(diff), 0, atol=1e-9)


@pytest.mark.parametrize("level, n_bonds, lo, hi", [("AB2", 64, 2.8, 3.4), ("A", 32, 5.5, 6.5)])
def test_net_bonds(zif4, level, n_bonds, lo, hi):
    topo = zifviz.perceive(zif4)
    cg = zifviz.coarse_grain(zif4, level, topo)
    pairs, shifts = zifviz.net_bonds(topo, level)
    assert len(pairs) == n_bonds
    v = cg.positions[pairs[:, 1]] + shifts @ cg.cell.array - cg.positions[pairs[:, 0]]
    length = np.linalg.norm(v, axis=1)
    assert lo < length.min() and length.max() < hi
    # every A bead has four net neighbours in a crystal
    assert (np.bincount(pairs[pairs < 16].ravel(), minlength=16) == 4).all() if level == "AB2" else \
        (np.bincount(pairs.ravel(), minlength=16) == 4).all()


def _energies(atoms, seed=0):
    rng = np.random.default_rng(seed)
    atoms.arrays["energies"] = rng.normal(size=len(atoms))
    atoms.info["energy"] = float(atoms.arrays["energies"].sum())
    return atoms


@pytest.mark.parametrize("name", ["widmer2019/ZIF4-FixedCell.cif", "gaillac2020/ZIF4_15glass02.cif",
                                  "widmer2019/ZNI-FixedCell.cif"])
def test_local_energies_sum_to_total(shared_data, name):
    """Σ_i ε_local(i) = E_total, also with dangling linkers (bookkeeping identity, any energies)."""
    atoms = _energies(zifviz.read(shared_data / "structures" / name))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnderCoordinatedZnWarning)
        topo = zifviz.perceive(atoms)
    local = zifviz.local_energies(atoms.arrays["energies"], topo)
    assert local.sum() == pytest.approx(atoms.info["energy"], rel=1e-12)
    ab2 = zifviz.coarse_grain(atoms, "AB2", topo)
    a = zifviz.coarse_grain(atoms, "A", topo)
    assert ab2.arrays["energies"].sum() == pytest.approx(atoms.info["energy"], rel=1e-12)
    assert a.arrays["energies"].sum() == pytest.approx(atoms.info["energy"], rel=1e-12)
    np.testing.assert_allclose(ab2.arrays["local_energy"][: topo.n_zn], local)
    # hand check of one Zn: its energy plus half of each of its four linkers
    i = 0
    zn = topo.zn[i]
    own = np.flatnonzero((topo.linker_zn == zn).any(axis=1))
    e = atoms.arrays["energies"]
    expected = e[zn] + sum(e[topo.linkers[j]].sum() / max(1, (topo.linker_zn[j] >= 0).sum())
                           for j in own)
    assert local[i] == pytest.approx(expected)


def test_per_atom_properties_carried_to_a_beads(zif4):
    zifviz.annotate(zif4)
    cg = zifviz.coarse_grain(zif4, "AB2")
    assert (cg.arrays["coordination"][:16] == 4).all()
    assert np.isnan(cg.arrays["coordination"][16:]).all()
    assert list(cg.arrays["role"][:2]) == ["Zn", "Zn"]


def test_cannot_coarse_grain_twice(zif4):
    cg = zifviz.coarse_grain(zif4, "AB2")
    with pytest.raises(ZifvizError, match="already coarse-grained"):
        zifviz.coarse_grain(cg, "A")


def test_cg_roundtrip_through_extxyz(tmp_path, zif4):
    cg = zifviz.coarse_grain(zif4, "AB2")
    back = zifviz.read(zifviz.write(tmp_path / "cg.extxyz", cg))
    assert back.info["cg_level"] == "AB2"
    assert list(back.arrays["bead"]) == list(cg.arrays["bead"])


def test_topology_of_one_frame_serves_another(zif4):
    """A topology perceived on frame 0 coarse-grains a later, re-wrapped frame correctly."""
    topo0 = zifviz.perceive(zif4)
    later = zif4.copy()
    rng = np.random.default_rng(3)
    later.positions += rng.normal(scale=0.05, size=later.positions.shape) + [4.0, 9.5, 2.2]
    later.set_cell(later.cell.array * 0.97, scale_atoms=True)
    later.wrap()
    fresh = zifviz.perceive(later)
    for level in ("AB2", "A"):
        a = zifviz.coarse_grain(later, level, topo0)
        b = zifviz.coarse_grain(later, level, fresh)
        np.testing.assert_allclose(a.positions, b.positions, atol=1e-9)
        pa, sa = zifviz.net_bonds(topo0, level, atoms=later)
        pb, sb = zifviz.net_bonds(fresh, level)
        va = a.positions[pa[:, 1]] + sa @ a.cell.array - a.positions[pa[:, 0]]
        vb = b.positions[pb[:, 1]] + sb @ b.cell.array - b.positions[pb[:, 0]]
        assert sorted(np.round(np.linalg.norm(va, axis=1), 6)) == sorted(np.round(np.linalg.norm(vb, axis=1), 6))
        assert np.linalg.norm(va, axis=1).max() < 6.5
    with pytest.raises(zifviz.StructureError, match="topology is for 272 atoms"):
        topo0.at(later[:100])


def test_energies_referenced_to_zni(zif4):
    from zifviz.energetics import referenced

    atoms = _energies(zif4)
    atoms.info["zni_energy_per_zn"] = -1.25
    topo = zifviz.perceive(atoms)
    ref = referenced(atoms)
    shift = zifviz.local_energies(atoms.arrays["energies"], topo) - zifviz.local_energies(ref.arrays["energies"], topo)
    np.testing.assert_allclose(shift, -1.25)
    assert ref.info["energy"] == pytest.approx(atoms.info["energy"] + 1.25 * 16)
    del atoms.info["zni_energy_per_zn"]
    with pytest.raises(zifviz.StructureError, match="zni_energy_per_zn"):
        referenced(atoms)


# ---- level_geometry: beads and bonds of a frame without building Atoms ------------------------

from zifviz.coarse import LEVEL_LABELS, LEVELS, level_geometry  # noqa: E402
from zifviz.errors import TopologyMismatchError  # noqa: E402

SHARED = ["widmer2019/ZIF4-FixedCell.cif", "widmer2019/ZIF4-RelaxedCell.cif",
          "widmer2019/ZIF4-CP-II-FixedCell.cif", "widmer2019/ZIF4-CP-II-RelaxedCell.cif",
          "widmer2019/ZNI-FixedCell.cif", "widmer2019/ZNI-RelaxedCell.cif",
          "widmer2019/ZIF-4-cp-II.cif", "widmer2019/ZIF-4-hPT-II.cif",
          "gaillac2020/ZIF4_15glass01.cif", "gaillac2020/ZIF4_15glass02.cif",
          "gaillac2020/ZIF4_15glass03.cif"]


def test_levels_have_labels():
    assert LEVELS == ("atomistic", "AB2", "A")
    assert tuple(LEVEL_LABELS) == LEVELS and LEVEL_LABELS["A"] == "A-only"
    assert all(normalise_level(label) == level for level, label in LEVEL_LABELS.items())


def _same_geometry(atoms, topo, level, beads, pairs, shifts):
    cg = zifviz.coarse_grain(atoms, level, topo)
    np.testing.assert_allclose(beads, cg.positions, atol=1e-9)
    ref_pairs, ref_shifts = zifviz.net_bonds(topo, level, atoms=atoms)
    np.testing.assert_array_equal(pairs, ref_pairs)
    np.testing.assert_array_equal(shifts, ref_shifts)


@pytest.mark.parametrize("name", SHARED)
def test_level_geometry_matches_coarse_grain_on_shared_supercells(shared_data, name):
    atoms = zifviz.read(shared_data / "structures" / name).repeat(2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnderCoordinatedZnWarning)
        topo = zifviz.perceive(atoms)
    # another frame: rattled, moved and re-wrapped; the topology of the first frame serves it
    frame = atoms.copy()
    frame.positions += np.random.default_rng(5).normal(scale=0.08, size=frame.positions.shape) + [5.0, -2.0, 9.0]
    frame.wrap()
    cell = frame.cell.array
    for level in LEVELS:
        beads, pairs, shifts = level_geometry(topo, frame.positions, cell, level)
        _same_geometry(frame, topo, level, beads, pairs, shifts)
        v = beads[pairs[:, 1]] + shifts @ cell - beads[pairs[:, 0]]
        assert np.linalg.norm(v, axis=1).max() < {"atomistic": 3.0, "AB2": 4.0, "A": 7.5}[level]
        # float32 positions (a trajectory's fast path) and the connectivity alone: same bonds
        b32, p32, s32 = level_geometry(topo.connectivity, frame.positions.astype(np.float32),
                                       frame.cell, level)
        np.testing.assert_array_equal(p32, pairs)
        np.testing.assert_allclose(b32[p32[:, 1]] + s32 @ cell - b32[p32[:, 0]], v, atol=1e-4)


def test_level_geometry_refuses_frames_that_do_not_fit(zif4):
    topo = zifviz.perceive(zif4)
    with pytest.raises(TopologyMismatchError, match=r"topology is for 272 atoms, positions have shape \(271, 3\)"):
        level_geometry(topo, zif4.positions[:-1], zif4.cell.array, "A")
    swapped = zif4.positions.copy()
    a, b = topo.zn[0], topo.zn[5]
    swapped[[a, b]] = swapped[[b, a]]
    for level in LEVELS:
        with pytest.raises(TopologyMismatchError, match="Zn"):
            level_geometry(topo, swapped, zif4.cell.array, level)
    with pytest.raises(zifviz.StructureError, match="no periodic cell"):
        level_geometry(topo, zif4.positions, np.zeros((3, 3)), "AB2")
    with pytest.raises(ZifvizError, match="unknown coarse-graining level"):
        level_geometry(topo, zif4.positions, zif4.cell.array, "AB3")


def test_level_geometry_is_fast_on_6x6x6(zif4):
    """Generous bounds only (a loaded CI machine); the figures are in benchmarks/bench_perception.py."""
    import time

    big = zif4.repeat(6)
    topo = zifviz.perceive(big)
    pos, cell = big.positions.astype(np.float32), big.cell.array
    for level, bound in (("A", 0.5), ("AB2", 1.0), ("atomistic", 1.5)):
        t = time.perf_counter()
        beads, pairs, _ = level_geometry(topo, pos, cell, level)
        assert time.perf_counter() - t < bound
        assert len(beads) == {"A": 3456, "AB2": 3456 + 6912, "atomistic": 58_752}[level]


def test_local_energies_refuse_energies_of_another_structure(zif4):
    topo = zifviz.perceive(zif4)
    with pytest.raises(TopologyMismatchError, match=r"per-atom energies have shape \(271,\)"):
        zifviz.local_energies(np.zeros(271), topo)
