"""GridExplorer: RMSE over the (r_cut, σ_at) grid at the three levels, side by side.

The widget is a thin view over a tidy table, one row per computed grid point::

    level, r_cut, sigma, test_rmse[, train_rmse][, other axes: target, n_train, l_max, ...]
    [, details: path of an .npz with that point's parity data and learning curve]

which is what :func:`zifviz.gridsearch.grid_search` writes, or what
:meth:`GridExplorer.from_tables` builds from tables computed elsewhere (seed 000's
``results.csv`` files, say) with the column names given by the user.

How the grid is drawn
---------------------
* One panel per level, all on ONE logarithmic colour scale (default 0.05–0.18 eV, seed
  000's Fig. 2; ``color_range`` sets it; ``None`` takes the range of what is shown and
  follows the controls).
* A level whose points fill at least ``fill_threshold`` (default 0.5) of the rectangle of
  its distinct r_cut × σ values is drawn as a **filled contour** of log10(RMSE): plotly
  interpolates linearly across the missing points of that rectangle. The levels need not
  share a rectangle (seed 000's A-only scan has 42 r_cut values, its other two 27, with
  0.25–1 Å steps). A sparser, scattered set is drawn as **coloured points** only. The status line under the plot says
  which panel is which. Computed points are always drawn as markers, so interpolated
  areas can be told from computed ones.
* A point that appears more than once (same level, r_cut, σ and other axes, e.g. a run
  repeated or two result files joined) is drawn and ranked by the MEAN of its RMSEs; its
  stored details are those of its last row.
* Each level's minimum is marked with a star and listed in the table under the plot
  (:attr:`GridExplorer.minima`).
* Dropdowns choose the value of every other axis present in the table (target ε_local or
  ε_Zn, N, l_max, ...) and test vs train RMSE.
* Clicking a point (or anywhere in a contour: the nearest computed point is taken) shows
  that point's parity plot and learning curve when they were stored (see
  :func:`read_point_details`), else a message that nothing was stored.
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Callable, Mapping

import ipywidgets as widgets
import numpy as np
import pandas as pd

from ..coarse import LEVEL_LABELS, LEVELS, normalise_level
from ..errors import DataError, ZifvizError

__all__ = ["GridExplorer", "DEFAULT_RANGE", "tidy_grid_tables", "read_grid_table",
           "grid_minima", "grid_drawing", "read_point_details", "DETAIL_KEYS",
           "seed000_grid_tables", "SEED000_COLUMNS"]

#: default colour range of the RMSE (eV), seed 000's Fig. 2
DEFAULT_RANGE = (0.05, 0.18)
#: RMSE columns of the tidy table and their labels in the metric dropdown
METRICS = {"test_rmse": "test RMSE", "train_rmse": "train RMSE"}
#: columns of a tidy table that are never an axis of their own
_NOT_AXES = {"level", "r_cut", "sigma", "details", "seconds", "settings_hash", "hash", "id",
             "n_points", "n_test", "started", "finished"}
#: arrays of a point's details file (.npz): parity data and learning curve
DETAIL_KEYS = {"parity": ("y_true", "y_pred"), "parity_std": ("y_std",),
               "learning_curve": ("lc_n_train", "lc_test_rmse"), "learning_curve_train": ("lc_train_rmse",)}
_DECIMALS = 6  # r_cut and σ are compared after rounding to this many decimals
_TABLE_SUFFIXES = {".csv": ",", ".tsv": "\t", ".txt": None, ".json": "json"}
#: column names of seed 000's results tables (for ``from_tables``)
SEED000_COLUMNS = {"r_cut": "config.cutoff", "sigma": "config.sigma",
                   "rmse": "result.av_test_rmse", "train_rmse": "result.av_train_rmse"}


def seed000_grid_tables() -> dict[str, Path]:
    """Paths of seed 000's own grid-search tables, ``{level: path}`` (``data/seed000_grids``
    of a zifviz checkout; CC BY 4.0, source and changes in its README)."""
    from ..datasets import checkout_root, demo_dir

    folders = [demo_dir() / "seed000_grids"]
    if checkout_root() is not None:
        folders.append(checkout_root() / "data" / "seed000_grids")
    for folder in folders:
        paths = {level: folder / f"{level}.csv" for level in LEVELS}
        if all(p.is_file() for p in paths.values()):
            return paths
    raise DataError("seed 000's grid tables are not here; they ship with the zifviz source "
                    "(data/seed000_grids/)", str(folders[0]))


# ----------------------------------------------------------------------------- tables
def read_grid_table(table, name: str) -> tuple[pd.DataFrame, str]:
    """A results table from a path (.csv, .tsv, .json) or a DataFrame.

    Returns the table and the name used for it in error messages (the path, or
    ``table 'name'``)."""
    if isinstance(table, pd.DataFrame):
        return table, f"table {name!r}"
    path = Path(os.fspath(table))
    source = str(path)
    suffix = path.suffix.lower()
    if suffix not in _TABLE_SUFFIXES:
        raise DataError(f"unknown table format {path.suffix!r}; use .csv, .tsv or .json", source)
    if not path.is_file():
        raise DataError("no such results table", source)
    try:
        if suffix == ".json":
            df = pd.read_json(path)
        else:
            df = pd.read_csv(path, sep=_TABLE_SUFFIXES[suffix], engine="python")
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot be read as a results table ({exc})", source) from None
    if df.empty:
        raise DataError("the results table has no rows", source)
    return df, source


def _level_name(key) -> str:
    try:
        return normalise_level(key)
    except ZifvizError:
        return str(key)


def _numeric(df: pd.DataFrame, column: str, source: str) -> pd.Series:
    values = pd.to_numeric(df[column], errors="coerce")
    bad = values.isna() & df[column].notna()
    if bad.any():
        raise DataError(f"column {column!r} has non-numeric values "
                        f"(first: {df[column][bad].iloc[0]!r})", source)
    return values


def tidy_grid_tables(tables: Mapping[str, object], columns: Mapping[str, str] | None = None
                     ) -> pd.DataFrame:
    """One tidy table from per-level results tables.

    Parameters
    ----------
    tables:
        ``{level: table}``, each table a path (.csv, .tsv, .json) or a DataFrame. Level
        names are normalised ('A-only' -> 'A'); unknown names are kept as given.
    columns:
        ``{our name: their column}``; ``r_cut``, ``sigma`` and ``rmse`` (drawn as the test
        RMSE) are required; ``train_rmse`` and any other name (an axis such as ``l_max``,
        ``n_train`` or ``target``; ``details`` for stored parity/learning-curve files) are
        optional. Default: the tidy names themselves.

    Raises
    ------
    DataError
        A table misses a named column, or has non-numeric r_cut, σ or RMSE values; the
        message names the table and the column.
    """
    columns = dict(columns or {})
    columns.setdefault("r_cut", "r_cut")
    columns.setdefault("sigma", "sigma")
    if "rmse" not in columns and "test_rmse" not in columns:
        columns["rmse"] = "test_rmse"
    ours = {("test_rmse" if k == "rmse" else k): v for k, v in columns.items()}
    parts = []
    for key, table in tables.items():
        df, source = read_grid_table(table, str(key))
        for name, column in ours.items():
            if column not in df.columns:
                raise DataError(f"no column {column!r} (given for {name!r}); the table has "
                                f"{list(map(str, df.columns))}", source)
        out = pd.DataFrame({name: df[column] for name, column in ours.items()})
        for name in ("r_cut", "sigma", "test_rmse", "train_rmse"):
            if name in out:
                out[name] = _numeric(df, ours[name], source)
        if "details" in out and isinstance(table, (str, os.PathLike)):
            root = Path(os.fspath(table)).parent
            out["details"] = [None if pd.isna(p) else str(root / p) for p in out["details"]]
        out.insert(0, "level", _level_name(key))
        parts.append(out)
    if not parts:
        raise DataError("no results tables given")
    return pd.concat(parts, ignore_index=True)


def _axes_of(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if c not in _NOT_AXES and c not in METRICS
            and not str(c).startswith("fold")]


def _collapse(df: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Rows of one level/axes selection -> one row per (r_cut, σ): mean RMSE, last details."""
    keyed = df.assign(r_cut=df["r_cut"].round(_DECIMALS), sigma=df["sigma"].round(_DECIMALS))
    keyed = keyed[np.isfinite(keyed[metric]) & (keyed[metric] > 0)]
    agg = {"rmse": (metric, "mean"), "n_points": (metric, "size")}
    if "details" in keyed:
        agg["details"] = ("details", "last")
    return keyed.groupby(["r_cut", "sigma"], as_index=False, sort=True).agg(**agg)


