"""Periodic geometry shared by perception, coarse-graining and the viewer: the one
minimum-image convention of zifviz.

Shifts are integer cell translations with the convention of every bond list in zifviz:
the vector from atom ``i`` to atom ``j`` is ``r[j] + shift @ cell - r[i]``.
"""

from __future__ import annotations

import numpy as np

from .errors import StructureError


def cell_widths(cell: np.ndarray, inverse: np.ndarray | None = None) -> np.ndarray:
    """The three perpendicular widths of a cell (distances between opposite faces), in Å;
    from the reciprocal vectors (the columns of ``inverse``) when the inverse is given."""
    cell = np.asarray(cell, dtype=float)
    if inverse is not None:
        return 1.0 / np.sqrt(np.einsum("ij,ij->j", inverse, inverse))
    volume = abs(np.linalg.det(cell))
    areas = np.linalg.norm(np.cross(cell[[1, 2, 0]], cell[[2, 0, 1]]), axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(areas > 0, volume / np.where(areas > 0, areas, 1.0), 0.0)


def require_width(cell: np.ndarray, longest_bond: float, source: str = "structure",
                  inverse: np.ndarray | None = None) -> None:
    """Raise :class:`StructureError` when the cell is narrower than twice ``longest_bond``:
    below that, the minimum image of a bond may be another image than the bonded one."""
    width = float(cell_widths(cell, inverse).min())
    if width < 2 * longest_bond:
        raise StructureError(f"cell too small: its narrowest width {width:.2f} Å is below twice "
                             f"the longest bond ({longest_bond:.2f} Å); use a supercell", source)


def periodic_cell(cell, pbc, source: str = "structure") -> tuple[np.ndarray, np.ndarray]:
    """``(cell, inverse)`` of a 3D-periodic cell, or a :class:`StructureError` saying what is
    missing (no periodic cell, a singular or degenerate cell)."""
    cell = np.asarray(cell, dtype=float).reshape(3, 3)
    volume = abs(np.linalg.det(cell)) if np.isfinite(cell).all() else np.nan
    if not np.all(pbc) or volume < 1e-9:  # fewer than three independent cell vectors
        raise StructureError(
            "no periodic cell: a ZIF needs a 3D periodic cell (pbc=True and three cell vectors); "
            "non-periodic XYZ files cannot be perceived", source)
    if not volume >= 1.0:
        raise StructureError(f"cell volume {volume:.3g} Å³ is degenerate (a singular cell)",
                             source)
    return cell, np.linalg.inv(cell)


def check_finite(positions: np.ndarray, source: str = "structure") -> None:
    """Raise :class:`StructureError` when some coordinates are NaN or infinite."""
    bad = ~np.isfinite(positions).all(axis=1)
    if bad.any():
        first = np.flatnonzero(bad)[:5].tolist()
        raise StructureError(f"{int(bad.sum())} atoms have NaN coordinates (atoms {first}"
                             f"{' ...' if bad.sum() > 5 else ''})", source)


def minimum_image(vectors: np.ndarray, cell: np.ndarray, inverse: np.ndarray | None = None,
                  pbc=True) -> tuple[np.ndarray, np.ndarray]:
    """The shortest periodic images of difference vectors ``r[j] - r[i]``.

    Returns ``(vectors, shifts)`` with ``vectors = r[j] + shifts @ cell - r[i]``. Exact for any
    vector shorter than half the smallest :func:`cell_widths` (a vector that short has all
    fractional components below 1/2); along non-periodic directions nothing is shifted.
    """
    vectors = np.asarray(vectors, dtype=float)
    cell = np.asarray(cell, dtype=float)
    if inverse is None:
        inverse = np.linalg.inv(cell)
    shifts = -np.rint(vectors @ inverse)
    if not np.all(pbc):
        shifts[..., ~np.broadcast_to(np.asarray(pbc, dtype=bool), (3,))] = 0
    return vectors + shifts @ cell, shifts.astype(np.int64)


def bond_vectors(positions: np.ndarray, pairs: np.ndarray, cell: np.ndarray,
                 inverse: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Minimum-image vectors and shifts of the bonds ``pairs`` (k, 2); see :func:`minimum_image`."""
    positions = np.asarray(positions, dtype=float)
    return minimum_image(positions[pairs[:, 1]] - positions[pairs[:, 0]], cell, inverse)


def wrap(positions: np.ndarray, cell: np.ndarray, inverse: np.ndarray | None = None) -> np.ndarray:
    """Positions wrapped into the cell (fractional coordinates in [0, 1))."""
    if inverse is None:
        inverse = np.linalg.inv(cell)
    frac = np.asarray(positions, dtype=float) @ inverse
    frac -= np.floor(frac)
    frac[frac >= 1.0] = 0.0  # -1e-17 floors to 1 - 1e-17 + ... rounding
    return frac @ cell
