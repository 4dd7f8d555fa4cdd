"""ZIF perception: Zn–N bonds, imidazolate linkers and the Zn–Zn net, through periodic boundaries.

``perceive(atoms)`` turns an ASE ``Atoms`` of a Zn(imidazolate)2 framework into a
:class:`ZIFTopology` of plain integer arrays. Neighbour lists come from ``vesin``.
Under-coordinated Zn (glasses, liquids) give a warning; anything that is not a
Zn(Im)2 framework gives a :class:`~zifviz.errors.PerceptionError` that names the source
and the problem.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace

import numpy as np
from ase import Atoms
from ase.data import covalent_radii
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from vesin import NeighborList

from .errors import PerceptionError, StructureError, UnderCoordinatedZnWarning

LINKER_ROLES = ("N1", "C2", "N3", "C4", "C5", "H2", "H4", "H5")
"""Column order of :attr:`ZIFTopology.linkers`; ring N1–C2–N3–C4–C5, H2 on C2, H4 on C4, H5 on C5."""

ROLES = ("Zn", "N", "C2", "C45", "H2", "H45")
"""Atom roles; they match MOF-FF's zn4_n4, n3_c2zn1, c3_h1n2, c3_c1h1n1, h1_c1S, h1_c1."""

ZN_N_CUTOFF = 2.6
"""Largest Zn–N distance (Å) counted as a bond."""

COVALENT_FACTOR = 1.15
"""Two non-Zn heavy atoms are bonded when closer than this times the sum of covalent radii."""

COVALENT_FACTOR_H = 1.5
"""The same for C–H and N–H (up to 1.6 Å), so that C–H bonds stretched in hot MD frames
(1.40 Å seen in MOF-FF at 1500 K) still count. H–H pairs are never bonded."""

OVERLAP_DISTANCE = 0.8
"""Atoms closer than this (Å) are overlapping: a broken structure."""

_MAX_LISTED = 5


@dataclass(frozen=True)
class ZIFTopology:
    """The perceived chemistry of one ZIF structure (all indices refer to the atomistic ``Atoms``)."""

    n_atoms: int
    cell: np.ndarray
    zn: np.ndarray
    """(n_zn,) atom indices of Zn."""
    linkers: np.ndarray
    """(n_linkers, 8) atom indices in :data:`LINKER_ROLES` order."""
    linker_zn: np.ndarray
    """(n_linkers, 2) Zn atom bonded to N1 and to N3 (-1 where none)."""
    linker_positions: np.ndarray
    """(n_linkers, 8, 3) linker atoms unwrapped (whole molecules, N1 inside the cell)."""
    centres: np.ndarray
    """(n_linkers, 3) ring centroids (mean of the five ring atoms), wrapped into the cell."""
    centre_shifts: np.ndarray
    """(n_linkers, 2, 3) cell shifts from ``linker_zn[l, k]`` to centre l:
    vector = centres[l] + shift @ cell - r[Zn]."""
    role: np.ndarray
    """(n_atoms,) role of each atom, one of :data:`ROLES`."""
    bonds: np.ndarray
    """(n_bonds, 2) every covalent bond once (i < j), Zn–N included."""
    bond_shifts: np.ndarray
    """(n_bonds, 3) integer cell shifts: bond vector = r[j] + shift @ cell - r[i]."""
    coordination: np.ndarray
    """(n_zn,) number of N bonded to each Zn."""
    net_edges: np.ndarray
    """(n_edges, 2) Zn atom indices joined by a linker (Zn at N1 first)."""
    net_shifts: np.ndarray
    """(n_edges, 3) cell shifts: edge vector = r[b] + shift @ cell - r[a]."""
    edge_linker: np.ndarray
    """(n_edges,) the linker of each net edge."""
    source: str = ""
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def n_zn(self) -> int:
        return len(self.zn)

    @property
    def n_linkers(self) -> int:
        return len(self.linkers)

    def at(self, atoms: Atoms) -> "ZIFTopology":
        """The same topology with positions-dependent parts (centres, unwrapped linkers,
        cell shifts) recomputed for ``atoms``: another frame of the same trajectory."""
        if len(atoms) != self.n_atoms:
            raise StructureError(f"topology is for {self.n_atoms} atoms, frame has {len(atoms)}",
                                 str(atoms.info.get("source", self.source)))
        geometry = _geometry(atoms, self.linkers, self.linker_zn, self.bonds, self.edge_linker,
                             self.source)
        return replace(self, **geometry)

    def summary(self) -> dict:
        """Counts that describe the framework at a glance."""
        coord = np.bincount(self.coordination, minlength=5)
        return {
            "source": self.source,
            "atoms": self.n_atoms,
            "Zn": self.n_zn,
            "linkers": self.n_linkers,
            "net_edges": len(self.net_edges),
            **{f"Zn_{k}-coordinated": int(coord[k]) for k in range(len(coord)) if coord[k]},
        }

    def __repr__(self) -> str:
        s = self.summary()
        return (f"ZIFTopology(source={s['source']!r}, atoms={s['atoms']}, Zn={s['Zn']}, "
                f"linkers={s['linkers']}, net_edges={s['net_edges']})")


