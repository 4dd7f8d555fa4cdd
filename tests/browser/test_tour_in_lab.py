"""The tour (notebooks/00_tour.ipynb) as a first-time user runs it in JupyterLab (headless
Chromium): every cell runs; the 3D views draw and the level toggle changes the picture; both
grid explorers draw and a click on a point of the quick grid shows its parity plot; the t-SNE
map draws in the phase colours, shows the notebook's selection in 3D and answers a click; the
transition player draws and its last frame differs from its first; the view saved and loaded
again draws. Then the tour exported to a static page
(zifviz.export.export_html) opened in Chromium: every plot drawn, no widget placeholders.

Screenshots: test-artifacts/browser/test_tour_*.png
"""

from __future__ import annotations

import time

import numpy as np
from conftest import drawn_extent, load_png
from plotly_pixels import click_point, panel_colour, plot_areas

from zifviz.palettes import palette_for

TOUR = "notebooks/00_tour.ipynb"
BOUND_S = 3.0
# nglview keeps paused endless spin/rock animations in the list: those are not camera moves
CAMERA_STILL = ("(el) => el.zifvizStage.animationControls.animationList"
                ".every((a) => a.paused || !isFinite(a.duration))")


def _map(nb):
    return nb.page.locator(".jp-NotebookPanel .zifviz-embedding-map.js-plotly-plot").first


def _fitted(stats) -> bool:
    """The camera fits the structure and it is shaded: the drawing reaches across the canvas,
    in many colours (an ink fraction would depend on how thick the renderer draws)."""
    return stats["drawn_extent"] > 0.6 and stats["distinct_colors"] > 50


def _rgb(colour: str) -> np.ndarray:
    """'#rrggbb' or 'rgb(r, g, b)' -> array of three floats."""
    if colour.startswith("#"):
        return np.array([int(colour[k:k + 2], 16) for k in (1, 3, 5)], dtype=float)
    return np.array([float(v) for v in colour[colour.index("(") + 1:-1].split(",")[:3]])


def _colour_ink(png: bytes, colours: dict[str, str], min_ink: float, min_cos: float = 0.995
                ) -> dict[str, np.ndarray]:
    """Pixels drawn in each colour at any opacity over the white background: a colour ``c``
    blended with white at opacity ``a`` is ``255 - a (255 - c)``, so its "ink" ``255 - pixel``
    points in the direction of ``255 - c`` whatever ``a`` (faint, overlapping, antialiased).
    ``min_cos`` 0.995 is 5.7 degrees; the closest two phase colours are 16 degrees apart.
    Pixels with less ink than ``min_ink`` (the grid lines', whose blue-grey is within 10
    degrees of ZIF-4's blue) do not count."""
    ink = 255.0 - load_png(png).astype(float)
    norm = np.linalg.norm(ink, axis=2)
    masks = {}
    for name, colour in colours.items():
        d = 255.0 - _rgb(colour)
        cos = (ink @ (d / np.linalg.norm(d))) / np.maximum(norm, 1e-9)
        masks[name] = (cos > min_cos) & (norm > min_ink)
    return masks


def _to_pixels(nb, plot, x, y):
    return nb.page.evaluate(
        """([gd, x, y]) => { const fl = gd._fullLayout; const r = gd.getBoundingClientRect();
            return [r.left + fl.xaxis._offset + fl.xaxis.d2p(x),
                    r.top + fl.yaxis._offset + fl.yaxis.d2p(y)]; }""",
        [plot.element_handle(), x, y])


