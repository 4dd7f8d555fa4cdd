"""Identity of frames and Zn environments, and the EnvironmentTable every later step aligns with.

Frame identity (keys of ``atoms.info``)
    ``structure_id``
        What the coordinates are: :func:`structure_id` is a content hash of the atomic numbers,
        the positions and the cell (rounded to :data:`RESOLUTION` Å), unless
        ``info["structure_id"]`` is given (then that string is used as is). The same
        coordinates give the same id in every session and on every machine.
    ``frame``
        The index of the frame in the file it was read from (set by :class:`zifviz.Trajectory`
        and :class:`zifviz.datasets.DemoSet`); for frames without it, the position in the input.
    ``source_file``
        Where the frame came from: the path of the file it was read from.
    ``framework``
        What the structure is: a framework name (``"ZIF-4"``, ``"net:dia"``, ``"glass-02"``).
        The demo ``phases`` set names the framework an MD run started from.
    ``source_set``
        The demo ``phases`` set's sampling source (``"NPT"`` or ``"NVT"``).
    ``phase``
        The phase label (one of :data:`PHASES` in the demo data).

    ``info["source"]`` keeps its historical, mixed meaning (a file name for frames read by
    :func:`zifviz.read`, a framework for frames made by :mod:`zifviz.sampling`); nothing here
    relies on it.

The EnvironmentTable (:func:`environment_table`)
    One row per Zn environment, in a stable, documented order: frames in input order, and
    within a frame the Zn by increasing atom index. An environment is named by
    ``(structure_id, frame, zn)``; ``frame_pos`` is the frame's position in the sequence the
    table was built from (what :func:`locate` returns for linked views). **Every descriptor
    matrix, model output and map made from the same frames is aligned with the table's rows**:
    row ``k`` of ``X``, of a prediction and of ``table`` are the same Zn environment.

    Columns, in this order (property columns only when some frame has the property):

    ========================= ==========================================================
    ``structure_id``          content hash of the frame (str), see :func:`structure_id`
    ``frame``                 frame index in its file (``info["frame"]``, else ``frame_pos``)
    ``zn``                    atom index of the Zn in its frame
    ``zn_rank``               position of the Zn among the frame's Zn (0, 1, ...)
    ``frame_pos``             position of the frame in the input sequence
    ``coordination``          number of imidazolate N bonded to the Zn
    ``eps_zn``                per-atom energy of the Zn itself (eV)
    ``eps_local``             ε_local = ε_Zn + ½ Σ ε_Im over its linkers (eV, seed 000)
    ``eps_local_ref``         ε_local − ``info["zni_energy_per_zn"]`` (relative to ZIF-zni)
    ``phase``                 Categorical, categories :data:`PHASES` first
    ``source_set``            Categorical, categories :data:`SOURCE_SETS` first
    ``temperature``           target temperature of the run (K)
    ``pressure``              target pressure (MPa)
    ``framework``             Categorical, categories :data:`FRAMEWORKS` first
    ``ensemble``, ``time``, ``step``, ``source_file``
    ========================= ==========================================================

    Categories not in the known lists follow them in order of first appearance, so the
    codes of known values are the same in every table.

Example::

    ds = zifviz.datasets.load_demo("phases").query("source_set == 'NVT'")
    table = zifviz.environment_table(ds)          # one row per Zn environment
    frame_pos, zn = zifviz.locate(table, 123)     # row 123 -> ds[frame_pos], atom zn
    rows = find(table, frame_pos)                 # a frame's rows (e.g. after a 3D click)
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
from ase import Atoms

from .energetics import REFERENCE_KEY, atom_energies, local_energies
from .errors import StructureError, UnderCoordinatedZnWarning, ZifvizError
from .topology import ZIFTopology, perceive

PHASES = ("ZIF-4", "ZIF-4-cp", "ZIF-4-cp-II", "ZIF-zni", "ZIF-hPT-II", "glass", "liquid")
"""The phases of seed 003, in its order (the category order of ``phase``)."""

SOURCE_SETS = ("NPT", "NVT")
"""The sampling sources of the demo ``phases`` set."""

FRAMEWORKS = ("ZIF-4", "ZIF-4-cp-II", "ZIF-zni", "ZIF-hPT-II", "glass-01", "glass-02",
              "glass-03")
"""The public frameworks of the demo data (experimental crystals, ab initio glasses); the
hypothetical ones (IZA codes, built nets) follow in the order they appear."""

CATEGORIES = {"phase": PHASES, "source_set": SOURCE_SETS, "framework": FRAMEWORKS}
"""Known category order of each categorical column."""

KEY_COLUMNS = ("structure_id", "frame", "zn", "zn_rank", "frame_pos")
ENERGY_COLUMNS = ("eps_zn", "eps_local", "eps_local_ref")
INFO_COLUMNS = ("phase", "source_set", "temperature", "pressure", "framework", "ensemble",
                "time", "step", "source_file",
                # the hypothetical-ZIF set (zifviz.hzif): how each copy was made
                "framework_source", "procedure", "magnitude", "batch", "atom_sigma",
                "cell_sigma")
"""Per-frame ``atoms.info`` keys copied to every Zn row of the frame (when present)."""

RESOLUTION = 1e-3
"""Rounding (Å) of positions and cell in :func:`structure_id`."""

_ID_VERSION = b"zifviz-structure-id-1"


def structure_id(atoms: Atoms) -> str:
    """A stable id of a structure: ``info["structure_id"]`` when given, else a content hash.

    The hash (16 hex digits, BLAKE2b) covers the atomic numbers, the positions and the cell
    rounded to :data:`RESOLUTION` Å, and the periodic directions; it ignores ``info``,
    energies and other arrays. It is the same for the same coordinates in every session. A
    coordinate lying within a rounding error of a rounding boundary can give another id after a
    round trip through a lossy format (float32, a text file with few decimals): set
    ``info["structure_id"]`` when ids must survive such rewriting.
    """
    given = atoms.info.get("structure_id")
    if given is not None:
        return str(given)
    pos = np.asarray(atoms.positions, dtype=float)
    cell = np.asarray(atoms.cell.array, dtype=float)
    if not (np.isfinite(pos).all() and np.isfinite(cell).all()):
        raise StructureError("NaN or infinite coordinates have no structure id",
                             str(atoms.info.get("source_file", atoms.info.get("source", ""))) or None)
    h = hashlib.blake2b(_ID_VERSION, digest_size=8)
    h.update(np.asarray(atoms.numbers, dtype="<i4").tobytes())
    h.update(np.rint(pos / RESOLUTION).astype("<i8").tobytes())
    h.update(np.rint(cell / RESOLUTION).astype("<i8").tobytes())
    h.update(np.asarray(atoms.pbc, dtype=bool).tobytes())
    return h.hexdigest()


def _frame_source(atoms: Atoms, pos: int) -> str:
    where = atoms.info.get("source_file") or atoms.info.get("source") or "frames"
    frame = atoms.info.get("frame")
    return f"{where} (frame {frame if frame is not None else pos})"


def _topology_for(atoms: Atoms, pos: int, topologies) -> ZIFTopology:
    """The topology of frame ``pos``: perceived, reused (checked) or taken from a list."""
    try:
        if topologies is None:
            return perceive(atoms, source=_frame_source(atoms, pos))
        if isinstance(topologies, ZIFTopology):
            return topologies.at(atoms)
        topo = topologies[pos]
    except ZifvizError as exc:
        try:
            renamed = type(exc)(f"frame at position {pos}: {exc.problem}", exc.source)
        except Exception:  # a subclass with another signature: keep its own message
            raise exc from None
        raise renamed from exc
    if topo.n_atoms != len(atoms):
        raise StructureError(f"topology {pos} is for {topo.n_atoms} atoms, the frame has "
                             f"{len(atoms)}", _frame_source(atoms, pos))
    return topo


def categorical(values, known: Sequence[str]) -> pd.Categorical:
    """``values`` as a Categorical whose categories are ``known`` first, then any others in
    order of first appearance."""
    values = pd.Series(values)
    present = pd.unique(values.dropna())
    extra = [v for v in present if v not in set(known)]
    return pd.Categorical(values, categories=list(known) + extra)


def frame_sequence(frames):
    """``(frames, n)``: one Atoms made a list; ``n`` the number of frames, or ``None`` for an
    iterator (progress bars then count without a total)."""
    if isinstance(frames, Atoms):
        frames = [frames]
    try:
        total = len(frames)  # type: ignore[arg-type]
    except TypeError:
        total = None
    return frames, total


def environment_table(frames: Atoms | Iterable[Atoms], topologies=None, *,
                      progress: bool | None = None) -> pd.DataFrame:
    """One row per Zn environment of ``frames``: identity keys plus the properties they have.

    Parameters
    ----------
    frames:
        One ``Atoms``, a list of them, a :class:`zifviz.Trajectory` or a
        :class:`zifviz.datasets.DemoSet` (anything iterable over ``Atoms``).
    topologies:
        None (perceive every frame), one :class:`~zifviz.ZIFTopology` (reused on every frame
        through its checked ``topology.at(frame)``: a trajectory of one structure), or a
        sequence of topologies, one per frame.
    progress:
        Show a tqdm progress bar; by default only for more than 50 frames.

    Rows are ordered frames first (input order), then Zn by atom index; the columns and their
    meaning are in the module docstring. Descriptor matrices and model outputs made from the
    same frames are aligned with these rows.
    """
    from tqdm.auto import tqdm

    frames, total = frame_sequence(frames)
    if topologies is not None and not isinstance(topologies, ZIFTopology):
        topologies = list(topologies)
        if total is not None and len(topologies) != total:
            raise ZifvizError(f"{len(topologies)} topologies for {total} frames; pass one per "
                              "frame, a single topology to reuse, or None")
    show = progress if progress is not None else (total is None or total > 50)

    per_frame: list[dict] = []
    env: dict[str, list[np.ndarray]] = {k: [] for k in ("zn", "coordination") + ENERGY_COLUMNS}
    with tqdm(frames, total=total, desc="environments", disable=not show, leave=False) as bar:
        for pos, atoms in enumerate(bar):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UnderCoordinatedZnWarning)
                topo = _topology_for(atoms, pos, topologies)
            order = np.argsort(topo.zn, kind="stable")
            zn = np.asarray(topo.zn)[order]
            env["zn"].append(zn)
            env["coordination"].append(np.asarray(topo.coordination)[order])
            energies = atom_energies(atoms)
            nan = np.full(len(zn), np.nan)
            local = nan if energies is None else local_energies(energies, topo)[order]
            ref = atoms.info.get(REFERENCE_KEY)
            env["eps_zn"].append(nan if energies is None else energies[zn])
            env["eps_local"].append(local)
            env["eps_local_ref"].append(nan if ref is None else local - float(ref))
            row = {"structure_id": structure_id(atoms), "frame": atoms.info.get("frame", pos),
                   "frame_pos": pos, "n": len(zn)}
            row.update({key: atoms.info[key] for key in INFO_COLUMNS if key in atoms.info})
            per_frame.append(row)

    present = [k for k in INFO_COLUMNS if any(k in r for r in per_frame)]
    meta = pd.DataFrame(per_frame, columns=["structure_id", "frame", "frame_pos", "n"] + present)
    meta = meta.iloc[np.repeat(np.arange(len(meta)), meta["n"].to_numpy(dtype=np.int64))]
    meta = meta.reset_index(drop=True)
    joined = {k: np.concatenate(v) if v else np.zeros(0) for k, v in env.items()}
    table = pd.DataFrame({
        "structure_id": meta["structure_id"].astype(str),
        "frame": meta["frame"].to_numpy(dtype=np.int64),
        "zn": joined["zn"].astype(np.int64),
        "zn_rank": meta.groupby("frame_pos").cumcount().to_numpy(dtype=np.int64),
        "frame_pos": meta["frame_pos"].to_numpy(dtype=np.int64),
        "coordination": joined["coordination"].astype(np.int64),
    })
    for key in ENERGY_COLUMNS:
        if not np.isnan(joined[key].astype(float)).all():
            table[key] = joined[key].astype(float)
    for key in present:
        values = meta[key]
        if key in CATEGORIES:
            table[key] = categorical(values, CATEGORIES[key])
        elif key == "step" and values.notna().all():
            table[key] = values.to_numpy(dtype=np.int64)
        else:
            table[key] = values.to_numpy()
    return table


def locate(table: pd.DataFrame, row) -> tuple[int, int]:
    """(frame position in the input sequence, Zn atom index) of a table row, for linked views.

    ``row`` is a row label of ``table`` (its index) or the row itself (a Series).
    """
    if not isinstance(row, pd.Series):
        row = table.loc[row]
    return int(row["frame_pos"]), int(row["zn"])


def find(table: pd.DataFrame, frame_pos: int, zn: int | None = None) -> np.ndarray:
    """Row labels of ``table`` for a frame (all its Zn) or one Zn of it: the inverse of
    :func:`locate` (a click on an atom in 3D → the table rows)."""
    mask = table["frame_pos"].to_numpy() == frame_pos
    if zn is not None:
        mask &= table["zn"].to_numpy() == zn
    return table.index.to_numpy()[mask]
