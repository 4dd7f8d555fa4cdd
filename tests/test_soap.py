"""zifviz.descriptors.SOAP: rows aligned with the EnvironmentTable at every level, cache,
parallel and Dask equal serial, config round trip, clear errors for bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from dscribe.descriptors import SOAP as DScribeSOAP

import zifviz
from zifviz.coarse import B_SYMBOL
from zifviz.datasets import load_demo
from zifviz.descriptors import SOAP
from zifviz.descriptors.soap import largest_n_max
from zifviz.errors import PerceptionError, StructureError, ZifvizError


@pytest.fixture(scope="module")
def frames():
    """Four frames of the demo energies set, from two different frameworks."""
    ds = load_demo("energies")
    info = ds.frames_info
    first = info.index[info["framework"] == info["framework"].iloc[0]][:2]
    other = info.index[info["framework"] != info["framework"].iloc[0]][:2]
    picks = [ds.frames_info.index.get_loc(i) for i in list(first) + list(other)]
    return [ds[i] for i in picks]


def small(level, **kw):
    settings = {"r_cut": 4.0, "sigma": 0.5, "n_max": 4, "l_max": 3, "progress": False}
    return SOAP(level=level, **{**settings, **kw})


def direct(system, centres, species, r_cut=4.0, n_max=4, l_max=3, sigma=0.5):
    """dscribe called directly, rows normalised."""
    soap = DScribeSOAP(species=species, r_cut=r_cut, n_max=n_max, l_max=l_max, sigma=sigma,
                       rbf="gto", average="off", periodic=True)
    x = soap.create(system, centers=list(centres))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.mark.parametrize("level", ["atomistic", "AB2", "A"])
def test_rows_aligned_with_environment_table(frames, level):
    table = zifviz.environment_table(frames)
    X = small(level).transform(frames)
    assert X.shape == (len(table), small(level).n_features)
    assert X.dtype == np.float32
    assert np.allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-5)
    # each row is the SOAP of the Zn (A bead) that table row names
    for pos, atoms in enumerate(frames):
        rows = table.index[table["frame_pos"] == pos].to_numpy()
        zn = table.loc[rows, "zn"].to_numpy()
        if level == "atomistic":
            expect = direct(atoms, zn, ["Zn", "N", "C", "H"])
        else:
            cg = zifviz.coarse_grain(atoms, level)
            a_beads = np.flatnonzero(cg.arrays["bead"] == "A")
            assert np.array_equal(cg.arrays["parent"][a_beads], zn)
            species = ["Zn", B_SYMBOL] if level == "AB2" else ["Zn"]
            expect = direct(cg, a_beads, species)
        np.testing.assert_allclose(X[rows], expect, rtol=1e-4, atol=1e-5)


def test_order_follows_frames(frames):
    soap = small("AB2")
    X = soap.transform(frames)
    X_rev = soap.transform(frames[::-1])
    n = [int((f.numbers == 30).sum()) for f in frames]
    starts = np.concatenate([[0], np.cumsum(n)])
    expect = np.concatenate([X[starts[i]:starts[i + 1]] for i in reversed(range(len(frames)))])
    assert np.array_equal(X_rev, expect)
    assert np.array_equal(soap.transform(frames[2]), X[starts[2]:starts[3]])
    assert np.array_equal(soap.transform(iter(frames)), X)  # a stream without len()
    assert np.array_equal(small("AB2", n_jobs=2).transform(iter(frames)), X)


def test_cache_hit_gives_identical_arrays(frames, tmp_path, monkeypatch):
    soap = small("A", cache=tmp_path)
    first = soap.transform(frames)
    folder = tmp_path / soap.config_key()
    assert len(list(folder.glob("*.npy"))) == len(frames)
    assert json.loads((folder / "config.json").read_text())["params"]["level"] == "A"

    def refuse(*args, **kwargs):
        raise AssertionError("computed although cached")

    monkeypatch.setattr("zifviz.descriptors.soap._Computer.rows", refuse)
    second = soap.transform(frames)
    assert np.array_equal(first, second) and second.dtype == first.dtype
    # other settings: another key, computed again
    assert small("A", cache=tmp_path, r_cut=4.5).config_key() != soap.config_key()


def test_cache_default_folder_from_environment(frames, tmp_path, monkeypatch):
    monkeypatch.setenv("ZIFVIZ_CACHE_DIR", str(tmp_path))
    soap = small("A", cache=True)
    soap.transform(frames[:1])
    assert list((tmp_path / "soap" / soap.config_key()).glob("*.npy"))


def test_processes_and_dask_equal_serial(frames):
    serial = small("AB2").transform(frames)
    assert np.array_equal(small("AB2", n_jobs=2).transform(frames), serial)
    from distributed import Client

    with Client(processes=False, n_workers=1, threads_per_worker=2,
                dashboard_address=None) as client:
        assert np.array_equal(small("AB2").transform(frames, client=client), serial)


def test_single_channel_and_seed_settings(frames):
    assert SOAP.seed003().n_features == 780
    single = SOAP(level="atomistic", r_cut=4.0, sigma=0.5, n_max=4, l_max=3,
                  species="single", progress=False)
    X = single.transform(frames[0])
    one = frames[0].copy()
    one.numbers[:] = 30
    zn = np.flatnonzero(frames[0].numbers == 30)
    np.testing.assert_allclose(X, direct(one, zn, ["Zn"]), rtol=1e-4, atol=1e-5)
    s = SOAP.seed000("AB2", r_cut=9.0, sigma=0.2)
    assert (s.n_max, s.l_max, s.config["channels"]) == (16, 8, ["A", "B"])
    assert SOAP.seed000("A", r_cut=2.5, sigma=0.3).n_max == largest_n_max(2.5, 8) < 16
    for r_cut in (2.5, 4.0, 5.0, 7.25):
        assert SOAP.seed000("A", r_cut=r_cut, sigma=0.3).n_features > 0  # dscribe accepts it


def test_config_round_trip_and_params():
    soap = SOAP(level="ab2", r_cut=6.0, sigma=0.3, n_max=6, l_max=4, dtype="float64")
    config = json.loads(json.dumps(soap.config))
    assert config["params"]["level"] == "AB2" and config["channels"] == ["A", "B"]
    assert config["dscribe_version"] and config["n_features"] == soap.n_features
    again = SOAP.from_config(config)
    assert again.config == soap.config and again.config_key() == soap.config_key()
    assert soap.get_params()["r_cut"] == 6.0
    soap.set_params(r_cut=7.0)
    assert soap.config["params"]["r_cut"] == 7.0
    with pytest.raises(ZifvizError, match="class"):
        SOAP.from_config({"class": "something else"})


def test_bad_input_raises_zifviz_errors(frames):
    silicon = bulk("Si", "diamond", a=5.43, cubic=True)
    with pytest.raises(PerceptionError, match="no Zn"):
        small("atomistic").transform(silicon)
    with pytest.raises(ZifvizError, match="level"):
        SOAP(level="martini").transform(frames[0])
    with pytest.raises(ZifvizError, match="species"):
        SOAP(species="both").transform(frames[0])
    broken = frames[0].copy()
    broken.positions[3] = np.nan
    for level in ("atomistic", "AB2", "A"):
        with pytest.raises(StructureError, match="NaN"):
            small(level).transform([frames[1], broken])
    with pytest.raises(ZifvizError, match="not ase.Atoms"):
        small("A").transform([frames[0], "frame.xyz"])
    with pytest.raises(ZifvizError, match="n_max"):
        SOAP(r_cut=2.5, n_max=16).n_features
    molecule = Atoms("Zn", positions=[[0, 0, 0]])
    with pytest.raises(StructureError, match="periodic"):
        small("A").transform(molecule)


# ---- local worker processes: rows written in place into one shared file ------------------

@pytest.fixture
def shared_dir(tmp_path, monkeypatch):
    """The shared row files go to a fresh folder (counted), so none can be left unseen."""
    calls = []
    (tmp_path / "shared").mkdir()

    def folder(expected_bytes):
        calls.append(expected_bytes)
        return tmp_path / "shared"

    monkeypatch.setattr("zifviz.descriptors.soap._shared_dir", folder)
    return tmp_path / "shared", calls


@pytest.mark.parametrize("level", ["atomistic", "AB2", "A"])
def test_two_processes_give_bit_identical_rows(frames, level, shared_dir):
    many = frames * 3  # 12 frames: several chunks per worker
    serial = small(level).transform(many)
    parallel = small(level, n_jobs=2).transform(many)
    assert type(parallel) is np.ndarray and parallel.dtype == np.float32
    assert parallel.shape == serial.shape and np.array_equal(parallel, serial)
    shared, calls = shared_dir
    assert len(calls) == 1  # one shared file for the whole call ...
    assert not list(shared.iterdir())  # ... removed afterwards
    parallel[0, 0] = 7.0  # the result is the caller's: writable, nothing else changes
    assert small(level, n_jobs=2).transform(many)[0, 0] == serial[0, 0]


def test_this_process_computes_beside_its_worker(frames, shared_dir, monkeypatch):
    """With n_jobs=2 the worker gets the first chunks and this process computes the chunks
    that find the worker's queue full, instead of waiting."""
    from zifviz.descriptors import soap as soap_module

    real = soap_module._compute_chunk_into
    here = []

    def counting(settings, chunk, path, n_features):
        here.extend(pos for pos, _, _ in chunk)
        return real(settings, chunk, path, n_features)

    # sent to the worker by name, where it is the real function
    counting.__module__, counting.__qualname__ = real.__module__, real.__qualname__
    monkeypatch.setattr(soap_module, "_compute_chunk_into", counting)
    many = frames * 6  # 24 frames
    rows = small("AB2", n_jobs=2).transform(many)
    assert np.array_equal(rows, small("AB2").transform(many))
    assert 0 < len(here) < len(many) and len(set(here)) == len(here)
    assert not list(shared_dir[0].iterdir())


