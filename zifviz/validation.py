"""Validation of energy models: grouped cross-validation, learning curves, parity data, and
seed 000's cross-hyperparameter table, with their plotly figures.

Splits are grouped (:class:`sklearn.model_selection.GroupKFold`): every environment of a group
(a framework for the energies demo: all its rattled and strained copies) is on one side of a
split only. Targets are columns of :func:`zifviz.environment_table` (``eps_local``,
``eps_zn``); every array here is row-aligned with that table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import GroupKFold

from .errors import ZifvizError

__all__ = ["CVResult", "cross_validate", "learning_curve", "parity_data",
           "cross_hyperparameter_table", "grouped_folds", "plot_learning_curve", "plot_parity",
           "plot_cross_table", "rmse", "SEED000_RMSE", "frames_within"]

SEED000_RMSE = {"eps_local": {"atomistic": 0.042, "AB2": 0.065, "A": 0.150},
                "eps_zn": {"atomistic": 0.010, "AB2": 0.020, "A": 0.081}}
"""Seed 000's test RMSE (eV) per target and level, for comparison."""


def frames_within(table: pd.DataFrame, max_local: float = 1.0) -> np.ndarray:
    """Positions (``frame_pos``) of the frames whose every Zn environment lies at most
    ``max_local`` eV above relaxed ZIF-zni (``eps_local_ref``): seed 000 left environments
    above 1 eV out of its fits; keeping whole frames keeps rows aligned with the frames."""
    if "eps_local_ref" not in table.columns:
        raise ZifvizError("the table has no eps_local_ref column (frames without per-atom "
                          "energies or without info['zni_energy_per_zn'])")
    worst = table.groupby("frame_pos")["eps_local_ref"].max()
    return worst.index[worst <= max_local].to_numpy()


class CVResult(NamedTuple):
    """What :func:`cross_validate` returns (unpacks as ``folds, predictions``).

    folds:
        One row per fold: ``fold, n_train, n_test, n_groups_test, train_rmse, test_rmse,
        seconds``.
    predictions:
        One row per input row (same order): ``y``, ``predicted`` (out of fold), ``std`` (when
        the estimator gives one), ``fold``, ``group``.
    """

    folds: pd.DataFrame
    predictions: pd.DataFrame

    @property
    def test_rmse(self) -> float:
        """RMSE of all out-of-fold predictions."""
        p = self.predictions
        return rmse(p["y"], p["predicted"])

    @property
    def train_rmse(self) -> float:
        """Mean training RMSE over the folds."""
        return float(self.folds["train_rmse"].mean())


def rmse(y, predicted) -> float:
    """Root-mean-square error."""
    y, predicted = np.asarray(y, dtype=float), np.asarray(predicted, dtype=float)
    return float(np.sqrt(np.mean((y - predicted) ** 2)))


def _arrays(X, y, groups):
    n = len(X)
    y = np.asarray(y, dtype=float).ravel()
    groups = np.asarray(groups)
    if len(y) != n or len(groups) != n:
        raise ZifvizError(f"X has {n} rows, y {len(y)} values and groups {len(groups)}: they "
                          "must be row-aligned (one per environment)")
    if not np.isfinite(y).all():
        raise ZifvizError(f"y has {int((~np.isfinite(y)).sum())} NaN values (environments "
                          "without energies)")
    if pd.isna(pd.Series(groups)).any():
        raise ZifvizError("groups has missing values; every environment needs a group")
    return y, groups


