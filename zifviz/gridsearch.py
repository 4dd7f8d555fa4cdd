"""Grid search of SOAP hyperparameters (r_cut × σ_at, and any extra axis) by grouped CV of a GPR.

Each grid point is a SOAP descriptor (level, r_cut, sigma, n_max, l_max) and a model setting
(target, n_train); its result is one row of a tidy table::

    level, r_cut, sigma, n_max, l_max, target, n_train, train_rmse, test_rmse,
    fold0_test_rmse, ..., fold0_train_rmse, ..., n_test, seconds, settings_hash[, details]

With ``out=path.csv`` the table is rewritten atomically after every finished point
(:func:`zifviz.storage.atomic_write`): a kill loses at most the points being computed. A
restart with ``resume=True`` reads the file, skips every finished point and computes only the
missing ones. ``settings_hash`` covers everything else that determines a result (the frames,
the CV split, the estimator, the SOAP channels and normalisation, the dscribe version):
rows with another hash are kept in the file but never mixed into the returned table, and a
warning says which settings differ (they are recorded in ``<out>.settings.json``).

``details`` (``<out stem>_points/<point>.npz``) hold each point's out-of-fold parity data
(``y_true, y_pred, y_std``) and, with ``learning_curves=True``, its learning curve
(``lc_n_train, lc_test_rmse, lc_train_rmse``): what :class:`zifviz.widgets.GridExplorer`
shows when a point is clicked.

``n_max`` is an upper bound: at small r_cut dscribe's GTO basis allows fewer radial functions
(:func:`zifviz.descriptors.soap.largest_n_max`), and those points use the largest it allows.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import OutputExistsError, ResumeError, ZifvizError, ZifvizWarning

__all__ = ["grid_search", "SEED000_SIGMAS", "SEED000_RCUTS", "POINT_COLUMNS",
           "GridSettingsWarning"]

SEED000_SIGMAS = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5,
                  0.6, 0.7, 0.8, 0.9, 1.0, 1.25, 1.5, 1.75, 2.0)
"""Seed 000's σ_at values (Å), 19."""

SEED000_RCUTS = (2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 5.25, 5.5, 5.75, 6.0, 6.25, 6.5, 6.75, 7.0,
                 7.25, 7.5, 7.75, 8.0, 8.5, 9.0, 9.5, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0)
"""Seed 000's r_cut values (Å) of its atomistic and AB2 scans, 27 (its A-only scan used
0.25 Å steps up to 13 Å)."""

POINT_COLUMNS = ("level", "r_cut", "sigma", "n_max", "l_max", "target", "n_train")
"""The columns that name a grid point (with ``settings_hash``)."""

_DECIMALS = 6


class GridSettingsWarning(ZifvizWarning):
    """A results file holds rows computed with other settings; they are ignored."""


def _as_list(value) -> list:
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        return [value]
    return list(value)


def _frames_fingerprint(table: pd.DataFrame) -> str:
    h = hashlib.blake2b(b"zifviz-grid-frames-1", digest_size=8)
    for column in ("structure_id", "zn"):
        h.update("\n".join(map(str, table[column])).encode())
    return h.hexdigest()


def _point_key(row) -> tuple:
    return (str(row["level"]), round(float(row["r_cut"]), _DECIMALS),
            round(float(row["sigma"]), _DECIMALS), int(row["n_max"]), int(row["l_max"]),
            str(row["target"]), "all" if pd.isna(row["n_train"]) else int(row["n_train"]),
            str(row["settings_hash"]))


def _point_name(key: tuple) -> str:
    return hashlib.blake2b(repr(key).encode(), digest_size=8).hexdigest()


def _settings_file(out: Path) -> Path:
    return out.with_name(out.stem + ".settings.json")


def _details_dir(out: Path) -> Path:
    return out.with_name(out.stem + "_points")


