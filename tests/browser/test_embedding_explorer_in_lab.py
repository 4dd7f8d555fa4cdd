"""EmbeddingExplorer in JupyterLab (headless Chromium): the WebGL map draws in the phase
colours, a real mouse lasso (plotly's lasso tool) selects environments in Python, and the 3D
viewer shows the first selected Zn highlighted; a click selects one environment.

Screenshots: test-artifacts/browser/test_embedding_explorer_*.png
"""

from __future__ import annotations

import json
import time

import numpy as np
from conftest import load_png, write_notebook

from zifviz.palettes import palette_for

# A map with one blob per phase (the real t-SNE map is in notebook 03, see
# test_notebook03 below): the test knows where to lasso.
CELLS = [
    """import json
import numpy as np
import ipywidgets as w
import zifviz
from zifviz.datasets import load_demo
from zifviz.widgets import EmbeddingExplorer
ds = load_demo("phases")
info = ds.frames_info.reset_index(drop=True)
pick = [int(info.index[info["phase"] == p][k]) for p in ("ZIF-4", "liquid") for k in (0, 7)]
frames = ds[pick]
table = zifviz.environment_table(frames)
rng = np.random.default_rng(0)
x = np.where(table["phase"] == "ZIF-4", -10.0, 10.0) + rng.normal(size=len(table))
xy = np.column_stack([x, rng.normal(size=len(table))])
explorer = EmbeddingExplorer(table, xy, frames, level="AB2", height=420)
out = w.Output()
out.add_class("t-selection")
def report(sel):
    out.append_stdout(json.dumps({"n": len(sel), "phases": sorted(set(sel["phase"])),
                                  "first": [int(sel["frame_pos"].iloc[0]), int(sel["zn_rank"].iloc[0])] if len(sel) else None}) + "\\n")
explorer.on_select(report)
w.VBox([explorer, out])""",
    "print(json.dumps({'liquid': int((table['phase'] == 'liquid').sum()), 'n': len(table)}))",
]


def _plot(nb):
    return nb.page.locator(".jp-NotebookPanel .zifviz-embedding-map.js-plotly-plot").first


def _to_pixels(nb, xs, ys):
    """Data coordinates -> page pixels through plotly's own axes."""
    return nb.page.evaluate(
        """([el, xs, ys]) => {
            const gd = el; const fl = gd._fullLayout; const r = gd.getBoundingClientRect();
            return xs.map((x, i) => [r.left + fl.xaxis._offset + fl.xaxis.d2p(x),
                                      r.top + fl.yaxis._offset + fl.yaxis.d2p(ys[i])]);
        }""", [_plot(nb).element_handle(), list(xs), list(ys)])


def _centre_on_screen(nb, plot):
    """Scroll the plot to the middle of the window (a lasso outside it would not draw)."""
    plot.evaluate("(el) => el.scrollIntoView({block: 'center'})")
    nb.page.wait_for_timeout(300)


def _inside_window(nb, path):
    size = nb.page.viewport_size
    assert all(0 < x < size["width"] and 0 < y < size["height"] for x, y in path), path


def _selection(nb, timeout=15):
    box = nb.page.locator(".jp-NotebookPanel .t-selection")
    box.get_by_text('"n":').first.wait_for(timeout=timeout * 1000)
    return json.loads(box.inner_text().strip().splitlines()[-1])


