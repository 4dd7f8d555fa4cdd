"""zifviz.export.export_html: a notebook as one static, offline HTML page with its plots.

(The tour exported and opened in Chromium: tests/browser/test_tour_in_lab.py.)
"""

from __future__ import annotations

import json
import re

import nbformat
import plotly
import pytest

from zifviz.errors import ZifvizError
from zifviz.export import PLOTLY_MIME, WIDGET_VIEW, export_html

CELLS = [
    "import pandas as pd, plotly.graph_objects as go\n"
    "from zifviz.datasets import load_demo\n"
    "from zifviz.widgets import GridExplorer, StructureViewer",
    "go.Figure(go.Bar(x=['a', 'b'], y=[1, 2]))",
    "r = pd.DataFrame({'level': ['A'] * 4, 'r_cut': [4., 4., 6., 6.], 'sigma': [.3, .6, .3, .6],\n"
    "                  'test_rmse': [.05, .06, .07, .08]})\n"
    "GridExplorer(r, color_range=None)",
    "v = StructureViewer(load_demo('phases')[:2], level='AB2', color_by='bead')\n"
    "v.highlight(zn=[0])\nv",
    "print('done')",
]


def _notebook(path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# a small notebook")]
                                  + [nbformat.v4.new_code_cell(c) for c in CELLS])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, path)
    return path


def _figures(page: str) -> list[dict]:
    """The figures the page draws: the data argument of each Plotly.newPlot call."""
    calls = re.findall(r'Plotly\.newPlot\(\s*"[^"]+",\s*(\[.*?\]),\s*\{', page, flags=re.S)
    return [json.loads(c) for c in calls]


def test_export_executes_and_keeps_every_plot(tmp_path):
    out = export_html(_notebook(tmp_path / "small.ipynb"), tmp_path / "small.html")
    page = out.read_text(encoding="utf-8")
    figures = _figures(page)
    types = [{t.get("type") for t in fig} for fig in figures]
    assert {"bar"} in types                       # a plain plotly figure
    assert any("contour" in t for t in types)     # the grid explorer's FigureWidget
    assert any("scatter3d" in t for t in types)   # the 3D viewer's snapshot
    assert len(figures) == 3
    # plotly.js once, inline (offline); no widget manager, no placeholders, no CDN scripts
    assert page.count(f"plotly.js v{plotly.__version__.split('.')[0]}") <= 2
    assert page.count(plotly.offline.get_plotlyjs()[:200]) == 1
    assert WIDGET_VIEW not in page and PLOTLY_MIME not in page
    for placeholder in ("Loading widget", "Error displaying widget", "widget-state+json"):
        assert placeholder not in page
    assert "require.min.js" not in page and "mathjax/2.7.7" not in page
    assert "not kept in a static page" in page   # says plainly what did not survive
    assert "done" in page                         # ordinary outputs kept
    assert "Grid" in page or "r_cut" in page


def test_export_without_executing(tmp_path):
    path = _notebook(tmp_path / "small.ipynb")
    out = export_html(path, tmp_path / "plain.html", execute=False)
    page = out.read_text(encoding="utf-8")
    assert "Plotly.newPlot" not in page           # no outputs saved: nothing to draw
    assert "a small notebook" in page


def test_export_errors(tmp_path):
    with pytest.raises(ZifvizError, match="no such notebook"):
        export_html(tmp_path / "missing.ipynb", tmp_path / "x.html")
    bad = tmp_path / "bad.ipynb"
    bad.write_text("not json")
    with pytest.raises(ZifvizError, match="not a Jupyter notebook"):
        export_html(bad, tmp_path / "x.html")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 / 0")])
    nbformat.write(nb, tmp_path / "fails.ipynb")
    with pytest.raises(ZifvizError, match="cell 0 failed.*ZeroDivisionError"):
        export_html(tmp_path / "fails.ipynb", tmp_path / "x.html")
    assert not (tmp_path / "x.html").exists()


def test_export_html_command(tmp_path, capsys):
    from zifviz.cli import main

    path = _notebook(tmp_path / "small.ipynb")
    assert main(["export-html", str(path), str(tmp_path / "cli.html"), "--no-execute"]) == 0
    assert "a small notebook" in (tmp_path / "cli.html").read_text(encoding="utf-8")
    assert "wrote" in capsys.readouterr().err
    assert main(["export-html", str(tmp_path / "missing.ipynb"), str(tmp_path / "y.html")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("zifviz export-html: error:") and "missing.ipynb" in err
    assert not (tmp_path / "y.html").exists()