def grid_search(frames, level="atomistic", r_cuts=SEED000_RCUTS, sigmas=SEED000_SIGMAS, *,
                target="eps_local", n_train=10_000, n_max=16, l_max=8, n_splits: int = 5,
                group_by: str = "framework", estimator=None, species: str = "per-species",
                out=None, resume: bool = True, details: bool = True,
                learning_curves: bool = False, n_jobs: int = 1, client=None,
                progress: bool = True, random_state: int = 0,
                table: pd.DataFrame | None = None) -> pd.DataFrame:
    """Cross-validated GPR error at every point of a SOAP hyperparameter grid.

    Parameters
    ----------
    frames:
        Atomistic frames (list, :class:`zifviz.Trajectory`, DemoSet) with per-atom energies.
    level, r_cuts, sigmas:
        Level(s) and the r_cut (Å) and σ_at (Å) values; default seed 000's 27 × 19 grid.
    target, n_train, n_max, l_max:
        Extra axes: each may be one value or a list (the grid is their product). ``target``:
        a column of the environment table (``eps_local``, ``eps_zn``); ``n_train``: training
        rows per fold (seed 000: 10,000; None: all); ``n_max`` is an upper bound (see the
        module docstring).
    n_splits, group_by:
        Grouped CV: folds by the ``group_by`` column of the environment table.
    estimator:
        Default :class:`zifviz.gpr.GPR` (seed 000's kernel, noise 0.2 eV).
    out:
        CSV file of results, rewritten atomically after each point; None keeps them in memory.
    resume:
        Continue an existing ``out`` (finished points are not recomputed); False refuses to
        replace a file that holds results (:class:`~zifviz.errors.OutputExistsError`).
    details, learning_curves:
        Store each point's parity data (and learning curve) in ``<out stem>_points/``.
    n_jobs, client:
        Descriptors (one per level/r_cut/σ/n_max/l_max) computed in ``n_jobs`` processes, or
        on a ``dask.distributed.Client``.
    table:
        The precomputed ``environment_table(frames)`` (computed here when None).

    Returns
    -------
    The tidy table of the requested points (all computed, in grid order), one row per point.
    """
    from .coarse import normalise_level
    from .environments import environment_table
    from .gpr import GPR

    levels = [normalise_level(lv) for lv in _as_list(level)]
    r_cuts = [float(r) for r in _as_list(r_cuts)]
    sigmas = [float(s) for s in _as_list(sigmas)]
    targets = [str(t) for t in _as_list(target)]
    n_trains = [None if n is None else int(n) for n in _as_list(n_train)]
    n_maxs = [int(n) for n in _as_list(n_max)]
    l_maxs = [int(n) for n in _as_list(l_max)]
    if not (levels and r_cuts and sigmas and targets and n_trains and n_maxs and l_maxs):
        raise ZifvizError("every grid axis needs at least one value")
    estimator = GPR() if estimator is None else estimator

    frames = list(frames) if not isinstance(frames, list) else frames
    table = environment_table(frames, progress=False) if table is None else table
    for column in targets + [group_by]:
        if column not in table.columns:
            raise ZifvizError(f"the environment table has no column {column!r}; columns: "
                              f"{list(table.columns)}")
    y = {t: table[t].to_numpy(float) for t in targets}
    for t, values in y.items():
        if not np.isfinite(values).all():
            raise ZifvizError(f"target {t!r} is missing for {int((~np.isfinite(values)).sum())} "
                              "environments (frames without per-atom energies?)")
    groups = table[group_by].astype(str).to_numpy()

    settings = {"frames": _frames_fingerprint(table), "n_environments": len(table),
                "group_by": group_by, "n_splits": int(n_splits),
                "random_state": int(random_state), "species": species,
                "estimator": type(estimator).__name__,
                "estimator_params": {k: (v if isinstance(v, (int, float, str, bool, type(None)))
                                         else repr(v))
                                     for k, v in estimator.get_params().items()},
                "soap": {"normalise": True, "dtype": "float32", "rbf": "gto"},
                "dscribe_version": _dscribe_version()}
    settings_hash = hashlib.blake2b(json.dumps(settings, sort_keys=True).encode(),
                                    digest_size=8).hexdigest()

    wanted = []
    for lv, rc, sg, nm, lm, tg, nt in itertools.product(levels, r_cuts, sigmas, n_maxs, l_maxs,
                                                         targets, n_trains):
        wanted.append({"level": lv, "r_cut": rc, "sigma": sg, "n_max": nm, "l_max": lm,
                       "target": tg, "n_train": np.nan if nt is None else nt,
                       "settings_hash": settings_hash})

    out = None if out is None else Path(out)
    previous = _read_previous(out, resume, settings, settings_hash)
    done = {}
    if previous is not None:
        for _, row in previous[previous["settings_hash"] == settings_hash].iterrows():
            done[_point_key(row)] = row
    todo = [p for p in wanted if _point_key(p) not in done]

    # one task per descriptor: all its targets and n_train values
    tasks: dict[tuple, list[dict]] = {}
    for p in todo:
        tasks.setdefault((p["level"], p["r_cut"], p["sigma"], p["n_max"], p["l_max"]), []).append(p)

    state = {"rows": previous, "new": []}
    if out is not None:
        _write_settings(out, settings_hash, settings)

    def record(point_rows: list[dict], arrays: list[dict | None]):
        for row, extra in zip(point_rows, arrays):
            if out is not None and details and extra:
                folder = _details_dir(out)
                folder.mkdir(exist_ok=True)
                name = f"{_point_name(_point_key(row))}.npz"
                _save_npz(folder / name, extra)
                row["details"] = f"{folder.name}/{name}"
            done[_point_key(row)] = pd.Series(row)
            state["new"].append(row)
        if out is not None:
            new = pd.DataFrame(state["new"])
            rows = new if state["rows"] is None else pd.concat([state["rows"], new],
                                                               ignore_index=True)
            _write_csv(out, rows)

    from tqdm.auto import tqdm

    common = {"frames": frames, "y": y, "groups": groups, "estimator": estimator,
              "n_splits": n_splits, "species": species, "random_state": random_state,
              "details": details, "learning_curves": learning_curves}
    with tqdm(total=len(todo), desc=f"grid {'/'.join(levels)}", unit="point",
              disable=not progress) as bar:
        for point_rows, arrays in _run(tasks, common, n_jobs, client):
            record(point_rows, arrays)
            bar.update(len(point_rows))

    result = pd.DataFrame([dict(done[_point_key(p)]) for p in wanted])
    return result.reset_index(drop=True)