def _lasso(nb, plot, x_from, x_to):
    """Drag plotly's lasso (already the drag mode) around the band x_from..x_to of the map
    (data coordinates), the whole height; returns the time the drag started."""
    _centre_on_screen(nb, plot)
    (x0, x1), (y0, y1) = plot.evaluate(
        "(gd) => [gd._fullLayout.xaxis.range, gd._fullLayout.yaxis.range]")
    ya, yb = y0 + 0.02 * (y1 - y0), y1 - 0.02 * (y1 - y0)
    xa, xb = max(x_from, x0 + 0.02 * (x1 - x0)), min(x_to, x1 - 0.02 * (x1 - x0))
    corners = [(xa, ya), (xb, ya), (xb, yb), (xa, yb), (xa, ya + 0.01)]
    path = _to_pixels(nb, [c[0] for c in corners], [c[1] for c in corners])
    _inside_window(nb, path)
    started = time.monotonic()
    nb.page.mouse.move(*path[0])
    nb.page.mouse.down()
    for (xa, ya), (xb, yb) in zip(path[:-1], path[1:]):
        for s in np.linspace(0, 1, 8)[1:]:
            nb.page.mouse.move(xa + s * (xb - xa), ya + s * (yb - ya))
    nb.page.mouse.up()
    return started


# what reaches the kernel: every points event of the map (hover, selection, ...); the kernel
# takes 0.3 s for each (a busy kernel, e.g. on a loaded machine or still drawing the 3D view)
LOG_CELL = """import time
events = w.Output()
events.add_class("t-events")
def log_points(change):
    if change["new"]:
        events.append_stdout(change["new"]["event_type"] + "\\n")
        time.sleep(0.3)
explorer.figure.observe(log_points, "_js2py_pointsCallback")
def log_relayout(change):
    if change["new"]:
        events.append_stdout("relayout:" + ",".join(change["new"]["relayout_data"]) + "\\n")
explorer.figure.observe(log_relayout, "_js2py_relayout")
events"""


def test_lasso_three_times_in_a_row(open_notebook):
    """Three lassos in a row, alternating blobs, each reaches Python (no retries), with the
    mouse moving over the map in between as a person's would and a kernel slow to answer.

    The FigureWidget sends hover, unhover and selected events through one synced trait; the
    widget front end keeps only the newest value while the kernel has not answered, so the
    ``plotly_selected`` of a lasso followed by an ``unhover`` was lost (events of the page and
    of the kernel in test-artifacts/browser/test_lasso_three_times_in_a_row-events.json). The
    explorer also reads the lasso from ``layout.selections``."""
    nb = open_notebook(write_notebook("embedding_explorer_lassos", [CELLS[0], LOG_CELL, CELLS[1]]))
    nb.run_all(timeout=180)
    counts = json.loads(nb.page.locator(".jp-OutputArea-output").last.inner_text())
    plot = _plot(nb)
    plot.wait_for(timeout=60_000)
    nb.wait_drawn(plot, "map")
    nb.wait_viewer_ready(nb.viewer(0))
    plot.evaluate("""(gd) => { gd.__events = [];
        for (const e of ['selected', 'relayout', 'hover', 'unhover', 'deselect', 'click']) {
            gd.on('plotly_' + e, () => { gd.__events.push(e); });
        } }""")
    _centre_on_screen(nb, plot)
    plot.hover()
    box = nb.page.locator(".jp-NotebookPanel .t-selection")
    for k, (x_from, x_to, phase) in enumerate([(4, 99, "liquid"), (-99, -4, "ZIF-4"),
                                                (4, 99, "liquid")]):
        _lasso(nb, plot, x_from, x_to)
        # a person's mouse leaves the lasso's end and goes over points (hover events)
        for x, y in _to_pixels(nb, np.linspace(-12, 12, 25), np.zeros(25)):
            nb.page.mouse.move(x, y, steps=2)
        try:
            nb.page.wait_for_function(
                "([el, n]) => el.innerText.trim().split('\\n')"
                ".filter((l) => l.includes('\"n\"')).length >= n",
                arg=[box.element_handle(), k + 1], timeout=20_000)
        except Exception:
            events = nb.page.locator(".jp-NotebookPanel .t-events").inner_text()
            raise AssertionError(
                f"lasso {k + 1} never reached Python: plotly.js reported "
                f"{plot.evaluate('(gd) => gd.__events')} in the page; the kernel got "
                f"these points events: {events.split()}")
        sel = json.loads(box.inner_text().strip().splitlines()[-1])
        n = counts["liquid"] if phase == "liquid" else counts["n"] - counts["liquid"]
        assert sel["phases"] == [phase] and sel["n"] == n, (k, sel)
    time.sleep(2)  # the kernel answers the last events
    lines = [ln for ln in box.inner_text().strip().splitlines() if '"n"' in ln]
    assert len(lines) == 3, f"each lasso must reach on_select once: {lines}"
    nb.save_json("events", {"page": plot.evaluate("(gd) => gd.__events"),
                            "kernel": nb.page.locator(".jp-NotebookPanel .t-events")
                            .inner_text().split()})
    nb.screenshot(nb.widget(".zifviz-embedding-explorer"), "after-three-lassos")
    nb.assert_no_console_errors()