def test_tour(open_notebook, latencies):
    t0 = time.monotonic()
    nb = open_notebook(TOUR, viewport=(1400, 1100))
    t_run = nb.run_all(timeout=240)
    page = nb.page

    # --- 1 · ZIF-4: drawn (the notebook switched it to AB2), the toggle changes the picture
    viewer = nb.viewer(0)
    ngl = nb.wait_viewer_ready(viewer)
    canvas = viewer.locator(".zifviz-ngl canvas").first
    png_ab2, stats = nb.wait_drawn(canvas, "zif4-ab2")
    assert _fitted(stats), stats
    assert nb.viewer_state(viewer)["zifvizScene"] == "AB2"
    toggles = {}
    pictures = {"AB2": png_ab2}
    for label in ("atomistic", "A-only", "AB2"):
        button = viewer.locator(".zifviz-level button", has_text=label).first
        toggles[label] = nb.click_and_time_redraw(button, canvas, marker=ngl)
        assert toggles[label]["complete"] is not None, (label, toggles[label])
        assert toggles[label]["complete"] < BOUND_S, (label, toggles[label])
        pictures[label], _ = nb.wait_drawn(canvas, f"zif4-{label}")
    assert nb.image_difference(pictures["atomistic"], pictures["AB2"]) > 0.02
    assert nb.image_difference(pictures["A-only"], pictures["atomistic"]) > 0.02
    nb.screenshot(viewer, "zif4-widget")

    # --- 2 · energies in colour
    energies = nb.viewer(1)
    nb.wait_viewer_ready(energies)
    png, stats = nb.wait_drawn(energies.locator(".zifviz-ngl canvas").first, "energies")
    assert _fitted(stats), stats
    assert "local_energy" in energies.locator(".zifviz-legend-box").inner_text()

    # --- the paper's grids and the quick grid: three panels each, in colour
    grids = page.locator(".jp-NotebookPanel .zifviz-grid-explorer")
    grids.nth(1).wait_for(state="attached", timeout=60_000)  # plotly's views render async
    assert grids.count() == 2
    for k, name in enumerate(("paper-grid", "quick-grid")):
        fig = grids.nth(k)
        fig.locator(".main-svg").first.wait_for(timeout=60_000)
        assert fig.locator(".cartesianlayer .subplot").count() == 3
        png, _ = nb.wait_drawn(fig, name, min_colors=30)
        colour = panel_colour(nb, fig, png, f"{name}-areas")  # each panel in colour
        assert len(colour) == 3 and min(colour.values()) > 0.4, (name, colour)
    # a click on a quick-grid point: its parity plot opens
    quick = grids.nth(1)
    detail = nb.widget(".zifviz-grid-detail", 1)
    assert not detail.is_visible()
    t_click = time.monotonic()
    click_point(nb, quick, ".scatterlayer .trace:nth-child(2)")
    detail.locator(".main-svg").first.wait_for(state="visible", timeout=20_000)
    click_parity_s = time.monotonic() - t_click
    assert "r_cut" in nb.widget(".zifviz-grid-detail-message", 1).inner_text()
    nb.wait_drawn(detail, "quick-grid-parity", min_colors=20)

    # --- 3 · the t-SNE map: phase colours, the notebook's selection in 3D, a click
    explorer = nb.widget(".zifviz-embedding-explorer")
    plot = _map(nb)
    plot.scroll_into_view_if_needed()
    png_map, _ = nb.wait_drawn(plot, "map")
    # one trace per phase in its fixed colour (the points are faded: the notebook selected some)
    traces = plot.evaluate("(gd) => gd.data.map(t => [t.name, t.marker.color, t.x.length])")
    colours = palette_for("phase")
    phases = {name: colour for name, colour, n in traces if name in colours and n > 0}
    assert len(phases) == 7 and all(colours[p] == c for p, c in phases.items()), traces
    # ... and drawn in those colours: in the plot area, every phase's colour at some opacity
    # (faint points: 0.9-2.3 % of the area each here), the points spread across the map
    area = plot_areas(plot, png_map)["xy"]
    (nb.artifacts / f"{nb.name}-map-area.png").write_bytes(area)
    lines = plot.evaluate("(gd) => ['xaxis', 'yaxis'].flatMap((a) => "
                          "[gd._fullLayout[a].gridcolor, gd._fullLayout[a].zerolinecolor])")
    grid_ink = max(float(np.linalg.norm(255.0 - _rgb(c))) for c in lines if c)
    ink = _colour_ink(area, colours, min_ink=max(12.0, 1.1 * grid_ink))
    drawn = {p: float(m.mean()) for p, m in ink.items()}
    spread = drawn_extent(np.any(list(ink.values()), axis=0))
    nb.save_json("map-phase-pixels", {"fractions": drawn, "extent": spread,
                                      "grid_colours": lines, "grid_ink": grid_ink})
    assert min(drawn.values()) > 1e-3, drawn
    assert spread > 0.6, spread
    status = explorer.locator(".zifviz-embedding-status").inner_text()
    assert "5 selected" in status, status      # the notebook's select() of five ZIF-zni Zn
    map_viewer = explorer.locator(".zifviz-structure-viewer").first
    map_ngl = nb.wait_viewer_ready(map_viewer)
    page.wait_for_function("(el) => el.dataset.zifvizHighlighted === '1' && "
                           "el.dataset.zifvizFocused !== undefined",
                           arg=map_ngl.element_handle(), timeout=20_000)
    page.wait_for_function(CAMERA_STILL, arg=map_ngl.element_handle(), timeout=20_000)
    png_zni, _ = nb.wait_drawn(map_viewer.locator(".zifviz-ngl canvas").first, "map-3d-zni")

    # click the first point of the first trace (zoom mode: a plain click, not a lasso)
    page.locator(".jp-NotebookPanel .zifviz-embedding-map "
                 ".modebar-btn[data-title='Zoom']").first.click()
    x0, y0 = plot.evaluate("(gd) => [gd.data[0].x[0], gd.data[0].y[0]]")
    plot.evaluate("(el) => el.scrollIntoView({block: 'center'})")
    page.wait_for_timeout(300)
    px, py = _to_pixels(nb, plot, x0, y0)
    page.mouse.move(px - 6, py)
    page.mouse.move(px, py, steps=3)
    page.locator(".jp-NotebookPanel .zifviz-embedding-map .hoverlayer .hovertext")\
        .first.wait_for(state="attached", timeout=10_000)
    t_click = time.monotonic()
    page.mouse.click(px, py)
    page.wait_for_function(
        "(el) => el.innerText.includes('1 selected')",
        arg=explorer.locator(".zifviz-embedding-status").element_handle(), timeout=20_000)
    click_map_s = time.monotonic() - t_click
    page.wait_for_function(CAMERA_STILL, arg=map_ngl.element_handle(), timeout=20_000)
    png_clicked, _ = nb.wait_drawn(map_viewer.locator(".zifviz-ngl canvas").first,
                                   "map-3d-clicked")
    nb.screenshot(explorer, "explorer")

    # --- 4 · the transition player: drawn, and stepping to the last frame changes the picture
    player = nb.widget(".zifviz-transition-player")
    player.scroll_into_view_if_needed()
    player_viewer = player.locator(".zifviz-structure-viewer").first
    player_ngl = nb.wait_viewer_ready(player_viewer)
    player_canvas = player_viewer.locator(".zifviz-ngl canvas").first
    box = player.locator(".zifviz-player-cluster input").first
    if box.is_checked():
        box.click()  # the phase colours only, no gold cluster over them
    first_png, stats = nb.wait_drawn(player_canvas, "player-first-frame")
    assert stats["drawn_fraction"] > 0.02, stats
    handle = player_viewer.locator(".zifviz-frame .noUi-handle").first
    n_last = int(float(handle.get_attribute("aria-valuemax") or 0))
    assert n_last > 5, n_last
    step_s = nb.press_and_time_frame(player_viewer, "End", handle, n_last)
    last_png, _ = nb.wait_drawn(player_canvas, "player-last-frame")
    assert nb.image_difference(last_png, first_png) > 0.01
    assert nb.viewer_state(player_viewer)["zifvizScene"] == "A"
    nb.screenshot(player, "player")

    # --- 5 · the view saved and loaded again draws, at the saved level
    again = nb.viewer(4)
    nb.wait_viewer_ready(again)
    png_again, stats = nb.wait_drawn(again.locator(".zifviz-ngl canvas").first, "reloaded")
    assert _fitted(stats), stats
    assert nb.viewer_state(again)["zifvizScene"] == "AB2"
    nb.screenshot(again, "reloaded-widget")

    latencies.record("tour", run_all_s=round(t_run, 1), total_s=round(time.monotonic() - t0, 1),
                     toggle_atomistic_s=toggles["atomistic"]["complete"],
                     toggle_a_only_s=toggles["A-only"]["complete"],
                     toggle_ab2_s=toggles["AB2"]["complete"],
                     grid_click_to_parity_s=round(click_parity_s, 2),
                     map_click_to_python_s=round(click_map_s, 2),
                     player_jump_to_last_s=round(step_s, 2))
    nb.assert_no_console_errors()