def grid_minima(results: pd.DataFrame, metric: str = "test_rmse", **axes) -> pd.DataFrame:
    """Each level's minimum: a DataFrame indexed by level with columns r_cut, sigma, rmse.

    ``axes`` fix other axes (``target="eps_zn"``, ``l_max=8``); repeated points count with
    their mean RMSE (as drawn)."""
    sel = _select(results, axes)
    rows = {}
    for level in _levels(sel):
        pts = _collapse(sel[sel["level"] == level], metric)
        if len(pts):
            best = pts.loc[pts["rmse"].idxmin()]
            rows[level] = {"r_cut": float(best["r_cut"]), "sigma": float(best["sigma"]),
                           "rmse": float(best["rmse"])}
    out = pd.DataFrame.from_dict(rows, orient="index", columns=["r_cut", "sigma", "rmse"])
    out.index.name = "level"
    return out


def grid_drawing(r_cut, sigma, fill_threshold: float = 0.5) -> str:
    """``"contour"`` if the points fill at least ``fill_threshold`` of the rectangle of their
    distinct values (and it is at least 2 × 2), else ``"points"``."""
    r = np.unique(np.round(np.asarray(r_cut, float), _DECIMALS))
    s = np.unique(np.round(np.asarray(sigma, float), _DECIMALS))
    if len(r) < 2 or len(s) < 2:
        return "points"
    n = len(set(zip(np.round(r_cut, _DECIMALS), np.round(sigma, _DECIMALS))))
    return "contour" if n / (len(r) * len(s)) >= fill_threshold else "points"