def test_workers_get_the_malloc_settings(frames, shared_dir):
    """Local workers run with glibc's malloc thresholds raised (dscribe's per-frame buffers
    reused from the heap), unless the environment sets them already."""
    import os

    from zifviz.descriptors import soap as soap_module

    small("A", n_jobs=2).transform(frames)  # this process and a pool of one worker
    pool = soap_module._executor(1)
    for name, value in soap_module.WORKER_MALLOC.items():
        assert pool.submit(os.getenv, name).result() == os.environ.get(name, value)


def test_two_processes_float64_and_stream(frames, shared_dir):
    serial = small("AB2", dtype="float64").transform(frames)
    assert np.array_equal(small("AB2", dtype="float64", n_jobs=2).transform(iter(frames)), serial)
    assert small("A", n_jobs=2).transform([]).shape == (0, small("A").n_features)
    assert not list(shared_dir[0].iterdir())


def test_bad_frame_among_many_two_processes(frames, shared_dir):
    broken = frames[1].copy()
    broken.info.update(source_file="broken.extxyz", frame=7)
    broken.positions[5] = np.nan
    many = frames * 3 + [broken] + frames * 2
    for level in ("atomistic", "AB2"):
        with pytest.raises(StructureError, match=r"broken\.extxyz \(frame 7\).*NaN"):
            small(level, n_jobs=2).transform(many)
        assert not list(shared_dir[0].iterdir())
    # the pool still works afterwards
    assert np.array_equal(small("A", n_jobs=2).transform(frames), small("A").transform(frames))


