"""EmbeddingExplorer redraws in JupyterLab, headless Chromium (SwiftShader WebGL).

Run: python benchmarks/bench_embedding_explorer.py [--sizes 10000,100000,672000] [--repeat 2]
(needs /usr/bin/chromium)

For maps of 10,000, 100,000 and 672,000 points (seed 003's size; seven Gaussian blobs with a
phase each and a numeric column; no 3D view), the benchmark opens one generated notebook per
size and measures in the page, from a button click to the canvas (the same method as
bench_viewer.py):

* recolour: ``explorer.color_by`` phase -> numeric -> phase (all traces rebuilt and sent);
* zoom in on one blob and back out, set from Python as plotly's zoom box does: above
  100,000 points the level-of-detail view then draws every point of the zoomed region;

``first`` is the first canvas change, ``last`` the last one (plotly draws the axes before the
points arrive). It also prints the Python side of each redraw (``last_update_seconds``) and
the ratio of each size's worst redraw to the 10,000-point one ("-" in the Python column: no
redraw was needed, e.g. a zoom with every point drawn already). Writes
test-artifacts/benchmarks/bench_embedding_explorer.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "browser"))

from conftest import (ARTIFACTS, NotebookPage, running_browser, running_lab,  # noqa: E402
                      write_notebook)

OUT = REPO / "test-artifacts" / "benchmarks" / "bench_embedding_explorer.json"


def cells(n: int) -> list[str]:
    return [f"""import time
import numpy as np
import pandas as pd
import ipywidgets as w
from zifviz.widgets import EmbeddingExplorer

PHASES = ["ZIF-4", "ZIF-4-cp", "ZIF-4-cp-II", "ZIF-zni", "ZIF-hPT-II", "glass", "liquid"]
rng = np.random.default_rng(0)
n = {n}
centres = rng.normal(size=(7, 2)) * 30
label = rng.integers(0, 7, n)
xy = centres[label] + rng.normal(size=(n, 2)) * 4
table = pd.DataFrame({{"frame": np.arange(n) // 16, "zn": np.arange(n) % 16,
                      "phase": np.array(PHASES)[label], "value": rng.normal(size=n)}})
t0 = time.perf_counter()
explorer = EmbeddingExplorer(table, xy)
print("build", round(time.perf_counter() - t0, 3), "s; drawn", len(explorer.shown))
log = w.HTML()
log.add_class("t-log")
recolour = w.Button(description="recolour")
recolour.add_class("t-recolour")
zoom = w.Button(description="zoom")
zoom.add_class("t-zoom")
zoomed = [False]
full = ([explorer._full_range[0][0], explorer._full_range[1][0]],
        [explorer._full_range[0][1], explorer._full_range[1][1]])
def on_recolour(_):
    explorer.last_update_seconds = float("nan")  # set again only if Python redraws
    explorer.color_by = "value" if explorer.color_by == "phase" else "phase"
    log.value = f"{{explorer.last_update_seconds:.4f}} {{len(explorer.shown)}}"
def on_zoom(_):
    c = centres[0]
    xr, yr = ([c[0] - 3, c[0] + 3], [c[1] - 3, c[1] + 3]) if not zoomed[0] else full
    zoomed[0] = not zoomed[0]
    explorer.last_update_seconds = float("nan")
    with explorer.figure.batch_update():
        explorer.figure.layout.xaxis.range = xr
        explorer.figure.layout.yaxis.range = yr
    log.value = f"{{explorer.last_update_seconds:.4f}} {{len(explorer.shown)}}"
recolour.on_click(on_recolour)
zoom.on_click(on_zoom)
w.VBox([w.HBox([recolour, zoom, log]), explorer])"""]


def measure(nb: NotebookPage, name: str, repeat: int, timeout: float) -> dict:
    page = nb.page
    plot = page.locator(".jp-NotebookPanel .zifviz-embedding-map.js-plotly-plot").first
    plot.scroll_into_view_if_needed()
    canvas = plot.locator("canvas.gl-canvas-context").first
    t0 = time.monotonic()
    nb.wait_drawn(plot, f"{name}-first", timeout=timeout, min_fraction=0.005)
    res: dict = {"first_draw_after_run_s": time.monotonic() - t0}
    log = page.locator(".jp-NotebookPanel .t-log").first

    def click(css: str, label: str):
        button = page.locator(f".jp-NotebookPanel {css}").first
        t = nb.click_and_time_redraw(button, canvas, timeout=timeout, settle=1.5)
        page.wait_for_timeout(300)
        python_s, shown = log.inner_text().split()
        res.setdefault(label, []).append({"first": t["first_change"], "last": t["last_change"],
                                          "python_s": float(python_s), "drawn": int(shown)})

    for _ in range(repeat):
        click(".t-recolour", "recolour")
        click(".t-recolour", "recolour")
    click(".t-zoom", "zoom_in")
    nb.screenshot(plot, f"{name}-zoomed")
    click(".t-zoom", "zoom_out")
    nb.screenshot(plot, f"{name}-end")
    return res


def _worst(items, key="last"):
    values = [i[key] for i in items if i[key] is not None]
    return max(values) if values else None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000,672000")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=180)
    args = ap.parse_args(argv)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    results: dict = {"sizes": {}}
    with running_lab(ARTIFACTS) as server, running_browser() as browser:
        for n in [int(s) for s in args.sizes.split(",")]:
            name = f"bench_embedding_explorer_{n}"
            path = write_notebook(name, cells(n))
            context = browser.new_context(viewport={"width": 1280, "height": 1000})
            try:
                nb = NotebookPage(context.new_page(), server, path, ARTIFACTS, name).open()
                nb.page.set_default_timeout(args.timeout * 1000)
                run_s = nb.run_all(timeout=args.timeout * 2)
                out = nb.page.locator(".jp-OutputArea-output").first.inner_text()
                entry = {"run_all_s": run_s, "build": out.strip().splitlines()[0],
                         **measure(nb, name, args.repeat, args.timeout),
                         "console_errors": nb.console_errors()}
                nb.save_console()
            finally:
                context.close()
            results["sizes"][n] = entry
            OUT.write_text(json.dumps(results, indent=1))
    print(f"\nEmbeddingExplorer redraws (s, click -> canvas), headless Chromium + SwiftShader; {OUT}")
    print(f"{'points':>9} {'drawn':>8} {'measure':>10} {'first':>7} {'last':>7} {'python':>7} "
          f"{'last / 10k':>10}")
    base = results["sizes"].get(10000)
    for n, entry in results["sizes"].items():
        for key in ("recolour", "zoom_in", "zoom_out"):
            items = entry[key]
            worst = _worst(items)
            ref = _worst(base[key]) if base else None
            ratio = f"{worst / ref:10.1f}" if worst and ref else f"{'-':>10}"
            first = _worst(items, "first")
            fmt = lambda v: f"{v:7.2f}" if v is not None else f"{'-':>7}"  # noqa: E731
            python = [i["python_s"] for i in items if i["python_s"] == i["python_s"]]
            print(f"{n:>9,} {items[-1]['drawn']:>8,} {key:>10} {fmt(first)} {fmt(worst)} "
                  f"{fmt(max(python) if python else None)} {ratio}")
        if entry["console_errors"]:
            print("   console errors:", entry["console_errors"][:3])
    return results


if __name__ == "__main__":
    main()
