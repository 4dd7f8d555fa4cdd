"""GridExplorer: tables in (seed 000's own, any columns), minima, drawing mode, controls, clicks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from plotly.callbacks import Points

from zifviz.errors import DataError, ZifvizError
from zifviz.widgets.grid_explorer import (SEED000_COLUMNS, GridExplorer, grid_drawing,
                                          grid_minima, read_point_details, seed000_grid_tables,
                                          tidy_grid_tables)


def _bowl(level_optimum, r_cuts, sigmas, **extra):
    """A table in seed 000's column names with a known minimum."""
    r0, s0, floor = level_optimum
    rows = [{"config.cutoff": r, "config.sigma": s,
             "result.av_test_rmse": floor + 0.002 * (r - r0) ** 2 + 0.3 * (s - s0) ** 2,
             "result.av_train_rmse": 0.5 * floor, **extra} for r in r_cuts for s in sigmas]
    return pd.DataFrame(rows)


R_CUTS = np.arange(2.5, 15.01, 0.5)
SIGMAS = [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 1.5, 2.0]


def test_seed000_tables_load_and_show_the_papers_minima():
    tables = seed000_grid_tables()
    assert set(tables) == {"atomistic", "AB2", "A"}
    tidy = tidy_grid_tables(tables, SEED000_COLUMNS)
    assert tidy.groupby("level").size().to_dict() == {"atomistic": 513, "AB2": 513, "A": 798}
    explorer = GridExplorer.from_tables(tables, columns=SEED000_COLUMNS)
    minima = explorer.minima
    assert list(minima.index) == ["atomistic", "AB2", "A"]
    assert list(minima.columns) == ["r_cut", "sigma", "rmse"]
    print("\nseed 000's own grid minima (test RMSE of eps_local):\n", minima.to_string())
    # the paper: the atomistic optimum has a smaller r_cut than the cg ones, and the cg optima
    # prefer larger sigma; RMSE 0.042 / 0.065 / 0.150 eV (their final fits, more training data)
    assert minima.at["atomistic", "r_cut"] < minima.at["AB2", "r_cut"] < minima.at["A", "r_cut"]
    assert minima.at["atomistic", "sigma"] < minima.at["AB2", "sigma"] <= minima.at["A", "sigma"]
    assert minima["rmse"].to_numpy() == pytest.approx([0.042, 0.065, 0.150], rel=0.1)
    # one log colour scale, 0.05-0.18 eV, shared by the three panels
    ca = explorer.figure.layout.coloraxis
    assert (ca.cmin, ca.cmax) == pytest.approx(np.log10([0.05, 0.18]))
    assert {t.coloraxis for t in explorer.figure.data if t.type == "contour"} == {"coloraxis"}
    assert explorer.drawing == {"atomistic": "contour", "AB2": "contour", "A": "contour"}
    # three panels, one star each, at the minima
    stars = [t for t in explorer.figure.data if t.name.endswith("minimum")]
    assert [(s.x[0], s.y[0]) for s in stars] == list(zip(minima["r_cut"], minima["sigma"]))
    assert "7.25" in explorer.minima_table.value


def test_from_tables_reads_csv_tsv_json_and_dataframes(tmp_path):
    a = _bowl((6.0, 0.2, 0.045), R_CUTS, SIGMAS)
    b = _bowl((9.0, 0.4, 0.065), R_CUTS, SIGMAS)
    c = _bowl((11.0, 0.5, 0.15), R_CUTS, SIGMAS)
    a.to_csv(tmp_path / "a.csv", index=False)
    b.to_csv(tmp_path / "b.tsv", sep="\t", index=False)
    c.to_json(tmp_path / "c.json", orient="records")
    for tables in ({"atomistic": tmp_path / "a.csv", "AB2": str(tmp_path / "b.tsv"),
                    "A-only": tmp_path / "c.json"},
                   {"atomistic": a, "ab2": b, "A": c}):
        minima = GridExplorer.from_tables(tables, columns=SEED000_COLUMNS).minima
        assert minima.loc["atomistic"].tolist() == pytest.approx([6.0, 0.2, 0.045])
        assert minima.loc["AB2"].tolist() == pytest.approx([9.0, 0.4, 0.065])
        assert minima.loc["A"].tolist() == pytest.approx([11.0, 0.5, 0.15])


