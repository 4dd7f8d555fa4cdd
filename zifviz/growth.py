"""How a new phase grows: clusters of Zn in the target phase and four-membered Zn rings.

Seed 003's transition analysis (its Figs. 7 and 8), on the Zn–Zn net of a trajectory and a
per-Zn labels table (``zifviz.transitions.classify_trajectory``: columns ``trajectory, frame,
time, zn, zn_rank, label``; Zn are named by ``zn_rank``, their order in
:func:`zifviz.environment_table`).

* :func:`zn_net` — the Zn–Zn net through shared imidazolates (the linker net) with the cell
  shift of every edge; :func:`zn_net_from_distance` — the same from a Zn–Zn distance cut-off.
* :func:`phase_clusters` — clusters of Zn of the target phase: connected components of the net
  restricted to those Zn (seed 003 finds them by depth-first search), unwrapped through the
  periodic boundaries; a cluster that meets one of its own periodic images is *percolating*.
  Sizes N and extents l_x, l_y, l_z. :func:`cluster_growth` does every frame,
  :func:`extents_figure` draws ⟨l_i⟩ vs N (seed 003 Fig. 7).
* :func:`four_rings` — every four-membered Zn ring of the net; :func:`ring_orientation` — the
  ring normal (mean of its four triplet normals) and its angle φa to the a axis;
  :func:`ring_orientations` for every frame with ``n_new`` (how many of the ring's Zn are in the
  new phase); :func:`ring_histogram_figure` (seed 003 Fig. 8).

Per frame only the Zn positions and the cell are used: edge vectors are the minimum images of
the Zn–Zn differences (:func:`zifviz.geometry.minimum_image`), exact while the cell is wider
than twice the longest edge (checked; use a supercell otherwise). The net is built once.

Example::

    topo = zifviz.perceive(traj[0])
    growth = cluster_growth(traj, labels, "ZIF-4-cp-II", topology=topo)
    extents_figure(growth).show()
    rings = ring_orientations(traj, labels, "ZIF-4-cp-II", topology=topo)
    ring_histogram_figure(rings).show()
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
from ase import Atoms
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import breadth_first_order, connected_components

from .errors import StructureError, ZifvizError
from .geometry import minimum_image, periodic_cell, require_width
from .topology import ZIFTopology, perceive

__all__ = ["ZnNet", "zn_net", "zn_net_from_distance", "phase_clusters", "cluster_growth",
           "largest_cluster", "extents_figure", "four_rings", "ring_orientation",
           "ring_orientations", "ring_histogram_figure", "AXIS_COLORS", "N_NEW_COLORS"]

_ZN = 30

CLUSTER_COLUMNS = ("cluster", "size", "l_x", "l_y", "l_z", "percolating", "percolating_axes",
                   "zn_ranks")
"""Columns of :func:`phase_clusters` (``cluster_growth`` puts ``trajectory, frame, time``
first)."""

RING_COLUMNS = ("ring", "normal_x", "normal_y", "normal_z", "phi_a", "phi_b", "phi_c")
"""Columns of :func:`ring_orientation`."""

AXIS_COLORS = {"x": "#000000", "y": "#d62728", "z": "#2ca02c"}
"""Colours of the three directions in :func:`extents_figure` (seed 003 Fig. 7: x black,
y red, z green)."""

N_NEW_COLORS = ("#2166ac", "#67a9cf", "#7f7f7f", "#ef8a62", "#b2182b")
"""Colour of ``n_new`` = 0..4 in :func:`ring_histogram_figure`: blue for rings all in the old
phase to red for rings all in the new one (seed 003 Fig. 8: blue CP, red CP-II)."""


# ---- the net ----------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class ZnNet:
    """The Zn–Zn net of a framework, Zn named by ``zn_rank`` (0..n_zn-1).

    ``edges[e] = (i, j)`` with i < j and ``shifts[e]`` the cell shift of the edge in the frame
    the net was built from: edge vector = ``r[j] + shifts[e] @ cell - r[i]`` (the convention
    of :mod:`zifviz.geometry`). Periodic images of one pair are separate edges.
    """

    zn: np.ndarray
    """(n_zn,) atom index of each Zn (increasing: position = ``zn_rank``)."""
    edges: np.ndarray
    """(n_edges, 2) zn_ranks, i < j."""
    shifts: np.ndarray
    """(n_edges, 3) integer cell shifts in the frame the net was built from."""
    lengths: np.ndarray
    """(n_edges,) edge lengths (Å) in that frame."""
    kind: str = "linker"
    """``"linker"`` (through a shared imidazolate) or ``"distance"`` (a cut-off)."""
    source: str = ""
    """Name of the structure, for messages."""
    n_atoms: int = field(default=-1)
    """Atoms in the frames the net is for (-1: not checked)."""

    @property
    def n_zn(self) -> int:
        return len(self.zn)

    @property
    def n_edges(self) -> int:
        return len(self.edges)

    @cached_property
    def degree(self) -> np.ndarray:
        """(n_zn,) number of net neighbours of each Zn (periodic images counted apart)."""
        return np.bincount(self.edges.ravel(), minlength=self.n_zn)

    def edge_vectors(self, zn_positions: np.ndarray, cell: np.ndarray,
                     source: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Minimum-image edge vectors (n_edges, 3) and shifts (n_edges, 3) in one frame.

        ``zn_positions`` are the (n_zn, 3) Zn positions in zn_rank order. Raises a
        :class:`~zifviz.errors.StructureError` when the cell is narrower than twice the
        longest edge (then the minimum image may not be the bonded one).
        """
        cell, inverse = periodic_cell(cell, True, source or self.source)
        p = np.asarray(zn_positions, dtype=float)
        if p.shape != (self.n_zn, 3):
            raise ZifvizError(f"{len(p)} Zn positions for a net of {self.n_zn} Zn",
                              source or self.source)
        v, s = minimum_image(p[self.edges[:, 1]] - p[self.edges[:, 0]], cell, inverse)
        if self.n_edges:
            longest = max(float(np.sqrt(np.einsum("ij,ij->i", v, v)).max()),
                          float(self.lengths.max()))
            require_width(cell, longest, source or self.source)
        return v, s

    def __repr__(self) -> str:
        return (f"ZnNet(kind={self.kind!r}, Zn={self.n_zn}, edges={self.n_edges}, "
                f"source={self.source!r})")


