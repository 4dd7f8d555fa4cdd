"""Build hook of zifviz (everything else is in pyproject.toml).

The demo datasets live in the repository's top-level ``data/``. A wheel, and so a
non-editable ``pip install .``, gets a copy of them in ``zifviz/data/`` (the files listed in
``data/MANIFEST.json``, the manifest, the README and ``seed000_grids/``), where
:func:`zifviz.datasets.demo_dir` finds them. An editable install reads ``data/`` in place.
"""

import json
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


def demo_files() -> list[Path]:
    """The shipped demo files: those named in data/MANIFEST.json, the manifest, the README."""
    data = ROOT / "data"
    manifest = data / "MANIFEST.json"
    names = [entry["file"] for entry in json.loads(manifest.read_text()).values()]
    files = [data / name for name in names] + [manifest, data / "README.md"]
    files += sorted((data / "seed000_grids").glob("*"))  # the paper's own grid tables
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise FileNotFoundError(f"demo data missing from the source tree: {missing}")
    return files


class build_py_with_demo_data(build_py):
    """build_py that also copies the demo data into the built package."""

    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / "zifviz" / "data"
        self.mkpath(str(target))
        for src in demo_files():
            dest = target / src.relative_to(ROOT / "data")
            self.mkpath(str(dest.parent))
            self.copy_file(str(src), str(dest))


setup(cmdclass={"build_py": build_py_with_demo_data})