def test_a_missing_column_names_the_table_and_the_column(tmp_path):
    table = _bowl((6.0, 0.2, 0.045), R_CUTS, SIGMAS).drop(columns="config.sigma")
    path = tmp_path / "atomistic.csv"
    table.to_csv(path, index=False)
    with pytest.raises(DataError, match=r"atomistic\.csv.*'config\.sigma'"):
        GridExplorer.from_tables({"atomistic": path}, columns=SEED000_COLUMNS)
    with pytest.raises(DataError, match=r"table 'AB2'.*'config\.sigma'"):
        GridExplorer.from_tables({"AB2": table}, columns=SEED000_COLUMNS)


def test_bad_tables_raise_zifviz_errors(tmp_path):
    (tmp_path / "x.xlsx").write_text("nope")
    with pytest.raises(DataError, match="unknown table format"):
        tidy_grid_tables({"A": tmp_path / "x.xlsx"}, SEED000_COLUMNS)
    with pytest.raises(DataError, match="no such results table"):
        tidy_grid_tables({"A": tmp_path / "missing.csv"}, SEED000_COLUMNS)
    (tmp_path / "junk.csv").write_bytes(b"\x00\x01\x02\xff\xfe")
    with pytest.raises(DataError):
        tidy_grid_tables({"A": tmp_path / "junk.csv"}, SEED000_COLUMNS)
    bad = _bowl((6.0, 0.2, 0.045), R_CUTS, SIGMAS).astype({"result.av_test_rmse": object})
    bad.loc[3, "result.av_test_rmse"] = "failed"
    with pytest.raises(DataError, match="non-numeric"):
        tidy_grid_tables({"A": bad}, SEED000_COLUMNS)
    good = tidy_grid_tables({"A": _bowl((6.0, 0.2, 0.045), R_CUTS, SIGMAS)}, SEED000_COLUMNS)
    with pytest.raises(ZifvizError, match="color_range"):
        GridExplorer(good, color_range=(0.2, 0.1))
    with pytest.raises(DataError, match="sigma"):
        GridExplorer(good.drop(columns="sigma"))


def test_scattered_grids_are_drawn_as_points_and_gappy_rectangles_as_contours():
    rng = np.random.default_rng(0)
    assert grid_drawing(rng.uniform(2, 15, 40), rng.uniform(0.05, 2, 40)) == "points"
    r, s = np.meshgrid(R_CUTS, SIGMAS)
    keep = rng.random(r.size) > 0.25  # a quarter of the rectangle missing
    assert grid_drawing(r.ravel()[keep], s.ravel()[keep]) == "contour"
    assert grid_drawing([5.0, 6.0], [0.1, 0.1]) == "points"  # one sigma: no contour

    scattered = pd.DataFrame({"level": "AB2", "r_cut": rng.uniform(2, 15, 40),
                              "sigma": rng.uniform(0.05, 2, 40),
                              "test_rmse": rng.uniform(0.06, 0.2, 40)})
    rect = tidy_grid_tables({"atomistic": _bowl((6.0, 0.2, 0.045), R_CUTS, SIGMAS)},
                            SEED000_COLUMNS)
    explorer = GridExplorer(pd.concat([rect, scattered]))
    assert explorer.drawing == {"atomistic": "contour", "AB2": "points"}
    contour, points = explorer.figure.data[3], explorer.figure.data[4]
    assert contour.visible is False and len(points.x) == 40
    assert np.allclose(points.marker.color, np.log10(explorer.points("AB2")["rmse"]))
    assert "points only" in explorer.status.value and "filled contour" in explorer.status.value
    assert explorer.minima.at["AB2", "rmse"] == pytest.approx(scattered["test_rmse"].min())


