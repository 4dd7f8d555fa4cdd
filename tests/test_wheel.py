"""A built wheel carries the demo data, and load_demo works from a non-editable install of it."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import textwrap
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "zifviz", "data")
SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", ".ipynb_checkpoints")

pytestmark = pytest.mark.slow


def _run(cmd, **kwargs):
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kwargs)
    assert proc.returncode == 0, f"{cmd} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def sdist(tmp_path_factory) -> Path:
    """The source distribution built from a copy of the source tree (as ``python -m build``
    does first; the checkout's build/ stays untouched)."""
    tmp = tmp_path_factory.mktemp("sdist")
    src = tmp / "src"
    src.mkdir()
    for name in SOURCES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=SKIP)
        else:
            shutil.copy2(path, src / name)
    _run([sys.executable, "-c", "import sys; from setuptools import build_meta; "
          "build_meta.build_sdist(sys.argv[1])", str(tmp / "dist")], cwd=src)
    (built,) = (tmp / "dist").glob("zifviz-*.tar.gz")
    return built


@pytest.fixture(scope="module")
def wheel(sdist, tmp_path_factory) -> Path:
    """The wheel built from the unpacked source distribution."""
    tmp = tmp_path_factory.mktemp("wheel")
    with tarfile.open(sdist) as tf:
        tf.extractall(tmp, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
    (src,) = tmp.glob("zifviz-*")
    _run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation",
          "--no-cache-dir", "-q", "-w", str(tmp / "dist")])
    (built,) = (tmp / "dist").glob("zifviz-*.whl")
    return built


def test_sdist_has_the_demo_data_and_the_build_step(sdist):
    with tarfile.open(sdist) as tf:
        names = {n.split("/", 1)[1] for n in tf.getnames() if "/" in n}
    manifest = json.loads((REPO / "data/MANIFEST.json").read_text())
    assert {f"data/{e['file']}" for e in manifest.values()} <= names
    assert {"data/MANIFEST.json", "data/README.md", "setup.py", "pyproject.toml"} <= names
    grids = {f"data/seed000_grids/{p.name}" for p in (REPO / "data/seed000_grids").iterdir()}
    assert grids and grids <= names


def test_wheel_has_the_package_and_the_demo_data(wheel):
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        manifest = json.loads(zf.read("zifviz/data/MANIFEST.json"))
        assert manifest == json.loads((REPO / "data/MANIFEST.json").read_text())
        for entry in manifest.values():
            data = zf.read(f"zifviz/data/{entry['file']}")
            assert len(data) == entry["bytes"]
            assert hashlib.sha256(data).hexdigest() == entry["sha256"]
    assert "zifviz/data/README.md" in names
    for path in (REPO / "data/seed000_grids").iterdir():  # the paper's own grid tables
        assert f"zifviz/data/seed000_grids/{path.name}" in names
    # every module and every non-Python asset of the package (widget scripts, ...) is inside
    for path in (REPO / "zifviz").rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            rel = path.relative_to(REPO).as_posix()
            assert rel in names, f"{rel} is missing from the wheel"
    assert not any(n.startswith(("data/", "tests/", "notebooks/")) for n in names)


def test_load_demo_from_an_installed_wheel(wheel, tmp_path):
    site = tmp_path / "site"
    _run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-cache-dir", "-q",
          "--target", str(site), str(wheel)])
    script = textwrap.dedent("""
        import json, sys
        import zifviz
        from zifviz import datasets
        ds = datasets.load_demo("phases")
        liquid = ds.query("phase == 'liquid'")
        atoms = liquid[0]
        table = zifviz.environment_table(liquid[:2])
        print(json.dumps({"module": zifviz.__file__, "demo_dir": str(datasets.demo_dir()),
                          "checkout": datasets.checkout_root() is None, "frames": len(ds),
                          "liquid": len(liquid), "phase": atoms.info["phase"],
                          "energies": float(atoms.arrays["energies"].sum()),
                          "energy": atoms.info["energy"], "rows": len(table)}))
    """)
    env = {k: v for k, v in os.environ.items() if k != "ZIFVIZ_DEMO_DIR"}
    env["PYTHONPATH"] = str(site)
    env["ZIFVIZ_CACHE_DIR"] = str(tmp_path / "frame-cache")  # not the user's cache
    out = json.loads(_run([sys.executable, "-c", script], cwd=tmp_path, env=env).stdout)
    assert Path(out["module"]).is_relative_to(site)
    assert Path(out["demo_dir"]) == site / "zifviz" / "data"
    assert out["checkout"] is True  # an installed copy is not mistaken for a checkout
    from zifviz.datasets import DemoSet

    checkout = DemoSet.open(REPO / "data" / "phases.extxyz.gz").frames_info  # what was packed
    assert out["frames"] == len(checkout) and out["phase"] == "liquid"
    assert out["liquid"] == (checkout["phase"] == "liquid").sum() > 0
    assert out["energies"] == pytest.approx(out["energy"], abs=1e-5)
    assert out["rows"] == 32
    # build-demo from the installed copy wants --out and never writes into the package
    proc = subprocess.run([sys.executable, "-m", "zifviz.build_demo", "--only", "phases"],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert proc.returncode != 0 and "--out" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "zifviz.build_demo", "--only", "phases",
                           "--out", str(site / "zifviz" / "data")],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert proc.returncode != 0 and "inside installed packages" in proc.stderr
    manifest = json.loads((REPO / "data/MANIFEST.json").read_text())
    shipped = site / "zifviz" / "data"
    assert sorted(p.relative_to(shipped).as_posix() for p in shipped.rglob("*")
                  if p.is_file() and p.parent.name != "seed000_grids") == sorted(
        [e["file"] for e in manifest.values()] + ["MANIFEST.json", "README.md"])
    assert any((shipped / "seed000_grids").iterdir())
