"""The ``zifviz`` command line: ``label`` and ``sample``, and one-line errors with exit status 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import zifviz
from zifviz.cli import main
from zifviz.datasets import fetch_structure

ZIF4 = fetch_structure("structures/widmer2019/ZIF4-FixedCell.cif")  # mirror or address


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


@pytest.fixture(scope="module")
def four_frames(tmp_path_factory):
    """A 4-frame extxyz trajectory of ZIF-4 (0.02 Å of noise per frame)."""
    import ase.io

    atoms = zifviz.read(ZIF4)
    rng = np.random.default_rng(1)
    frames = []
    for _ in range(4):
        f = atoms.copy()
        f.info = {}
        f.positions += rng.normal(0.0, 0.02, f.positions.shape)
        frames.append(f)
    path = tmp_path_factory.mktemp("traj") / "four.extxyz"
    ase.io.write(path, frames, format="extxyz")
    return path


def test_label_interrupted_keeps_frames_and_resumes(four_frames, tmp_path, capsys, monkeypatch):
    import zifviz.io

    out = tmp_path / "labelled.extxyz"
    partial = out.with_name("labelled.partial.extxyz")
    real_iread = zifviz.io.iread

    def interrupted(*args, **kwargs):  # Ctrl-C while the third frame is read
        for k, atoms in enumerate(real_iread(*args, **kwargs)):
            if k == 2:
                raise KeyboardInterrupt
            yield atoms

    monkeypatch.setattr(zifviz.io, "iread", interrupted)
    assert main(["label", str(four_frames), "-o", str(out), "-q"]) == 130
    err = capsys.readouterr().err
    assert "2 labelled frames kept" in err and str(partial) in err and "--resume" in err
    assert not out.exists() and len(list(zifviz.iread(partial))) == 2  # nothing deleted
    monkeypatch.setattr(zifviz.io, "iread", real_iread)

    # without --resume or --force the unfinished run is not touched
    assert main(["label", str(four_frames), "-o", str(out), "-q"]) == 2
    err = capsys.readouterr().err
    assert str(partial) in err and "--resume" in err and len(list(zifviz.iread(partial))) == 2

    assert main(["label", str(four_frames), "-o", str(out), "-q", "--resume"]) == 0
    captured = capsys.readouterr()
    assert "2 new, 2 resumed" in captured.err
    assert [line.split()[0] for line in captured.out.splitlines()[1:]] == ["2", "3"]
    resumed = list(zifviz.iread(out))
    assert len(resumed) == 4 and not partial.exists()
    assert [f.info["frame"] for f in resumed] == [0, 1, 2, 3]

    # the same as an uninterrupted run
    fresh = tmp_path / "fresh.extxyz"
    assert main(["label", str(four_frames), "-o", str(fresh), "-q"]) == 0
    for a, b in zip(resumed, zifviz.iread(fresh)):
        assert a.info["energy"] == pytest.approx(b.info["energy"], rel=1e-10)
        assert np.allclose(a.arrays["energies"], b.arrays["energies"], atol=1e-7)


def test_label_error_keeps_finished_frames(four_frames, tmp_path, capsys, monkeypatch):
    import zifviz.io

    out = tmp_path / "labelled.extxyz"
    real_iread = zifviz.io.iread

    def broken(*args, **kwargs):  # the third frame is not a ZIF
        from ase.build import bulk

        for k, atoms in enumerate(real_iread(*args, **kwargs)):
            yield bulk("Cu", cubic=True) if k == 2 else atoms

    monkeypatch.setattr(zifviz.io, "iread", broken)
    assert main(["label", str(four_frames), "-o", str(out), "-q"]) == 2
    err = capsys.readouterr().err
    assert "no Zn" in err and "2 labelled frames kept" in err
    assert len(list(zifviz.iread(out.with_name("labelled.partial.extxyz")))) == 2


def test_label_refuses_to_overwrite_without_force(four_frames, tmp_path, capsys):
    out = tmp_path / "labelled.extxyz"
    out.write_text("precious\n")
    assert main(["label", str(four_frames), "-o", str(out), "-q"]) == 2
    err = capsys.readouterr().err
    assert str(out) in err and "--force" in err and out.read_text() == "precious\n"
    assert main(["label", str(four_frames), "-o", str(out), "-q", "--force"]) == 0
    assert len(list(zifviz.iread(out))) == 4
    # resuming a finished run with other settings is refused, naming them
    assert main(["label", str(four_frames), "-o", str(out), "-q", "--resume",
                 "--type-map", "1=C"]) == 2
    err = capsys.readouterr().err
    assert "type_map" in err and len(list(zifviz.iread(out))) == 4


def _write_dump(path: Path, atoms, types: dict[str, int]) -> None:
    """A LAMMPS text dump (orthogonal box, columns id type x y z) written by hand."""
    a, b, c = (float(x) for x in atoms.cell.lengths())
    assert np.allclose(atoms.cell.angles(), 90)
    lines = ["ITEM: TIMESTEP", "0", "ITEM: NUMBER OF ATOMS", str(len(atoms)),
             "ITEM: BOX BOUNDS pp pp pp", f"0.0 {a!r}", f"0.0 {b!r}", f"0.0 {c!r}",
             "ITEM: ATOMS id type x y z"]
    for k, (symbol, (x, y, z)) in enumerate(zip(atoms.get_chemical_symbols(),
                                                atoms.positions.tolist()), 1):
        lines.append(f"{k} {types[symbol]} {x!r} {y!r} {z!r}")
    path.write_text("\n".join(lines) + "\n")


def test_label_dump_with_type_map(tmp_path, capsys):
    atoms = zifviz.read(ZIF4)
    dump = tmp_path / "zif4.dump"
    _write_dump(dump, atoms, {"C": 1, "H": 2, "N": 5, "Zn": 6})
    assert main(["label", str(dump), "-q"]) == 2  # no elements in the dump
    err = capsys.readouterr().err
    assert str(dump) in err and "type_map" in err
    assert main(["label", str(dump), "-q", "--type-map", "1=C,2=H,3=C,4=H,5=N,6=Zn"]) == 0
    fields = capsys.readouterr().out.splitlines()[1].split()
    assert fields[:3] == ["0", "272", "16"]
    from zifviz.mofff import label

    assert float(fields[3]) == pytest.approx(label(atoms).info["energy"], abs=1e-5)


@pytest.mark.parametrize("bad", ["1C", "x=C", "1=Qq", ""])
def test_bad_type_map_exits_2(bad, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["label", "whatever.dump", "--type-map", bad])
    assert exit_info.value.code == 2
    assert "type-map" in capsys.readouterr().err


def test_label_killed_by_sigint_resumes(tmp_path):
    """A real Ctrl-C (SIGINT to the process) exits 130 keeping the finished frames; --resume
    completes the file."""
    import signal
    import time

    import ase.io

    N = 60
    atoms = zifviz.read(ZIF4)
    atoms.info = {}
    rng = np.random.default_rng(2)
    frames = []
    for _ in range(N):
        f = atoms.copy()
        f.positions += rng.normal(0.0, 0.01, f.positions.shape)
        frames.append(f)
    traj = tmp_path / "long.extxyz"
    ase.io.write(traj, frames, format="extxyz")
    out = tmp_path / "out.extxyz"
    partial = out.with_name("out.partial.extxyz")
    cmd = [sys.executable, "-m", "zifviz.cli", "label", str(traj), "-o", str(out), "-q"]
    # a shell that starts a job in the background (nohup ... &, as CI may) leaves SIGINT
    # ignored, and the child would inherit that: give it the default, as a terminal does
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if partial.exists() and partial.read_text().count("Lattice=") >= 2:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "kept in" in err and "Traceback" not in err
    kept = len(list(zifviz.iread(partial)))
    assert 2 <= kept < N and not out.exists()
    done = subprocess.run(cmd + ["--resume"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert f"{N - kept} new, {kept} resumed" in done.stderr
    assert [f.info["frame"] for f in zifviz.iread(out)] == list(range(N))


@pytest.mark.parametrize("argv", [["--resume"], ["--force"], ["-o", "x.extxyz", "--resume",
                                                             "--force"]])
def test_label_option_conflicts_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["label", "whatever.extxyz", *argv])
    assert exit_info.value.code == 2
    assert "--resume" in capsys.readouterr().err


def test_label_kspace_pppm_is_a_stored_setting(four_frames, tmp_path, capsys):
    out = tmp_path / "pppm.extxyz"
    assert main(["label", str(four_frames), "-o", str(out), "-q", "--kspace", "pppm"]) == 0
    pppm = [f.info["energy"] for f in zifviz.iread(out)]
    assert main(["label", str(four_frames), "-q"]) == 0
    ewald = [float(line.split()[3]) for line in capsys.readouterr().out.splitlines()[1:]
             if line.split()[0].isdigit()]
    assert pppm == pytest.approx(ewald[-4:], rel=5e-5)
    assert main(["label", str(four_frames), "-o", str(out), "-q", "--resume"]) == 2
    assert "kspace" in capsys.readouterr().err


def test_sample_interrupted_keeps_frames(tmp_path, capsys, monkeypatch):
    from zifviz import sampling

    out = tmp_path / "nvt.extxyz"
    real = sampling.iter_md

    def interrupted(*args, **kwargs):  # Ctrl-C after the second frame
        for k, frame in enumerate(real(*args, **kwargs)):
            if k == 2:
                raise KeyboardInterrupt
            yield frame

    monkeypatch.setattr(sampling, "iter_md", interrupted)
    argv = ["sample", str(ZIF4), "--mode", "nvt", "--steps", "30", "--every", "10", "-o",
            str(out), "-q"]
    assert main(argv) == 130
    err = capsys.readouterr().err
    partial = tmp_path / "nvt.partial.extxyz"
    assert str(partial) in err and "--resume" in err
    assert [f.info["step"] for f in zifviz.iread(partial)] == [0, 10, 20]
    monkeypatch.setattr(sampling, "iter_md", real)
    assert main(argv + ["--resume"]) == 0
    assert [f.info["step"] for f in zifviz.iread(out)] == [0, 10, 20, 30]
