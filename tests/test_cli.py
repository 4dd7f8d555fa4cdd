"""The ``zifviz`` command line: ``label`` and ``sample``, and one-line errors with exit status 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import zifviz
from zifviz.cli import main

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
ZIF4 = DATA / "structures" / "widmer2019" / "ZIF4-FixedCell.cif"

needs_data = pytest.mark.skipif(not ZIF4.is_file(), reason=f"reference data not found at {DATA}")


@needs_data
def test_label_prints_summary_and_writes(tmp_path, capsys):
    out = tmp_path / "labelled.extxyz"
    assert main(["label", str(ZIF4), "-o", str(out), "-q"]) == 0
    stdout = capsys.readouterr().out.splitlines()
    assert "E_total/eV" in stdout[0] and "eps_local" in stdout[0]
    fields = stdout[1].split()
    assert fields[:3] == ["0", "272", "16"]
    labelled = zifviz.read(out)
    assert float(fields[3]) == pytest.approx(labelled.info["energy"], abs=1e-6)
    assert float(fields[5]) == pytest.approx(labelled.info["energy"] / 16, abs=1e-6)  # mean ε_local
    assert labelled.arrays["energies"].shape == (272,)


@needs_data
def test_label_every_frame_of_a_trajectory(tmp_path, capsys):
    traj = tmp_path / "traj.extxyz"
    assert main(["sample", str(ZIF4), "--mode", "nvt", "--steps", "10", "--every", "10",
                 "-o", str(traj), "-q"]) == 0
    capsys.readouterr()
    assert main(["label", str(traj), "-q"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3  # header + 2 frames
    stored = [f.info["energy"] for f in zifviz.iread(traj)]
    assert [float(line.split()[3]) for line in lines[1:]] == pytest.approx(stored, abs=1e-5)


@needs_data
@pytest.mark.parametrize("mode, extra, n_frames, ensemble", [
    ("nvt", ["--steps", "20", "--every", "10"], 3, "NVT"),
    ("npt", ["--steps", "10", "--every", "10", "--pressure", "100"], 2, "NPT"),
    ("ramp", ["--steps", "10", "--every", "5", "--pressure-end", "50"], 3, "ramp"),
    ("minimise", ["--steps", "10", "--relax-cell"], 1, "minimise-relaxed"),
    ("rattle", ["--n", "2", "--seed", "3"], 2, "rattle"),
])
def test_sample_modes(tmp_path, capsys, mode, extra, n_frames, ensemble):
    out = tmp_path / f"{mode}.extxyz"
    assert main(["sample", str(ZIF4), "--mode", mode, "-o", str(out), "-q", *extra]) == 0
    assert "wrote" in capsys.readouterr().err
    frames = list(zifviz.iread(out))
    assert len(frames) == n_frames
    for f in frames:
        assert f.info["ensemble"] == ensemble and f.info["forcefield"] == "MOF-FF"
        assert np.isfinite(f.arrays["energies"]).all()
    if mode == "ramp":
        assert [f.info["pressure"] for f in frames] == pytest.approx([0, 25, 50])


@needs_data
def test_sample_refuses_to_clobber(tmp_path, capsys):
    out = tmp_path / "nvt.extxyz"
    args = ["sample", str(ZIF4), "--mode", "nvt", "--steps", "10", "--every", "10", "-o", str(out), "-q"]
    assert main(args) == 0
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert str(out) in err and "--overwrite" in err and len(err.strip().splitlines()) == 1
    assert main(args + ["--overwrite"]) == 0
    assert main(args[:5] + ["20"] + args[6:] + ["--resume"]) == 0  # extend to 20 steps
    assert [f.info["step"] for f in zifviz.iread(out)] == [0, 10, 20]


@needs_data
def test_ramp_needs_end_pressure(tmp_path, capsys):
    assert main(["sample", str(ZIF4), "--mode", "ramp", "-o", str(tmp_path / "r.extxyz")]) == 2
    assert "--pressure-end" in capsys.readouterr().err


@pytest.mark.parametrize("content", [None, "", "this is not a structure file\n"])
def test_bad_file_exits_2_naming_the_file(tmp_path, capsys, content):
    bad = tmp_path / "bad.cif"
    if content is not None:
        bad.write_text(content)
    for argv in (["label", str(bad)], ["sample", str(bad), "--mode", "nvt", "-o",
                                       str(tmp_path / "o.extxyz")]):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and str(bad) in err and "Traceback" not in err
    assert not (tmp_path / "o.extxyz").exists()


def test_not_a_zif_exits_2(tmp_path, capsys):
    from ase.build import bulk

    path = tmp_path / "cu.extxyz"
    bulk("Cu", cubic=True).write(path)
    assert main(["label", str(path), "-q"]) == 2
    err = capsys.readouterr().err
    assert "Zn" in err and str(path) in err


def test_console_script_entry_point(tmp_path):
    """``python -m zifviz.cli`` (what the ``zifviz`` script calls) exits 2 without a traceback."""
    missing = tmp_path / "missing.cif"
    run = subprocess.run([sys.executable, "-m", "zifviz.cli", "label", str(missing)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    assert "Traceback" not in run.stderr and "does not exist" in run.stderr
    assert str(missing) in run.stderr
    helped = subprocess.run([sys.executable, "-m", "zifviz.cli", "sample", "--help"],
                            capture_output=True, text=True, timeout=120)
    assert helped.returncode == 0 and "--mode" in helped.stdout
