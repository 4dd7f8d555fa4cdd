"""StructureViewer latencies in JupyterLab, headless Chromium (SwiftShader), old vs new.

Run: python benchmarks/bench_viewer.py [--sizes 1,6] [--frames 4] [--no-old]
(needs /usr/bin/chromium and the public structures: ZIFVIZ_DATA_MIRROR or the network)

For a ZIF-4 trajectory of a 1x1x1 cell (272 atoms, 16 Zn) and a 6x6x6 supercell (58,752
atoms, 3,456 Zn) — a few frames of the Widmer et al. cell with 0.05 Å of Gaussian noise, in
memory — the benchmark opens a generated notebook with the new viewer and, side by side in
the same notebook, the viewer of the previous commit (copied from git into a temporary
folder: PDB text + generated JavaScript per scene), and measures in the page, from the click
or key press to the first canvas change that shows the new scene:

* frame step (slider ArrowRight) at A-only and at atomistic;
* level toggle A-only -> atomistic, atomistic -> AB2, AB2 -> A-only, A-only -> atomistic.

Targets (issue 6): toggle < 0.1 s; frame step < 0.2 s at 3,456 Zn (A-only), < 1 s at
58,752 atoms (atomistic). Prints a table with the old/new ratio and writes
test-artifacts/benchmarks/bench_viewer.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "browser"))

from conftest import (ARTIFACTS, CHROMIUM, NotebookPage, running_browser,  # noqa: E402
                      running_lab, write_notebook)

OUT = REPO / "test-artifacts" / "benchmarks" / "bench_viewer.json"
TARGETS = {"toggle": 0.1, "frame_step_A": 0.2, "frame_step_atomistic": 1.0}
OLD_COMMIT = "be8971e^"  # the last commit with the rebuild-per-frame viewer


def old_viewer_package(tmp: Path) -> Path:
    """The previous viewer (viewer.py + colors.py from git) as package ``zifviz_old_widgets``."""
    pkg = tmp / "zifviz_old_widgets"
    pkg.mkdir(parents=True, exist_ok=True)
    for name in ("viewer.py", "colors.py"):
        text = subprocess.run(["git", "show", f"{OLD_COMMIT}:zifviz/widgets/{name}"], cwd=REPO,
                              check=True, capture_output=True, text=True).stdout
        (pkg / name).write_text(text.replace("from ..coarse import", "from zifviz.coarse import"))
    (pkg / "__init__.py").write_text("from .viewer import StructureViewer\n")
    return tmp


def cells(reps: int, n_frames: int, old_path: Path | None) -> list[str]:
    setup = f"""import sys, time
import numpy as np
import zifviz
from zifviz.datasets import fetch_structure
from zifviz.widgets import StructureViewer
cell = zifviz.read(fetch_structure("widmer2019/ZIF4-FixedCell.cif"))
big = cell.repeat(({reps}, {reps}, {reps}))
rng = np.random.default_rng(0)
frames = []
for k in range({n_frames}):
    a = big.copy()
    a.positions += rng.normal(0, 0.05, a.positions.shape)
    frames.append(a)
