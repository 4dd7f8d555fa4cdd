"""Phase classifiers: fit/predict, model files without pickle, splits, metrics, cross-source."""

import json

import numpy as np
import pandas as pd
import pytest

import zifviz
from zifviz.datasets import load_demo
from zifviz.descriptors import BPSF
from zifviz.environments import PHASES
from zifviz.errors import DescriptorMismatchError, ModelFileError, ZifvizError
from zifviz.phases import (PhaseClassifier, accuracy, block_split, class_order,
                           confusion_matrix_figure, confusion_matrix_table, cross_source_figure,
                           cross_source_table, evaluate, group_split, per_class_metrics,
                           random_split, run_ids)


@pytest.fixture(scope="module")
def demo():
    """Every 8th frame of the phases demo: frames, their table and BPSF matrix."""
    ds = load_demo("phases")
    frames = [ds[i] for i in range(0, len(ds), 8)]
    table = zifviz.environment_table(frames, progress=False)
    return frames, table, BPSF().transform(frames, progress=False)


def blobs(n_per=60, classes=("liquid", "ZIF-4", "glass"), seed=0):
    rng = np.random.default_rng(seed)
    X = np.concatenate([rng.normal(3 * k, 0.5, size=(n_per, 4)) for k in range(len(classes))])
    y = np.repeat(classes, n_per)
    return X, y


def test_fit_predict_on_frames(demo):
    frames, table, X = demo
    model = PhaseClassifier.seed003("bpsf", max_iter=150).fit(frames)
    assert list(model.classes_) == [p for p in PHASES if p in set(table.phase)]
    assert model.n_features_in_ == 12 and model.training_["epochs"] == 150
    assert model.training_["n_environments"] == len(table)
    proba = model.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    # frames in, same answer as the matrix of the same frames
    np.testing.assert_allclose(model.predict_proba(frames), proba)
    # well above chance (1/7) on its own training data even after few epochs
    assert accuracy(table.phase, model.predict(X)) > 0.5


def test_predict_table_is_the_environment_table_plus_predictions(demo):
    frames, table, X = demo
    model = PhaseClassifier.seed003("bpsf", max_iter=50).fit(X, table.phase)
    out = model.predict_table(frames[:3])
    small = zifviz.environment_table(frames[:3], progress=False)
    pd.testing.assert_frame_equal(out[small.columns], small)
    probs = out[[f"p_{c}" for c in model.classes_]].to_numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    np.testing.assert_allclose(out.confidence, probs.max(axis=1))
    assert list(out.predicted_phase.cat.categories) == list(model.classes_)
    assert (out.predicted_phase.astype(str).to_numpy()
            == model.classes_[probs.argmax(axis=1)]).all()
    with pytest.raises(ZifvizError, match="not of these frames"):
        model.predict_table(frames[:3], table=table)


def test_classes_follow_seed_order_and_scaling_is_stored():
    X, y = blobs()
    model = PhaseClassifier(hidden_layer_sizes=(8,), max_iter=200, learning_rate_init=0.02).fit(X, y)
    assert list(model.classes_) == ["ZIF-4", "glass", "liquid"]
    np.testing.assert_allclose(model.scale_offset_, X.min(axis=0))
    np.testing.assert_allclose(model.scale_factor_, X.max(axis=0) - X.min(axis=0))
    assert accuracy(y, model.predict(X)) > 0.95
    std = PhaseClassifier(hidden_layer_sizes=(8,), max_iter=50, scale="standard").fit(X, y)
    np.testing.assert_allclose(std.scale_offset_, X.mean(axis=0))
    assert class_order(pd.Categorical(["b", "a", "ZIF-zni"], categories=["b", "a", "ZIF-zni"])) \
        == ["ZIF-zni", "b", "a"]


def test_save_load_round_trip_gives_identical_probabilities(tmp_path, demo):
    frames, table, X = demo
    model = PhaseClassifier.seed003("bpsf", max_iter=60).fit(X, table.phase)
    npz, js = model.save(tmp_path / "bpsf-model")
    assert npz.name == "bpsf-model.npz" and js.name == "bpsf-model.json"
    with np.load(npz, allow_pickle=False) as z:  # plain arrays only
        assert {"weights_0", "biases_0", "weights_1", "biases_1", "scale_offset",
                "scale_factor"} == set(z.files)
    doc = json.loads(js.read_text())
    assert doc["classes"] == list(model.classes_)
    assert doc["descriptor"]["class"].endswith("BPSF") and doc["descriptor"]["r_cut"] == 13.0
    assert {"zifviz", "scikit-learn", "numpy"} <= set(doc["versions"])
    for path in (tmp_path / "bpsf-model", npz, js):
        back = PhaseClassifier.load(path)
        assert np.array_equal(back.predict_proba(X), model.predict_proba(X))
        assert list(back.classes_) == list(model.classes_)
    # the rebuilt descriptor describes frames the same way
    back = PhaseClassifier.load(js)
    pd.testing.assert_frame_equal(back.predict_table(frames[:2]),
                                  model.predict_table(frames[:2]))
    assert back.get_params()["hidden_layer_sizes"] == (24,)


