"""Per-atom energies → per-linker and per-Zn local-environment energies (seed 000).

ε_local(i) = ε_Zn(i) + ½ Σ_j ε_Im(j) over the linkers j bonded to Zn i, where ε_Im(j) is
the sum of the per-atom energies of the eight C, N, H atoms of linker j. A linker bonded
to only one Zn (a dangling linker in a glass) gives all of its energy to that Zn, so that
Σ_i ε_local(i) is always the total energy.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms

from .errors import StructureError, TopologyMismatchError
from .io import ENERGY_KEY
from .topology import ZIFTopology


def atom_energies(atoms: Atoms) -> np.ndarray | None:
    """The per-atom energies (eV) of ``atoms``, or None when it has none."""
    e = atoms.arrays.get(ENERGY_KEY)
    if e is None:
        return None
    e = np.asarray(e, dtype=float)
    if e.shape != (len(atoms),):
        raise StructureError(f"per-atom '{ENERGY_KEY}' has shape {e.shape}, expected "
                             f"({len(atoms)},)", str(atoms.info.get("source", "structure")))
    return e


def _check_length(energies: np.ndarray, topology: ZIFTopology) -> None:
    if np.shape(energies) != (topology.n_atoms,):
        raise TopologyMismatchError(f"per-atom energies have shape {np.shape(energies)}, the "
                                    f"topology is for {topology.n_atoms} atoms", topology.source)


def linker_energies(energies: np.ndarray, topology: ZIFTopology) -> np.ndarray:
    """ε_Im(j): the summed energy of the atoms of each linker, shape (n_linkers,)."""
    _check_length(energies, topology)
    return energies[topology.linkers].sum(axis=1)


def local_energies(energies: np.ndarray, topology: ZIFTopology) -> np.ndarray:
    """ε_local(i) for every Zn, in the order of ``topology.zn``, shape (n_zn,)."""
    _check_length(energies, topology)
    zn_pos = np.full(topology.n_atoms, -1)
    zn_pos[topology.zn] = np.arange(topology.n_zn)
    local = energies[topology.zn].astype(float).copy()
    e_im = linker_energies(energies, topology)
    owners = topology.linker_zn
    n_owners = (owners >= 0).sum(axis=1)
    if (n_owners == 0).any():
        raise StructureError(f"{int((n_owners == 0).sum())} linkers are bonded to no Zn; "
                             "their energy belongs to no local environment", topology.source)
    share = e_im / n_owners
    for col in range(2):
        has = owners[:, col] >= 0
        np.add.at(local, zn_pos[owners[has, col]], share[has])
    return local


def unaccounted_energy(energies: np.ndarray, topology: ZIFTopology) -> float:
    """Energy of atoms that belong to no Zn and no linker (0 for a clean Zn(Im)2 framework)."""
    _check_length(energies, topology)
    used = np.zeros(topology.n_atoms, dtype=bool)
    used[topology.zn] = True
    used[topology.linkers.ravel()] = True
    return float(energies[~used].sum())


REFERENCE_KEY = "zni_energy_per_zn"
"""``atoms.info`` key of the reference energy per Zn(Im)2 unit (relaxed ZIF-zni, as in seed 000)."""


def referenced(atoms: Atoms, energy_per_zn: float | None = None) -> Atoms:
    """A copy of ``atoms`` with energies relative to a reference per Zn(Im)2 unit.

    Each Zn's per-atom energy is lowered by ``energy_per_zn`` (default
    ``atoms.info["zni_energy_per_zn"]``, the relaxed ZIF-zni energy per Zn in the demo data),
    so that ε_local, and every bead energy carrying it, are relative to ZIF-zni as in seed
    000; the total drops by n_Zn × ``energy_per_zn``.
    """
    source = str(atoms.info.get("source", "structure"))
    if energy_per_zn is None:
        if REFERENCE_KEY not in atoms.info:
            raise StructureError(f"no info['{REFERENCE_KEY}']: pass energy_per_zn", source)
        energy_per_zn = float(atoms.info[REFERENCE_KEY])
    energies = atom_energies(atoms)
    if energies is None:
        raise StructureError(f"no per-atom '{ENERGY_KEY}' to reference", source)
    out = atoms.copy()
    is_zn = out.numbers == 30
    out.arrays[ENERGY_KEY] = energies - np.where(is_zn, energy_per_zn, 0.0)
    if "energy" in out.info:
        out.info["energy"] = float(out.info["energy"]) - energy_per_zn * int(is_zn.sum())
    out.info["energy_reference_per_zn"] = energy_per_zn
    return out