def _fail(problem: str, items, source: str):
    items = list(items)
    listed = ", ".join(str(x) for x in items[:_MAX_LISTED])
    more = f" and {len(items) - _MAX_LISTED} more" if len(items) > _MAX_LISTED else ""
    raise PerceptionError(f"{problem}: {listed}{more}" if items else problem, source)


def _formula(counts: dict[str, int]) -> str:
    return "".join(f"{el}{n if n > 1 else ''}" for el, n in sorted(counts.items()) if n)


def _neighbour_pairs(atoms: Atoms, cutoff: float):
    nl = NeighborList(cutoff=cutoff, full_list=False)
    i, j, S, d = nl.compute(points=atoms.positions, box=atoms.cell.array, periodic=True,
                            quantities="ijSd")
    i = i.astype(np.int64)
    j = j.astype(np.int64)
    S = S.astype(np.int64)
    swap = i > j
    i[swap], j[swap] = j[swap], i[swap].copy()
    S[swap] *= -1
    return i, j, S, d


def _check_cell(atoms: Atoms, source: str) -> None:
    if not np.all(atoms.pbc) or atoms.cell.rank < 3:
        raise StructureError(
            "no periodic cell: a ZIF needs a 3D periodic cell (pbc=True and three cell vectors); "
            "non-periodic XYZ files cannot be perceived",
            source,
        )
    if atoms.cell.volume < 1.0:
        raise StructureError(f"cell volume {atoms.cell.volume:.3g} Å³ is degenerate", source)


