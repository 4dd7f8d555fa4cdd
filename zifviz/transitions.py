"""Phase transitions along MD trajectories: every Zn classified frame by frame (seed 003).

:func:`classify_trajectory` streams the frames of a trajectory through a trained
:class:`zifviz.phases.PhaseClassifier` (a chunk of frames at a time, so memory does not grow
with the number of frames; optionally chunks as tasks on a Dask cluster) and returns a tidy
table, one row per Zn environment and frame, aligned with :func:`zifviz.environment_table`
of the same frames:

==============  =============================================================================
``trajectory``  file stem (or the ``name`` given)
``frame``       index of the frame in its file (``info["frame"]``, else its position)
``time``        ``info["time"]`` (ps), NaN if the frames carry no time
``zn``          atom index of the Zn; ``zn_rank``: its rank among the frame's Zn (0, 1, ...)
``label``       predicted phase; ``confidence`` its probability
``p_<class>``   probability of every class of the model (e.g. ``p_ZIF-4-cp-II``)
==============  =============================================================================

:func:`phase_fractions` gives the fraction of the Zn in each phase per frame (with the cell
lengths, angles and volume), :func:`align_t0` the time at which a phase's fraction crosses a
level (seed 003 aligned its runs at the crossing of 0.5), :func:`labelled_frames` the frames
with per-atom ``phase`` and ``phase_confidence`` arrays (what a viewer colours by) and
:func:`write_labelled` writes them as extended XYZ.

Example
-------
>>> from zifviz import datasets, transitions
>>> traj = datasets.load_demo("transition")                                   # doctest: +SKIP
>>> labels = transitions.classify_trajectory(
...     traj, datasets.demo_model_path("phases-bpsf"))                         # doctest: +SKIP
>>> fractions = transitions.phase_fractions(labels, traj)                      # doctest: +SKIP
>>> transitions.align_t0(fractions, "ZIF-4-cp-II")                             # doctest: +SKIP
"""

from __future__ import annotations

import copy
import gzip
import io as _io
import os
import warnings
from collections import deque
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from ase import Atoms

from .errors import ModelFileError, PerceptionError, UnderCoordinatedZnWarning, ZifvizError

__all__ = ["classify_trajectory", "phase_fractions", "align_t0", "labelled_frames",
           "LabelledFrames", "write_labelled", "CELL_COLUMNS", "NO_PHASE_IN_FILE"]

_ZN = 30
CELL_COLUMNS = ("a", "b", "c", "alpha", "beta", "gamma", "volume")
"""Cell columns of :func:`phase_fractions` (Å, degrees, Å³)."""

_TASKS_PER_WORKER = 2  # chunks in flight per Dask worker thread (bounded memory)


# ---------------------------------------------------------------------------------------------
# inputs
# ---------------------------------------------------------------------------------------------
def _load_model(model):
    """A fitted PhaseClassifier from an object, a path, or the name of a shipped model."""
    from .phases import PhaseClassifier

    if isinstance(model, PhaseClassifier):
        model._check_fitted()
        return model
    if isinstance(model, (str, os.PathLike)):
        path = Path(model)
        if not path.parent.parts and not path.suffix and not path.exists() \
                and not path.with_suffix(".json").exists():
            from .datasets import DEMO_MODELS, demo_model_path

            if str(model) in DEMO_MODELS:
                path = demo_model_path(str(model))
        return PhaseClassifier.load(path)
    raise ModelFileError(f"model must be a fitted PhaseClassifier or the path of a saved one, "
                         f"not {type(model).__name__}")


