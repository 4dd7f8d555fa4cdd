"""Sampling through MOF-FF in LAMMPS: minimisation, NVT/NPT MD, pressure ramps, rattling.

Tiny smoke runs on the 272-atom ZIF-4 cell (Widmer et al. 2019, through ``fetch_structure``).
"""

from __future__ import annotations

import dataclasses
import json
import warnings

import ase.io
import numpy as np
import pytest

import zifviz
from zifviz.datasets import fetch_structure
from zifviz.errors import OutputExistsError, ResumeError, ZifvizError
from zifviz.mofff import MOFFF, label
from zifviz.sampling import (ATM_PER_MPA, MDSettings, SamplingError, iter_md, minimise,
                             partial_path, pressure_ramp, rattle, run_md)

ZIF4 = fetch_structure("structures/widmer2019/ZIF4-FixedCell.cif")  # mirror or address
INFO_KEYS = {"source", "forcefield", "ensemble", "temperature", "pressure", "step", "timestep",
             "energy"}

@pytest.fixture(scope="module")
def zif4():
    return zifviz.read(ZIF4)


@pytest.fixture(scope="module")
def topo(zif4):
    return zifviz.perceive(zif4)


@pytest.fixture(scope="module")
def e0(zif4, topo):
    return label(zif4, topo).info["energy"]


@pytest.fixture(scope="module")
def nvt_file(zif4, topo, tmp_path_factory):
    out = tmp_path_factory.mktemp("nvt") / "nvt.extxyz"
    traj = run_md(zif4, "NVT", temperature=300, steps=20, every=10, output=out, topology=topo,
                  progress=False)
    return out, traj


def _check_labelled(frame, ensemble):
    assert INFO_KEYS <= set(frame.info), set(frame.info)
    assert frame.info["forcefield"] == "MOF-FF"
    assert frame.info["ensemble"] == ensemble
    assert frame.info["source"] == ZIF4.name
    e = frame.arrays["energies"]
    assert e.shape == (len(frame),) and np.isfinite(e).all()
    # extxyz stores per-atom values to 1e-8 eV
    assert e.sum() == pytest.approx(frame.info["energy"], rel=1e-12, abs=len(frame) * 1e-8)


def test_pressure_unit():
    assert ATM_PER_MPA == pytest.approx(1e6 / 101325, rel=1e-6)


def test_current_atoms_round_trip(zif4):
    """Cell and positions read back from LAMMPS match the input, even for a rotated skewed cell."""
    other = zif4.copy()
    other.set_cell(np.array([[1, 1, 0], [0, 1, 0], [1, 0, 1]]) @ zif4.cell.array, scale_atoms=False)
    other.wrap()
    other.rotate(37, "x", rotate_cell=True)
    ff = MOFFF()
    try:
        ff.setup(other)
        back = ff.current_atoms(velocities=True)
    finally:
        ff.close()
    assert np.allclose(back.cell.array, other.cell.array, atol=1e-10)
    frac = back.cell.scaled_positions(back.positions) - other.cell.scaled_positions(other.positions)
    assert np.abs(frac - np.round(frac)).max() < 1e-10
    assert np.allclose(back.get_momenta(), 0.0)


def test_minimise_lowers_energy(zif4, topo, e0):
    relaxed = minimise(zif4, fmax=0.05, max_steps=40, topology=topo, progress=False)
    _check_labelled(relaxed, "minimise-fixed")
    assert relaxed.info["energy"] < e0 - 0.5  # the CIF is far from the MOF-FF minimum
    assert 0 < relaxed.info["step"] <= 40
    assert relaxed.info["fmax"] > 0 and isinstance(relaxed.info["converged"], bool)
    assert np.allclose(relaxed.cell.array, zif4.cell.array)
    assert label(relaxed, topo).info["energy"] == pytest.approx(relaxed.info["energy"], rel=1e-9)


