"""The phases recipe (zifviz.build_demo.build_phases) at smoke size: every phase and source,
balanced, equilibrated and recorded, NVT in the NPT mean cell, glass-01 left out, resumable."""

from __future__ import annotations

import ase.io
import numpy as np
import pytest
from ase.cell import Cell

import zifviz
from zifviz import build_demo
from zifviz.build_demo import PHASE_RECIPES, PHASE_SIZES, build_phases
from zifviz.datasets import DemoSet, _sha256

SIZE = PHASE_SIZES["smoke"]


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    folder = tmp_path_factory.mktemp("phases-smoke")
    out, work = folder / "phases.extxyz.gz", folder / "work"
    summary = build_phases(out, "smoke", work_dir=work, progress=False)
    return out, work, summary


def test_smoke_set_has_every_phase_and_source_balanced(smoke):
    out, _, summary = smoke
    info = DemoSet.open(out, name="phases").frames_info
    counts = info.groupby(["phase", "source_set"], observed=True)["n_zn"].sum()
    assert set(counts.index) == {(p, s) for p in PHASE_RECIPES for s in ("NPT", "NVT")}
    assert (counts == SIZE.zn).all()  # exactly balanced
    for (phase, source), n in counts.items():
        assert summary["Zn environments"][phase][source] == n
    # the keys the environment table and the classifiers use, and the run record
    for key in ("phase", "source_set", "ensemble", "start", "run", "seed", "time",
                "temperature", "pressure", "equilibration_ps", "energy"):
        assert key in info, key
    assert (info["ensemble"] == info["source_set"]).all()
    liquid = info[info["phase"] == "liquid"]
    assert (liquid["temperature"] == build_demo.PHASE_LIQUID).all()
    cp = info[(info["phase"] == "ZIF-4-cp") & (info["source_set"] == "NPT")]
    assert (cp["pressure"] == build_demo.PHASE_CP_PRESSURE).all()
    assert (info.loc[info["source_set"] == "NVT", "pressure"] == 0).all()
    # independent runs: one velocity seed per run, frames `every` steps apart from the start
    runs = info.groupby(["phase", "source_set", "run"], observed=True)
    assert runs["seed"].nunique().max() == 1
    assert info.drop_duplicates(["phase", "source_set", "run"])["seed"].is_unique
    for _, run in runs:
        steps = np.sort(run["step"].to_numpy())
        np.testing.assert_array_equal(steps, SIZE.every * np.arange(1, len(steps) + 1))
    # the glass and liquid runs alternate between their two starts
    for phase in ("glass", "liquid"):
        assert set(info.loc[info["phase"] == phase, "start"]) == {"glass-02", "glass-03"}
    table = zifviz.environment_table(DemoSet.open(out, name="phases"), progress=False)
    assert len(table) == SIZE.zn * 14


def test_glass01_is_left_out_for_a_recorded_reason(smoke):
    out, _, summary = smoke
    info = DemoSet.open(out, name="phases").frames_info
    assert "glass-01" not in set(info["start"])
    assert "glass-01" in summary["recipe"]["dropped"]
    check = summary["glass_vs_ZIF-4"]
    assert check["glass-01"]["duplicate"]  # MOF-FF relaxes it to ZIF-4 ...
    assert not check["glass-02"]["duplicate"] and not check["glass-03"]["duplicate"]  # ... not these


def test_equilibration_is_recorded(smoke):
    out, work, summary = smoke
    info = DemoSet.open(out, name="phases").frames_info
    starts = {(p, n) for p in PHASE_RECIPES for n in build_demo._phase_conditions(p)[0]}
    assert set(summary["equilibration"]) == {f"{p}-{n}" for p, n in starts}
    for tag, record in summary["equilibration"].items():
        assert SIZE.min_blocks <= record["blocks"] <= SIZE.max_blocks
        assert len(record["block_density"]) == record["blocks"]
        assert record["ps"] == pytest.approx(record["blocks"] * SIZE.block * 0.5e-3)
        # it stopped because the density was stationary, or at the maximum
        assert record["stationary"] or record["blocks"] == SIZE.max_blocks
        if record["stationary"]:
            d = record["block_density"]
            assert abs(d[-1] / d[-2] - 1) < SIZE.tolerance
        assert (work / f"{tag}-npt-equil{record['blocks'] - 1:02d}.extxyz").is_file()
    per_frame = info.groupby(["phase", "start"], observed=True)["equilibration_ps"].unique()
    for (phase, start), ps in per_frame.items():
        record = summary["equilibration"][f"{phase}-{start}"]
        assert list(ps) == [record["ps"] + record.get("compression_ps", 0.0)]
    assert summary["equilibration"]["ZIF-4-cp-ZIF-4"]["compression_ps"] > 0