def _canonical_edges(i, j, shifts):
    """Edges with i < j (i == j: shift lexicographically positive), duplicates removed."""
    i, j, shifts = np.asarray(i), np.asarray(j), np.asarray(shifts, dtype=np.int64)
    flip = (i > j) | ((i == j) & (_lex_sign(shifts) < 0))
    i, j = np.where(flip, j, i), np.where(flip, i, j)
    shifts = np.where(flip[:, None], -shifts, shifts)
    keep = ~((i == j) & (shifts == 0).all(axis=1))
    rows = np.column_stack([i, j, shifts])[keep]
    rows = np.unique(rows, axis=0)
    return rows[:, :2], rows[:, 2:]


def _lex_sign(shifts: np.ndarray) -> np.ndarray:
    """Sign of the first non-zero component of each shift (0 for a zero shift)."""
    nz = shifts != 0
    first = np.argmax(nz, axis=1)
    return np.where(nz.any(axis=1), np.sign(shifts[np.arange(len(shifts)), first]), 0)


def zn_net(topology: ZIFTopology) -> ZnNet:
    """The linker net: Zn–Zn edges through a shared imidazolate, with periodic image shifts.

    Built from ``topology.net_edges`` and ``topology.net_shifts`` (shifts chained through the
    Zn–N1–C2–N3–Zn bonds of the topology's frame, right in any cell the topology accepts).
    """
    if isinstance(topology, ZnNet):
        return topology
    if not isinstance(topology, ZIFTopology):
        raise ZifvizError(f"zn_net needs a ZIFTopology (zifviz.perceive(atoms)), not "
                          f"{type(topology).__name__}")
    rank = topology.connectivity.zn_position
    e = topology.net_edges
    edges, shifts = _canonical_edges(rank[e[:, 0]], rank[e[:, 1]], topology.net_shifts)
    return _make_net(np.asarray(topology.zn), edges, shifts, topology.positions[topology.zn],
                     topology.cell, "linker", topology.source, topology.n_atoms)


def zn_net_from_distance(atoms: Atoms, cutoff: float) -> ZnNet:
    """The Zn–Zn net of every pair of Zn closer than ``cutoff`` (Å), by ASE's neighbour list.

    Zn–Zn distances through a linker in the experimental structures (Widmer 2019): ZIF-4
    5.90–6.03 Å, the next Zn at 7.36 Å; ZIF-4-cp-II 5.49–5.93 Å, the next at 6.38 Å. A cut-off
    of 6.0–6.3 Å gives the linker net of both; 6.7 Å only that of ZIF-4 (in cp-II it adds
    one non-bonded neighbour per Zn). The linker net (:func:`zn_net`) needs no choice.
    """
    from ase.neighborlist import neighbor_list

    source = str(atoms.info.get("source_file") or atoms.info.get("source") or "structure")
    cell, _ = periodic_cell(atoms.cell.array, atoms.pbc, source)
    if not (np.isfinite(cutoff) and cutoff > 0):
        raise ZifvizError(f"cutoff must be a positive distance in Å, not {cutoff!r}", source)
    require_width(cell, float(cutoff), source)
    zn = np.flatnonzero(atoms.numbers == _ZN)
    if not len(zn):
        raise StructureError("no Zn atoms: a Zn–Zn net needs Zn", source)
    zn_atoms = Atoms(numbers=atoms.numbers[zn], positions=atoms.positions[zn], cell=cell,
                     pbc=True)
    i, j, S = neighbor_list("ijS", zn_atoms, float(cutoff))
    edges, shifts = _canonical_edges(i, j, S)
    return _make_net(zn, edges, shifts, atoms.positions[zn], cell, "distance", source,
                     len(atoms))


def _make_net(zn, edges, shifts, zn_positions, cell, kind, source, n_atoms) -> ZnNet:
    p = np.asarray(zn_positions, dtype=float)
    v = p[edges[:, 1]] + shifts @ np.asarray(cell, dtype=float) - p[edges[:, 0]]
    lengths = np.sqrt(np.einsum("ij,ij->i", v, v))
    arrays = [np.array(a) for a in (zn, edges.astype(np.int64).reshape(-1, 2),
                                    shifts.astype(np.int64).reshape(-1, 3), lengths)]
    for a in arrays:
        a.setflags(write=False)
    return ZnNet(*arrays, kind=kind, source=source, n_atoms=int(n_atoms))