def test_minimise_relax_cell_changes_cell(zif4, topo, e0):
    relaxed = minimise(zif4, relax_cell=True, fmax=0.05, max_steps=400, topology=topo,
                       progress=False)
    _check_labelled(relaxed, "minimise-relaxed")
    assert relaxed.info["energy"] < e0
    assert not np.allclose(relaxed.cell.array, zif4.cell.array, atol=1e-6)
    assert relaxed.info["converged"] and abs(relaxed.info["pressure_inst"]) < 10  # MPa


class _Killed(Exception):
    pass


def _kill_after_checkpoint(monkeypatch, when):
    """The minimisation dies right after the first checkpoint for which ``when(cell)``."""
    import zifviz.sampling as sampling

    write = sampling._write_checkpoint

    def write_then_die(path, state, plan, cell, done, seconds, **more):
        write(path, state, plan, cell, done, seconds, **more)
        if when(cell):
            raise _Killed(done)
    monkeypatch.setattr(sampling, "_write_checkpoint", write_then_die)


@pytest.mark.parametrize("relax_cell", [False, True])
def test_minimise_continues_from_its_checkpoint(zif4, topo, e0, tmp_path, monkeypatch,
                                                relax_cell):
    """Killed after a checkpoint (in the cell phase with relax_cell), a second call continues
    from it: the steps done before count, the cell phase is not left again, and the
    checkpoint is gone at the end; other atoms or settings are refused."""
    ckpt = tmp_path / "relaxing.extxyz"
    # tight enough that the chunk (50 steps) that wrote the checkpoint did not converge
    kw = dict(relax_cell=relax_cell, fmax=0.01, max_stress_mpa=1.0, max_steps=200,
              topology=topo, progress=False, checkpoint=ckpt, checkpoint_seconds=1e-9)
    with monkeypatch.context() as m:
        _kill_after_checkpoint(m, lambda cell: cell == relax_cell)
        with pytest.raises(_Killed) as killed:
            minimise(zif4, **kw)
    done_before = killed.value.args[0]
    saved = zifviz.read(ckpt)
    state = json.loads(saved.info["zifviz_minimise"])
    assert state["done"] == done_before > 0 and state["cell"] is relax_cell
    assert not np.allclose(saved.positions, zif4.positions)

    with pytest.raises(ResumeError, match="other settings"):
        minimise(zif4, **{**kw, "fmax": 0.02})
    with pytest.raises(ResumeError, match="other atoms"):
        minimise(zif4[:-1], **{**kw, "topology": None})
    relaxed = minimise(zif4, **kw)
    _check_labelled(relaxed, "minimise-relaxed" if relax_cell else "minimise-fixed")
    assert relaxed.info["step"] > done_before
    assert relaxed.info["resumed_seconds"] == state["seconds"] > 0  # the killed run's time
    assert relaxed.info["energy"] < e0 - 0.5
    assert not ckpt.exists()


def _stalling_lammps(monkeypatch):
    """LAMMPS's line search made to stall, as seen with box/relax on big nets: every
    ``minimize`` does one iteration at 25 force evaluations. Returns the commands sent."""
    import zifviz.sampling as sampling

    real, commands = sampling._lmp, []

    def stalling(ff, text, source):
        commands.append(text)
        if text.startswith("minimize"):
            text = " ".join(text.split()[:3] + ["1", "25"])
        return real(ff, text, source)

    monkeypatch.setattr(sampling, "_lmp", stalling)
    return commands