def test_tour_exported_page(browser, artifacts_dir, tmp_path, latencies):
    """The tour as one static HTML page: opened from disk (no server, no kernel), every
    plot is drawn, the 3D views are plotly snapshots, no widget placeholders, no errors."""
    from zifviz.export import export_html

    t0 = time.monotonic()
    out = export_html(TOUR, tmp_path / "tour.html")
    export_s = time.monotonic() - t0
    html = out.read_text(encoding="utf-8")
    n_plots = html.count("Plotly.newPlot(")
    # 2 grids, the map, the player's curve, 5 viewer snapshots (in the explorer and player too)
    assert n_plots >= 9, n_plots
    assert "Loading widget" not in html and "application/vnd.jupyter.widget-view" not in html

    context = browser.new_context(viewport={"width": 1300, "height": 1000})
    page = context.new_page()
    messages = []
    page.on("console", lambda m: messages.append(f"[{m.type}] {m.text}"))
    page.on("pageerror", lambda e: messages.append(f"[pageerror] {e}"))
    try:
        page.goto(out.as_uri())
        page.wait_for_function(
            f"() => document.querySelectorAll('.js-plotly-plot .main-svg').length >= {n_plots}",
            timeout=60_000)
        drawn = page.evaluate("() => Array.from(document.querySelectorAll('.js-plotly-plot'))"
                              ".map(el => (el.data || []).map(t => t.type || 'scatter'))")
        assert len(drawn) == n_plots, drawn
        assert sum("scatter3d" in d for d in drawn) >= 3, drawn
        assert sum("contour" in d for d in drawn) >= 1, drawn
        assert sum("scattergl" in d for d in drawn) >= 1, drawn   # the t-SNE map
        page.screenshot(path=str(artifacts_dir / "test_tour_exported_page.png"), full_page=False)
        snapshot = page.locator(".zifviz-static-viewer").first
        snapshot.scroll_into_view_if_needed()
        snapshot.screenshot(path=str(artifacts_dir / "test_tour_exported_page-3d.png"))
        (artifacts_dir / "test_tour_exported_page-console.log").write_text("\n".join(messages))
        errors = [m for m in messages if m.startswith(("[error]", "[pageerror]"))]
        assert not errors, errors
    finally:
        context.close()
    latencies.record("tour_export", export_s=round(export_s, 1), plots=n_plots,
                     page_bytes=len(html))


