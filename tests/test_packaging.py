"""pyproject.toml and environment.yml must list the same dependencies with the same bounds."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
# conda-forge names that differ from PyPI names
CONDA_TO_PYPI = {"opentsne": "opentsne"}


def _split(req: str) -> tuple[str, str]:
    m = re.match(r"^\s*([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*(.*)$", req)
    name = m.group(1).lower().replace("_", "-")
    return CONDA_TO_PYPI.get(name, name), m.group(3).replace(" ", "")


def test_environment_matches_pyproject():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = dict(_split(r) for r in project["dependencies"] + project["optional-dependencies"]["test"])
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    listed = {}
    for dep in env["dependencies"]:
        items = dep["pip"] if isinstance(dep, dict) else [dep]
        for item in items:
            name, spec = _split(item)
            if name not in {"python", "pip"}:
                listed[name] = spec
    assert listed == wanted


def test_readme_opens_with_two_commands_and_ci_calls_the_test_one():
    readme = (REPO / "README.md").read_text()
    blocks = re.findall(r"```(?:bash|sh)?\n(.*?)```", readme, flags=re.S)
    commands = [ln for ln in blocks[0].splitlines() if ln.strip() and not ln.startswith("#")]
    assert len(commands) == 2, commands
    test_cmd = next(c for c in commands if " test" in c).split("#")[0].strip()
    assert test_cmd in (REPO / ".ci/run").read_text()


def test_source_distribution_lists_the_demo_data():
    """MANIFEST.in puts every shipped demo file into the sdist (a wheel built from it copies
    them into zifviz/data/; tests/test_wheel.py builds one)."""
    import json

    included = set()
    for line in (REPO / "MANIFEST.in").read_text().splitlines():
        words = line.split()
        if words[:1] == ["include"]:
            included.update(words[1:])
    manifest = json.loads((REPO / "data/MANIFEST.json").read_text())
    wanted = {f"data/{e['file']}" for e in manifest.values()} | {"data/MANIFEST.json",
                                                                  "data/README.md"}
    assert wanted <= included
    assert all((REPO / name).is_file() for name in wanted)
