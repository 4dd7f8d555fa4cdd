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


# Where each bead of the level shown is on the canvas (NGL's own projection: canvas pixels,
# y from the bottom) and how deep (normalised device z: -1 at the near plane, 1 at the far).
BEADS_ON_CANVAS = """(el) => {
    const S = el.zifvizState, stage = el.zifvizStage, L = S.levels[S.shown], vw = stage.viewer;
    const s = L.comp.structure, beads = [];
    for (let i = 0; i < s.atomCount; i++) {
        const v = s.getAtomProxy(i).positionToVector3().applyMatrix4(L.comp.matrix);
        const p = stage.viewerControls.getPositionOnCanvas(v.clone());
        const c = v.clone().add(vw.translationGroup.position)
            .applyMatrix4(vw.rotationGroup.matrix).project(vw.camera);
        beads.push({index: i, x: p.x, y: p.y, depth: c.z});
    }
    return {width: vw.width, height: vw.height, level: S.shown, beads};
}"""
GOLD_HUE = 46  # the highlight colour #ffc400


def _hue(rgb: np.ndarray) -> np.ndarray:
    """Hue in degrees of RGB values (..., 3)."""
    rgb = np.asarray(rgb, dtype=float)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    mx, mn = rgb.max(axis=-1), rgb.min(axis=-1)
    chroma = np.maximum(mx - mn, 1e-9)
    return 60 * np.where(mx == r, ((g - b) / chroma) % 6,
                         np.where(mx == g, (b - r) / chroma + 2, (r - g) / chroma + 4))


def _gold(png: bytes, tolerance: float = 12) -> float:
    """Fraction of pixels of the highlight's hue (lit or fogged, a gold sphere keeps its hue;
    the Zn beads are blue, the cell grey)."""
    img = load_png(png).astype(float) / 255
    mx, mn = img.max(axis=2), img.min(axis=2)
    saturation = (mx - mn) / np.maximum(mx, 1e-9)
    gold = (np.abs(_hue(img) - GOLD_HUE) < tolerance) & (saturation > 0.4) & (mx > 0.3)
    return float(gold.mean())


def _front_bead(nb, ngl) -> tuple[dict, dict]:
    """The bead nearest to the camera among those well inside the canvas: nothing can hide
    its centre (a click there hits the sphere, not a bond or another sphere)."""
    view = nb.page.evaluate(BEADS_ON_CANVAS, ngl.element_handle())
    inside = [b for b in view["beads"]
              if 0.1 * view["width"] < b["x"] < 0.9 * view["width"]
              and 0.1 * view["height"] < b["y"] < 0.9 * view["height"]]
    assert inside, f"no bead inside the canvas: {view}"
    return min(inside, key=lambda b: b["depth"]), view


def test_pick_highlight_focus(open_notebook, latencies):
    nb = open_notebook(write_notebook("picking", CELLS))
    nb.run_all(timeout=180)
    zn_atoms = json.loads(nb.page.locator(".jp-OutputArea-output").last.inner_text())
    viewer = nb.viewer(0)
    ngl = nb.wait_viewer_ready(viewer)
    canvas = viewer.locator(".zifviz-ngl canvas").first
    png0, _ = nb.wait_drawn(canvas, "a-only")

    # --- click on the centre of the Zn (A bead) nearest to the camera, where NGL projects it
    bead, view = _front_bead(nb, ngl)
    assert view["level"] == "A", view["level"]
    box = canvas.bounding_box()
    x = box["x"] + bead["x"] * box["width"] / view["width"]
    y = box["y"] + (view["height"] - bead["y"]) * box["height"] / view["height"]
    # the picture agrees: the A beads' hue is drawn there (hue: whatever the lighting)
    img = load_png(png0)
    scale = img.shape[1] / box["width"]
    px, py = round((x - box["x"]) * scale), round((y - box["y"]) * scale)
    patch = img[max(py - 2, 0):py + 3, max(px - 2, 0):px + 3].reshape(1, -1, 3)
    hue = _hue(patch.mean(axis=1, keepdims=True)[0, 0])
    nb.save_json("clicked-bead", {"bead": bead, "pixel": [px, py], "hue": hue,
                                  "patch": patch[0].tolist()})
    a_hue = _hue(np.array([int(palette_for("bead")["A"][k:k + 2], 16) for k in (1, 3, 5)]))
    assert abs(hue - a_hue) < 15, (hue, a_hue, bead)
    t0 = time.monotonic()
    nb.page.mouse.click(x, y)
    picks = nb.page.locator(".jp-NotebookPanel .t-picks")
    picks.get_by_text('"level": "A"').first.wait_for(timeout=15_000)
    pick_s = time.monotonic() - t0
    pick = json.loads(picks.inner_text().strip().splitlines()[-1])
    assert pick["level"] == "A" and pick["kind"] == "A" and pick["frame"] == 0
    assert pick["index"] == bead["index"], (pick, bead)  # the bead clicked, not a neighbour
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
    assert _gold(png_hl) > _gold(png0) + 0.001, (_gold(png_hl), _gold(png0))

    # --- focus on Zn 5: the camera moves to it
    nb.page.locator(".jp-NotebookPanel .t-focus").first.click()
    nb.page.wait_for_function("(el) => el.dataset.zifvizFocused === '5'",
                              arg=ngl.element_handle(), timeout=15_000)
    # the camera animates for 0.3 s (nglview keeps paused endless spin/rock animations)
    nb.page.wait_for_function(
        "(el) => el.zifvizStage.animationControls.animationList"
        ".every((a) => a.paused || !isFinite(a.duration))",
        arg=ngl.element_handle(), timeout=15_000)
    png_focus, _ = nb.wait_drawn(canvas, "focused")
    assert nb.image_difference(png_focus, png_hl) > 0.05

    nb.page.locator(".jp-NotebookPanel .t-clear").first.click()
    nb.page.wait_for_function("(el) => el.dataset.zifvizHighlighted === '0'",
                              arg=ngl.element_handle(), timeout=15_000)
    png_clear, _ = nb.wait_drawn(canvas, "cleared")
    assert _gold(png_clear) < _gold(png_focus) / 5, (_gold(png_clear), _gold(png_focus))
    nb.screenshot(viewer, "widget")
    latencies.record("picking", click_to_python_s=pick_s)
    nb.assert_no_console_errors()
    assert np.isfinite(pick_s)
