"""The hypothetical-ZIF data set pipeline: IZA nets → ZIFs, screening, resumable builds."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
import time
import numpy as np
import pytest
from ase import Atoms

import zifviz
from zifviz import hzif
from zifviz.decorate import decorate
from zifviz.errors import ResumeError, StructureError, StructureFileError
from zifviz.nets import build_net, iza_codes, net_from_sio2, read_iza
from zifviz.sampling import minimise

SMALL_NETS = ["ABW", "SOD", "GIS", "BCT"]


def _relaxed_fixed_cell(atoms: Atoms, topo) -> Atoms:
    """Fixed-cell MOF-FF relaxation in this long-lived test process (where LAMMPS gave NaN
    forces for these nets before its Ewald work memory was zeroed)."""
    return minimise(atoms, relax_cell=False, fmax=0.05, max_steps=3000, topology=topo,
                    progress=False)


def _small_inputs():
    """Two tiny frameworks: an IZA net and a built one (a smoke build of a few seconds)."""
    fws, skipped = hzif.frameworks("smoke")
    assert not skipped
    return fws


@pytest.mark.parametrize("code", SMALL_NETS)
def test_iza_net_to_zif(code):
    net = read_iza(code)
    kinds = net.arrays["bead"]
    n_si, n_o = (kinds == "A").sum(), (kinds == "B").sum()
    assert n_o == 2 * n_si
    atoms = decorate(net)
    topo = zifviz.perceive(atoms)
    assert topo.n_zn == n_si and topo.n_linkers == n_o
    # Fixed cell, for speed; the pipeline's cell relaxation is covered by the builds.
    relaxed = _relaxed_fixed_cell(atoms, topo)
    after = zifviz.perceive(relaxed)
    assert after.n_zn == n_si and after.n_linkers == n_o
    assert (np.asarray(after.coordination) == 4).all()
    # Zn–Zn ≈ 6 Å before relaxation (mean over the bridged pairs)
    pairs, shifts = zifviz.net_bonds(topo, "A")
    zn = atoms.positions[topo.zn]
    d = np.linalg.norm(zn[pairs[:, 1]] + shifts @ atoms.cell.array - zn[pairs[:, 0]], axis=1)
    assert abs(d.mean() - 6.0) < 0.3


def test_bad_iza_files_are_skipped_with_a_reason():
    assert len(iza_codes()) == 246
    with pytest.raises(StructureError, match="interrupted framework"):
        read_iza("CHI")
    with pytest.raises(StructureFileError, match="cannot read the CIF"):
        read_iza("ANO")
    fws, skipped = hzif.frameworks("demo", codes=["CHI", "ANO", "ABW"], experimental=False,
                                   built=())
    assert [fw.code for fw in fws] == ["ABW"]
    assert set(skipped) == {"CHI", "ANO"} and "interrupted" in skipped["CHI"]


def test_net_from_sio2_refuses_other_elements():
    sio2 = Atoms("SiO2Al", positions=np.zeros((4, 3)), cell=np.eye(3) * 5, pbc=True)
    with pytest.raises(StructureError, match="not a SiO2 framework"):
        net_from_sio2(sio2)


def test_screen_distances():
    cell = np.eye(3) * 10
    ok = Atoms("CC", positions=[[0, 0, 0], [1.05, 0, 0]], cell=cell, pbc=True)
    assert hzif.screen_distances(ok) is None
    close = Atoms("CN", positions=[[0, 0, 0], [0.95, 0, 0]], cell=cell, pbc=True)
    assert "too close" in hzif.screen_distances(close)
    h_ok = Atoms("HH", positions=[[0, 0, 0], [0.7, 0, 0]], cell=cell, pbc=True)
    assert hzif.screen_distances(h_ok) is None  # 0.6 Å rule when H is involved
    h_bad = Atoms("CH", positions=[[0, 0, 0], [0.55, 0, 0]], cell=cell, pbc=True)
    assert "C0–H1 0.55 Å" in hzif.screen_distances(h_bad)
    across = Atoms("CC", positions=[[0.2, 0, 0], [9.6, 0, 0]], cell=cell, pbc=True)
    assert "too close" in hzif.screen_distances(across)  # through the periodic boundary


def test_perturb_convention():
    net = build_net("dia")
    rng = np.random.default_rng(1)
    copy = hzif.perturb(net, 0.0, 0.02, rng)
    strain = np.linalg.solve(net.cell.array, copy.cell.array) - np.eye(3)
    assert np.allclose(strain, strain.T, atol=1e-12) and np.abs(strain).max() > 0
    frac = np.linalg.solve(copy.cell.array.T, copy.positions.T).T
    assert np.allclose(frac, net.get_scaled_positions(wrap=False), atol=1e-10)
    moved = hzif.perturb(net, 0.1, 0.0, np.random.default_rng(2))
    assert 0.05 < np.std(moved.positions - net.positions) < 0.2


def test_collapsed_framework_is_dropped_not_shipped():
    net = build_net("dia")
    net.positions[net.arrays["bead"] == "B"] += 5.0  # not an AB2 net any more
    fw = hzif.Framework("broken", "built net", net)
    frames, relaxed, summary = hzif.build_framework(fw, hzif._settings("smoke", 1, 0, 0.05, 500))
    assert frames == [] and relaxed is None
    assert summary["status"] == "dropped" and "fewer than two A beads" in summary["reason"]


def test_cell_relaxations_repeat_bit_for_bit_in_one_process():
    """The same cell relaxation three times in this process: the same steps and bytes (it
    took 643, 606 and 560 steps before LAMMPS's Ewald work memory was zeroed)."""
    abw = next(fw for fw in _small_inputs() if fw.code == "ABW")
    atoms = decorate(abw.atoms)
    topo = zifviz.perceive(atoms)
    runs = [minimise(atoms, relax_cell=True, fmax=0.01, max_steps=3000, topology=topo,
                     progress=False) for _ in range(3)]
    assert runs[0].info["converged"]
    for run in runs[1:]:
        assert run.info["step"] == runs[0].info["step"]
        assert run.info["energy"] == runs[0].info["energy"]
        assert np.array_equal(run.positions, runs[0].positions)
        assert np.array_equal(run.cell.array, runs[0].cell.array)


def test_smoke_build(tmp_path):
    # each framework labelled in a fresh process, as build-demo and parallel builds do
    path = hzif.build(tmp_path / "b", "smoke", isolate=True, progress=False)
    report = json.loads((tmp_path / "b" / "report.json").read_text())
    frames = zifviz.iread(path, format="extxyz")
    frames = list(frames)
    assert report["n_frames"] == len(frames) > 0
    assert report["n_frameworks"] == 2
    per_framework = 1 + sum(len(m) for m in hzif.MAGNITUDES.values())  # one batch
    assert len(frames) <= 2 * per_framework
    seen = set()
    for atoms in frames:
        info = atoms.info
        assert info["framework"] in ("ABW", "net-dia")
        assert info["framework_source"] in ("IZA", "built net")
        assert info["procedure"] in hzif.PROCEDURES
        assert (info["magnitude"] == 0) == (info["procedure"] == "redecorated")
        assert {"atom_sigma", "cell_sigma", "batch", "seed", "structure_id"} <= set(info)
        seen.add(info["structure_id"])
        assert hzif.screen_distances(atoms) is None
        topo = zifviz.perceive(atoms)
        assert (np.asarray(topo.coordination) == 4).all()
        assert np.isclose(atoms.arrays["energies"].sum(), info["energy"], atol=1e-6)
    assert len(seen) == len(frames)
    # ideal copies lie below their rattled ones on average
    ideal = [a.info["energy"] for a in frames if a.info["magnitude"] == 0]
    rattled = [a.info["energy"] for a in frames if a.info["magnitude"] == 3
               and a.info["framework"] == frames[0].info["framework"]]
    assert ideal[0] < np.mean(rattled)


def _frames_by_id(path):
    return {a.info["structure_id"]: a for a in zifviz.iread(path, format="extxyz")}


def test_interrupted_build_resumes(tmp_path, monkeypatch):
    fws = _small_inputs()
    calls = []
    real = hzif.build_framework

    def dies_on_second(fw, settings, **kw):
        calls.append(fw.code)
        if len(calls) == 2:
            raise KeyboardInterrupt  # killed mid-build
        return real(fw, settings, **kw)

    monkeypatch.setattr(hzif, "build_framework", dies_on_second)
    with pytest.raises(KeyboardInterrupt):
        hzif.build(tmp_path / "cut", "smoke", inputs=fws, progress=False)
    folder = tmp_path / "cut" / "frameworks"
    assert sorted(p.name for p in folder.glob("*.json")) == [f"{fws[0].code}.json"]
    assert not list(folder.glob(".*"))  # no half-written file left behind
    first = (folder / f"{fws[0].code}.extxyz").read_bytes()

    with pytest.raises(ResumeError, match="resume"):
        hzif.build(tmp_path / "cut", "smoke", inputs=fws, progress=False)
    with pytest.raises(ResumeError, match="n_batches"):
        hzif.build(tmp_path / "cut", "smoke", inputs=fws, resume=True, n_batches=2,
                   progress=False)
    calls.clear()
    monkeypatch.setattr(hzif, "build_framework",
                        lambda fw, s, **kw: (calls.append(fw.code), real(fw, s, **kw))[1])
    resumed = hzif.build(tmp_path / "cut", "smoke", inputs=fws, resume=True, progress=False)
    assert calls == [fws[1].code]  # the finished framework is not built again
    assert (folder / f"{fws[0].code}.extxyz").read_bytes() == first
    frames = _frames_by_id(resumed)
    assert {a.info["framework"] for a in frames.values()} == {fw.code for fw in fws}
    assert gzip.decompress(resumed.read_bytes()).startswith(first)

    # assembling the same results again gives the same bytes (fixed gzip header)
    again = hzif.assemble(tmp_path / "cut", [fw.code for fw in fws], name="again.extxyz.gz")
    assert again.read_bytes() == resumed.read_bytes()


def test_a_build_killed_in_a_relaxation_continues_it(tmp_path, monkeypatch):
    """Killed right after its relaxation's first checkpoint, the resumed build continues that
    relaxation (the steps and seconds before count) and leaves no checkpoint behind."""
    import zifviz.sampling as sampling

    fw = _small_inputs()[:1]
    write = sampling._write_checkpoint
    saved = []

    def write_then_die(path, state, plan, cell, done, seconds, **more):
        write(path, state, plan, cell, done, seconds, **more)
        saved.append((path, done, seconds))
        raise KeyboardInterrupt  # killed mid-relaxation
    monkeypatch.setattr(hzif, "CHECKPOINT_SECONDS", 1e-9)
    with monkeypatch.context() as m:
        m.setattr(sampling, "_write_checkpoint", write_then_die)
        with pytest.raises(KeyboardInterrupt):
            hzif.build(tmp_path / "b", "smoke", inputs=fw, progress=False)
    folder = tmp_path / "b" / "frameworks"
    (path, done, seconds), = saved
    assert Path(path).parent == folder and Path(path).exists() and done > 0
    assert not list(folder.glob("*.json"))

    t0 = time.perf_counter()
    hzif.build(tmp_path / "b", "smoke", inputs=fw, resume=True, progress=False)
    elapsed = time.perf_counter() - t0
    summary = json.loads((folder / f"{fw[0].code}.json").read_text())
    assert summary["status"] == "ok" and summary["relax_steps"] > done
    # this run's seconds plus the killed run's minimisation seconds (the checkpoint's)
    assert seconds < summary["seconds"] <= seconds + elapsed
    assert not Path(path).exists()


def test_parallel_build(tmp_path):
    """Built from scratch (cell relaxations included) in this long-lived process and in fresh
    processes on an executor: the same bytes."""
    fws = _small_inputs()
    serial = hzif.build(tmp_path / "s", "smoke", inputs=fws, progress=False)
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(1) as pool:  # any executor with submit, as a Dask client
        path = hzif.build(tmp_path / "p", "smoke", inputs=fws, client=pool, progress=False)
    parallel = _frames_by_id(path)
    assert {a.info["framework"] for a in parallel.values()} == {fw.code for fw in fws}
    assert Path(path).read_bytes() == Path(serial).read_bytes()


def test_duplicates_are_merged():
    base = {"n_zn": 16, "energy_per_zn": -1.1212, "volume_per_zn": 266.2, "topology_key": "cag"}
    summaries = [
        {**base, "framework": "ZIF-4"},
        {**base, "framework": "glass-01", "energy_per_zn": -1.1220, "volume_per_zn": 274.4},
        {**base, "framework": "other-volume", "volume_per_zn": 290.0},
        {**base, "framework": "other-count", "n_zn": 32},
        {**base, "framework": "other-energy", "energy_per_zn": -1.10},
        {**base, "framework": "other-net", "topology_key": "xyz"},
    ]
    assert hzif._duplicates(summaries) == {"glass-01": "ZIF-4"}


def test_coordination_sequences_tell_nets_apart():
    cs = {name: hzif.coordination_sequences(zifviz.perceive(decorate(build_net(name))), 6)
          for name in ("dia", "lon", "sod")}
    assert cs["dia"][0] == (4, 12, 24, 42, 64, 92)  # diamond, RCSR
    assert cs["sod"][0] == (4, 10, 20, 34, 52, 74)  # sodalite, RCSR
    assert len({tuple(v) for v in map(tuple, cs.values())}) == 3
    sod_iza = hzif.coordination_sequences(zifviz.perceive(decorate(read_iza("SOD"))), 6)
    assert sod_iza == cs["sod"]


def test_learning_check_on_a_smoke_build(tmp_path):
    # LAMMPS in fresh processes, as build-demo runs it (a fresh-clone run once got a NaN
    # learning-check RMSE from the in-process build, not reproduced in a fresh process)
    path = hzif.build(tmp_path / "b", "smoke", isolate=True, progress=False)
    table, summary = hzif.learning_check(path, n_train=None, folds=2, max_local=None,
                                         progress=False)
    assert summary["n_frameworks"] == 2 and summary["n_used"] == len(table)
    assert summary["n_environments"] == json.loads(
        (tmp_path / "b" / "report.json").read_text())["n_environments"]
    for level in ("atomistic", "AB2", "A"):
        assert np.isfinite(summary["rmse"][level]) and summary["rmse"][level] > 0
        assert np.isfinite(table[f"pred_{level}"]).all()
    assert set(table["procedure"]) <= set(hzif.PROCEDURES)
    assert summary["spread_eps_local_std"] > 0


def test_build_on_a_dask_client(tmp_path):
    distributed = pytest.importorskip("distributed")
    fws = _small_inputs()[:1]
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=1,
                            dashboard_address=None) as client:
        path = hzif.build(tmp_path / "d", "smoke", inputs=fws, client=client, progress=False)
    frames = _frames_by_id(path)
    assert frames and {a.info["framework"] for a in frames.values()} == {fws[0].code}