class _Source:
    """Random access to the frames of a trajectory, with what a Dask worker needs to reopen it.

    ``file_frames`` holds each frame's index in its file; ``atoms(k)`` builds the k-th frame.
    """

    def __init__(self, trajectory, name: str | None):
        from .datasets import DemoSet
        from .io import Trajectory

        self.sequence = None
        self.path = None
        if isinstance(trajectory, (str, os.PathLike)):
            trajectory = Trajectory(trajectory)
        if isinstance(trajectory, DemoSet):
            self.trajectory = trajectory.trajectory
            self.file_frames = np.asarray(trajectory.frames, dtype=np.int64)
            self.path = Path(trajectory.path)
        elif isinstance(trajectory, Trajectory):
            self.trajectory = Trajectory(trajectory.path, format=trajectory.format,
                                         type_map=trajectory.type_map)
            self.file_frames = trajectory.frames
            self.path = Path(trajectory.path)
        elif isinstance(trajectory, Atoms):
            self.sequence = [trajectory]
        elif isinstance(trajectory, Sequence):
            self.sequence = trajectory
        else:
            raise ZifvizError(f"trajectory must be a path, a zifviz.Trajectory, a demo set or a "
                              f"sequence of Atoms, not {type(trajectory).__name__}")
        if self.sequence is not None:
            self.file_frames = np.arange(len(self.sequence), dtype=np.int64)
            first = self.sequence[0] if len(self.sequence) else None
            where = first.info.get("source_file") if isinstance(first, Atoms) else None
            self.label = str(where or "frames")
        else:
            self.label = str(self.path)
        if name is not None:
            self.name = str(name)
        elif self.path is not None:
            self.name = self.path.name.split(".")[0]
        else:
            self.name = Path(self.label).name.split(".")[0] if self.label != "frames" else "frames"

    def __len__(self) -> int:
        return len(self.file_frames)

    def atoms(self, k: int) -> Atoms:
        if self.sequence is not None:
            atoms = self.sequence[k]
            if not isinstance(atoms, Atoms):
                raise ZifvizError(f"frame {k} is a {type(atoms).__name__}, not ase.Atoms",
                                  self.label)
            return atoms
        return self.trajectory[int(self.file_frames[k])]

    def numbers(self, k: int) -> np.ndarray:
        if self.sequence is not None:
            return self.atoms(k).numbers
        return self.trajectory.numbers(int(self.file_frames[k]))

    def frame_index(self, k: int, atoms: Atoms) -> int:
        if self.sequence is not None:
            return int(atoms.info.get("frame", k))
        return int(self.file_frames[k])

    def cell(self, frame: int) -> np.ndarray:
        """Cell of the frame whose index in the file is ``frame``."""
        if self.sequence is None:
            return np.asarray(self.trajectory.cell(int(frame)))
        return np.asarray(self.frame_atoms(frame).cell.array)

    def frame_atoms(self, frame: int) -> Atoms:
        """The frame whose index in the file (``frame`` column) is ``frame``."""
        if self.sequence is None:
            return self.trajectory[int(frame)]
        return self.atoms(self._positions()[int(frame)])

    def _positions(self) -> dict:
        """frame id -> position in the sequence (one pass, frames not kept)."""
        if not hasattr(self, "_frame_map"):
            self._frame_map = {}
            for k in range(len(self.sequence)):
                self._frame_map.setdefault(self.frame_index(k, self.atoms(k)), k)
        return self._frame_map


def _zn_of(source: _Source, k: int, topology) -> np.ndarray:
    """Zn atom indices of frame position ``k`` (checked against the topology's)."""
    zn = np.flatnonzero(source.numbers(k) == _ZN)
    if not len(zn):
        raise PerceptionError(f"frame {int(source.file_frames[k])} has no Zn atoms: nothing to "
                              "classify", source.label)
    if topology is not None and not np.array_equal(zn, topology):
        raise PerceptionError(f"frame {int(source.file_frames[k])} has other Zn atoms than the "
                              "first frame classified (a trajectory of one structure is "
                              "expected)", source.label)
    return zn


# ---------------------------------------------------------------------------------------------
# classify_trajectory
# ---------------------------------------------------------------------------------------------
def _classify_chunk(model, frames: list[Atoms], frame_ids: list[int], zn: np.ndarray,
                    label: str, chunk_frames: int) -> tuple[list[int], list[float], np.ndarray]:
    """One chunk of frames described and classified together: their frame ids, times and the
    (n_frames * n_zn, n_classes) probabilities."""
    for atoms, fid in zip(frames, frame_ids):
        got = np.flatnonzero(atoms.numbers == _ZN)
        if not np.array_equal(got, zn):
            raise PerceptionError(f"frame {fid} has other Zn atoms than the first frame "
                                  "classified (a trajectory of one structure is expected)", label)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UnderCoordinatedZnWarning)
            proba = model.predict_proba(frames, chunk_frames=chunk_frames)
    except ZifvizError as exc:
        if exc.source:
            raise
        raise type(exc)(f"{exc.problem} (model {_model_file(model)})", label) from None
    if proba.shape[0] != len(zn) * len(frames):
        raise ZifvizError(f"the model gave {proba.shape[0]} rows for {len(frames)} frames of "
                          f"{len(zn)} Zn", label)
    times = [float(a.info.get("time", np.nan)) for a in frames]
    return list(frame_ids), times, proba


