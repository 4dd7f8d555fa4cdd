"""nglview's Python side and its JupyterLab front end must agree on the widget version.

nglview 4.0.1 asks for front-end module 4.0 but ships the 3.1.5 lab extension, so its views
never render in JupyterLab ("Module nglview-js-widgets, version 4.0 is not registered");
see DESIGN.md. We pin nglview 3.1.4; this test fails as soon as the pair stops matching.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LABEXTENSION = Path(sys.prefix) / "share" / "jupyter" / "labextensions" / "nglview-js-widgets"


def _parse(version: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", version)[:3])


def satisfies(installed: str, requested: str) -> bool:
    """Does the front end ``installed`` (x.y.z) satisfy the module version the widget
    requests? Like the widget manager's semver ranges: '^x.y.z', '~x.y.z', 'x.y' (any x.y.*),
    'x.y.z' (exactly)."""
    req = requested.strip()
    have = _parse(installed)
    if req in ("*", ""):
        return True
    if req.startswith("^"):
        want = _parse(req[1:])
        return have[0] == want[0] and have >= want if want[0] > 0 else have[:2] == want[:2] and have >= want
    if req.startswith("~"):
        want = _parse(req[1:])
        return have[:2] == want[:2] and have >= want
    want = _parse(req)
    return have[:len(want)] == want


@pytest.mark.parametrize("installed, requested, ok", [
    ("3.1.4", "3.1.4", True), ("3.1.5", "4.0", False), ("3.1.5", "3.1", True),
    ("3.1.5", "^3.1.0", True), ("4.0.0", "^3.1.0", False), ("3.1.5", "~3.1.4", True),
    ("3.2.0", "~3.1.4", False), ("3.1.3", "3.1.4", False),
])
def test_satisfies(installed, requested, ok):
    assert satisfies(installed, requested) is ok


def test_nglview_python_and_labextension_versions_match():
    import nglview

    traits = nglview.NGLWidget.class_traits()
    requested = {traits[name].default_value for name in ("_view_module_version",
                                                         "_model_module_version")}
    package_json = LABEXTENSION / "package.json"
    assert package_json.is_file(), (
        f"nglview's lab extension is not installed at {LABEXTENSION}: its widgets cannot "
        "render in JupyterLab")
    front = json.loads(package_json.read_text())
    assert front["name"] == "nglview-js-widgets"
    for version in requested:
        assert satisfies(front["version"], version), (
            f"nglview {nglview.__version__} asks for front-end module nglview-js-widgets "
            f"{version}, but the installed lab extension is {front['version']}: the 3D views "
            "would not render in JupyterLab. Keep nglview pinned to a version whose Python "
            "and front-end versions match (3.1.4).")


def test_installed_nglview_is_the_pinned_one():
    import nglview

    pyproject = REPO / "pyproject.toml"
    if not pyproject.is_file():
        pytest.skip("no pyproject.toml (installed package)")
    pins = re.findall(r'"nglview\s*==\s*([^"\s;]+)"', pyproject.read_text())
    assert pins, "pyproject.toml must pin nglview with == (see DESIGN.md)"
    assert nglview.__version__ == pins[0], (
        f"installed nglview {nglview.__version__} is not the pinned {pins[0]}")