def test_repeated_points_count_with_their_mean():
    table = pd.DataFrame({"level": "A", "r_cut": [5.0, 5.0, 6.0, 6.0000000001],
                          "sigma": [0.5, 0.5, 0.5, 0.5], "test_rmse": [0.10, 0.20, 0.16, 0.18]})
    explorer = GridExplorer(table)
    pts = explorer.points("A")
    assert pts["n_points"].tolist() == [2, 2]
    assert pts["rmse"].tolist() == pytest.approx([0.15, 0.17])
    assert explorer.minima.loc["A"].tolist() == pytest.approx([5.0, 0.5, 0.15])
    assert "2 repeated (mean shown)" in explorer.status.value


def test_other_axes_get_dropdowns_and_change_the_minima():
    parts = []
    for target, shift in (("eps_local", 0.0), ("eps_zn", 3.0)):
        for n_train in (500, 1000):
            t = tidy_grid_tables({"atomistic": _bowl((5.0 + shift, 0.2, 0.05 * 500 / n_train),
                                                     R_CUTS, SIGMAS)}, SEED000_COLUMNS)
            parts.append(t.assign(target=target, n_train=n_train, seconds=1.0))
    explorer = GridExplorer(pd.concat(parts, ignore_index=True))
    assert set(explorer.controls) == {"metric", "target", "n_train"}  # 'seconds' is no axis
    assert explorer.controls["n_train"].options == ("500", "1000")  # numeric order
    assert explorer.minima.loc["atomistic"].tolist() == pytest.approx([5.0, 0.2, 0.05])
    explorer.controls["target"].value = "eps_zn"
    explorer.controls["n_train"].value = "1000"
    assert explorer.minima.loc["atomistic"].tolist() == pytest.approx([8.0, 0.2, 0.025])
    assert tuple(explorer.figure.data[2].x) == (8.0,)  # the star moved
    explorer.controls["metric"].value = "train_rmse"
    assert explorer.minima.at["atomistic", "rmse"] == pytest.approx(0.0125)
    assert grid_minima(explorer.results, "test_rmse", target="eps_zn", n_train=500
                       ).loc["atomistic"].tolist() == pytest.approx([8.0, 0.2, 0.05])


def _click(explorer, trace_index, x, y):
    trace = explorer.figure.data[trace_index]
    trace._dispatch_on_click(Points(point_inds=[0], xs=[x], ys=[y], trace_name=trace.name,
                                    trace_index=trace_index), None)


def test_a_click_shows_stored_parity_and_learning_curve_or_says_none(tmp_path):
    rng = np.random.default_rng(1)
    y = rng.normal(size=50)
    np.savez(tmp_path / "p0.npz", y_true=y, y_pred=y + 0.05 * rng.normal(size=50),
             lc_n_train=[100, 200, 400], lc_test_rmse=[0.2, 0.15, 0.1],
             lc_train_rmse=[0.1, 0.08, 0.06])
    table = _bowl((6.0, 0.2, 0.045), R_CUTS, SIGMAS)
    table["file"] = None
    best = table["result.av_test_rmse"].idxmin()
    table.loc[best, "file"] = "p0.npz"
    table.to_csv(tmp_path / "atomistic.csv", index=False)
    explorer = GridExplorer.from_tables({"atomistic": tmp_path / "atomistic.csv"},
                                        columns={**SEED000_COLUMNS, "details": "file"})
    seen = []
    explorer.on_select(seen.append)

    _click(explorer, 1, 6.0, 0.2)  # the marker of the minimum
    assert explorer.selected["details"] and seen[-1]["r_cut"] == 6.0
    kinds = [t.name for t in explorer.detail.data]
    assert kinds == ["parity", "y = x", "test", "train"]
    assert len(explorer.detail.data[0].x) == 50
    assert explorer._detail_box.layout.display is None
    assert "r_cut 6 Å" in explorer.detail_message.value

    _click(explorer, 0, 12.1, 1.4)  # inside the contour: the nearest computed point
    assert (explorer.selected["r_cut"], explorer.selected["sigma"]) == (12.0, 1.5)
    assert not explorer.selected["details"]
    assert "No parity data or learning curve was stored" in explorer.detail_message.value
    assert explorer._detail_box.layout.display == "none"
    assert len(seen) == 2


