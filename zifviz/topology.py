"""ZIF perception: Zn–N bonds, imidazolate linkers and the Zn–Zn net, through periodic boundaries.

``perceive(atoms)`` turns an ASE ``Atoms`` of a Zn(imidazolate)2 framework into a
:class:`ZIFTopology`, which is two things:

* its :class:`Connectivity` — which atom is bonded to which, the linkers, the Zn–Zn net, the
  roles: frame-independent, frozen, hashable and comparable (``.key`` is a short digest);
* the geometry of one frame — ring centres, unwrapped linkers, the cell shifts of bonds,
  centres and net edges — computed from the positions only when first asked for.

``topology.at(atoms)`` reuses the connectivity on another frame of the same trajectory after
a cheap check (same atomic numbers in the same order, every bond still a bond, a usable
cell) and refuses a frame that does not fit with a
:class:`~zifviz.errors.TopologyMismatchError`.

:func:`covalent_bonds` is the one definition of a bond in zifviz (perception, coarse-graining
and the viewer use it), for any structure. Neighbour lists come from ``vesin``.
"""

from __future__ import annotations

import hashlib
import warnings
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from ase import Atoms
from ase.data import chemical_symbols, covalent_radii
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from vesin import NeighborList

from .errors import (OverCoordinatedZnWarning, PerceptionError, StructureError,
                     TopologyMismatchError, UnderCoordinatedZnWarning)
from .geometry import (bond_vectors, check_finite, minimum_image, periodic_cell, require_width,
                       wrap)

LINKER_ROLES = ("N1", "C2", "N3", "C4", "C5", "H2", "H4", "H5")
"""Column order of :attr:`ZIFTopology.linkers`; ring N1–C2–N3–C4–C5, H2 on C2, H4 on C4, H5 on C5."""

ROLES = ("Zn", "N", "C2", "C45", "H2", "H45")
"""Atom roles; they match MOF-FF's zn4_n4, n3_c2zn1, c3_h1n2, c3_c1h1n1, h1_c1S, h1_c1."""

ZN_N_CUTOFF = 2.6
"""Largest Zn–N distance (Å) counted as a bond."""

COVALENT_FACTOR = 1.15
"""Two atoms are bonded when closer than this times the sum of their covalent radii."""

COVALENT_FACTOR_H = 1.5
"""The same for pairs with one H (C–H, N–H up to 1.6 Å), so that C–H bonds stretched in hot
MD frames (1.40 Å seen in MOF-FF at 1500 K) still count. H–H pairs are never bonded."""

RING_STRETCH_FACTOR = 1.35
"""A C–C, C–N or N–N pair up to this times its covalent radii (C–N 1.98 Å) closes an imidazolate
ring that the bond rule left open: when the five ring atoms of a C3H3N2 group form a chain
(four ring bonds), its two ends are the one ring bond stretched past :data:`COVALENT_FACTOR`.
MOF-FF liquids at 1500 K stretch C–N to 1.70 Å and C4–C5 to 1.77 Å (cut-offs 1.69 and 1.75 Å)
in about one frame in 800, while their shortest non-bonded C–C, C–N and N–N pairs stay above
1.87 Å (``benchmarks/hot_frames_perception.py``); only chain ends are tried, so no other pair
is ever bonded this way."""

OVERLAP_DISTANCE = 0.8
"""Atoms closer than this (Å) are overlapping: a broken structure."""

OVERLAP_DISTANCE_H = 0.6
"""The same for pairs with an H (a C–H bond squeezed to 0.77 Å by thermal noise is still a
bond; seed 000 screened its structures with 1.0 Å, and 0.6 Å involving H)."""

REUSE_MARGIN = 0.9
"""When a topology is reused on another frame, a bond may be this much (Å) longer than the
perception cutoff of its pair (Zn–N up to 3.5 Å, C–N 2.59 Å, C–H 2.51 Å): 1500 K frames,
0.15 Å Gaussian noise on every coordinate (bonds stretched by up to 1.05 Å over the 60,000
bonds of a 6×6×6 ZIF-4) and strained cells pass; a swapped, displaced or reordered atom does
not (a Zn on another Zn's site is ≥ 4 Å from the other's N)."""

_RING_STEPS = ((0, 1), (1, 2), (2, 3), (3, 4))
_H_STEPS = ((1, 5), (3, 6), (4, 7))
_MAX_LISTED = 5
_ZN, _N, _H = 30, 7, 1

#: Substituted imidazolates: formula of the whole linker -> (name, the substituent position
#: of the framework it makes, that framework).
SUBSTITUTED_LINKERS = {
    "C4H5N2": ("methylimidazolate", "2-", "ZIF-8-like"),
    "C3H2ClN2": ("chloroimidazolate", "2-", "ZIF-8-Cl-like"),
    "C3H2BrN2": ("bromoimidazolate", "2-", "ZIF-8-Br-like"),
    "C3H2IN2": ("iodoimidazolate", "", ""),
    "C3HCl2N2": ("dichloroimidazolate", "4-", "ZIF-71-like"),
    "C3H2N3O2": ("nitroimidazolate", "2-", "ZIF-65-like"),
    "C5H7N2": ("ethylimidazolate", "2-", "ZIF-14-like"),
    "C7H5N2": ("benzimidazolate", "", "ZIF-7-like"),
    "C4H3N2O": ("imidazolate-carboxaldehyde", "2-", "ZIF-90-like"),
}


# ---- the one definition of a bond --------------------------------------------------------

