"""zifviz.transitions: trajectories classified frame by frame, fractions, t0, labelled frames."""

from __future__ import annotations

import gc
import json
import weakref
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pytest

import zifviz
from zifviz import transitions
from zifviz.datasets import _sha256, demo_dir, demo_model_path
from zifviz.errors import DescriptorMismatchError, ModelFileError, PerceptionError, ZifvizError
from zifviz.phases import PhaseClassifier

N_FRAMES = 6


@pytest.fixture(scope="module")
def model():
    return PhaseClassifier.load(demo_model_path("phases-bpsf"))


@pytest.fixture(scope="module")
def frames(zif4_path):
    """A short 'trajectory' of ZIF-4 (16 Zn): the cell squeezed along b a bit more each frame."""
    base = zifviz.read(zif4_path)
    rng = np.random.default_rng(0)
    out = []
    for k in range(N_FRAMES):
        atoms = base.copy()
        scale = np.array([1.0, 1.0 - 0.03 * k, 1.0])[:, None]  # row b of the cell
        atoms.set_cell(base.cell.array * scale, scale_atoms=True)
        atoms.positions += rng.normal(0, 0.03, atoms.positions.shape)
        atoms.info = {"time": 0.05 * k, "pressure": 200.0}
        out.append(atoms)
    return out


@pytest.fixture(scope="module")
def traj_path(frames, tmp_path_factory):
    path = tmp_path_factory.mktemp("transition") / "squeeze.extxyz"
    zifviz.io.write(path, frames)
    return path


@pytest.fixture(scope="module")
def labels(traj_path, model):
    return transitions.classify_trajectory(traj_path, model, chunk_frames=4, progress=False)


def test_columns_and_alignment_with_environment_table(labels, model, traj_path):
    classes = list(model.classes_)
    assert list(labels.columns) == ["trajectory", "frame", "time", "zn", "zn_rank", "label",
                                    "confidence"] + [f"p_{c}" for c in classes]
    traj = zifviz.Trajectory(traj_path)
    table = zifviz.environment_table(traj, progress=False)
    assert len(labels) == len(table) == N_FRAMES * 16
    for col in ("frame", "zn", "zn_rank"):
        np.testing.assert_array_equal(labels[col].to_numpy(), table[col].to_numpy())
    assert (labels["trajectory"] == "squeeze").all()
    np.testing.assert_allclose(labels["time"].to_numpy(), np.repeat(0.05 * np.arange(6), 16))
    proba = labels[[f"p_{c}" for c in classes]].to_numpy()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    np.testing.assert_allclose(labels["confidence"], proba.max(axis=1))
    assert set(labels["label"]) <= set(classes)
    assert (labels["label"].to_numpy() == np.asarray(classes)[proba.argmax(axis=1)]).all()
    # the same numbers as the classifier on the frames directly
    np.testing.assert_allclose(proba, model.predict_proba(list(traj)), rtol=1e-12, atol=0)


def test_start_stop_step_and_names(traj_path, model, labels):
    part = transitions.classify_trajectory(zifviz.Trajectory(traj_path), model, start=1,
                                           step=2, name="run-a", progress=False)
    assert sorted(part["frame"].unique()) == [1, 3, 5]
    assert (part["trajectory"] == "run-a").all()
    expected = labels[labels["frame"].isin([1, 3, 5])].reset_index(drop=True)
    pd.testing.assert_frame_equal(part.drop(columns="trajectory"),
                                  expected.drop(columns="trajectory"))


class _LazyFrames(Sequence):
    """Frames built on access; counts how many are alive at once."""

    def __init__(self, frames):
        self._frames = frames
        self.refs = []
        self.most_alive = 0

    def __len__(self):
        return len(self._frames)

    def __getitem__(self, i):
        if isinstance(i, slice):
            raise AssertionError("classify_trajectory must not slice the whole sequence")
        gc.collect()
        atoms = self._frames[i].copy()
        self.refs.append(weakref.ref(atoms))
        self.most_alive = max(self.most_alive, sum(r() is not None for r in self.refs))
        return atoms


def test_streams_a_chunk_at_a_time(frames, model, labels):
    lazy = _LazyFrames(frames)
    out = transitions.classify_trajectory(lazy, model, chunk_frames=2, progress=False)
    assert lazy.most_alive <= 3  # one chunk of two (+ one being built), not all six
    np.testing.assert_allclose(out.filter(like="p_").to_numpy(), model.predict_proba(frames),
                               rtol=1e-12, atol=0)
    # the file holds fewer digits than memory: the same up to that
    np.testing.assert_allclose(out.filter(like="p_").to_numpy(),
                               labels.filter(like="p_").to_numpy(), atol=1e-6)