t0 = time.perf_counter()
topo = zifviz.perceive(big)  # the clean supercell; every frame reuses it
print(len(big), "atoms", topo.n_zn, "Zn; perceive", round(time.perf_counter() - t0, 2), "s")"""
    out = [setup, "new = StructureViewer(frames, topology=topo, level='A')\nnew"]
    if old_path is not None:
        out.append(f"sys.path.insert(0, {str(old_path)!r})\n"
                   "from zifviz_old_widgets import StructureViewer as OldViewer\n"
                   "old = OldViewer(frames, topology=topo, level='A')\nold")
    return out


def measure(nb: NotebookPage, index: int, name: str, timeout: float) -> dict:
    viewer = nb.viewer(index)
    viewer.scroll_into_view_if_needed()
    ngl = viewer.locator(".zifviz-ngl").first
    ngl.wait_for(state="attached", timeout=timeout * 1000)
    canvas = viewer.locator(".zifviz-ngl canvas").first
    t0 = time.monotonic()
    nb.wait_drawn(canvas, f"{name}-first", timeout=timeout)
    res: dict = {"first_draw_s": time.monotonic() - t0}
    handle = viewer.locator(".zifviz-frame .noUi-handle").first

    def step(key, label):
        t = nb.click_and_time_redraw(handle, canvas, marker=ngl, timeout=timeout, key=key,
                                     settle=0.6)
        res.setdefault(label, []).append(t["complete"])

    def toggle(text, label):
        button = viewer.locator(".zifviz-level button", has_text=text).first
        t = nb.click_and_time_redraw(button, canvas, marker=ngl, timeout=timeout, settle=0.6)
        res.setdefault("toggle", []).append(t["complete"])
        res[label] = t["complete"]

    step("ArrowRight", "frame_step_A")
    step("ArrowRight", "frame_step_A")
    toggle("atomistic", "toggle_A_to_atomistic")
    step("ArrowRight", "frame_step_atomistic")
    step("ArrowLeft", "frame_step_atomistic")
    toggle("AB2", "toggle_atomistic_to_AB2")
    toggle("A-only", "toggle_AB2_to_A")
    toggle("atomistic", "toggle_A_to_atomistic_again")
    nb.screenshot(viewer, f"{name}-end")
    return res


def _worst(values) -> float | None:
    values = [v for v in values if v is not None]
    return max(values) if values else None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1,6", help="supercell repetitions, comma separated")
    ap.add_argument("--frames", type=int, default=4)
    ap.add_argument("--no-old", action="store_true", help="measure the new viewer only")
    ap.add_argument("--timeout", type=float, default=180)
    args = ap.parse_args(argv)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    results: dict = {"targets_s": TARGETS, "chromium": str(CHROMIUM), "systems": {}}
    with tempfile.TemporaryDirectory(prefix="zifviz-old-viewer-") as tmp, \
            running_lab(ARTIFACTS) as server, running_browser() as browser:
        old_path = None if args.no_old else old_viewer_package(Path(tmp))
        for reps in [int(r) for r in args.sizes.split(",")]:
            name = f"bench_viewer_{reps}x{reps}x{reps}"
            path = write_notebook(name, cells(reps, args.frames, old_path))
            context = browser.new_context(viewport={"width": 1280, "height": 1000})
            try:
                nb = NotebookPage(context.new_page(), server, path, ARTIFACTS, name).open()
                nb.page.set_default_timeout(args.timeout * 1000)
                t_run = nb.run_all(timeout=args.timeout * 3)
                system = {"n_atoms": 272 * reps ** 3, "n_zn": 16 * reps ** 3, "run_all_s": t_run,
                          "new": measure(nb, 0, f"{name}-new", args.timeout)}
                if old_path is not None:
                    system["old"] = measure(nb, 1, f"{name}-old", args.timeout)
                system["console_errors"] = nb.console_errors()
                nb.save_console()
            finally:
                context.close()
            results["systems"][name] = system
            OUT.write_text(json.dumps(results, indent=1))
    print(f"\nStructureViewer latencies (s), headless Chromium + SwiftShader; {OUT}")
    print(f"{'system':>26} {'measure':>28} {'new':>8} {'old':>8} {'old/new':>8} {'target':>7}")
    for name, system in results["systems"].items():
        label = f"{system['n_atoms']} atoms/{system['n_zn']} Zn"
        for key in ("frame_step_A", "frame_step_atomistic", "toggle"):
            new = _worst(system["new"].get(key, []))
            old = _worst(system.get("old", {}).get(key, []))
            ratio = f"{old / new:8.1f}" if new and old else f"{'-':>8}"
            fmt = lambda v: f"{v:8.3f}" if v is not None else f"{'-':>8}"  # noqa: E731
            target = TARGETS["toggle" if key == "toggle" else key]
            print(f"{label:>26} {key + ' (worst)':>28} {fmt(new)} {fmt(old)} {ratio} {target:7.2f}")
    return results


if __name__ == "__main__":
    main()
