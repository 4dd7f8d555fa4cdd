"""Coarse-graining a ZIF to the AB2 or A-only picture (seed 000).

* ``atomistic``: every atom (a copy, tagged with the level).
* ``AB2``: an A bead on each Zn and a B bead at each imidazolate ring centre (centroid of
  the five ring atoms, computed across periodic boundaries). 51 coordinates per Zn(Im)2
  become 9.
* ``A``: the Zn only.

A beads keep the element symbol Zn; B beads use :data:`B_SYMBOL` (the seed's authors
wrote cg Zn as Si and B as O). Each bead refers back to its atoms through the array
``parent`` (Zn atom index for A beads, linker index for B beads; see :func:`bead_atoms`).
When the input has per-atom energies, the beads carry them: A = ε_Zn, B = ε_Im at AB2,
A = ε_local at A-only, so that the bead energies always sum to the total energy; A beads
also carry ``local_energy`` = ε_local.

:func:`level_geometry` gives the beads and bonds of a frame at a level straight from its
positions and cell (no ``Atoms``), for the viewer and per-frame descriptors.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms

from .energetics import atom_energies, linker_energies, local_energies
from .errors import TopologyMismatchError, ZifvizError
from .geometry import check_finite, periodic_cell
from .io import ENERGY_KEY
from .topology import (Connectivity, ZIFTopology, checked_bonds, net_shifts, perceive,
                       ring_centres)

LEVELS = ("atomistic", "AB2", "A")
"""The three resolutions, finest first."""

LEVEL_LABELS = {"atomistic": "atomistic", "AB2": "AB2", "A": "A-only"}
"""How each level is named in the viewer's toggle, legends and plots."""

B_SYMBOL = "O"
"""Element symbol used for B beads (ring centres)."""

_ALIASES = {"atomistic": "atomistic", "full": "atomistic", "aa": "atomistic", "all-atom": "atomistic",
            "ab2": "AB2", "a": "A", "a-only": "A", "a_only": "A", "zn": "A"}
_NOT_CARRIED = {"numbers", "positions", "momenta", "masses", "initial_magmoms", "initial_charges",
                ENERGY_KEY, "local_energy", "bead", "parent", "linker"}


def normalise_level(level: str) -> str:
    """Map user spellings ('ab2', 'A-only', 'full', ...) to one of :data:`LEVELS`."""
    key = str(level).strip().lower()
    if key not in _ALIASES:
        raise ZifvizError(f"unknown coarse-graining level {level!r}; choose one of {LEVELS}")
    return _ALIASES[key]


def level_of(atoms: Atoms) -> str:
    """The coarse-graining level recorded in ``atoms.info`` (atomistic if none)."""
    return atoms.info.get("cg_level", "atomistic")


def _carry_zn_arrays(atoms: Atoms, cg: Atoms, zn: np.ndarray, n_b: int) -> None:
    for key, values in atoms.arrays.items():
        if key in _NOT_CARRIED or values.ndim != 1:
            continue
        a_values = values[zn]
        if values.dtype.kind in "biuf":
            cg.arrays[key] = np.concatenate([a_values.astype(float), np.full(n_b, np.nan)])
        elif values.dtype.kind == "U":
            cg.arrays[key] = np.concatenate([a_values, np.full(n_b, "", dtype=values.dtype)])


def coarse_grain(atoms: Atoms, level: str, topology: ZIFTopology | None = None) -> Atoms:
    """The structure at a coarse-graining level (see the module docstring).

    Parameters
    ----------
    atoms: an atomistic Zn(Im)2 structure.
    level: ``"atomistic"``, ``"AB2"`` or ``"A"``.
    topology: its perceived topology, perhaps of another frame of the same trajectory (the
        bead positions always come from ``atoms``); perceived here when not given.
    """
    level = normalise_level(level)
    if level_of(atoms) != "atomistic":
        raise ZifvizError(f"structure is already coarse-grained ({level_of(atoms)}); "
                          "coarse-grain the atomistic structure",
                          str(atoms.info.get("source", "structure")))
    if level == "atomistic":
        out = atoms.copy()
        out.info["cg_level"] = "atomistic"
        return out
    topo = topology.at(atoms) if topology is not None else perceive(atoms)
    zn = topo.zn
    n_b = topo.n_linkers if level == "AB2" else 0
    positions = atoms.positions[zn]
    symbols = ["Zn"] * len(zn)
    if n_b:
        positions = np.vstack([positions, topo.centres])
        symbols += [B_SYMBOL] * n_b
    cg = Atoms(symbols, positions=positions, cell=atoms.cell, pbc=atoms.pbc)
    cg.info.update({k: v for k, v in atoms.info.items() if k != "occupancy"})
    cg.info["cg_level"] = level
    cg.arrays["bead"] = np.array(["A"] * len(zn) + ["B"] * n_b)
    cg.arrays["parent"] = np.concatenate([zn, np.arange(n_b)]).astype(int)
    _carry_zn_arrays(atoms, cg, zn, n_b)

    energies = atom_energies(atoms)
    if energies is not None:
        local = local_energies(energies, topo)
        if level == "AB2":
            cg.arrays[ENERGY_KEY] = np.concatenate([energies[zn], linker_energies(energies, topo)])
            cg.arrays["local_energy"] = np.concatenate([local, np.full(n_b, np.nan)])
        else:
            cg.arrays[ENERGY_KEY] = local
            cg.arrays["local_energy"] = local.copy()
    return cg