def perceive(atoms: Atoms, source: str | None = None) -> ZIFTopology:
    """Find Zn–N bonds, imidazolate linkers and the Zn–Zn net of a Zn(Im)2 framework.

    Parameters
    ----------
    atoms: a periodic structure (positions in Å).
    source: name used in messages; defaults to ``atoms.info["source"]``.

    Raises
    ------
    StructureError: no periodic cell, overlapping atoms.
    PerceptionError: no Zn, missing H, broken linkers, guest molecules.

    Warns
    -----
    UnderCoordinatedZnWarning: some Zn have fewer than four N (glasses, liquids).
    """
    source = source or str(atoms.info.get("source", "structure"))
    _check_cell(atoms, source)
    symbols = np.array(atoms.get_chemical_symbols())
    numbers = atoms.numbers
    is_zn = symbols == "Zn"
    if not is_zn.any():
        _fail(f"no Zn atoms (formula {atoms.get_chemical_formula()}); not a Zn(Im)2 framework",
              [], source)

    i, j, _, d = _neighbour_pairs(atoms, ZN_N_CUTOFF)
    close = d < OVERLAP_DISTANCE
    if close.any():
        pairs = [f"{symbols[a]}{a}–{symbols[b]}{b} at {x:.2f} Å"
                 for a, b, x in zip(i[close], j[close], d[close])]
        raise StructureError(f"{len(pairs)} pairs of overlapping atoms (closer than "
                             f"{OVERLAP_DISTANCE} Å): " + ", ".join(pairs[:_MAX_LISTED]), source)

    # Covalent bonds between non-Zn atoms, and Zn–N bonds.
    organic_pair = ~is_zn[i] & ~is_zn[j]
    rcov = covalent_radii[numbers]
    has_h = (numbers[i] == 1) | (numbers[j] == 1)
    factor = np.where(has_h, COVALENT_FACTOR_H, COVALENT_FACTOR)
    covalent = organic_pair & (d < factor * (rcov[i] + rcov[j])) & ~((numbers[i] == 1) & (numbers[j] == 1))
    zn_n = ((is_zn[i] & (symbols[j] == "N")) | (is_zn[j] & (symbols[i] == "N"))) & (d < ZN_N_CUTOFF)

    n = len(atoms)
    organic = np.flatnonzero(~is_zn)
    ci, cj = i[covalent], j[covalent]
    graph = coo_matrix((np.ones(len(ci)), (ci, cj)), shape=(n, n))
    _, comp = connected_components(graph, directed=False)

    # Element counts per organic component.
    comp_org = comp[organic]
    labels, inverse = np.unique(comp_org, return_inverse=True)
    elements = sorted(set(symbols[organic].tolist()))
    counts = np.zeros((len(labels), len(elements)), dtype=int)
    el_index = {el: k for k, el in enumerate(elements)}
    np.add.at(counts, (inverse, np.array([el_index[s] for s in symbols[organic]], dtype=int)), 1)

    def comp_counts(row):
        return {el: int(c) for el, c in zip(elements, row) if c}

    want = {"C": 3, "N": 2, "H": 3}
    is_linker = np.array([comp_counts(r) == want for r in counts], dtype=bool)
    if not is_linker.all():
        bad = np.flatnonzero(~is_linker)
        # Components touching Zn are (broken) linkers; the others are guests or solvent.
        zn_bonded_atoms = np.concatenate([i[zn_n], j[zn_n]])
        comp_on_zn = np.zeros(len(labels), dtype=bool)
        org_pos = np.full(n, -1)
        org_pos[organic] = inverse
        touched = org_pos[zn_bonded_atoms]
        comp_on_zn[touched[touched >= 0]] = True
        heavy_only = [b for b in bad if comp_counts(counts[b]).get("H", 0) == 0
                      and comp_counts(counts[b]).get("C", 0) >= 3]
        if len(heavy_only) == len(bad) and len(bad) > 0:
            _fail(f"{len(bad)} imidazolate rings have no hydrogen atoms (e.g. a CIF from "
                  "X-ray diffraction without H); add the H atoms before loading", [], source)
        guests = [b for b in bad if not comp_on_zn[b]]
        broken = [b for b in bad if comp_on_zn[b]]

        def describe(b):
            members = organic[inverse == b]
            return f"{_formula(comp_counts(counts[b]))} (atoms {members[:8].tolist()})"

        if broken:
            _fail(f"{len(broken)} broken or incomplete linkers bonded to Zn (expected C3H3N2 "
                  "imidazolate)", [describe(b) for b in broken], source)
        _fail(f"{len(guests)} guest or solvent molecules not bonded to Zn; remove guests "
              "before loading", [describe(b) for b in guests], source)

    # Roles from neighbour counts (vectorised over all atoms).
    el_codes = {"C": 0, "N": 1, "H": 2}
    code = np.array([el_codes.get(s, 3) for s in symbols])
    nbr = np.zeros((n, 4), dtype=int)
    np.add.at(nbr, (ci, code[cj]), 1)
    np.add.at(nbr, (cj, code[ci]), 1)
    role = np.full(n, "", dtype=object)
    role[is_zn] = "Zn"
    isC, isN, isH = code == 0, code == 1, code == 2
    role[isN & (nbr[:, 0] == 2)] = "N"
    role[isC & (nbr[:, 1] == 2) & (nbr[:, 2] == 1)] = "C2"
    role[isC & (nbr[:, 1] == 1) & (nbr[:, 0] == 1) & (nbr[:, 2] == 1)] = "C45"
    # H roles follow their carbon.
    partner = np.full(n, -1)
    h_c = (isH[ci] & isC[cj]) | (isH[cj] & isC[ci])
    hh = np.where(isH[ci[h_c]], ci[h_c], cj[h_c])
    hc = np.where(isH[ci[h_c]], cj[h_c], ci[h_c])
    partner[hh] = hc
    role[isH & (partner >= 0) & (role[np.maximum(partner, 0)] == "C2")] = "H2"
    role[isH & (partner >= 0) & (role[np.maximum(partner, 0)] == "C45")] = "H45"
    # The N partner of each C45 carbon.
    c_n = (isC[ci] & isN[cj]) | (isC[cj] & isN[ci])
    cc = np.where(isC[ci[c_n]], ci[c_n], cj[c_n])
    cn = np.where(isC[ci[c_n]], cj[c_n], ci[c_n])
    c45_n = np.full(n, -1)
    sel = role[cc] == "C45"
    c45_n[cc[sel]] = cn[sel]

    unassigned = np.flatnonzero(role[organic] == "")
    if len(unassigned):
        bad_atoms = organic[unassigned]
        _fail(f"{len(bad_atoms)} atoms in C3H3N2 groups are not bonded like an imidazolate ring",
              [f"{symbols[a]}{a}" for a in bad_atoms], source)

    # Linkers as (n_linkers, 8) in LINKER_ROLES order.
    role_rank = {"N": 0, "C2": 1, "C45": 2, "H2": 3, "H45": 4}
    rank = np.array([role_rank[r] for r in role[organic]])
    order = np.lexsort((organic, rank, comp_org))
    grouped = organic[order].reshape(-1, 8)  # N, N, C2, C45, C45, H2, H45, H45
    n1, n3, c2, ca, cb, h2, ha, hb = grouped.T
    swap = c45_n[ca] == n1  # C5 is the C45 bonded to N1, C4 the one bonded to N3
    c4 = np.where(swap, cb, ca)
    c5 = np.where(swap, ca, cb)
    h_swap = partner[ha] == c5
    h4 = np.where(h_swap, hb, ha)
    h5 = np.where(h_swap, ha, hb)
    linkers = np.stack([n1, c2, n3, c4, c5, h2, h4, h5], axis=1)
    ok = (c45_n[c4] == n3) & (c45_n[c5] == n1) & (partner[h4] == c4) & (partner[h5] == c5)
    if not ok.all():
        _fail("linkers whose atoms are not connected as an imidazolate ring",
              [linkers[k].tolist() for k in np.flatnonzero(~ok)], source)

    # Zn–N bonds.
    zi = np.where(is_zn[i[zn_n]], i[zn_n], j[zn_n])
    ni = np.where(is_zn[i[zn_n]], j[zn_n], i[zn_n])
    dzn = d[zn_n]
    n_count = np.bincount(ni, minlength=n)
    if (n_count > 1).any():
        # An N with two Zn within range: keep the nearest.
        keep = np.ones(len(ni), dtype=bool)
        for a in np.flatnonzero(n_count > 1):
            rows = np.flatnonzero(ni == a)
            keep[rows[np.argsort(dzn[rows])[1:]]] = False
        zi, ni, dzn = zi[keep], ni[keep], dzn[keep]
    zn_idx = np.flatnonzero(is_zn)
    zn_pos = np.full(n, -1)
    zn_pos[zn_idx] = np.arange(len(zn_idx))
    coordination = np.bincount(zn_pos[zi], minlength=len(zn_idx))
    zn_of_n = np.full(n, -1)
    zn_of_n[ni] = zi

    low = coordination < 4
    if low.any():
        warnings.warn(UnderCoordinatedZnWarning(
            f"{source}: {int(low.sum())} of {len(zn_idx)} Zn have fewer than four N neighbours "
            f"(coordination {sorted(set(coordination[low].tolist()))}); normal for glasses and "
            "liquids"), stacklevel=2)

    linker_zn = np.stack([zn_of_n[linkers[:, 0]], zn_of_n[linkers[:, 2]]], axis=1)
    both = np.flatnonzero((linker_zn >= 0).all(axis=1))
    net_edges = linker_zn[both].reshape(-1, 2)
    bonds = np.stack([np.concatenate([ci, np.minimum(zi, ni)]),
                      np.concatenate([cj, np.maximum(zi, ni)])], axis=1)
    geometry = _geometry(atoms, linkers, linker_zn, bonds, both, source)
    return ZIFTopology(
        n_atoms=n,
        zn=zn_idx,
        linkers=linkers,
        linker_zn=linker_zn,
        role=role.astype(str),
        bonds=bonds,
        coordination=coordination,
        net_edges=net_edges,
        edge_linker=both,
        source=source,
        **geometry,
    )


