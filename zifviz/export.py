"""A notebook as one static HTML page that still shows its plots, without a kernel.

:func:`export_html` executes a notebook (or takes it as executed: ``execute=False``) and
writes a single HTML file that works offline:

* **plotly figures** — ``FigureWidget`` views (the grid and map explorers) and figures
  displayed as plain plotly output — become plotly.js divs, with the plotly.js library
  included once in the page: hover, zoom and pan work; clicks, lassos and dropdowns that ask
  Python for something do not (there is no kernel);
* **the 3D viewer** (nglview) does **not** survive as such: nglview 3.1.4's own HTML export
  replays its message archive, and zifviz's viewer draws with binary messages and browser
  code that are not in that archive, so an embedded nglview would be blank. Each
  :class:`~zifviz.widgets.StructureViewer` is instead replaced by a plotly 3D snapshot of
  what it showed when the notebook finished (level, frame, colours and legend, bonds as
  lines, highlighted Zn in gold) — rotatable, but not the NGL rendering;
* other ipywidgets (buttons, dropdowns, HTML text) become their text; the widgets' state is
  not embedded, so the page loads no widget manager from a CDN and shows no "loading
  widget" placeholders.

The conversion of live widgets runs inside the notebook's kernel after its last cell
(:func:`static_html_of`), so it sees the widgets exactly as the notebook left them.
"""

from __future__ import annotations

import html
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from .errors import ZifvizError
from .storage import atomic_write

__all__ = ["export_html", "static_html_of", "structure_figure", "WIDGET_VIEW", "PLOTLY_MIME"]

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
PLOTLY_MIME = "application/vnd.plotly.v1+json"
_GOLD = "#ffc107"


# ----------------------------------------------------------------------------- kernel side
def structure_figure(viewer, height: int = 420):
    """A plotly 3D snapshot of what a :class:`~zifviz.widgets.StructureViewer` shows: the
    current frame and level, atoms or beads in the viewer's colours, bonds as lines (each
    drawn from its first atom across the cell boundary if it crosses one), highlights in gold."""
    import plotly.graph_objects as go

    frame, level = viewer.frame, viewer.level
    geo = viewer.scene.geometry(frame, level)
    st = viewer.scene.static(level, frame)
    mapping = viewer.colors
    pos = np.asarray(geo.positions, float)
    colors = np.asarray(mapping.palette, dtype=object)[np.asarray(mapping.index, int)]
    sizes = 6 + 14 * np.asarray(st.radii, float) / max(float(np.max(st.radii, initial=1)), 1e-9)
    traces = []
    if len(geo.pairs):
        i, j = geo.pairs[:, 0], geo.pairs[:, 1]
        end = pos[j] + geo.shifts @ np.asarray(geo.cell, float)
        seg = np.full((len(i) * 3, 3), np.nan)
        seg[0::3], seg[1::3] = pos[i], end
        traces.append(go.Scatter3d(x=seg[:, 0], y=seg[:, 1], z=seg[:, 2], mode="lines",
                                   line=dict(color="#888888", width=3), hoverinfo="skip",
                                   name="bonds", showlegend=False))
    text = [f"{k} {n}" for k, n in zip(st.kind, range(st.n))]
    traces.append(go.Scatter3d(x=pos[:, 0], y=pos[:, 1], z=pos[:, 2], mode="markers",
                               marker=dict(color=list(colors), size=sizes,
                                           line=dict(width=0)),
                               text=text, hoverinfo="text", name=level, showlegend=False))
    marked = viewer._highlight.get(level) or []
    if marked:
        m = np.asarray(marked, int)
        traces.append(go.Scatter3d(x=pos[m, 0], y=pos[m, 1], z=pos[m, 2], mode="markers",
                                   marker=dict(color=_GOLD, size=sizes[m] * 1.3, opacity=0.6),
                                   hoverinfo="skip", name="highlighted", showlegend=False))
    fig = go.Figure(traces)
    axis = dict(visible=False)
    fig.update_layout(height=height, margin=dict(l=0, r=0, t=30, b=0),
                      title=dict(text=f"3D snapshot: {level}, frame {frame}, colour by "
                                      f"{mapping.name}", font=dict(size=13)),
                      scene=dict(xaxis=axis, yaxis=axis, zaxis=axis, aspectmode="data"))
    return fig