def bond_cutoffs(z1: np.ndarray, z2: np.ndarray) -> np.ndarray:
    """The largest distance (Å) at which atoms of atomic numbers ``z1`` and ``z2`` are bonded.

    :data:`COVALENT_FACTOR` × the sum of covalent radii (:data:`COVALENT_FACTOR_H` with one H),
    :data:`ZN_N_CUTOFF` for Zn–N, 0 for H–H (never bonded).
    """
    z1, z2 = np.asarray(z1), np.asarray(z2)
    has_h = (z1 == _H) | (z2 == _H)
    limit = np.where(has_h, COVALENT_FACTOR_H, COVALENT_FACTOR) * (covalent_radii[z1] + covalent_radii[z2])
    limit = np.where(((z1 == _ZN) & (z2 == _N)) | ((z1 == _N) & (z2 == _ZN)), ZN_N_CUTOFF, limit)
    return np.where((z1 == _H) & (z2 == _H), 0.0, limit)


def _search_cutoff(numbers: np.ndarray) -> float:
    present = np.unique(numbers)
    a, b = np.meshgrid(present, present)
    return float(max(bond_cutoffs(a.ravel(), b.ravel()).max(initial=0.0), OVERLAP_DISTANCE))


def _neighbour_pairs(positions, cell, pbc, cutoff: float):
    """Pairs closer than ``cutoff`` (each once, i < j): i, j, shifts S (r[j] + S @ cell - r[i]), d."""
    periodic = [bool(p) for p in np.broadcast_to(pbc, (3,))]
    nl = NeighborList(cutoff=cutoff, full_list=False)
    i, j, S, d = nl.compute(points=np.asarray(positions, dtype=float),
                            box=np.asarray(cell, dtype=float), periodic=periodic, quantities="ijSd")
    i, j, S = i.astype(np.int64), j.astype(np.int64), S.astype(np.int64)
    swap = i > j
    i[swap], j[swap] = j[swap], i[swap].copy()
    S[swap] *= -1
    return i, j, S, d


def _bonded(atoms: Atoms, source: str, refuse_overlaps: bool = True):
    """Neighbour search + the bond rule: (i, j, S, d) of every bond, after the NaN check
    (and a :class:`StructureError` for atoms closer than :data:`OVERLAP_DISTANCE`), with
    imidazolate rings that one stretched bond left open closed (:func:`_ring_closures`)."""
    positions = atoms.positions
    check_finite(positions, source)
    numbers = atoms.numbers
    if not len(atoms):
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros((0, 3), dtype=np.int64), np.zeros(0)
    i, j, S, d = _neighbour_pairs(positions, atoms.cell.array, atoms.pbc, _search_cutoff(numbers))
    with_h = (numbers[i] == _H) | (numbers[j] == _H)
    close = d < np.where(with_h, OVERLAP_DISTANCE_H, OVERLAP_DISTANCE)
    if refuse_overlaps and close.any():
        symbols = atoms.get_chemical_symbols()
        pairs = [f"{symbols[a]}{a}–{symbols[b]}{b} at {x:.2f} Å"
                 for a, b, x in zip(i[close], j[close], d[close])]
        raise StructureError(f"{len(pairs)} pairs of overlapping atoms (closer than "
                             f"{OVERLAP_DISTANCE} Å, {OVERLAP_DISTANCE_H} Å with H): "
                             + ", ".join(pairs[:_MAX_LISTED]), source)
    cutoff = bond_cutoffs(numbers[i], numbers[j])
    bonded = d < cutoff
    if (bonded & with_h).any():  # an H keeps one bond
        ratio = d / np.maximum(cutoff, 1e-12)
        bonded[_second_h_bonds(numbers, i, j, ratio, bonded & with_h)] = False
    ring_atom = (numbers == 6) | (numbers == _N)
    reach = RING_STRETCH_FACTOR * (covalent_radii[numbers[i]] + covalent_radii[numbers[j]])
    stretched = ~bonded & ring_atom[i] & ring_atom[j] & (d < reach)
    if stretched.any():  # only in hot or dense frames does a non-bonded C/N pair come this close
        bonded |= _ring_closures(numbers, i, j, bonded, stretched)
    return i[bonded], j[bonded], S[bonded], d[bonded]


def _second_h_bonds(numbers, i, j, ratio, h_bonds) -> np.ndarray:
    """Indices of the ``h_bonds`` pairs that are an H atom's second (third...) bond: an H keeps
    only the bond that is shortest relative to its cut-off. A hot frame can bring an H near the
    H–N rule (1.53 Å) of an N it is not bonded to (1.59 Å seen at 1500 K) or within the H–Zn
    rule of a Zn (2.15 Å seen) while it is 1.1 Å from its own C."""
    k = np.flatnonzero(h_bonds)
    h = np.where(numbers[i[k]] == _H, i[k], j[k])
    order = np.lexsort((ratio[k], h))
    later = np.zeros(len(k), dtype=bool)
    later[1:] = h[order][1:] == h[order][:-1]
    return k[order[later]]


def _ring_closures(numbers, i, j, bonded, stretched) -> np.ndarray:
    """Which ``stretched`` pairs (i, j) close an imidazolate ring: for every C3H3N2 group of
    the ``bonded`` pairs whose five ring atoms form a chain (four ring bonds), the pair of
    the chain's two ends. Such a bond joins two atoms of one group: the groups stay as they are."""
    n = len(numbers)
    organic = bonded & (numbers[i] != _ZN) & (numbers[j] != _ZN)
    graph = coo_matrix((np.ones(int(organic.sum())), (i[organic], j[organic])), shape=(n, n))
    _, comp = connected_components(graph, directed=False)
    count = {z: np.bincount(comp, weights=numbers == z, minlength=n) for z in (6, _N, _H)}
    imidazolate = ((count[6] == 3) & (count[_N] == 2) & (count[_H] == 3)
                   & (np.bincount(comp, minlength=n) == 8))
    ring = organic & (numbers[i] != _H) & (numbers[j] != _H)
    ring_bonds = np.bincount(comp[i[ring]], minlength=n)
    end = np.bincount(np.concatenate([i[ring], j[ring]]), minlength=n) == 1
    return (stretched & (comp[i] == comp[j]) & imidazolate[comp[i]] & (ring_bonds[comp[i]] == 4)
            & end[i] & end[j])