CAMERA_CELLS = [
    """import json
import ipywidgets as w
import tempfile
from pathlib import Path
import zifviz
from zifviz.datasets import fetch_structure
from zifviz.widgets import StructureViewer
from zifviz.widgets.state import load_state, save_state
atoms = zifviz.read(fetch_structure("widmer2019/ZIF4-FixedCell.cif"))
viewer = StructureViewer(atoms, level="AB2", height="360px")
viewer.layout.width = "700px"
viewer""",
    """out = w.Output()
button = w.Button(description="save and reopen")
button.add_class("t-reopen")
def reopen(_):
    path = save_state(viewer, Path(tempfile.mkdtemp()) / "view.json")
    again = load_state(path)
    again.layout.width = "700px"
    with out:
        display(again)
button.on_click(reopen)
# the orientation the kernel holds (what save_state will write), shown for the test to read
kernel_camera = w.Label()
kernel_camera.add_class("t-kernel-camera")
viewer.view.observe(lambda c: setattr(kernel_camera, "value", json.dumps(list(c["new"]))),
                    "_camera_orientation")
w.VBox([button, kernel_camera, out])""",
]

# NGL's camera: rotation x distance, and translation (nglview's 16 numbers, column-major)
ORIENTATION = "(el) => Array.from(el.zifvizStage.viewerControls.getOrientation().elements)"
# Within ``tol`` of ``want``, relative to its largest element (orient() and getOrientation()
# round-trip to ~1e-7 here).
SAME_ORIENTATION = """([m, want, tol]) => {
    const scale = Math.max(...want.map(Math.abs));
    return m.length === 16 && m.every((v, k) => Math.abs(v - want[k]) <= tol * scale);
}"""
CAMERA_TOLERANCE = 1e-3


