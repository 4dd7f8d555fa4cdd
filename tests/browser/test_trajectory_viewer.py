"""A trajectory in the StructureViewer: the frame slider streams positions to the browser.

Screenshots: test-artifacts/browser/test_trajectory_viewer-*.png; latencies in latencies.json.
"""

from __future__ import annotations

from conftest import write_notebook

BOUND_S = 3.0  # generous; targets are in benchmarks/bench_viewer.py

CELLS = [
    """import zifviz
from zifviz.datasets import load_demo
from zifviz.widgets import StructureViewer
hot = load_demo("phases").query("phase == 'liquid' and source_set == 'NVT' and start == 'glass-02'")
viewer = StructureViewer(hot, topology=zifviz.perceive(hot[0]), level="AB2")
viewer""",
    "n_frames = len(hot); n_frames",
]


def test_trajectory_slider(open_notebook, latencies):
    nb = open_notebook(write_notebook("trajectory_viewer", CELLS))
    nb.run_all(timeout=180)
    viewer = nb.viewer(0)
    nb.wait_viewer_ready(viewer)
    canvas = viewer.locator(".zifviz-ngl canvas").first
    png0, _ = nb.wait_drawn(canvas, "frame-0")
    n_frames = int(nb.page.locator(".jp-OutputArea-output").last.inner_text().strip())
    assert n_frames > 3

    slider = viewer.locator(".zifviz-frame")
    assert slider.is_visible()
    handle = slider.locator(".noUi-handle").first
    steps = []
    for k in (1, 2, 3):  # one frame at a time
        steps.append(nb.press_and_time_frame(viewer, "ArrowRight", handle, k))
    png3, _ = nb.wait_drawn(canvas, "frame-3")
    assert nb.image_difference(png3, png0) > 0.005
    jump = nb.press_and_time_frame(viewer, "End", handle, n_frames - 1)  # to the last frame
    png_last, stats = nb.wait_drawn(canvas, "last-frame")
    # still fitted and shaded: the drawing reaches across the canvas (not an ink fraction,
    # which depends on how thick the renderer draws)
    assert stats["drawn_extent"] > 0.6 and stats["distinct_colors"] > 50, stats
    assert nb.image_difference(png_last, png0) > 0.01
    assert slider.locator(".widget-readout").first.inner_text().strip() == str(n_frames - 1)
    assert max(steps + [jump]) < BOUND_S, (steps, jump)

    # the other levels got the frame too: switching level shows the same frame
    for label, level in (("A-only", "A"), ("atomistic", "atomistic")):
        viewer.locator(".zifviz-level button", has_text=label).first.click()
        nb.page.wait_for_function(
            "([el, lv]) => el.dataset.zifvizScene === lv",
            arg=[viewer.locator(".zifviz-ngl").first.element_handle(), level])
        state = nb.viewer_state(viewer)
        assert state["zifvizFrame"] == str(n_frames - 1), state
        nb.wait_drawn(canvas, f"last-frame-{level}")
    nb.screenshot(viewer, "widget")
    latencies.record("trajectory_viewer_ab2_48_beads", frame_steps_s=steps, jump_to_last_s=jump,
                     n_frames=n_frames)
    nb.assert_no_console_errors()