def covalent_bonds(atoms: Atoms) -> tuple[np.ndarray, np.ndarray]:
    """Every bond of any structure (ZIF or not, periodic or not), by the rule of :func:`bond_cutoffs`
    as perception sees them: an H keeps its one bond, and an imidazolate ring that one
    stretched bond left open is closed (:data:`RING_STRETCH_FACTOR`).

    Returns ``(pairs, shifts)``: (k, 2) atom indices (i < j) and (k, 3) integer cell shifts with
    bond vector ``r[j] + shift @ cell - r[i]``. Raises :class:`StructureError` for NaN
    coordinates; overlapping atoms (which :func:`perceive` refuses) are simply bonded.
    """
    source = str(atoms.info.get("source", "structure"))
    i, j, S, _ = _bonded(atoms, source, refuse_overlaps=False)
    return np.stack([i, j], axis=1), S


# ---- connectivity -------------------------------------------------------------------------

_KEY_FIELDS = ("numbers", "zn", "linkers", "linker_zn", "role", "bonds", "coordination",
               "net_edges", "edge_linker")


@dataclass(frozen=True, eq=False)
class Connectivity:
    """The frame-independent part of a :class:`ZIFTopology` (read-only integer arrays).

    Two connectivities are equal when their :attr:`key` (a digest of every array) is; they
    can be used as dictionary keys, e.g. to type a force field once per connectivity.
    """

    numbers: np.ndarray
    """(n_atoms,) atomic numbers, in atom order."""
    zn: np.ndarray
    """(n_zn,) atom indices of Zn."""
    linkers: np.ndarray
    """(n_linkers, 8) atom indices in :data:`LINKER_ROLES` order."""
    linker_zn: np.ndarray
    """(n_linkers, 2) Zn atom bonded to N1 and to N3 (-1 where none)."""
    role: np.ndarray
    """(n_atoms,) role of each atom, one of :data:`ROLES`."""
    bonds: np.ndarray
    """(n_bonds, 2) every covalent bond once (i < j), Zn–N included."""
    coordination: np.ndarray
    """(n_zn,) number of N bonded to each Zn."""
    net_edges: np.ndarray
    """(n_edges, 2) Zn atom indices joined by a linker (Zn at N1 first)."""
    edge_linker: np.ndarray
    """(n_edges,) the linker of each net edge."""

    def __post_init__(self):
        digest = hashlib.sha256()
        for name in _KEY_FIELDS:
            value = np.array(getattr(self, name), order="C")  # a copy nobody else can change
            value.setflags(write=False)
            object.__setattr__(self, name, value)
            digest.update(f"{name}:{value.dtype.str}:{value.shape}".encode())
            digest.update(value.tobytes())
        object.__setattr__(self, "key", digest.hexdigest()[:16])

    key: str = field(init=False, default="")
    """A short hex digest of all the arrays (set on creation)."""

    @property
    def n_atoms(self) -> int:
        return len(self.numbers)

    def __eq__(self, other) -> bool:
        return isinstance(other, Connectivity) and other.key == self.key

    def __hash__(self) -> int:
        return hash(self.key)

    def __repr__(self) -> str:
        return (f"Connectivity(key={self.key!r}, atoms={self.n_atoms}, Zn={len(self.zn)}, "
                f"linkers={len(self.linkers)}, net_edges={len(self.net_edges)})")

    @cached_property
    def zn_position(self) -> np.ndarray:
        """(n_atoms,) position of each atom in :attr:`zn` (-1 for other atoms)."""
        out = np.full(self.n_atoms, -1)
        out[self.zn] = np.arange(len(self.zn))
        out.setflags(write=False)
        return out

    @cached_property
    def bond_limits(self) -> np.ndarray:
        """(n_bonds,) the longest each bond may be when the topology is reused (Å)."""
        b = self.bonds
        out = bond_cutoffs(self.numbers[b[:, 0]], self.numbers[b[:, 1]]) + REUSE_MARGIN
        out.setflags(write=False)
        return out


def _frame_label(atoms: Atoms) -> str:
    info = atoms.info
    name = info.get("source_file") or info.get("source")
    if "frame" in info:
        return f"{name} frame {info['frame']}" if name else f"frame {info['frame']}"
    return str(name or "frame")


def _check_atoms(connectivity: Connectivity, atoms: Atoms, of: str, label: str):
    """Same atoms in the same order as the connectivity, a 3D cell and no NaN; returns
    ``(cell, inverse)``."""
    if len(atoms) != connectivity.n_atoms:
        raise TopologyMismatchError(f"topology is for {connectivity.n_atoms} atoms, frame has "
                                    f"{len(atoms)}{of}", label)
    differ = np.flatnonzero(atoms.numbers != connectivity.numbers)
    if len(differ):
        k = differ[0]
        raise TopologyMismatchError(
            f"atom {k} is {chemical_symbols[atoms.numbers[k]]} here but "
            f"{chemical_symbols[connectivity.numbers[k]]} in the topology{of}"
            + (f"; {len(differ)} atoms differ (atoms in another order?)" if len(differ) > 1 else ""),
            label)
    cell, inverse = periodic_cell(atoms.cell.array, atoms.pbc, label)
    check_finite(atoms.positions, label)
    return cell, inverse


def _of(topology_source: str) -> str:
    return f" (topology of {topology_source})" if topology_source else ""