def _net_of(topology=None, net=None, atoms: Atoms | None = None) -> ZnNet:
    if net is not None:
        if not isinstance(net, ZnNet):
            raise ZifvizError(f"net must be a ZnNet (zn_net or zn_net_from_distance), not "
                              f"{type(net).__name__}")
        return net
    if topology is not None:
        return zn_net(topology)
    if atoms is None:
        raise ZifvizError("pass a topology, a net or the atoms to perceive one")
    return zn_net(perceive(atoms))


# ---- clusters -----------------------------------------------------------------------------

def _check_mask(is_new, n_zn: int, source: str) -> np.ndarray:
    mask = np.asarray(is_new)
    if mask.ndim != 1 or len(mask) != n_zn:
        raise ZifvizError(f"is_new has shape {mask.shape}; expected one boolean per Zn "
                          f"({n_zn} Zn, in zn_rank order)", source)
    if mask.dtype != bool:
        if mask.dtype.kind not in "iu" or not np.isin(mask, (0, 1)).all():
            raise ZifvizError(f"is_new must be booleans (or 0/1), not {mask.dtype}", source)
        mask = mask.astype(bool)
    return mask


def _clusters(net: ZnNet, zn_positions, cell, is_new, source: str) -> pd.DataFrame:
    """:func:`phase_clusters` on Zn positions (zn_rank order) and a cell."""
    mask = _check_mask(is_new, net.n_zn, source)
    vectors, shifts = net.edge_vectors(zn_positions, cell, source)
    cell = np.asarray(cell, dtype=float)
    n = net.n_zn
    nodes = np.flatnonzero(mask)
    if not len(nodes):
        return _cluster_frame([])
    keep = mask[net.edges].all(axis=1)
    e, s = net.edges[keep], shifts[keep]
    # components of the new Zn (other Zn are isolated and dropped)
    graph = coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n, n)).tocsr()
    _, comp = connected_components(graph, directed=False)
    labels, comp_new = np.unique(comp[nodes], return_inverse=True)
    n_clusters = len(labels)
    roots = nodes[np.unique(comp_new, return_index=True)[1]]
    # one breadth-first spanning forest from a super-root joined to one Zn of each cluster
    sup = n
    rows = np.concatenate([e[:, 0], e[:, 1], np.full(n_clusters, sup)])
    cols = np.concatenate([e[:, 1], e[:, 0], roots])
    forest = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n + 1, n + 1)).tocsr()
    _, pred = breadth_first_order(forest, sup, directed=True, return_predecessors=True)
    parent = pred[:n].copy()
    parent[roots] = roots
    # shift of each tree edge parent -> child, looked up among the (first) edges of each pair
    child = nodes[parent[nodes] != nodes]
    key = e[:, 0] * n + e[:, 1]
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    lo, hi = np.minimum(parent[child], child), np.maximum(parent[child], child)
    found = order[np.searchsorted(sorted_key, lo * n + hi)]
    step = np.where((e[found, 0] == parent[child])[:, None], s[found], -s[found])
    # image offsets by pointer jumping: offset[u] = sum of the shifts on the path root -> u
    offset = np.zeros((n, 3), dtype=np.int64)
    offset[child] = step
    up = parent.copy()
    while not (up[up[nodes]] == up[nodes]).all():
        offset[nodes] += offset[up[nodes]]
        up[nodes] = up[up[nodes]]
    # a net edge whose two ends, unwrapped, are not joined by that edge closes a cycle through
    # a periodic image: the cluster percolates along the axes of the mismatch
    wrap = s + offset[e[:, 0]] - offset[e[:, 1]]
    label_of = np.full(n, -1)
    label_of[nodes] = comp_new
    perc = np.zeros((n_clusters, 3), dtype=bool)
    np.logical_or.at(perc, label_of[e[:, 0]], wrap != 0)
    # extents: ranges of fractional coordinates times the cell lengths
    inverse = np.linalg.inv(cell)
    frac = (np.asarray(zn_positions, dtype=float)[nodes] + offset[nodes] @ cell) @ inverse
    lo_f = np.full((n_clusters, 3), np.inf)
    hi_f = np.full((n_clusters, 3), -np.inf)
    np.minimum.at(lo_f, comp_new, frac)
    np.maximum.at(hi_f, comp_new, frac)
    lengths = np.linalg.norm(cell, axis=1)
    extent = np.where(perc, 1.0, hi_f - lo_f) * lengths
    size = np.bincount(comp_new, minlength=n_clusters)
    members = np.argsort(comp_new, kind="stable")
    groups = np.split(nodes[members], np.cumsum(size)[:-1])
    first = np.array([g[0] for g in groups])
    rank = np.lexsort((first, -size))
    records = [(k, int(size[c]), *extent[c].tolist(), bool(perc[c].any()),
                "".join(a for a, p in zip("xyz", perc[c]) if p), tuple(groups[c].tolist()))
               for k, c in enumerate(rank)]
    return _cluster_frame(records)


