"""zifviz.gridsearch.grid_search: tidy rows, atomic CSV after each point, resume after an
interruption computes only the missing points, other settings never mixed in, parallel = serial."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import zifviz
import zifviz.gridsearch as gridsearch
from zifviz.datasets import load_demo
from zifviz.errors import OutputExistsError
from zifviz.gpr import GPR
from zifviz.gridsearch import (SEED000_RCUTS, SEED000_SIGMAS, GridSettingsWarning,
                               grid_search)

SMALL = {"n_max": 4, "l_max": 3, "n_splits": 3, "estimator": GPR(degree=2), "progress": False}


@pytest.fixture(scope="module")
def frames():
    ds = load_demo("energies")
    info = ds.frames_info
    picks = info.drop_duplicates("framework").index[:6]
    return [ds[info.index.get_loc(i)] for i in picks]


@pytest.fixture(scope="module")
def table(frames):
    return zifviz.environment_table(frames)


def test_seed000_grid():
    assert len(SEED000_SIGMAS) == 19 and len(SEED000_RCUTS) == 27
    assert SEED000_SIGMAS[0] == 0.05 and SEED000_SIGMAS[-1] == 2.0
    assert SEED000_RCUTS[0] == 2.5 and SEED000_RCUTS[-1] == 15.0


def test_tidy_rows_written_as_they_finish(frames, table, tmp_path):
    out = tmp_path / "grid.csv"
    result = grid_search(frames, "A", [4.0, 6.0], [0.3, 0.6], target=["eps_local", "eps_zn"],
                         n_train=[20, None], out=out, table=table, **SMALL)
    assert len(result) == 2 * 2 * 2 * 2
    assert list(result[["r_cut", "sigma"]].iloc[0]) == [4.0, 0.3]
    assert set(result.columns) >= {"level", "r_cut", "sigma", "n_max", "l_max", "target",
                                   "n_train", "train_rmse", "test_rmse", "fold0_test_rmse",
                                   "fold2_train_rmse", "seconds", "settings_hash", "details"}
    assert (result["test_rmse"] > 0).all() and result["settings_hash"].nunique() == 1
    assert result["n_train"].isna().sum() == 8 and (result["n_train"].dropna() == 20).all()
    on_disk = pd.read_csv(out)
    assert len(on_disk) == len(result)
    np.testing.assert_allclose(np.sort(on_disk["test_rmse"]), np.sort(result["test_rmse"]))
    # the stored details are what the grid explorer reads
    from zifviz.widgets.grid_explorer import read_point_details

    point = read_point_details(tmp_path / result["details"].iloc[0])
    assert len(point["parity"]) == len(table)
    fold_mean = result[[f"fold{k}_test_rmse" for k in range(3)]].to_numpy()
    assert np.all(fold_mean.min(axis=1) <= result["test_rmse"] + 1e-12)


def test_resume_after_interruption_computes_only_missing_points(frames, table, tmp_path,
                                                                monkeypatch):
    out = tmp_path / "grid.csv"
    args = (frames, "AB2", [4.0, 5.0, 6.0], [0.4, 0.8])
    reference = grid_search(*args, table=table, **SMALL)  # in memory, uninterrupted

    real = gridsearch._evaluate
    calls = []

    def dies_after_three(descriptor, points, common):
        if len(calls) == 3:
            raise KeyboardInterrupt("killed")
        calls.append(descriptor)
        return real(descriptor, points, common)

    monkeypatch.setattr(gridsearch, "_evaluate", dies_after_three)
    with pytest.raises(KeyboardInterrupt):
        grid_search(*args, out=out, table=table, **SMALL)
    assert len(pd.read_csv(out)) == 3  # every finished point is on disk

    calls.clear()
    monkeypatch.setattr(gridsearch, "_evaluate",
                        lambda d, p, c: (calls.append(d), real(d, p, c))[1])
    resumed = grid_search(*args, out=out, table=table, **SMALL)
    assert len(calls) == 3  # only the missing points
    assert len(pd.read_csv(out)) == 6
    cols = ["level", "r_cut", "sigma", "train_rmse", "test_rmse"]
    pd.testing.assert_frame_equal(resumed[cols], reference[cols], check_exact=False, rtol=1e-6)

    calls.clear()
    again = grid_search(*args, out=out, table=table, **SMALL)
    assert calls == [] and len(again) == 6

    with pytest.raises(OutputExistsError, match="resume"):
        grid_search(*args, out=out, table=table, resume=False, **SMALL)


def test_other_settings_never_mixed(frames, table, tmp_path):
    out = tmp_path / "grid.csv"
    first = grid_search(frames, "A", [4.0], [0.3, 0.6], out=out, table=table, **SMALL)
    other = {**SMALL, "n_splits": 2}
    with pytest.warns(GridSettingsWarning, match="n_splits: 3 then, 2 now"):
        second = grid_search(frames, "A", [4.0], [0.3, 0.6], out=out, table=table, **other)
    assert second["settings_hash"].nunique() == 1
    assert second["settings_hash"].iloc[0] != first["settings_hash"].iloc[0]
    assert "fold2_test_rmse" not in second.dropna(axis=1).columns
    on_disk = pd.read_csv(out)
    assert len(on_disk) == 4 and on_disk["settings_hash"].nunique() == 2
    # other frames: another hash as well
    with pytest.warns(GridSettingsWarning, match="frames"):
        grid_search(frames[:5], "A", [4.0], [0.3], out=out, **SMALL)


def test_processes_and_dask_equal_serial(frames, table):
    args = (frames, "A", [4.0, 6.0], [0.3, 0.6])
    serial = grid_search(*args, table=table, **SMALL)
    cols = ["r_cut", "sigma", "test_rmse", "train_rmse"]
    parallel = grid_search(*args, table=table, n_jobs=2, **SMALL)
    pd.testing.assert_frame_equal(parallel[cols], serial[cols])
    from distributed import Client

    with Client(processes=False, n_workers=1, threads_per_worker=2,
                dashboard_address=None) as client:
        dask = grid_search(*args, table=table, client=client, **SMALL)
    pd.testing.assert_frame_equal(dask[cols], serial[cols])