def _check_fits(connectivity: Connectivity, atoms: Atoms, topology_source: str):
    """The cheap checks of :meth:`ZIFTopology.at`; returns (cell, inverse, bond_shifts)."""
    label, of = _frame_label(atoms), _of(topology_source)
    cell, inverse = _check_atoms(connectivity, atoms, of, label)
    lengths, shifts = checked_bonds(connectivity, atoms.positions, cell, inverse, label, of)
    require_width(cell, float(lengths.max(initial=0.0)), label, inverse)
    return cell, inverse, shifts


def checked_bonds(connectivity: Connectivity, positions, cell, inverse=None,
                  source: str = "frame", of: str = "") -> tuple[np.ndarray, np.ndarray]:
    """Minimum-image lengths (n_bonds,) and cell shifts (n_bonds, 3) of every bond of
    ``connectivity`` in a frame; :class:`~zifviz.errors.TopologyMismatchError` when a bond is
    longer than its cutoff + :data:`REUSE_MARGIN`."""
    vectors, shifts = bond_vectors(positions, connectivity.bonds, cell, inverse)
    lengths = np.sqrt(np.einsum("ij,ij->i", vectors, vectors))
    _check_lengths(connectivity.bonds, lengths, connectivity.bond_limits, connectivity.numbers,
                   source, of)
    return lengths, shifts


def _check_lengths(pairs, lengths, limits, numbers, label: str, of: str = "") -> None:
    bad = np.flatnonzero(~(lengths <= limits))
    if not len(bad):
        return
    names = [f"{chemical_symbols[numbers[a]]} {a}–{chemical_symbols[numbers[b]]} {b} is "
             f"{lengths[k]:.2f} Å apart (bond up to {limits[k]:.2f} Å)"
             for k, (a, b) in zip(bad[:_MAX_LISTED], pairs[bad[:_MAX_LISTED]])]
    more = f" and {len(bad) - _MAX_LISTED} more" if len(bad) > _MAX_LISTED else ""
    raise TopologyMismatchError(f"{len(bad)} bonds of the topology{of} do not fit this frame: "
                                + "; ".join(names) + more, label)


# ---- per-frame geometry -------------------------------------------------------------------

def _step_table(connectivity: Connectivity, name: str):
    """Index arrays ``(a, b)`` of shape (k, m) of the bonds a geometry is chained through, and
    their reuse limits; cached on the connectivity."""
    cache = connectivity.__dict__.setdefault("_step_tables", {})
    if name not in cache:
        L, LZ = connectivity.linkers, connectivity.linker_zn
        if name == "ring":  # N1→C2→N3→C4→C5
            a, b = L[:, [0, 1, 2, 3]].T, L[:, [1, 2, 3, 4]].T
        elif name == "h":  # C2→H2, C4→H4, C5→H5
            a, b = L[:, [1, 3, 4]].T, L[:, [5, 6, 7]].T
        elif name == "net":  # Zn(N1)→N1→C2→N3→Zn(N3)
            el = connectivity.edge_linker
            za, zb = connectivity.net_edges[:, 0], connectivity.net_edges[:, 1]
            n1, c2, n3 = (L[el, c] for c in (0, 1, 2))
            a, b = np.stack([za, n1, c2, n3]), np.stack([n1, c2, n3, zb])
        else:  # "zn_n": Zn→N1 of the linkers with a Zn at N1, then Zn→N3
            has0, has1 = np.flatnonzero(LZ[:, 0] >= 0), np.flatnonzero(LZ[:, 1] >= 0)
            a = np.concatenate([LZ[has0, 0], LZ[has1, 1]])[None]
            b = np.concatenate([L[has0, 0], L[has1, 2]])[None]
        numbers = connectivity.numbers
        cache[name] = (a, b, bond_cutoffs(numbers[a], numbers[b]) + REUSE_MARGIN)
    return cache[name]


def _chain(connectivity: Connectivity, name: str, positions, cell, inverse, source: str,
           of: str = "", longest: list | None = None, first: int | None = None):
    """Minimum-image vectors (k, m, 3) of the bonds of :func:`_step_table` (of its ``first``
    columns only when given), each checked against its reuse limit; the longest length is
    appended to ``longest`` when given."""
    a, b, limits = _step_table(connectivity, name)
    if first is not None:
        a, b, limits = a[:, :first], b[:, :first], limits[:, :first]
    v, _ = minimum_image(positions[b] - positions[a], cell, inverse)
    lengths = np.sqrt(np.einsum("...i,...i->...", v, v))
    if not (lengths <= limits).all():
        _check_lengths(np.stack([a.ravel(), b.ravel()], axis=1), lengths.ravel(), limits.ravel(),
                       connectivity.numbers, source, of)
    if longest is not None:
        longest.append(float(lengths.max(initial=0.0)))
    return v


def _prepare(positions, cell, inverse):
    positions = np.asarray(positions, dtype=float)
    cell = np.asarray(cell, dtype=float)
    return positions, cell, (np.linalg.inv(cell) if inverse is None else inverse)


def unwrapped_linkers(connectivity: Connectivity, positions, cell, inverse=None,
                      ring_only: bool = False, source: str = "structure") -> np.ndarray:
    """(n_linkers, 8 or 5, 3) linker atoms made whole by chaining the minimum image of each
    bond along the ring N1–C2–N3–C4–C5 (N1 stays where it is) and from each ring C to its H.
    Right whenever the cell is wider than twice the longest bond (what
    :meth:`ZIFTopology.at` and :func:`perceive` check)."""
    positions, cell, inverse = _prepare(positions, cell, inverse)
    L = connectivity.linkers
    out = np.empty((len(L), 5 if ring_only else 8, 3))
    out[:, 0] = positions[L[:, 0]]
    out[:, 1:5] = out[:, :1] + np.cumsum(_chain(connectivity, "ring", positions, cell, inverse,
                                                source), axis=0).transpose(1, 0, 2)
    if not ring_only:
        out[:, 5:] = out[:, [1, 3, 4]] + _chain(connectivity, "h", positions, cell, inverse,
                                                 source).transpose(1, 0, 2)
    return out