def test_two_class_model_round_trip(tmp_path):
    X, y = blobs(classes=("glass", "liquid"))
    model = PhaseClassifier(hidden_layer_sizes=(5,), max_iter=100).fit(X, y)
    model.save(tmp_path / "two")
    back = PhaseClassifier.load(tmp_path / "two")
    assert np.array_equal(back.predict_proba(X), model.predict_proba(X))
    assert back.predict_proba(X).shape == (len(X), 2)


def test_other_descriptor_settings_are_refused(tmp_path, demo):
    _, table, X = demo
    model = PhaseClassifier.seed003("bpsf", max_iter=20).fit(X, table.phase)
    model.save(tmp_path / "m")
    with pytest.raises(DescriptorMismatchError, match=r"r_cut: model 13.0, data 10.0"):
        PhaseClassifier.load(tmp_path / "m", descriptor=BPSF(r_cut=10.0))
    with pytest.raises(DescriptorMismatchError, match="etas"):
        PhaseClassifier.load(tmp_path / "m", descriptor=BPSF(etas=(0.01, 0.02, 0.03, 0.04)).config)
    # the Zn–Zn functions are the same at every level: a model is usable at any of them
    assert PhaseClassifier.load(tmp_path / "m", descriptor=BPSF("A")).descriptor.level == "A"
    with pytest.raises(DescriptorMismatchError, match="12"):
        model.predict(X[:, :8])
    with pytest.raises(DescriptorMismatchError, match="r_cut"):
        model.check_descriptor(BPSF(r_cut=9.0))


def test_broken_model_files_are_refused(tmp_path):
    X, y = blobs()
    model = PhaseClassifier(hidden_layer_sizes=(4,), max_iter=20).fit(X, y)
    npz, js = model.save(tmp_path / "m")
    with pytest.raises(ModelFileError, match="not found"):
        PhaseClassifier.load(tmp_path / "missing")
    other = PhaseClassifier(hidden_layer_sizes=(6,), max_iter=20).fit(X, y)
    other_npz, _ = other.save(tmp_path / "other")
    npz.write_bytes(other_npz.read_bytes())
    with pytest.raises(ModelFileError, match="SHA-256"):
        PhaseClassifier.load(js)
    js.write_text('{"format": "something else"}')
    with pytest.raises(ModelFileError, match="not a zifviz.phases.PhaseClassifier"):
        PhaseClassifier.load(js)
    js.write_text("{not json")
    with pytest.raises(ModelFileError, match="readable"):
        PhaseClassifier.load(js)


def test_bad_input_is_refused(demo):
    X, y = blobs()
    with pytest.raises(ZifvizError, match="labels are needed"):
        PhaseClassifier().fit(X)
    with pytest.raises(ZifvizError, match="not fitted"):
        PhaseClassifier().predict(X)
    with pytest.raises(ZifvizError, match="scale"):
        PhaseClassifier(scale="log").fit(X, y)
    with pytest.raises(ZifvizError, match="two classes"):
        PhaseClassifier().fit(X, ["glass"] * len(X))
    with pytest.raises(ZifvizError, match="NaN"):
        PhaseClassifier().fit(np.full((4, 2), np.nan), ["a", "b", "a", "b"])
    with pytest.raises(ZifvizError, match="no descriptor"):
        PhaseClassifier().fit(demo[0][:2])
    with pytest.raises(ZifvizError, match="'soap' and a 'bpsf'"):
        PhaseClassifier.seed003("acsf")


def test_splits(demo):
    _, table, _ = demo
    # random split: stratified 80/20
    train, test = random_split(table)
    assert len(np.intersect1d(train, test)) == 0 and len(train) + len(test) == len(table)
    frac = table.phase.iloc[test].value_counts() / table.phase.value_counts()
    assert frac.between(0.15, 0.25).all()
    # block split: no frame (block of rows) on both sides, test frames last in every run
    train, test = block_split(table)
    assert len(train) + len(test) == len(table)
    assert not set(table.frame_pos.iloc[train]) & set(table.frame_pos.iloc[test])
    runs = run_ids(table)
    for run in np.unique(runs):
        rows = np.flatnonzero(runs == run)
        tr = np.intersect1d(rows, train)
        te = np.intersect1d(rows, test)
        if table.frame_pos.iloc[rows].nunique() == 1:  # a one-frame run stays in training
            assert len(te) == 0
            continue
        assert len(te) > 0 and len(tr) > 0
        assert table.time.iloc[te].min() > table.time.iloc[tr].max()
    assert 0.15 < len(test) / len(table) < 0.35
    # every run keeps one phase and source
    assert (pd.DataFrame({"run": runs, "p": table.phase.astype(str), "s": table.source_set})
            .groupby("run").nunique() == 1).all().all()
    # group split: whole groups out
    train, test = group_split(runs, 0.25)
    assert not set(runs[train]) & set(runs[test])


