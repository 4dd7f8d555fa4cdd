"""Notebook 01 as a reader runs it in JupyterLab (headless Chromium): every cell runs, every
viewer draws, the level toggle and the trajectory slider work. The widgets themselves are
tested in detail in test_structure_viewer.py, test_trajectory_viewer.py, test_picking.py.

Screenshots: test-artifacts/browser/test_notebook01-*.png
"""

from __future__ import annotations

import time

NOTEBOOK = "notebooks/01_structures_and_coarse_graining.ipynb"
BOUND_S = 3.0


def test_notebook01(open_notebook, latencies):
    t0 = time.monotonic()
    nb = open_notebook(NOTEBOOK)
    t_run = nb.run_all(timeout=180)

    names = ["zif4", "glass", "energies", "trajectory"]
    pictures, extents = {}, {}
    for k, name in enumerate(names):
        viewer = nb.viewer(k)
        nb.wait_viewer_ready(viewer)
        canvas = viewer.locator(".zifviz-ngl canvas").first
        png, stats = nb.wait_drawn(canvas, name)
        # fitted and shaded: the drawing reaches across the canvas (an ink fraction would
        # depend on how thick the renderer draws)
        assert stats["drawn_extent"] > 0.6 and stats["distinct_colors"] > 50, (name, stats)
        pictures[name] = png
        extents[name] = stats["drawn_extent"]
        nb.screenshot(viewer, f"{name}-widget")
    legend = nb.viewer(0).locator(".zifviz-legend-box").inner_text()
    assert all(e in legend for e in ("Zn", "N", "C", "H")), legend
    assert "coordination" in nb.viewer(1).locator(".zifviz-legend-box").inner_text()
    assert "local_energy" in nb.viewer(2).locator(".zifviz-legend-box").inner_text()

    # the ZIF-4 toggle: AB2 and back
    viewer = nb.viewer(0)
    canvas = viewer.locator(".zifviz-ngl canvas").first
    ngl = viewer.locator(".zifviz-ngl").first
    toggles = {}
    for label in ("AB2", "atomistic"):
        button = viewer.locator(".zifviz-level button", has_text=label).first
        toggles[label] = nb.click_and_time_redraw(button, canvas, marker=ngl)
        assert toggles[label]["complete"] is not None and toggles[label]["complete"] < BOUND_S
    png, _ = nb.wait_drawn(canvas, "zif4-back-to-atomistic")
    assert nb.image_difference(png, pictures["zif4"], tolerance=64) < 0.015

    # the trajectory: jump to the last frame
    traj = nb.viewer(3)
    handle = traj.locator(".zifviz-frame .noUi-handle").first
    n_last = int(float(handle.get_attribute("aria-valuemax") or 0))
    assert n_last > 0
    jump = nb.press_and_time_frame(traj, "End", handle, n_last)
    png_last, _ = nb.wait_drawn(traj.locator(".zifviz-ngl canvas").first, "trajectory-last")
    assert nb.image_difference(png_last, pictures["trajectory"]) > 0.01
    assert jump < BOUND_S, jump
    latencies.record("notebook01", run_all_s=t_run, total_s=time.monotonic() - t0,
                     toggle_ab2_s=toggles["AB2"]["complete"],
                     toggle_atomistic_s=toggles["atomistic"]["complete"],
                     trajectory_jump_to_last_s=jump, drawn_extent=extents)
    nb.assert_no_console_errors()