def ring_centres(connectivity: Connectivity, positions, cell, inverse=None,
                 source: str = "structure", ring=None) -> tuple[np.ndarray, np.ndarray]:
    """Ring centroids wrapped into the cell (n_linkers, 3) and the cell shifts from each
    linker's Zn to its centre (n_linkers, 2, 3): vector = centres[l] + shift @ cell - r[Zn]."""
    positions, cell, inverse = _prepare(positions, cell, inverse)
    if ring is None:
        ring = unwrapped_linkers(connectivity, positions, cell, inverse, ring_only=True, source=source)
    centre_u = ring[:, :5].mean(axis=1)
    centres = wrap(centre_u, cell, inverse)
    LZ = connectivity.linker_zn
    has0, has1 = np.flatnonzero(LZ[:, 0] >= 0), np.flatnonzero(LZ[:, 1] >= 0)
    rows = np.concatenate([has0, has1])
    z = np.concatenate([LZ[has0, 0], LZ[has1, 1]])
    v = _chain(connectivity, "zn_n", positions, cell, inverse, source)[0]
    v += centre_u[rows] - ring[rows, np.repeat([0, 2], [len(has0), len(has1)])]  # Zn→N→centre
    s = np.rint((v - (centres[rows] - positions[z])) @ inverse).astype(np.int64)
    shifts = np.zeros((len(LZ), 2, 3), dtype=np.int64)
    shifts[has0, 0], shifts[has1, 1] = s[:len(has0)], s[len(has0):]
    return centres, shifts


_PROBE_BONDS = 8


def fitted_ring_centres(connectivity: Connectivity, atoms: Atoms,
                        topology_source: str = "") -> np.ndarray:
    """Ring centroids of ``atoms`` wrapped into the cell (n_linkers, 3), through a known
    connectivity, checking what they rest on: the same atoms in the same order, a 3D cell,
    no NaN, every Zn–N and ring bond within :data:`REUSE_MARGIN` of its cutoff and a cell
    wider than twice the longest of them. C–H bonds are not looked at (the AB2 beads do not
    depend on them); :meth:`ZIFTopology.at` checks every bond. The centres equal
    ``topology.at(atoms).centres``; :class:`~zifviz.errors.TopologyMismatchError` when the
    frame does not fit."""
    label, of = _frame_label(atoms), _of(topology_source)
    cell, inverse = _check_atoms(connectivity, atoms, of, label)
    positions = np.asarray(atoms.positions, dtype=float)
    # a few Zn–N bonds first: another framework with the same atom list fails here, cheaply
    _chain(connectivity, "zn_n", positions, cell, inverse, label, of, first=_PROBE_BONDS)
    longest: list[float] = []
    _chain(connectivity, "zn_n", positions, cell, inverse, label, of, longest)
    steps = _chain(connectivity, "ring", positions, cell, inverse, label, of, longest)
    require_width(cell, max(longest), label, inverse)
    ring = np.empty((len(connectivity.linkers), 5, 3))
    ring[:, 0] = positions[connectivity.linkers[:, 0]]
    ring[:, 1:] = ring[:, :1] + np.cumsum(steps, axis=0).transpose(1, 0, 2)
    return wrap(ring.mean(axis=1), cell, inverse)


def net_shifts(connectivity: Connectivity, positions, cell, inverse=None,
               source: str = "structure") -> np.ndarray:
    """(n_edges, 3) cell shifts of the net edges (edge vector = r[b] + shift @ cell - r[a]),
    chained through the bonds Zn–N1–C2–N3–Zn: right in any cell wider than twice the
    longest bond, even one narrower than a Zn···Zn edge."""
    positions, cell, inverse = _prepare(positions, cell, inverse)
    za, zb = connectivity.net_edges[:, 0], connectivity.net_edges[:, 1]
    v = _chain(connectivity, "net", positions, cell, inverse, source).sum(axis=0)
    return np.rint((v - (positions[zb] - positions[za])) @ inverse).astype(np.int64).reshape(-1, 3)


