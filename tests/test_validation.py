"""zifviz.validation: grouped CV (no group on both sides), learning curves, parity data, the
cross-hyperparameter table and their figures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from sklearn.linear_model import Ridge

import zifviz
from zifviz.datasets import load_demo
from zifviz.errors import ZifvizError
from zifviz.gpr import GPR
from zifviz.validation import (CVResult, cross_hyperparameter_table, cross_validate,
                               frames_within, grouped_folds, learning_curve, parity_data, plot_cross_table,
                               plot_learning_curve, plot_parity, rmse)


@pytest.fixture(scope="module")
def grouped():
    rng = np.random.default_rng(0)
    groups = np.repeat([f"fw{i}" for i in range(12)], rng.integers(10, 40, size=12))
    X = rng.normal(size=(len(groups), 8))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    y = X @ rng.normal(size=8) + 0.01 * rng.normal(size=len(groups))
    return X, y, groups


def test_grouped_folds_never_share_a_group(grouped):
    X, y, groups = grouped
    folds = grouped_folds(groups, 5)
    assert len(folds) == 5
    seen = np.zeros(len(groups), dtype=int)
    for train, test in folds:
        assert not set(groups[train]) & set(groups[test])
        seen[test] += 1
    assert (seen == 1).all()  # every row is tested exactly once
    with pytest.raises(ZifvizError, match="groups"):
        grouped_folds(groups[:20], 5)


def test_cross_validate_out_of_fold_predictions(grouped):
    X, y, groups = grouped
    folds, predictions = result = cross_validate(X, y, groups, GPR(degree=1, noise=0.05))
    assert isinstance(result, CVResult)
    assert list(folds["fold"]) == [0, 1, 2, 3, 4]
    assert folds["n_test"].sum() == len(y)
    assert np.array_equal(predictions["y"], y) and np.array_equal(predictions["group"], groups)
    assert predictions["predicted"].notna().all() and (predictions["std"] > 0).all()
    for k, train_test in enumerate(grouped_folds(groups, 5)):
        test = train_test[1]
        assert (predictions["fold"].to_numpy()[test] == k).all()
        # the fold's model is the one fitted without its groups
        model = GPR(degree=1, noise=0.05).fit(X[train_test[0]], y[train_test[0]])
        np.testing.assert_allclose(predictions["predicted"].to_numpy()[test],
                                   model.predict(X[test]))
    assert result.test_rmse == pytest.approx(rmse(y, predictions["predicted"]))
    assert result.test_rmse < 0.1 * y.std()
    capped = cross_validate(X, y, groups, Ridge(), n_train=30)
    assert (capped.folds["n_train"] == 30).all() and "std" not in capped.predictions
    with pytest.raises(ZifvizError, match="NaN"):
        cross_validate(X, np.where(np.arange(len(y)) == 0, np.nan, y), groups, Ridge())
    with pytest.raises(ZifvizError, match="row-aligned"):
        cross_validate(X, y[:-1], groups, Ridge())


def test_learning_curve_doubles_and_nests(grouped):
    X, y, groups = grouped
    curve = learning_curve(X, y, groups, GPR(degree=1, noise=0.05), start=10, n_splits=3)
    sizes = sorted(curve["n_train"].unique())
    assert sizes[:3] == [10, 20, 40]
    assert sizes[-1] == min(len(tr) for tr, _ in grouped_folds(groups, 3))
    assert len(curve) == 3 * len(sizes)
    assert set(curve.columns) >= {"n_train", "fold", "train_rmse", "test_rmse"}
    mean = curve.groupby("n_train")["test_rmse"].mean()
    assert mean.iloc[-1] < mean.iloc[0]
    with pytest.raises(ZifvizError, match="smallest fold"):
        learning_curve(X, y, groups, Ridge(), n_train=[10, 10_000])


def test_parity_data_and_figures(grouped):
    X, y, groups = grouped
    result = cross_validate(X, y, groups, GPR(degree=1, noise=0.05))
    table = pd.DataFrame({"structure_id": [f"s{i}" for i in range(len(y))],
                          "frame": np.arange(len(y)), "zn": np.zeros(len(y), int),
                          "framework": groups})
    parity = parity_data(result, table=table)
    assert np.allclose(parity["error"], parity["predicted"] - parity["y"])
    assert list(parity["structure_id"][:2]) == ["s0", "s1"]
    plain = parity_data(y, y + 0.1)
    assert np.allclose(plain["abs_error"], 0.1)
    fig = plot_parity(parity, color="std")
    assert isinstance(fig, go.Figure) and "RMSE" in fig.layout.title.text
    assert len(fig.data[0].x) == len(y)
    curve = learning_curve(X, y, groups, Ridge(), start=10, n_splits=3)
    fig = plot_learning_curve({"atomistic": curve, "A": curve}, reference=0.042)
    assert len(fig.data) == 4 and fig.layout.xaxis.type == "log"
    cross = pd.DataFrame({"r_cut": [5.0, 9.0], "sigma": [0.3, 0.2], "atomistic": [0.04, 0.05],
                          "AB2": [0.08, 0.065]}, index=pd.Index(["atomistic", "AB2"],
                                                                 name="optimised for"))
    fig = plot_cross_table(cross)
    assert fig.data[0].z.shape == (2, 2) and list(fig.data[0].x) == ["atomistic", "AB2"]


def test_cross_hyperparameter_table_on_demo_frames():
    ds = load_demo("energies")
    info = ds.frames_info
    firsts = info.drop_duplicates("framework").index[:4]
    frames = [ds[info.index.get_loc(i)] for i in firsts]
    table = zifviz.environment_table(frames)
    cross = cross_hyperparameter_table(
        frames, {"AB2": (4.0, 0.5), "A": (6.0, 0.5)}, target="eps_zn", n_splits=2,
        estimator=GPR(degree=2), table=table, soap_kwargs={"n_max": 4, "l_max": 3},
        progress=False)
    assert list(cross.index) == ["AB2", "A"]
    assert list(cross.columns) == ["r_cut", "sigma", "AB2", "A"]
    assert cross.loc["A", "r_cut"] == 6.0
    values = cross[["AB2", "A"]].to_numpy()
    assert np.isfinite(values).all() and (values > 0).all()
    assert cross.loc["AB2", "A"] != cross.loc["A", "A"]  # other hyperparameters, other RMSE


def test_frames_within_keeps_whole_frames_below_the_cut():
    table = pd.DataFrame({"frame_pos": [0, 0, 1, 1, 2], "eps_local_ref": [0.2, 1.5, 0.1, 0.9, -0.3]})
    assert list(frames_within(table, 1.0)) == [1, 2]
    assert list(frames_within(table, 2.0)) == [0, 1, 2]
    with pytest.raises(ZifvizError, match="eps_local_ref"):
        frames_within(table.drop(columns="eps_local_ref"))
