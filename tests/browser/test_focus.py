"""Focus of the StructureViewer after a frame change in JupyterLab (headless Chromium).

``viewer.frame = i; viewer.focus(zn)`` (what the EmbeddingExplorer does on a selection) must
leave the camera on that Zn, zoomed in, also when frame ``i`` is another framework (another
topology: the browser rebuilds the level) -- the person looking sees the Zn in the middle, and
no dark disk where the near clip plane cuts a sphere.

Screenshots: test-artifacts/browser/test_focus_*.png
"""

from __future__ import annotations

import json

import numpy as np
from conftest import load_png, write_notebook

# two frameworks of the energies demo with different atom counts and cells
CELLS = [
    """import json
import numpy as np
import ipywidgets as w
import zifviz
from zifviz.datasets import load_demo
from zifviz.widgets import StructureViewer
ds = load_demo("energies")
info = ds.frames_info.reset_index(drop=True)
first = {fw: int(info.index[info["framework"] == fw][0]) for fw in ("ZIF-4", "OFF")}
frames = ds[[first["ZIF-4"], first["ZIF-4"] + 1, first["OFF"]]]
viewer = StructureViewer(frames, level="AB2", height="420px")
buttons = []
def go(frame, zn):
    def action(_):
        viewer.frame = frame
        viewer.focus(zn)
    return action
for name, action in [("other", go(2, 7)), ("same", go(2, 3)), ("back", go(0, 5)),
                     ("fit", lambda _: viewer.reset_camera())]:
    b = w.Button(description=name)
    b.add_class("t-" + name)
    b.on_click(action)
    buttons.append(b)
w.VBox([viewer, w.HBox(buttons)])""",
    # an explorer's select() in a notebook cell focuses before the view is in the page
    """early = StructureViewer(frames, level="AB2", height="300px")
early.frame = 2
early.focus(7)
early""",
    "print(json.dumps([len(f) for f in frames]))",
]

# where item ``index`` of the shown level is on the canvas (pixels from the bottom left), and
# the camera distance (the orthographic scale: smaller is zoomed in)
PROJECT = """([el, index]) => {
    const S = el.zifvizState, stage = el.zifvizStage, L = S.levels[S.shown];
    const v = L.comp.structure.getAtomProxy(index).positionToVector3();
    v.applyMatrix4(L.comp.matrix);
    const p = stage.viewerControls.getPositionOnCanvas(v);
    const vw = stage.viewer;
    return {x: p.x, y: p.y, width: vw.width, height: vw.height, distance: vw.cameraDistance,
            level: S.shown, frame: L.frame, n: L.comp.structure.atomCount};
}"""
GOLD = "#ffc400"  # the highlight


def _camera(nb, ngl, index):
    cam = nb.page.evaluate(PROJECT, [ngl.element_handle(), index])
    # spheres in view that the near plane still cuts (after moving the camera back to a gap)
    cam["cut"] = nb.viewer_state(nb.viewer(0)).get("zifvizFocusCut")
    return cam


def _wait_focused(nb, ngl, frame, index, timeout=20):
    """Until the browser shows ``frame``, has focused item ``index`` and the camera stopped."""
    try:
        nb.page.wait_for_function(
            "([el, f, z]) => el.dataset.zifvizFrame === String(f) && "
            "el.dataset.zifvizFocused === String(z)",
            arg=[ngl.element_handle(), frame, index], timeout=timeout * 1000)
        # nglview keeps paused endless spin/rock animations in the list: not camera moves
        nb.page.wait_for_function(
            "(el) => el.zifvizStage.animationControls.animationList"
            ".every((a) => a.paused || !isFinite(a.duration))",
            arg=ngl.element_handle(), timeout=timeout * 1000)
    except Exception:
        nb.save_json("state-at-timeout", {"dataset": nb.viewer_state(nb.viewer(0)),
                                          "camera": _camera(nb, ngl, index)})
        raise


