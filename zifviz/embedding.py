"""2-D maps of Zn environments: t-SNE (openTSNE) that places new environments on a fixed map.

:class:`TSNEMap` is a scikit-learn-style estimator over openTSNE: PCA initialisation,
multithreaded, every optimisation setting exposed. ``fit(X)`` builds the map of the reference
rows (``embedding_``, one row per row of ``X``, i.e. of the
:func:`zifviz.environment_table`); ``transform(X_new)`` places new rows on the fixed map
without moving the reference points (openTSNE's ``TSNEEmbedding.transform``); ``save`` /
``load`` keep a map in one ``.npz`` file (arrays plus a JSON header, no pickle).

>>> tsne = TSNEMap(perplexity=30, random_state=0).fit(X)      # X: (n, n_features)
>>> tsne.embedding_.shape
(n, 2)
>>> xy_new = tsne.transform(X_new)                             # reference map unchanged
>>> tsne.save("map.npz"); TSNEMap.load("map.npz").transform(X_new)   # the same placements

Figures: :func:`map_figure` (the map coloured by a column, one panel per value of another,
e.g. per source as seed 003's Fig. 4; fixed colours of :mod:`zifviz.palettes`);
:func:`neighbour_agreement` (how often a placed row lands among reference rows of its own
label). The interactive view is :class:`zifviz.widgets.EmbeddingExplorer`.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator

from .errors import ModelFileError, ZifvizError
from .palettes import KNOWN, NAN_COLOR, palette_for
from .storage import atomic_write

__all__ = ["TSNEMap", "FORMAT_VERSION", "map_figure", "neighbour_labels", "neighbour_agreement",
           "category_colors",
           "is_categorical", "palette_property"]

#: version of the ``.npz`` layout written by :meth:`TSNEMap.save`
FORMAT_VERSION = 1
#: nearest-neighbour searches whose index is rebuilt identically from the stored data
_NEIGHBORS = ("auto", "exact", "annoy")
_ANNOY_METRICS = ("euclidean", "cosine", "manhattan")
#: below this many reference rows "auto" uses the exact search (as openTSNE does)
_EXACT_BELOW = 1000


def _as_matrix(X, what: str, n_features: int | None = None) -> np.ndarray:
    """Float32 C-contiguous 2-D copy of ``X``; a ZifvizError for anything else."""
    try:
        arr = np.ascontiguousarray(X, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise ZifvizError(f"{what} is not a numeric matrix ({exc})") from None
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ZifvizError(f"{what} must be a non-empty 2-D matrix (rows = environments), "
                          f"not of shape {arr.shape}")
    if not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr)).any(axis=1).sum())
        raise ZifvizError(f"{what} has {bad} rows with NaN or infinite values")
    if n_features is not None and arr.shape[1] != n_features:
        raise ZifvizError(f"{what} has {arr.shape[1]} features; the map was fitted on "
                          f"{n_features}")
    return arr


def _threads(n_jobs: int) -> int:
    """Number of threads meant by ``n_jobs`` (``-1``: all cores, ``-2``: all but one, ...)."""
    import os

    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    n = int(n_jobs)
    if n == 0:
        raise ZifvizError("n_jobs must not be 0 (use 1 for one thread, -1 for all cores)")
    return max(1, cores + 1 + n if n < 0 else n)


def _affinities(data, perplexity, method, metric, n_jobs, random_state):
    """Perplexity-based affinities of the reference rows; the same arguments rebuild the
    same neighbour index (how :meth:`TSNEMap.load` restores a map)."""
    from openTSNE.affinity import PerplexityBasedNN

    return PerplexityBasedNN(data, perplexity=perplexity, method=method, metric=metric,
                             n_jobs=n_jobs, random_state=random_state)


class _Progress:
    """openTSNE callback that advances a tqdm bar (and never stops the optimisation)."""

    def __init__(self, bar, every: int):
        self.bar, self.every = bar, every

    def __call__(self, iteration, error, embedding):
        self.bar.update(self.every)
        self.bar.set_postfix(KL=f"{error:.3f}", refresh=False)
        return False


class TSNEMap(BaseEstimator):
    """t-SNE map of descriptor rows (openTSNE), with new rows placed on the fixed map.

    Parameters
    ----------
    perplexity:
        Effective number of neighbours of each point.
    n_iter, early_exaggeration_iter:
        Iterations of the normal and of the early-exaggeration phases.
    initialization:
        ``"pca"`` (default), ``"spectral"`` or ``"random"`` (openTSNE's schemes).
    metric:
        ``"euclidean"``, ``"cosine"`` or ``"manhattan"``.
    neighbors:
        Nearest-neighbour search: ``"exact"`` (scikit-learn), ``"annoy"`` (approximate) or
        ``"auto"`` (exact below 1,000 rows, Annoy above). Both indexes are rebuilt
        identically from the stored rows by :meth:`load`.
    learning_rate, early_exaggeration, exaggeration, dof, theta, negative_gradient_method,
    n_interpolation_points, min_num_intervals, max_grad_norm, max_step_norm:
        Passed to :class:`openTSNE.TSNE` unchanged (see its parameter guide).
    n_jobs:
        Threads (``-1``: all cores).
    random_state:
        Seed of the neighbour index and of the optimisation.
    progress:
        Show a tqdm bar during :meth:`fit`.

    Attributes
    ----------
    embedding_: (n, 2) float64 array, the map of the fitted rows (centred on the origin).
    kl_divergence_: KL divergence of the final map.
    neighbors_: the neighbour search used (``"exact"`` or ``"annoy"``).
    n_features_in_: number of features of the fitted rows.
    fit_seconds_: wall time of :meth:`fit`.
    """

    def __init__(self, perplexity: float = 30, n_iter: int = 500,
                 early_exaggeration_iter: int = 250, initialization: str = "pca",
                 metric: str = "euclidean", neighbors: str = "auto",
                 learning_rate="auto", early_exaggeration="auto", exaggeration=None,
                 dof: float = 1, theta: float = 0.5, negative_gradient_method: str = "auto",
                 n_interpolation_points: int = 3, min_num_intervals: int = 50,
                 max_grad_norm=None, max_step_norm=5, n_jobs: int = -1,
                 random_state: int = 0, progress: bool = True):
        self.perplexity = perplexity
        self.n_iter = n_iter
        self.early_exaggeration_iter = early_exaggeration_iter
        self.initialization = initialization
        self.metric = metric
        self.neighbors = neighbors
        self.learning_rate = learning_rate
        self.early_exaggeration = early_exaggeration
        self.exaggeration = exaggeration
        self.dof = dof
        self.theta = theta
        self.negative_gradient_method = negative_gradient_method
        self.n_interpolation_points = n_interpolation_points
        self.min_num_intervals = min_num_intervals
        self.max_grad_norm = max_grad_norm
        self.max_step_norm = max_step_norm
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.progress = progress

    # ------------------------------------------------------------------ fitting
    def _check_params(self, n: int) -> str:
        if self.neighbors not in _NEIGHBORS:
            raise ZifvizError(f"neighbors must be one of {_NEIGHBORS}, not {self.neighbors!r}")
        if self.metric not in _ANNOY_METRICS:
            raise ZifvizError(f"metric must be one of {_ANNOY_METRICS}, not {self.metric!r}")
        if not (isinstance(self.random_state, (int, np.integer)) and self.random_state >= 0):
            raise ZifvizError("random_state must be a non-negative integer (a map must be "
                              f"reproducible to place new points), not {self.random_state!r}")
        if n < 4:
            raise ZifvizError(f"a t-SNE map needs at least 4 rows, got {n}")
        if self.neighbors == "auto":
            return "exact" if n < _EXACT_BELOW else "annoy"
        return self.neighbors

    def fit(self, X, y=None) -> "TSNEMap":
        """Build the map of the rows of ``X`` (n_environments, n_features)."""
        from openTSNE import TSNE
        from tqdm.auto import tqdm

        data = _as_matrix(X, "X")
        method = self._check_params(len(data))
        every = 25
        total = int(self.early_exaggeration_iter) + int(self.n_iter)
        bar = tqdm(total=total, desc=f"t-SNE of {len(data):,} rows", unit="it",
                   disable=not self.progress, leave=False)
        t0 = time.perf_counter()
        try:
            bar.set_postfix_str("nearest neighbours")
            threads = _threads(self.n_jobs)
            affinities = _affinities(data, self.perplexity, method, self.metric, threads,
                                     int(self.random_state))
            tsne = TSNE(
                n_components=2, perplexity=self.perplexity, learning_rate=self.learning_rate,
                early_exaggeration_iter=self.early_exaggeration_iter,
                early_exaggeration=self.early_exaggeration, n_iter=self.n_iter,
                exaggeration=self.exaggeration, dof=self.dof, theta=self.theta,
                n_interpolation_points=self.n_interpolation_points,
                min_num_intervals=self.min_num_intervals, initialization=self.initialization,
                metric=self.metric, max_grad_norm=self.max_grad_norm,
                max_step_norm=self.max_step_norm, n_jobs=self.n_jobs, neighbors=method,
                negative_gradient_method=self.negative_gradient_method,
                callbacks=_Progress(bar, every) if self.progress else None,
                callbacks_every_iters=every, random_state=int(self.random_state))
            embedding = tsne.fit(data, affinities=affinities)
        finally:
            bar.close()
        embedding.gradient_descent_params["callbacks"] = None  # no progress bar when placing
        self.fit_seconds_ = time.perf_counter() - t0
        # openTSNE's transform centres the reference map in place: centre it once here, so
        # placing new points never moves the reference points
        embedding -= (embedding.max(axis=0) + embedding.min(axis=0)) / 2
        self._reference = embedding
        self._data = data
        self.neighbors_ = method
        self._index_threads = threads
        self.n_features_in_ = data.shape[1]
        self.kl_divergence_ = float(embedding.kl_divergence) \
            if embedding.kl_divergence is not None else float("nan")
        self.embedding_ = np.array(embedding, dtype=np.float64)
        return self

    def fit_transform(self, X, y=None) -> np.ndarray:
        """:meth:`fit` and return :attr:`embedding_`."""
        return self.fit(X).embedding_

    def _check_fitted(self):
        if not hasattr(self, "_reference"):
            raise ZifvizError("this TSNEMap is not fitted yet: call fit(X) or TSNEMap.load(path)")

    # ------------------------------------------------------------------ new points
    def transform(self, X, perplexity: float = 5, k: int = 25, n_iter: int = 250,
                  learning_rate: float = 0.1, exaggeration: float = 1.5,
                  max_grad_norm: float = 0.25, initialization: str = "median") -> np.ndarray:
        """Place new rows on the fixed map; returns their (n_new, 2) positions.

        Each new row starts at the median position of its ``k`` nearest reference rows and is
        optimised against the reference map only (openTSNE's ``TSNEEmbedding.transform``; the
        other parameters are its own). The reference map does not move.
        """
        self._check_fitted()
        data = _as_matrix(X, "X_new", self.n_features_in_)
        placed = self._reference.transform(
            data, perplexity=perplexity, initialization=initialization, k=k,
            learning_rate=learning_rate, exaggeration=exaggeration, n_iter=n_iter,
            max_grad_norm=max_grad_norm)
        return np.array(placed, dtype=np.float64)

    # ------------------------------------------------------------------ files
    def _header(self) -> dict:
        import openTSNE

        import zifviz

        gd = self._reference.gradient_descent_params
        return {
            "class": "TSNEMap", "format_version": FORMAT_VERSION,
            "zifviz_version": getattr(zifviz, "__version__", "unknown"),
            "openTSNE_version": openTSNE.__version__,
            "params": {k: v for k, v in self.get_params().items()},
            "neighbors": self.neighbors_, "index_threads": self._index_threads,
            "n_samples": int(len(self._data)),
            "n_features": int(self.n_features_in_),
            "kl_divergence": self.kl_divergence_,
            "effective_perplexity": float(self._reference.affinities.effective_perplexity_),
            "placement": {k: v for k, v in gd.items() if k != "callbacks"},
        }

    def save(self, path) -> Path:
        """Write the map to ``path`` (``.npz``: the reference rows as float32, the map and a
        JSON header with every parameter; written atomically). Returns the path.

        The reference rows are what placing new points needs (their neighbour index is
        rebuilt by :meth:`load`): about ``4 * n * n_features`` bytes before compression.
        """
        self._check_fitted()
        path = Path(path)
        if path.suffix != ".npz":
            raise ZifvizError("a TSNEMap is saved as .npz", str(path))
        header = json.dumps(self._header(), sort_keys=True)
        with atomic_write(path, "wb") as fh:
            np.savez_compressed(fh, header=np.array(header), data=self._data,
                                embedding=np.asarray(self._reference, dtype=np.float64))
        return path

    @classmethod
    def load(cls, path, n_jobs: int | None = None) -> "TSNEMap":
        """Read a map written by :meth:`save`; new points are placed as before saving.

        ``n_jobs`` overrides the stored number of threads of the placement (the neighbour
        index is rebuilt with the threads that built it: Annoy's trees depend on them).
        """
        from openTSNE import TSNEEmbedding

        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as z:
                header = json.loads(str(z["header"]))
                data = np.ascontiguousarray(z["data"], dtype=np.float32)
                embedding = np.asarray(z["embedding"], dtype=np.float64)
        except FileNotFoundError:
            raise ModelFileError("no such file", str(path)) from None
        except (OSError, ValueError, KeyError) as exc:
            raise ModelFileError(f"not a TSNEMap file ({type(exc).__name__}: {exc})",
                                 str(path)) from None
        if header.get("class") != "TSNEMap":
            raise ModelFileError(f"holds a {header.get('class')!r}, not a TSNEMap", str(path))
        if header.get("format_version") != FORMAT_VERSION:
            raise ModelFileError(f"format version {header.get('format_version')} is not "
                                 f"{FORMAT_VERSION} (written by another zifviz)", str(path))
        if data.shape != (header["n_samples"], header["n_features"]) or \
                embedding.shape != (header["n_samples"], 2):
            raise ModelFileError(f"arrays of shape {data.shape} and {embedding.shape} do not "
                                 f"match the header ({header['n_samples']} rows, "
                                 f"{header['n_features']} features)", str(path))
        params = dict(header["params"])
        if n_jobs is not None:
            params["n_jobs"] = n_jobs
        self = cls(**params)
        # the Annoy index depends on the number of threads that built it: the stored one
        affinities = _affinities(data, params["perplexity"], header["neighbors"],
                                 params["metric"], header["index_threads"],
                                 int(params["random_state"]))
        placement = dict(header["placement"], n_jobs=params["n_jobs"], callbacks=None)
        self._reference = TSNEEmbedding(embedding, affinities,
                                        random_state=int(params["random_state"]), **placement)
        self._data = data
        self.neighbors_ = header["neighbors"]
        self._index_threads = int(header["index_threads"])
        self.n_features_in_ = int(header["n_features"])
        self.kl_divergence_ = float(header["kl_divergence"])
        self.embedding_ = embedding.copy()
        return self


# ---------------------------------------------------------------------- colours and figures
def is_categorical(values) -> bool:
    """Whether a column is coloured by category (strings, booleans, categoricals)."""
    import pandas as pd

    dtype = pd.Series(values).dtype
    return isinstance(dtype, pd.CategoricalDtype) or dtype.kind in "bOSU" or \
        pd.api.types.is_string_dtype(dtype)


def palette_property(column: str, categories) -> str:
    """Name of the fixed colour table for ``column``: its own if it has one, else the known
    table that holds all of its categories (a predicted phase gets the phase colours, an
    ``ensemble`` of NVT/NPT the source colours), else the column name (qualitative colours
    in category order)."""
    if column in KNOWN:
        return column
    cats = {str(c) for c in categories} - {"nan", "None", "<NA>"}
    for name, table in KNOWN.items():
        if name != "bool" and cats and cats <= set(table):
            return name
    return column


def category_colors(column: str, values) -> dict[str, str]:
    """``{category: '#rrggbb'}`` for the values of a categorical column, in drawing order:
    the categories of the fixed table first (in its order), then the others sorted."""
    import pandas as pd

    values = pd.Series(values)
    cats = [str(c) for c in pd.unique(values.dropna())]
    prop = palette_property(column, cats)
    fixed = list(palette_for(prop))
    cats = [c for c in fixed if c in cats] + sorted(c for c in cats if c not in fixed)
    return palette_for(prop, cats)


def map_figure(xy, table, color_by: str = "phase", facet: str | None = None,
               background=None, marker_size: float | None = None, height: int = 420,
               title: str | None = None):
    """A 2-D map as a plotly figure, coloured by a column of ``table`` (row-aligned with
    ``xy``).

    Parameters
    ----------
    xy:
        ``(n, 2)`` map positions (e.g. :attr:`TSNEMap.embedding_`).
    table:
        DataFrame with ``color_by`` (and ``facet``) columns, one row per row of ``xy``.
    color_by:
        Categorical column (fixed palettes, one legend entry per category) or numeric
        (colour scale).
    facet:
        Column whose values get one panel each, on the same axes (seed 003's Fig. 4: one
        panel per source); the other rows are drawn light grey behind.
    background:
        ``(m, 2)`` positions drawn light grey behind every panel (e.g. the reference map
        under placed points).
    """
    import pandas as pd
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    xy = np.asarray(xy, dtype=float)
    if xy.ndim != 2 or xy.shape[1] != 2 or len(xy) != len(table):
        raise ZifvizError(f"map_figure: xy of shape {xy.shape} is not (n, 2) with n = "
                          f"{len(table)} table rows")
    for column in (color_by, facet):
        if column is not None and column not in table.columns:
            raise ZifvizError(f"map_figure: no column {column!r} in the table")
    panels = [None] if facet is None else [str(v) for v in pd.unique(table[facet].dropna())]
    fig = make_subplots(rows=1, cols=len(panels), shared_xaxes=True, shared_yaxes=True,
                        horizontal_spacing=0.02,
                        subplot_titles=None if facet is None else
                        [f"{facet} = {p}" for p in panels])
    size = marker_size or (5 if len(xy) < 5000 else 3)
    values = table[color_by]
    categorical = is_categorical(values)
    colours = category_colors(color_by, values) if categorical else {}
    numbers = None if categorical else pd.to_numeric(values, errors="coerce").to_numpy(float)
    grey = dict(color="#d9d9d9", size=max(size - 1, 2))
    for k, panel in enumerate(panels, start=1):
        mine = np.ones(len(xy), bool) if panel is None else \
            (table[facet].astype(str) == panel).to_numpy()
        behind = [xy[~mine]] + ([np.asarray(background, float)] if background is not None else [])
        behind = np.vstack(behind) if behind else np.zeros((0, 2))
        if len(behind):
            fig.add_trace(go.Scattergl(x=behind[:, 0], y=behind[:, 1], mode="markers",
                                       marker=grey, hoverinfo="skip", showlegend=False),
                          row=1, col=k)
        if categorical:
            labels = values.astype(str).where(values.notna(), None).to_numpy()
            for cat, colour in colours.items():
                sel = mine & (labels == cat)
                fig.add_trace(go.Scattergl(
                    x=xy[sel, 0], y=xy[sel, 1], mode="markers", name=cat, legendgroup=cat,
                    showlegend=k == 1, marker=dict(color=colour, size=size, opacity=0.85)),
                    row=1, col=k)
            sel = mine & values.isna().to_numpy()
            if sel.any():
                fig.add_trace(go.Scattergl(x=xy[sel, 0], y=xy[sel, 1], mode="markers",
                                           name="no value", showlegend=k == 1,
                                           marker=dict(color=NAN_COLOR, size=size)),
                              row=1, col=k)
        else:
            ok = mine & np.isfinite(numbers)
            finite = numbers[np.isfinite(numbers)]
            fig.add_trace(go.Scattergl(
                x=xy[ok, 0], y=xy[ok, 1], mode="markers", name=color_by, showlegend=False,
                marker=dict(color=numbers[ok], colorscale="Viridis", size=size,
                            cmin=float(finite.min()) if len(finite) else None,
                            cmax=float(finite.max()) if len(finite) else None,
                            colorbar=dict(title=dict(text=color_by)) if k == 1 else None,
                            showscale=k == 1)), row=1, col=k)
    fig.update_xaxes(showticklabels=False, zeroline=False, showgrid=False)
    fig.update_yaxes(showticklabels=False, zeroline=False, showgrid=False)
    fig.update_layout(height=height, template="plotly_white", title=title,
                      legend=dict(title=dict(text=color_by), itemsizing="constant"),
                      margin=dict(l=10, r=10, t=60 if title else 40, b=10))
    return fig


def neighbour_labels(reference, labels_reference, new, k: int = 10) -> np.ndarray:
    """Majority label of the ``k`` nearest reference rows of every new row (positions on a
    map, or descriptor rows: the same question asked in the descriptor space)."""
    from sklearn.neighbors import KNeighborsClassifier

    ref = np.asarray(reference, float)
    new = np.asarray(new, float)
    if len(ref) != len(labels_reference):
        raise ZifvizError(f"neighbour_labels: {len(ref)} reference rows but "
                          f"{len(labels_reference)} labels")
    if ref.ndim != 2 or new.ndim != 2 or ref.shape[1] != new.shape[1]:
        raise ZifvizError(f"neighbour_labels: reference {ref.shape} and new {new.shape} rows "
                          "must be 2-D with the same columns")
    vote = KNeighborsClassifier(n_neighbors=min(k, len(ref))).fit(
        ref, np.asarray(labels_reference).astype(str))
    return vote.predict(new)


def neighbour_agreement(reference, labels_reference, new, labels_new, k: int = 10) -> float:
    """Fraction of new rows whose ``k`` nearest reference rows mostly carry the new row's own
    label (:func:`neighbour_labels`): do placed environments land in their phase's region?"""
    if len(new) != len(labels_new):
        raise ZifvizError(f"neighbour_agreement: {len(new)} new rows but {len(labels_new)} labels")
    votes = neighbour_labels(reference, labels_reference, new, k)
    return float(np.mean(votes == np.asarray(labels_new).astype(str)))
