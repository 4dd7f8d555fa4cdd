"""zifviz.gpr.GPR: the polynomial-kernel GP against a direct formula, exact vs sparse, files."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.base import clone

from zifviz.errors import DescriptorMismatchError, ModelFileError, ZifvizError
from zifviz.gpr import GPR, farthest_point_sampling, polynomial_kernel


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(600, 30)).astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    w = rng.normal(size=30)
    y = 0.3 * np.tanh(X @ w) + (X @ w) ** 2 * 0.05 + 0.01 * rng.normal(size=600)
    return X[:500], y[:500], X[500:], y[500:]


def test_exact_matches_the_textbook_formula(data):
    X, y, Xs, _ = data
    model = GPR(noise=0.2).fit(X, y)
    Xd, Xsd = X.astype(float), Xs.astype(float)
    K = (1 + Xd @ Xd.T) ** 4 + 0.04 * np.eye(len(X))
    Ks = (1 + Xsd @ Xd.T) ** 4
    mean = Ks @ np.linalg.solve(K, y - y.mean()) + y.mean()
    var = (1 + np.sum(Xsd * Xsd, axis=1)) ** 4 - np.einsum("ij,ji->i", Ks, np.linalg.solve(K, Ks.T))
    pred, std = model.predict(Xs, return_std=True)
    np.testing.assert_allclose(pred, mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(std, np.sqrt(np.maximum(var, 0)), rtol=1e-3, atol=1e-5)
    assert model.y_mean_ == pytest.approx(y.mean())
    np.testing.assert_allclose(model.in_sample_, model.predict(X), atol=1e-6)


def test_sparse_with_every_row_equals_exact_and_approximates_with_fewer(data):
    X, y, Xs, ys = data
    exact = GPR().fit(X, y)
    full = GPR(solver="sparse", n_inducing=len(X)).fit(X, y)
    p_e, s_e = exact.predict(Xs, return_std=True)
    p_f, s_f = full.predict(Xs, return_std=True)
    np.testing.assert_allclose(p_f, p_e, atol=1e-6)
    np.testing.assert_allclose(s_f, s_e, rtol=1e-4, atol=1e-6)
    few = GPR(solver="sparse", n_inducing=150).fit(X, y)
    p_s, s_s = few.predict(Xs, return_std=True)
    rmse = lambda p: np.sqrt(np.mean((p - ys) ** 2))  # noqa: E731
    assert len(few.inducing_) == 150 and len(np.unique(few.inducing_)) == 150
    assert rmse(p_s) < 1.5 * rmse(p_e)
    assert np.all(s_s >= s_e - 1e-6)  # fewer inducing points: never more certain


def test_farthest_point_sampling_spreads_out():
    rng = np.random.default_rng(0)
    clusters = np.repeat(np.eye(5), 40, axis=0) + 0.01 * rng.normal(size=(200, 5))
    chosen = farthest_point_sampling(clusters, 5)
    assert sorted(chosen // 40) == [0, 1, 2, 3, 4]


def test_polynomial_kernel_blocks():
    rng = np.random.default_rng(2)
    A = rng.normal(size=(5000, 4)) / 2
    K = polynomial_kernel(A, A[:7], degree=3)
    np.testing.assert_allclose(K, (1 + A @ A[:7].T) ** 3)


def test_scikit_learn_estimator(data):
    X, y, Xs, ys = data
    model = clone(GPR(degree=2, noise=0.1, solver="sparse", n_inducing=100))
    assert model.get_params()["degree"] == 2
    assert model.fit(X, y).score(Xs, ys) > 0.5
    with pytest.raises(ZifvizError, match="features"):
        model.predict(Xs[:, :10])
    with pytest.raises(ZifvizError, match="not fitted"):
        GPR().predict(Xs)
    with pytest.raises(ZifvizError, match="NaN"):
        GPR().fit(X, np.where(np.arange(len(y)) == 3, np.nan, y))
    with pytest.raises(ZifvizError, match="solver"):
        GPR(solver="magic").fit(X, y)


@pytest.mark.parametrize("solver", ["exact", "sparse"])
def test_save_load_round_trip_and_refusals(data, tmp_path, solver):
    X, y, Xs, _ = data
    config = {"class": "zifviz.descriptors.SOAP", "zifviz_version": "0.1.0",
              "params": {"level": "AB2", "r_cut": 9.0, "sigma": 0.2}, "n_features": 30}
    model = GPR(solver=solver, n_inducing=80).fit(X, y, descriptor=config)
    meta = model.save(tmp_path / "model")
    assert meta.name == "model.json" and (tmp_path / "model.npz").exists()
    assert json.loads(meta.read_text())["descriptor"]["params"]["level"] == "AB2"
    with open(tmp_path / "model.npz", "rb") as fh:
        assert fh.read(2) == b"PK"  # a zip of .npy arrays, not a pickle
    other_version = {**config, "zifviz_version": "9.9"}
    again = GPR.load(tmp_path / "model.npz", descriptor=other_version, n_features=30)
    p0, s0 = model.predict(Xs, return_std=True)
    p1, s1 = again.predict(Xs, return_std=True)
    np.testing.assert_allclose(p1, p0, rtol=1e-10)
    np.testing.assert_allclose(s1, s0, rtol=1e-6, atol=1e-9)
    assert again.get_params() == model.get_params()

    with pytest.raises(DescriptorMismatchError, match="r_cut"):
        GPR.load(tmp_path / "model", descriptor={**config, "params": {**config["params"],
                                                                      "r_cut": 5.0}})
    with pytest.raises(DescriptorMismatchError, match="features"):
        GPR.load(tmp_path / "model", n_features=31)
    with open(tmp_path / "model.npz", "ab") as fh:
        fh.write(b"junk")
    with pytest.raises(ModelFileError, match="changed"):
        GPR.load(tmp_path / "model")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ModelFileError, match="model.json|bad.json"):
        GPR.load(tmp_path / "bad")
    with pytest.raises(ModelFileError, match="no such"):
        GPR.load(tmp_path / "missing")


def test_small_noise_with_identical_rows_falls_back_to_float64(data):
    X, y, Xs, _ = data
    copies = np.concatenate([X[:200]] * 3)  # identical environments, as in copied frames
    target = np.concatenate([y[:200]] * 3)
    model = GPR(noise=0.001).fit(copies, target)  # float32 kernel: indefinite at 1e-6
    assert np.sqrt(np.mean((model.predict(X[:200]) - y[:200]) ** 2)) < 0.01
    with pytest.raises(ZifvizError, match="positive definite"):
        GPR(noise=1e-12).fit(np.concatenate([copies, copies + 1e-9]), np.concatenate([target] * 2))
