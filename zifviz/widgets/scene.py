"""What the 3D viewer draws, per frame and level, as plain arrays (no widgets here).

:class:`SceneModel` wraps a structure or a trajectory and answers, for a frame and a level
(``"atomistic"``, ``"AB2"``, ``"A"``):

* :meth:`SceneModel.static` — what does not change from frame to frame: one item per atom or
  bead with its element, sphere radius, kind (atom, A or B bead) and what it stands for
  (atomistic atom, Zn rank, linker);
* :meth:`SceneModel.geometry` — what does: float32 positions, bonds as index pairs plus
  integer cell shifts (bond vector ``r[j] + shift @ cell - r[i]``) and the cell.

Bonds and bead positions come from the topology (:func:`zifviz.coarse.level_geometry` when
available, else :meth:`ZIFTopology.at` + :func:`zifviz.coarse.net_bonds`); a structure that
is not a ZIF is drawn atomistic with covalent bonds by distance. Frames of a
:class:`zifviz.Trajectory` are read through its fast ``positions(i)`` / ``cell(i)``
accessors when it has them, so stepping through frames does not build ``Atoms``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from ase import Atoms

from ..coarse import B_SYMBOL, LEVELS, level_geometry, normalise_level
from ..errors import ZifvizError
from ..topology import checked_bonds
from ..topology import covalent_bonds as topology_covalent_bonds

__all__ = ["SceneModel", "LevelStatic", "LevelGeometry", "RADII", "BOND_RADII",
           "frames_of", "covalent_bonds"]

#: sphere radius (Å) of each element drawn at each level; "*" = any other element
RADII = {"atomistic": {"Zn": 0.45, "*": 0.28},
         "AB2": {"Zn": 0.85, B_SYMBOL: 0.55, "*": 0.55},
         "A": {"Zn": 0.85, "*": 0.55}}
#: bond (stick) radius at each level
BOND_RADII = {"atomistic": 0.12, "AB2": 0.16, "A": 0.22}


def frames_of(structure) -> Sequence:
    """``structure`` as a sequence of frames (one Atoms, a list, a Trajectory)."""
    if isinstance(structure, Atoms):
        return [structure]
    if isinstance(structure, (str, bytes, os.PathLike)):
        raise TypeError("StructureViewer needs structures, not a file name: read it first "
                        "with zifviz.read(path) or zifviz.Trajectory(path)")
    if hasattr(structure, "__len__") and hasattr(structure, "__getitem__"):
        if len(structure) == 0:
            raise ValueError("StructureViewer: the trajectory has no frames")
        if not _has_fast_access(structure) and not isinstance(structure[0], Atoms):
            raise TypeError("StructureViewer: the frames must be ase.Atoms, not "
                            f"{type(structure[0]).__name__}")
        return structure
    raise TypeError(
        "StructureViewer needs an ase.Atoms, a sequence of Atoms or a zifviz.Trajectory, "
        f"not {type(structure).__name__}")


def _has_fast_access(frames) -> bool:
    return callable(getattr(frames, "positions", None)) and callable(getattr(frames, "cell", None))


def covalent_bonds(atoms: Atoms) -> tuple[np.ndarray, np.ndarray]:
    """Bonds of any structure, each once, with cell shifts (the one bond rule of
    :func:`zifviz.topology.covalent_bonds`), as int arrays."""
    pairs, shifts = topology_covalent_bonds(atoms)
    return np.asarray(pairs, int).reshape(-1, 2), np.asarray(shifts, int).reshape(-1, 3)


@dataclass(frozen=True)
class LevelStatic:
    """The items (atoms or beads) drawn at one level; frame-independent."""

    level: str
    numbers: np.ndarray  #: (m,) atomic number of each item (B beads: B_SYMBOL)
    radii: np.ndarray  #: (m,) float32 sphere radii
    kind: np.ndarray  #: (m,) "atom", "A" or "B"
    atom: np.ndarray  #: (m,) atomistic atom index (-1 for B beads)
    zn: np.ndarray  #: (m,) Zn rank (index into topology.zn) or -1
    linker: np.ndarray  #: (m,) linker index or -1

    @property
    def n(self) -> int:
        return len(self.numbers)

    def radius_by_element(self) -> dict[str, float]:
        from ase.data import chemical_symbols

        table = RADII[self.level]
        out = {chemical_symbols[z]: float(table.get(chemical_symbols[z], table["*"]))
               for z in np.unique(self.numbers)}
        return out


@dataclass(frozen=True)
class LevelGeometry:
    """The drawn items of one frame at one level."""

    positions: np.ndarray  #: (m, 3) float32
    pairs: np.ndarray  #: (k, 2) int
    shifts: np.ndarray  #: (k, 3) int
    cell: np.ndarray  #: (3, 3) float


class SceneModel:
    """Frames, topology and the per-level arrays of a structure or trajectory.

    ``topology`` is used for every frame (positions from the frame); without one it is
    perceived on the first frame that needs it and reused while the frames keep the same
    atoms and every bond stays shorter than 3.2 Å, else perceived again.
    """

    def __init__(self, structure, topology=None):
        self.frames = frames_of(structure)
        self.fixed_topology = topology
        self._topology = None  # (frame, topology) perceived
        self._atoms: tuple[int, Atoms] | None = None
        self._numbers = None
        self._level_atoms: dict[tuple[int, str], Atoms] = {}
        self._static: dict[tuple, LevelStatic] = {}  # (level, atoms, topology) -> items
        self._static_of_frame: dict[tuple[str, int], LevelStatic] = {}
        self._not_zif: str | None = None

    # ------------------------------------------------------------- frames
    @property
    def n_frames(self) -> int:
        return len(self.frames)

    def atoms(self, i: int) -> Atoms:
        """Frame ``i`` as Atoms (the last one read is kept)."""
        if self._atoms is None or self._atoms[0] != i:
            self._atoms = (i, self.frames[i])
        return self._atoms[1]

    def positions(self, i: int) -> np.ndarray:
        if _has_fast_access(self.frames) and not isinstance(self.frames, list):
            return np.asarray(self.frames.positions(i), dtype=float)
        return self.atoms(i).positions

    def cell(self, i: int) -> np.ndarray:
        if _has_fast_access(self.frames) and not isinstance(self.frames, list):
            return np.asarray(self.frames.cell(i), dtype=float)
        return self.atoms(i).cell.array

    def numbers(self, i: int = 0) -> np.ndarray:
        """Atomic numbers of frame ``i`` (frames of a set may differ: ZIF-zni beside ZIF-4)."""
        if self._numbers is None or self._numbers[0] != i:
            fast = getattr(self.frames, "numbers", None)
            self._numbers = (i, np.asarray(fast(i) if callable(fast) and not isinstance(
                self.frames, list) else self.atoms(i).numbers))
        return self._numbers[1]

    # ------------------------------------------------------------- topology
    def topology(self, i: int):
        """The topology serving frame ``i`` (raises a ZifvizError if it is not a ZIF)."""
        if self.fixed_topology is not None:
            return self.fixed_topology
        if self._not_zif is not None:
            raise ZifvizError(self._not_zif)
        if self._topology is not None:
            frame, topo = self._topology
            if frame == i or self._fits(topo, i):
                return topo
        import zifviz

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", zifviz.UnderCoordinatedZnWarning)
                topo = zifviz.perceive(self.atoms(i))
        except ZifvizError as err:
            if self._topology is None:
                self._not_zif = str(err)
            raise
        self._topology = (i, topo)
        return topo

    def _fits(self, topo, i: int) -> bool:
        """Whether ``topo`` serves frame ``i`` (same atoms, every bond within the reuse rule
        of :meth:`zifviz.ZIFTopology.at`)."""
        fast = getattr(self.frames, "numbers", None)
        numbers = (fast(i) if callable(fast) and not isinstance(self.frames, list)
                   else self.atoms(i).numbers)
        if not np.array_equal(numbers, topo.connectivity.numbers):
            return False
        try:
            checked_bonds(topo.connectivity, self.positions(i), self.cell(i))
        except ZifvizError:
            return False
        return True

    def is_zif(self) -> bool:
        try:
            self.topology(0)
            return True
        except ZifvizError:
            return False

    def levels(self) -> list[str]:
        """Levels that can be drawn (coarse levels need a ZIF)."""
        return list(LEVELS) if self.is_zif() else ["atomistic"]

    # ------------------------------------------------------------- per level
    def static(self, level: str, i: int = 0) -> LevelStatic:
        level = normalise_level(level)
        if (level, i) in self._static_of_frame:
            return self._static_of_frame[(level, i)]
        # one LevelStatic per topology (frames of other atoms, e.g. ZIF-zni beside ZIF-4 in
        # one set, get their own), found again for every frame the topology serves
        numbers = self.numbers(i)
        try:
            topo = self.topology(i)
        except ZifvizError:
            if level != "atomistic":
                raise
            topo = None
        # keyed by what the items depend on, so a topology perceived again on a later frame
        # of the same atoms shares the static (the browser keeps its copy of the level)
        key = (level, hash(numbers.tobytes()) if level == "atomistic" else len(numbers),
               None if topo is None else hash((np.asarray(topo.zn).tobytes(),
                                               np.asarray(topo.linkers).tobytes())))
        if key not in self._static:
            if len(self._static) > 16:
                self._static.clear()
            n = len(numbers)
            if level == "atomistic":
                zn_rank = np.full(n, -1)
                linker = np.full(n, -1)
                if topo is not None:
                    zn_rank[topo.zn] = np.arange(topo.n_zn)
                    linker[topo.linkers.ravel()] = np.repeat(np.arange(topo.n_linkers), 8)
                st = LevelStatic(level, numbers.copy(), self._radii(level, numbers),
                                 np.full(n, "atom"), np.arange(n), zn_rank, linker)
            else:
                n_zn, n_b = topo.n_zn, topo.n_linkers if level == "AB2" else 0
                from ase.data import atomic_numbers

                nums = np.concatenate([np.full(n_zn, 30), np.full(n_b, atomic_numbers[B_SYMBOL])])
                st = LevelStatic(level, nums, self._radii(level, nums),
                                 np.array(["A"] * n_zn + ["B"] * n_b),
                                 np.concatenate([topo.zn, np.full(n_b, -1)]).astype(int),
                                 np.concatenate([np.arange(n_zn), np.full(n_b, -1)]),
                                 np.concatenate([np.full(n_zn, -1), np.arange(n_b)]))
            self._static[key] = st
        if len(self._static_of_frame) > 256:
            self._static_of_frame.clear()
        st = self._static_of_frame[(level, i)] = self._static[key]
        return st

    @staticmethod
    def _radii(level: str, numbers) -> np.ndarray:
        from ase.data import chemical_symbols

        table = RADII[level]
        return np.array([table.get(chemical_symbols[z], table["*"]) for z in numbers],
                        dtype=np.float32)

    def geometry(self, i: int, level: str) -> LevelGeometry:
        """Positions, bonds and cell of frame ``i`` at ``level``."""
        level = normalise_level(level)
        pos, cell = self.positions(i), self.cell(i)
        if level == "atomistic":
            try:
                topo = self.topology(i)
            except ZifvizError:  # not a ZIF: the bonds by distance
                pairs, shifts = covalent_bonds(self.atoms(i))
                return LevelGeometry(pos.astype(np.float32), pairs, shifts, cell)
        else:
            topo = self.topology(i)
        beads, pairs, shifts = level_geometry(topo, pos, cell, level)  # checked reuse
        return LevelGeometry(np.asarray(beads, np.float32),
                             np.asarray(pairs, int).reshape(-1, 2),
                             np.asarray(shifts, int).reshape(-1, 3), cell)

    def level_atoms(self, i: int, level: str) -> Atoms:
        """Frame ``i`` at ``level`` as Atoms with its per-atom/bead arrays (for colours)."""
        level = normalise_level(level)
        key = (i, level)
        if key not in self._level_atoms:
            if not any(k[0] == i for k in self._level_atoms):
                self._level_atoms.clear()  # keep one frame only
            atoms = self.atoms(i)
            if level == "atomistic":
                self._level_atoms[key] = atoms
            else:
                import zifviz

                self._level_atoms[key] = zifviz.coarse_grain(atoms, level,
                                                             topology=self.topology(i))
        return self._level_atoms[key]