def test_nvt_runs_in_the_mean_cell_of_their_npt_equilibration(smoke):
    out, work, summary = smoke
    ds = DemoSet.open(out, name="phases")
    info = ds.frames_info
    for phase in PHASE_RECIPES:
        for start in build_demo._phase_conditions(phase)[0]:
            record = summary["equilibration"][f"{phase}-{start}"]
            last = work / f"{phase}-{start}-npt-equil{record['blocks'] - 1:02d}.extxyz"
            block = ase.io.read(last, index="1:", format="extxyz")  # step 0: the block's start
            mean = np.mean([f.cell.array for f in block], axis=0)
            mine = (info["phase"] == phase) & (info["start"] == start)
            nvt = np.flatnonzero((mine & (info["source_set"] == "NVT")).to_numpy())
            npt = np.flatnonzero((mine & (info["source_set"] == "NPT")).to_numpy())
            assert len(nvt) and len(npt)
            for i in nvt:
                np.testing.assert_allclose(ds.cell(int(i)), mean, atol=1e-4)
            assert not np.allclose(ds.cell(int(npt[-1])), mean, atol=1e-4)  # NPT cells move
            np.testing.assert_allclose(Cell(mean).cellpar(), record["nvt_cell"], atol=2e-3)


def test_no_two_frames_are_identical(smoke):
    out, _, _ = smoke
    ds = DemoSet.open(out, name="phases")
    digests = {ds.positions(i).tobytes() for i in range(len(ds))}
    assert len(digests) == len(ds)


def test_killed_build_resumes_to_the_same_file(smoke, tmp_path, monkeypatch):
    out, work, summary = smoke
    again = tmp_path / "phases.extxyz.gz"
    assert build_phases(again, "smoke", work_dir=work, progress=False)["Zn environments"] \
        == summary["Zn environments"]  # from finished legs: nothing runs
    assert _sha256(again) == _sha256(out)

    # a fresh build killed after a few MD legs, then started again
    real, ran = build_demo._md_leg, []

    def leg_then_die(start, output, progress, **settings):
        if not output.is_file():
            ran.append(output.name)
            if len(ran) > 12:
                raise KeyboardInterrupt("killed")
        return real(start, output, progress, **settings)

    monkeypatch.setattr(build_demo, "_md_leg", leg_then_die)
    fresh_out, fresh_work = tmp_path / "fresh.extxyz.gz", tmp_path / "work"
    with pytest.raises(KeyboardInterrupt):
        build_phases(fresh_out, "smoke", work_dir=fresh_work, progress=False)
    assert not fresh_out.exists()
    monkeypatch.setattr(build_demo, "_md_leg", real)
    resumed = build_phases(fresh_out, "smoke", work_dir=fresh_work, progress=False)
    assert resumed["equilibration"] == summary["equilibration"]
    assert _sha256(fresh_out) == _sha256(out)  # MD is deterministic for the same legs


def test_a_frame_perception_refuses_is_left_out_and_recorded(smoke, tmp_path, monkeypatch):
    """A frame of the finished legs that perceive() refuses does not stop the build at its last
    step: it is left out, named in the summary with the reason, and the counts follow."""
    out, work, summary = smoke
    real, seen = build_demo.perceive, []

    def refuse_one_liquid_frame(atoms, *args, **kwargs):
        if atoms.info.get("phase") == "liquid" and atoms.info.get("source_set") == "NVT":
            seen.append(atoms.info["time"])
            if len(seen) == 2:
                raise zifviz.PerceptionError("3 atoms in C3H3N2 groups are not bonded like an "
                                             "imidazolate ring", "test")
        return real(atoms, *args, **kwargs)

    monkeypatch.setattr(build_demo, "perceive", refuse_one_liquid_frame)
    again = tmp_path / "phases.extxyz.gz"
    with pytest.warns(UserWarning, match="1 frames are left out"):
        got = build_phases(again, "smoke", work_dir=work, progress=False)
    (left,) = got["left_out"]
    assert (left["phase"], left["source_set"], left["time"]) == ("liquid", "NVT", seen[1])
    assert "imidazolate ring" in left["reason"] and left["n_zn"] == 16
    assert got["Zn environments"]["liquid"]["NVT"] == summary["Zn environments"]["liquid"]["NVT"] - 16
    full, kept = DemoSet.open(out, name="phases"), DemoSet.open(again, name="phases")
    assert len(kept) == len(full) - 1

    def liquid_nvt(ds):
        return len(ds.frames_info.query("phase == 'liquid' and source_set == 'NVT'"))

    assert liquid_nvt(kept) == liquid_nvt(full) - 1


def test_two_processes_build_the_same_file(smoke, tmp_path):
    """n_jobs=2: equilibrations, then production legs, each in a fresh process: the same legs,
    seeds and bytes as the serial build."""
    out, _, summary = smoke
    parallel = tmp_path / "parallel.extxyz.gz"
    got = build_phases(parallel, "smoke", work_dir=tmp_path / "work", n_jobs=2, progress=False)
    assert got["equilibration"] == summary["equilibration"]
    assert _sha256(parallel) == _sha256(out)



def test_a_dask_cluster_builds_the_same_file(smoke, tmp_path):
    """--scheduler: the equilibrations and production legs on Dask workers (a local cluster of
    two here; on a real cluster every worker must see the work dir): the same bytes."""
    from zifviz.cli_batch import dask_client

    out, _, summary = smoke
    on_dask = tmp_path / "dask.extxyz.gz"
    with dask_client("local:2") as client:
        got = build_phases(on_dask, "smoke", work_dir=tmp_path / "work", client=client,
                           progress=False)
    assert got["equilibration"] == summary["equilibration"]
    assert _sha256(on_dask) == _sha256(out)
