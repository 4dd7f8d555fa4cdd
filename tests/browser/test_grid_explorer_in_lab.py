"""GridExplorer in JupyterLab (headless Chromium): plotly FigureWidget (anywidget) renders the
three levels with colours, and a real click on a point shows that point's parity plot.

Two explorers: seed 000's own grid tables (RMSEs only: a click says nothing was stored) and a
small grid computed here with ``zifviz.gridsearch.grid_search`` (parity data and learning curves
stored: a click shows them). Selections are written to Output widgets that the test reads.

Screenshots: test-artifacts/browser/test_grid_explorer_*.png
"""

from __future__ import annotations

import json
import time

from conftest import write_notebook
from plotly_pixels import click_point, coloured_extent, panel_colour, plot_areas

CELLS = [
    """import json, tempfile
from pathlib import Path
import ipywidgets as w
from zifviz.datasets import load_demo
from zifviz.gridsearch import grid_search
from zifviz.widgets.grid_explorer import GridExplorer, SEED000_COLUMNS, seed000_grid_tables

def watched(explorer, name):
    out = w.Output()
    out.add_class("t-" + name)
    explorer.on_select(lambda p: out.append_stdout(json.dumps(p) + "\\n"))
    return w.VBox([explorer, out])

paper = GridExplorer.from_tables(seed000_grid_tables(), columns=SEED000_COLUMNS)
watched(paper, "paper")""",
    """demo = load_demo("energies")
picked = demo.frames_info.groupby("framework", observed=True).head(1).index.to_numpy()[:12]
out = Path(tempfile.mkdtemp()) / "grid.csv"
grid_search(demo[picked], ["atomistic", "AB2", "A"], r_cuts=[6.0, 9.0], sigmas=[0.3, 0.6],
            n_max=6, l_max=3, n_train=None, n_splits=3, out=out, learning_curves=True,
            progress=False)
ours = GridExplorer.from_results(out, color_range=None)
watched(ours, "ours")""",
    "print(json.dumps(ours.minima.reset_index().to_dict('records')))",
]


def _panels(fig) -> int:
    return fig.locator(".cartesianlayer .subplot").count()


def test_grid_explorer_renders_and_a_click_shows_the_parity_plot(open_notebook, latencies):
    nb = open_notebook(write_notebook("grid_explorer", CELLS), viewport=(1400, 1100))
    seconds = nb.run_all(timeout=300)
    minima = json.loads(nb.page.locator(".jp-OutputArea-output").last.inner_text())
    assert [m["level"] for m in minima] == ["atomistic", "AB2", "A"]

    # --- the paper's grids: three panels, filled, on one colour scale
    paper_fig = nb.widget(".zifviz-grid-explorer", 0)
    paper_fig.locator(".main-svg").first.wait_for(timeout=60_000)
    assert _panels(paper_fig) == 3
    assert paper_fig.locator(".contourlayer .contour").count() >= 3  # filled contours drawn
    assert paper_fig.locator(".colorbar").count() == 1               # ONE shared colour scale
    png, stats = nb.wait_drawn(paper_fig, "paper-grid", min_colors=50)
    # each panel filled with the colour scale (the white points and the axes' margins take
    # some of the plot area)
    colour = panel_colour(nb, paper_fig, png, "paper-grid-areas")
    assert len(colour) == 3 and min(colour.values()) > 0.4, colour
    assert paper_fig.locator(".scatterlayer path.point").count() >= 513 + 513 + 798
    table = nb.widget(".zifviz-grid-minima", 0).inner_text()
    assert "7.25" in table and "9.5" in table and "12" in table

    # a click on a paper point: nothing was stored for it, and the widget says so
    click_point(nb, paper_fig, ".scatterlayer .trace:nth-child(2)")
    picks = nb.page.locator(".jp-NotebookPanel .t-paper")
    picks.get_by_text('"level"').first.wait_for(timeout=15_000)
    pick = json.loads(picks.inner_text().strip().splitlines()[-1])
    assert pick["level"] == "atomistic" and pick["details"] is False
    message = nb.widget(".zifviz-grid-detail-message", 0).inner_text()
    assert "No parity data or learning curve was stored" in message
    nb.screenshot(nb.widget(".zifviz-grid-explorer-box", 0), "paper-clicked")

    # --- our grid (stored details): a click on a point shows its parity plot
    ours_fig = nb.widget(".zifviz-grid-explorer", 1)
    ours_fig.locator(".main-svg").first.wait_for(timeout=60_000)
    assert _panels(ours_fig) == 3
    nb.wait_drawn(ours_fig, "our-grid", min_colors=30)
    detail = nb.widget(".zifviz-grid-detail", 1)
    assert not detail.is_visible()  # nothing selected yet
    t0 = time.monotonic()
    click_point(nb, ours_fig, ".scatterlayer .trace:nth-child(2)")
    picks = nb.page.locator(".jp-NotebookPanel .t-ours")
    picks.get_by_text('"level"').first.wait_for(timeout=15_000)
    pick = json.loads(picks.inner_text().strip().splitlines()[-1])
    assert pick["details"] is True
    detail.locator(".main-svg").first.wait_for(state="visible", timeout=15_000)
    click_s = time.monotonic() - t0
    titles = [t.text_content() for t in detail.locator(".annotation-text").all()]
    assert "parity" in titles and "learning curve" in titles
    assert detail.locator(".scatterlayer .trace").count() >= 3  # y = x, test, train lines
    png, stats = nb.wait_drawn(detail, "parity-and-learning-curve", min_colors=20)
    # both plots drawn: their coloured points and lines reach across each plot area
    spread = {k: coloured_extent(v) for k, v in plot_areas(detail, png).items()}
    nb.save_json("parity-and-learning-curve-extent", spread)
    assert len(spread) == 2 and min(spread.values()) > 0.5, spread
    text = nb.widget(".zifviz-grid-detail-message", 1).inner_text()
    assert f"r_cut {pick['r_cut']:g} Å" in text
    nb.screenshot(nb.widget(".zifviz-grid-explorer-box", 1), "ours-clicked")
    latencies.record("grid_explorer", run_all_s=round(seconds, 1),
                     click_to_parity_s=round(click_s, 2))
    nb.assert_no_console_errors()