def _cluster_frame(records) -> pd.DataFrame:
    table = pd.DataFrame.from_records(records, columns=list(CLUSTER_COLUMNS))
    return table.astype({"cluster": np.int64, "size": np.int64, "l_x": float, "l_y": float,
                         "l_z": float, "percolating": bool, "percolating_axes": str})


def phase_clusters(atoms: Atoms, is_new, topology: ZIFTopology | None = None,
                   net: ZnNet | None = None) -> pd.DataFrame:
    """Clusters of the Zn where ``is_new`` is True, connected through the Zn–Zn net.

    Parameters
    ----------
    atoms:
        One frame.
    is_new:
        One boolean per Zn, in zn_rank order (e.g. ``labels.label == phase`` of one frame).
    topology, net:
        The net is ``net``, else ``zn_net(topology)``, else perceived from ``atoms``. Pass it
        when calling this for many frames (:func:`cluster_growth` does).

    Returns
    -------
    DataFrame, one row per cluster, largest first: ``cluster`` (0, 1, ...), ``size`` (N),
    ``l_x, l_y, l_z`` (Å), ``percolating`` (bool), ``percolating_axes`` (e.g. ``"xy"``),
    ``zn_ranks`` (tuple, increasing). An isolated new Zn is a cluster of size 1 and extents 0.

    Notes
    -----
    Seed 003 (transition section) finds the clusters by depth-first search over neighbouring Zn
    of the target phase and measures each as "the largest distance in the three directions x, y
    and z among all pairs of atoms comprising the cluster". Here the cluster is unwrapped
    through the periodic boundaries (a spanning tree of the net, each Zn placed by the
    minimum-image edge from its parent) and l_i is the range of the Zn's fractional coordinate
    i times the length of cell vector i. For a cell with a, b, c along x, y, z (ZIF-4's
    orthorhombic cell, seed 003's boxes) that is max − min of the Cartesian x, y, z; for a
    tilted cell it is the extent along each cell vector. A cluster that reaches one of its own
    periodic images through the net (a cycle with a non-zero net image shift) is percolating:
    along each axis it wraps, its extent is the cell length.
    """
    net = _net_of(topology, net, atoms)
    source = _frame_name(atoms)
    _check_atoms(net, atoms, source)
    return _clusters(net, atoms.positions[net.zn], atoms.cell.array, is_new, source)


# ---- frames and labels ---------------------------------------------------------------------

def _frame_name(atoms: Atoms) -> str:
    name = atoms.info.get("source_file") or atoms.info.get("source") or "frame"
    return f"{name} frame {atoms.info['frame']}" if "frame" in atoms.info else str(name)


def _check_atoms(net: ZnNet, atoms: Atoms, source: str) -> None:
    if net.n_atoms >= 0 and len(atoms) != net.n_atoms:
        raise ZifvizError(f"the net is for {net.n_atoms} atoms, the frame has {len(atoms)}",
                          source)
    if net.n_zn and (len(atoms) <= net.zn.max() or (atoms.numbers[net.zn] != _ZN).any()):
        raise ZifvizError("the Zn of the net are not Zn in this frame (another structure?)",
                          source)


def _labels_by_frame(labels: pd.DataFrame, phase: str, net: ZnNet):
    """Check a labels table (one trajectory) and yield ``{frame: (time, is_new)}``."""
    if not isinstance(labels, pd.DataFrame):
        raise ZifvizError(f"labels must be a DataFrame (classify_trajectory), not "
                          f"{type(labels).__name__}")
    missing = [c for c in ("frame", "zn_rank", "label") if c not in labels.columns]
    if missing:
        raise ZifvizError(f"labels table has no column {', '.join(missing)} (expected the "
                          "columns of zifviz.transitions.classify_trajectory)")
    name = "labels"
    if "trajectory" in labels.columns:
        names = pd.unique(labels["trajectory"])
        if len(names) > 1:
            listed = ", ".join(map(str, names[:5]))
            raise ZifvizError(f"labels of {len(names)} trajectories ({listed}"
                              "); pass one trajectory's rows, e.g. labels[labels.trajectory == "
                              "name]")
        name = str(names[0]) if len(names) else name
    classes = [c[2:] for c in labels.columns if c.startswith("p_")]
    known = classes or list(pd.unique(labels["label"].astype(str)))
    if phase not in known:
        raise ZifvizError(f"phase {phase!r} is not a label of this table (labels: "
                          f"{', '.join(map(str, known))})", name)
    out = {}
    for frame, rows in labels.groupby("frame", sort=True):
        ranks = rows["zn_rank"].to_numpy()
        if len(rows) != net.n_zn or not np.array_equal(np.sort(ranks), np.arange(net.n_zn)):
            raise ZifvizError(f"frame {frame} has {len(rows)} label rows for {net.n_zn} Zn "
                              "(one row per zn_rank expected): labels of another structure?",
                              name)
        if "zn" in rows.columns and not np.array_equal(
                rows["zn"].to_numpy()[np.argsort(ranks)], net.zn):
            raise ZifvizError(f"frame {frame}: the labels' Zn atom indices are not those of the "
                              "structure's Zn (labels of another structure?)", name)
        is_new = np.zeros(net.n_zn, dtype=bool)
        is_new[ranks] = rows["label"].astype(str).to_numpy() == phase
        time = float(rows["time"].iloc[0]) if "time" in rows.columns else np.nan
        out[int(frame)] = (time, is_new)
    return name, out