def _check_focus(nb, canvas, cam, fitted, what):
    """The Zn is in the middle of the canvas, zoomed in, and the gold sphere is there too."""
    dx = abs(cam["x"] - cam["width"] / 2) / cam["width"]
    dy = abs(cam["y"] - cam["height"] / 2) / cam["height"]
    assert dx < 0.05 and dy < 0.05, f"{what}: the Zn is not in the middle ({cam})"
    assert cam["distance"] < 0.7 * fitted["distance"], f"{what}: not zoomed in ({cam}, {fitted})"
    png, _ = nb.wait_drawn(canvas, what.replace(" ", "-"))
    img = load_png(png)
    xy = nb.blob_centre(png, GOLD, tolerance=40)
    assert xy is not None, f"{what}: no gold (highlighted) Zn on the canvas"
    assert abs(xy[0] / img.shape[1] - 0.5) < 0.08 and abs(xy[1] / img.shape[0] - 0.5) < 0.08, \
        f"{what}: the gold Zn is at {xy} of {img.shape[1]}x{img.shape[0]} pixels, off centre"
    # no sphere cut by the near plane shows NGL's dark-grey inside (a black disk in front)
    dark = np.all(np.abs(img.astype(int) - 34) <= 12, axis=2).mean()
    assert dark < 0.001, f"{what}: {dark:.2%} of the canvas is dark grey (a cut sphere's inside)"
    # here the clip plane finds a gap between the spheres in view (it moves at most 6 A out)
    assert cam["cut"] == "0", f"{what}: the clip plane cuts {cam['cut']} sphere(s) in view"
    return png


def test_focus_in_a_frame_of_another_topology(open_notebook):
    nb = open_notebook(write_notebook("focus", CELLS))
    nb.run_all(timeout=180)
    sizes = json.loads(nb.page.locator(".jp-OutputArea-output").last.inner_text())
    assert sizes[0] != sizes[2], sizes  # two topologies
    viewer = nb.viewer(0)
    ngl = nb.wait_viewer_ready(viewer)
    canvas = viewer.locator(".zifviz-ngl canvas").first
    nb.wait_drawn(canvas, "fitted")
    record = {"fitted": (fitted := _camera(nb, ngl, 0))}

    # --- another framework: the browser rebuilds the level, then the camera goes to Zn 7
    # (one of its bonds crosses the cell edge)
    nb.page.locator(".jp-NotebookPanel .t-other").first.click()
    _wait_focused(nb, ngl, 2, 7)
    record["other"] = cam = _camera(nb, ngl, 7)
    nb.save_json("cameras", record)
    assert cam["n"] != fitted["n"], (cam, fitted)
    _check_focus(nb, canvas, cam, fitted, "other topology")

    # --- the same frame: Zn 3 (two bonds across the cell edge)
    nb.page.locator(".jp-NotebookPanel .t-same").first.click()
    _wait_focused(nb, ngl, 2, 3)
    record["same"] = cam = _camera(nb, ngl, 3)
    nb.save_json("cameras", record)
    _check_focus(nb, canvas, cam, fitted, "same topology")

    # --- back to the first framework, Zn 5
    nb.page.locator(".jp-NotebookPanel .t-back").first.click()
    _wait_focused(nb, ngl, 0, 5)
    record["back"] = cam = _camera(nb, ngl, 5)
    nb.save_json("cameras", record)
    _check_focus(nb, canvas, cam, fitted, "back")

    # --- reset: the whole cell again
    nb.page.locator(".jp-NotebookPanel .t-fit").first.click()
    nb.page.wait_for_function(
        "([el, d]) => Math.abs(el.zifvizStage.viewer.cameraDistance - d) < 0.05 * d",
        arg=[ngl.element_handle(), fitted["distance"]], timeout=15_000)
    nb.wait_drawn(canvas, "fitted-again")
    nb.screenshot(viewer, "widget")

    # --- focus() before the view was displayed: applied when the browser view appears
    early = nb.viewer(1)
    early_ngl = nb.wait_viewer_ready(early)
    _wait_focused(nb, early_ngl, 2, 7)
    early_canvas = early.locator(".zifviz-ngl canvas").first
    cam = _camera(nb, early_ngl, 7)
    record["before_display"] = cam
    nb.save_json("cameras", record)
    # the same view of Zn 7 as the first viewer's focus on it (centred, zoomed in)
    assert abs(cam["distance"] - record["other"]["distance"]) < 0.1 * cam["distance"], record
    _check_focus(nb, early_canvas, cam, fitted, "before display")
    nb.assert_no_console_errors()