def test_lasso_selects_and_shows_in_3d(open_notebook, latencies):
    nb = open_notebook(write_notebook("embedding_explorer", CELLS))
    nb.run_all(timeout=180)
    counts = json.loads(nb.page.locator(".jp-OutputArea-output").last.inner_text())
    explorer = nb.widget(".zifviz-embedding-explorer")
    plot = _plot(nb)
    plot.wait_for(timeout=60_000)
    png_map, stats = nb.wait_drawn(plot, "map")
    # both phase colours are on the map
    fractions = nb.color_fractions(png_map, [palette_for("phase")[p] for p in ("ZIF-4", "liquid")],
                                   tolerance=30)
    assert all(f > 1e-4 for f in fractions.values()), fractions  # 32 dots each
    viewer = nb.viewer(0)
    ngl = nb.wait_viewer_ready(viewer)
    canvas3d = viewer.locator(".zifviz-ngl canvas").first
    png3d_before, _ = nb.wait_drawn(canvas3d, "3d-before")

    # lasso tool from plotly's mode bar, then a mouse drag around the liquid blob (x ~ +10)
    _centre_on_screen(nb, plot)
    plot.hover()
    nb.page.locator(".jp-NotebookPanel .zifviz-embedding-map "
                    ".modebar-btn[data-title='Lasso Select']").first.click()
    t0 = _lasso(nb, plot, 4, np.inf)  # the band right of x = 4
    sel = _selection(nb)
    lasso_s = time.monotonic() - t0
    assert sel["n"] == counts["liquid"] and sel["phases"] == ["liquid"], sel
    status = explorer.locator(".zifviz-embedding-status").inner_text()
    assert f"{counts['liquid']} selected" in status, status
    details = explorer.locator(".zifviz-embedding-details").inner_text()
    assert "liquid" in details and "selected" in details

    # the 3D view went to that frame and highlighted (and focused) the first Zn
    frame, zn = sel["first"]
    nb.page.wait_for_function(
        "([el, f, z]) => el.dataset.zifvizFrame === String(f) && "
        "el.dataset.zifvizFocused === String(z) && el.dataset.zifvizHighlighted === '1'",
        arg=[ngl.element_handle(), frame, zn], timeout=20_000)
    time.sleep(0.6)  # the camera animates
    png3d_after, _ = nb.wait_drawn(canvas3d, "3d-after-lasso")
    assert nb.image_difference(png3d_after, png3d_before) > 0.02
    png_sel, _ = nb.wait_drawn(plot, "map-lasso")
    assert nb.image_difference(png_sel, png_map) > 0.005  # unselected points faded

    # a click on one ZIF-4 point selects that one environment
    nb.page.locator(".jp-NotebookPanel .zifviz-embedding-map "
                    ".modebar-btn[data-title='Zoom']").first.click()
    table_xy = json.loads(nb.page.evaluate(
        """(el) => JSON.stringify(el.data.map(t => [t.name, [t.x[0]], [t.y[0]]]))""",
        plot.element_handle()))
    name, (x0,), (y0,) = table_xy[0]
    assert name == "ZIF-4"
    _centre_on_screen(nb, plot)
    (px, py), = _to_pixels(nb, [x0], [y0])
    # plotly picks the point under the mouse on hover; the click then reports it
    nb.page.mouse.move(px - 6, py)
    nb.page.mouse.move(px, py, steps=3)
    nb.page.locator(".jp-NotebookPanel .zifviz-embedding-map .hoverlayer .hovertext")\
        .first.wait_for(state="attached", timeout=10_000)
    nb.page.mouse.click(px, py)
    nb.page.wait_for_function(
        "(el) => JSON.parse(el.innerText.trim().split('\\n').pop()).n === 1",
        arg=nb.page.locator(".jp-NotebookPanel .t-selection").element_handle(), timeout=15_000)
    one = _selection(nb)
    assert one["phases"] == ["ZIF-4"], one
    nb.screenshot(explorer, "widget")
    latencies.record("embedding_explorer", lasso_to_python_s=lasso_s)
    nb.assert_no_console_errors()