def _open(frames):
    from .io import Trajectory

    if isinstance(frames, (str, os.PathLike)):
        return Trajectory(frames)
    if isinstance(frames, Atoms):
        return [frames]
    return frames


def _zn_frames(frames, wanted: Sequence[int], topology, net) -> Iterator:
    """Yield ``(net, frame, zn_positions, cell, source)`` for the frames in ``wanted`` (frame
    ids: ``info["frame"]``, else the position), in file order; memory flat."""
    from .io import Trajectory

    frames = _open(frames)
    wanted_set = set(int(f) for f in wanted)
    seen = set()
    if isinstance(frames, Trajectory):
        ids = frames.frames
        positions = [k for k, f in enumerate(ids) if int(f) in wanted_set]
        if net is None:
            net = _net_of(topology, None, frames[positions[0]] if positions else None)
        for k in positions:
            numbers = frames.numbers(k)
            source = f"{frames.path} frame {ids[k]}"
            if len(numbers) != (net.n_atoms if net.n_atoms >= 0 else len(numbers)) or \
                    (numbers[net.zn] != _ZN).any():
                raise ZifvizError("the frame's atoms do not match the net's structure", source)
            seen.add(int(ids[k]))
            yield net, int(ids[k]), frames.positions(k)[net.zn], frames.cell(k), source
    else:
        for pos, atoms in enumerate(frames):
            fid = int(atoms.info.get("frame", pos))
            if fid not in wanted_set:
                continue
            if net is None:
                net = _net_of(topology, None, atoms)
            source = _frame_name(atoms)
            _check_atoms(net, atoms, source)
            seen.add(fid)
            yield net, fid, atoms.positions[net.zn], atoms.cell.array, source
    absent = sorted(wanted_set - seen)
    if absent:
        raise ZifvizError(f"{len(absent)} labelled frames are not among the frames given "
                          f"(frames {absent[:5]}{' ...' if len(absent) > 5 else ''})")


def _progress(iterable, total, desc, progress):
    from tqdm.auto import tqdm

    show = progress if progress is not None else total > 50
    return tqdm(iterable, total=total, desc=desc, disable=not show, leave=False)


def cluster_growth(frames, labels: pd.DataFrame, phase: str,
                   topology: ZIFTopology | None = None, *, net: ZnNet | None = None,
                   progress: bool | None = None) -> pd.DataFrame:
    """:func:`phase_clusters` of the Zn labelled ``phase`` in every labelled frame.

    Parameters
    ----------
    frames:
        A trajectory path, a :class:`zifviz.Trajectory` or a sequence of Atoms; frames are
        matched to ``labels`` by ``frame`` (``info["frame"]``, else the position).
    labels:
        One trajectory's rows of ``classify_trajectory`` (``trajectory, frame, time, zn,
        zn_rank, label``); every frame must have one row per Zn.
    phase:
        The target phase (a label of the table, e.g. ``"ZIF-4-cp-II"``).
    topology, net:
        The net (else ``zn_net(topology)``, else perceived on the first labelled frame).

    Returns
    -------
    DataFrame: ``trajectory, frame, time`` then the columns of :func:`phase_clusters`; one row
    per cluster per frame (a frame without a Zn of ``phase`` has no row).
    """
    frames = _open(frames)
    frames, net = _net_probe(frames, topology, net)
    name, by_frame = _labels_by_frame(labels, phase, net)
    parts = []
    stream = _zn_frames(frames, list(by_frame), None, net)
    for net_, fid, positions, cell, source in _progress(stream, len(by_frame), "clusters",
                                                        progress):
        time, is_new = by_frame[fid]
        table = _clusters(net_, positions, cell, is_new, source)
        table.insert(0, "time", time)
        table.insert(0, "frame", fid)
        table.insert(0, "trajectory", name)
        parts.append(table)
    if not parts:
        empty = _cluster_frame([])
        for col, dtype in (("time", float), ("frame", np.int64), ("trajectory", str)):
            empty.insert(0, col, pd.Series(dtype=dtype))
        return empty
    return pd.concat(parts, ignore_index=True)


def _net_probe(frames, topology, net):
    """``(frames, net)``: the net, to check the labels against before streaming (perceived on
    the first frame when neither ``net`` nor ``topology`` is given; a one-shot iterator gets
    its first frame put back)."""
    if net is not None or topology is not None:
        return frames, _net_of(topology, net)
    if iter(frames) is frames:  # an iterator: peek at the first frame
        first = next(frames, None)
        frames = itertools.chain([] if first is None else [first], frames)
    else:
        first = frames[0] if len(frames) else None
    if first is None:
        raise ZifvizError("no frames")
    return frames, _net_of(None, None, first)