@pytest.mark.parametrize("relax_cell", [False, True])
def test_minimise_hands_a_stalled_minimisation_to_lbfgs(zif4, topo, e0, monkeypatch,
                                                        relax_cell):
    """When LAMMPS's line search stalls, ASE's L-BFGS finishes (both phases with relax_cell)
    under the same criteria, checked again by LAMMPS; the step of the switch is recorded."""
    commands = _stalling_lammps(monkeypatch)
    kw = dict(relax_cell=relax_cell, fmax=0.05, max_stress_mpa=10.0, max_steps=1000)
    relaxed = minimise(zif4, topology=topo, progress=False, **kw)
    _check_labelled(relaxed, "minimise-relaxed" if relax_cell else "minimise-fixed")
    assert relaxed.info["lbfgs_from_step"] == 1
    assert relaxed.info["converged"] and relaxed.info["fmax"] <= 0.05  # LAMMPS's forces
    assert relaxed.info["step"] > 20
    assert sum(c.startswith("minimize") for c in commands) == 1  # LAMMPS not asked again
    assert relaxed.info["energy"] < e0 - 0.5
    if relax_cell:
        assert abs(relaxed.info["pressure_inst"]) <= 10.0
        assert not np.allclose(relaxed.cell.array, zif4.cell.array)
        monkeypatch.undo()  # at least as low as LAMMPS's own path, near the same cell
        plain = minimise(zif4, topology=topo, progress=False, **kw)
        assert "lbfgs_from_step" not in plain.info
        n_zn = int((zif4.numbers == 30).sum())
        assert relaxed.info["energy"] < plain.info["energy"] + 0.001 * n_zn
        assert relaxed.get_volume() == pytest.approx(plain.get_volume(), rel=0.05)


@pytest.mark.parametrize("line", ["lbfgs", "quadratic"])
def test_minimise_resumes_a_stalled_minimisation_with_lbfgs(zif4, topo, tmp_path, monkeypatch,
                                                            line):
    """Killed during L-BFGS (or with a checkpoint an older zifviz wrote after switching to
    LAMMPS's quadratic line search), a second call goes on with L-BFGS, not LAMMPS."""
    ckpt = tmp_path / "relaxing.extxyz"
    kw = dict(relax_cell=True, fmax=0.05, max_steps=1000, topology=topo, progress=False,
              checkpoint=ckpt, checkpoint_seconds=1e-9)
    with monkeypatch.context() as m:
        _stalling_lammps(m)
        _kill_after_checkpoint(m, lambda cell: cell)
        with pytest.raises(_Killed) as killed:
            minimise(zif4, **kw)
    saved = zifviz.read(ckpt)
    state = json.loads(saved.info["zifviz_minimise"])
    assert state["line"] == "lbfgs" and state["switched_at"] == 1 and state["cell"]
    assert state["done"] == killed.value.args[0] > 1
    if line != "lbfgs":
        saved.info["zifviz_minimise"] = json.dumps({**state, "line": line})
        ase.io.write(ckpt, saved, format="extxyz")
    commands = _stalling_lammps(monkeypatch)
    relaxed = minimise(zif4, **kw)
    assert not any(c.startswith("minimize") for c in commands)
    assert relaxed.info["lbfgs_from_step"] == 1 and relaxed.info["converged"]
    assert relaxed.info["step"] > state["done"]
    assert not ckpt.exists()


def test_minimise_refuses_a_file_that_is_not_its_checkpoint(zif4, topo, tmp_path):
    ckpt = tmp_path / "relaxing.extxyz"
    ase.io.write(ckpt, zif4, format="extxyz")  # a structure, without the checkpoint's state
    with pytest.raises(ResumeError, match="not a minimisation checkpoint") as err:
        minimise(zif4, fmax=0.05, max_steps=5, topology=topo, progress=False, checkpoint=ckpt)
    assert str(ckpt) in str(err.value)


