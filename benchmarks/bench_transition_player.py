"""TransitionPlayer in JupyterLab, headless Chromium (SwiftShader): frame step and playback.

Run: python benchmarks/bench_transition_player.py [--reps 6] [--frames 24] [--speeds 5,10,30]
(needs /usr/bin/chromium and the public structures: ZIFVIZ_DATA_MIRROR or the network)

A ZIF-4 trajectory of a ``reps``^3 supercell (6: 58,752 atoms, 3,456 Zn; the Widmer et al.
cell with 0.05 Å of Gaussian noise per frame, in memory) with labels in the format of
:func:`zifviz.transitions.classify_trajectory` in which a region of ZIF-4-cp-II grows from
the centre (synthetic labels: the timing needs colours that change every frame, not a
classifier), one cluster table (the region) for the highlight. Side by side in one notebook,
at level A (Zn only):

* ``viewer``: a bare StructureViewer of the same labelled frames, coloured by phase;
* ``player``: the TransitionPlayer without the cluster highlight;
* ``player+cluster``: the TransitionPlayer highlighting the largest cluster (gold spheres:
  one more NGL representation rebuilt per frame);

and measures in the page, from the slider key press (ArrowRight) to the first canvas change
that shows the new frame (bench_viewer.py's method), the frame step of each (target < 0.2 s
at 3,456 Zn, issue 10), its ratio to the bare viewer, the Python side of a player step, and
the time until the marker on the fraction curve moved. Then it plays the player (Play
button, repeat on) at each requested speed for ``--seconds`` and counts the frames the 3D
view drew per second, and how long drawing goes on after pause (kernel backlog). Prints a
table and writes test-artifacts/benchmarks/bench_transition_player.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "browser"))

from conftest import (ARTIFACTS, CHROMIUM, NotebookPage, running_browser,  # noqa: E402
                      running_lab, write_notebook)

OUT = REPO / "test-artifacts" / "benchmarks" / "bench_transition_player.json"
TARGET_STEP_S = 0.2
WIDGETS = ("viewer", "player", "player+cluster")


def cells(reps: int, n_frames: int, speeds: list[float]) -> list[str]:
    setup = f"""import time
import numpy as np
import pandas as pd
import ipywidgets as w
import zifviz
from zifviz.datasets import fetch_structure
from zifviz.palettes import palette_for
from zifviz.transitions import labelled_frames
from zifviz.widgets import StructureViewer, TransitionPlayer
from zifviz.widgets.transition_player import FADED
cell = zifviz.read(fetch_structure("widmer2019/ZIF4-FixedCell.cif"))
big = cell.repeat(({reps}, {reps}, {reps}))
topo = zifviz.perceive(big)
rng = np.random.default_rng(0)
n_frames = {n_frames}
frames = []
for k in range(n_frames):
    a = big.copy()
    a.positions += rng.normal(0, 0.05, a.positions.shape)
    a.info["time"] = 0.05 * k
    frames.append(a)
# synthetic labels: a ZIF-4-cp-II region growing from the centre of the cell
zpos = big.positions[topo.zn]
order = np.argsort(np.linalg.norm(zpos - big.cell.array.sum(0) / 2, axis=1))
tables, clusters = [], []
for k in range(n_frames):
    new = np.zeros(topo.n_zn, bool)
    new[order[:int(topo.n_zn * k / (n_frames - 1))]] = True
    p = np.where(new, 0.9, 0.1)
    tables.append(pd.DataFrame({{"trajectory": "bench", "frame": k, "time": 0.05 * k,
        "zn": topo.zn, "zn_rank": np.arange(topo.n_zn),
        "label": np.where(new, "ZIF-4-cp-II", "ZIF-4"),
        "confidence": np.maximum(p, 1 - p), "p_ZIF-4": 1 - p, "p_ZIF-4-cp-II": p}}))
    clusters.append({{"trajectory": "bench", "frame": k, "cluster": 0, "size": int(new.sum()),
                     "zn_ranks": tuple(np.flatnonzero(new).tolist())}})
labels = pd.concat(tables, ignore_index=True)
growth = pd.DataFrame(clusters)
print(len(big), "atoms", topo.n_zn, "Zn", n_frames, "frames")"""
    show = """viewer = StructureViewer(labelled_frames(frames, labels), topology=topo, level="A",
                         color_by="phase", palette={**palette_for("phase"), "": FADED},
                         categories=["ZIF-4", "ZIF-4-cp-II", ""], height="380px")
