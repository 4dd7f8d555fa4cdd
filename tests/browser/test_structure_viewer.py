"""The StructureViewer in JupyterLab (headless Chromium): drawn, level toggle flips in the
browser and comes back, legend colours on the canvas, an energy view in colour.

Screenshots: test-artifacts/browser/test_structure_viewer-*.png; latencies in
test-artifacts/browser/latencies.json (bounds here are generous; targets live in
benchmarks/bench_viewer.py).
"""

from __future__ import annotations

from conftest import write_notebook

BOUND_S = 3.0  # generous: a loaded CI machine is slow; the target (< 0.1 s) is benchmarked

CELLS = [
    """import numpy as np
import zifviz
from zifviz.datasets import fetch_structure
from zifviz.widgets import StructureViewer
atoms = zifviz.read(fetch_structure("widmer2019/ZIF4-FixedCell.cif"))
topo = zifviz.perceive(atoms)
zifviz.annotate(atoms, topo)
viewer = StructureViewer(atoms, topology=topo)
viewer""",
    """import warnings
glass = zifviz.read(fetch_structure("gaillac2020/ZIF4_15glass02.cif"))
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    glass_topo = zifviz.perceive(glass)
zifviz.annotate(glass, glass_topo)
glass_viewer = StructureViewer(glass, topology=glass_topo, level="A-only", color_by="coordination")
glass_viewer""",
    """from zifviz.datasets import load_demo
frame = next(f for f in load_demo("energies") if f.info.get("framework") == "ZIF-4")
frame_topo = zifviz.perceive(frame)
StructureViewer(frame, topology=frame_topo, level="AB2", color_by="local_energy")""",
]


# the atomistic legend names the elements; the AB2 and A-only legends the beads (A, B)
ELEMENT_LEGEND = "(x) => /\\bZn\\b/.test(x) && /\\bH\\b/.test(x)"


def _watch_legend(legend_box):
    """Record in the page every text the legend shows from now on
    (``el.zifvizLegendTexts``)."""
    legend_box.evaluate("""(el) => {
        el.zifvizLegendTexts = [];
        new MutationObserver(() => el.zifvizLegendTexts.push(el.innerText)).observe(
            el, {childList: true, subtree: true, characterData: true});
    }""")