def test_run_ids_split_on_changes_and_time_resets():
    table = pd.DataFrame({
        "frame_pos": np.repeat(np.arange(7), 2),
        "phase": np.repeat(["glass"] * 5 + ["liquid"] * 2, 2),
        "time": np.repeat([0.1, 0.2, 0.3, 0.1, 0.2, 0.2, 0.3], 2)})
    assert run_ids(table).tolist() == [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]
    train, test = block_split(table, 0.2)
    assert sorted(set(table.frame_pos.iloc[test])) == [2, 4, 6]


def test_metrics_and_confusion_matrix():
    y_true = ["glass", "liquid", "ZIF-4", "ZIF-4", "glass", "liquid"]
    y_pred = ["glass", "glass", "ZIF-4", "ZIF-4", "liquid", "liquid"]
    m = per_class_metrics(y_true, y_pred)
    assert list(m.index) == ["ZIF-4", "glass", "liquid", "macro avg", "accuracy"]
    assert m.loc["ZIF-4", "f1"] == 1.0 and m.loc["glass", "recall"] == 0.5
    assert m.loc["accuracy", "precision"] == pytest.approx(4 / 6)
    counts = confusion_matrix_table(y_true, y_pred, normalize=None)
    assert counts.loc["liquid", "glass"] == 1 and counts.to_numpy().sum() == 6
    fig = confusion_matrix_figure(y_true, y_pred)
    heat = fig.data[0]
    assert list(heat.x) == ["ZIF-4", "glass", "liquid"]
    np.testing.assert_allclose(np.asarray(heat.z).sum(axis=1), 1.0)
    assert "#17becf" in fig.layout.yaxis.ticktext[1]  # glass in its fixed colour
    assert "66.7%" in fig.layout.title.text


def test_cross_source_table(demo):
    _, table, X = demo
    t = cross_source_table(X, table,
                           lambda: PhaseClassifier.seed003("bpsf", max_iter=40), source="ensemble")
    assert list(t.index) == ["train: NPT", "train: NVT", "train: All"]
    assert list(t.columns) == ["NPT", "NVT", "All"]
    assert ((t.to_numpy() > 14) & (t.to_numpy() <= 100)).all()
    fig = cross_source_figure({"BPSF": t, "again": t})
    assert len(fig.data) == 2 and fig.data[0].text[2][2] == f"{t.iloc[2, 2]:.1f}"
    with pytest.raises(ZifvizError, match="two sources"):
        cross_source_table(X, table.assign(ensemble="NPT"), PhaseClassifier)


def test_evaluate_scores_each_split(demo):
    _, table, X = demo
    summary, predictions = evaluate(lambda: PhaseClassifier.seed003("bpsf", max_iter=30), X,
                                    table, return_predictions=True)
    assert list(summary.index) == ["random", "block"]
    assert (summary.n_train + summary.n_test == len(table)).all()
    for split, p in predictions.items():
        assert len(p) == summary.loc[split, "n_test"]
        assert summary.loc[split, "accuracy"] == pytest.approx(np.mean(p.true == p.predicted))
        assert (p.true.to_numpy() == table.phase.astype(str).to_numpy()[p.row]).all()
    with pytest.raises(ZifvizError, match="'random' or 'block'"):
        evaluate(PhaseClassifier, X, table, splits=["kfold"])


def test_soap_classifier_round_trip_and_level_mismatch(tmp_path):
    from zifviz.descriptors import SOAP

    ds = load_demo("phases")
    frames = [ds[0], ds[len(ds) - 1]]   # a ZIF-4 and a liquid frame
    model = PhaseClassifier.seed003("soap", "AB2", max_iter=5).fit(frames)
    assert model.n_features_in_ == 780 and list(model.classes_) == ["ZIF-4", "liquid"]
    model.save(tmp_path / "soap")
    back = PhaseClassifier.load(tmp_path / "soap")
    assert back.descriptor.config["params"] == model.descriptor.config["params"]
    assert np.array_equal(back.predict_proba(frames), model.predict_proba(frames))
    # float64 rows are the same descriptor; another level or cut-off is not
    PhaseClassifier.load(tmp_path / "soap", descriptor=SOAP.seed003("AB2", dtype="float64"))
    with pytest.raises(DescriptorMismatchError, match=r"params.level: model 'AB2', data 'A'"):
        PhaseClassifier.load(tmp_path / "soap", descriptor=SOAP.seed003("A"))
    with pytest.raises(DescriptorMismatchError, match="class"):
        PhaseClassifier.load(tmp_path / "soap", descriptor=BPSF())


def test_predictions_in_chunks_and_with_a_reused_topology(demo):
    frames, table, X = demo
    model = PhaseClassifier.seed003("bpsf", max_iter=20).fit(X, table.phase)
    run = load_demo("phases")[:5]           # five frames of one MD run
    whole = model.predict_proba(run)
    np.testing.assert_allclose(model.predict_proba(run, chunk_frames=2), whole)
    topo = zifviz.perceive(run[0])
    out = model.predict_table(run, topologies=topo)   # perceived once, checked on each frame
    np.testing.assert_allclose(out[[f"p_{c}" for c in model.classes_]].to_numpy(), whole)
    assert model.predict_proba([]).shape == (0, len(model.classes_))
