"""Decoration, coarse-grained → atomistic: an idealised imidazolate on every B bead of an AB2 net.

Each B bead becomes a planar C3N2H3 ring whose centroid is the bead, whose plane contains the
two B→A vectors, and whose C2–H axis lies along their bisector (C2 on the side of the two Zn,
N1 towards the first Zn, N3 towards the second). A beads become Zn. ``coarse_grain(decorate(net),
"AB2")`` gives back the net. The geometry is idealised (a regular pentagon); relax it with
MOF-FF (:func:`zifviz.sampling.minimise`) before using its energies.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms
from vesin import NeighborList

from .errors import StructureError

RING_RADIUS = 1.165
"""Circumradius (Å) of the idealised ring: a regular pentagon with 1.37 Å sides."""

CH_LENGTH = 1.08
"""C–H bond length (Å) of the idealised linker."""

AB_CUTOFF = 4.2
"""Largest A–B distance (Å) taken as a net bond when the net is perceived by distance."""

# Ring atoms by angle from the C2 axis (degrees): N1 towards the first Zn, N3 towards the second.
_RING = (("N", 72.0), ("C", 0.0), ("N", -72.0), ("C", -144.0), ("C", 144.0))
_H_ON = (1, 3, 4)  # H on C2, C4, C5


def _bead_kinds(net: Atoms, source: str) -> np.ndarray:
    if "bead" in net.arrays:
        kinds = np.asarray(net.arrays["bead"]).astype(str)
    else:
        symbols = np.array(net.get_chemical_symbols())
        kinds = np.where(np.isin(symbols, ["Zn", "Si"]), "A", np.where(symbols == "O", "B", "?"))
    if not np.isin(kinds, ["A", "B"]).all():
        raise StructureError("an AB2 net needs A beads (Zn or Si) and B beads (O) only", source)
    return kinds


def net_neighbours(net: Atoms, cutoff: float = AB_CUTOFF) -> tuple[np.ndarray, np.ndarray]:
    """For each B bead, its two nearest A beads and the B→A vectors: (n_b, 2) and (n_b, 2, 3)."""
    source = str(net.info.get("source", "net"))
    kinds = _bead_kinds(net, source)
    nl = NeighborList(cutoff=cutoff, full_list=True)
    i, j, d, D = nl.compute(points=net.positions, box=net.cell.array, periodic=bool(net.pbc.all()),
                            quantities="ijdD")
    keep = (kinds[i] == "B") & (kinds[j] == "A")
    i, j, d, D = i[keep], j[keep], d[keep], D[keep]
    b_index = np.flatnonzero(kinds == "B")
    order = np.lexsort((d, i))
    i, j, D = i[order], j[order], D[order]
    counts = np.bincount(i, minlength=len(net))[b_index]
    if (counts < 2).any():
        bad = b_index[counts < 2]
        raise StructureError(f"{len(bad)} B beads have fewer than two A beads within {cutoff} Å "
                             f"(e.g. bead {bad[0]}); not an AB2 net", source)
    first = np.searchsorted(i, b_index)
    pick = np.stack([first, first + 1], axis=1)
    return j[pick], D[pick]


def linker_geometry(centres: np.ndarray, to_a1: np.ndarray, to_a2: np.ndarray) -> np.ndarray:
    """Idealised linker atoms, (n, 8, 3) in the order N1, C2, N3, C4, C5, H2, H4, H5, for ring
    centres ``centres`` (n, 3) and the vectors from each centre to its two A beads (n, 3)."""
    e1 = to_a1 / np.linalg.norm(to_a1, axis=1)[:, None]
    e2 = to_a2 / np.linalg.norm(to_a2, axis=1)[:, None]
    u = e1 + e2
    norm_u = np.linalg.norm(u, axis=1)
    linear = norm_u < 1e-3
    if linear.any():  # A–B–A straight: any axis perpendicular to the bond will do
        trial = np.where(np.abs(e1[linear, :1]) < 0.9, [[1.0, 0, 0]], [[0, 1.0, 0]])
        u[linear] = np.cross(e1[linear], trial)
        norm_u[linear] = np.linalg.norm(u[linear], axis=1)
    u = u / norm_u[:, None]
    v = e1 - (e1 * u).sum(axis=1)[:, None] * u  # in-plane, towards the first A
    v_norm = np.linalg.norm(v, axis=1)
    v[v_norm < 1e-6] = np.cross(u[v_norm < 1e-6], [0.0, 0.0, 1.0])
    v /= np.linalg.norm(v, axis=1)[:, None]
    angles = np.radians([a for _, a in _RING])
    dirs = np.cos(angles)[None, :, None] * u[:, None, :] + np.sin(angles)[None, :, None] * v[:, None, :]
    ring = centres[:, None, :] + RING_RADIUS * dirs
    hydrogens = centres[:, None, :] + (RING_RADIUS + CH_LENGTH) * dirs[:, list(_H_ON)]
    return np.concatenate([ring, hydrogens], axis=1)


LINKER_SYMBOLS = [s for s, _ in _RING] + ["H", "H", "H"]


def neighbour_shifts(net: Atoms, neighbours: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The A neighbours of each B bead as indices into ``net`` and integer cell shifts:
    ``(n_b, 2)`` and ``(n_b, 2, 3)`` such that B→A is ``r[a] + shift @ cell - r[b]``.

    Keep them to decorate a distorted copy of the same net with the same connectivity
    (``decorate(copy, neighbours=...)``), whatever the distances have become."""
    source = str(net.info.get("source", "net"))
    kinds = _bead_kinds(net, source)
    idx, vectors = net_neighbours(net) if neighbours is None else neighbours
    b = net.positions[kinds == "B"]
    a_index = np.flatnonzero(kinds == "A")[idx]
    offset = b[:, None, :] + vectors - net.positions[a_index]
    shifts = np.rint(offset @ np.linalg.inv(net.cell.array)).astype(int)
    return a_index, shifts


def decorate(net: Atoms, neighbours: tuple[np.ndarray, np.ndarray] | None = None) -> Atoms:
    """An atomistic Zn(Im)2 structure from an AB2 net (A beads Zn or Si, B beads O, or a
    ``bead`` array). Zn atoms come first, then each linker as N1, C2, N3, C4, C5, H2, H4, H5.

    Each B bead binds its two nearest A beads, unless ``neighbours`` (from
    :func:`neighbour_shifts` on an undistorted copy of the net) fixes them."""
    source = str(net.info.get("source", "net"))
    kinds = _bead_kinds(net, source)
    if neighbours is None:
        _, vectors = net_neighbours(net)
    else:
        a_index, shifts = neighbours
        b = net.positions[kinds == "B"]
        if a_index.shape != (len(b), 2) or shifts.shape != (len(b), 2, 3):
            raise StructureError(f"neighbours do not fit this net ({len(b)} B beads)", source)
        vectors = net.positions[a_index] + shifts @ net.cell.array - b[:, None, :]
    centres = net.positions[kinds == "B"]
    linker_positions = linker_geometry(centres, vectors[:, 0], vectors[:, 1]).reshape(-1, 3)
    zn_positions = net.positions[kinds == "A"]
    atoms = Atoms(["Zn"] * len(zn_positions) + LINKER_SYMBOLS * len(centres),
                  positions=np.vstack([zn_positions, linker_positions]),
                  cell=net.cell, pbc=net.pbc)
    atoms.info.update({k: v for k, v in net.info.items() if k not in ("cg_level",)})
    atoms.info["source"] = source
    atoms.info["decorated"] = True
    atoms.wrap()
    return atoms
