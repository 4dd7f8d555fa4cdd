"""Seed 003's twelve Behler–Parrinello symmetry functions (BPSF) of Zn environments.

Only Zn take part, as centres and as neighbours (seed 003: "only Zn atoms were considered
for the environment calculations"). With the cosine cut-off
``fc(R) = ½ (cos(π R / Rc) + 1)`` for ``R < Rc`` (else 0) and ``Rc = 13 Å``:

* radial, one per η::

      G_rad(i; η) = Σ_{j≠i} exp(−η R_ij²) fc(R_ij)

* angular, one per (η, λ)::

      G_ang(i; η, λ) = Σ_{j≠i} Σ_{k≠i, k≠j} (1 − λ cos θ_ijk)
                        exp(−η (R_ij² + R_ik² + R_jk²)) fc(R_ij) fc(R_ik) fc(R_jk)

  summed over ordered pairs (j, k), as the seed's equation is written: every unordered pair
  counts twice. There is no ζ exponent and no 2^(1−ζ) prefactor (ζ = 1).

The twelve functions (seed 003's SI: "4 of them comprised radial functions, while the other 8
comprised angular ones ... with each of these η values, we construct two angular functions
with λ = ±1") are, in column order: ``G_rad`` for η = 0.005, 0.0075, 0.01, 0.02 Bohr⁻², then
``G_ang`` for each η in the same order with λ = +1 then λ = −1. η is converted to Å⁻² with
1 Bohr = 0.529177 Å. Periodic images count as neighbours (including images of the centre
itself); the cut-off may exceed half the cell.

Values are raw and unnormalised (seed 003 min–max normalised them on its database; the
classifiers in :mod:`zifviz.phases` store that normalisation with the model). Zn are the A
beads of every coarse-graining level, so the values are identical at the atomistic, AB2 and
A levels: ``level`` is recorded for bookkeeping only.

Rows are aligned with :func:`zifviz.environment_table` of the same frames: frames in input
order, the Zn of a frame by increasing atom index.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import numpy as np
from ase import Atoms

from ..coarse import normalise_level
from ..environments import _frame_source, frame_sequence
from ..errors import PerceptionError, ZifvizError
from ..geometry import check_finite, periodic_cell

BOHR = 0.529177
"""Å per Bohr (seed 003 gives η in Bohr⁻²)."""

SEED003_ETAS = (0.005, 0.0075, 0.01, 0.02)
"""η of seed 003's symmetry functions, in Bohr⁻²."""

SEED003_LAMBDAS = (1.0, -1.0)
"""λ of seed 003's angular functions."""

SEED003_R_CUT = 13.0
"""Seed 003's cut-off radius Rc (Å)."""

_ZN = 30


def _kernel():
    """The compiled per-centre kernel (numba, compiled on first use and cached on disk)."""
    global _KERNEL
    if _KERNEL is None:
        import numba

        @numba.njit(cache=True, fastmath=False, nogil=True)
        def bpsf_kernel(start, vectors, distances, r_cut, etas, lambdas, out):
            n_eta = etas.shape[0]
            n_lam = lambdas.shape[0]
            pi_rc = np.pi / r_cut
            rc2 = r_cut * r_cut
            exps = np.empty(n_eta)
            for i in range(start.shape[0] - 1):
                a0 = start[i]
                a1 = start[i + 1]
                m = a1 - a0
                fc = np.empty(m)
                r2 = np.empty(m)
                for a in range(m):
                    d = distances[a0 + a]
                    fc[a] = 0.5 * (np.cos(pi_rc * d) + 1.0)
                    r2[a] = d * d
                    for e in range(n_eta):
                        out[i, e] += np.exp(-etas[e] * r2[a]) * fc[a]
                for a in range(m):
                    xa = vectors[a0 + a, 0]
                    ya = vectors[a0 + a, 1]
                    za = vectors[a0 + a, 2]
                    for b in range(a + 1, m):
                        xb = vectors[a0 + b, 0]
                        yb = vectors[a0 + b, 1]
                        zb = vectors[a0 + b, 2]
                        dx = xb - xa
                        dy = yb - ya
                        dz = zb - za
                        rjk2 = dx * dx + dy * dy + dz * dz
                        if rjk2 >= rc2:
                            continue
                        rjk = np.sqrt(rjk2)
                        fjk = 0.5 * (np.cos(pi_rc * rjk) + 1.0)
                        # ordered pairs: (j, k) and (k, j) contribute the same term
                        weight = 2.0 * fc[a] * fc[b] * fjk
                        cos = (xa * xb + ya * yb + za * zb) / np.sqrt(r2[a] * r2[b])
                        s = r2[a] + r2[b] + rjk2
                        for e in range(n_eta):
                            exps[e] = np.exp(-etas[e] * s) * weight
                        for e in range(n_eta):
                            for l in range(n_lam):
                                out[i, n_eta + e * n_lam + l] += (1.0 - lambdas[l] * cos) * exps[e]

        _KERNEL = bpsf_kernel
    return _KERNEL