def test_nvt_writes_labelled_frames(nvt_file, zif4):
    out, traj = nvt_file
    assert not partial_path(out).exists()
    assert len(traj) == 3
    frames = list(zifviz.iread(out))
    assert [f.info["step"] for f in frames] == [0, 10, 20]
    for f in frames:
        _check_labelled(f, "NVT")
        assert f.info["temperature"] == 300 and f.info["timestep"] == 0.5
        assert f.arrays["momenta"].shape == (len(f), 3)
        assert np.allclose(f.cell.array, zif4.cell.array)
    assert zifviz.read(out).info["step"] == 20
    assert frames[0].info["temperature_inst"] == pytest.approx(300, rel=1e-6)
    assert frames[0].get_temperature() == pytest.approx(300 * (1 - 1 / len(zif4)), rel=1e-3)
    assert frames[1].info["energy"] != frames[2].info["energy"]


def test_nvt_is_deterministic_and_relabels_consistently(nvt_file, zif4, topo):
    out, _ = nvt_file
    again = run_md(zif4, "NVT", steps=20, every=10, topology=topo, progress=False)
    assert isinstance(again, list) and len(again) == 3
    stored = zifviz.read(out)  # last frame, through the extxyz file
    assert again[-1].info["energy"] == pytest.approx(stored.info["energy"], rel=1e-12)
    # positions read back from LAMMPS, written and read again, give the stored energy
    relabelled = label(stored)
    assert relabelled.info["energy"] == pytest.approx(stored.info["energy"], rel=1e-8)
    assert np.abs(relabelled.arrays["energies"] - stored.arrays["energies"]).max() < 1e-6


def test_file_is_valid_after_every_frame(zif4, topo, tmp_path):
    out = tmp_path / "stream.extxyz"
    for k, frame in enumerate(iter_md(zif4, "NVT", steps=20, every=10, output=out,
                                      topology=topo, progress=False), 1):
        partial = partial_path(out)
        assert partial.exists() and not out.exists()
        frames = list(zifviz.iread(partial))
        assert len(frames) == k and frames[-1].info["step"] == frame.info["step"]
    assert out.exists() and not partial_path(out).exists()


def test_never_clobbers_and_overwrites_on_request(nvt_file, zif4, topo):
    out, _ = nvt_file
    before = out.read_bytes()
    with pytest.raises(OutputExistsError, match="exists"):
        run_md(zif4, "NVT", steps=20, every=10, output=out, topology=topo, progress=False)
    assert out.read_bytes() == before
    traj = run_md(zif4, "NVT", steps=20, every=20, output=out, overwrite=True, topology=topo,
                  progress=False)
    assert len(traj) == 2


def test_resume_interrupted_run(zif4, topo, tmp_path):
    out = tmp_path / "resume.extxyz"
    gen = iter_md(zif4, "NVT", steps=30, every=10, output=out, topology=topo, progress=False)
    for frame in gen:
        if frame.info["step"] == 10:
            break
    gen.close()  # interrupted: frames so far are in the partial file
    partial = partial_path(out)
    assert not out.exists() and len(list(zifviz.iread(partial))) == 2
    with open(partial, "a") as fh:  # a crash in the middle of writing a frame
        fh.write("272\nLattice=\"1 0 0 0 1 0 0 0 1\"\nZn 0 0 0\n")
    with pytest.raises(OutputExistsError, match="resume"):
        run_md(zif4, "NVT", steps=30, every=10, output=out, topology=topo, progress=False)
    with pytest.raises(ResumeError, match="temperature"):  # settings are compared
        run_md(zif4, "NVT", temperature=500, steps=30, every=10, output=out, resume=True,
               topology=topo, progress=False)
    traj = run_md(zif4, "NVT", steps=30, every=10, output=out, resume=True, topology=topo,
                  progress=False)
    steps = [f.info["step"] for f in traj]
    assert steps == [0, 10, 20, 30] and not partial.exists()
    # the resumed run continues from the stored velocities: still about 300 K, not 0 K
    assert 100 < traj[-1].info["temperature_inst"] < 500
    # extending a finished run
    traj = run_md(zif4, "NVT", steps=40, every=10, output=out, resume=True, topology=topo,
                  progress=False)
    assert [f.info["step"] for f in traj] == [0, 10, 20, 30, 40]
    # a finished run that does not match is left as it is
    before = out.read_bytes()
    with pytest.raises(ResumeError, match="ensemble"):
        iter_md(zif4, "NPT", steps=50, every=10, output=out, resume=True, topology=topo)
    assert out.read_bytes() == before and not partial.exists()