class _Rows:
    """The output arrays, allocated once (rows known in advance) and filled chunk by chunk,
    so that memory holds the result and one chunk, nothing that grows twice."""

    def __init__(self, n_frames: int, zn: np.ndarray, classes: list[str]):
        self.zn, self.classes = zn, classes
        self.frame = np.zeros(n_frames, dtype=np.int64)
        self.time = np.full(n_frames, np.nan)
        self.proba = np.zeros((n_frames * len(zn), len(classes)))
        self.done = 0

    def add(self, result) -> int:
        ids, times, proba = result
        k, n = self.done, len(ids)
        self.frame[k:k + n] = ids
        self.time[k:k + n] = times
        self.proba[k * len(self.zn):(k + n) * len(self.zn)] = proba
        self.done += n
        return n

    def table(self, name: str) -> pd.DataFrame:
        n_zn, n_frames = len(self.zn), len(self.frame)
        best = np.argmax(self.proba, axis=1)
        columns = {
            "trajectory": np.full(len(best), name, dtype=object),
            "frame": np.repeat(self.frame, n_zn),
            "time": np.repeat(self.time, n_zn),
            "zn": np.tile(self.zn.astype(np.int64), n_frames),
            "zn_rank": np.tile(np.arange(n_zn, dtype=np.int64), n_frames),
            "label": np.asarray(self.classes, dtype=object)[best],
            "confidence": self.proba[np.arange(len(best)), best],
        }
        for j, c in enumerate(self.classes):
            columns[f"p_{c}"] = self.proba[:, j]
        return pd.DataFrame(columns, copy=False)


def _model_file(model) -> str:
    return getattr(model, "file_info_", {}).get("path", "in memory")


def _worker_chunk(model, source_state: dict, positions: list[int], zn: np.ndarray,
                  chunk_frames: int):
    """One chunk on a Dask worker: reopen the file (or take the frames sent) and classify."""
    source = _Source.__new__(_Source)
    source.__dict__.update(source_state)
    frames = [source.atoms(k) for k in positions]
    ids = [source.frame_index(k, a) for k, a in zip(positions, frames)]
    return _classify_chunk(model, frames, ids, zn, source.label, chunk_frames)


def classify_trajectory(trajectory, model, *, start: int = 0, stop: int | None = None,
                        step: int = 1, chunk_frames: int = 16, topology=None,
                        name: str | None = None, client=None,
                        progress: bool = True) -> pd.DataFrame:
    """Classify every Zn environment of every frame of a trajectory, streaming.

    Parameters
    ----------
    trajectory:
        A path (any format :class:`zifviz.Trajectory` reads), a :class:`zifviz.Trajectory`
        (or a view of one), a demo set, or a sequence of ``Atoms`` of one structure.
    model:
        A fitted :class:`~zifviz.phases.PhaseClassifier`, the path of a saved one, or the name
        of a shipped model (``"phases-bpsf"``, see :func:`zifviz.datasets.demo_model_path`).
    start, stop, step:
        Which frames (positions in ``trajectory``, as a slice).
    chunk_frames:
        Frames read, described and classified together; only one chunk (per worker) is held
        in memory, so memory stays flat along the trajectory.
    topology:
        The :class:`~zifviz.ZIFTopology` of the structure, if known; otherwise the Zn of the
        first frame are taken once and every later frame is checked to have the same Zn.
    name:
        Value of the ``trajectory`` column (default: the file stem).
    client:
        A ``dask.distributed.Client``: chunks of frames are classified as tasks on its workers
        (files are reopened there; a bounded number of chunks in flight). Same rows and
        values as without it.
    progress:
        Show a tqdm bar over frames.

    Returns
    -------
    pandas.DataFrame
        ``trajectory, frame, time, zn, zn_rank, label, confidence, p_<class>...``; rows
        frames first (in order), then Zn by atom index, as :func:`zifviz.environment_table`.
    """
    from tqdm.auto import tqdm

    model = _load_model(model)
    if model.descriptor is None:
        raise ModelFileError("this classifier has no descriptor, so it cannot describe frames "
                             "(it was fitted on a matrix)", _model_file(model))
    if getattr(model.descriptor, "progress", False):  # one bar here, not one per chunk
        descriptor = copy.copy(model.descriptor)
        descriptor.progress = False
        model = copy.copy(model)
        model.descriptor = descriptor
    source = _Source(trajectory, name)
    positions = list(range(len(source)))[slice(start, stop, step)]
    chunk_frames = max(1, int(chunk_frames))
    if not positions:
        columns = ["trajectory", "frame", "time", "zn", "zn_rank", "label", "confidence"]
        return pd.DataFrame(columns=columns + [f"p_{c}" for c in model.classes_])
    if topology is not None:
        zn = np.sort(np.asarray(topology.zn, dtype=np.int64))
        _zn_of(source, positions[0], zn)
    else:
        zn = _zn_of(source, positions[0], None)
    chunks = [positions[i:i + chunk_frames] for i in range(0, len(positions), chunk_frames)]
    rows = _Rows(len(positions), zn, [str(c) for c in model.classes_])
    with tqdm(total=len(positions), desc=f"classify {source.name}", unit="frame",
              disable=not progress, leave=False) as bar:
        if client is None:
            for chunk in chunks:
                frames = [source.atoms(k) for k in chunk]
                ids = [source.frame_index(k, a) for k, a in zip(chunk, frames)]
                bar.update(rows.add(_classify_chunk(model, frames, ids, zn, source.label,
                                                    chunk_frames)))
                del frames  # before the next chunk is read: one chunk in memory
        else:
            _on_client(client, model, source, chunks, zn, chunk_frames, rows, bar)
    return rows.table(source.name)