def test_fractions_sum_to_one_and_cell(labels, traj_path, model):
    fr = transitions.phase_fractions(labels, traj_path)
    classes = list(model.classes_)
    assert list(fr.columns[:4]) == ["trajectory", "frame", "time", "n_zn"]
    cols = [f"fraction_{c}" for c in classes]
    assert list(fr.columns[4:4 + len(cols)]) == cols
    np.testing.assert_allclose(fr[cols].sum(axis=1), 1.0)
    assert (fr["n_zn"] == 16).all() and len(fr) == N_FRAMES
    traj = zifviz.Trajectory(traj_path)
    for i in range(N_FRAMES):
        atoms = traj[i]
        np.testing.assert_allclose(fr.loc[i, ["a", "b", "c", "alpha", "beta", "gamma"]]
                                   .to_numpy(dtype=float), atoms.cell.cellpar(), rtol=1e-6)
        assert fr.loc[i, "volume"] == pytest.approx(atoms.get_volume(), rel=1e-6)
        expected = labels[labels["frame"] == i]["label"].value_counts(normalize=True)
        for c, v in expected.items():
            assert fr.loc[i, f"fraction_{c}"] == pytest.approx(v)
    assert (np.diff(fr["b"]) < 0).all()  # the squeeze is seen
    with pytest.raises(ZifvizError, match="mapping"):
        both = pd.concat([labels, labels.assign(trajectory="other")])
        transitions.phase_fractions(both, traj_path)
    both_fr = transitions.phase_fractions(both, {"squeeze": traj_path, "other": traj_path})
    assert len(both_fr) == 2 * N_FRAMES


def test_align_t0_on_a_synthetic_curve():
    t = np.linspace(0, 3, 31)
    rows = []
    for name, t_mid in (("run-1", 1.234), ("run-2", 2.0), ("never", None)):
        f = np.zeros_like(t) if t_mid is None else 1 / (1 + np.exp(-(t - t_mid) / 0.2))
        rows.append(pd.DataFrame({"trajectory": name, "frame": np.arange(len(t)), "time": t,
                                  "n_zn": 100, "fraction_new": f, "fraction_old": 1 - f}))
    fr = pd.concat(rows, ignore_index=True)
    out = transitions.align_t0(fr, "new")
    t0 = out.groupby("trajectory")["t0"].first()
    assert t0["run-1"] == pytest.approx(1.234, abs=0.01)  # linear interpolation between frames
    assert t0["run-2"] == pytest.approx(2.0, abs=1e-9)    # a frame right on the crossing
    assert np.isnan(t0["never"])
    run1 = out[out["trajectory"] == "run-1"]
    np.testing.assert_allclose(run1["time_aligned"], run1["time"] - t0["run-1"])
    starts_high = fr[fr["trajectory"] == "run-1"].assign(fraction_new=0.9)
    assert transitions.align_t0(starts_high, "new")["t0"].iloc[0] == 0.0
    blip = fr[fr["trajectory"] == "run-2"].copy()
    blip.loc[blip.index[3], "fraction_new"] = 0.6  # one frame mislabelled early on
    assert 0.2 < transitions.align_t0(blip, "new")["t0"].iloc[0] < 0.3
    assert transitions.align_t0(blip, "new", window=5)["t0"].iloc[0] == pytest.approx(2.0,
                                                                                   abs=0.05)
    with pytest.raises(ZifvizError, match="no phase 'cp'"):
        transitions.align_t0(fr, "cp")


def test_labelled_frames_and_write_round_trip(labels, traj_path, tmp_path):
    lf = transitions.labelled_frames(traj_path, labels)
    assert len(lf) == N_FRAMES
    atoms = lf[2]
    zn = atoms.numbers == 30
    rows = labels[labels["frame"] == 2]
    assert (atoms.arrays["phase"][zn] == rows["label"].to_numpy()).all()
    assert (atoms.arrays["phase"][~zn] == "").all()
    np.testing.assert_allclose(atoms.arrays["phase_confidence"][zn], rows["confidence"])
    assert np.isnan(atoms.arrays["phase_confidence"][~zn]).all()
    for name in ("out.extxyz", "out.extxyz.gz"):
        path = transitions.write_labelled(traj_path, labels, tmp_path / name)
        back = zifviz.read(path, index=2)
        assert (back.arrays["phase"][zn] == atoms.arrays["phase"][zn]).all()
        assert (back.arrays["phase"][~zn] == transitions.NO_PHASE_IN_FILE).all()
        np.testing.assert_allclose(back.arrays["phase_confidence"][zn],
                                   atoms.arrays["phase_confidence"][zn])
        np.testing.assert_allclose(back.positions, atoms.positions, atol=1e-6)
        assert len(zifviz.Trajectory(path)) == N_FRAMES


def test_dask_cluster_gives_the_same_table(labels, traj_path, frames, model):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as client:
        on_file = transitions.classify_trajectory(traj_path, model, chunk_frames=2,
                                                  client=client, progress=False)
        in_memory = transitions.classify_trajectory(frames, model, chunk_frames=2,
                                                    client=client, progress=False)
    pd.testing.assert_frame_equal(on_file, labels)
    serial = transitions.classify_trajectory(frames, model, chunk_frames=2, progress=False)
    pd.testing.assert_frame_equal(in_memory, serial)