player = TransitionPlayer(frames, labels, topology=topo, level="A", growth=False,
                          height="380px", speed=5)
player_c = TransitionPlayer(frames, labels, topology=topo, level="A", growth=growth,
                            height="380px", speed=5)
for p in (player, player_c):
    p.play.repeat = True
log = w.HTML()
log.add_class("t-log")
buttons = []
for s in %s:
    b = w.Button(description=f"speed {s:g}")
    b.add_class("t-speed-" + f"{s:g}".replace(".", "_"))
    b.on_click(lambda _, s=s: setattr(player, "speed", s))
    buttons.append(b)
steps = w.Button(description="python steps")
steps.add_class("t-steps")
def report(_):
    log.value = "<pre class='t-steps-json'>" + json.dumps(
        {"player": player.last_step_seconds, "player+cluster": player_c.last_step_seconds,
         "viewer": viewer.last_redraw_seconds}) + "</pre>"
import json
steps.on_click(report)
w.VBox([viewer, player, player_c, w.HBox(buttons + [steps]), log])""" % repr(speeds)
    return [setup, show]


def _median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _worst(values):
    values = [v for v in values if v is not None]
    return max(values) if values else None


def frame_steps(nb: NotebookPage, viewer, name: str, n: int, timeout: float) -> list:
    viewer.scroll_into_view_if_needed()
    ngl = nb.wait_viewer_ready(viewer, timeout)
    canvas = viewer.locator(".zifviz-ngl canvas").first
    nb.wait_drawn(canvas, f"{name}-first", timeout=timeout)
    handle = viewer.locator(".zifviz-frame .noUi-handle").first
    out, parts = [], []
    for _ in range(n):
        t = nb.click_and_time_redraw(handle, canvas, marker=ngl, timeout=timeout,
                                     key="ArrowRight", settle=0.6)
        out.append(t["complete"])
        parts.append({k: t[k] for k in ("received", "built", "complete")})
    nb.screenshot(viewer, f"{name}-after-steps")
    return out, parts


def marker_step(nb: NotebookPage, player, timeout: float) -> float | None:
    """Seconds from a slider key press until the plotly marker (shape 0) moved."""
    plot = player.locator(".zifviz-player-fractions.js-plotly-plot").first
    handle = player.locator(".zifviz-frame .noUi-handle").first
    handle.scroll_into_view_if_needed()
    return nb.page.evaluate(
        """async ([plot, handle, timeout]) => {
            const x0 = () => (plot.layout.shapes && plot.layout.shapes[0])
                ? plot.layout.shapes[0].x0 : null;
            const start = x0();
            const t0 = performance.now();
            handle.focus();
            handle.dispatchEvent(new KeyboardEvent('keydown', {key: 'ArrowRight', bubbles: true}));
            while (performance.now() - t0 < timeout * 1000) {
                await new Promise(r => requestAnimationFrame(r));
                if (x0() !== start) { return (performance.now() - t0) / 1000; }
            }
            return null;
        }""", [plot.element_handle(), handle.element_handle(), timeout])


def playback(nb: NotebookPage, player, speed: float, seconds: float) -> dict:
    """Play at ``speed`` for ``seconds``: frames drawn per second, drawing after pause."""
    tag = f"{speed:g}".replace(".", "_")
    nb.page.locator(f".jp-NotebookPanel .t-speed-{tag}").first.click()
    nb.page.wait_for_timeout(800)  # the interval reaches the page
    ngl = player.locator(".zifviz-ngl").first.element_handle()
    play = player.locator(".zifviz-player-play button").first
    pause = play  # ipywidgets 8: the play button toggles play / pause
    player.locator(".zifviz-player-play").first.scroll_into_view_if_needed()
    watch = """([el, seconds]) => new Promise((resolve) => {
        const t0 = performance.now(); let last = el.dataset.zifvizFrame, changes = 0, lastAt = 0;
        const tick = () => {
            const f = el.dataset.zifvizFrame, now = performance.now() - t0;
            if (f !== last) { changes += 1; last = f; lastAt = now; }
            if (now < seconds * 1000) { requestAnimationFrame(tick); }
            else { resolve({changes, seconds: now / 1000, last_change_s: lastAt / 1000}); }
        };
        requestAnimationFrame(tick);
    })"""
    play.click()
    nb.page.wait_for_timeout(1000)  # the first frames (warm-up)
    run = nb.page.evaluate(watch, [ngl, seconds])
    pause.click()
    after = nb.page.evaluate(watch, [ngl, 8.0])
    nb.page.wait_for_timeout(500)
    return {"speed": speed, "drawn_per_s": run["changes"] / run["seconds"],
            "frames_drawn": run["changes"], "seconds": run["seconds"],
            "drawn_after_pause": after["changes"],
            "drawing_after_pause_s": after["last_change_s"] if after["changes"] else 0.0}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=6, help="supercell repetitions")
    ap.add_argument("--frames", type=int, default=24)
    ap.add_argument("--steps", type=int, default=3, help="frame steps timed per widget")
    ap.add_argument("--speeds", default="5,10,30", help="frames/s to play at")
    ap.add_argument("--seconds", type=float, default=6.0, help="seconds of playback per speed")
    ap.add_argument("--timeout", type=float, default=180)
    args = ap.parse_args(argv)
    speeds = [float(s) for s in args.speeds.split(",") if s]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    reps = args.reps
    name = f"bench_transition_player_{reps}x{reps}x{reps}"
    result: dict = {"target_step_s": TARGET_STEP_S, "chromium": str(CHROMIUM),
                    "n_atoms": 272 * reps ** 3, "n_zn": 16 * reps ** 3, "frames": args.frames,
                    "level": "A"}
    with running_lab(ARTIFACTS) as server, running_browser() as browser:
        path = write_notebook(name, cells(reps, args.frames, speeds))
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        try:
            nb = NotebookPage(context.new_page(), server, path, ARTIFACTS, name).open()
            nb.page.set_default_timeout(args.timeout * 1000)
            result["run_all_s"] = nb.run_all(timeout=args.timeout * 3)
            players = nb.page.locator(".jp-NotebookPanel .zifviz-transition-player")
            views = {"viewer": nb.viewer(0),
                     "player": players.nth(0).locator(".zifviz-structure-viewer").first,
                     "player+cluster": players.nth(1).locator(".zifviz-structure-viewer").first}
            steps, parts = {}, {}
            for key in WIDGETS:
                steps[key], parts[key] = frame_steps(nb, views[key], key.replace("+", "-"),
                                                     args.steps, args.timeout)
            result["frame_step_s"] = steps
            # the page's marks: last message received, frame built, first canvas change
            result["frame_step_parts_s"] = parts
            nb.page.locator(".jp-NotebookPanel .t-steps").first.click()
            result["python_step_s"] = json.loads(nb.page.locator(
                ".jp-NotebookPanel .t-steps-json").first.inner_text(timeout=20_000))
            result["marker_step_s"] = [marker_step(nb, players.nth(0), args.timeout)
                                       for _ in range(2)]
            result["playback"] = [playback(nb, players.nth(0), s, args.seconds) for s in speeds]
            nb.screenshot(players.nth(0), "player-end")
            result["console_errors"] = nb.console_errors()
            nb.save_console()
        finally:
            context.close()
    OUT.write_text(json.dumps(result, indent=1))

    print(f"\nTransitionPlayer, {result['n_atoms']} atoms / {result['n_zn']} Zn, level A, "
          f"headless Chromium + SwiftShader; {OUT}")
    base = _median(result["frame_step_s"]["viewer"])
    print(f"{'frame step (s)':>22} {'median':>8} {'worst':>8} {'/viewer':>8} {'target':>7}")
    for key in WIDGETS:
        values = result["frame_step_s"][key]
        med = _median(values)
        ratio = f"{med / base:8.2f}" if med and base else f"{'-':>8}"
        fmt = lambda v: f"{v:8.3f}" if v is not None else f"{'-':>8}"  # noqa: E731
        print(f"{key:>22} {fmt(med)} {fmt(_worst(values))} {ratio} {TARGET_STEP_S:7.2f}")
    print("python side of the last step (s):",
          {k: round(v, 4) for k, v in result["python_step_s"].items()})
    print("marker moved on the curve after (s):",
          [round(v, 3) if v is not None else None for v in result["marker_step_s"]])
    print(f"{'playing at (frames/s)':>22} {'drawn/s':>8} {'drawn':>6} {'after pause':>12}")
    for p in result["playback"]:
        print(f"{p['speed']:>22g} {p['drawn_per_s']:8.2f} {p['frames_drawn']:6d} "
              f"{p['drawn_after_pause']:5d} in {p['drawing_after_pause_s']:.2f} s")
    if result["console_errors"]:
        print("console errors:", result["console_errors"])
    return result


if __name__ == "__main__":
    main()