def _on_client(client, model, source: _Source, chunks, zn, chunk_frames, rows: _Rows,
               bar) -> None:
    """Chunks classified on a Dask cluster, a bounded number in flight, results in order."""
    state = dict(source.__dict__)
    state.pop("_frame_map", None)
    [model_future] = client.scatter([model], broadcast=True, hash=False)
    in_flight = _TASKS_PER_WORKER * max(1, sum(client.nthreads().values()))
    futures: deque = deque()

    def collect():
        bar.update(rows.add(futures.popleft().result()))

    for chunk in chunks:
        if source.sequence is not None:  # frames in memory travel with their chunk
            futures.append(client.submit(
                _worker_sequence_chunk, model_future, [source.atoms(k) for k in chunk], chunk,
                zn, source.label, chunk_frames, pure=False))
        else:
            futures.append(client.submit(
                _worker_chunk, model_future, state, chunk, zn, chunk_frames, pure=False))
        if len(futures) >= in_flight:
            collect()
    while futures:
        collect()


def _worker_sequence_chunk(model, frames: list[Atoms], positions: list[int], zn: np.ndarray,
                           label: str, chunk_frames: int):
    """A chunk of in-memory frames on a Dask worker (frame ids as in the serial path)."""
    ids = [int(a.info.get("frame", k)) for a, k in zip(frames, positions)]
    return _classify_chunk(model, frames, ids, zn, label, chunk_frames)


# ---------------------------------------------------------------------------------------------
# fractions and t0
# ---------------------------------------------------------------------------------------------
def _classes(labels: pd.DataFrame) -> list[str]:
    return [c[2:] for c in labels.columns if c.startswith("p_")]


def _check_labels(labels) -> None:
    need = {"trajectory", "frame", "time", "zn", "zn_rank", "label"}
    if not isinstance(labels, pd.DataFrame) or not need <= set(labels.columns):
        missing = sorted(need - set(getattr(labels, "columns", [])))
        raise ZifvizError(f"labels must be the table of classify_trajectory (missing columns "
                          f"{missing})")