def test_reference_energy_added_to_every_frame():
    frames = [Atoms("Zn", positions=[[0, 0, 0]], cell=np.eye(3) * 5, pbc=True) for _ in range(3)]
    for k, a in enumerate(frames):
        a.info["framework"] = f"f{k}"
    text = hzif._write_extxyz_text(frames)
    out = hzif._add_to_comments(text, " zni_energy_per_zn=-1.25")
    import io

    import ase.io

    back = ase.io.read(io.StringIO(out), index=":", format="extxyz")
    assert [a.info["zni_energy_per_zn"] for a in back] == [-1.25] * 3
    assert [a.info["framework"] for a in back] == ["f0", "f1", "f2"]


def test_build_demo_set_hook(tmp_path):
    report = hzif.build_demo_set(tmp_path / "energies-smoke.extxyz.gz", "smoke",
                                 work_dir=tmp_path / "work", progress=False)
    again = hzif.build_demo_set(tmp_path / "again.extxyz.gz", "smoke",
                                work_dir=tmp_path / "work", progress=False)  # resumes
    assert report["n_frames"] == again["n_frames"] > 0
    assert ((tmp_path / "again.extxyz.gz").read_bytes()
            == (tmp_path / "energies-smoke.extxyz.gz").read_bytes())


def test_a_framework_over_the_time_limit_is_dropped(tmp_path):
    fws = _small_inputs()[:1]
    hzif.build(tmp_path / "t", "smoke", inputs=fws, max_seconds=0.05, progress=False)
    report = json.loads((tmp_path / "t" / "report.json").read_text())
    assert report["n_frameworks"] == 0
    assert "longer than 0.05 s" in report["dropped"][fws[0].code]


