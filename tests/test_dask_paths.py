"""Every long loop on a two-worker Dask cluster gives exactly the serial result.

One ``LocalCluster`` of two single-threaded worker *processes* (what a laptop or an HPC job
runs: frames, models and results really cross process boundaries, pickled) is shared by the
module: descriptors over frames (SOAP, BPSF), grid points (``grid_search``), trajectory frames
(``transitions.classify_trajectory``) and a data build (``hzif.build``, byte for byte).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

import zifviz
from zifviz.datasets import load_demo

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None,
                                  silence_logs=logging.ERROR) as cluster, \
            distributed.Client(cluster) as c:
        assert len(c.nthreads()) == 2
        yield c


@pytest.fixture(scope="module")
def energy_frames():
    ds = load_demo("energies")
    info = ds.frames_info
    picks = info.drop_duplicates("framework").index[:8]
    return [ds[info.index.get_loc(i)] for i in picks]


@pytest.fixture(scope="module")
def one_run():
    """Twenty frames of one NPT run of ZIF-4 (one structure, as a trajectory)."""
    ds = load_demo("phases")
    info = ds.frames_info
    rows = info[(info["phase"] == "ZIF-4") & (info["source_set"] == "NPT")].index[:20]
    return [ds[info.index.get_loc(i)] for i in rows]


def _executed(client) -> dict:
    """Tasks each worker has run so far."""
    return client.run(lambda dask_worker: dask_worker.state.executed_count)


def _ran_on_both_workers(client, before: dict) -> bool:
    """Both workers have run tasks since ``before`` (the work was really spread)."""
    after = _executed(client)
    return len(after) == 2 and all(after[w] > before.get(w, 0) for w in after)


def test_soap_over_frames(client, energy_frames):
    from zifviz.descriptors import SOAP

    before = _executed(client)
    for level in ("atomistic", "AB2"):
        soap = SOAP.seed000(level, 5.0, 0.5, n_max=4, l_max=3, progress=False)
        serial = soap.transform(energy_frames)
        np.testing.assert_array_equal(soap.transform(energy_frames, client=client), serial)
        assert serial.dtype == np.float32 and len(serial) == len(
            zifviz.environment_table(energy_frames))
    assert _ran_on_both_workers(client, before)


def test_bpsf_over_frames(client, one_run, energy_frames):
    from zifviz.descriptors import BPSF

    frames = one_run + energy_frames
    bpsf = BPSF(progress=False)
    serial = bpsf.transform(frames)
    np.testing.assert_array_equal(bpsf.transform(frames, client=client), serial)
    # a generator (streamed, a bounded number of chunks in flight) gives the same rows
    np.testing.assert_array_equal(bpsf.transform(iter(frames), client=client), serial)


def test_grid_points(client, energy_frames, tmp_path):
    """Identical with the workers' BLAS threading: Dask workers run one BLAS thread each, and
    the GPR's float32 kernel products summed in another order move fold RMSEs by ~1e-6 eV."""
    from threadpoolctl import threadpool_limits

    from zifviz.gpr import GPR
    from zifviz.gridsearch import grid_search

    settings = dict(n_max=4, l_max=3, n_splits=3, estimator=GPR(degree=2), progress=False)
    args = (energy_frames, ["A", "AB2"], [4.0, 6.0], [0.3, 0.6])
    with threadpool_limits(1):
        serial = grid_search(*args, **settings)
    before = _executed(client)
    on_dask = grid_search(*args, client=client, out=tmp_path / "grid.csv", **settings)
    assert _ran_on_both_workers(client, before)
    columns = ["level", "r_cut", "sigma", "n_max", "test_rmse", "train_rmse",
               "fold0_test_rmse", "settings_hash"]
    pd.testing.assert_frame_equal(on_dask[columns], serial[columns], check_exact=True)
    written = pd.read_csv(tmp_path / "grid.csv")
    assert len(written) == 8 and set(written["settings_hash"]) == set(serial["settings_hash"])


def test_trajectory_frames(client, one_run, tmp_path):
    from zifviz import transitions
    from zifviz.datasets import demo_model_path

    path = tmp_path / "run.extxyz"
    zifviz.write(path, one_run)
    model = demo_model_path("phases-bpsf")
    serial = transitions.classify_trajectory(path, model, chunk_frames=3, progress=False)
    on_dask = transitions.classify_trajectory(path, model, chunk_frames=3, client=client,
                                              progress=False)
    pd.testing.assert_frame_equal(on_dask, serial, check_exact=True)
    assert len(serial) == 20 * 16
    pd.testing.assert_frame_equal(transitions.phase_fractions(on_dask),
                                  transitions.phase_fractions(serial))


def test_data_build_byte_for_byte(client, tmp_path):
    """The smoke frameworks, from the shipped relaxed structures: the Dask build writes the
    same bytes as the serial one (each framework in a fresh process)."""
    from zifviz import hzif
    from zifviz.datasets import demo_dir

    relaxed = demo_dir() / "hzif-relaxed.extxyz.gz"
    if not relaxed.is_file():
        pytest.skip("the shipped relaxed frameworks are not in this checkout")
    serial = hzif.build(tmp_path / "serial", "smoke", inputs=hzif.frameworks("smoke")[0],
                        relaxed=relaxed, isolate=True, progress=False)
    on_dask = hzif.build(tmp_path / "dask", "smoke", inputs=hzif.frameworks("smoke")[0],
                         relaxed=relaxed, client=client, progress=False)
    assert on_dask.read_bytes() == serial.read_bytes()
    assert len(list(zifviz.iread(on_dask))) > 2


def test_data_build_time_limit_holds_on_workers(client, tmp_path):
    """Each framework runs in a fresh process on the worker, where the time limit (a signal in
    the main thread) works: a framework over it is dropped, as in a local build."""
    import json

    from zifviz import hzif

    fws = hzif.frameworks("smoke")[0][:1]
    hzif.build(tmp_path / "b", "smoke", inputs=fws, client=client, max_seconds=0.01,
               progress=False)
    summary = json.loads((tmp_path / "b" / "frameworks" / f"{fws[0].code}.json").read_text())
    assert summary["status"] == "dropped" and "took longer" in summary["reason"]