def phase_fractions(labels: pd.DataFrame, trajectory=None) -> pd.DataFrame:
    """Fraction of the Zn in each phase, per (trajectory, frame).

    Parameters
    ----------
    labels:
        The table of :func:`classify_trajectory` (several trajectories may be concatenated).
    trajectory:
        The classified trajectory (path, Trajectory, demo set or frames) to add the cell of
        every frame: ``a, b, c`` (Å), ``alpha, beta, gamma`` (degrees), ``volume`` (Å³). With
        several trajectories in ``labels``, a mapping from their names to trajectories.

    Returns
    -------
    pandas.DataFrame
        ``trajectory, frame, time, n_zn``, one ``fraction_<class>`` column per class of the
        model (they sum to 1), then the cell columns if ``trajectory`` is given.
    """
    from ase.geometry import cell_to_cellpar

    _check_labels(labels)
    classes = _classes(labels)
    keys = ["trajectory", "frame"]
    grouped = labels.groupby(keys, sort=False)
    out = grouped.agg(time=("time", "first"), n_zn=("zn", "size")).reset_index()
    counts = pd.crosstab([labels["trajectory"], labels["frame"]],
                         pd.Categorical(labels["label"], categories=classes), dropna=False)
    counts = counts.reindex(pd.MultiIndex.from_frame(out[keys]), fill_value=0)
    for c in classes:
        values = counts[c].to_numpy() if c in counts.columns else np.zeros(len(out))
        out[f"fraction_{c}"] = values / out["n_zn"].to_numpy()
    if trajectory is None:
        return out
    names = out["trajectory"].unique()
    if isinstance(trajectory, Mapping):
        missing = [n for n in names if n not in trajectory]
        if missing:
            raise ZifvizError(f"no trajectory given for {missing}")
        sources = {n: _Source(trajectory[n], n) for n in names}
    else:
        if len(names) > 1:
            raise ZifvizError(f"labels hold {len(names)} trajectories ({list(names)}); pass a "
                              "mapping from each name to its trajectory")
        sources = {names[0]: _Source(trajectory, names[0])}
    params = np.zeros((len(out), 7))
    for i, (name, frame) in enumerate(zip(out["trajectory"], out["frame"])):
        try:
            cell = sources[name].cell(int(frame))
        except (IndexError, KeyError):
            raise ZifvizError(f"frame {frame} of the labels is not in the trajectory given",
                              sources[name].label) from None
        params[i, :6] = cell_to_cellpar(cell)
        params[i, 6] = abs(np.linalg.det(cell))
    for j, col in enumerate(CELL_COLUMNS):
        out[col] = params[:, j]
    return out


def align_t0(fractions: pd.DataFrame, phase: str, level: float = 0.5, *,
             window: int = 1) -> pd.DataFrame:
    """Add ``t0`` and ``time_aligned = time - t0`` per trajectory.

    ``t0`` is the first time the fraction of ``phase`` reaches ``level`` from below, linearly
    interpolated between the two frames around the crossing (the first frame's time when it
    starts at or above ``level``; NaN if it never gets there). Frames without a time use
    their frame index as the clock. ``window`` > 1 takes the crossing of a centred running
    mean over that many frames instead, so that a brief excursion of the classifier (a few
    frames mislabelled while the cell moves fast) is not taken for the transition.
    """
    col = f"fraction_{phase}"
    if col not in fractions:
        known = [c[len("fraction_"):] for c in fractions.columns if c.startswith("fraction_")]
        raise ZifvizError(f"no phase {phase!r} in the fractions; the phases are {known}")
    if not 0 < level < 1:
        raise ZifvizError(f"level must be between 0 and 1, got {level!r}")
    if int(window) < 1:
        raise ZifvizError(f"window must be a number of frames ≥ 1, got {window!r}")
    out = fractions.copy()
    clock = out["time"].astype(float).where(out["time"].notna(), out["frame"].astype(float))
    t0s = pd.Series(np.nan, index=out.index)
    for _, rows in out.groupby("trajectory", sort=False).groups.items():
        t = clock.loc[rows].to_numpy(dtype=float)
        f = out.loc[rows, col].to_numpy(dtype=float)
        order = np.argsort(t, kind="stable")
        t, f = t[order], f[order]
        if int(window) > 1:
            f = pd.Series(f).rolling(int(window), center=True, min_periods=1).mean().to_numpy()
        t0 = np.nan
        above = np.flatnonzero(f >= level)
        if len(above):
            k = above[0]
            if k == 0:
                t0 = t[0]
            else:
                t0 = t[k - 1] + (level - f[k - 1]) / (f[k] - f[k - 1]) * (t[k] - t[k - 1])
        t0s.loc[rows] = t0
    out["t0"] = t0s
    out["time_aligned"] = clock - t0s
    return out