def test_a_glass_with_a_dangling_linker_keeps_its_own_linkers(shared_data):
    """glass-02 has one 3-coordinated Zn (a linker bound to one Zn), which re-decoration
    cannot rebuild: its copies are the relaxed glass and its rattled versions."""
    from zifviz.datasets import fetch_structure

    glass = zifviz.read(fetch_structure("structures/gaillac2020/ZIF4_15glass02.cif"))
    given = glass.copy()  # stands in for a relaxed structure (no LAMMPS relaxation here)
    given.info.update(energy=0.0, converged=True, fmax=0.0, step=0)
    fw = hzif.Framework("glass-02", "glass", glass, is_net=False, relaxed=given)
    frames, relaxed, summary = hzif.build_framework(fw, hzif._settings("smoke", 1, 0, 0.05, 50))
    assert summary["status"] == "ok", summary.get("reason")
    assert {f.info["procedure"] for f in frames} <= set(hzif.OWN_LINKER_PROCEDURES)
    assert frames[0].info["procedure"] == "relaxed" and frames[0].info["magnitude"] == 0
    assert np.allclose(frames[0].positions, glass.positions)
    for f in frames:
        with pytest.warns(zifviz.UnderCoordinatedZnWarning):
            topo = zifviz.perceive(f)
        assert sorted(np.asarray(topo.coordination)) == [3] + [4] * 15
        assert np.isclose(f.arrays["energies"].sum(), f.info["energy"], atol=1e-6)

    # a crystal (not a glass) with a 3-coordinated Zn is still dropped
    fw = hzif.Framework("odd", "experimental", glass, is_net=False, relaxed=given)
    _, _, summary = hzif.build_framework(fw, hzif._settings("smoke", 1, 0, 0.05, 50))
    assert summary["status"] == "dropped" and "not 4-coordinated" in summary["reason"]