def _levels(df: pd.DataFrame) -> list[str]:
    present = list(dict.fromkeys(df["level"]))
    return [lv for lv in LEVELS if lv in present] + [lv for lv in present if lv not in LEVELS]


def _select(df: pd.DataFrame, axes: Mapping) -> pd.DataFrame:
    mask = np.ones(len(df), bool)
    for name, value in axes.items():
        if name not in df:
            raise ZifvizError(f"the results have no axis {name!r}; axes: {_axes_of(df)}")
        mask &= (df[name].astype(str) == str(value)).to_numpy()
    return df[mask]


def read_point_details(path) -> dict | None:
    """A grid point's stored details, or None if there is no such file.

    The file is an ``.npz`` with any of: ``y_true``, ``y_pred`` (parity data, eV; optional
    ``y_std``), ``lc_n_train``, ``lc_test_rmse`` (learning curve; optional
    ``lc_train_rmse``). Returns ``{"parity": DataFrame | None, "learning_curve": DataFrame |
    None}``."""
    if path is None or (isinstance(path, float) and np.isnan(path)) or not Path(path).is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: np.asarray(z[k]) for k in z.files}
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot be read as a grid point's details ({exc})", str(path)) from None
    out = {"parity": None, "learning_curve": None}
    if all(k in arrays for k in DETAIL_KEYS["parity"]):
        out["parity"] = pd.DataFrame({k: arrays[k].ravel() for k in ("y_true", "y_pred", "y_std")
                                      if k in arrays})
    if all(k in arrays for k in DETAIL_KEYS["learning_curve"]):
        out["learning_curve"] = pd.DataFrame(
            {k[3:]: arrays[k].ravel() for k in ("lc_n_train", "lc_test_rmse", "lc_train_rmse")
             if k in arrays})
    return out if any(v is not None for v in out.values()) else None