def _geometry(atoms: Atoms, linkers, linker_zn, bonds, edge_linker, source: str) -> dict:
    """Positions-dependent parts of a topology: unwrapped linkers, ring centres and the cell
    shifts of bonds and net edges, for the positions and cell of ``atoms``.

    Bonds (≤ 2.6 Å) and linkers are taken by the minimum image, valid for any cell wider
    than about 5 Å; net edges are chained through their Zn–N bonds and linker, so they are
    right in cells of any size.
    """
    cell = atoms.cell.array
    inv = np.linalg.inv(cell)
    pos = atoms.positions

    def min_image_shift(i, j):  # shift S with r[j] + S @ cell - r[i] the shortest vector
        return -np.rint((pos[j] - pos[i]) @ inv).astype(np.int64)

    bond_shifts = min_image_shift(bonds[:, 0], bonds[:, 1])
    ref = pos[linkers[:, 0]]
    frac = (pos[linkers] - ref[:, None, :]) @ inv
    unwrapped = ref[:, None, :] + (frac - np.rint(frac)) @ cell
    if np.linalg.norm(unwrapped - ref[:, None, :], axis=2).max(initial=0) > 4.0:
        raise StructureError("cell too small to unwrap the imidazolate rings (a cell "
                             "vector shorter than ~5 Å?)", source)
    centres_unwrapped = unwrapped[:, :5].mean(axis=1)
    cfrac = centres_unwrapped @ inv
    centres = (cfrac - np.floor(cfrac)) @ cell

    def zn_to_n(z, nn):  # Zn→N bond vectors
        return pos[nn] + min_image_shift(z, nn) @ cell - pos[z]

    # Shifts from each Zn to the wrapped centre of its linkers.
    centre_shifts = np.zeros((len(linkers), 2, 3), dtype=np.int64)
    for k, col in enumerate((0, 2)):
        has = np.flatnonzero(linker_zn[:, k] >= 0)
        z, nn = linker_zn[has, k], linkers[has, col]
        v = zn_to_n(z, nn) + (centres_unwrapped[has] - unwrapped[has, col])
        centre_shifts[has, k] = np.rint((v - (centres[has] - pos[z])) @ inv).astype(np.int64)

    # Net edges Zn(N1) — linker — Zn(N3).
    za, zb = linker_zn[edge_linker, 0], linker_zn[edge_linker, 1]
    n1, n3 = linkers[edge_linker, 0], linkers[edge_linker, 2]
    v = (zn_to_n(za, n1) + (unwrapped[edge_linker, 2] - unwrapped[edge_linker, 0])
         - zn_to_n(zb, n3))
    net_shifts = np.rint((v - (pos[zb] - pos[za])) @ inv).astype(np.int64).reshape(-1, 3)
    return {"cell": cell.copy(), "linker_positions": unwrapped, "centres": centres,
            "centre_shifts": centre_shifts, "bond_shifts": bond_shifts, "net_shifts": net_shifts}


def annotate(atoms: Atoms, topology: ZIFTopology | None = None) -> Atoms:
    """Add per-atom arrays ``role`` (str), ``coordination`` (float, NaN off Zn) and ``linker``
    (int, -1 for Zn) to ``atoms`` in place, for colouring and filtering; returns ``atoms``."""
    topo = topology or perceive(atoms)
    n = len(atoms)
    if topo.n_atoms != n:
        raise StructureError(f"topology is for {topo.n_atoms} atoms, structure has {n}",
                             str(atoms.info.get("source", "structure")))
    coord = np.full(n, np.nan)
    coord[topo.zn] = topo.coordination
    linker = np.full(n, -1, dtype=int)
    linker[topo.linkers.ravel()] = np.repeat(np.arange(topo.n_linkers), 8)
    atoms.arrays["role"] = topo.role.astype("U3")
    atoms.arrays["coordination"] = coord
    atoms.arrays["linker"] = linker
    return atoms