# ---- computing one descriptor's points -------------------------------------------------------

def _evaluate(descriptor: tuple, points: list[dict], common: dict):
    """Rows (and details arrays) of every point of one descriptor."""
    from .descriptors import SOAP
    from .descriptors.soap import largest_n_max
    from .validation import cross_validate, learning_curve

    level, r_cut, sigma, n_max, l_max = descriptor
    start = time.perf_counter()
    soap = SOAP(level=level, r_cut=r_cut, sigma=sigma,
                n_max=min(n_max, largest_n_max(r_cut, l_max)),
                l_max=l_max, species=common["species"], progress=False)
    X = soap.transform(common["frames"])
    soap_seconds = time.perf_counter() - start
    rows, arrays = [], []
    for point in points:
        t = time.perf_counter()
        y = common["y"][point["target"]]
        n_train = None if pd.isna(point["n_train"]) else int(point["n_train"])
        folds, predictions = cross_validate(X, y, common["groups"], common["estimator"],
                                            common["n_splits"], n_train=n_train,
                                            random_state=common["random_state"])
        row = dict(point)
        row["train_rmse"] = float(folds["train_rmse"].mean())
        row["test_rmse"] = float(np.sqrt(np.mean((predictions["predicted"] - y) ** 2)))
        for k, f in folds.iterrows():
            row[f"fold{int(f['fold'])}_test_rmse"] = float(f["test_rmse"])
        for k, f in folds.iterrows():
            row[f"fold{int(f['fold'])}_train_rmse"] = float(f["train_rmse"])
        row["n_test"] = int(folds["n_test"].sum())
        extra = None
        if common["details"]:
            extra = {"y_true": y.astype(np.float32),
                     "y_pred": predictions["predicted"].to_numpy(np.float32)}
            if "std" in predictions:
                extra["y_std"] = predictions["std"].to_numpy(np.float32)
            if common["learning_curves"]:
                curve = learning_curve(X, y, common["groups"], common["estimator"],
                                       n_splits=common["n_splits"],
                                       n_train=_curve_sizes(n_train, common["groups"],
                                                            common["n_splits"]),
                                       random_state=common["random_state"])
                mean = curve.groupby("n_train")[["test_rmse", "train_rmse"]].mean()
                extra.update(lc_n_train=mean.index.to_numpy(np.int64),
                             lc_test_rmse=mean["test_rmse"].to_numpy(),
                             lc_train_rmse=mean["train_rmse"].to_numpy())
        row["seconds"] = soap_seconds / len(points) + time.perf_counter() - t
        rows.append(row)
        arrays.append(extra)
    return rows, arrays