def _orientation_difference(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.abs(a - b).max() / np.abs(b).max())


def test_saved_view_keeps_the_camera(open_notebook, latencies):
    """A view turned with the mouse, saved and reopened, shows the same orientation: NGL's
    camera of the reopened view equals the turned one (numbers read from the page), and its
    picture is much closer to the turned view's than to the unturned one."""
    from conftest import write_notebook

    nb = open_notebook(write_notebook("saved_camera", CAMERA_CELLS), viewport=(1200, 1100))
    nb.run_all(timeout=120)
    page = nb.page
    first = nb.viewer(0)
    first_ngl = nb.wait_viewer_ready(first)
    canvas = first.locator(".zifviz-ngl canvas").first
    before, _ = nb.wait_drawn(canvas, "camera-before")
    initial = first_ngl.evaluate(ORIENTATION)
    box = canvas.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 120, y + 60, steps=12)
    page.mouse.up()
    turned, _ = nb.wait_drawn(canvas, "camera-turned")
    assert nb.image_difference(turned, before) > 0.05
    orientation = first_ngl.evaluate(ORIENTATION)
    record = {"initial": initial, "turned": orientation,
              "turned_vs_initial": _orientation_difference(orientation, initial)}
    assert record["turned_vs_initial"] > 0.05, record  # the drag turned the camera

    # the kernel holds the turned orientation (nglview syncs _camera_orientation)
    kernel = nb.widget(".t-kernel-camera").first
    try:
        page.wait_for_function(
            f"([el, want, tol]) => {{ let m; try {{ m = JSON.parse(el.textContent); }}"
            f" catch (e) {{ return false; }} return ({SAME_ORIENTATION})([m, want, tol]); }}",
            arg=[kernel.element_handle(), orientation, CAMERA_TOLERANCE], timeout=20_000)
    finally:
        record["kernel"] = kernel.text_content()
        nb.save_json("cameras", record)

    # save and reopen: the new view's camera becomes the saved one (after its own first fit)
    nb.widget(".t-reopen button, button.t-reopen").first.click()
    again = nb.viewer(1)
    again_ngl = nb.wait_viewer_ready(again)
    try:
        page.wait_for_function(
            f"([el, want, tol]) => ({SAME_ORIENTATION})([({ORIENTATION})(el), want, tol])",
            arg=[again_ngl.element_handle(), orientation, CAMERA_TOLERANCE], timeout=20_000)
    finally:
        record["reopened"] = again_ngl.evaluate(ORIENTATION)
        record["reopened_vs_turned"] = _orientation_difference(record["reopened"], orientation)
        nb.save_json("cameras", record)
    reopened, _ = nb.wait_drawn(again.locator(".zifviz-ngl canvas").first, "camera-reopened")
    # what a person sees: the reopened picture is the turned one, not the initial one
    # (relative: outlines may shift by a pixel; 0.03 vs 0.16 of the pixels here)
    same = nb.image_difference(reopened, turned, tolerance=48)
    other = nb.image_difference(reopened, before, tolerance=48)
    latencies.record("saved_camera", difference_to_turned=round(same, 4),
                     difference_to_initial=round(other, 4),
                     orientation_reopened_vs_turned=record["reopened_vs_turned"],
                     orientation_turned_vs_initial=record["turned_vs_initial"])
    assert same < other / 3, (same, other)
    nb.assert_no_console_errors()
