"""Seed 003's symmetry functions: values against a brute-force sum, periodic images, alignment."""

import itertools
import json
import time

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk

import zifviz
from zifviz.datasets import fetch_structure, load_demo
from zifviz.descriptors import BPSF
from zifviz.descriptors.symmetry import BOHR
from zifviz.errors import PerceptionError, StructureError, ZifvizError


@pytest.fixture(scope="module")
def zif4():
    return zifviz.read(fetch_structure("widmer2019/ZIF4-FixedCell.cif"))


def brute_force(atoms, centres, r_cut=13.0, etas=(0.005, 0.0075, 0.01, 0.02), images=3):
    """The seed's equations summed literally over explicit periodic images (slow)."""
    zn = atoms.positions[atoms.numbers == 30]
    shifts = np.array(list(itertools.product(range(-images, images + 1), repeat=3)))
    cloud = (zn[None, :, :] + (shifts @ atoms.cell.array)[:, None, :]).reshape(-1, 3)
    etas = np.asarray(etas) / BOHR**2

    def fc(r):
        return np.where(r < r_cut, 0.5 * (np.cos(np.pi * r / r_cut) + 1), 0.0)

    rows = []
    for i in centres:
        v = cloud - zn[i]
        d = np.linalg.norm(v, axis=1)
        keep = (d > 1e-9) & (d < r_cut)
        v, d = v[keep], d[keep]
        radial = [np.sum(np.exp(-e * d**2) * fc(d)) for e in etas]
        rjk = np.linalg.norm(v[:, None] - v[None], axis=2)
        cos = (v @ v.T) / np.outer(d, d)
        s = d[:, None] ** 2 + d[None, :] ** 2 + rjk**2
        f = fc(d)[:, None] * fc(d)[None, :] * fc(rjk)
        off = ~np.eye(len(d), dtype=bool)
        angular = [((1 - lam * cos) * np.exp(-e * s) * f)[off].sum()
                   for e in etas for lam in (1, -1)]
        rows.append(radial + angular)
    return np.array(rows)


def test_values_match_brute_force_sum(zif4):
    X = BPSF().transform(zif4)
    assert X.shape == (16, 12)
    # the cut-off (13 Å) is larger than half the cell (15.4 Å): images of the centre count
    np.testing.assert_allclose(X[[0, 5, 11]], brute_force(zif4, [0, 5, 11]), rtol=1e-10)
    assert (X > 0).all()


def test_other_settings_match_brute_force(zif4):
    d = BPSF(r_cut=7.0, etas=(0.01,), lambdas=(1.0, -1.0))
    X = d.transform(zif4)
    assert X.shape == (16, 3) and d.feature_names == [
        "G_rad(eta=0.01)", "G_ang(eta=0.01,lambda=+1)", "G_ang(eta=0.01,lambda=-1)"]
    np.testing.assert_allclose(X[:2], brute_force(zif4, [0, 1], r_cut=7.0, etas=(0.01,),
                                                  images=2), rtol=1e-10)


def test_supercell_gives_the_same_values(zif4):
    X = BPSF().transform(zif4)
    big = zif4.repeat((2, 1, 2))
    Xb = BPSF().transform(big)
    assert Xb.shape == (64, 12)
    # repeat() lists the copies one after the other: every copy has the values of the cell
    np.testing.assert_allclose(Xb, np.tile(X, (4, 1)), rtol=1e-10)


def test_invariant_under_rotation_and_translation(zif4):
    moved = zif4.copy()
    moved.rotate(37, "x", rotate_cell=True)
    moved.rotate(-21, "z", rotate_cell=True)
    moved.translate([1.3, -4.0, 2.2])
    np.testing.assert_allclose(BPSF().transform(moved), BPSF().transform(zif4), rtol=1e-9)


def test_rows_aligned_with_environment_table_after_shuffling_atoms():
    frames = load_demo("phases").query("phase in ['glass', 'ZIF-zni']")[[0, -1]]
    frames = [frames[0], frames[1]]
    rng = np.random.default_rng(0)
    order = rng.permutation(len(frames[1]))
    shuffled = frames[1][order]
    X = BPSF().transform([frames[0], shuffled])
    table = zifviz.environment_table([frames[0], shuffled])
    assert X.shape == (len(table), 12)
    # row k of X describes the Zn named by row k of the table: same values as that Zn had
    # in the unshuffled frame
    own = BPSF().transform(frames[1])
    zn_before = np.flatnonzero(frames[1].numbers == 30)
    rows = table[table.frame_pos == 1]
    original_index = order[rows.zn.to_numpy()]
    expected = own[np.searchsorted(zn_before, original_index)]
    np.testing.assert_allclose(X[rows.index.to_numpy()], expected, rtol=1e-10)


def test_same_values_at_every_level(zif4):
    topo = zifviz.perceive(zif4)
    X = BPSF().transform(zif4)
    for level in ("AB2", "A"):
        cg = zifviz.coarse_grain(zif4, level, topo)
        np.testing.assert_allclose(BPSF(level=level).transform(cg), X, rtol=1e-10)


def test_config_round_trip():
    d = BPSF(level="a-only")
    text = json.dumps(d.config)
    back = BPSF.from_config(text)
    assert back.config == d.config and back.level == "A" and back.n_features == 12
    assert d.config["etas"] == [0.005, 0.0075, 0.01, 0.02] and d.config["r_cut"] == 13.0
    with pytest.raises(ZifvizError, match="not a BPSF"):
        BPSF.from_config({"class": "SOAP"})
    with pytest.raises(ZifvizError, match="level"):
        BPSF(level="bogus")


def test_bad_input_is_refused(zif4):
    with pytest.raises(PerceptionError, match="no Zn"):
        BPSF().transform(bulk("Si", cubic=True))
    loose = Atoms("Zn2", positions=[[0, 0, 0], [3, 0, 0]])
    with pytest.raises(StructureError, match="periodic cell"):
        BPSF().transform(loose)
    broken = zif4.copy()
    broken.positions[np.flatnonzero(broken.numbers == 30)[3]] = np.nan
    with pytest.raises(StructureError, match="NaN"):
        BPSF().transform(broken)
    with pytest.raises(ZifvizError, match="not ase.Atoms"):
        BPSF().transform([zif4, "frame.xyz"])


def test_throughput_on_a_6x6x6_cell(zif4):
    big = zif4.repeat((6, 6, 6))
    d = BPSF()
    d.transform(zif4)  # compile
    start = time.perf_counter()
    X = d.transform(big)
    seconds = time.perf_counter() - start
    assert X.shape == (3456, 12)
    # generous bound (target ≥ 20,000 Zn/s measured in benchmarks/bench_bpsf.py)
    assert len(X) / seconds > 2_000
