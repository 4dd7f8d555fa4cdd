"""Decoration cg → atomistic, the built nets, and the round trip coarse_grain(decorate(net)) == net."""

from __future__ import annotations

import numpy as np
import pytest

import zifviz
from zifviz.decorate import decorate
from zifviz.errors import StructureError, ZifvizError
from zifviz.nets import NETS, build_net


def _same_positions(a, b, cell):
    diff = (a - b) @ np.linalg.inv(cell)
    return np.allclose(diff - np.rint(diff), 0, atol=1e-8)


def _check_roundtrip(net):
    atoms = decorate(net)
    topo = zifviz.perceive(atoms)
    assert (topo.coordination == 4).all()
    back = zifviz.coarse_grain(atoms, "AB2", topo)
    assert len(back) == len(net)
    kinds = np.asarray(net.arrays["bead"])
    assert _same_positions(back.positions[:topo.n_zn], net.positions[kinds == "A"], net.cell.array)
    # B beads may come out in another order: match each to its nearest
    b_net = net.positions[kinds == "B"]
    for c in back.positions[topo.n_zn:]:
        diff = (b_net - c) @ np.linalg.inv(net.cell.array)
        diff -= np.rint(diff)
        assert np.linalg.norm(diff @ net.cell.array, axis=1).min() < 1e-6
    return atoms, topo


def test_zif4_roundtrip(zif4):
    net = zifviz.coarse_grain(zif4, "AB2")
    atoms, topo = _check_roundtrip(net)
    assert atoms.get_chemical_formula() == zif4.get_chemical_formula()
    # ring plane contains both B→A vectors; C2 lies on the bisector side of the two Zn
    cell = atoms.cell.array
    lp = topo.linker_positions
    normal = np.cross(lp[:, 1] - lp[:, 0], lp[:, 2] - lp[:, 0])
    normal /= np.linalg.norm(normal, axis=1)[:, None]
    zn = zif4.positions  # decorated Zn keep the net positions
    pairs, shifts = zifviz.net_bonds(topo, "AB2")
    cg = zifviz.coarse_grain(atoms, "AB2", topo)
    v = cg.positions[pairs[:, 1]] + shifts @ cell - cg.positions[pairs[:, 0]]
    link = pairs[:, 1] - topo.n_zn
    assert np.abs((v * normal[link]).sum(axis=1)).max() < 1e-6
    del zn


@pytest.mark.parametrize("name", sorted(NETS))
def test_built_nets_decorate_cleanly(name):
    net = build_net(name)
    kinds = net.arrays["bead"]
    assert (kinds == "B").sum() == 2 * (kinds == "A").sum()
    _check_roundtrip(net)


def test_authors_si_o_convention(zif4):
    net = zifviz.coarse_grain(zif4, "AB2")
    del net.arrays["bead"]
    net.symbols[net.symbols == "Zn"] = "Si"
    assert decorate(net).get_chemical_formula() == zif4.get_chemical_formula()


def test_bad_nets():
    with pytest.raises(ZifvizError, match="unknown net"):
        build_net("xyz")
    net = build_net("dia")
    net.positions[net.arrays["bead"] == "B"] += 5.0  # B beads far from any A
    with pytest.raises(StructureError, match="fewer than two A beads"):
        decorate(net)


def test_decorate_keeps_given_neighbours_on_a_distorted_net():
    from zifviz.decorate import neighbour_shifts

    net = build_net("dia")
    neighbours = neighbour_shifts(net)
    reference = zifviz.perceive(decorate(net))
    moved = net.copy()
    moved.set_cell(net.cell.array * 1.03, scale_atoms=True)
    moved.positions += np.random.default_rng(0).normal(0, 0.1, moved.positions.shape)
    atoms = decorate(moved, neighbours=neighbours)
    topo = zifviz.perceive(atoms)
    assert (topo.coordination == 4).all()
    assert np.array_equal(np.sort(topo.linker_zn, axis=1), np.sort(reference.linker_zn, axis=1))
    with pytest.raises(StructureError, match="neighbours do not fit"):
        decorate(net[:-1], neighbours=neighbours)