def largest_cluster(growth: pd.DataFrame, frame: int,
                    trajectory: str | None = None) -> np.ndarray:
    """zn_ranks of the largest cluster of ``frame`` in a :func:`cluster_growth` table
    (empty when the frame has no Zn of the target phase); ``trajectory`` picks one when the
    table holds several."""
    rows = growth[growth["frame"] == frame]
    if trajectory is not None:
        rows = rows[rows["trajectory"] == trajectory]
    elif "trajectory" in rows.columns and rows["trajectory"].nunique() > 1:
        raise ZifvizError("the growth table holds several trajectories; name one")
    if not len(rows):
        return np.zeros(0, dtype=np.int64)
    best = rows.sort_values(["size", "cluster"], ascending=[False, True]).iloc[0]
    return np.asarray(best["zn_ranks"], dtype=np.int64)


def _bin_edges(sizes: np.ndarray, bins) -> np.ndarray | None:
    """None: one point per distinct N; else bin edges in N."""
    distinct = np.unique(sizes)
    if bins is None and len(distinct) <= 40:
        return None
    if bins is None or np.isscalar(bins):
        n = 30 if bins is None else int(bins)
        return np.unique(np.round(np.geomspace(0.5, sizes.max() + 0.5, n + 1), 6))
    return np.asarray(bins, dtype=float)


def extents_figure(growth: pd.DataFrame, *, bins=None, include_percolating: bool = True,
                   title: str | None = None):
    """⟨l_x⟩, ⟨l_y⟩, ⟨l_z⟩ against the cluster size N (seed 003 Fig. 7): a plotly Figure.

    ``growth`` is a :func:`cluster_growth` table (one or several trajectories: their clusters
    are pooled, as seed 003 averages three runs). Clusters are grouped by N (one point per
    distinct N when there are at most 40, else ``bins``: a number of log-spaced bins or bin
    edges); error bars are the standard deviation in the group. Colours: :data:`AXIS_COLORS`.
    ``include_percolating=False`` leaves out clusters that wrap the cell (their extent along a
    wrapped axis is the cell length).
    """
    import plotly.graph_objects as go

    table = growth if include_percolating else growth[~growth["percolating"].astype(bool)]
    sizes = table["size"].to_numpy(dtype=float)
    fig = go.Figure()
    if len(table):
        edges = _bin_edges(sizes, bins)
        group = sizes if edges is None else np.digitize(sizes, edges)
        grouped = table.assign(_g=group).groupby("_g")
        stats = grouped[["size", "l_x", "l_y", "l_z"]].agg(["mean", "std", "count"])
        for axis, colour in AXIS_COLORS.items():
            col = f"l_{axis}"
            fig.add_trace(go.Scatter(
                x=stats[("size", "mean")], y=stats[(col, "mean")],
                error_y=dict(type="data", array=stats[(col, "std")].fillna(0.0), visible=True,
                             thickness=1),
                customdata=stats[(col, "count")], mode="lines+markers", name=f"⟨l_{axis}⟩",
                line=dict(color=colour), marker=dict(color=colour, size=6),
                hovertemplate=f"N %{{x:.1f}}<br>⟨l_{axis}⟩ %{{y:.2f}} Å<br>%{{customdata}} "
                              "clusters<extra></extra>"))
        if sizes.max() / max(sizes.min(), 1.0) > 50:
            fig.update_xaxes(type="log")
    fig.update_layout(title=title or "Cluster extent vs size", xaxis_title="N (Zn in cluster)",
                      yaxis_title="⟨l_i⟩ (Å)", template="plotly_white",
                      legend=dict(orientation="h", y=1.02, yanchor="bottom"))
    return fig


# ---- four-membered rings ----------------------------------------------------------------

