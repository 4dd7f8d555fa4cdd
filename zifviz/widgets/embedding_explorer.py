"""EmbeddingExplorer: a 2-D map of Zn environments (t-SNE, ...) linked to the 3D viewer.

The widget is a thin view over two row-aligned things: an environment table (one row per Zn
environment, as :func:`zifviz.environment_table` makes, plus any per-environment columns:
predicted phase, confidence, energies, ...) and its 2-D map (``(n, 2)`` array, e.g.
:attr:`zifviz.embedding.TSNEMap.embedding_`).

* The map is a plotly ``FigureWidget`` of WebGL scatters. A dropdown colours it by any
  column: categories with the fixed colours of :mod:`zifviz.palettes` (a column whose
  values are all phases, e.g. a predicted phase, gets the phase colours), one legend entry
  each; numbers with a colour scale.
* Hovering shows the row, frame, Zn and the colour value.
* A lasso, a box or a click selects environments: :attr:`EmbeddingExplorer.selection` (the
  selected rows of the table), the :attr:`EmbeddingExplorer.selected` traitlet (their row
  positions) and :meth:`EmbeddingExplorer.on_select` callbacks; the linked
  :class:`~zifviz.widgets.StructureViewer` shows the frame of the first selected Zn and
  zooms on it and its neighbours, the Zn highlighted.
* Level of detail: above ``max_points`` rows (default 100,000; plotly's hover and pan
  degrade past that) the map draws a fixed random subsample of ``max_points`` rows; zooming
  in draws every row inside the view when they are fewer than ``max_points`` (else the
  subsample of those inside, with the same priorities, so points never flicker). A lasso or
  box then selects every row inside it, drawn or not.

A lasso reaches Python by two routes, because one alone sometimes never arrives: plotly's
FigureWidget sends every points event of the page (hover, unhover, click, selected) through
one synced trait, ``_js2py_pointsCallback``, and while the kernel has not answered the
previous message the widget front end keeps only the newest value of a trait; a
``plotly_selected`` followed by an ``unhover`` before the kernel is idle is overwritten and
lost. plotly.js also records the lasso or box in ``layout.selections`` (a relayout, another
trait), so the explorer selects from whichever of the two arrives first, once per lasso.
"""

from __future__ import annotations

import html
import re

import ipywidgets as widgets
import numpy as np
import pandas as pd
import traitlets

from ..embedding import category_colors, is_categorical, palette_property
from ..errors import ZifvizError
from ..palettes import NAN_COLOR

__all__ = ["EmbeddingExplorer", "points_in_polygon", "selection_shape", "MAX_POINTS"]

#: rows drawn at most (level of detail above this)
MAX_POINTS = 100_000
#: columns that identify a row and are not offered as colourings
_KEY_COLUMNS = ("structure_id", "frame", "zn", "zn_rank", "frame_pos", "source_file")
#: a numeric column with at most this many distinct integer values is still numeric; strings,
#: booleans and pandas categoricals are categorical
_MAX_CATEGORIES = 60
_CONTINUOUS_SCALE = "Viridis"