def _curve_sizes(n_train, groups, n_splits) -> list[int]:
    from .validation import grouped_folds

    largest = min(len(tr) for tr, _ in grouped_folds(groups, n_splits))
    top = largest if n_train is None else min(n_train, largest)
    sizes, n = [], 125
    while n < top:
        sizes.append(n)
        n *= 2
    return sizes + [top]


def _run(tasks: dict, common: dict, n_jobs: int, client):
    """(rows, arrays) of every task, in order of completion."""
    items = list(tasks.items())
    if not items:
        return
    if client is not None:
        from distributed import as_completed
        shared = client.scatter(common, broadcast=True)
        futures = [client.submit(_evaluate, d, pts, shared, pure=False) for d, pts in items]
        for future in as_completed(futures):
            yield future.result()
        return
    if int(n_jobs) == 1 or len(items) == 1:
        for descriptor, points in items:
            yield _evaluate(descriptor, points, common)
        return
    from joblib import Parallel, delayed
    parallel = Parallel(n_jobs=int(n_jobs), backend="loky", return_as="generator_unordered")
    yield from parallel(delayed(_evaluate)(d, pts, common) for d, pts in items)


# ---- files -------------------------------------------------------------------------------------

def _dscribe_version() -> str:
    from importlib import metadata
    try:
        return metadata.version("dscribe")
    except metadata.PackageNotFoundError:
        return "unknown"


def _read_previous(out: Path | None, resume: bool, settings: dict, settings_hash: str):
    if out is None or not out.exists():
        return None
    if out.suffix.lower() != ".csv":
        raise ZifvizError("grid results are written as CSV; give a .csv path", str(out))
    try:
        previous = pd.read_csv(out)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ResumeError(f"the results file cannot be read ({exc}); move it away to start "
                          "again", str(out)) from None
    if not resume and len(previous):
        raise OutputExistsError(f"holds {len(previous)} results; resume=True continues it, or "
                                "choose another file", str(out))
    missing = [c for c in POINT_COLUMNS + ("settings_hash", "test_rmse") if c not in previous]
    if missing:
        raise ResumeError(f"not a zifviz grid-search table (no columns {missing})", str(out))
    other = previous[previous["settings_hash"] != settings_hash]
    if len(other):
        known = _read_settings(out)
        lines = []
        for h, n in other["settings_hash"].value_counts().items():
            differ = _differences(known.get(h), settings)
            lines.append(f"{n} rows with settings {h} ({differ})")
        warnings.warn(f"{out}: ignoring rows computed with other settings: " + "; ".join(lines),
                      GridSettingsWarning, stacklevel=3)
    return previous


def _differences(old: dict | None, new: dict) -> str:
    if old is None:
        return "their settings are not recorded"
    diffs = [f"{k}: {old.get(k)!r} then, {new.get(k)!r} now" for k in sorted(set(old) | set(new))
             if old.get(k) != new.get(k)]
    return "; ".join(diffs) or "same settings, other hash"


def _read_settings(out: Path) -> dict:
    try:
        return json.loads(_settings_file(out).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def _write_settings(out: Path, settings_hash: str, settings: dict) -> None:
    from .storage import atomic_write

    known = _read_settings(out) if out.exists() or _settings_file(out).exists() else {}
    if known.get(settings_hash) == settings:
        return
    known[settings_hash] = settings
    with atomic_write(_settings_file(out)) as fh:
        json.dump(known, fh, indent=1, sort_keys=True)


def _write_csv(out: Path, rows: pd.DataFrame) -> None:
    from .storage import atomic_write

    first = [c for c in POINT_COLUMNS + ("train_rmse", "test_rmse") if c in rows]
    folds = sorted(c for c in rows.columns if str(c).startswith("fold"))
    rest = [c for c in rows.columns if c not in first and c not in folds]
    with atomic_write(out) as fh:
        rows[first + folds + rest].to_csv(fh, index=False)


def _save_npz(path: Path, arrays: dict) -> None:
    from .storage import atomic_write

    with atomic_write(path, "wb") as fh:
        np.savez(fh, **arrays)