def four_rings(net_or_topology, *, return_shifts: bool = False):
    """Every four-membered ring of the Zn–Zn net, each once.

    A ring is a closed walk of four distinct Zn (as periodic images: a cycle of the net that
    closes with zero net image shift; one that closes only through a lattice vector is not a
    ring). Returns ``(n_rings, 4)`` zn_ranks in order round the ring, starting at the smallest
    rank and going on towards its smaller-rank neighbour; rows sorted. With
    ``return_shifts=True`` also ``(n_rings, 4, 3)``: the cell image of each Zn of the ring
    relative to the first, in the frame the net was built from.

    Raises :class:`~zifviz.errors.StructureError` when a ring holds two images of the same Zn
    (a cell too small for the ring; use a supercell).
    """
    net = _net_of(net_or_topology) if isinstance(net_or_topology, ZIFTopology) else net_or_topology
    if not isinstance(net, ZnNet):
        raise ZifvizError(f"four_rings needs a ZnNet or a ZIFTopology, not "
                          f"{type(net_or_topology).__name__}")
    e, s = net.edges, net.shifts
    # directed arcs u -> v with shift, grouped by u
    u = np.concatenate([e[:, 0], e[:, 1]])
    v = np.concatenate([e[:, 1], e[:, 0]])
    sa = np.concatenate([s, -s])
    order = np.lexsort((v, u))
    u, v, sa = u[order], v[order], sa[order]
    start = np.searchsorted(u, np.arange(net.n_zn + 1))
    deg = np.diff(start)
    # two-arc paths u -> v -> w (arc a then arc b), without stepping back to the same image
    n_next = deg[v]
    a = np.repeat(np.arange(len(u)), n_next)
    b = start[v[a]] + (np.arange(len(a)) - np.repeat(np.cumsum(n_next) - n_next, n_next))
    total = sa[a] + sa[b]
    back = (v[b] == u[a]) & (total == 0).all(axis=1)
    a, b, total = a[~back], b[~back], total[~back]
    # two such paths with the same ends (u, w, image) and different middles close a ring
    keys = np.column_stack([u[a], v[b], total])
    order = np.lexsort(keys.T[::-1])
    a, b, keys = a[order], b[order], keys[order]
    total = keys[:, 2:]
    new_group = np.ones(len(keys), dtype=bool)
    new_group[1:] = (keys[1:] != keys[:-1]).any(axis=1)
    gid = np.cumsum(new_group) - 1
    gstart = np.flatnonzero(new_group)
    pos = np.arange(len(keys)) - gstart[gid]
    gsize = np.diff(np.append(gstart, len(keys)))[gid]
    n_pairs = gsize - pos - 1
    p = np.repeat(np.arange(len(keys)), n_pairs)
    q = p + 1 + (np.arange(len(p)) - np.repeat(np.cumsum(n_pairs) - n_pairs, n_pairs))
    ranks = np.column_stack([u[a[p]], v[a[p]], v[b[p]], v[a[q]]])
    zero = np.zeros((len(p), 3), dtype=np.int64)
    images = np.stack([zero, sa[a[p]], total[p], sa[a[q]]], axis=1)
    if not len(ranks):
        empty = np.zeros((0, 4), dtype=np.int64)
        return (empty, np.zeros((0, 4, 3), dtype=np.int64)) if return_shifts else empty
    repeated = np.sort(ranks, axis=1)
    if (repeated[:, 1:] == repeated[:, :-1]).any():
        raise StructureError("a four-membered ring holds two periodic images of one Zn: the cell "
                             "is too small for ring analysis; use a supercell", net.source)
    # canonical form: start at the smallest rank, go on towards the smaller neighbour
    first = np.argmin(ranks, axis=1)
    idx = (first[:, None] + np.arange(4)) % 4
    fwd_r = np.take_along_axis(ranks, idx, axis=1)
    bwd_idx = (first[:, None] - np.arange(4)) % 4
    bwd_r = np.take_along_axis(ranks, bwd_idx, axis=1)
    use_bwd = bwd_r[:, 1] < fwd_r[:, 1]
    idx = np.where(use_bwd[:, None], bwd_idx, idx)
    ranks = np.take_along_axis(ranks, idx, axis=1)
    images = np.take_along_axis(images, idx[:, :, None], axis=1)
    images = images - images[:, :1]
    rows = np.unique(np.column_stack([ranks, images.reshape(len(ranks), 12)]), axis=0)
    ranks, images = rows[:, :4], rows[:, 4:].reshape(-1, 4, 3)
    return (ranks, images) if return_shifts else ranks


def _ring_geometry(rings: np.ndarray, zn_positions, cell, source: str) -> pd.DataFrame:
    cell, inverse = periodic_cell(cell, True, source)
    p = np.asarray(zn_positions, dtype=float)
    if len(rings) and (rings.min() < 0 or rings.max() >= len(p)):
        raise ZifvizError(f"rings name Zn rank {int(rings.max())} but the frame has {len(p)} Zn",
                          source)
    nxt = np.roll(rings, -1, axis=1)
    d, _ = minimum_image(p[nxt] - p[rings], cell, inverse)  # (n, 4, 3) consecutive edges
    lengths = np.sqrt(np.einsum("...i,...i->...", d, d))
    if len(rings):
        require_width(cell, float(lengths.max()), source)
        gap = np.linalg.norm(d.sum(axis=1), axis=1)
        if gap.max() > 1e-3:
            raise StructureError(f"{int((gap > 1e-3).sum())} rings do not close in this frame "
                                 "(rings of another structure?)", source)
    # unit normal of each triplet (Zn k, k+1, k+2): (r_k+1 - r_k) x (r_k+2 - r_k+1); all four
    # point to the same side for a ring walked in one direction
    normals = np.cross(d, np.roll(d, -1, axis=1))
    normals /= np.linalg.norm(normals, axis=2, keepdims=True)
    normal = normals.mean(axis=1)
    normal /= np.linalg.norm(normal, axis=1, keepdims=True)
    cos = normal @ (cell / np.linalg.norm(cell, axis=1, keepdims=True)).T  # (n, 3): a, b, c
    normal = np.where(cos[:, :1] < 0, -normal, normal)
    phi = np.degrees(np.arccos(np.clip(np.abs(cos), 0.0, 1.0)))
    return pd.DataFrame({"ring": np.arange(len(rings), dtype=np.int64),
                         "normal_x": normal[:, 0], "normal_y": normal[:, 1],
                         "normal_z": normal[:, 2], "phi_a": phi[:, 0], "phi_b": phi[:, 1],
                         "phi_c": phi[:, 2]})


