"""Per-Zn model results (GPR predictive std, |error|, ...) as per-atom arrays for the 3D viewer.

A model gives one value per Zn environment, row-aligned with
:func:`zifviz.environment_table`. :func:`per_zn_arrays` writes such columns into copies of
the frames as per-atom arrays: the Zn atom carries its environment's value, every other
atom NaN (drawn grey by the viewer). :func:`zifviz.coarse_grain` carries a Zn's value to its
A bead and gives the B beads NaN, so the same array colours the Zn at all three levels::

    table = zifviz.environment_table(frames)
    table = prediction_columns(table, y_pred, y_std, y_true=table["eps_local"])
    coloured = per_zn_arrays(frames, table, ["gpr_std", "gpr_abs_error"])
    StructureViewer(coloured, level="AB2", color_by="gpr_std")
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from .errors import DataError

__all__ = ["per_zn_arrays", "prediction_columns"]


def prediction_columns(table: pd.DataFrame, y_pred, y_std=None, y_true=None,
                       prefix: str = "gpr_") -> pd.DataFrame:
    """A copy of ``table`` with a model's per-Zn results as columns.

    Parameters
    ----------
    table:
        The EnvironmentTable the predictions are row-aligned with.
    y_pred, y_std, y_true:
        Prediction, predictive standard deviation and reference, one value per row
        (``y_std`` / ``y_true`` optional).
    prefix:
        Column-name prefix: ``{prefix}pred``, ``{prefix}std``, ``{prefix}error`` (pred − true)
        and ``{prefix}abs_error``.
    """
    out = table.copy()
    for name, values in (("pred", y_pred), ("std", y_std), ("true", y_true)):
        if values is None:
            continue
        arr = np.asarray(values, dtype=float).ravel()
        if len(arr) != len(table):
            raise DataError(f"{len(arr)} values of {name!r} for a table of {len(table)} Zn "
                            "environments; predictions must be row-aligned with the table")
        if name != "true":
            out[prefix + name] = arr
        else:
            error = out[prefix + "pred"].to_numpy() - arr
            out[prefix + "error"] = error
            out[prefix + "abs_error"] = np.abs(error)
    return out


def per_zn_arrays(frames, table: pd.DataFrame, columns) -> list:
    """Copies of ``frames`` with per-Zn table columns as per-atom arrays (NaN off the Zn).

    Parameters
    ----------
    frames:
        ``ase.Atoms``, a sequence of Atoms, a :class:`zifviz.Trajectory` or a DemoSet — the
        frames the table was built from (``table["frame_pos"]`` indexes them).
    table:
        Rows with ``frame_pos`` and ``zn`` (atom index), e.g. an EnvironmentTable or rows
        of it; frames without rows get all-NaN arrays.
    columns:
        A column name, a list of names, or ``{array name: column}``.

    Returns
    -------
    list of Atoms (copies; the input frames are not changed), one per frame, each with a
    float array per column. At a coarse-grained level the Zn value sits on the A bead.
    """
    if isinstance(columns, str):
        columns = {columns: columns}
    elif not isinstance(columns, Mapping):
        columns = {c: c for c in columns}
    missing = [c for c in ("frame_pos", "zn", *columns.values()) if c not in table]
    if missing:
        raise DataError(f"the table has no column {missing[0]!r}; use rows of "
                        "zifviz.environment_table(frames) with the model's results added")
    if hasattr(frames, "get_positions"):
        frames = [frames]
    n_frames = len(frames)
    pos = table["frame_pos"].to_numpy()
    if len(pos) and (pos.min() < 0 or pos.max() >= n_frames):
        raise DataError(f"the table names frame_pos {int(pos.max())} but only {n_frames} "
                        "frames were given; pass the frames the table was built from")
    groups = dict(tuple(table.groupby("frame_pos", sort=False))) if len(table) else {}
    out = []
    for i in range(n_frames):
        atoms = frames[i].copy()
        rows = groups.get(i)
        zn = rows["zn"].to_numpy(dtype=int) if rows is not None else np.zeros(0, int)
        if len(zn):
            numbers = atoms.numbers
            bad = (zn < 0) | (zn >= len(atoms))
            if bad.any() or (numbers[zn[~bad]] != 30).any():
                first = int(zn[bad][0]) if bad.any() else int(zn[numbers[zn] != 30][0])
                raise DataError(f"row for frame_pos {i} names atom {first}, which is not a Zn "
                                "of that frame; the table was built from other frames",
                                str(atoms.info.get("source_file", f"frame {i}")))
        for name, column in columns.items():
            values = np.full(len(atoms), np.nan)
            if len(zn):
                values[zn] = pd.to_numeric(rows[column], errors="coerce").to_numpy(float)
            atoms.arrays[name] = values
        out.append(atoms)
    return out