class ZIFTopology:
    """The perceived chemistry of one ZIF structure: its :class:`Connectivity` plus the
    geometry of one frame (all indices refer to the atomistic ``Atoms``).

    Connectivity attributes (``zn``, ``linkers``, ``linker_zn``, ``role``, ``bonds``,
    ``coordination``, ``net_edges``, ``edge_linker``) are shared by every frame; geometry
    attributes (``linker_positions``, ``centres``, ``centre_shifts``, ``bond_shifts``,
    ``net_shifts``) are computed from ``positions`` and ``cell`` when first used.
    """

    def __init__(self, connectivity: Connectivity, positions: np.ndarray, cell: np.ndarray,
                 source: str = "", bond_shifts: np.ndarray | None = None):
        self.connectivity = connectivity
        self.positions = np.array(positions, dtype=float)
        self.positions.setflags(write=False)
        self.cell = np.array(cell, dtype=float)
        self.source = source
        self.extra: dict = {}
        self._inverse = np.linalg.inv(self.cell)
        if bond_shifts is not None:
            self.__dict__["bond_shifts"] = bond_shifts

    # connectivity, shared by every frame
    n_atoms = property(lambda self: self.connectivity.n_atoms)
    numbers = property(lambda self: self.connectivity.numbers)
    zn = property(lambda self: self.connectivity.zn)
    linkers = property(lambda self: self.connectivity.linkers)
    linker_zn = property(lambda self: self.connectivity.linker_zn)
    role = property(lambda self: self.connectivity.role)
    bonds = property(lambda self: self.connectivity.bonds)
    coordination = property(lambda self: self.connectivity.coordination)
    net_edges = property(lambda self: self.connectivity.net_edges)
    edge_linker = property(lambda self: self.connectivity.edge_linker)

    @property
    def n_zn(self) -> int:
        return len(self.zn)

    @property
    def n_linkers(self) -> int:
        return len(self.linkers)

    # geometry of this frame, computed when first used
    @cached_property
    def linker_positions(self) -> np.ndarray:
        """(n_linkers, 8, 3) linker atoms unwrapped (whole molecules; N1 where it is)."""
        return unwrapped_linkers(self.connectivity, self.positions, self.cell, self._inverse,
                                 source=self.source)

    @cached_property
    def _centres(self):
        ring = self.__dict__.get("linker_positions")
        return ring_centres(self.connectivity, self.positions, self.cell, self._inverse,
                            source=self.source, ring=ring)

    @property
    def centres(self) -> np.ndarray:
        """(n_linkers, 3) ring centroids (mean of the five ring atoms), wrapped into the cell."""
        return self._centres[0]

    @property
    def centre_shifts(self) -> np.ndarray:
        """(n_linkers, 2, 3) cell shifts from ``linker_zn[l, k]`` to centre l:
        vector = centres[l] + shift @ cell - r[Zn]."""
        return self._centres[1]

    @cached_property
    def bond_shifts(self) -> np.ndarray:
        """(n_bonds, 3) integer cell shifts: bond vector = r[j] + shift @ cell - r[i]."""
        return bond_vectors(self.positions, self.bonds, self.cell, self._inverse)[1]

    @cached_property
    def net_shifts(self) -> np.ndarray:
        """(n_edges, 3) cell shifts: edge vector = r[b] + shift @ cell - r[a]."""
        return net_shifts(self.connectivity, self.positions, self.cell, self._inverse, self.source)

    def at(self, atoms: Atoms) -> "ZIFTopology":
        """This connectivity with the geometry of ``atoms`` (another frame of the same
        trajectory), after checking that it fits: same atomic numbers in the same order,
        every bond within :data:`REUSE_MARGIN` of its cutoff, a 3D cell wider than twice the
        longest bond, no NaN. Raises :class:`~zifviz.errors.TopologyMismatchError` otherwise.

        The margin is for bonds that stretch, not for bonds that break: with a reactive model
        (Zn–N bonds that open in a melt), perceive every frame instead."""
        cell, _, shifts = _check_fits(self.connectivity, atoms, self.source)
        return ZIFTopology(self.connectivity, atoms.positions, cell, self.source, bond_shifts=shifts)

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
                f"linkers={s['linkers']}, net_edges={s['net_edges']}, "
                f"key={self.connectivity.key!r})")


# ---- perception, step by step -------------------------------------------------------------

def _fail(problem: str, items, source: str):
    items = list(items)
    listed = ", ".join(str(x) for x in items[:_MAX_LISTED])
    more = f" and {len(items) - _MAX_LISTED} more" if len(items) > _MAX_LISTED else ""
    raise PerceptionError(f"{problem}: {listed}{more}" if items else problem, source)


def _formula(counts: dict[str, int]) -> str:
    """Hill formula (C, H, then alphabetical)."""
    order = [el for el in ("C", "H") if counts.get(el)] + sorted(
        el for el in counts if el not in ("C", "H") and counts[el])
    return "".join(f"{el}{counts[el] if counts[el] > 1 else ''}" for el in order)


def _type_map_hint(n_bad: int, n_groups: int, atoms: Atoms, found: str) -> str:
    if n_bad * 2 < n_groups:
        return ""
    return (f". Most organic groups ({n_bad} of {n_groups}) are not imidazolate (most common "
            f"formula {found}; structure {atoms.get_chemical_formula()}): if this structure was "
            "read from a LAMMPS file, the element map (type_map) may be wrong")


@dataclass
class _Graph:
    """The covalent graph of the non-Zn atoms and the Zn–N contacts."""
    ci: np.ndarray
    cj: np.ndarray
    zi: np.ndarray
    ni: np.ndarray
    dzn: np.ndarray
    organic: np.ndarray
    component: np.ndarray  # (n_organic,) component label of each organic atom, 0..n_comp-1
    counts: list  # per component: {element: count}


def _covalent_graph(atoms: Atoms, source: str) -> _Graph:
    """Bonds split into the organic covalent graph (its connected components and their
    formulas) and the Zn–N contacts. Other Zn contacts are ignored."""
    i, j, _, d = _bonded(atoms, source)
    numbers = atoms.numbers
    is_zn = numbers == _ZN
    organic_pair = ~is_zn[i] & ~is_zn[j]
    ci, cj = i[organic_pair], j[organic_pair]
    zn_n = (is_zn[i] & (numbers[j] == _N)) | (is_zn[j] & (numbers[i] == _N))
    zi = np.where(is_zn[i[zn_n]], i[zn_n], j[zn_n])
    ni = np.where(is_zn[i[zn_n]], j[zn_n], i[zn_n])
    n = len(atoms)
    graph = coo_matrix((np.ones(len(ci)), (ci, cj)), shape=(n, n))
    _, comp = connected_components(graph, directed=False)
    organic = np.flatnonzero(~is_zn)
    labels, component = np.unique(comp[organic], return_inverse=True)
    present = np.unique(numbers[organic])
    table = np.zeros((len(labels), len(present)), dtype=int)
    np.add.at(table, (component, np.searchsorted(present, numbers[organic])), 1)
    names = [chemical_symbols[z] for z in present]
    counts = [{el: int(c) for el, c in zip(names, row) if c} for row in table]
    return _Graph(ci, cj, zi, ni, d[zn_n], organic, component, counts)