def ring_orientation(atoms: Atoms, rings, topology: ZIFTopology | None = None) -> pd.DataFrame:
    """The orientation of each four-membered Zn ring in one frame.

    Parameters
    ----------
    atoms:
        The frame.
    rings:
        ``(n_rings, 4)`` zn_ranks from :func:`four_rings` (or a ZnNet / ZIFTopology to find
        them).
    topology:
        Only used for its Zn (else the Zn of ``atoms``, in atom order).

    Returns
    -------
    DataFrame: ``ring`` (row of ``rings``), ``normal_x, normal_y, normal_z`` (unit normal,
    pointing to the side of +a), ``phi_a`` (degrees, 0–90); ``phi_b``, ``phi_c`` the same to
    the b and c cell vectors (to follow the axis that collapses in a transition).

    Notes
    -----
    Seed 003 (transition section, Fig. 8): φa is "the angle between the vector that is normal
    to the plane formed by the four-membered ring and the crystallographic vector a aligned
    with the X axis", the normal being the average of the normals "to the planes formed by
    different triplets of atoms in the 4-membered ring". So φa is the angle of the NORMAL to a
    (a ring lying in the bc plane has φa = 0). Here the four triplets are the four sets of
    three consecutive ring Zn, each normal taken as a unit vector with one orientation
    round the ring, and a is the frame's first cell vector. A normal has no sign, so φa is
    folded into 0–90°.
    """
    if isinstance(rings, (ZnNet, ZIFTopology)):
        rings = four_rings(rings)
    rings = np.asarray(rings, dtype=np.int64).reshape(-1, 4)
    zn = np.asarray(topology.zn) if topology is not None else np.flatnonzero(atoms.numbers == _ZN)
    source = _frame_name(atoms)
    if topology is not None and (len(atoms) != topology.n_atoms
                                 or (atoms.numbers[zn] != _ZN).any()):
        raise ZifvizError("the topology's Zn are not Zn in this frame (another structure?)",
                          source)
    return _ring_geometry(rings, atoms.positions[zn], atoms.cell.array, source)


def ring_orientations(frames, labels: pd.DataFrame, phase: str,
                      topology: ZIFTopology | None = None, *, net: ZnNet | None = None,
                      rings=None, progress: bool | None = None) -> pd.DataFrame:
    """:func:`ring_orientation` of every ring in every labelled frame, with ``n_new``.

    ``frames``, ``labels``, ``phase``, ``topology``, ``net`` as in :func:`cluster_growth`;
    ``rings`` defaults to ``four_rings(net)``. Returns ``trajectory, frame, time`` and the
    columns of :func:`ring_orientation`, then ``n_new``: how many of the ring's four Zn are
    labelled ``phase`` (seed 003 Fig. 8 counts the other way, its "number of Zn classified as
    CP" in a CP → CP-II run is 4 − n_new). ``table.attrs["phase"]`` is ``phase``.
    """
    frames = _open(frames)
    frames, probe = _net_probe(frames, topology, net)
    name, by_frame = _labels_by_frame(labels, phase, probe)
    rings = four_rings(probe) if rings is None else np.asarray(rings, dtype=np.int64)
    parts = []
    stream = _zn_frames(frames, list(by_frame), None, probe)
    for _, fid, positions, cell, source in _progress(stream, len(by_frame), "rings", progress):
        time, is_new = by_frame[fid]
        table = _ring_geometry(rings, positions, cell, source)
        table.insert(0, "time", time)
        table.insert(0, "frame", fid)
        table.insert(0, "trajectory", name)
        table["n_new"] = is_new[rings].sum(axis=1).astype(np.int64)
        parts.append(table)
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["trajectory", "frame", "time", *RING_COLUMNS, "n_new"])
    out.attrs["phase"] = phase
    return out


def ring_histogram_figure(table: pd.DataFrame, *, angle: str = "phi_a", bin_width: float = 1.0,
                          title: str | None = None):
    """Histograms of φa by ``n_new`` = 0..4 (seed 003 Fig. 8), a plotly Figure.

    Each histogram is a probability density (the groups differ much in size), with its mean
    marked by a vertical line of the same colour (:data:`N_NEW_COLORS`); bins of ``bin_width``
    degrees from 0 to 90, the axis zoomed on the data. ``table`` is a
    :func:`ring_orientations` table (several trajectories are pooled); ``angle`` its column
    to draw (``"phi_a"``, ``"phi_b"`` or ``"phi_c"``).
    """
    import plotly.graph_objects as go

    if angle not in ("phi_a", "phi_b", "phi_c") or angle not in table.columns:
        raise ZifvizError(f"angle must be a ring_orientations column phi_a, phi_b or phi_c, "
                          f"not {angle!r}")
    axis = angle[-1]
    phase = table.attrs.get("phase", "new phase")
    fig = go.Figure()
    for k in range(5):
        phi = table.loc[table["n_new"] == k, angle].to_numpy(dtype=float)
        if not len(phi):
            continue
        colour = N_NEW_COLORS[k]
        fig.add_trace(go.Histogram(
            x=phi, name=f"{k} of 4 in {phase} ({len(phi)} rings)", histnorm="probability density",
            xbins=dict(start=0.0, end=90.0, size=bin_width), marker_color=colour, opacity=0.55))
        fig.add_vline(x=float(phi.mean()), line=dict(color=colour, dash="dash", width=2))
    fig.update_layout(barmode="overlay", template="plotly_white",
                      title=title or f"Four-membered Zn rings: angle of the normal to {axis}",
                      xaxis_title=f"φ{axis} (degrees)", yaxis_title="probability density",
                      legend=dict(title="ring Zn in the new phase"))
    return fig