def _ticks(lo: float, hi: float) -> list[float]:
    """Round values between lo and hi (and the two ends), none crowding an end."""
    span = np.log10(hi) - np.log10(lo)
    ticks = []
    for decade in range(int(np.floor(np.log10(lo))) - 1, int(np.ceil(np.log10(hi))) + 1):
        for m in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8):
            v = round(m * 10.0 ** decade, 12)
            if lo * (1 - 1e-9) <= v <= hi * (1 + 1e-9):
                ticks.append(v)
    away = [t for t in ticks if min(abs(np.log10(t / lo)), abs(np.log10(hi / t))) > 0.06 * span]
    return sorted(set(away + [lo, hi]))


def _color_scale(lo: float, hi: float) -> tuple[dict, dict]:
    """The layout's colour axis and the contours' levels for a log scale from lo to hi."""
    log_lo, log_hi = float(np.log10(lo)), float(np.log10(hi))
    ticks = _ticks(lo, hi)
    coloraxis = dict(colorscale="Viridis", cmin=log_lo, cmax=log_hi,
                     colorbar=dict(title="RMSE (eV)", tickvals=np.log10(ticks).tolist(),
                                   ticktext=[f"{t:.3g}" for t in ticks]))
    contours = dict(start=log_lo, end=log_hi, size=(log_hi - log_lo) / 14, coloring="fill",
                    showlines=False)
    return coloraxis, contours


def _data_range(values) -> tuple[float, float] | None:
    v = np.asarray(values, float)
    v = v[np.isfinite(v) & (v > 0)]
    if not v.size:
        return None
    lo, hi = float(v.min()), float(v.max())
    return (lo, hi) if hi > lo else (lo / 1.1, hi * 1.1)


