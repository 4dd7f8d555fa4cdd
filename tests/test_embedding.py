"""TSNEMap: the map of reference rows, new rows placed on it, save/load without pickle."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from zifviz.embedding import TSNEMap
from zifviz.errors import ModelFileError, ZifvizError

FAST = dict(n_iter=150, early_exaggeration_iter=75, n_jobs=1, progress=False)


def _clusters(n: int, d: int = 20, k: int = 4, seed: int = 0):
    """``n`` rows around ``k`` well separated centres; returns rows, labels, centres."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, d)) * 6
    labels = rng.integers(0, k, n)
    return (centres[labels] + rng.normal(size=(n, d))).astype(np.float32), labels, centres


@pytest.fixture(scope="module")
def fitted():
    X, labels, centres = _clusters(400)
    return TSNEMap(**FAST).fit(X), X, labels, centres


def test_fit_shapes_and_clusters(fitted):
    tsne, X, labels, _ = fitted
    assert tsne.embedding_.shape == (len(X), 2)
    assert np.isfinite(tsne.embedding_).all()
    assert tsne.neighbors_ == "exact" and tsne.n_features_in_ == X.shape[1]
    assert np.isfinite(tsne.kl_divergence_) and tsne.kl_divergence_ > 0
    # well separated clusters stay apart: every point's nearest map neighbour is in its cluster
    d = np.linalg.norm(tsne.embedding_[:, None] - tsne.embedding_[None], axis=2)
    np.fill_diagonal(d, np.inf)
    assert (labels[d.argmin(axis=1)] == labels).mean() > 0.98


def test_transform_places_new_rows_without_moving_the_map(fitted):
    tsne, X, labels, centres = fitted
    reference = tsne.embedding_.copy()
    rng = np.random.default_rng(1)
    new_labels = rng.integers(0, len(centres), 60)
    X_new = (centres[new_labels] + rng.normal(size=(60, X.shape[1]))).astype(np.float32)
    placed = tsne.transform(X_new)
    assert placed.shape == (60, 2) and np.isfinite(placed).all()
    np.testing.assert_array_equal(tsne.embedding_, reference)
    np.testing.assert_array_equal(tsne.transform(X_new), placed)  # repeatable
    # each new row lands among the reference rows of its own cluster
    d = np.linalg.norm(placed[:, None] - reference[None], axis=2)
    assert (labels[d.argmin(axis=1)] == new_labels).mean() > 0.95


def test_save_load_round_trip_places_points_identically(fitted, tmp_path):
    tsne, X, _, _ = fitted
    X_new = X[:30] + 0.05
    before = tsne.transform(X_new)
    path = tsne.save(tmp_path / "map.npz")
    with zipfile.ZipFile(path) as z:  # arrays and a JSON header, nothing pickled
        assert sorted(z.namelist()) == ["data.npy", "embedding.npy", "header.npy"]
    with np.load(path, allow_pickle=False) as z:
        header = json.loads(str(z["header"]))
    assert header["class"] == "TSNEMap" and header["n_samples"] == len(X)
    assert header["params"]["perplexity"] == 30
    loaded = TSNEMap.load(path)
    np.testing.assert_array_equal(loaded.embedding_, tsne.embedding_)
    np.testing.assert_array_equal(loaded.transform(X_new), before)
    assert loaded.get_params() == tsne.get_params()


def test_annoy_map_round_trip(tmp_path):
    """Above 1,000 rows "auto" uses Annoy; its index is rebuilt identically on load, also
    when the placement runs with another number of threads."""
    X, _, _ = _clusters(1200, d=10, seed=3)
    tsne = TSNEMap(**dict(FAST, n_iter=60, early_exaggeration_iter=40, n_jobs=2)).fit(X)
    assert tsne.neighbors_ == "annoy"
    X_new = X[:40] + 0.1
    before = tsne.transform(X_new, n_iter=50)
    loaded = TSNEMap.load(tsne.save(tmp_path / "annoy.npz"), n_jobs=1)
    np.testing.assert_array_equal(loaded.transform(X_new, n_iter=50), before)


def test_bad_input_and_files(fitted, tmp_path):
    tsne, X, _, _ = fitted
    with pytest.raises(ZifvizError, match="features"):
        tsne.transform(X[:5, :10])
    bad = X[:50].copy()
    bad[3, 2] = np.nan
    with pytest.raises(ZifvizError, match="NaN"):
        TSNEMap(**FAST).fit(bad)
    with pytest.raises(ZifvizError, match="neighbors"):
        TSNEMap(neighbors="hnsw", **FAST).fit(X)
    with pytest.raises(ZifvizError, match="not fitted"):
        TSNEMap().transform(X)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip")
    with pytest.raises(ModelFileError, match="junk.npz"):
        TSNEMap.load(junk)
    with pytest.raises(ModelFileError, match="no such file"):
        TSNEMap.load(tmp_path / "missing.npz")
    other = tmp_path / "other.npz"
    np.savez(other, header=np.array(json.dumps({"class": "GPR"})), data=X, embedding=X[:, :2])
    with pytest.raises(ModelFileError, match="not a TSNEMap"):
        TSNEMap.load(other)


def test_map_figure_panels_and_fixed_colours():
    import pandas as pd

    from zifviz.embedding import (category_colors, map_figure, neighbour_agreement,
                                  neighbour_labels)
    from zifviz.palettes import palette_for

    rng = np.random.default_rng(0)
    table = pd.DataFrame({"phase": rng.choice(["liquid", "ZIF-4", "glass"], 90),
                          "ensemble": rng.choice(["NVT", "NPT"], 90),
                          "confidence": rng.uniform(size=90)})
    xy = rng.normal(size=(90, 2))
    fig = map_figure(xy, table, color_by="phase", facet="ensemble")
    coloured = [t for t in fig.data if t.name]
    assert {t.name for t in coloured} == {"liquid", "ZIF-4", "glass"}
    assert all(t.marker.color == palette_for("phase")[t.name] for t in coloured)
    # each panel holds its own rows in colour (the rest grey behind): all rows once per panel
    assert sum(len(t.x) for t in coloured) == 90
    assert len(fig.layout.annotations) == 2  # one title per panel
    assert list(category_colors("predicted", table["phase"])) == ["ZIF-4", "glass", "liquid"]
    num = map_figure(xy, table, color_by="confidence", background=xy[:10])
    assert len(num.data[0].x) == 10 and len(num.data[1].x) == 90
    with pytest.raises(ZifvizError, match="no column"):
        map_figure(xy, table, color_by="nope")
    with pytest.raises(ZifvizError, match="not"):
        map_figure(xy[:5], table)
    labels = np.where(xy[:, 0] > 0, "a", "b")
    assert neighbour_agreement(xy, labels, xy[:20] + 1e-3, labels[:20], k=1) == 1.0
    np.testing.assert_array_equal(neighbour_labels(xy, labels, xy[:20] + 1e-3, k=1), labels[:20])
    with pytest.raises(ZifvizError, match="same columns"):
        neighbour_labels(xy, labels, np.zeros((3, 3)))
