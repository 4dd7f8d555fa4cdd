"""Reference-file fetching, the shipped demo datasets, and a smoke run of their recipe."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import zifviz
from zifviz import datasets
from zifviz.errors import DataError, UnderCoordinatedZnWarning


def test_fetch_from_mirror_checks_sha(tmp_path, shared_data, monkeypatch):
    path = datasets.fetch_structure("widmer2019/ZIF4-FixedCell.cif")
    assert path.is_file() and "Widmer" in datasets.citation("ZIF4-FixedCell.cif")
    bad = tmp_path / "structures/widmer2019"
    bad.mkdir(parents=True)
    (bad / "ZIF4-FixedCell.cif").write_text("tampered\n")
    monkeypatch.setenv(datasets.MIRROR_ENV, str(tmp_path))
    with pytest.raises(DataError, match="SHA-256"):
        datasets.fetch_structure("widmer2019/ZIF4-FixedCell.cif")
    with pytest.raises(DataError, match="has no file"):
        datasets.fetch_structure("widmer2019/ZNI-FixedCell.cif")
    with pytest.raises(DataError, match="unknown reference file"):
        datasets.fetch_structure("nothing.cif")


def test_every_listed_reference_file_is_in_the_mirror(shared_data):
    for name in datasets.REFERENCE_FILES:
        assert datasets.fetch_structure(name).is_file()


def _perceive(atoms):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnderCoordinatedZnWarning)
        return zifviz.perceive(atoms)


def test_load_demo_energies():
    frames = datasets.load_demo("energies")
    n_zn = sum(int((f.symbols == "Zn").sum()) for f in frames)
    assert n_zn >= 10_000
    frameworks = {f.info["framework"] for f in frames}
    assert len(frameworks) >= 8
    for key in ("source", "forcefield", "ensemble", "temperature", "pressure", "step"):
        assert key in frames[0].info
    # per-atom energies sum to the total, and ε_local too
    for f in frames[:: max(1, len(frames) // 20)]:
        e = f.arrays["energies"]
        assert e.sum() == pytest.approx(f.info["energy"], abs=1e-5)
        assert zifviz.local_energies(e, _perceive(f)).sum() == pytest.approx(f.info["energy"], abs=1e-5)


def test_load_demo_phases_is_balanced():
    frames = datasets.load_demo("phases")
    counts = {}
    for f in frames:
        key = (f.info["phase"], f.info["source_set"])
        counts[key] = counts.get(key, 0) + int((f.symbols == "Zn").sum())
    phases = {p for p, _ in counts}
    assert phases == {"ZIF-4", "ZIF-4-cp", "ZIF-4-cp-II", "ZIF-zni", "ZIF-hPT-II", "glass", "liquid"}
    assert {s for _, s in counts} == {"NPT", "NVT"}
    values = np.array(list(counts.values()))
    assert values.min() >= 0.9 * values.max()


def test_demo_sha_mismatch_is_reported(tmp_path, monkeypatch):
    (tmp_path / "energies.extxyz.gz").write_bytes(b"junk")
    (tmp_path / "MANIFEST.json").write_text(json.dumps({"energies": {"sha256": "0" * 64}}))
    monkeypatch.setenv(datasets.DEMO_ENV, str(tmp_path))
    with pytest.raises(DataError, match="SHA-256 differs"):
        datasets.load_demo("energies")
    with pytest.raises(DataError, match="zifviz build-demo"):
        datasets.load_demo("phases")


def test_build_recipe_smoke(tmp_path, shared_data):
    """A tiny run of the energies recipe: one public crystal plus one decorated net."""
    from zifviz.build_demo import build_energies

    out = tmp_path / "e.extxyz.gz"
    summary = build_energies(out, size="smoke", names=["ZIF-zni", "qtz"])
    frames = list(zifviz.iread(out, format="extxyz"))
    assert summary["total Zn environments"] == sum(int((f.symbols == "Zn").sum()) for f in frames)
    assert {f.info["framework"] for f in frames} == {"ZIF-zni", "net:qtz"}
    assert {f.info["ensemble"] for f in frames} == {"rattle", "NVT"}
    zni = [f for f in frames if f.info["framework"] == "ZIF-zni"]
    assert zni[0].info["zni_energy_per_zn"] == pytest.approx(
        min(f.info["energy"] for f in zni) / 32, abs=0.2)


@pytest.mark.parametrize("name", ["energies", "phases"])
def test_every_demo_frame_is_a_perceivable_zif(name):
    """MD frames (up to 1500 K) keep their bonds: perception finds every linker in each."""
    frames = datasets.load_demo(name)
    first = _perceive(frames[0])
    for f in frames:
        topo = _perceive(f)
        assert topo.n_linkers == 2 * topo.n_zn
        assert f.info["forcefield"] == "MOF-FF"
    assert first.n_zn > 0
