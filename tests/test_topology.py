"""ZIF perception on the public structures, their supercells, glasses, and bad inputs."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from ase import Atoms
from ase.build import molecule

import zifviz
from zifviz.errors import PerceptionError, StructureError, UnderCoordinatedZnWarning
from zifviz.topology import bond_cutoffs

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


# ---- connectivity and checked reuse (issue 6) -----------------------------------------------

from zifviz.errors import OverCoordinatedZnWarning, TopologyMismatchError  # noqa: E402
from zifviz.topology import Connectivity, covalent_bonds  # noqa: E402


def _rattled(atoms, scale, seed=0):
    out = atoms.copy()
    out.positions += np.random.default_rng(seed).normal(scale=scale, size=out.positions.shape)
    return out


def test_connectivity_is_frozen_hashable_and_frame_independent(zif4):
    topo = zifviz.perceive(zif4)
    conn = topo.connectivity
    assert isinstance(conn, Connectivity) and len(conn.key) == 16
    int(conn.key, 16)  # hex
    with pytest.raises(AttributeError):
        conn.zn = np.arange(3)
    with pytest.raises(ValueError):
        conn.bonds[0, 0] = 5  # read-only arrays
    # the same framework shifted, re-wrapped and rattled: equal connectivity, one dict key
    other = _rattled(zif4, 0.03)
    other.positions += [3.0, 1.0, 7.5]
    other.wrap()
    again = zifviz.perceive(other).connectivity
    assert again == conn and hash(again) == hash(conn) and {conn: 1}[again] == 1
    # another framework or another atom order: different
    reordered = zif4[np.r_[1, 0, 2:len(zif4)]]
    assert zifviz.perceive(reordered).connectivity != conn
    # reuse keeps the connectivity object; a pickled copy is equal
    assert topo.at(other).connectivity is conn
    import pickle
    assert pickle.loads(pickle.dumps(conn)) == conn


def test_geometry_is_computed_only_when_asked(zif4):
    topo = zifviz.perceive(zif4).at(_rattled(zif4, 0.05))
    assert "_centres" not in topo.__dict__ and "net_shifts" not in topo.__dict__
    topo.net_shifts
    assert "_centres" not in topo.__dict__ and "linker_positions" not in topo.__dict__


def test_reuse_refuses_reordered_atoms(zif4):
    topo = zifviz.perceive(zif4)
    order = np.random.default_rng(1).permutation(len(zif4))
    frame = zif4[order]
    frame.info.update(source_file="traj.extxyz", frame=7)
    with pytest.raises(TopologyMismatchError, match=r"traj.extxyz frame 7: atom \d+ is [A-Z][a-z]? "
                       r"here but [A-Z][a-z]? in the topology") as err:
        topo.at(frame)
    assert isinstance(err.value, StructureError)
    with pytest.raises(TopologyMismatchError, match="in another order"):
        zifviz.coarse_grain(frame, "AB2", topo)
    # a permutation among atoms of one element keeps the numbers but not the bonds
    h = np.flatnonzero(zif4.numbers == 1)
    order = np.arange(len(zif4))
    order[h] = np.roll(h, 5)
    with pytest.raises(TopologyMismatchError, match=r"H \d+ is .* Å apart \(bond up to"):
        topo.at(zif4[order])


def test_reuse_refuses_a_duplicated_atom(zif4):
    topo = zifviz.perceive(zif4)
    with pytest.raises(TopologyMismatchError, match="topology is for 272 atoms, frame has 273"):
        topo.at(zif4 + zif4[[5]])
    frame = zif4.copy()
    c = np.flatnonzero(zif4.numbers == 6)
    frame.positions[c[3]] = frame.positions[c[10]]  # atom c[3] duplicates atom c[10]
    with pytest.raises(TopologyMismatchError, match=f"bonds of the topology .*C {c[3]}"):
        topo.at(frame)
    with pytest.raises(TopologyMismatchError):
        zifviz.net_bonds(topo, "A", atoms=frame)


def test_reuse_refuses_swapped_zn(zif4):
    zif4.info.pop("source_file", None)  # name the frames by info["source"] alone
    zif4.info["source"] = "frame0.cif"
    topo = zifviz.perceive(zif4)
    frame = zif4.copy()
    a, b = topo.zn[0], topo.zn[3]
    frame.positions[[a, b]] = frame.positions[[b, a]]
    frame.info["source"] = "swapped.cif"
    with pytest.raises(TopologyMismatchError,
                       match=r"swapped.cif: \d+ bonds of the topology \(topology of frame0.cif\) do not "
                             r"fit this frame: (Zn \d+–N \d+|N \d+–Zn \d+) is \d+\.\d\d Å apart "
                             r"\(bond up to 3.50 Å\)"):
        topo.at(frame)
    frame.arrays["energies"] = np.ones(len(frame))
    with pytest.raises(TopologyMismatchError):
        zifviz.coarse_grain(frame, "A", topo)


def test_reuse_refuses_frames_without_cell_or_with_nan(zif4):
    topo = zifviz.perceive(zif4)
    flat = Atoms(zif4.get_chemical_symbols(), positions=zif4.positions)
    with pytest.raises(StructureError, match="no periodic cell"):
        topo.at(flat)
    singular = zif4.copy()
    singular.cell[2] = singular.cell[0]
    with pytest.raises(StructureError, match="degenerate|no periodic cell"):
        topo.at(singular)
    nan = zif4.copy()
    nan.positions[[4, 9]] = np.nan
    with pytest.raises(StructureError, match="2 atoms have NaN coordinates"):
        topo.at(nan)
    with pytest.raises(StructureError, match="2 atoms have NaN coordinates"):
        zifviz.perceive(nan)


def test_reuse_accepts_noisy_6x6x6_and_strained_cells(zif4):
    big = zif4.repeat(6)
    topo = zifviz.perceive(big)
    noisy = _rattled(big, 0.15, seed=3)  # the old 4 Å unwrapping cap refused this frame
    noisy.wrap()
    assert noisy.cell.lengths().min() > 92  # "a 92 Å cell"
    reused = topo.at(noisy)
    ring = reused.linker_positions[:, :5]
    assert np.linalg.norm(ring - np.roll(ring, -1, axis=1), axis=2).max() < 2.6
    # net edges through the chained bonds are Zn···Zn distances (~6 Å), whatever the wrapping
    ev = (noisy.positions[reused.net_edges[:, 1]] + reused.net_shifts @ noisy.cell.array
          - noisy.positions[reused.net_edges[:, 0]])
    assert np.linalg.norm(ev, axis=1).max() < 8.0
    assert len(zifviz.coarse_grain(noisy, "AB2", topo)) == 3456 + 6912
    # a cell sheared and stretched by 8 %, atoms following
    strained = zif4.copy()
    strained.set_cell(zif4.cell.array @ np.array([[1.08, 0.05, 0], [0, 0.95, 0.04], [0, 0, 1.06]]),
                      scale_atoms=True)
    t = zifviz.perceive(zif4).at(strained)
    assert np.linalg.norm(t.linker_positions[:, 0] - t.linker_positions[:, 1], axis=1).max() < 1.7


def test_cell_too_small_is_refused_only_below_twice_the_longest_bond():
    from zifviz.geometry import cell_widths, require_width

    cell = np.diag([10.0, 4.0, 8.0]) + np.array([[0, 0, 0], [3.0, 0, 0], [0, 0, 0]])
    assert cell_widths(cell).min() == pytest.approx(4.0)
    require_width(cell, 1.99)
    with pytest.raises(StructureError, match=r"narrowest width 4.00 Å is below twice the longest "
                                             r"bond \(2.10 Å\)"):
        require_width(cell, 2.1)


def test_minimum_image_is_exact_below_half_the_width():
    from zifviz.geometry import minimum_image

    rng = np.random.default_rng(0)
    cell = np.array([[10.0, 0, 0], [6.0, 9.0, 0], [-3.0, 4.0, 8.0]])
    from zifviz.geometry import cell_widths
    half = cell_widths(cell).min() / 2
    v = rng.normal(size=(500, 3))
    v *= (rng.uniform(0, 0.999 * half, size=500) / np.linalg.norm(v, axis=1))[:, None]
    images = v + rng.integers(-3, 4, size=(500, 3)) @ cell
    back, shifts = minimum_image(images, cell)
    np.testing.assert_allclose(back, v, atol=1e-9)
    np.testing.assert_allclose(images + shifts @ cell, v, atol=1e-9)


# ---- one definition of a bond ----------------------------------------------------------------

def test_covalent_bonds_match_perception(zif4):
    topo = zifviz.perceive(zif4)
    pairs, shifts = covalent_bonds(zif4)
    assert {tuple(p) + tuple(s) for p, s in zip(pairs.tolist(), shifts.tolist())} == \
        {tuple(p) + tuple(s) for p, s in zip(topo.bonds.tolist(), topo.bond_shifts.tolist())}


def test_an_h_keeps_one_bond():
    """C–H 1.10 Å with a foreign N 1.45 Å from the H (within the H–N rule, 1.53 Å): the H
    stays on its C, as a hot frame needs; the rule alone would bond it to both."""
    atoms = Atoms("CHN", positions=[[0, 0, 0], [1.10, 0, 0], [2.55, 0, 0]])
    pairs, _ = covalent_bonds(atoms)
    assert pairs.tolist() == [[0, 1]]
    atoms.positions[1] = [1.45, 0, 0]  # now nearer the N, relative to each rule
    assert covalent_bonds(atoms)[0].tolist() == [[1, 2]]


def test_covalent_bonds_of_non_zif_structures():
    from ase.build import bulk

    ethanol = molecule("CH3CH2OH")  # no cell at all
    pairs, shifts = covalent_bonds(ethanol)
    assert len(pairs) == 8 and not shifts.any()
    si = bulk("Si")  # a 2-atom primitive cell, narrower than the bonds' images
    pairs, shifts = covalent_bonds(si)
    v = si.positions[pairs[:, 1]] + shifts @ si.cell.array - si.positions[pairs[:, 0]]
    assert len(pairs) == 4 and np.allclose(np.linalg.norm(v, axis=1), 2.3516, atol=1e-3)
    overlapping = ethanol + ethanol[[0]]  # drawn as a bond, not refused (perceive refuses it)
    overlapping.positions[-1] += 0.3
    assert len(covalent_bonds(overlapping)[0]) > 8
    nan = ethanol.copy()
    nan.positions[0] = np.nan
    with pytest.raises(StructureError, match="NaN"):
        covalent_bonds(nan)


# ---- perception defects ------------------------------------------------------------------------

def _substituted(atoms, topo, linkers, column, what):
    """ZIF-4 with the H in ``column`` (5 = H2, 6 = H4) of ``linkers`` replaced by Cl, Br or CH3
    along its C–H bond."""
    out = atoms.copy()
    carbon = {5: 1, 6: 3, 7: 4}[column]
    extra = []
    for link in linkers:
        h, c = topo.linkers[link, column], topo.linkers[link, carbon]
        u = topo.linker_positions[link, column] - topo.linker_positions[link, carbon]
        u /= np.linalg.norm(u)
        if what == "CH3":
            cm = atoms.positions[c] + 1.50 * u
            out.numbers[h], out.positions[h] = 6, cm
            p = np.cross(u, [0.3, 0.5, 0.8])
            p /= np.linalg.norm(p)
            q = np.cross(u, p)
            for k in range(3):
                a = 2 * np.pi * k / 3
                extra.append(cm + 1.09 * (0.334 * u + 0.943 * (np.cos(a) * p + np.sin(a) * q)))
        else:
            z, d = {"Cl": (17, 1.73), "Br": (35, 1.89)}[what]
            out.numbers[h], out.positions[h] = z, atoms.positions[c] + d * u
    if extra:
        out += Atoms(["H"] * len(extra), positions=extra)
    out.wrap()
    return out


@pytest.mark.parametrize("what, name, formula", [
    ("CH3", "methylimidazolate", "C4H5N2"), ("Cl", "chloroimidazolate", "C3H2ClN2"),
    ("Br", "bromoimidazolate", "C3H2BrN2")])
def test_substituted_linkers_are_named(zif4, what, name, formula):
    topo = zifviz.perceive(zif4)
    one = _substituted(zif4, topo, [3], 5, what)
    with pytest.raises(PerceptionError, match=rf"sub.cif: 1 2-{name} linker \({formula}, ZIF-8"
                       r"(-Cl|-Br)?-like\) is not supported: zifviz handles unsubstituted "
                       r"imidazolate, Zn\(C3H3N2\)2"):
        zifviz.perceive(one, source="sub.cif")
    four = _substituted(zif4, topo, range(32), 6, what)  # on C4 of every linker
    with pytest.raises(PerceptionError, match=rf"\d+ 4-{name} linkers \({formula}\) are not supported"):
        zifviz.perceive(four)


def test_zif8_like_framework_is_named(zif4):
    """Every linker 2-methylated: a ZIF-8-like Zn(mIm)2 on the ZIF-4 net."""
    topo = zifviz.perceive(zif4)
    mim = _substituted(zif4, topo, range(32), 5, "CH3")
    assert mim.get_chemical_formula() == "C128H160N64Zn16"
    with pytest.raises(PerceptionError, match=r"\d\d 2-methylimidazolate linkers \(C4H5N2, "
                                              r"ZIF-8-like\) are not supported"):
        zifviz.perceive(mim)


def test_five_coordinated_zn_warns(zif4):
    """An extra imidazolate whose N sits 2.1 Å from a Zn, through the face opposite one of its
    bonds: that Zn has five N."""
    topo = zifviz.perceive(zif4)
    ring = topo.linker_positions[0]
    symbols = [zif4[i].symbol for i in topo.linkers[0]]
    zn = topo.zn[11]
    row = np.flatnonzero((topo.bonds == zn).any(axis=1))[0]
    (a, b), s = topo.bonds[row], topo.bond_shifts[row]
    v = zif4.positions[b] + s @ zif4.cell.array - zif4.positions[a]
    u = v / np.linalg.norm(v) * (1 if b == zn else -1)  # away from that N
    w = ring[:5].mean(axis=0) - ring[0]
    w /= np.linalg.norm(w)
    axis, c = np.cross(w, u), w @ u
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    rotation = np.eye(3) + k + k @ k / (1 + c)
    extra = Atoms(symbols, positions=(ring - ring[0]) @ rotation.T + zif4.positions[zn] + 2.1 * u)
    atoms = zif4 + extra
    atoms.wrap()
    with pytest.warns(OverCoordinatedZnWarning, match=r"1 of 16 Zn have more than four N .*\[5\]"):
        topo5 = zifviz.perceive(atoms)
    assert sorted(topo5.coordination.tolist()).count(5) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnderCoordinatedZnWarning)
        warnings.simplefilter("ignore", OverCoordinatedZnWarning)
        zifviz.perceive(atoms)  # no under-coordination warning here


@pytest.mark.parametrize("mapping", [{6: 7, 7: 6}, {1: 6, 6: 1}, {7: 6, 6: 1, 1: 7}])
def test_wrong_element_map_hints_at_type_map(zif4, mapping):
    atoms = zif4.repeat(2)
    atoms.numbers = np.array([mapping.get(z, z) for z in atoms.numbers])
    with pytest.raises(PerceptionError, match=r"the element map \(type_map\) may be wrong"):
        zifviz.perceive(atoms, source="dump.lammpstrj")


def test_a_few_broken_linkers_do_not_blame_the_type_map(zif4):
    topo = zifviz.perceive(zif4)
    atoms = zif4[[i for i in range(len(zif4)) if i != topo.linkers[3, 3]]]
    with pytest.raises(PerceptionError) as err:
        zifviz.perceive(atoms)
    assert "type_map" not in str(err.value)


def test_reuse_accepts_1500K_mofff_frames():
    """The liquid runs of the phases demo set from one start (MOF-FF, 1500 K, NPT): one
    topology serves every frame, whose bonds stretch close to the perception cutoffs."""
    from zifviz.datasets import load_demo

    liquid = load_demo("phases").query("phase == 'liquid' and source_set == 'NPT'")
    start = liquid.frames_info["start"].iloc[0]
    frames = list(liquid.query(f"start == {start!r}"))
    assert len(frames) >= 10
    assert {(f.info["temperature"], f.info["start"]) for f in frames} == {(1500.0, start)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnderCoordinatedZnWarning)
        topo = zifviz.perceive(frames[0])
    for frame in frames[1:]:
        reused = topo.at(frame)
        assert reused.connectivity is topo.connectivity
        pairs, shifts = zifviz.net_bonds(topo, "A", atoms=frame)
        a = zifviz.coarse_grain(frame, "A", topo)
        v = a.positions[pairs[:, 1]] + shifts @ a.cell.array - a.positions[pairs[:, 0]]
        assert 4.0 < np.linalg.norm(v, axis=1).min() and np.linalg.norm(v, axis=1).max() < 8.0


def test_squeezed_c_h_bond_is_a_bond_not_an_overlap(zif4):
    """Thermal noise can squeeze a C–H bond to ~0.75 Å: still a bond (overlap for H < 0.6 Å)."""
    topo = zifviz.perceive(zif4)
    c, h = topo.linkers[0, 1], topo.linkers[0, 5]  # C2 and its H
    frame = zif4.copy()
    v = frame.get_distance(c, h, mic=True, vector=True)
    frame.positions[h] = frame.positions[c] + v / np.linalg.norm(v) * 0.75
    assert zifviz.perceive(frame).n_linkers == topo.n_linkers
    frame.positions[h] = frame.positions[c] + v / np.linalg.norm(v) * 0.5
    with pytest.raises(zifviz.StructureError, match="overlapping"):
        zifviz.perceive(frame)


@pytest.mark.parametrize("roles, stretched", [((0, 1), 1.72), ((3, 4), 1.80), ((2, 3), 1.90)])
def test_ring_bond_stretched_past_its_cutoff_still_closes_the_ring(zif4, roles, stretched):
    """A 1500 K MOF-FF liquid stretches one ring bond past the bond rule (C–N 1.70 Å, C4–C5
    1.77 Å seen; cut-offs 1.69 and 1.75 Å): the same connectivity, not a broken linker. A ring
    pulled open further is still refused."""
    topo = zifviz.perceive(zif4)
    a, b = topo.linkers[5, list(roles)]
    frame = zif4.copy()
    v = frame.get_distance(a, b, mic=True, vector=True)
    moved = [b, *topo.linkers[5, 5:][[k == roles[1] for k in (1, 3, 4)]]]  # the atom and its H
    for length, fits in ((stretched, True), (2.2, False)):
        frame.positions[moved] = zif4.positions[moved] + v / np.linalg.norm(v) * (
            length - np.linalg.norm(v))
        assert frame.get_distance(a, b, mic=True) == pytest.approx(length)
        assert frame.get_distance(a, b, mic=True) > bond_cutoffs(
            frame.numbers[a], frame.numbers[b])
        if fits:
            stretched_topo = zifviz.perceive(frame)
            assert stretched_topo.connectivity == topo.connectivity
            pairs, _ = covalent_bonds(frame)  # what the viewer draws: the ring closed too
            assert {tuple(p) for p in pairs.tolist()} == {tuple(p) for p in topo.bonds.tolist()}
        else:
            with pytest.raises(PerceptionError, match="not bonded like an imidazolate ring"):
                zifviz.perceive(frame)


def test_noisy_supercell_is_perceived(zif4):
    frame = zif4.repeat((2, 2, 2))
    frame.positions += np.random.default_rng(0).normal(0, 0.05, frame.positions.shape)
    assert zifviz.perceive(frame).n_zn == 128


def test_fitted_ring_centres_equal_reused_centres_and_refuse_what_does_not_fit(zif4):
    """The AB2 beads' fast path: the centres of topology.at(frame), bit for bit, with the
    same refusals for another atom order, NaN, a missing cell and broken ring bonds."""
    from zifviz.topology import fitted_ring_centres

    topo = zifviz.perceive(zif4)
    conn = topo.connectivity
    frame = _rattled(zif4, 0.05)
    frame.positions += [2.0, -1.0, 4.0]  # not wrapped: the centres come back wrapped
    assert np.array_equal(fitted_ring_centres(conn, frame), topo.at(frame).centres)
    assert np.array_equal(fitted_ring_centres(conn, zif4), topo.centres)
    order = np.random.default_rng(1).permutation(len(zif4))
    with pytest.raises(TopologyMismatchError, match="in the topology"):
        fitted_ring_centres(conn, zif4[order])
    nan = zif4.copy()
    nan.positions[[4, 9]] = np.nan
    with pytest.raises(StructureError, match="2 atoms have NaN coordinates"):
        fitted_ring_centres(conn, nan)
    with pytest.raises(StructureError, match="no periodic cell"):
        fitted_ring_centres(conn, Atoms(zif4.get_chemical_symbols(), positions=zif4.positions))
    swapped = zif4.copy()  # two Zn swapped: their Zn–N bonds no longer fit
    a, b = topo.zn[0], topo.zn[3]
    swapped.positions[[a, b]] = swapped.positions[[b, a]]
    with pytest.raises(TopologyMismatchError, match=r"(Zn \d+–N \d+|N \d+–Zn \d+) is"):
        fitted_ring_centres(conn, swapped)
    torn = zif4.copy()  # a ring C moved 3 Å away: its ring bonds break
    c2 = topo.linkers[0, 1]
    torn.positions[c2] += [3.0, 0.0, 0.0]
    with pytest.raises(TopologyMismatchError, match=f"C {c2}"):
        fitted_ring_centres(conn, torn)