def test_structure_viewer(open_notebook, latencies):
    nb = open_notebook(write_notebook("structure_viewer", CELLS))
    nb.run_all(timeout=180)

    # --- ZIF-4 atomistic: drawn, not blank, fills the canvas
    viewer = nb.viewer(0)
    ngl = nb.wait_viewer_ready(viewer)
    canvas = viewer.locator(".zifviz-ngl canvas").first
    png0, stats = nb.wait_drawn(canvas, "zif4-atomistic")
    # the camera fits the structure: the cell reaches across most of the canvas's height (a
    # thin-line renderer draws less ink: 9.4 % of the pixels on one machine, 10.7 % on another,
    # so no ink fraction is asserted), and it is shaded (many colours, not flat)
    assert stats["drawn_extent"] > 0.6, stats
    assert stats["distinct_colors"] > 50, stats
    legend = viewer.locator(".zifviz-legend-box").inner_text()
    for element in ("Zn", "N", "C", "H"):
        assert element in legend, legend
    # the legend's swatch colours are on the canvas (N blue, C grey, Zn)
    swatches = viewer.locator(".zifviz-legend span span").evaluate_all(
        "(els) => els.map((e) => getComputedStyle(e).backgroundColor)")
    hexes = ["#%02x%02x%02x" % tuple(int(x) for x in s[s.index("(") + 1:-1].split(",")[:3])
             for s in swatches]
    present = nb.color_fractions(png0, [h for h in hexes if h != "#ffffff"])
    assert all(f > 0.0005 for f in present.values()), present

    # --- the toggle flips in the browser; pictures differ; back to the start
    record = {"atomistic": stats, "legend_colours_on_canvas": present}
    previous = png0
    for label, name in [("AB2", "ab2"), ("A-only", "a-only"), ("atomistic", "atomistic-again")]:
        button = viewer.locator(".zifviz-level button", has_text=label).first
        timing = nb.click_and_time_redraw(button, canvas, marker=ngl)
        png, st = nb.wait_drawn(canvas, f"zif4-{name}")
        diff = nb.image_difference(png, previous)
        record[f"toggle_{name}"] = {**timing, "difference_to_previous": diff,
                                    "browser": nb.viewer_state(viewer)}
        assert timing["changed"] and timing["complete"] is not None, (label, timing)
        assert timing["complete"] < BOUND_S, (label, timing)
        assert diff > 0.02, f"{label}: picture hardly changed ({diff:.3%})"
        assert nb.viewer_state(viewer)["zifvizScene"] == {"AB2": "AB2", "A-only": "A"}.get(
            label, label)
        previous = png
    assert nb.image_difference(previous, png0, tolerance=64) < 0.015
    # Python follows the browser: the legend (written by the kernel) names the elements again
    # (at A-only it showed the beads only)
    legend_box = viewer.locator(".zifviz-legend-box").first
    nb.page.wait_for_function(f"(el) => ({ELEMENT_LEGEND})(el.innerText)",
                              arg=legend_box.element_handle(), timeout=20_000)

    # fast clicking ends on the last level clicked, in the browser and in Python: the kernel
    # has handled the last click when its legend went from a bead legend back to the elements
    _watch_legend(legend_box)
    for label in ("AB2", "A-only", "AB2", "atomistic"):
        viewer.locator(".zifviz-level button", has_text=label).first.click()
    nb.page.wait_for_function(
        f"""(el) => {{ const t = el.zifvizLegendTexts, zn = {ELEMENT_LEGEND};
                    const k = t.findIndex((x) => !zn(x));
                    return k >= 0 && t.slice(k + 1).some(zn) && zn(el.innerText); }}""",
        arg=legend_box.element_handle(), timeout=20_000)
    png, _ = nb.wait_drawn(canvas, "zif4-after-fast-clicks")
    assert nb.viewer_state(viewer)["zifvizScene"] == "atomistic"
    assert nb.image_difference(png, png0, tolerance=64) < 0.015
    nb.screenshot(viewer, "zif4-widget")

    # --- glass, A-only by coordination: both legend colours (3 and 4) on the canvas
    glass = nb.viewer(1)
    nb.wait_viewer_ready(glass)
    gcanvas = glass.locator(".zifviz-ngl canvas").first
    gpng, gstats = nb.wait_drawn(gcanvas, "glass-a-only-coordination")
    glegend = glass.locator(".zifviz-legend-box").inner_text()
    assert "coordination" in glegend and "3" in glegend and "4" in glegend
    gswatches = glass.locator(".zifviz-legend span span").evaluate_all(
        "(els) => els.map((e) => getComputedStyle(e).backgroundColor)")
    ghex = ["#%02x%02x%02x" % tuple(int(x) for x in s[s.index("(") + 1:-1].split(",")[:3])
            for s in gswatches]
    gpresent = nb.color_fractions(gpng, ghex)
    assert all(f > 0.0002 for f in gpresent.values()), gpresent
    record["glass"] = {**gstats, "legend_colours_on_canvas": gpresent}
    nb.screenshot(glass, "glass-widget")

    # --- ε_local at AB2: a colour scale on the canvas, not uniform grey
    energy = nb.viewer(2)
    nb.wait_viewer_ready(energy)
    ecanvas = energy.locator(".zifviz-ngl canvas").first
    epng, estats = nb.wait_drawn(ecanvas, "energies-ab2-local-energy")
    assert "local_energy" in energy.locator(".zifviz-legend-box").inner_text()
    sat = nb.saturated_fraction(epng)
    # the coloured share of what is drawn (a thinner drawing has fewer pixels of each kind)
    coloured = sat / max(estats["drawn_fraction"], 1e-9)
    record["energy"] = {**estats, "saturated_fraction": sat, "coloured_share_of_ink": coloured}
    assert coloured > 0.1, f"the ε view is (nearly) grey: {coloured:.1%} of the ink coloured"
    nb.screenshot(energy, "energies-widget")

    nb.save_json("results", record)
    latencies.record("structure_viewer_272_atoms", **{
        k: {key: v[key] for key in ("complete", "first_change", "received", "built")}
        for k, v in record.items() if k.startswith("toggle_")})
    nb.assert_no_console_errors()