# ---------------------------------------------------------------------------------------------
# labelled frames
# ---------------------------------------------------------------------------------------------
class LabelledFrames(Sequence):
    """The classified frames, lazily, with per-atom ``phase`` (str, "" on non-Zn atoms) and
    ``phase_confidence`` (float, NaN on non-Zn atoms) arrays. ``len``, ``[i]``, iteration;
    ``frames`` holds each frame's index in its file, ``labels`` the rows used."""

    def __init__(self, trajectory, labels: pd.DataFrame):
        _check_labels(labels)
        names = labels["trajectory"].unique()
        if len(names) != 1:
            raise ZifvizError(f"labels of one trajectory are needed, got {list(names)}")
        self.labels = labels
        self._source = _Source(trajectory, str(names[0]))
        frame_col = labels["frame"].to_numpy()
        self.frames = pd.unique(frame_col)
        order = np.argsort(frame_col, kind="stable")
        sorted_frames = frame_col[order]
        self._rows = {}
        starts = np.searchsorted(sorted_frames, self.frames, side="left")
        ends = np.searchsorted(sorted_frames, self.frames, side="right")
        for f, s, e in zip(self.frames, starts, ends):
            self._rows[int(f)] = order[s:e]
        self._zn = labels["zn"].to_numpy()
        self._label = labels["label"].astype(str).to_numpy()
        self._conf = labels["confidence"].to_numpy(dtype=float)

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"frame {i} out of range for {n} labelled frames")
        frame = int(self.frames[int(i) % n])
        atoms = self._source.frame_atoms(frame).copy()
        rows = self._rows[frame]
        zn = self._zn[rows]
        if zn.max() >= len(atoms) or (atoms.numbers[zn] != _ZN).any():
            raise ZifvizError(f"the labels of frame {frame} do not fit its atoms (other "
                              "trajectory?)", self._source.label)
        width = max(1, max(len(s) for s in self._label[rows]))
        phase = np.full(len(atoms), "", dtype=f"<U{width}")
        phase[zn] = self._label[rows]
        confidence = np.full(len(atoms), np.nan)
        confidence[zn] = self._conf[rows]
        atoms.arrays["phase"] = phase
        atoms.arrays["phase_confidence"] = confidence
        atoms.info["frame"] = frame
        return atoms

    def __repr__(self) -> str:
        return f"LabelledFrames({self._source.name!r}, frames={len(self)})"


def labelled_frames(trajectory, labels: pd.DataFrame) -> LabelledFrames:
    """The frames of ``labels`` (one trajectory's rows of :func:`classify_trajectory`) read
    lazily from ``trajectory``, with per-atom ``phase`` and ``phase_confidence`` arrays."""
    return LabelledFrames(trajectory, labels)


NO_PHASE_IN_FILE = "-"
"""``phase`` of the non-Zn atoms in files written by :func:`write_labelled` (extended XYZ
cannot hold an empty string in a column)."""


def write_labelled(trajectory, labels: pd.DataFrame, path, *, progress: bool = False) -> Path:
    """Write the labelled frames (:func:`labelled_frames`) to an extended XYZ file, atomically
    (``.gz`` compressed when the name ends so). Returns the path.

    Non-Zn atoms get ``phase`` :data:`NO_PHASE_IN_FILE` (``"-"``) in the file and a
    ``phase_confidence`` of NaN; MD restart data (momenta) are left out."""
    import ase.io
    from tqdm.auto import tqdm

    from .storage import atomic_write

    path = Path(path)
    frames = labelled_frames(trajectory, labels)
    with atomic_write(path, "wb") as raw:
        stream = gzip.GzipFile(fileobj=raw, mode="wb", filename="", mtime=0) \
            if path.suffix == ".gz" else raw
        fh = _io.TextIOWrapper(stream, encoding="utf-8")
        for atoms in tqdm(frames, desc="write", disable=not progress, leave=False):
            atoms.arrays.pop("momenta", None)
            phase = atoms.arrays["phase"]
            atoms.arrays["phase"] = np.where(phase == "", NO_PHASE_IN_FILE, phase)
            ase.io.write(fh, atoms, format="extxyz")
        fh.flush()
        fh.detach()  # the file itself is closed by atomic_write
        if stream is not raw:
            stream.close()  # the gzip trailer
    return path