def grouped_folds(groups, n_splits: int = 5, random_state=0) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) row indices of ``n_splits`` folds with no group on both sides; groups are
    shuffled (seeded) before GroupKFold balances them."""
    groups = np.asarray(groups)
    unique = pd.unique(pd.Series(groups))
    if len(unique) < n_splits:
        raise ZifvizError(f"{len(unique)} groups cannot make {n_splits} grouped folds "
                          "(a group is never on both sides)")
    rng = np.random.default_rng(random_state)
    relabel = dict(zip(unique, rng.permutation(len(unique))))
    codes = np.array([relabel[g] for g in groups])
    return list(GroupKFold(n_splits=n_splits).split(np.zeros(len(groups)), groups=codes))


def _subsample(train: np.ndarray, n: int | None, rng) -> np.ndarray:
    if n is None or n >= len(train):
        return train
    return np.sort(rng.choice(train, size=int(n), replace=False))


def _predict(model, X):
    try:
        return model.predict(X, return_std=True)
    except TypeError:
        return model.predict(X), None


def _in_sample(model, X_train):
    """Predictions at the training rows (an exact GPR knows them without a kernel pass)."""
    known = getattr(model, "in_sample_", None)
    return known if known is not None and len(known) == len(X_train) else model.predict(X_train)


def cross_validate(X, y, groups, estimator, n_splits: int = 5, *, n_train: int | None = None,
                   random_state=0, progress: bool = False) -> CVResult:
    """Grouped k-fold cross-validation of ``estimator`` on rows ``X`` and targets ``y``.

    Parameters
    ----------
    X, y, groups:
        Rows, targets and group labels, row-aligned (e.g. SOAP rows, ``table["eps_local"]``,
        ``table["framework"]``).
    estimator:
        A scikit-learn regressor (e.g. :class:`zifviz.gpr.GPR`), cloned for every fold.
    n_train:
        At most this many training rows per fold (a seeded random subset; seed 000 used
        10,000 per fold in its grid scans); None: all.

    Returns
    -------
    :class:`CVResult` (``folds, predictions = cross_validate(...)``).
    """
    import time

    from tqdm.auto import tqdm

    y, groups = _arrays(X, y, groups)
    rng = np.random.default_rng(random_state)
    predicted = np.full(len(y), np.nan)
    std = np.full(len(y), np.nan)
    fold_of = np.full(len(y), -1)
    rows = []
    folds = grouped_folds(groups, n_splits, random_state)
    for k, (train, test) in enumerate(tqdm(folds, desc="CV folds", disable=not progress,
                                           leave=False)):
        start = time.perf_counter()
        train = _subsample(train, n_train, rng)
        model = clone(estimator).fit(X[train], y[train])
        p, s = _predict(model, X[test])
        predicted[test] = p
        if s is not None:
            std[test] = s
        fold_of[test] = k
        train_rmse = rmse(y[train], _in_sample(model, X[train]))
        rows.append({"fold": k, "n_train": len(train), "n_test": len(test),
                     "n_groups_test": len(pd.unique(pd.Series(groups[test]))),
                     "train_rmse": train_rmse, "test_rmse": rmse(y[test], p),
                     "seconds": time.perf_counter() - start})
    predictions = pd.DataFrame({"y": y, "predicted": predicted})
    if np.isfinite(std).any():
        predictions["std"] = std
    predictions["fold"] = fold_of
    predictions["group"] = groups
    return CVResult(pd.DataFrame(rows), predictions)


def learning_curve(X, y, groups, estimator, n_train: Sequence[int] | None = None,
                   n_splits: int = 5, *, start: int = 125, random_state=0,
                   progress: bool = False) -> pd.DataFrame:
    """Test and train RMSE against the number of training rows, grouped folds.

    ``n_train``: the sizes (default: doubling from ``start`` up to the smallest fold's
    training set, which is included). In every fold the training subsets are nested (each
    size adds rows to the previous one) and the test rows are the whole held-out fold.

    Returns a tidy DataFrame: ``n_train, fold, train_rmse, test_rmse, seconds``.
    """
    import time

    from tqdm.auto import tqdm

    y, groups = _arrays(X, y, groups)
    folds = grouped_folds(groups, n_splits, random_state)
    largest = min(len(train) for train, _ in folds)
    if n_train is None:
        sizes, n = [], int(start)
        while n < largest:
            sizes.append(n)
            n *= 2
        sizes.append(largest)
    else:
        sizes = sorted({int(n) for n in n_train})
        if sizes[-1] > largest:
            raise ZifvizError(f"n_train {sizes[-1]} is more than the smallest fold's "
                              f"{largest} training rows")
    rng = np.random.default_rng(random_state)
    rows = []
    with tqdm(total=len(folds) * len(sizes), desc="learning curve", disable=not progress,
              leave=False) as bar:
        for k, (train, test) in enumerate(folds):
            order = rng.permutation(train)
            for n in sizes:
                t = time.perf_counter()
                subset = np.sort(order[:n])
                model = clone(estimator).fit(X[subset], y[subset])
                rows.append({"n_train": n, "fold": k,
                             "train_rmse": rmse(y[subset], _in_sample(model, X[subset])),
                             "test_rmse": rmse(y[test], model.predict(X[test])),
                             "seconds": time.perf_counter() - t})
                bar.update(1)
    return pd.DataFrame(rows)


def parity_data(result, predicted=None, std=None,
                table: pd.DataFrame | None = None) -> pd.DataFrame:
    """A parity table: ``y, predicted, error (= predicted − y), abs_error`` (+ ``std``, ``fold``)
    plus the identity columns of ``table`` (``structure_id, frame, zn, frame_pos``,
    ``framework`` ...) so that a point names its environment.

    ``result`` is a :class:`CVResult`, or the true values with ``predicted`` (and ``std``).
    """
    if isinstance(result, CVResult):
        out = result.predictions.copy()
    else:
        if predicted is None:
            raise ZifvizError("parity_data needs a CVResult or y and predicted")
        out = pd.DataFrame({"y": np.asarray(result, dtype=float),
                            "predicted": np.asarray(predicted, dtype=float)})
        if len(out["y"]) != len(out["predicted"]):
            raise ZifvizError("y and predicted have different lengths")
        if std is not None:
            out["std"] = np.asarray(std, dtype=float)
    out["error"] = out["predicted"] - out["y"]
    out["abs_error"] = out["error"].abs()
    if table is not None:
        if len(table) != len(out):
            raise ZifvizError(f"table has {len(table)} rows, the predictions {len(out)}")
        keep = [c for c in ("structure_id", "frame", "zn", "frame_pos", "framework", "procedure",
                            "magnitude", "phase") if c in table.columns]
        for c in keep:
            out[c] = table[c].to_numpy()
    return out


def cross_hyperparameter_table(frames, optima: Mapping | pd.DataFrame, *,
                               target: str = "eps_local", group_by: str = "framework",
                               estimator=None, n_splits: int = 5, n_train: int | None = None,
                               table: pd.DataFrame | None = None, soap_kwargs=None,
                               random_state=0, progress: bool = True) -> pd.DataFrame:
    """Seed 000's Table 1: CV test RMSE of every level's representation with the SOAP
    hyperparameters optimised for each level.

    Parameters
    ----------
    frames:
        Atomistic frames (list, Trajectory, DemoSet).
    optima:
        ``{level: (r_cut, sigma)}`` or a DataFrame indexed by level with columns ``r_cut`` and
        ``sigma`` (e.g. ``GridExplorer.minima``).
    target, group_by:
        Columns of ``environment_table(frames)``: the energy and the CV groups.
    estimator:
        Default ``GPR()`` (seed 000's kernel, noise 0.2 eV).

    Returns
    -------
    DataFrame: index ``optimised for`` (the level whose optimum is used, with its r_cut and
    sigma as columns ``r_cut``, ``sigma``), one RMSE column per representation (level).
    """
    from .descriptors import SOAP
    from .environments import environment_table
    from .gpr import GPR

    if isinstance(optima, pd.DataFrame):
        optima = {lvl: (float(r["r_cut"]), float(r["sigma"])) for lvl, r in optima.iterrows()}
    from .coarse import normalise_level
    optima = {normalise_level(k): tuple(map(float, v)) for k, v in optima.items()}
    levels = list(optima)
    table = environment_table(frames) if table is None else table
    if target not in table.columns or group_by not in table.columns:
        raise ZifvizError(f"the environment table has no column {target!r} or {group_by!r}")
    y, groups = table[target].to_numpy(float), table[group_by].astype(str).to_numpy()
    estimator = GPR() if estimator is None else estimator
    rows, scores = [], {}
    for optimised_for, (r_cut, sigma) in optima.items():
        row = {"optimised for": optimised_for, "r_cut": r_cut, "sigma": sigma}
        for level in levels:
            if (level, r_cut, sigma) not in scores:  # two levels may share an optimum
                soap = SOAP.seed000(level, r_cut, sigma, progress=progress,
                                    **(soap_kwargs or {}))
                X = soap.transform(frames)
                scores[level, r_cut, sigma] = cross_validate(
                    X, y, groups, estimator, n_splits, n_train=n_train,
                    random_state=random_state).test_rmse
            row[level] = scores[level, r_cut, sigma]
        rows.append(row)
    return pd.DataFrame(rows).set_index("optimised for")


# ---- figures -------------------------------------------------------------------------------

def _level_colour(name):
    from .palettes import palette_for
    return palette_for("level").get(name)


def plot_learning_curve(curves, reference: float | None = None, title: str = "Learning curve"):
    """Log–log RMSE vs training size: mean over folds with the fold spread, test and train.

    ``curves``: a :func:`learning_curve` DataFrame, or ``{level: DataFrame}`` to overlay
    levels (level colours); ``reference``: a horizontal line (e.g. seed 000's RMSE).
    """
    import plotly.graph_objects as go

    if isinstance(curves, pd.DataFrame):
        curves = {"": curves}
    fig = go.Figure()
    for name, df in curves.items():
        colour = _level_colour(name)
        for kind, dash in (("test_rmse", "solid"), ("train_rmse", "dot")):
            stats = df.groupby("n_train")[kind].agg(["mean", "min", "max"]).reset_index()
            label = f"{name} {kind.split('_')[0]}".strip()
            fig.add_trace(go.Scatter(
                x=stats["n_train"], y=stats["mean"], mode="lines+markers", name=label,
                line={"dash": dash, "color": colour},
                error_y={"type": "data", "symmetric": False,
                         "array": stats["max"] - stats["mean"],
                         "arrayminus": stats["mean"] - stats["min"]},
                hovertemplate="N=%{x}<br>RMSE=%{y:.4f} eV<extra>" + label + "</extra>"))
    if reference is not None:
        fig.add_hline(y=reference, line_dash="dash", line_color="grey",
                      annotation_text=f"seed 000: {reference} eV")
    fig.update_layout(title=title, xaxis_title="training environments N",
                      yaxis_title="RMSE (eV)", template="plotly_white")
    fig.update_xaxes(type="log")
    fig.update_yaxes(type="log")
    return fig


def plot_parity(parity: pd.DataFrame, title: str = "Parity", color: str | None = None,
                max_points: int = 20000):
    """Predicted vs reference energies (one point per environment, hover names it), the
    diagonal and the RMSE in the title. ``color``: a column (e.g. ``"std"``, ``"framework"``)."""
    import plotly.graph_objects as go

    df = parity if len(parity) <= max_points else parity.sample(max_points, random_state=0)
    lo = float(min(df["y"].min(), df["predicted"].min()))
    hi = float(max(df["y"].max(), df["predicted"].max()))
    hover = [c for c in ("structure_id", "frame", "zn", "framework", "std") if c in df.columns]
    marker = {"size": 4, "opacity": 0.6}
    if color is not None and color in df.columns and pd.api.types.is_numeric_dtype(df[color]):
        marker.update(color=df[color], colorscale="Viridis", showscale=True,
                      colorbar={"title": color})
    fig = go.Figure(go.Scattergl(
        x=df["y"], y=df["predicted"], mode="markers", marker=marker, name="environments",
        customdata=df[hover].to_numpy() if hover else None,
        hovertemplate="ref %{x:.4f} eV<br>pred %{y:.4f} eV"
        + "".join(f"<br>{c}: %{{customdata[{i}]}}" for i, c in enumerate(hover))
        + "<extra></extra>"))
    fig.add_trace(go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", name="y = x",
                             line={"color": "grey", "dash": "dash"}))
    fig.update_layout(title=f"{title} (RMSE {rmse(parity['y'], parity['predicted']):.4f} eV)",
                      xaxis_title="reference (eV)", yaxis_title="predicted (eV)",
                      template="plotly_white")
    fig.update_yaxes(scaleanchor="x", scaleratio=1)
    return fig


def plot_cross_table(cross: pd.DataFrame, title: str = "RMSE with each level's optimal "
                     "hyperparameters (eV)"):
    """Heat map of :func:`cross_hyperparameter_table` (rows: optimised for; columns: level)."""
    import plotly.graph_objects as go

    levels = [c for c in cross.columns if c not in ("r_cut", "sigma")]
    z = cross[levels].to_numpy(float)
    rows = [f"{i} (r_cut {r:g} Å, σ {s:g} Å)" for i, r, s in
            zip(cross.index, cross.get("r_cut", [np.nan] * len(cross)),
                cross.get("sigma", [np.nan] * len(cross)))]
    fig = go.Figure(go.Heatmap(z=z, x=levels, y=rows, colorscale="Viridis_r",
                               text=np.vectorize(lambda v: f"{v:.3f}")(z),
                               texttemplate="%{text}", colorbar={"title": "RMSE (eV)"}))
    fig.update_layout(title=title, xaxis_title="representation",
                      yaxis_title="hyperparameters optimised for", template="plotly_white")
    fig.update_yaxes(autorange="reversed")
    return fig