def test_two_processes_use_and_fill_the_cache(frames, tmp_path, shared_dir, monkeypatch):
    cache = tmp_path / "cache"
    serial = small("AB2").transform(frames)
    small("AB2", cache=cache).transform(frames[1:3])  # two of four frames cached
    soap = small("AB2", cache=cache, n_jobs=2)
    assert np.array_equal(soap.transform(frames), serial)  # cached rows placed in order
    folder = cache / soap.config_key()
    assert len(list(folder.glob("*.npy"))) == len(frames)  # the workers' rows were cached

    def refuse(*args, **kwargs):
        raise AssertionError("computed although cached")

    monkeypatch.setattr("zifviz.descriptors.soap._compute_chunk_into", refuse)
    again = soap.transform(frames)
    assert np.array_equal(again, serial)
    assert not list(shared_dir[0].iterdir())


def test_shared_rows_block(tmp_path):
    from zifviz.descriptors.shared_rows import RowWriter, SharedRows

    with SharedRows(3, "float32", folder=tmp_path) as block:
        assert block.reserve(2) == 0 and block.reserve(0) == 2 and block.reserve(1) == 2
        block.write(2, np.array([[7.0, 8.0, 9.0]]))
        with RowWriter(block.path, "float32", 3) as writer:  # as a worker does
            writer.write(0, np.array([[1, 2, 3], [4, 5, 6]]))
            with pytest.raises(ZifvizError, match="too short"):
                writer.write(2, np.zeros((2, 3)))
        assert np.array_equal(block.view(1, 2), [[4, 5, 6], [7, 8, 9]])
        result = block.result()
        block._free = 10 * block.row_bytes  # a nearly full folder: a clear error, no crash
        with pytest.raises(ZifvizError, match="do not fit"):
            block.reserve(8)
    assert not list(tmp_path.iterdir())
    assert np.array_equal(result, np.arange(1, 10, dtype=np.float32).reshape(3, 3))
    with pytest.raises(ZifvizError, match="gone"):
        RowWriter(block.path, "float32", 3)


def test_two_processes_sending_rows_back(frames, shared_dir, monkeypatch):
    """Where rows cannot be shared in place (no os.pwrite), the workers send them back."""
    monkeypatch.setattr("zifviz.descriptors.soap._IN_PLACE", False)
    serial = small("AB2").transform(frames * 2)
    assert np.array_equal(small("AB2", n_jobs=2).transform(frames * 2), serial)
    assert shared_dir[1] == []  # no shared file made


def test_rows_from_processes_travel_to_joblib_workers(frames, shared_dir):
    """The result is a plain array to joblib (not a memmap of the removed shared file)."""
    from joblib import Parallel, delayed

    X = small("A", n_jobs=2).transform(frames)
    sums = Parallel(n_jobs=2, backend="loky")(delayed(np.sum)(X[i:i + 5]) for i in (0, 5))
    assert np.allclose(sums, [X[:5].sum(), X[5:10].sum()])
    assert np.array_equal(np.load(_saved(X, shared_dir[0])), X)


def _saved(X, folder):
    path = folder.parent / "X.npy"
    np.save(path, X)
    return path