def test_rebuild_from_relaxed_frameworks_is_identical(tmp_path):
    """Starting from relaxed structures, each framework labelled in a fresh process: the
    same bytes twice; frameworks missing from the file are dropped with relax_missing=False."""
    fws = _small_inputs()
    hzif.build(tmp_path / "a", "smoke", inputs=fws, progress=False)
    relaxed = hzif.write_relaxed(tmp_path / "a")
    assert set(hzif.read_relaxed(relaxed)) == {fw.code for fw in fws}
    one = hzif.build(tmp_path / "b", "smoke", inputs=_small_inputs(), relaxed=relaxed,
                     isolate=True, progress=False)
    two = hzif.build(tmp_path / "c", "smoke", inputs=_small_inputs(), relaxed=relaxed,
                     isolate=True, progress=False)
    assert one.read_bytes() == two.read_bytes()
    summary = json.loads((tmp_path / "b" / "frameworks" / f"{fws[0].code}.json").read_text())
    assert summary["relaxed_from"] == "file"

    only_first = tmp_path / "first.extxyz.gz"
    hzif.write_relaxed(tmp_path / "a", only_first)
    frames = [a for a in zifviz.iread(only_first) if a.info["framework"] == fws[0].code]
    zifviz.write(only_first.with_suffix(".one.extxyz"), frames)
    hzif.build(tmp_path / "d", "smoke", inputs=_small_inputs(),
               relaxed=only_first.with_suffix(".one.extxyz"), relax_missing=False,
               progress=False)
    report = json.loads((tmp_path / "d" / "report.json").read_text())
    assert "not in the file of relaxed frameworks" in report["dropped"][fws[1].code]


def test_smallest_frameworks_are_built_first(tmp_path, monkeypatch):
    fws = hzif.frameworks("demo", codes=["ANA", "ABW", "ACO", "BCT"], experimental=False,
                          built=())[0]
    assert [fw.n_t for fw in fws] != sorted(fw.n_t for fw in fws)  # not already in size order
    built = []

    def record(fw, settings, folder, max_seconds=None):  # no LAMMPS: a dropped framework
        built.append(fw.code)
        summary = {"framework": fw.code, "framework_source": fw.source, "status": "dropped",
                   "reason": "test", "seconds": 0.0}
        (tmp_path / "b" / "frameworks" / f"{fw.code}.json").write_text(json.dumps(summary))
        return summary

    monkeypatch.setattr(hzif, "_run_one", record)
    hzif.build(tmp_path / "b", "demo", inputs=fws, progress=False)
    n_t = {fw.code: fw.n_t for fw in fws}
    assert [n_t[c] for c in built] == sorted(n_t.values())
    report = json.loads((tmp_path / "b" / "report.json").read_text())
    assert sorted(report["dropped"]) == sorted(fw.code for fw in fws)