def test_read_point_details(tmp_path):
    assert read_point_details(None) is None
    assert read_point_details(tmp_path / "none.npz") is None
    np.savez(tmp_path / "lc.npz", lc_n_train=[1, 2], lc_test_rmse=[0.2, 0.1])
    got = read_point_details(tmp_path / "lc.npz")
    assert got["parity"] is None and got["learning_curve"]["n_train"].tolist() == [1, 2]
    np.savez(tmp_path / "other.npz", a=[1])
    assert read_point_details(tmp_path / "other.npz") is None
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="bad.npz"):
        read_point_details(tmp_path / "bad.npz")


def test_explorer_reads_a_grid_search_file_and_shows_its_stored_details(tmp_path):
    """The real chain: zifviz.gridsearch writes results + per-point .npz; a click shows them."""
    from zifviz.datasets import load_demo
    from zifviz.gridsearch import grid_search

    demo = load_demo("energies")
    info = demo.frames_info
    frames = demo[info.groupby("framework", observed=True).head(2).index.to_numpy()[:16]]
    out = tmp_path / "grid.csv"
    results = grid_search(frames, "A", r_cuts=[6.0, 8.0], sigmas=[0.3, 0.6], n_max=6, l_max=3,
                          n_train=None, n_splits=3, out=out, learning_curves=True,
                          progress=False)
    explorer = GridExplorer.from_results(out, color_range=None)
    assert explorer.levels == ["A"] and len(explorer.points("A")) == 4
    assert set(explorer.controls) == {"metric"}  # one value per other axis: no dropdowns
    best = results.loc[results["test_rmse"].idxmin()]
    assert explorer.minima.loc["A"].tolist() == pytest.approx(
        [best["r_cut"], best["sigma"], best["test_rmse"]])
    _click(explorer, 1, best["r_cut"], best["sigma"])
    assert explorer.selected["details"]
    names = [t.name for t in explorer.detail.data]
    assert names[:2] == ["parity", "y = x"] and "test" in names
    assert len(explorer.detail.data[0].x) == int(best["n_test"])
    # the same table in memory, with the folder its relative paths start from
    again = GridExplorer(results, root=tmp_path)
    assert again.select("A", best["r_cut"], best["sigma"])["details"]


def test_colour_scale_follows_the_shown_metric_when_not_fixed():
    tidy = tidy_grid_tables({"atomistic": _bowl((6.0, 0.2, 0.045), R_CUTS, SIGMAS)},
                            SEED000_COLUMNS)
    explorer = GridExplorer(tidy, color_range=None)
    test = tidy["test_rmse"]
    assert explorer.color_range == pytest.approx((test.min(), test.max()))
    explorer.controls["metric"].value = "train_rmse"  # constant 0.0225: a small range around it
    lo, hi = explorer.color_range
    assert lo < 0.0225 < hi
    assert explorer.figure.layout.coloraxis.cmin == pytest.approx(np.log10(lo))
    assert explorer.figure.data[0].contours.start == pytest.approx(np.log10(lo))
    ticks = explorer.figure.layout.coloraxis.colorbar.ticktext
    assert ticks[0] == f"{lo:.3g}" and ticks[-1] == f"{hi:.3g}"
    fixed = GridExplorer(tidy)  # the paper's 0.05-0.18 eV unless told otherwise
    fixed.controls["metric"].value = "train_rmse"
    assert fixed.color_range == (0.05, 0.18)