NOTEBOOK02 = "notebooks/02_gpr_coarse_graining.ipynb"


def test_notebook02(open_notebook, latencies):
    """Notebook 02 as a reader runs it: every cell runs, both explorers draw their three
    panels, the plotly figures show, and the 3D view colours the Zn by the GPR's std."""
    nb = open_notebook(NOTEBOOK02, viewport=(1400, 1100))
    seconds = nb.run_all(timeout=400)
    explorers = nb.page.locator(".jp-NotebookPanel .zifviz-grid-explorer")
    assert explorers.count() == 2
    for k, name in enumerate(("paper", "ours")):
        fig = explorers.nth(k)
        fig.locator(".main-svg").first.wait_for(timeout=60_000)
        assert fig.locator(".cartesianlayer .subplot").count() == 3
        png, _ = nb.wait_drawn(fig, f"nb02-{name}-grid", min_colors=30)
        colour = panel_colour(nb, fig, png, f"nb02-{name}-grid-areas")  # each panel in colour
        assert len(colour) == 3 and min(colour.values()) > 0.4, (name, colour)
    # parity, learning curves and Table 1 (plain plotly outputs)
    plots = nb.page.locator(".jp-NotebookPanel .jp-OutputArea-output.jp-RenderedPlotly")
    assert plots.count() >= 3
    for k in range(plots.count()):
        nb.screenshot(plots.nth(k), f"nb02-plot{k}")
    # uncertainty in 3D: the AB2 beads coloured by the std, a continuous legend
    viewer = nb.viewer(0)
    nb.wait_viewer_ready(viewer)
    canvas = viewer.locator(".zifviz-ngl canvas").first
    png, stats = nb.wait_drawn(canvas, "nb02-uncertainty")
    # fitted and shaded (not an ink fraction: that depends on how thick the renderer draws)
    assert stats["drawn_extent"] > 0.6 and stats["distinct_colors"] > 50, stats
    legend = viewer.locator(".zifviz-legend-box").inner_text()
    assert "AB2_std" in legend, legend
    nb.screenshot(viewer, "nb02-uncertainty-widget")
    latencies.record("notebook02", run_all_s=round(seconds, 1))
    nb.assert_no_console_errors()