def _substituent_position(atoms: Atoms, graph: _Graph, comp: int) -> str:
    """'2-' when the substituent of a substituted imidazolate sits on C2 (the C bonded to
    both N), '4-' when on C4/C5, '' when that cannot be told."""
    members = set(graph.organic[graph.component == comp].tolist())
    nbrs: dict[int, list[int]] = {a: [] for a in members}
    for a, b in zip(graph.ci, graph.cj):
        if a in members:
            nbrs[a].append(b)
            nbrs[b].append(a)
    sym = atoms.get_chemical_symbols()
    ring_c = [a for a in members if sym[a] == "C"
              and sum(sym[b] == "N" for b in nbrs[a]) >= 1 and sum(sym[b] in "CN" for b in nbrs[a]) >= 2]
    for c in ring_c:
        outside = [b for b in nbrs[c] if sym[b] not in ("H", "N") and b not in ring_c]
        if outside:
            return "2-" if sum(sym[b] == "N" for b in nbrs[c]) == 2 else "4-"
    return ""


def _identify_linkers(atoms: Atoms, graph: _Graph, source: str) -> None:
    """Every organic component must be one imidazolate C3H3N2; otherwise say what it is:
    rings without H, substituted imidazolates, broken linkers, guests."""
    want = {"C": 3, "H": 3, "N": 2}
    bad = [b for b, c in enumerate(graph.counts) if c != want]
    if not bad:
        return
    n_groups = len(graph.counts)
    if all(graph.counts[b].get("H", 0) == 0 and graph.counts[b].get("C", 0) >= 3 for b in bad):
        _fail(f"{len(bad)} imidazolate rings have no hydrogen atoms (e.g. a CIF from X-ray "
              "diffraction without H); add the H atoms before loading", [], source)
    on_zn = np.zeros(n_groups, dtype=bool)
    org_pos = np.full(len(atoms), -1)
    org_pos[graph.organic] = graph.component
    touched = org_pos[graph.ni]
    on_zn[touched[touched >= 0]] = True
    formulas = {b: _formula(graph.counts[b]) for b in bad}
    found = Counter(formulas.values()).most_common(1)[0][0]
    hint = _type_map_hint(len(bad), n_groups, atoms, found)

    substituted = [b for b in bad if on_zn[b] and formulas[b] in SUBSTITUTED_LINKERS]
    if substituted and len(substituted) * 2 >= len([b for b in bad if on_zn[b]]):
        kinds = Counter(formulas[b] for b in substituted)
        parts = []
        for formula, count in kinds.most_common():
            name, position, like = SUBSTITUTED_LINKERS[formula]
            first = next(b for b in substituted if formulas[b] == formula)
            where = _substituent_position(atoms, graph, first)
            like = f", {like}" if like and (where == position or not where) else ""
            parts.append(f"{count} {where}{name} linker{'s' if count > 1 else ''} ({formula}{like})")
        verb = "is" if len(substituted) == 1 else "are"
        raise PerceptionError(" and ".join(parts) + f" {verb} not supported: zifviz handles "
                              "unsubstituted imidazolate, Zn(C3H3N2)2", source)

    def describe(b):
        members = graph.organic[graph.component == b]
        return f"{formulas[b]} (atoms {members[:8].tolist()})"

    broken = [b for b in bad if on_zn[b]]
    if broken:
        _fail(f"{len(broken)} broken or incomplete linkers bonded to Zn (expected C3H3N2 "
              f"imidazolate){hint}", [describe(b) for b in broken], source)
    guests = [b for b in bad if not on_zn[b]]
    _fail(f"{len(guests)} guest or solvent molecules not bonded to Zn; remove guests "
          f"before loading{hint}", [describe(b) for b in guests], source)


def _assign_roles(atoms: Atoms, graph: _Graph, source: str) -> np.ndarray:
    """Linkers (n_linkers, 8) in :data:`LINKER_ROLES` order and the role of every atom."""
    numbers = atoms.numbers
    n = len(atoms)
    ci, cj, organic = graph.ci, graph.cj, graph.organic
    code = np.select([numbers == 6, numbers == _N, numbers == _H], [0, 1, 2], 3)
    nbr = np.zeros((n, 4), dtype=int)
    np.add.at(nbr, (ci, code[cj]), 1)
    np.add.at(nbr, (cj, code[ci]), 1)
    isC, isN, isH = code == 0, code == 1, code == 2
    role = np.full(n, "", dtype=object)
    role[numbers == _ZN] = "Zn"
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

    unassigned = organic[role[organic] == ""]
    if len(unassigned):
        symbols = atoms.get_chemical_symbols()
        hint = ""
        if len(unassigned) * 2 >= len(organic):
            hint = (f" (most of the {len(organic)} organic atoms; structure "
                    f"{atoms.get_chemical_formula()}): if this structure was read from a LAMMPS "
                    "file, the element map (type_map) may be wrong")
        _fail(f"{len(unassigned)} atoms in C3H3N2 groups are not bonded like an imidazolate "
              f"ring{hint}", [f"{symbols[a]}{a}" for a in unassigned], source)

    role_rank = {"N": 0, "C2": 1, "C45": 2, "H2": 3, "H45": 4}
    rank = np.array([role_rank[r] for r in role[organic]])
    order = np.lexsort((organic, rank, graph.component))
    grouped = organic[order].reshape(-1, 8)  # N, N, C2, C45, C45, H2, H45, H45
    n1, n3, c2, ca, cb, h2, ha, hb = grouped.T
    swap = c45_n[ca] == n1  # C5 is the C45 bonded to N1, C4 the one bonded to N3
    c4, c5 = np.where(swap, cb, ca), np.where(swap, ca, cb)
    h_swap = partner[ha] == c5
    h4, h5 = np.where(h_swap, hb, ha), np.where(h_swap, ha, hb)
    linkers = np.stack([n1, c2, n3, c4, c5, h2, h4, h5], axis=1)
    ok = (c45_n[c4] == n3) & (c45_n[c5] == n1) & (partner[h4] == c4) & (partner[h5] == c5)
    if not ok.all():
        _fail("linkers whose atoms are not connected as an imidazolate ring",
              [linkers[k].tolist() for k in np.flatnonzero(~ok)], source)
    return linkers, role.astype(str)


