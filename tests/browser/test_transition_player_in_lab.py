"""Notebook 05 in JupyterLab (headless Chromium): the TransitionPlayer replays the shipped
transition. Playing it moves the 3D view through the frames, the Zn colours change as the
new phase grows (pixel colour histograms of the canvas at an early and a late frame) and the
marker on the fraction curve moves; a click on the curve jumps to that frame.

Screenshots: test-artifacts/browser/test_notebook05-*.png; timings in latencies.json.
"""

from __future__ import annotations

import re
import time

import numpy as np
from conftest import load_png

from zifviz.palettes import palette_for
from zifviz.widgets.transition_player import FADED

NOTEBOOK = "notebooks/05_transition_replay.ipynb"
PHASES = palette_for("phase")


def _plot(nb):
    return nb.page.locator(".jp-NotebookPanel .zifviz-player-fractions.js-plotly-plot").first


def _marker_x(nb) -> float:
    return float(_plot(nb).evaluate("(gd) => gd.layout.shapes[0].x0"))


def _fractions(nb) -> dict[str, float]:
    """The phase fractions the player lists for the frame shown (its info line)."""
    text = nb.widget(".zifviz-player-info").inner_text()
    return {m.group(1): float(m.group(2))
            for m in re.finditer(r"■\s*(\S+)\s+([01]\.\d\d)", text)}


def _frame(nb) -> int:
    return int(nb.widget(".zifviz-player-state").get_attribute("data-frame"))


def _wait_frame(nb, ngl, frame: int, timeout: float = 30):
    nb.page.wait_for_function("([el, f]) => el.dataset.zifvizFrame === String(f)",
                              arg=[ngl.element_handle(), frame], timeout=timeout * 1000)


def _pale(rgb) -> np.ndarray:
    """Grey and light (saturation < 0.06, brightness 0.6-0.97; the white background is
    brighter): the faded ligands, lit or in shadow, not a Zn in a phase colour."""
    img = np.asarray(rgb, dtype=float) / 255
    mx, mn = img.max(axis=-1), img.min(axis=-1)
    saturation = (mx - mn) / np.maximum(mx, 1e-9)
    return (saturation < 0.06) & (mx > 0.6) & (mx < 0.97)


def _pale_fraction(png: bytes) -> float:
    return float(_pale(load_png(png)).mean())


def _phase_pixels(nb, png) -> dict[str, float]:
    return nb.color_fractions(png, list(PHASES.values()), tolerance=36)