_KERNEL = None


def zn_neighbours(positions: np.ndarray, cell: np.ndarray, r_cut: float):
    """Full Zn–Zn neighbour list within ``r_cut`` with periodic images.

    Returns ``(start, vectors, distances)``: the neighbours of centre ``i`` are rows
    ``start[i]:start[i + 1]`` of ``vectors`` (``r_j + shift − r_i``, Å) and ``distances``.
    One thread (spread work over frames instead).
    """
    from vesin import NeighborList

    nl = NeighborList(cutoff=float(r_cut), full_list=True, sorted=True, n_threads=1)
    i, vectors, distances = nl.compute(points=np.asarray(positions, dtype=float),
                                       box=np.asarray(cell, dtype=float), periodic=True,
                                       quantities="iDd")
    start = np.searchsorted(np.asarray(i, dtype=np.int64), np.arange(len(positions) + 1))
    return start.astype(np.int64), np.ascontiguousarray(vectors, dtype=float), \
        np.ascontiguousarray(distances, dtype=float)


class BPSF:
    """Seed 003's twelve Zn–Zn symmetry functions (see the module docstring for the formulas).

    Parameters
    ----------
    level:
        Coarse-graining level the frames stand for (``"atomistic"``, ``"AB2"`` or ``"A"``).
        The Zn are the A beads at every level, so the values do not depend on it.
    r_cut:
        Cut-off radius Rc in Å (seed 003: 13 Å).
    etas:
        η of the radial functions and of each pair of angular functions, in Bohr⁻²
        (seed 003: 0.005, 0.0075, 0.01, 0.02).
    lambdas:
        λ of the angular functions (seed 003: +1, −1).
    progress:
        Show a tqdm bar over frames in :meth:`transform`; by default for more than 50 frames.

    Examples
    --------
    >>> X = BPSF().transform(frames)            # (n_env, 12), raw values
    >>> table = zifviz.environment_table(frames)  # row k of X is row k of table
    """

    def __init__(self, level: str = "atomistic", r_cut: float = SEED003_R_CUT,
                 etas=SEED003_ETAS, lambdas=SEED003_LAMBDAS, progress: bool | None = None):
        self.level = normalise_level(level)
        self.r_cut = float(r_cut)
        self.etas = tuple(float(e) for e in etas)
        self.lambdas = tuple(float(v) for v in lambdas)
        self.progress = progress
        if not self.r_cut > 0:
            raise ZifvizError(f"BPSF cut-off must be positive, got {r_cut!r}")
        if not self.etas or min(self.etas) <= 0:
            raise ZifvizError(f"BPSF η must be positive, got {etas!r}")

    # -- description ---------------------------------------------------------------------
    @property
    def n_features(self) -> int:
        """Number of functions: one radial per η, one angular per (η, λ)."""
        return len(self.etas) * (1 + len(self.lambdas))

    @property
    def feature_names(self) -> list[str]:
        """Column names, in column order (η in Bohr⁻²)."""
        names = [f"G_rad(eta={e:g})" for e in self.etas]
        names += [f"G_ang(eta={e:g},lambda={v:+g})" for e in self.etas for v in self.lambdas]
        return names

    @property
    def etas_per_A2(self) -> np.ndarray:
        """η in Å⁻²."""
        return np.asarray(self.etas) / BOHR**2

    @property
    def config(self) -> dict:
        """JSON-able settings (everything that determines the values, plus versions)."""
        from .. import __version__

        return {"class": "zifviz.descriptors.BPSF", "level": self.level, "r_cut": self.r_cut,
                "etas": list(self.etas), "eta_unit": "Bohr^-2", "bohr": BOHR,
                "lambdas": list(self.lambdas), "cutoff_function": "cosine",
                "angular_pairs": "ordered", "species": ["Zn"],
                "n_features": self.n_features, "zifviz_version": __version__}

    @classmethod
    def from_config(cls, config: dict | str) -> "BPSF":
        """Rebuild from :attr:`config` (a dict or its JSON text)."""
        if isinstance(config, str):
            config = json.loads(config)
        if config.get("class", "BPSF") not in ("BPSF", "zifviz.descriptors.BPSF"):
            raise ZifvizError(f"not a BPSF config: class {config.get('class')!r}")
        for key, expected in (("eta_unit", "Bohr^-2"), ("cutoff_function", "cosine"),
                              ("angular_pairs", "ordered")):
            if config.get(key, expected) != expected:
                raise ZifvizError(f"BPSF config has {key}={config[key]!r}; only {expected!r} "
                                  "is implemented")
        return cls(level=config.get("level", "atomistic"), r_cut=config["r_cut"],
                   etas=config["etas"], lambdas=config["lambdas"])

    def get_params(self, deep: bool = True) -> dict:
        """Constructor parameters (scikit-learn style)."""
        return {"level": self.level, "r_cut": self.r_cut, "etas": self.etas,
                "lambdas": self.lambdas, "progress": self.progress}

    def set_params(self, **params) -> "BPSF":
        """Set constructor parameters (scikit-learn style); checked as in the constructor."""
        merged = {**self.get_params(), **params}
        self.__init__(**merged)
        return self

    def __repr__(self) -> str:
        return (f"BPSF(level={self.level!r}, r_cut={self.r_cut:g}, etas={self.etas}, "
                f"lambdas={self.lambdas})")

    # -- computing -----------------------------------------------------------------------
    def transform_frame(self, atoms: Atoms, source: str | None = None) -> np.ndarray:
        """The (n_Zn, n_features) values of one frame, Zn in increasing atom index."""
        source = source or _frame_source(atoms, 0)
        zn = np.flatnonzero(atoms.numbers == _ZN)
        if len(zn) == 0:
            raise PerceptionError("no Zn (or A beads) in the structure: nothing to describe",
                                  source)
        cell, _ = periodic_cell(atoms.cell.array, atoms.pbc, source)
        positions = np.asarray(atoms.positions, dtype=float)[zn]
        check_finite(positions, source)
        start, vectors, distances = zn_neighbours(positions, cell, self.r_cut)
        out = np.zeros((len(zn), self.n_features))
        _kernel()(start, vectors, distances, self.r_cut, self.etas_per_A2,
                  np.asarray(self.lambdas, dtype=float), out)
        return out

    def transform(self, frames: Atoms | Iterable[Atoms], *,
                  progress: bool | None = None, client=None) -> np.ndarray:
        """Raw values for every Zn environment of ``frames``.

        Parameters
        ----------
        frames:
            One ``Atoms``, a list, a :class:`zifviz.Trajectory` or a demo set, at any level.
        progress:
            Override the instance's ``progress`` setting.
        client:
            A ``dask.distributed.Client``: chunks of frames are described on its workers
            (a bounded number in flight, so frames are streamed), the same values as here.

        Returns
        -------
        (n_env, n_features) float64 array, rows aligned with
        :func:`zifviz.environment_table` of the same frames.
        """
        from tqdm.auto import tqdm

        frames, total = frame_sequence(frames)
        show = progress if progress is not None else self.progress
        if show is None:
            show = total is None or total > 50
        blocks = []
        with tqdm(total=total, desc="BPSF", unit="frame", disable=not show,
                  leave=False) as bar:
            if client is not None:
                blocks = self._on_client(frames, client, bar)
            else:
                for pos, atoms in enumerate(frames):
                    blocks.append(self.transform_frame(_checked(atoms, pos),
                                                       _frame_source(atoms, pos)))
                    bar.update(1)
        if not blocks:
            return np.zeros((0, self.n_features))
        return np.concatenate(blocks)

    def _on_client(self, frames, client, bar) -> list[np.ndarray]:
        """Per-frame blocks computed on a Dask cluster, in input order."""
        from collections import deque

        params = {k: v for k, v in self.get_params().items() if k != "progress"}
        in_flight = _TASKS_PER_WORKER * max(1, sum(client.nthreads().values()))
        futures: deque = deque()
        blocks: list[np.ndarray] = []

        def collect():
            done = futures.popleft().result()
            blocks.extend(done)
            bar.update(len(done))

        chunk: list[tuple[int, Atoms]] = []
        for pos, atoms in enumerate(frames):
            chunk.append((pos, _checked(atoms, pos)))
            if len(chunk) == _CHUNK_FRAMES:
                futures.append(client.submit(_describe_chunk, params, chunk, pure=False))
                chunk = []
                if len(futures) >= in_flight:
                    collect()
        if chunk:
            futures.append(client.submit(_describe_chunk, params, chunk, pure=False))
        while futures:
            collect()
        return blocks


_CHUNK_FRAMES = 32     # frames per Dask task
_TASKS_PER_WORKER = 4  # tasks in flight per worker thread


def _checked(atoms, pos: int) -> Atoms:
    if not isinstance(atoms, Atoms):
        raise ZifvizError(f"frame {pos} is a {type(atoms).__name__}, not ase.Atoms")
    return atoms


def _describe_chunk(params: dict, chunk: list) -> list[np.ndarray]:
    """The blocks of a chunk of ``(position, Atoms)`` (run on a Dask worker)."""
    bpsf = BPSF(**params, progress=False)
    return [bpsf.transform_frame(atoms, _frame_source(atoms, pos)) for pos, atoms in chunk]


__all__ = ["BOHR", "BPSF", "SEED003_ETAS", "SEED003_LAMBDAS", "SEED003_R_CUT", "zn_neighbours"]