def test_npt_changes_cell(zif4, topo):
    frames = run_md(zif4, "NPT", temperature=300, pressure_mpa=500, steps=20, every=10,
                    pdamp_fs=50, topology=topo, progress=False)
    assert len(frames) == 3
    for f in frames:
        _check_labelled(f, "NPT")
        assert f.info["pressure"] == 500
    assert not np.allclose(frames[-1].cell.array, zif4.cell.array, atol=1e-4)
    assert frames[-1].get_volume() < zif4.get_volume()  # squeezed at 500 MPa
    relabelled = label(frames[-1], topo)
    assert relabelled.info["energy"] == pytest.approx(frames[-1].info["energy"], rel=1e-6)


def test_pressure_ramp_records_target(zif4, topo):
    frames = pressure_ramp(zif4, 0.0, 100.0, steps=20, every=10, topology=topo, progress=False)
    assert [f.info["pressure"] for f in frames] == pytest.approx([0.0, 50.0, 100.0])
    for f in frames:
        _check_labelled(f, "ramp")


def test_rattle_gives_distinct_labelled_frames(zif4, topo):
    frames = rattle(zif4, 3, atom_sigma=0.02, cell_sigma=0.01, seed=7, topology=topo,
                    progress=False)
    assert len(frames) == 3
    for k, f in enumerate(frames):
        _check_labelled(f, "rattle")
        assert f.info["step"] == k and len(f) == len(zif4)
        assert f.get_chemical_symbols() == zif4.get_chemical_symbols()
    energies = [f.info["energy"] for f in frames]
    assert len(set(energies)) == 3
    cells = [f.cell.array for f in frames]
    assert not np.allclose(cells[0], cells[1]) and not np.allclose(cells[0], zif4.cell.array)
    # the strain is symmetric: cell = cell0 (1 + eps)
    eps = np.linalg.solve(zif4.cell.array, cells[0]) - np.eye(3)
    assert np.allclose(eps, eps.T, atol=1e-12)
    again = rattle(zif4, 1, atom_sigma=0.02, cell_sigma=0.01, seed=7, topology=topo,
                   progress=False)
    assert np.allclose(again[0].positions, frames[0].positions)


def test_rattle_streams_to_file(zif4, topo, tmp_path):
    out = tmp_path / "rattled.extxyz"
    traj = rattle(zif4, 2, seed=1, output=out, topology=topo, progress=False)
    assert len(traj) == 2 and [f.info["step"] for f in zifviz.iread(out)] == [0, 1]


@pytest.mark.parametrize("kwargs, match", [
    ({"ensemble": "NVE"}, "ensemble"),
    ({"seed": 0}, "seed"),
    ({"steps": 0}, "steps"),
    ({"ensemble": "NVT", "pressure_end_mpa": 10.0}, "NPT"),
])
def test_bad_md_parameters(zif4, kwargs, match):
    with pytest.raises(SamplingError, match=match):
        iter_md(zif4, **kwargs)
    assert issubclass(SamplingError, ZifvizError)


def test_not_a_zif_is_a_clear_error():
    from ase.build import bulk

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ZifvizError):
            minimise(bulk("Cu", cubic=True), progress=False)


