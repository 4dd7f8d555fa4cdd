"""Reading plotly figures in browser screenshots: the plot areas (from the figure's axes),
their colour, how far coloured traces reach, and a click on a marker."""

from __future__ import annotations

import io

import numpy as np
from conftest import drawn_extent, load_png

# The plot areas of a plotly figure (from its axes), in pixels of the element's screenshot.
PLOT_AREAS = """(el) => {
    const gd = el.classList.contains('js-plotly-plot') ? el : el.querySelector('.js-plotly-plot');
    const e = el.getBoundingClientRect(), r = gd.getBoundingClientRect();
    const areas = Object.entries(gd._fullLayout._plots).map(([id, p]) => ({
        id, x: r.left - e.left + p.xaxis._offset, y: r.top - e.top + p.yaxis._offset,
        width: p.xaxis._length, height: p.yaxis._length}));
    return {width: e.width, areas};
}"""


def plot_areas(fig, png: bytes) -> dict[str, bytes]:
    """The screenshot ``png`` of the plotly figure ``fig`` (a locator) cut to each plot area
    (subplot id -> PNG bytes): what the traces drew, without titles, ticks and colour bar."""
    from PIL import Image

    layout = fig.evaluate(PLOT_AREAS)
    img = load_png(png)
    scale = img.shape[1] / layout["width"]
    out = {}
    for a in layout["areas"]:
        x0, y0 = round(a["x"] * scale) + 1, round(a["y"] * scale) + 1
        x1, y1 = x0 + round(a["width"] * scale) - 2, y0 + round(a["height"] * scale) - 2
        buf = io.BytesIO()
        Image.fromarray(img[max(y0, 0):y1, max(x0, 0):x1]).save(buf, format="PNG")
        out[a["id"]] = buf.getvalue()
    return out


def panel_colour(nb, fig, png: bytes, name: str) -> dict[str, float]:
    """Fraction of clearly coloured pixels in each plot area of ``fig`` (the areas are saved
    as ``<test>-<name>-<subplot>.png``, the fractions as ``<test>-<name>.json``)."""
    colour = {}
    for k, area in plot_areas(fig, png).items():
        (nb.artifacts / f"{nb.name}-{name}-{k}.png").write_bytes(area)
        colour[k] = nb.saturated_fraction(area)
    nb.save_json(name, colour)
    return colour


def coloured_extent(png: bytes, min_saturation: float = 0.35) -> float:
    """:func:`conftest.drawn_extent` of the clearly coloured pixels only (the traces; grid
    lines, axes and the black y = x line are grey)."""
    img = load_png(png).astype(float) / 255
    mx, mn = img.max(axis=2), img.min(axis=2)
    saturation = (mx - mn) / np.maximum(mx, 1e-9)
    return drawn_extent((saturation > min_saturation) & (mx > 0.15))


def click_point(nb, fig, trace_selector: str):
    """Hover, then click, the first marker of the given scatter trace (plotly picks the
    hovered point on click: its hover label must be up first)."""
    point = fig.locator(f"{trace_selector} path.point").first
    point.scroll_into_view_if_needed()
    box = point.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    nb.page.mouse.move(x - 5, y - 5)
    nb.page.mouse.move(x, y, steps=3)
    fig.locator(".hoverlayer .hovertext").first.wait_for(state="attached", timeout=10_000)
    nb.page.mouse.click(x, y)