def test_bad_models_and_trajectories_are_refused(traj_path, tmp_path, model, frames):
    with pytest.raises(ModelFileError, match="model file not found") as err:
        transitions.classify_trajectory(traj_path, tmp_path / "nope", progress=False)
    assert "nope" in str(err.value)
    # a model of other features (5 per environment) cannot read BPSF rows (12)
    rng = np.random.default_rng(0)
    other = PhaseClassifier(descriptor=model.descriptor, hidden_layer_sizes=(4,), max_iter=5)
    other.fit(rng.normal(size=(40, 5)), ["ZIF-4", "glass"] * 20)
    with pytest.raises(DescriptorMismatchError, match="12 features"):
        transitions.classify_trajectory(traj_path, other, progress=False)
    saved = other.save(tmp_path / "other")[1]
    with pytest.raises(DescriptorMismatchError) as err:
        transitions.classify_trajectory(traj_path, saved, progress=False)
    assert "other.json" in str(err.value)
    no_zn = frames[0][frames[0].numbers != 30]
    path = tmp_path / "no-zn.extxyz"
    zifviz.io.write(path, [no_zn])
    with pytest.raises(PerceptionError, match="no Zn") as err:
        transitions.classify_trajectory(path, model, progress=False)
    assert "no-zn.extxyz" in str(err.value)
    with pytest.raises(ZifvizError, match="not ase.Atoms|trajectory must be"):
        transitions.classify_trajectory(42, model, progress=False)


def test_shipped_model_loads_offline_and_matches_manifest(model):
    manifest = json.loads((demo_dir() / "MANIFEST.json").read_text())
    for name in zifviz.datasets.DEMO_MODELS:
        for suffix in (".npz", ".json"):
            entry = manifest[f"models/{name}{suffix}"]
            assert _sha256(demo_dir() / entry["file"]) == entry["sha256"]
            assert entry["bytes"] < 2_000_000
    soap = PhaseClassifier.load(demo_model_path("phases-soap-A"))
    assert soap.descriptor.level == "A" and soap.n_features_in_ == 780
    assert soap.training_["block_check"]["accuracy"] > 0.8
    assert list(model.classes_)[:3] == ["ZIF-4", "ZIF-4-cp", "ZIF-4-cp-II"]
    assert model.training_["block_check"]["accuracy"] > 0.6
    assert transitions.classify_trajectory  # the name "phases-bpsf" resolves too
    assert isinstance(transitions._load_model("phases-bpsf"), PhaseClassifier)


def test_shipped_transition_loads_offline_and_matches_manifest():
    manifest = json.loads((demo_dir() / "MANIFEST.json").read_text())
    entry = manifest["transition"]
    path = zifviz.datasets.demo_path("transition")
    assert _sha256(path) == entry["sha256"]
    ds = zifviz.datasets.load_demo("transition")
    info = ds.frames_info
    assert len(ds) == entry["runs"]["0"]["frames"] and (info["n_zn"] == entry["n_zn"]).all()
    assert info["n_atoms"].iloc[0] >= 2176  # at least a 2x2x2 ZIF-4
    assert {"time", "pressure", "temperature", "ensemble", "run", "seed"} <= set(info.columns)
    assert (np.diff(info["time"]) > 0).all() and (info["ensemble"] == "NPT").all()
    first, last = ds.cell(0), ds.cell(len(ds) - 1)
    long_first = np.linalg.norm(first, axis=1)
    assert long_first.argmax() == 2  # ZIF-4's long axis is c
    assert np.linalg.norm(last[2]) < long_first[2] - 2.0  # ... and it collapses


def test_build_transition_smoke_recipe_resumes(tmp_path):
    from zifviz.build_demo import TRANSITION_RECIPES, build_transition

    out, work = tmp_path / "t.extxyz.gz", tmp_path / "work"
    summary = build_transition(out, "smoke", work_dir=work, progress=False)
    repeat, seeds, pressure, n_equil, n_prod, every = TRANSITION_RECIPES["smoke"]
    traj = zifviz.Trajectory(out)
    assert len(traj) == n_prod // every + 1 == summary["runs"][0]["frames"]
    info = traj.frame_info
    assert (info["pressure"] == pressure).all() and (info["seed"] == seeds[0]).all()
    np.testing.assert_allclose(info["time"], np.arange(len(traj)) * every * 0.5e-3)
    assert np.linalg.norm(traj.cell(0), axis=1).argmax() == 2  # long axis relabelled c
    zifviz.perceive(traj[len(traj) - 1])  # still a ZIF after the relabelling
    first = _sha256(out)
    build_transition(out, "smoke", work_dir=work, progress=False)  # resumes: nothing to run
    assert _sha256(out) == first