def test_md_settings_object():
    s = MDSettings("npt", temperature=600, pressure_mpa=100, pressure_end_mpa=200, steps=40,
                   every=10)
    assert s.ensemble == "NPT" and s.label == "ramp"
    assert s.target_pressure(20) == pytest.approx(150.0)
    assert s.info(20, "x")["pressure"] == pytest.approx(150.0)
    assert "steps" not in s.resume_settings() and s.resume_settings()["temperature"] == 600
    fix = s.fix_command().split()
    assert fix[:4] == ["fix", "zifviz_md", "all", "npt"] and "tri" in fix
    p0, p1 = (float(x) for x in fix[fix.index("tri") + 1:fix.index("tri") + 3])
    assert (p0, p1) == pytest.approx((100 * ATM_PER_MPA, 200 * ATM_PER_MPA))  # MPa -> atm
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.steps = 10
    for bad, match in (({"ensemble": "NVE"}, "ensemble"), ({"every": 0}, "every"),
                       ({"tdamp_fs": -1.0}, "tdamp"), ({"seed": 2**31}, "seed")):
        with pytest.raises(SamplingError, match=match):
            MDSettings(**bad)
    with pytest.raises(TypeError, match="pressure"):
        iter_md(None, "NVT", pressure=10)  # a misspelt setting names the real ones


def test_settings_object_equals_keywords(zif4, topo):
    settings = MDSettings("NVT", temperature=400, steps=10, every=10, seed=99)
    by_object = run_md(zif4, settings, topology=topo, progress=False)
    by_keywords = run_md(zif4, "NVT", temperature=400, steps=10, every=10, seed=99,
                         topology=topo, progress=False)
    overridden = run_md(zif4, dataclasses.replace(settings, seed=5), topology=topo,
                        progress=False)
    assert [f.info["energy"] for f in by_object] == [f.info["energy"] for f in by_keywords]
    assert by_object[-1].info["energy"] != overridden[-1].info["energy"]
    assert by_object[-1].info["temperature"] == 400


def test_cell_relaxation_that_goes_unstable_restarts_with_smaller_cell_steps(zif4, monkeypatch):
    """LAMMPS box relaxations rarely blow up ("simulation unstable", not reproducibly):
    minimise starts the cell stage again from the fixed-cell minimum with smaller steps."""
    from zifviz import sampling
    from zifviz.errors import ForceFieldError

    real = sampling._lmp
    seen = {"vmax": [], "failed": 0}

    def flaky(ff, commands, source):
        if "box/relax" in commands:
            seen["vmax"].append(float(commands.split("vmax")[1]))
        if seen["vmax"] and commands.startswith("minimize") and not seen["failed"]:
            seen["failed"] += 1
            raise ForceFieldError("LAMMPS failed (ERROR: Non-numeric pressure - simulation "
                                  "unstable)", source)
        return real(ff, commands, source)

    monkeypatch.setattr(sampling, "_lmp", flaky)
    out = sampling.minimise(zif4, relax_cell=True, fmax=0.05, max_steps=2000, progress=False)
    assert seen["vmax"] == list(sampling.CELL_STEPS[:2])
    assert out.info["cell_retries"] == 1
    assert out.info["converged"], out.info["fmax"]
    assert zifviz.perceive(out).n_zn == 16


def test_non_finite_forces_are_an_error_not_an_endless_minimisation(zif4, topo, monkeypatch):
    """LAMMPS's line search never ends on NaN forces: minimise tries fresh instances, then
    raises instead of handing them to LAMMPS."""
    from zifviz import sampling
    from zifviz.errors import ForceFieldError

    calls = []
    monkeypatch.setattr(sampling, "_forces_finite", lambda ff: calls.append(1) or False)
    with pytest.raises(ForceFieldError, match="not finite at the start"):
        minimise(zif4, fmax=0.05, max_steps=50, topology=topo, progress=False)
    assert len(calls) == 1 + sampling.NONFINITE_RETRIES
    answers = iter([False, True])  # a fresh instance that gives finite forces is used
    monkeypatch.setattr(sampling, "_forces_finite", lambda ff: next(answers))
    relaxed = minimise(zif4, fmax=0.05, max_steps=50, topology=topo, progress=False)
    assert np.isfinite(relaxed.info["fmax"])