NOTEBOOK03 = "notebooks/03_soap_tsne.ipynb"


def test_notebook03(open_notebook, latencies):
    """Notebook 03 runs in JupyterLab; its static maps draw in the phase colours; the
    explorer draws the map and shows the notebook's selection in 3D, highlighted."""
    t0 = time.monotonic()
    nb = open_notebook(NOTEBOOK03)
    t_run = nb.run_all(timeout=300)
    page = nb.page
    # the static figures (map per source, placed points) are plotly figures too
    static = page.locator(".jp-NotebookPanel .jp-OutputArea-output"
                          ":not(:has(.zifviz-embedding-map)) .plot-container.plotly")
    assert static.count() >= 2, static.count()
    fig4, _ = nb.wait_drawn(static.first, "fig4")
    phase_colours = palette_for("phase")
    fractions = nb.color_fractions(fig4, list(phase_colours.values()), tolerance=30)
    assert sum(f > 1e-4 for f in fractions.values()) >= 6, fractions  # the phases in colour

    explorer = nb.widget(".zifviz-embedding-explorer")
    plot = _plot(nb)
    plot.scroll_into_view_if_needed()
    png_map, _ = nb.wait_drawn(plot, "explorer-map")
    viewer = nb.viewer(0)
    ngl = nb.wait_viewer_ready(viewer)
    assert "selected" in explorer.locator(".zifviz-embedding-status").inner_text()

    # The notebook selects the least-confident placed environments from code: the selection
    # is listed and its first Zn shown in 3D. (The mouse lasso is tested on a small map in
    # test_lasso_selects_and_shows_in_3d and test_lasso_three_times_in_a_row.)
    details = explorer.locator(".zifviz-embedding-details").inner_text()
    n_sel = int(details.split(" selected")[0].replace(",", "").split()[-1])
    assert n_sel > 5, details
    nb.page.wait_for_function("(el) => el.dataset.zifvizHighlighted === '1'",
                              arg=ngl.element_handle(), timeout=20_000)
    time.sleep(0.6)
    png_3d, _ = nb.wait_drawn(viewer.locator(".zifviz-ngl canvas").first, "3d-selected")
    nb.screenshot(plot, "explorer-map-selected")
    nb.screenshot(viewer, "explorer-viewer")
    nb.save_json("explorer-viewer-state", nb.viewer_state(viewer))
    # zoomed on the Zn: no sphere cut by the near plane shows NGL's dark-grey inside
    dark = np.all(np.abs(load_png(png_3d).astype(int) - 34) <= 12, axis=2).mean()
    assert dark < 0.001, f"{dark:.2%} of the 3D view is dark grey (a cut sphere's inside)"
    latencies.record("notebook03", run_all_s=t_run, total_s=time.monotonic() - t0)
    nb.assert_no_console_errors()