def _level_pairs(connectivity: Connectivity, level: str) -> tuple[np.ndarray, list]:
    """Bead pairs of a level and, at AB2, which (linker, end) each A–B pair comes from."""
    zn_pos = connectivity.zn_position
    if level == "atomistic":
        return connectivity.bonds, []
    if level == "A":
        return zn_pos[connectivity.net_edges].reshape(-1, 2), []
    pairs, ends = [], []
    n_zn = len(connectivity.zn)
    for k in range(2):
        has = np.flatnonzero(connectivity.linker_zn[:, k] >= 0)
        pairs.append(np.stack([zn_pos[connectivity.linker_zn[has, k]], n_zn + has], axis=1))
        ends.append((has, k))
    return np.concatenate(pairs), ends


def net_bonds(topology: ZIFTopology, level: str,
              atoms: Atoms | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Bonds of the coarse-grained net, in the bead indexing of :func:`coarse_grain`.

    With ``atoms`` (the atomistic frame, e.g. of a trajectory whose topology was perceived on
    another frame), the topology is checked against that frame (:meth:`ZIFTopology.at`) and
    the cell shifts are those of that frame.

    Returns ``(pairs, shifts)``: (n, 2) bead indices and (n, 3) integer cell shifts such that
    the bond vector is ``r[j] + shift @ cell - r[i]``. A–B bonds at AB2, A–A bonds at A-only,
    and the covalent bonds (Zn–N included) at the atomistic level.
    """
    level = normalise_level(level)
    if atoms is not None:
        topology = topology.at(atoms)
    pairs, ends = _level_pairs(topology.connectivity, level)
    if level == "atomistic":
        return pairs.copy(), topology.bond_shifts.copy()
    if level == "A":
        return pairs, topology.net_shifts.copy()
    return pairs, np.concatenate([topology.centre_shifts[has, k] for has, k in ends])


def level_geometry(topology: ZIFTopology | Connectivity, positions: np.ndarray, cell: np.ndarray,
                   level: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Beads and bonds of one frame at one level, without building ``Atoms``.

    Parameters
    ----------
    topology: a perceived topology (or its connectivity), perhaps of another frame.
    positions: (n_atoms, 3) atomistic positions of the frame (float32 is fine).
    cell: (3, 3) its cell.
    level: ``"atomistic"``, ``"AB2"`` or ``"A"`` (any spelling :func:`normalise_level` knows).

    Returns ``(bead_positions (m, 3), pairs (k, 2), shifts (k, 3))`` in the bead order of
    :func:`coarse_grain` and the bond order of :func:`net_bonds`; bond vector
    ``p[j] + shift @ cell - p[i]``. Only what the level needs is computed (A-only: the Zn
    positions and the net shifts). The bonds used are checked (a
    :class:`~zifviz.errors.TopologyMismatchError` when one is far too long); atomic numbers
    are not known here: :meth:`ZIFTopology.at` checks those.
    """
    level = normalise_level(level)
    conn = topology.connectivity if isinstance(topology, ZIFTopology) else topology
    source = getattr(topology, "source", "") or "frame"
    positions = np.asarray(positions, dtype=float)
    if positions.shape != (conn.n_atoms, 3):
        raise TopologyMismatchError(f"topology is for {conn.n_atoms} atoms, positions have shape "
                                    f"{positions.shape}", source)
    cell, inverse = periodic_cell(cell, True, source)
    check_finite(positions, source)
    pairs, ends = _level_pairs(conn, level)
    if level == "atomistic":
        _, shifts = checked_bonds(conn, positions, cell, inverse, source)
        return positions, pairs, shifts
    if level == "A":
        return positions[conn.zn], pairs, net_shifts(conn, positions, cell, inverse, source)
    centres, centre_shifts = ring_centres(conn, positions, cell, inverse, source)
    shifts = np.concatenate([centre_shifts[has, k] for has, k in ends])
    return np.vstack([positions[conn.zn], centres]), pairs, shifts


def bead_atoms(cg: Atoms, topology: ZIFTopology) -> list[np.ndarray]:
    """For each bead of ``cg``, the indices of the atomistic atoms it stands for."""
    out = []
    for kind, parent in zip(cg.arrays["bead"], cg.arrays["parent"]):
        out.append(np.array([parent]) if kind == "A" else topology.linkers[parent].copy())
    return out