# ----------------------------------------------------------------------------- widget
class GridExplorer(widgets.VBox):
    """RMSE over (r_cut, σ_at) at each level, side by side, on one log colour scale.

    Parameters
    ----------
    results:
        Tidy results table (one row per grid point; see the module docstring), e.g. from
        :func:`zifviz.gridsearch.grid_search`.
    color_range:
        (low, high) RMSE of the colour scale, eV; None: the range of the shown points
        (updated when a control changes).
    fill_threshold:
        Smallest filled fraction of a level's r_cut × σ rectangle drawn as a contour.
    details:
        ``row -> dict | None`` giving a point's parity data and learning curve (default:
        :func:`read_point_details` of the row's ``details`` column).
    height:
        Height of the grid figure in pixels.
    root:
        Folder that relative paths in the ``details`` column are relative to (the folder
        of the results CSV, as :func:`zifviz.gridsearch.grid_search` writes them).
    """

    def __init__(self, results: pd.DataFrame, *, color_range=DEFAULT_RANGE,
                 fill_threshold: float = 0.5, details: Callable | None = None,
                 height: int = 420, root=None):
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots

        if not isinstance(results, pd.DataFrame):
            raise ZifvizError(f"GridExplorer takes a DataFrame of results, not {type(results).__name__}")
        missing = [c for c in ("level", "r_cut", "sigma") if c not in results]
        if missing or not any(m in results for m in METRICS):
            need = missing or ["test_rmse or train_rmse"]
            raise DataError(f"results table has no column {need[0]!r}; columns: {list(results.columns)}",
                            "GridExplorer")
        self.results = results.reset_index(drop=True)
        if root is not None and "details" in self.results:
            self.results["details"] = [
                None if not isinstance(p, (str, os.PathLike)) else str(Path(root) / p)
                for p in self.results["details"]]
        self.levels = _levels(self.results)
        self.source = None  # the files it was built from (from_tables, from_results)
        self._options = {"color_range": color_range, "fill_threshold": fill_threshold,
                         "height": height}
        self.fill_threshold = float(fill_threshold)
        self._details = details or (lambda row: read_point_details(row.get("details")))
        self._callbacks: list[Callable] = []
        self.selected: dict | None = None
        self._points: dict[str, pd.DataFrame] = {}
        self.drawing: dict[str, str] = {}

        self._auto_range = color_range is None
        if color_range is None:  # the shown metric's range; follows the controls
            first = next(m for m in METRICS if m in self.results)
            color_range = _data_range(self.results[first]) or DEFAULT_RANGE
        lo, hi = map(float, color_range)
        if not 0 < lo < hi:
            raise ZifvizError(f"color_range must be 0 < low < high, not {color_range}")
        self.color_range = (lo, hi)

        # controls: one dropdown per axis with more than one value, and the metric
        self.controls: dict[str, widgets.Dropdown] = {}
        metrics = [m for m in METRICS if m in self.results and self.results[m].notna().any()]
        self.controls["metric"] = widgets.Dropdown(
            options=[(METRICS[m], m) for m in metrics], value=metrics[0], description="RMSE")
        for axis in _axes_of(self.results):
            values = sorted(self.results[axis].dropna().astype(str).unique(), key=_natural)
            if len(values) > 1:
                self.controls[axis] = widgets.Dropdown(options=values, value=values[0],
                                                       description=axis)
        for control in self.controls.values():
            control.layout.width = "auto"
            control.observe(lambda _: self._redraw(), names="value")

        n = len(self.levels)
        titles = [LEVEL_LABELS.get(lv, lv) for lv in self.levels]
        fig = make_subplots(rows=1, cols=n, shared_yaxes=True, subplot_titles=titles,
                            horizontal_spacing=0.04 if n > 1 else 0.0)
        coloraxis, contours = _color_scale(lo, hi)
        for k, level in enumerate(self.levels):
            col = k + 1
            fig.add_trace(go.Contour(x=[], y=[], z=[], coloraxis="coloraxis", connectgaps=True,
                                     contours=contours, hoverinfo="skip", name=f"{level} contour", showscale=False),
                          row=1, col=col)
            fig.add_trace(go.Scatter(x=[], y=[], mode="markers", name=f"{level} points",
                                     marker=dict(size=6, coloraxis="coloraxis", line=dict(width=0.5, color="white")),
                                     hovertemplate="r_cut %{x} Å<br>σ %{y} Å<br>RMSE %{customdata[0]:.4f} eV"
                                                   "<br>%{customdata[1]} run(s)<extra></extra>"),
                          row=1, col=col)
            fig.add_trace(go.Scatter(x=[], y=[], mode="markers", name=f"{level} minimum",
                                     cliponaxis=False,
                                     marker=dict(symbol="star", size=18, color="white",
                                                 line=dict(width=1.5, color="black")),
                                     hovertemplate="minimum<br>r_cut %{x} Å<br>σ %{y} Å<extra></extra>"),
                          row=1, col=col)
            fig.update_xaxes(title_text="r_cut (Å)", row=1, col=col)
        fig.update_yaxes(title_text="σ_at (Å)", row=1, col=1)
        fig.update_layout(
            height=height, showlegend=False, margin=dict(l=60, r=20, t=40, b=50),
            template="plotly_white", clickmode="event", coloraxis=coloraxis)
        self.figure = go.FigureWidget(fig)
        self.figure.add_class("zifviz-grid-explorer")
        for k, level in enumerate(self.levels):
            handler = self._click_handler(level)
            for trace in self.figure.data[3 * k: 3 * k + 3]:  # contour, points, star
                trace.on_click(handler)

        self.status = widgets.HTML()
        self.minima_table = widgets.HTML()
        self.minima_table.add_class("zifviz-grid-minima")
        self.detail_message = widgets.HTML("<i>Click a point to see its parity plot and learning curve.</i>")
        self.detail_message.add_class("zifviz-grid-detail-message")
        self.detail = go.FigureWidget(make_subplots(
            rows=1, cols=2, subplot_titles=("parity", "learning curve"), horizontal_spacing=0.12))
        self.detail.update_layout(height=320, showlegend=True, template="plotly_white",
                                  margin=dict(l=60, r=20, t=40, b=50),
                                  legend=dict(orientation="h", y=-0.25))
        self.detail.update_xaxes(title_text="reference (eV)", row=1, col=1)
        self.detail.update_yaxes(title_text="predicted (eV)", row=1, col=1)
        self.detail.update_xaxes(title_text="N train", type="log", row=1, col=2)
        self.detail.update_yaxes(title_text="RMSE (eV)", type="log", row=1, col=2)
        self.detail.add_class("zifviz-grid-detail")
        self.detail.layout.height = 320
        self._detail_box = widgets.Box([self.detail], layout=widgets.Layout(display="none"))
        super().__init__([widgets.HBox(list(self.controls.values())), self.figure, self.status,
                          self.minima_table, self.detail_message, self._detail_box])
        self.add_class("zifviz-grid-explorer-box")
        self._redraw()

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_tables(cls, tables: Mapping[str, object], columns: Mapping[str, str] | None = None,
                    **kwargs) -> "GridExplorer":
        """An explorer over per-level tables computed elsewhere.

        ``GridExplorer.from_tables({"atomistic": t1, "AB2": t2, "A": t3},
        columns={"r_cut": "config.cutoff", "sigma": "config.sigma",
        "rmse": "result.av_test_rmse", "train_rmse": "result.av_train_rmse"})``; see
        :func:`tidy_grid_tables` for the tables and columns."""
        explorer = cls(tidy_grid_tables(tables, columns), **kwargs)
        if all(isinstance(t, (str, os.PathLike)) for t in tables.values()):
            explorer.source = {"tables": {str(k): str(v) for k, v in tables.items()},
                               "columns": dict(columns or {})}
        return explorer

    @classmethod
    def from_results(cls, path, **kwargs) -> "GridExplorer":
        """An explorer over a tidy results file (.csv/.tsv/.json) such as
        :func:`zifviz.gridsearch.grid_search` writes; ``details`` paths in it are taken
        relative to the file's folder."""
        table, _ = read_grid_table(path, "results")
        kwargs.setdefault("root", Path(os.fspath(path)).parent)
        explorer = cls(table, **kwargs)
        explorer.source = {"results": str(path), "root": str(kwargs["root"])}
        return explorer

    # ------------------------------------------------------------------ state
    @property
    def metric(self) -> str:
        return self.controls["metric"].value

    @property
    def axes(self) -> dict[str, str]:
        """The chosen value of each axis with a dropdown."""
        return {k: c.value for k, c in self.controls.items() if k != "metric"}

    @property
    def minima(self) -> pd.DataFrame:
        """Each level's minimum for the current selection: indexed by level; r_cut, sigma, rmse."""
        return grid_minima(self.results, self.metric, **self.axes)

    def points(self, level: str) -> pd.DataFrame:
        """The points drawn in ``level``'s panel (r_cut, sigma, rmse, n_points[, details])."""
        return self._points[_level_name(level)]

    # ------------------------------------------------------------------ saved state
    def state(self) -> dict:
        """The controls (metric, axes), the selected point and the options, JSON-able
        (see :func:`zifviz.widgets.state.save_state`)."""
        options = dict(self._options)
        if options["color_range"] is not None:
            options["color_range"] = [float(v) for v in options["color_range"]]
        selected = None if self.selected is None else {
            k: self.selected[k] for k in ("level", "r_cut", "sigma")}
        return {"metric": self.metric, "axes": self.axes, "selected": selected,
                "options": options, "source": self.source}

    def state_data(self) -> dict:
        """The tables behind the view: the source files, else the tidy table itself."""
        if self.source is None:
            return {"results": self.results}
        if "tables" in self.source:
            return {"tables": self.source["tables"]}
        return {"results": self.source["results"]}

    @classmethod
    def from_state(cls, data: dict, state: dict) -> "GridExplorer":
        """An explorer over the resolved ``data`` showing what :meth:`state` recorded."""
        options = dict(state.get("options", {}))
        source = state.get("source") or {}
        if "tables" in data:
            explorer = cls.from_tables(data["tables"], source.get("columns"), **options)
        elif isinstance(data["results"], pd.DataFrame):
            explorer = cls(data["results"], **options)
        else:
            explorer = cls.from_results(data["results"], **options)
        if state.get("metric") in [v for _, v in explorer.controls["metric"].options]:
            explorer.controls["metric"].value = state["metric"]
        for axis, value in (state.get("axes") or {}).items():
            if axis not in explorer.controls:
                raise ZifvizError(f"the results have no axis {axis!r} any more")
            explorer.controls[axis].value = value
        if state.get("selected"):
            explorer.select(**state["selected"])
        return explorer

    # ------------------------------------------------------------------ drawing
    def _redraw(self) -> None:
        sel = _select(self.results, self.axes)
        metric = self.metric
        new_scale = None
        if self._auto_range:
            shown = _data_range(sel[metric]) or self.color_range
            if shown != self.color_range:
                self.color_range = shown
                new_scale = _color_scale(*shown)
                self.figure.layout.coloraxis = new_scale[0]
        lo, hi = self.color_range
        minima = grid_minima(self.results, metric, **self.axes)
        notes = []
        # one update per trace, not a batch: a batched restyle of traces with different
        # properties resets the properties a trace does not set (the stars lost their look)
        for k, level in enumerate(self.levels):
            pts = _collapse(sel[sel["level"] == level], metric)
            self._points[level] = pts
            contour, markers, star = self.figure.data[3 * k: 3 * k + 3]
            z = np.log10(pts["rmse"].to_numpy(float)) if len(pts) else np.array([])
            drawing = grid_drawing(pts["r_cut"], pts["sigma"], self.fill_threshold) if len(pts) else "points"
            self.drawing[level] = drawing
            xy = {"x": pts["r_cut"].tolist(), "y": pts["sigma"].tolist()}
            customdata = (np.column_stack([pts["rmse"], pts["n_points"]]).tolist()
                          if len(pts) else [])
            if new_scale is not None:
                contour.contours = new_scale[1]
            if drawing == "contour":
                contour.update(**xy, z=z.tolist(), visible=True)
                markers.update(**xy, customdata=customdata, marker=dict(
                    size=3, color="rgba(255,255,255,0.6)", line=dict(width=0),
                    coloraxis="coloraxis"))
            else:
                contour.update(x=[], y=[], z=[], visible=False)
                markers.update(**xy, customdata=customdata, marker=dict(
                    size=11, color=z.tolist(), line=dict(width=0.5, color="white"),
                    coloraxis="coloraxis"))
            if level in minima.index:
                star.update(x=[minima.at[level, "r_cut"]], y=[minima.at[level, "sigma"]])
            else:
                star.update(x=[], y=[])
            dup = int((pts["n_points"] > 1).sum()) if len(pts) else 0
            notes.append(f"<b>{html.escape(LEVEL_LABELS.get(level, level))}</b>: {len(pts)} points, "
                         + ("filled contour (linear between points, gaps interpolated)"
                            if drawing == "contour" else "points only (too scattered for a contour)")
                         + (f", {dup} repeated (mean shown)" if dup else ""))
        out_of_range = sum(int(((p["rmse"] < lo) | (p["rmse"] > hi)).sum()) for p in self._points.values())
        self.status.value = ("<small>" + "; ".join(notes)
                             + f". Log colour scale {lo:.3g}–{hi:.3g} eV"
                             + (f" ({out_of_range} points outside it take the end colours)"
                                if out_of_range else "") + ".</small>")
        self.minima_table.value = self._minima_html(minima)

    def _minima_html(self, minima: pd.DataFrame) -> str:
        rows = "".join(
            f"<tr><td>{html.escape(LEVEL_LABELS.get(lv, lv))}</td><td>{r.r_cut:g}</td>"
            f"<td>{r.sigma:g}</td><td>{r.rmse:.4f}</td></tr>" for lv, r in minima.iterrows())
        return ("<table class='zifviz-minima'><tr><th>level</th><th>r_cut (Å)</th><th>σ_at (Å)</th>"
                f"<th>{METRICS[self.metric]} (eV)</th></tr>{rows}</table>")

    # ------------------------------------------------------------------ selection
    def _click_handler(self, level: str):
        def handler(trace, points, state):
            if points.xs:
                self.select(level, points.xs[0], points.ys[0])
        return handler

    def on_select(self, callback: Callable[[dict], None]) -> None:
        """Call ``callback(point)`` when a point is selected (clicked); ``point`` has level,
        r_cut, sigma, rmse, n_points and whether details were stored."""
        self._callbacks.append(callback)

    def select(self, level: str, r_cut: float, sigma: float) -> dict:
        """Select the computed point of ``level`` nearest to (r_cut, σ) — what a click does —
        and show its parity plot and learning curve if they were stored."""
        level = _level_name(level)
        if level not in self._points:
            raise ZifvizError(f"no level {level!r} in the explorer; levels: {self.levels}")
        pts = self._points[level]
        if not len(pts):
            raise ZifvizError(f"no points at level {level!r} for {self.axes}")
        # nearest in units of each axis' range, so r_cut (Å) and σ (Å) weigh alike
        span_r = float(np.ptp(pts["r_cut"])) or 1.0
        span_s = float(np.ptp(pts["sigma"])) or 1.0
        d = ((pts["r_cut"] - float(r_cut)) / span_r) ** 2 + ((pts["sigma"] - float(sigma)) / span_s) ** 2
        row = pts.loc[d.idxmin()]
        details = self._details(row.to_dict())
        point = {"level": level, "r_cut": float(row["r_cut"]), "sigma": float(row["sigma"]),
                 "rmse": float(row["rmse"]), "metric": self.metric, "n_points": int(row["n_points"]),
                 **self.axes, "details": details is not None}
        self.selected = point
        self._show_details(point, details)
        for callback in self._callbacks:
            callback(point)
        return point

    def _show_details(self, point: dict, details: dict | None) -> None:
        import plotly.graph_objects as go

        title = (f"{html.escape(LEVEL_LABELS.get(point['level'], point['level']))}, "
                 f"r_cut {point['r_cut']:g} Å, σ_at {point['sigma']:g} Å: "
                 f"{METRICS[point['metric']]} {point['rmse']:.4f} eV")
        if details is None:
            self.detail_message.value = (f"<b>{title}</b><br><i>No parity data or learning curve "
                                         "was stored for this point.</i>")
            self._detail_box.layout.display = "none"
            return
        self.detail_message.value = f"<b>{title}</b>"
        traces = []
        parity, curve = details.get("parity"), details.get("learning_curve")
        if parity is not None and len(parity):
            lo = float(min(parity["y_true"].min(), parity["y_pred"].min()))
            hi = float(max(parity["y_true"].max(), parity["y_pred"].max()))
            traces.append(go.Scattergl(x=parity["y_true"], y=parity["y_pred"], mode="markers",
                                       marker=dict(size=4, opacity=0.6, color="#636efa"),
                                       name="parity", xaxis="x", yaxis="y"))
            traces.append(go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", name="y = x",
                                     line=dict(color="black", dash="dash", width=1), xaxis="x", yaxis="y"))
        if curve is not None and len(curve):
            traces.append(go.Scatter(x=curve["n_train"], y=curve["test_rmse"], mode="lines+markers",
                                     name="test", xaxis="x2", yaxis="y2", line=dict(color="#ef553b")))
            if "train_rmse" in curve:
                traces.append(go.Scatter(x=curve["n_train"], y=curve["train_rmse"], mode="lines+markers",
                                         name="train", xaxis="x2", yaxis="y2",
                                         line=dict(color="#636efa", dash="dot")))
        self.detail.data = ()
        self.detail.add_traces(traces)
        self._detail_box.layout.display = None


def _natural(value: str):
    try:
        return (0, float(value), "")
    except ValueError:
        return (1, 0.0, value)