def points_in_polygon(x: np.ndarray, y: np.ndarray, px, py) -> np.ndarray:
    """Boolean mask of the points (x, y) inside the closed polygon (px, py) (even-odd rule)."""
    px, py = np.asarray(px, float), np.asarray(py, float)
    inside = np.zeros(len(x), dtype=bool)
    if len(px) < 3:
        return inside
    xj, yj = px[-1], py[-1]
    for xi, yi in zip(px, py):
        crosses = (yi > y) != (yj > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            xc = (xj - xi) * (y - yi) / (yj - yi) + xi
        inside ^= crosses & (x < xc)
        xj, yj = xi, yi
    return inside


_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def selection_shape(selection):
    """A ``layout.selections`` entry (or a plotly selector) as ``("lasso", xs, ys)`` or
    ``("box", (x0, x1), (y0, y1))`` in data coordinates; ``None`` for anything else."""
    if isinstance(selection, dict):  # as plotly.js sends it
        import plotly.graph_objects as go

        selection = go.layout.Selection(**{k: v for k, v in selection.items()
                                           if k in ("type", "path", "x0", "x1", "y0", "y1")})
    kind = getattr(selection, "type", None)
    if kind == "lasso":  # plotly's LassoSelector
        return "lasso", tuple(map(float, selection.xs)), tuple(map(float, selection.ys))
    if kind == "box":  # plotly's BoxSelector
        return "box", tuple(sorted(map(float, selection.xrange))), \
            tuple(sorted(map(float, selection.yrange)))
    if kind == "path" and selection.path:  # "M x,y L x,y ... Z"
        xy = np.array(_NUMBER.findall(selection.path), dtype=float)
        if len(xy) < 6 or len(xy) % 2:
            return None
        return "lasso", tuple(xy[0::2]), tuple(xy[1::2])
    if kind == "rect" and None not in (selection.x0, selection.x1, selection.y0, selection.y1):
        return "box", tuple(sorted((float(selection.x0), float(selection.x1)))), \
            tuple(sorted((float(selection.y0), float(selection.y1))))
    return None


def _same_shape(a, b) -> bool:
    if a is None or b is None or a[0] != b[0] or len(a[1]) != len(b[1]):
        return False
    scale = max(1e-12, float(np.ptp(np.r_[a[1], b[1]])), float(np.ptp(np.r_[a[2], b[2]])))
    return bool(np.allclose(a[1], b[1], rtol=0, atol=1e-6 * scale)
                and np.allclose(a[2], b[2], rtol=0, atol=1e-6 * scale))


def _as_embedding(embedding) -> np.ndarray:
    xy = getattr(embedding, "embedding_", embedding)
    try:
        xy = np.asarray(xy, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ZifvizError(f"embedding is not a numeric (n, 2) array ({exc})") from None
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise ZifvizError(f"embedding must be an (n, 2) array, not of shape {xy.shape}")
    if not np.isfinite(xy).all():
        raise ZifvizError(f"embedding has {int((~np.isfinite(xy)).any(axis=1).sum())} rows "
                          "with NaN or infinite coordinates")
    return xy


class EmbeddingExplorer(widgets.VBox):
    """A 2-D map of Zn environments, coloured by any column, linked to a 3D viewer.

    Parameters
    ----------
    table:
        One row per environment (e.g. :func:`zifviz.environment_table` plus predictions),
        row-aligned with ``embedding``. ``frame_pos`` and ``zn_rank`` locate each Zn in
        ``frames``; ``frame`` and ``zn`` are shown on hover when present.
    embedding:
        ``(n, 2)`` array, or a fitted :class:`zifviz.embedding.TSNEMap`.
    frames:
        The frames the table was made from (Atoms list, Trajectory, DemoSet); ``None``: no
        3D view.
    color_by:
        Column to colour by first (default ``"phase"`` when present).
    color_columns:
        Columns offered in the dropdown (default: every column but the keys).
    max_points:
        Rows drawn at most; above, the level-of-detail view (module docstring).
    viewer:
        A :class:`~zifviz.widgets.StructureViewer` to link instead of building one.
    level:
        Level of the 3D view built from ``frames``.
    dragmode:
        What a drag does first: ``"lasso"`` (default), ``"select"`` (box), ``"zoom"``, ``"pan"``.
    height, width:
        Size of the map in pixels (the 3D view takes the rest of the row).
    random_state:
        Seed of the subsample of the level-of-detail view.

    Attributes
    ----------
    figure: the plotly ``FigureWidget``.
    color_dropdown, status, details: the controls and the text under the map.
    viewer: the linked :class:`~zifviz.widgets.StructureViewer` (or ``None``).
    selected: traitlet, row positions (``table.iloc``) of the selection.
    shown: row positions drawn now.
    """

    selected = traitlets.Tuple()

    def __init__(self, table: pd.DataFrame, embedding, frames=None, color_by: str | None = None,
                 color_columns=None, max_points: int = MAX_POINTS, viewer=None,
                 level: str = "AB2", dragmode: str = "lasso", height: int = 480,
                 width: int = 480, random_state: int = 0):
        import plotly.graph_objects as go

        if not isinstance(table, pd.DataFrame):
            raise ZifvizError(f"table must be a pandas DataFrame, not {type(table).__name__}")
        self.xy = _as_embedding(embedding)
        if len(table) != len(self.xy):
            raise ZifvizError(f"the table has {len(table)} rows but the embedding "
                              f"{len(self.xy)}: they must be row-aligned")
        if len(table) == 0:
            raise ZifvizError("the table is empty")
        if int(max_points) < 1:
            raise ZifvizError(f"max_points must be positive, not {max_points}")
        self.table = table.reset_index(drop=True)
        self.max_points = int(max_points)
        self._options = {"max_points": int(max_points), "level": level, "dragmode": dragmode,
                         "height": int(height), "width": int(width),
                         "random_state": int(random_state)}
        if color_columns is None:
            color_columns = [c for c in self.table.columns if c not in _KEY_COLUMNS]
        self.color_columns = [str(c) for c in color_columns]
        missing = [c for c in self.color_columns if c not in self.table.columns]
        if missing:
            raise ZifvizError(f"colour columns not in the table: {missing}")
        if not self.color_columns:
            raise ZifvizError("the table has no column to colour by")
        if color_by is None:
            color_by = "phase" if "phase" in self.color_columns else self.color_columns[0]
        if color_by not in self.color_columns:
            raise ZifvizError(f"cannot colour by {color_by!r}: not one of {self.color_columns}")

        # level of detail: a fixed random priority per row (lowest drawn first)
        rng = np.random.default_rng(random_state)
        self._priority = np.empty(len(self.table), dtype=np.int64)
        self._priority[rng.permutation(len(self.table))] = np.arange(len(self.table))
        lo, hi = self.xy.min(axis=0), self.xy.max(axis=0)
        pad = 0.04 * np.maximum(hi - lo, 1e-9)
        self._full_range = (lo - pad, hi + pad)
        self.shown = np.arange(0)
        self._trace_rows: list[np.ndarray] = []
        self._callbacks: list = []
        self._last_shape = None  # the lasso or box selected last (it can come twice)
        self._updating = False
        self.last_update_seconds = float("nan")

        self.viewer = viewer
        if self.viewer is None and frames is not None:
            from .viewer import StructureViewer

            self.viewer = StructureViewer(frames, level=level, height=f"{height - 40}px")
        if self.viewer is not None:
            self._check_locators(frames if frames is not None else self.viewer.scene.frames)

        self.figure = go.FigureWidget(layout=go.Layout(
            height=height, width=width, margin=dict(l=10, r=10, t=30, b=10),
            dragmode=dragmode,
            template="plotly_white", hovermode="closest", uirevision="zifviz-map",
            xaxis=dict(range=list(self._full_range[0][:1]) + [self._full_range[1][0]],
                       showticklabels=False, title=None, zeroline=False),
            yaxis=dict(range=[self._full_range[0][1], self._full_range[1][1]],
                       showticklabels=False, title=None, zeroline=False),
            legend=dict(itemsizing="constant", title=dict(text=color_by)),
        ))
        self.figure.add_class("zifviz-embedding-map")
        self.color_dropdown = widgets.Dropdown(options=self.color_columns, value=color_by,
                                               description="colour by",
                                               layout=widgets.Layout(width="280px"))
        self.color_dropdown.add_class("zifviz-embedding-color")
        self.status = widgets.HTML()
        self.status.add_class("zifviz-embedding-status")
        self.details = widgets.HTML()
        self.details.add_class("zifviz-embedding-details")
        left = widgets.VBox([self.color_dropdown, self.figure, self.status, self.details],
                            layout=widgets.Layout(flex="0 0 auto", width=f"{width + 8}px"))
        parts = [left]
        if self.viewer is not None:
            self.viewer.layout.flex = "1 1 300px"
            self.viewer.layout.min_width = "280px"
            parts.append(self.viewer)
        super().__init__(children=[widgets.HBox(parts, layout=widgets.Layout(
            flex_flow="row wrap", align_items="flex-start"))])
        self.add_class("zifviz-embedding-explorer")

        self._shown_for(self._full_range)
        self._draw()
        self.color_dropdown.observe(lambda _: self._draw(), "value")
        self.figure.layout.on_change(self._on_zoom, "xaxis.range", "yaxis.range")
        self.figure.layout.on_change(self._on_layout_selections, "selections")

    # ---------------------------------------------------------------- checks
    def _check_locators(self, frames):
        need = [c for c in ("frame_pos", "zn_rank") if c not in self.table.columns]
        if need:
            raise ZifvizError(f"the table has no {need} column(s): it cannot show environments "
                              "in 3D (make it with zifviz.environment_table(frames))")
        n = len(frames)
        bad = int((self.table["frame_pos"].to_numpy() >= n).sum())
        if bad:
            raise ZifvizError(f"{bad} rows of the table point at frames beyond the {n} frames "
                              "given (frame_pos): were the table and frames made together?")

    # ---------------------------------------------------------------- state
    @property
    def color_by(self) -> str:
        return self.color_dropdown.value

    @color_by.setter
    def color_by(self, column: str):
        if column not in self.color_columns:
            raise ZifvizError(f"cannot colour by {column!r}: not one of {self.color_columns}")
        self.color_dropdown.value = column

    @property
    def selection(self) -> pd.DataFrame:
        """The selected rows of the table (in table order)."""
        return self.table.iloc[list(self.selected)]

    def on_select(self, callback, remove: bool = False):
        """Call ``callback(selection)`` (a DataFrame) whenever the selection changes."""
        if remove:
            self._callbacks.remove(callback)
        else:
            self._callbacks.append(callback)

    def select(self, rows):
        """Select table rows by position (what a lasso does), e.g. ``select([3, 17])``;
        ``select([])`` clears."""
        rows = np.unique(np.asarray(rows, dtype=np.int64).ravel())
        if len(rows) and (rows[0] < 0 or rows[-1] >= len(self.table)):
            raise ZifvizError(f"select: rows out of range 0..{len(self.table) - 1}")
        self._last_shape = None
        self._set_selection(rows, mark=True)

    # ---------------------------------------------------------------- saved state
    def state(self) -> dict:
        """Colouring, selected rows, zoom, the 3D view's state and the options, JSON-able
        (see :func:`zifviz.widgets.state.save_state`)."""
        return {"color_by": self.color_by, "color_columns": self.color_columns,
                "selected": [int(r) for r in self.selected],
                "zoom": {"x": list(self.figure.layout.xaxis.range or []),
                         "y": list(self.figure.layout.yaxis.range or [])},
                "viewer": None if self.viewer is None else self.viewer.state(),
                "options": self._options}

    def state_data(self) -> dict:
        """The table, its map and the frames of the 3D view."""
        return {"table": self.table, "embedding": self.xy,
                "frames": None if self.viewer is None else self.viewer.scene.frames}

    @classmethod
    def from_state(cls, data: dict, state: dict) -> "EmbeddingExplorer":
        """An explorer over the resolved ``data`` showing what :meth:`state` recorded."""
        viewer = None
        if data.get("frames") is not None and state.get("viewer"):
            from .viewer import StructureViewer

            viewer = StructureViewer.from_state({"frames": data["frames"]}, state["viewer"])
        explorer = cls(data["table"], data["embedding"], data.get("frames"), viewer=viewer,
                       color_by=state.get("color_by"), color_columns=state.get("color_columns"),
                       **state.get("options", {}))
        if state.get("selected"):
            explorer.select(state["selected"])
        zoom = state.get("zoom") or {}
        if len(zoom.get("x") or []) == 2 and len(zoom.get("y") or []) == 2:
            explorer.figure.layout.xaxis.range = zoom["x"]
            explorer.figure.layout.yaxis.range = zoom["y"]
        if viewer is not None and state["viewer"].get("frame") is not None:
            viewer.frame = int(state["viewer"]["frame"])
        return explorer

    # ---------------------------------------------------------------- drawing
    def _shown_for(self, box) -> bool:
        """Rows drawn for the view ``box`` ((xmin, ymin), (xmax, ymax)); True if changed."""
        n = len(self.table)
        if n <= self.max_points:
            rows = np.arange(n)
        else:
            (x0, y0), (x1, y1) = box
            x, y = self.xy[:, 0], self.xy[:, 1]
            rows = np.flatnonzero((x >= x0) & (x <= x1) & (y >= y0) & (y <= y1))
            if len(rows) > self.max_points:
                keep = np.argpartition(self._priority[rows], self.max_points - 1)
                rows = np.sort(rows[keep[:self.max_points]])
        changed = not np.array_equal(rows, self.shown)
        self.shown = rows
        return changed

    def _groups(self, column: str):
        """[(name, rows, colour or None, values or None)] for the drawn rows."""
        values = self.table[column].iloc[self.shown]
        if is_categorical(self.table[column]):
            colours = category_colors(column, self.table[column])
            cats = list(colours)
            labels = values.astype(str).where(values.notna(), None).to_numpy()
            out = []
            for c in cats:
                rows = self.shown[labels == c]
                out.append((c, rows, colours[c], None))
            nan_rows = self.shown[values.isna().to_numpy()]
            if len(nan_rows):
                out.append(("no value", nan_rows, NAN_COLOR, None))
            return out
        numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
        ok = np.isfinite(numbers)
        out = [(column, self.shown[ok], None, numbers[ok])]
        if (~ok).any():
            out.append(("no value", self.shown[~ok], NAN_COLOR, None))
        return out

    def _customdata(self, rows: np.ndarray) -> np.ndarray:
        cols = [rows]
        for c in ("frame", "zn"):
            cols.append(self.table[c].to_numpy()[rows] if c in self.table.columns
                        else np.full(len(rows), -1))
        return np.column_stack(cols).astype(np.int64)

    def _marker_size(self) -> float:
        n = len(self.shown)
        return 7 if n < 2000 else 5 if n < 20000 else 3 if n < 200000 else 2

    def _draw(self):
        """Rebuild the traces for the colour column and the drawn rows."""
        import time

        import plotly.graph_objects as go

        t0 = time.perf_counter()
        column = self.color_by
        size = self._marker_size()
        traces = []
        self._trace_rows = []
        full_numbers = None
        if not is_categorical(self.table[column]):
            full_numbers = pd.to_numeric(self.table[column], errors="coerce").to_numpy(float)
        for name, rows, colour, numbers in self._groups(column):
            hover = ("<b>%{fullData.name}</b><br>" if numbers is None else
                     f"<b>{html.escape(column)}</b> = %{{marker.color:.4g}}<br>")
            hover += "row %{customdata[0]} · frame %{customdata[1]} · Zn %{customdata[2]}" \
                     "<extra></extra>"
            if numbers is None:
                marker = dict(color=colour, size=size, opacity=0.85)
            else:
                finite = full_numbers[np.isfinite(full_numbers)]
                marker = dict(color=numbers, colorscale=_CONTINUOUS_SCALE, size=size,
                              opacity=0.85, cmin=float(finite.min()), cmax=float(finite.max()),
                              colorbar=dict(title=dict(text=column), thickness=14))
            traces.append(go.Scattergl(
                x=self.xy[rows, 0], y=self.xy[rows, 1], mode="markers", name=name,
                marker=marker, customdata=self._customdata(rows), hovertemplate=hover,
                showlegend=numbers is None, selectedpoints=None,
                unselected=dict(marker=dict(opacity=0.15))))
            self._trace_rows.append(rows)
        # new traces first, then the old ones go: the page keeps its WebGL canvas
        n_old = len(self.figure.data)
        self.figure.add_traces(traces)
        with self.figure.batch_update():
            self.figure.data = self.figure.data[n_old:]
            self.figure.layout.legend.title.text = column
        for trace in self.figure.data:
            trace.on_selection(self._on_selection)
            trace.on_click(self._on_click)
            trace.on_deselect(self._on_deselect)
        self._mark_selection()
        self._update_status()
        self.last_update_seconds = time.perf_counter() - t0

    def _update_status(self):
        n, m = len(self.table), len(self.shown)
        text = f"{n:,} environments"
        if m < n:
            text += (f" · <b>showing {m:,}</b> (a random subsample above {self.max_points:,}; "
                     "zoom in to see every point of a region)")
        if self.selected:
            text += f" · {len(self.selected):,} selected"
        self.status.value = f"<span style='font-size:90%'>{text}</span>"

    def _on_zoom(self, layout, xrange, yrange):
        if len(self.table) <= self.max_points or self._updating:
            return
        if xrange is None or yrange is None:
            box = self._full_range
        else:
            box = ((min(xrange), min(yrange)), (max(xrange), max(yrange)))
        if self._shown_for(box):
            self._draw()

    # ---------------------------------------------------------------- selection
    def _visible_rows(self) -> np.ndarray:
        """Rows of every category shown (not hidden from the legend), drawn or not."""
        column = self.color_by
        hidden = {t.name for t in self.figure.data if t.visible == "legendonly"}
        if not hidden:
            return np.arange(len(self.table))
        values = self.table[column]
        if is_categorical(values):
            labels = values.astype(str).where(values.notna(), "no value").to_numpy()
        else:
            finite = np.isfinite(pd.to_numeric(values, errors="coerce").to_numpy(float))
            labels = np.where(finite, column, "no value")
        return np.flatnonzero(~np.isin(labels, list(hidden)))

    def _on_selection(self, trace, points, selector):
        index = self.figure.data.index(trace) if trace in self.figure.data else None
        if index is None:
            return
        if index == 0:
            self._pending = []
        self._pending.append(self._trace_rows[index][np.asarray(points.point_inds, int)])
        if index < len(self.figure.data) - 1:
            return  # plotly calls every trace in turn: wait for the last one
        rows = np.unique(np.concatenate(self._pending)) if self._pending else np.arange(0)
        shape = selection_shape(selector) if selector is not None else None
        if shape is not None:
            if _same_shape(shape, self._last_shape):
                return  # this lasso came already through layout.selections
            self._last_shape = shape
            # every row inside, drawn or not, by the same test as the selection shapes
            rows = self._rows_in(shape)
        self._set_selection(rows, mark=False)

    def _on_layout_selections(self, layout, selections):
        """The lasso or box as plotly.js records it in ``layout.selections``: the second route
        of a selection to Python (see the module docstring)."""
        # the page's selections are in the layout's data; the ``selections`` property keeps
        # its older tuple after a relayout from the page
        selections = layout.to_plotly_json().get("selections") or selections
        if not selections:
            return  # cleared (by the explorer, or a new lasso starting)
        shape = selection_shape(selections[-1])
        if shape is None or _same_shape(shape, self._last_shape):
            return
        self._last_shape = shape
        self._set_selection(self._rows_in(shape), mark=False)

    def _rows_in(self, shape) -> np.ndarray:
        """Rows of the shown categories inside ``shape`` (:func:`selection_shape`)."""
        candidates = self._visible_rows()
        x, y = self.xy[candidates, 0], self.xy[candidates, 1]
        if shape[0] == "lasso":
            inside = points_in_polygon(x, y, shape[1], shape[2])
        else:
            (x0, x1), (y0, y1) = shape[1], shape[2]
            inside = (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
        return candidates[inside]

    def _on_click(self, trace, points, state):
        if not points.point_inds or trace not in self.figure.data:
            return
        index = self.figure.data.index(trace)
        self._last_shape = None
        self._set_selection(self._trace_rows[index][[points.point_inds[0]]], mark=True)

    def _on_deselect(self, trace, points):
        if trace in self.figure.data and self.figure.data.index(trace) == 0:
            self._last_shape = None
            self._set_selection(np.arange(0), mark=False)

    def _mark_selection(self):
        """Show the selection on the map (unselected points faded)."""
        sel = np.asarray(self.selected, dtype=np.int64)
        with self.figure.batch_update():
            self.figure.layout.selections = ()  # the outline of an earlier lasso
            for trace, rows in zip(self.figure.data, self._trace_rows):
                if not len(sel):
                    trace.selectedpoints = None
                else:
                    trace.selectedpoints = np.flatnonzero(np.isin(rows, sel)).tolist()

    def _set_selection(self, rows: np.ndarray, mark: bool):
        selected = tuple(int(r) for r in rows)
        if selected == self.selected and len(selected):
            return  # the same selection again
        self.selected = selected
        if mark:
            self._mark_selection()
        self._update_status()
        selection = self.selection
        self._show_details(selection)
        if self.viewer is not None and len(selection):
            first = selection.iloc[0]
            self.viewer.frame = int(first["frame_pos"])
            self.viewer.focus(int(first["zn_rank"]))
        for callback in list(self._callbacks):
            callback(selection)

    def _show_details(self, selection: pd.DataFrame):
        if not len(selection):
            self.details.value = ""
            return
        column = self.color_by
        cols = [c for c in ("structure_id", "frame", "zn", column) if c in selection.columns]
        head = selection[cols].head(8)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
            for row in head.itertuples(index=False))
        summary = ""
        if is_categorical(selection[column]):
            counts = selection[column].astype(str).value_counts()
            summary = " · ".join(f"{html.escape(k)}: {v}" for k, v in counts.head(8).items())
        else:
            vals = pd.to_numeric(selection[column], errors="coerce")
            summary = f"{html.escape(column)}: mean {vals.mean():.4g}, " \
                      f"range {vals.min():.4g} – {vals.max():.4g}"
        first = selection.iloc[0]
        shown = ""
        if self.viewer is not None:
            shown = (f"in 3D: the first one, viewer frame {int(first['frame_pos'])}"
                     + (f" (frame {first['frame']} of its file)" if "frame" in selection else "")
                     + f", Zn {int(first['zn_rank'])} of that frame (gold)")
        self.details.value = (
            f"<div style='font-size:90%'><b>{len(selection):,} selected</b> — {summary}"
            f"<br>{shown}<table class='zifviz-selection'><tr>"
            + "".join(f"<th>{html.escape(c)}</th>" for c in cols) + f"</tr>{body}</table>"
            + (f"… and {len(selection) - len(head):,} more" if len(selection) > len(head) else "")
            + "</div>")
