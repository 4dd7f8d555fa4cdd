"""Picking, highlight and focus of the StructureViewer in JupyterLab (headless Chromium).

A real mouse click on a Zn bead reaches Python (``viewer.on_pick`` writes it into an Output
widget, which the test reads); buttons in the notebook call ``viewer.highlight`` and
``viewer.focus`` the way linked views will.

Screenshots: test-artifacts/browser/test_picking_*.png
"""

from __future__ import annotations

import json
import time

import numpy as np
from conftest import load_png, write_notebook

from zifviz.palettes import palette_for

CELLS = [
    """import json
import ipywidgets as w
import zifviz
from zifviz.datasets import fetch_structure
from zifviz.widgets import StructureViewer
atoms = zifviz.read(fetch_structure("widmer2019/ZIF4-FixedCell.cif"))
topo = zifviz.perceive(atoms)
viewer = StructureViewer(atoms, topology=topo, level="A-only")
out = w.Output()
out.add_class("t-picks")
viewer.on_pick(lambda p: out.append_stdout(json.dumps(p) + "\\n"))
buttons = []
for name, action in [("highlight", lambda _: viewer.highlight(zn=[0, 1, 2, 3])),
                     ("focus", lambda _: viewer.focus(5)),
                     ("clear", lambda _: viewer.highlight())]:
    b = w.Button(description=name)
    b.add_class("t-" + name)
    b.on_click(action)
    buttons.append(b)
w.VBox([viewer, w.HBox(buttons), out])""",
    "print(json.dumps([int(z) for z in topo.zn]))",
]


def _yellowish(png: bytes) -> float:
    img = load_png(png).astype(int)
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    return float(((r > 200) & (g > 170) & (b < 170) & (r - b > 70)).mean())


def test_pick_highlight_focus(open_notebook, latencies):
    nb = open_notebook(write_notebook("picking", CELLS))
    nb.run_all(timeout=180)
    zn_atoms = json.loads(nb.page.locator(".jp-OutputArea-output").last.inner_text())
    viewer = nb.viewer(0)
    ngl = nb.wait_viewer_ready(viewer)
    canvas = viewer.locator(".zifviz-ngl canvas").first
    png0, _ = nb.wait_drawn(canvas, "a-only")

    # --- click on the middle of a Zn (A bead) sphere
    xy = nb.blob_centre(png0, palette_for("bead")["A"], tolerance=30)
    assert xy is not None, "no A bead colour on the canvas"
    box = canvas.bounding_box()
    scale = box["width"] / load_png(png0).shape[1]
    t0 = time.monotonic()
    nb.page.mouse.click(box["x"] + xy[0] * scale, box["y"] + xy[1] * scale)
    picks = nb.page.locator(".jp-NotebookPanel .t-picks")
    picks.get_by_text('"level": "A"').first.wait_for(timeout=15_000)
    pick_s = time.monotonic() - t0
    pick = json.loads(picks.inner_text().strip().splitlines()[-1])
    assert pick["level"] == "A" and pick["kind"] == "A" and pick["frame"] == 0
    assert 0 <= pick["zn"] < 16 and pick["bead"] == pick["index"] == pick["zn"]
    assert pick["atom"] == zn_atoms[pick["zn"]]  # the Zn atom of the atomistic structure
    label = viewer.locator(".zifviz-pick").inner_text()
    assert f"Zn {pick['zn']}" in label, label

    # --- highlight four Zn: a gold halo appears, and goes with "clear"
    nb.page.locator(".jp-NotebookPanel .t-highlight").first.click()
    nb.page.wait_for_function("(el) => el.dataset.zifvizHighlighted === '4'",
                              arg=ngl.element_handle(), timeout=15_000)
    png_hl, _ = nb.wait_drawn(canvas, "highlighted")
    assert nb.image_difference(png_hl, png0) > 0.002
    assert _yellowish(png_hl) > _yellowish(png0) + 0.001, (_yellowish(png_hl), _yellowish(png0))

    # --- focus on Zn 5: the camera moves to it
    nb.page.locator(".jp-NotebookPanel .t-focus").first.click()
    nb.page.wait_for_function("(el) => el.dataset.zifvizFocused === '5'",
                              arg=ngl.element_handle(), timeout=15_000)
    time.sleep(0.6)  # the camera animates for 0.3 s
    png_focus, _ = nb.wait_drawn(canvas, "focused")
    assert nb.image_difference(png_focus, png_hl) > 0.05

    nb.page.locator(".jp-NotebookPanel .t-clear").first.click()
    nb.page.wait_for_function("(el) => el.dataset.zifvizHighlighted === '0'",
                              arg=ngl.element_handle(), timeout=15_000)
    png_clear, _ = nb.wait_drawn(canvas, "cleared")
    assert _yellowish(png_clear) < _yellowish(png_focus)
    nb.screenshot(viewer, "widget")
    latencies.record("picking", click_to_python_s=pick_s)
    nb.assert_no_console_errors()
    assert np.isfinite(pick_s)