def _figure_html(fig) -> str:
    return fig.to_html(full_html=False, include_plotlyjs=False,
                       config={"displaylogo": False, "responsive": True})


def _widget_html(widget) -> str:
    import ipywidgets as widgets
    import plotly.graph_objects as go

    from .widgets.viewer import StructureViewer

    if type(widget).__name__.startswith("_"):  # helpers nglview displays (colour registry)
        return ""
    if isinstance(widget, StructureViewer):
        note = ('<div class="zifviz-static-note" style="font-size:12px;color:#555">'
                "The interactive 3D view (nglview) is not kept in a static page; this is a "
                "plotly snapshot of what it showed.</div>")
        return (f'<div class="zifviz-static-viewer">{_figure_html(structure_figure(widget))}'
                f"{widget.legend.value}{note}</div>")
    if isinstance(widget, go.FigureWidget):
        return _figure_html(go.Figure(widget))
    layout = getattr(widget, "layout", None)
    if layout is not None and getattr(layout, "display", None) == "none":
        return ""
    if isinstance(widget, widgets.Box):
        direction = "row" if isinstance(widget, widgets.HBox) else "column"
        inner = "".join(_widget_html(child) for child in widget.children)
        return (f'<div style="display:flex;flex-direction:{direction};flex-wrap:wrap;'
                f'gap:6px">{inner}</div>')
    if isinstance(widget, (widgets.HTML, widgets.HTMLMath)):
        return f"<div>{widget.value}</div>"
    if isinstance(widget, (widgets.Label, widgets.Text, widgets.Textarea)):
        return f"<div>{html.escape(str(widget.value))}</div>"
    if isinstance(widget, widgets.ValueWidget) and hasattr(widget, "value"):
        label = html.escape(str(getattr(widget, "description", "") or ""))
        value = getattr(widget, "label", None) or widget.value
        return (f'<div class="zifviz-static-control" style="font-size:12px">'
                f"{label + ': ' if label else ''}<b>{html.escape(str(value))}</b></div>")
    if isinstance(widget, widgets.Widget) and type(widget).__name__ == "NGLWidget":
        return ('<div class="zifviz-static-note">(nglview 3D view: not kept in a static '
                "page)</div>")
    return (f'<div class="zifviz-static-note">({html.escape(type(widget).__name__)}: '
            "not shown in a static page)</div>")


def static_html_of(model_ids, out) -> None:
    """Kernel side of :func:`export_html`: write ``{model_id: static HTML}`` of the live
    widgets with these ids to the JSON file ``out``."""
    from ipywidgets import Widget
    from ipywidgets.widgets.widget import _instances

    live = getattr(Widget, "_active_widgets", None) or _instances
    result = {}
    for model_id in model_ids:
        widget = live.get(model_id)
        if widget is None:
            result[model_id] = None
            continue
        try:
            result[model_id] = _widget_html(widget)
        except Exception as exc:  # one view that cannot be drawn must not lose the page
            result[model_id] = (f'<div class="zifviz-static-note">({type(widget).__name__}: '
                                f"no static view: {html.escape(str(exc))})</div>")
    with atomic_write(out) as fh:
        json.dump(result, fh)


# ----------------------------------------------------------------------------- page
def _widget_ids(nb) -> list[str]:
    ids = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if WIDGET_VIEW in data:
                ids.append(data[WIDGET_VIEW]["model_id"])
    return ids