def test_notebook05_replays_the_transition(open_notebook, latencies):
    t0 = time.monotonic()
    nb = open_notebook(NOTEBOOK)
    t_run = nb.run_all(timeout=300)
    page = nb.page
    player = nb.widget(".zifviz-transition-player")
    player.scroll_into_view_if_needed()
    viewer = player.locator(".zifviz-structure-viewer").first
    ngl = nb.wait_viewer_ready(viewer)
    canvas = viewer.locator(".zifviz-ngl canvas").first
    slider = viewer.locator(".zifviz-frame")
    n_frames = int(float(slider.locator(".noUi-handle").first.get_attribute("aria-valuemax"))) + 1
    assert n_frames > 5
    # the notebook's last cell showed the last frame
    _wait_frame(nb, ngl, n_frames - 1)
    _plot(nb).wait_for()
    nb.wait_drawn(_plot(nb), "curve-last")
    x_last = _marker_x(nb)

    # the phase colours are what the player shows: no gold cluster over them
    box = player.locator(".zifviz-player-cluster input").first
    if box.is_checked():
        box.click()
    # atomistic (the notebook's level): Zn in phase colours, the ligands pale
    atomistic_png, _ = nb.wait_drawn(canvas, "3d-atomistic-last-frame")
    # the Zn only (A-only): every sphere on the canvas is a Zn in its phase colour
    viewer.locator(".zifviz-level button", has_text="A-only").first.click()
    page.wait_for_function("(el) => el.dataset.zifvizScene === 'A'", arg=ngl.element_handle())
    late_png, _ = nb.wait_drawn(canvas, "3d-last-frame")
    late_fractions = _fractions(nb)
    # the same frame, two levels: the pale (faded) ligands are what atomistic adds to the Zn
    # (the fog lightens the far A beads a little; lighting changes both pictures alike)
    assert _pale([int(FADED[k:k + 2], 16) for k in (1, 3, 5)]), FADED
    pale = {"atomistic": _pale_fraction(atomistic_png), "A": _pale_fraction(late_png)}
    assert pale["atomistic"] > 3 * pale["A"] + 1e-3, pale

    # stop: back to the first frame (the marker follows)
    play_buttons = player.locator(".zifviz-player-play button")
    play_buttons.nth(1).click()
    _wait_frame(nb, ngl, 0)
    early_png, _ = nb.wait_drawn(canvas, "3d-first-frame")
    early_fractions = _fractions(nb)
    deadline = time.monotonic() + 15
    while _marker_x(nb) == x_last and time.monotonic() < deadline:
        time.sleep(0.2)
    x_first = _marker_x(nb)
    assert x_first < x_last, (x_first, x_last)

    # play: the frames go by in the 3D view and the marker moves with them
    seen, xs = set(), []
    play_buttons.nth(0).click()
    t_play = time.monotonic()
    while time.monotonic() - t_play < 120:
        seen.add(int(nb.viewer_state(viewer)["zifvizFrame"]))
        xs.append(_marker_x(nb))
        if max(seen) >= n_frames - 1:
            break
        time.sleep(0.1)
    play_seconds = time.monotonic() - t_play
    assert max(seen) == n_frames - 1, sorted(seen)
    assert len(seen) >= min(n_frames, 5), sorted(seen)  # played through, not one jump
    assert len(set(xs)) >= 3 and max(xs) > x_first, xs[:20]
    played_png, _ = nb.wait_drawn(canvas, "3d-played-to-the-end")
    nb.screenshot(player, "player-played")

    # the Zn colours changed as the new phase grew: the final phase's colour gained pixels,
    # the first phase's colour lost them (lit spheres: colour within a tolerance)
    first = max(early_fractions, key=early_fractions.get)
    final = max(late_fractions, key=late_fractions.get)
    assert first != final, (early_fractions, late_fractions)
    early_px, late_px = _phase_pixels(nb, early_png), _phase_pixels(nb, played_png)
    assert late_px[PHASES[final]] > 2 * early_px[PHASES[final]] + 1e-3, (early_px, late_px)
    assert early_px[PHASES[first]] > 2 * late_px[PHASES[first]] + 1e-3, (early_px, late_px)
    assert nb.image_difference(played_png, early_png) > 0.01
    # the notebook's last frame and the played one: the same phase colours
    shown_last = _phase_pixels(nb, late_png)[PHASES[final]]
    assert abs(shown_last - late_px[PHASES[final]]) < 0.5 * late_px[PHASES[final]]

    # a click on the curve jumps to that frame
    plot = _plot(nb)
    plot.evaluate("(el) => el.scrollIntoView({block: 'center'})")
    target = n_frames // 2
    # where point ``target`` of the first trace is, once the page stopped scrolling; then
    # hover it until plotly's hover data is that frame (a loaded machine may hover the
    # mouse's old place first), and click
    hovered = None
    for _ in range(5):
        where, before = None, None
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            where = page.evaluate(
                """([gd, k]) => {
                    const fl = gd._fullLayout, r = gd.getBoundingClientRect(), t = gd.data[0];
                    return [r.left + fl.xaxis._offset + fl.xaxis.d2p(t.x[k]),
                            r.top + fl.yaxis._offset + fl.yaxis.d2p(t.y[k])];
                }""", [plot.element_handle(), target])
            if where == before:
                break
            before = where
            page.wait_for_timeout(150)
        px, py = where
        page.mouse.move(px - 8, py)
        page.mouse.move(px, py, steps=4)
        plot.locator(".hoverlayer .hovertext").first.wait_for(state="attached", timeout=10_000)
        hovered = plot.evaluate("(el) => (el._hoverdata || []).map((p) => p.x)")
        if hovered and all(x == hovered[0] for x in hovered) and plot.evaluate(
                "(el, k) => el._hoverdata[0].x === el.data[0].x[k]", target):
            break
    page.mouse.click(px, py)
    _wait_frame(nb, ngl, target)
    assert _frame(nb) == target
    nb.wait_drawn(canvas, "3d-clicked-frame")
    nb.screenshot(player, "player-clicked")

    # the t-SNE panel draws the current frame's points over the grey map
    tsne = nb.widget(".zifviz-player-map.js-plotly-plot")
    png_map, _ = nb.wait_drawn(tsne, "tsne-map")
    assert sum(f > 1e-4 for f in nb.color_fractions(png_map, list(PHASES.values()),
                                                    tolerance=30).values()) >= 1

    latencies.record("notebook05", run_all_s=t_run, total_s=time.monotonic() - t0,
                     play_to_end_s=play_seconds, frames_drawn_while_playing=len(seen),
                     n_frames=n_frames, early_pixels=early_px, late_pixels=late_px,
                     pale_pixels_last_frame=pale)
    nb.assert_no_console_errors()
