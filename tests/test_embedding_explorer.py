"""EmbeddingExplorer without a browser: traces, colours, selection -> table rows -> 3D view.

Selections come in through plotly's own entry point for browser events
(``FigureWidget._handler_js2py_pointsCallback``, what a lasso in JupyterLab calls), so the
path from a lasso to ``explorer.selection`` is the one the browser takes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import zifviz
from zifviz.datasets import load_demo
from zifviz.errors import ZifvizError
from zifviz.palettes import NAN_COLOR, palette_for
from zifviz.widgets import EmbeddingExplorer
from zifviz.embedding import palette_property
from zifviz.widgets.embedding_explorer import points_in_polygon


@pytest.fixture(scope="module")
def phases_map():
    """Four frames of two phases, their environment table and a fake map (one cluster per
    phase, so a lasso around a cluster selects that phase)."""
    ds = load_demo("phases")
    info = ds.frames_info.reset_index(drop=True)
    pick = [int(info.index[info["phase"] == p][k]) for p in ("ZIF-4", "liquid") for k in (0, 5)]
    frames = ds[pick]
    table = zifviz.environment_table(frames)
    rng = np.random.default_rng(0)
    centre = np.where(table["phase"].to_numpy() == "ZIF-4", -10.0, 10.0)
    xy = np.column_stack([centre + rng.normal(size=len(table)), rng.normal(size=len(table))])
    table["confidence"] = rng.uniform(0.5, 1.0, len(table))
    table["predicted_phase"] = table["phase"]
    return frames, table, xy


def _lasso(explorer, xs, ys):
    """What plotly.js sends when a lasso closes: the points of every trace inside it."""
    fig = explorer.figure
    points = {"trace_indexes": [], "point_indexes": [], "xs": [], "ys": []}
    inside_any = []
    for t, trace in enumerate(fig.data):
        x, y = np.asarray(trace.x), np.asarray(trace.y)
        inside = np.flatnonzero(points_in_polygon(x, y, xs, ys))
        inside_any.append(inside)
        points["trace_indexes"] += [t] * len(inside)
        points["point_indexes"] += inside.tolist()
        points["xs"] += x[inside].tolist()
        points["ys"] += y[inside].tolist()
    fig._handler_js2py_pointsCallback({"new": {
        "event_type": "plotly_selected", "points": points,
        "selector": {"type": "lasso", "selector_state": {"xs": list(xs), "ys": list(ys)}}}})
    return inside_any


def _spy_focus(explorer, monkeypatch):
    calls = []
    monkeypatch.setattr(explorer.viewer, "focus", lambda zn: calls.append((explorer.viewer.frame, zn)))
    return calls


def test_categorical_colouring_uses_fixed_palettes(phases_map):
    frames, table, xy = phases_map
    ex = EmbeddingExplorer(table, xy, frames)
    assert ex.color_by == "phase"
    names = [t.name for t in ex.figure.data]
    assert names == ["ZIF-4", "liquid"]
    for trace in ex.figure.data:
        assert trace.type == "scattergl"
        assert trace.marker.color == palette_for("phase")[trace.name]
    assert sum(len(t.x) for t in ex.figure.data) == len(table)
    # a column whose values are all phases gets the phase colours too
    ex.color_by = "predicted_phase"
    assert {t.name: t.marker.color for t in ex.figure.data} == \
        {p: palette_for("phase")[p] for p in ("ZIF-4", "liquid")}
    ex.color_by = "ensemble"
    assert {t.marker.color for t in ex.figure.data} <= set(palette_for("source_set").values())
    assert palette_property("predicted", ["ZIF-4", "glass"]) == "phase"
    assert palette_property("batch", ["a", "b"]) == "batch"


def test_numeric_colouring_has_a_colour_scale_and_grey_nan(phases_map):
    frames, table, xy = phases_map
    t = table.copy()
    t.loc[3, "confidence"] = np.nan
    ex = EmbeddingExplorer(t, xy, frames, color_by="confidence")
    main, nan = ex.figure.data
    assert len(main.x) == len(t) - 1 and main.marker.colorscale is not None
    np.testing.assert_allclose(main.marker.color, t["confidence"].drop(index=3).to_numpy())
    assert main.marker.cmin == pytest.approx(t["confidence"].min())
    assert nan.name == "no value" and nan.marker.color == NAN_COLOR and len(nan.x) == 1
    # hover: row, frame and Zn of each point
    rows = np.asarray(main.customdata)[:, 0]
    np.testing.assert_array_equal(np.asarray(main.customdata)[:, 2], t["zn"].to_numpy()[rows])


def test_lasso_selection_maps_back_to_rows_and_shows_the_zn_in_3d(phases_map, monkeypatch):
    frames, table, xy = phases_map
    ex = EmbeddingExplorer(table, xy, frames)
    calls = _spy_focus(ex, monkeypatch)
    seen = []
    ex.on_select(seen.append)
    # lasso around the liquid cluster (x ~ +10)
    _lasso(ex, [6, 14, 14, 6], [-5, -5, 5, 5])
    sel = ex.selection
    assert len(sel) == int((table["phase"] == "liquid").sum())
    assert (sel["phase"] == "liquid").all()
    assert list(sel.columns) == list(table.columns)
    pd.testing.assert_frame_equal(sel, table.iloc[list(ex.selected)])
    assert {"structure_id", "frame", "zn"} <= set(sel.columns)
    assert len(seen) == 1 and len(seen[0]) == len(sel)
    first = sel.iloc[0]
    assert calls == [(int(first["frame_pos"]), int(first["zn_rank"]))]
    assert "selected" in ex.details.value and "liquid" in ex.details.value
    # a click selects one environment
    trace = ex.figure.data[0]
    ex.figure._handler_js2py_pointsCallback({"new": {
        "event_type": "plotly_click",
        "points": {"trace_indexes": [0], "point_indexes": [4], "xs": [trace.x[4]],
                   "ys": [trace.y[4]]}}})
    row = ex._trace_rows[0][4]
    assert list(ex.selected) == [row]
    assert calls[-1] == (int(table["frame_pos"][row]), int(table["zn_rank"][row]))
    ex.select([])
    assert ex.selection.empty and ex.details.value == ""


def test_level_of_detail_above_max_points(phases_map, monkeypatch):
    frames, table, xy = phases_map
    ex = EmbeddingExplorer(table, xy, frames, max_points=20, color_by="confidence")
    assert len(ex.shown) == 20 and "showing 20" in ex.status.value
    # zoom on a small region: every row inside is drawn (fewer than max_points)
    inside = np.flatnonzero((xy[:, 0] > 9.5) & (xy[:, 0] < 10.5) & (xy[:, 1] > -0.3) &
                            (xy[:, 1] < 0.3))
    assert 0 < len(inside) < 20
    ex.figure.layout.xaxis.range = [9.5, 10.5]
    ex.figure.layout.yaxis.range = [-0.3, 0.3]
    np.testing.assert_array_equal(np.sort(ex.shown), inside)
    # zoomed out again: the same subsample as before (fixed priorities)
    ex.figure.layout.xaxis.range = list(ex._full_range[0][:1]) + [ex._full_range[1][0]]
    ex.figure.layout.yaxis.range = [ex._full_range[0][1], ex._full_range[1][1]]
    first = ex.shown.copy()
    ex2 = EmbeddingExplorer(table, xy, frames, max_points=20, color_by="confidence")
    np.testing.assert_array_equal(first, ex2.shown)
    # a lasso selects every row inside it, drawn or not
    _spy_focus(ex, monkeypatch)
    _lasso(ex, [-14, -6, -6, -14], [-5, -5, 5, 5])
    assert len(ex.selection) == int((table["phase"] == "ZIF-4").sum()) > 20


def test_without_frames_and_bad_input(phases_map):
    frames, table, xy = phases_map
    ex = EmbeddingExplorer(table, xy)
    assert ex.viewer is None
    _lasso(ex, [6, 14, 14, 6], [-5, -5, 5, 5])
    assert (ex.selection["phase"] == "liquid").all()
    with pytest.raises(ZifvizError, match="row-aligned"):
        EmbeddingExplorer(table, xy[:-1])
    with pytest.raises(ZifvizError, match=r"\(n, 2\)"):
        EmbeddingExplorer(table, np.zeros((len(table), 3)))
    with pytest.raises(ZifvizError, match="cannot colour by"):
        EmbeddingExplorer(table, xy, color_by="nope")
    with pytest.raises(ZifvizError, match="frame_pos"):
        EmbeddingExplorer(table.drop(columns="frame_pos"), xy, frames)
    with pytest.raises(ZifvizError, match="beyond"):
        EmbeddingExplorer(table, xy, frames[:2])
    with pytest.raises(ZifvizError, match="out of range"):
        ex.select([len(table)])


def test_points_in_polygon():
    x = np.array([0.5, 2.0, 0.1, 0.9])
    y = np.array([0.5, 0.5, 0.9, 0.1])
    np.testing.assert_array_equal(points_in_polygon(x, y, [0, 1, 1, 0], [0, 0, 1, 1]),
                                  [True, False, True, True])
    # a concave (L-shaped) lasso
    mask = points_in_polygon(np.array([0.5, 1.5, 1.5]), np.array([1.5, 1.5, 0.5]),
                             [0, 2, 2, 1, 1, 0], [0, 0, 1, 1, 2, 2])
    np.testing.assert_array_equal(mask, [True, False, True])


def test_a_lasso_that_comes_only_through_layout_selections(phases_map, monkeypatch):
    """The second route of a lasso (plotly.js relayout of ``layout.selections``, when the
    widget front end dropped the selected event): the rows inside, once per lasso."""
    from zifviz.widgets.embedding_explorer import selection_shape

    frames, table, xy = phases_map
    ex = EmbeddingExplorer(table, xy, frames)
    calls = _spy_focus(ex, monkeypatch)
    seen = []
    ex.on_select(seen.append)
    path = "M6,-5L14,-5L14,5L6,5Z"  # the liquid cluster (x ~ +10), as plotly.js writes it
    lasso = {"type": "path", "path": path, "xref": "x", "yref": "y"}
    ex.figure._handler_js2py_relayout({"new": {"relayout_data": {"selections": [lasso]},
                                               "source_view_id": "view"}})
    n_liquid = int((table["phase"] == "liquid").sum())
    assert len(ex.selection) == n_liquid and (ex.selection["phase"] == "liquid").all()
    assert len(seen) == 1 and len(calls) == 1
    # the same lasso's selected event arriving afterwards is not a second selection
    _lasso(ex, [6, 14, 14, 6], [-5, -5, 5, 5])
    assert len(seen) == 1
    # a box (rect) on the ZIF-4 cluster, then the shapes themselves
    rect = {"type": "rect", "x0": -14, "x1": -6, "y0": 5, "y1": -5, "xref": "x", "yref": "y"}
    ex.figure._handler_js2py_relayout({"new": {"relayout_data": {"selections": [rect]},
                                               "source_view_id": "view"}})
    assert len(seen) == 2 and (ex.selection["phase"] == "ZIF-4").all()
    assert len(ex.selection) == int((table["phase"] == "ZIF-4").sum())
    assert selection_shape(rect) == ("box", (-14.0, -6.0), (-5.0, 5.0))
    assert selection_shape(lasso) == ("lasso", (6.0, 14.0, 14.0, 6.0), (-5.0, -5.0, 5.0, 5.0))
    assert selection_shape({"type": "path", "path": "M1,2Z"}) is None