def _assign_zn_n(n_atoms: int, zn: np.ndarray, graph: _Graph):
    """Zn–N bonds (an N within range of two Zn keeps the nearest): (zi, ni, coordination)."""
    zi, ni, dzn = graph.zi, graph.ni, graph.dzn
    n_count = np.bincount(ni, minlength=n_atoms)
    if (n_count > 1).any():
        keep = np.ones(len(ni), dtype=bool)
        for a in np.flatnonzero(n_count > 1):
            rows = np.flatnonzero(ni == a)
            keep[rows[np.argsort(dzn[rows])[1:]]] = False
        zi, ni = zi[keep], ni[keep]
    zn_pos = np.full(n_atoms, -1)
    zn_pos[zn] = np.arange(len(zn))
    return zi, ni, np.bincount(zn_pos[zi], minlength=len(zn))


def _warn_coordination(coordination: np.ndarray, source: str) -> None:
    """Warn about Zn that do not have exactly four N neighbours."""
    n = len(coordination)
    low, high = coordination < 4, coordination > 4
    if low.any():
        warnings.warn(UnderCoordinatedZnWarning(
            f"{source}: {int(low.sum())} of {n} Zn have fewer than four N neighbours "
            f"(coordination {sorted(set(coordination[low].tolist()))}); normal for glasses and "
            "liquids"), stacklevel=3)
    if high.any():
        warnings.warn(OverCoordinatedZnWarning(
            f"{source}: {int(high.sum())} of {n} Zn have more than four N within "
            f"{ZN_N_CUTOFF} Å (coordination {sorted(set(coordination[high].tolist()))}); "
            "a distorted or overlapping structure?"), stacklevel=3)


def perceive(atoms: Atoms, source: str | None = None) -> ZIFTopology:
    """Find Zn–N bonds, imidazolate linkers and the Zn–Zn net of a Zn(Im)2 framework.

    Parameters
    ----------
    atoms: a periodic structure (positions in Å).
    source: name used in messages; defaults to ``atoms.info["source"]``.

    Raises
    ------
    StructureError: no periodic cell, NaN coordinates, overlapping atoms, a cell narrower
        than twice the longest bond.
    PerceptionError: no Zn, missing H, substituted or broken linkers, guest molecules.

    Warns
    -----
    UnderCoordinatedZnWarning: some Zn have fewer than four N (glasses, liquids).
    OverCoordinatedZnWarning: some Zn have more than four N.
    """
    source = source or str(atoms.info.get("source", "structure"))
    cell, _ = periodic_cell(atoms.cell.array, atoms.pbc, source)
    zn = np.flatnonzero(atoms.numbers == _ZN)
    if not len(zn):
        _fail(f"no Zn atoms (formula {atoms.get_chemical_formula()}); not a Zn(Im)2 framework "
              "(if read from a LAMMPS file, check the element map, type_map)", [], source)
    graph = _covalent_graph(atoms, source)
    _identify_linkers(atoms, graph, source)
    linkers, role = _assign_roles(atoms, graph, source)
    zi, ni, coordination = _assign_zn_n(len(atoms), zn, graph)
    _warn_coordination(coordination, source)

    zn_of_n = np.full(len(atoms), -1)
    zn_of_n[ni] = zi
    linker_zn = np.stack([zn_of_n[linkers[:, 0]], zn_of_n[linkers[:, 2]]], axis=1)
    edge_linker = np.flatnonzero((linker_zn >= 0).all(axis=1))
    bonds = np.stack([np.concatenate([graph.ci, np.minimum(zi, ni)]),
                      np.concatenate([graph.cj, np.maximum(zi, ni)])], axis=1)
    bonds = bonds[np.lexsort((bonds[:, 1], bonds[:, 0]))]  # canonical: the same for every frame
    connectivity = Connectivity(numbers=atoms.numbers.copy(), zn=zn, linkers=linkers,
                                linker_zn=linker_zn, role=role, bonds=bonds,
                                coordination=coordination,
                                net_edges=linker_zn[edge_linker].reshape(-1, 2),
                                edge_linker=edge_linker)
    vectors, shifts = bond_vectors(atoms.positions, bonds, cell)
    require_width(cell, float(np.linalg.norm(vectors, axis=1).max(initial=0.0)), source)
    return ZIFTopology(connectivity, atoms.positions, cell, source, bond_shifts=shifts)


def annotate(atoms: Atoms, topology: ZIFTopology | None = None) -> Atoms:
    """Add per-atom arrays ``role`` (str), ``coordination`` (float, NaN off Zn) and ``linker``
    (int, -1 for Zn) to ``atoms`` in place, for colouring and filtering; returns ``atoms``."""
    topo = topology.at(atoms) if topology is not None else perceive(atoms)
    n = len(atoms)
    coord = np.full(n, np.nan)
    coord[topo.zn] = topo.coordination
    linker = np.full(n, -1, dtype=int)
    linker[topo.linkers.ravel()] = np.repeat(np.arange(topo.n_linkers), 8)
    atoms.arrays["role"] = topo.role.astype("U3")
    atoms.arrays["coordination"] = coord
    atoms.arrays["linker"] = linker
    return atoms