def _execute(nb, folder: Path, timeout: int, kernel_name: str | None) -> dict:
    """Run every cell, then convert the displayed widgets in the same kernel."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    kwargs = {"timeout": timeout, "resources": {"metadata": {"path": str(folder)}}}
    if kernel_name:
        kwargs["kernel_name"] = kernel_name
    client = NotebookClient(nb, **kwargs)
    fd, views = tempfile.mkstemp(suffix=".json", prefix="zifviz-views-")
    os.close(fd)
    try:
        with client.setup_kernel():
            for index, cell in enumerate(nb.cells):
                try:
                    client.execute_cell(cell, index)
                except CellExecutionError as exc:
                    raise ZifvizError(f"cell {index} failed while exporting: "
                                      f"{str(exc).splitlines()[-1] if str(exc) else exc}"
                                      ) from None
            probe = nbformat.v4.new_code_cell(
                f"import zifviz.export as _zx\n_zx.static_html_of({_widget_ids(nb)!r}, "
                f"{views!r})")
            nb.cells.append(probe)
            try:
                client.execute_cell(probe, len(nb.cells) - 1)
            finally:
                nb.cells.pop()
        with open(views, encoding="utf-8") as fh:
            return json.load(fh)
    finally:
        Path(views).unlink(missing_ok=True)


def _plotly_output_html(data: dict) -> str:
    import plotly.io as pio

    return _figure_html(pio.from_json(json.dumps(data[PLOTLY_MIME]), skip_invalid=True))


def export_html(notebook, out, *, execute: bool = True, timeout: int = 1200,
                kernel_name: str | None = None) -> Path:
    """Write ``notebook`` as one static HTML page (offline) that still shows its plots.

    Parameters
    ----------
    notebook:
        Path of an ``.ipynb``.
    out:
        HTML file to write (atomically).
    execute:
        Run the notebook first (in its folder), so that its widgets can be converted (see the
        module docstring). ``False`` takes the saved outputs: plain plotly figures are kept,
        widget views (which need a kernel) become a note saying so.
    timeout:
        Seconds allowed per cell.
    kernel_name:
        Jupyter kernel to run it with (default: the notebook's).

    Returns
    -------
    The path written. What survives: every plotly figure and explorer map (plotly.js is
    included once); 3D viewers as plotly snapshots, not nglview (module docstring).
    """
    import nbformat
    import plotly.offline
    from nbconvert import HTMLExporter

    path = Path(notebook)
    if not path.is_file():
        raise ZifvizError("no such notebook", str(path))
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:  # nbformat raises several kinds for a file that is not one
        raise ZifvizError(f"not a Jupyter notebook ({exc})", str(path)) from None
    views = _execute(nb, path.parent.resolve(), timeout, kernel_name) if execute else {}

    n_plots = 0
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data")
            if not data:
                continue
            if WIDGET_VIEW in data:
                view = views.get(data[WIDGET_VIEW]["model_id"])
                if view is None:
                    view = ('<div class="zifviz-static-note">(an interactive widget: run the '
                            "notebook to see it)</div>")
                output["data"] = {"text/html": view}
                n_plots += view.count("Plotly.newPlot")
            elif PLOTLY_MIME in data:
                output["data"] = {"text/html": _plotly_output_html(data)}
                n_plots += 1
    nb.metadata.pop("widgets", None)  # no widget manager, no "loading widget" placeholders
    exporter = HTMLExporter()
    body, _ = exporter.from_notebook_node(nb)
    # offline and self-contained: no require.js (it would capture plotly.js as an AMD module)
    # and no MathJax from a CDN (the notebooks write their symbols in Unicode)
    body = body.replace(f'<script src="{exporter.require_js_url}"></script>', "", 1)
    start, end = body.find("<!-- Load mathjax -->"), body.find("<!-- End of mathjax configuration -->")
    if 0 <= start < end:
        body = body[:start] + body[end + len("<!-- End of mathjax configuration -->"):]
    if n_plots:  # plotly.js once, in the head
        script = f'<script type="text/javascript">{plotly.offline.get_plotlyjs()}</script>\n'
        body = body.replace("</head>", script + "</head>", 1)
    out = Path(out)
    with atomic_write(out) as fh:
        fh.write(body)
    return out
