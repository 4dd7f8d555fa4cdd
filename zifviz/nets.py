"""Tetrahedral AB2 nets to decorate into hypothetical ZIFs (seed 000 decorated many such nets).

Each net is given by its T (A-site) positions and symmetry, built with
:func:`ase.spacegroup.crystal`, scaled so that the shortest A···A distance is ``a_a`` Å
(≈ 6.0 Å in ZIFs). B beads go on every A–A edge, displaced sideways from the midpoint so that
the A–B–A angle is about 145°, as in real Zn–Im–Zn bridges.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.spacegroup import crystal
from vesin import NeighborList

from .decorate import linker_geometry
from .errors import ZifvizError

# name -> (T-site fractional coordinates, space group, cell parameters of a prototype)
# Standard crystallographic descriptions of the nets (RCSR / IZA conventions).
NETS: dict[str, tuple[list, int, list]] = {
    "dia": ([(0.0, 0.0, 0.0)], 227, [1.0, 1.0, 1.0, 90, 90, 90]),
    "lon": ([(1 / 3, 2 / 3, 1 / 16)], 194, [1.0, 1.0, np.sqrt(8 / 3), 90, 90, 120]),
    "sod": ([(0.25, 0.0, 0.5)], 229, [1.0, 1.0, 1.0, 90, 90, 90]),
    "qtz": ([(0.5, 0.0, 0.0)], 180, [1.0, 1.0, 1.0 * 1.098, 90, 90, 120]),
}
"""Nets built here: diamond (dia), lonsdaleite (lon), sodalite (sod), quartz (qtz)."""

AB_ANGLE = 145.0
"""A–B–A angle (degrees) of the built nets."""


def _a_a_edges(t_sites: Atoms, tol: float = 1.05):
    nl = NeighborList(cutoff=1.0, full_list=False)
    lengths = t_sites.cell.lengths()
    cutoff = 0.75 * min(lengths)  # generous: nearest T–T is always shorter
    nl = NeighborList(cutoff=cutoff, full_list=False)
    i, j, d, D = nl.compute(points=t_sites.positions, box=t_sites.cell.array, periodic=True,
                            quantities="ijdD")
    short = d < tol * d.min()
    return i[short], j[short], D[short], d.min()


def _min_image_distance(cell: np.ndarray, points: np.ndarray, others: np.ndarray) -> float:
    if len(others) == 0:
        return np.inf
    inv = np.linalg.inv(cell)
    diff = (points[:, None, :] - others[None, :, :]) @ inv
    diff -= np.rint(diff)
    return float(np.linalg.norm(diff @ cell, axis=2).min())


def _place_b_beads(t_sites: Atoms, i, j, D, rng, n_trials: int = 24) -> np.ndarray:
    """B beads sideways from each A–A midpoint, each turned about its edge to the direction
    whose idealised linker keeps farthest from what is already placed (greedy)."""
    cell = t_sites.cell.array
    pos = t_sites.positions
    placed = [pos]
    b_positions = []
    for k in rng.permutation(len(i)):
        edge = D[k] / np.linalg.norm(D[k])
        base = np.cross(edge, rng.normal(size=3))
        base /= np.linalg.norm(base)
        other = np.cross(edge, base)
        turns = np.linspace(0, 2 * np.pi, n_trials, endpoint=False)
        sides = np.cos(turns)[:, None] * base + np.sin(turns)[:, None] * other
        offset = np.linalg.norm(D[k]) / 2 / np.tan(np.radians(AB_ANGLE / 2))
        centres = pos[i[k]] + D[k] / 2 + offset * sides
        linkers = linker_geometry(centres, pos[i[k]] - centres, pos[i[k]] + D[k] - centres)
        others = np.vstack(placed)
        mask = np.ones(len(others), dtype=bool)
        mask[[i[k], j[k]]] = False  # the two Zn it binds
        clearance = [_min_image_distance(cell, lk, others[mask]) for lk in linkers]
        best = int(np.argmax(clearance))
        placed.append(linkers[best])
        b_positions.append((k, centres[best]))
    b_positions.sort(key=lambda item: item[0])
    return np.array([c for _, c in b_positions])


def build_net(name: str, a_a: float = 6.0, seed: int = 0) -> Atoms:
    """The AB2 net ``name`` (see :data:`NETS`) with A···A distance ``a_a`` Å.

    Returns Atoms with A beads as Zn and B beads as O, arrays ``bead``, ``info["cg_level"]="AB2"``
    and ``info["source"]=f"net:{name}"``. ``seed`` picks the sideways direction of each B bead.
    """
    if name not in NETS:
        raise ZifvizError(f"unknown net {name!r}; choose one of {sorted(NETS)}")
    basis, spacegroup, cellpar = NETS[name]
    proto = crystal(["Zn"] * len(basis), basis, spacegroup=spacegroup, cellpar=cellpar)
    i, j, D, shortest = _a_a_edges(proto)
    scale = a_a / shortest
    t_sites = proto.copy()
    t_sites.set_cell(proto.cell.array * scale, scale_atoms=True)
    D = D * scale
    degree = np.bincount(np.concatenate([i, j]), minlength=len(t_sites))
    if not (degree == 4).all():
        raise ZifvizError(f"net {name} is not 4-connected (degrees {sorted(set(degree))})")

    b_positions = _place_b_beads(t_sites, i, j, D, np.random.default_rng(seed))
    net = Atoms(["Zn"] * len(t_sites) + ["O"] * len(b_positions),
                positions=np.vstack([t_sites.positions, b_positions]),
                cell=t_sites.cell, pbc=True)
    net.wrap()
    net.arrays["bead"] = np.array(["A"] * len(t_sites) + ["B"] * len(b_positions))
    net.info.update({"cg_level": "AB2", "source": f"net:{name}"})
    return net
