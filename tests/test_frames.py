"""Frames reached fast in any order: the frame scanner, the decoded frame cache, Trajectory."""

from __future__ import annotations

import gzip
import io
import json
import os

import ase.io
import ase.io.formats as ase_formats
import numpy as np
import pandas as pd
import pytest
from ase import Atoms

import zifviz
from zifviz import frames as zframes
from zifviz.errors import StructureFileError

TYPES = {"C": 1, "H": 2, "N": 3, "Zn": 4}
TYPE_MAP = {v: k for k, v in TYPES.items()}


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "frame-cache"
    monkeypatch.setenv("ZIFVIZ_CACHE_DIR", str(folder))
    return folder


@pytest.fixture()
def frames(zif4):
    base = zif4.copy()
    base.info.clear()
    del base.arrays["spacegroup_kinds"]
    out = []
    rng = np.random.default_rng(0)
    for k in range(7):
        a = base.copy()
        a.positions += rng.normal(0, 0.05, a.positions.shape)
        a.arrays["energies"] = np.full(len(a), 0.1 * k)
        a.info.update(step=10 * k, temperature=300.0 + k, phase="ZIF-4" if k < 4 else "glass")
        out.append(a)
    return out


def _dump(path, frames):
    with open(path, "w") as fh:
        for k, a in enumerate(frames):
            L = a.cell.lengths()
            fh.write(f"ITEM: TIMESTEP\n{10 * k}\nITEM: NUMBER OF ATOMS\n{len(a)}\n"
                     f"ITEM: BOX BOUNDS pp pp pp\n0 {L[0]}\n0 {L[1]}\n0 {L[2]}\n"
                     "ITEM: ATOMS id type x y z\n")
            order = np.random.default_rng(k).permutation(len(a))  # dumps are not sorted
            for i in order:
                p = a.positions[i]
                fh.write(f"{i + 1} {TYPES[a[i].symbol]} {p[0]:.8f} {p[1]:.8f} {p[2]:.8f}\n")


def _write_all(tmp_path, frames):
    ase.io.write(tmp_path / "t.extxyz", frames)
    with gzip.open(tmp_path / "t.extxyz.gz", "wt") as fh:
        ase.io.write(fh, frames, format="extxyz")
    with open(tmp_path / "t.xyz", "w") as fh:
        for a in frames:
            fh.write(f"{len(a)}\nplain comment, not key=value\n")
            for s, p in zip(a.get_chemical_symbols(), a.positions):
                fh.write(f"{s} {p[0]:.8f} {p[1]:.8f} {p[2]:.8f}\n")
    _dump(tmp_path / "t.dump", frames)
    ase.io.write(tmp_path / "t.traj", frames)
    return {"extxyz": (tmp_path / "t.extxyz", {}), "gzip": (tmp_path / "t.extxyz.gz", {}),
            "xyz": (tmp_path / "t.xyz", {"format": "xyz"}),
            "dump": (tmp_path / "t.dump", {"type_map": TYPE_MAP}),
            "traj": (tmp_path / "t.traj", {})}


def test_every_format_random_access_matches_the_frames(tmp_path, frames):
    for name, (path, kw) in _write_all(tmp_path, frames).items():
        traj = zifviz.Trajectory(path, **kw)
        assert len(traj) == 7, name
        for i in (5, 0, 6, 2, -1, -7):
            atoms = traj[i]
            ref = frames[i]
            np.testing.assert_allclose(atoms.positions, ref.positions, atol=1e-6, err_msg=name)
            if name != "xyz":  # plain XYZ has no cell
                np.testing.assert_allclose(atoms.cell.array, ref.cell.array, atol=1e-6,
                                           err_msg=name)
                np.testing.assert_allclose(traj.cell(i), ref.cell.array, atol=1e-6)
            assert atoms.get_chemical_symbols() == ref.get_chemical_symbols(), name
            assert atoms.info["frame"] == i % 7 and atoms.info["source_file"] == str(path)
            pos = traj.positions(i)
            assert pos.dtype == np.float32 and pos.shape == (len(ref), 3)
            np.testing.assert_allclose(pos, ref.positions, atol=1e-4)
            np.testing.assert_array_equal(traj.numbers(i), ref.numbers)
        if name in ("extxyz", "gzip"):  # (ASE's .traj does not keep extra arrays)
            assert traj[3].arrays["energies"][0] == pytest.approx(0.3)
        if name in ("extxyz", "gzip", "traj"):
            assert traj[3].info["phase"] == "ZIF-4" and traj[5].info["step"] == 50


def test_slices_are_lazy_views(tmp_path, frames):
    path = tmp_path / "t.extxyz.gz"
    with gzip.open(path, "wt") as fh:
        ase.io.write(fh, frames, format="extxyz")
    traj = zifviz.Trajectory(path)
    two = traj[0:2]
    assert isinstance(two, zifviz.Trajectory) and len(two) == 2
    assert [a.info["frame"] for a in two] == [0, 1]
    every = traj[::3]
    assert list(every.frames) == [0, 3, 6]
    assert every[-1].info["frame"] == 6
    np.testing.assert_allclose(every.positions(1), frames[3].positions, atol=1e-4)
    assert list(every[1:].frames) == [3, 6]  # a view of a view
    assert list(traj[::-2].frames) == [6, 4, 2, 0]
    assert list(every.frame_info["frame"]) == [0, 3, 6]
    with pytest.raises(IndexError, match="out of range"):
        every[3]
    with pytest.raises(TypeError):
        traj["a"]
    picked = traj[[5, 1, -1]]
    assert list(picked.frames) == [5, 1, 6] and picked[0].info["frame"] == 5
    mask = np.array([k % 2 == 1 for k in range(7)])
    assert list(traj[mask].frames) == [1, 3, 5]
    with pytest.raises(IndexError):
        traj[[0, 9]]


def test_frame_info_from_the_index(tmp_path, frames):
    ase.io.write(tmp_path / "t.extxyz", frames)
    info = zifviz.Trajectory(tmp_path / "t.extxyz").frame_info
    assert isinstance(info, pd.DataFrame) and len(info) == 7
    assert list(info["frame"]) == list(range(7))
    assert list(info["step"]) == [10 * k for k in range(7)]
    assert set(info["phase"]) == {"ZIF-4", "glass"} and (info["n_atoms"] == 272).all()
    assert "error" not in info  # only when a frame is unreadable
    ase.io.write(tmp_path / "t.traj", frames)
    tinfo = zifviz.Trajectory(tmp_path / "t.traj").frame_info
    assert list(tinfo["step"]) == [10 * k for k in range(7)]


def test_a_bad_frame_is_the_only_unreadable_one(tmp_path, frames):
    path = tmp_path / "bad.extxyz"
    ase.io.write(path, frames)
    lines = path.read_text().split("\n")
    n = len(frames[0]) + 2
    lines[4 * n + 17] = "C 1.0 not-a-number 2.0 0.5"  # an atom line of frame 4
    path.write_text("\n".join(lines))
    traj = zifviz.Trajectory(path)
    assert len(traj) == 7
    with pytest.raises(StructureFileError, match="frame 4: atom 16: 'not-a-number'"):
        traj[4]
    with pytest.raises(StructureFileError, match="frame 4"):
        traj.positions(4)
    for i in (0, 3, 5, 6):  # the frames after it stay readable
        np.testing.assert_allclose(traj[i].positions, frames[i].positions, atol=1e-6)
    info = traj.frame_info
    assert info["error"].notna().tolist() == [False] * 4 + [True] + [False] * 2
    with pytest.raises(StructureFileError, match="frame 4"):  # streaming stops at it, naming it
        list(zifviz.iread(path))


def test_bad_count_line_leaves_earlier_frames(tmp_path, frames):
    path = tmp_path / "bad.extxyz"
    ase.io.write(path, frames[:3])
    text = path.read_text()
    path.write_text(text + "garbage here\n")
    traj = zifviz.Trajectory(path)
    assert len(traj) == 4
    traj[2]
    with pytest.raises(StructureFileError, match="frame 3: expected an atom count"):
        traj[3]


def test_gzip_random_access_never_rereads_the_file(tmp_path, frames, monkeypatch):
    path = tmp_path / "t.extxyz.gz"
    with gzip.open(path, "wt") as fh:
        ase.io.write(fh, frames, format="extxyz")
    traj = zifviz.Trajectory(path)
    len(traj)  # the one indexing pass

    def forbidden(*args, **kwargs):
        raise AssertionError("the trajectory file was opened again")

    monkeypatch.setattr(ase_formats, "open_with_compression", forbidden)
    monkeypatch.setattr(gzip, "open", forbidden)
    for i in (6, 0, 3, 5):
        traj[i]
        traj.positions(i)


def test_cache_reused_invalidated_and_rebuilt_when_broken(tmp_path, frames, cache, monkeypatch):
    path = tmp_path / "t.extxyz"
    ase.io.write(path, frames)
    builds = []
    real = zframes.FrameIndex._build

    def counting(*args, **kwargs):
        builds.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(zframes.FrameIndex, "_build", staticmethod(counting))
    assert len(zifviz.Trajectory(path)) == 7 and len(builds) == 1
    assert len(zifviz.Trajectory(path)) == 7 and len(builds) == 1  # reused
    folders = [p for p in cache.iterdir()]
    assert len(folders) == 1 and (folders[0] / "meta.json").exists()
    # the file changes (size and mtime): rebuilt
    ase.io.write(path, frames[:5])
    assert len(zifviz.Trajectory(path)) == 5 and len(builds) == 2
    # a broken cache (a column file cut short, then a corrupt meta.json) is rebuilt, not trusted
    col = sorted(folders[0].glob("col*.bin"))[0]
    col.write_bytes(col.read_bytes()[:100])
    traj = zifviz.Trajectory(path)
    np.testing.assert_allclose(traj[4].positions, frames[4].positions, atol=1e-6)
    assert len(builds) == 3
    (folders[0] / "meta.json").write_text("{not json")
    assert len(zifviz.Trajectory(path)) == 5 and len(builds) == 4
    assert not [p for p in cache.iterdir() if ".tmp-" in p.name or ".old-" in p.name]


def test_unwritable_cache_folder_still_works(tmp_path, frames, monkeypatch):
    blocker = tmp_path / "file-not-folder"
    blocker.write_text("x")
    monkeypatch.setenv("ZIFVIZ_CACHE_DIR", str(blocker / "cache"))
    ase.io.write(tmp_path / "t.extxyz", frames)
    traj = zifviz.Trajectory(tmp_path / "t.extxyz")
    assert len(traj) == 7 and traj[6].info["step"] == 60


@pytest.mark.parametrize("rep", [1, 2])  # 272 atoms: token path; 2,176 atoms: pandas path
def test_fast_parser_matches_ase(frames, rep):
    a = frames[0].repeat((rep, rep, rep))
    n = len(a)
    a.set_momenta(np.random.default_rng(1).normal(size=(n, 3)))
    a.arrays["flag"] = np.arange(n) % 2 == 0
    a.arrays["kind"] = np.arange(n) % 5
    a.arrays["label"] = np.array([f"s{i % 3}" for i in range(n)])
    a.info.update(vec=np.array([1.0, 2.0, 3.0]), name="x y", flag=True, count=3)
    buf = io.StringIO()
    ase.io.write(buf, a, format="extxyz")
    data = buf.getvalue().encode()
    parsed = zframes.parse_extxyz(data)
    ours = zframes.build_atoms(parsed.columns, parsed.cell, parsed.pbc, parsed.info)
    theirs = ase.io.read(io.StringIO(buf.getvalue()), format="extxyz")
    assert ours.get_chemical_symbols() == theirs.get_chemical_symbols()
    np.testing.assert_array_equal(ours.positions, theirs.positions)
    np.testing.assert_array_equal(ours.cell.array, theirs.cell.array)
    assert (ours.pbc == theirs.pbc).all()
    for key in ("momenta", "flag", "kind", "label", "energies"):
        ref = theirs.arrays[key] if key in theirs.arrays else theirs.calc.results[key]
        np.testing.assert_array_equal(ours.arrays[key], ref)
    for key, value in theirs.info.items():
        np.testing.assert_array_equal(ours.info[key], value)
    # a bad value or a missing field is found and named, on either path
    lines = data.split(b"\n")
    bad = lines[:]
    fields = bad[2 + n // 2].split()
    bad[2 + n // 2] = b" ".join([fields[0], b"x" + fields[1]] + fields[2:])
    with pytest.raises(zframes.FrameParseError, match=f"atom {n // 2 + 1}: 'x"):
        zframes.parse_extxyz(b"\n".join(bad))
    short = lines[:]
    short[2 + n // 3] = b" ".join(short[2 + n // 3].split()[:-1])
    with pytest.raises(zframes.FrameParseError, match=f"line {n // 3 + 3} of the frame has"):
        zframes.parse_extxyz(b"\n".join(short))


def test_scanner_blank_lines_and_truncation():
    def frame(n, k):
        return f"{n}\ncomment {k}\n" + "".join(f"H {i} 0 0\n" for i in range(n))

    text = ("\n" + frame(3, 0) + "\n\n" + frame(100, 1) + frame(0, 2) + frame(2, 3)).encode()
    for chunk in (1, 7, 64, 1 << 20):  # frames cut across read chunks
        blocks = list(zframes.iter_xyz_blocks(io.BytesIO(text), chunk_size=chunk))
        assert [b.n_atoms for b in blocks] == [3, 100, 0, 2]
        assert all(text[b.start:b.end] == b.data and b.problem is None for b in blocks)
    cut = list(zframes.iter_xyz_blocks(io.BytesIO(text[:-12])))
    assert cut[-1].problem.startswith("truncated") and len(cut) == 4
    assert zframes.scan_complete_xyz(io.BytesIO(text[:-1])) == (3, len(text) - len(frame(2, 3)))


def test_dump_triclinic_scaled_and_unsorted_matches_ase(tmp_path, zif4):
    a = zif4.copy()
    a.set_cell(a.cell.array + [[0, 0, 0], [1.0, 0, 0], [0.5, -0.7, 0]], scale_atoms=True)
    c = a.cell.array
    xy, xz, yz = c[1, 0], c[2, 0], c[2, 1]
    lines = []
    for step in (0, 10):
        lines += ["ITEM: TIMESTEP", str(step), "ITEM: NUMBER OF ATOMS", str(len(a)),
                  "ITEM: BOX BOUNDS xy xz yz pp pp pp",
                  f"{min(0, xy, xz, xy + xz)} {c[0, 0] + max(0, xy, xz, xy + xz)} {xy}",
                  f"{min(0, yz)} {c[1, 1] + max(0, yz)} {xz}", f"0 {c[2, 2]} {yz}",
                  "ITEM: ATOMS id type element xs ys zs fx"]
        sp = a.get_scaled_positions()
        for i in np.random.default_rng(step).permutation(len(a)):
            lines.append(f"{i + 1} {a.numbers[i]} {a[i].symbol} {sp[i, 0]} {sp[i, 1]} {sp[i, 2]} "
                         f"{0.1 * i}")
    path = tmp_path / "tri.lammpstrj"
    path.write_text("\n".join(lines) + "\n")
    ours = zifviz.Trajectory(path)[1]
    theirs = ase.io.read(path, index=1, format="lammps-dump-text")
    np.testing.assert_allclose(ours.positions, theirs.positions, atol=1e-9)
    np.testing.assert_allclose(ours.cell.array, theirs.cell.array, atol=1e-9)
    assert ours.get_chemical_symbols() == a.get_chemical_symbols()
    np.testing.assert_allclose(ours.arrays["fx"], 0.1 * np.arange(len(a)))
    assert ours.info["timestep"] == 10


def test_iread_streams_every_format(tmp_path, frames):
    for name, (path, kw) in _write_all(tmp_path, frames).items():
        got = list(zifviz.iread(path, **kw))
        assert [a.info["frame"] for a in got] == list(range(7)), name
        np.testing.assert_allclose(got[4].positions, frames[4].positions, atol=1e-6)


def test_read_last_frame_of_gzip_streams_without_cache(tmp_path, frames, cache):
    path = tmp_path / "t.extxyz.gz"
    with gzip.open(path, "wt") as fh:
        ase.io.write(fh, frames, format="extxyz")
    assert zifviz.read(path).info["step"] == 60
    assert zifviz.read(path, index=-3).info["step"] == 40
    assert zifviz.read(path, index=2).info["step"] == 20
    assert not cache.exists() or not list(cache.iterdir())


def test_cache_meta_names_the_file(tmp_path, frames, cache):
    ase.io.write(tmp_path / "t.extxyz", frames)
    len(zifviz.Trajectory(tmp_path / "t.extxyz"))
    (folder,) = cache.iterdir()
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["path"] == str((tmp_path / "t.extxyz").resolve())
    assert meta["size"] == os.path.getsize(tmp_path / "t.extxyz") and meta["n_frames"] == 7


def test_empty_frames_and_no_atoms(tmp_path):
    path = tmp_path / "e.extxyz"
    ase.io.write(path, [Atoms("H", positions=[[0, 0, 0]]), Atoms("H2", positions=[[0, 0, 0], [0, 0, 1]])])
    traj = zifviz.Trajectory(path)
    assert [len(a) for a in traj] == [1, 2]
    blank = tmp_path / "blank.extxyz"
    blank.write_text("\n\n")
    with pytest.raises(StructureFileError, match="contains no atoms"):
        zifviz.read(blank)


def test_frames_with_other_sizes_and_columns(tmp_path, frames):
    small = Atoms("H2O", positions=[[0, 0, 0], [0, 0, 1], [0, 1, 0]], cell=[5, 5, 5], pbc=True)
    small.info["step"] = -1
    big = frames[1].repeat((1, 1, 2))
    big.arrays["tag"] = np.array([f"t{i % 4}" for i in range(len(big))])
    mixed = [small, frames[0], big, small.copy()]
    path = tmp_path / "mixed.extxyz"
    ase.io.write(path, mixed)
    traj = zifviz.Trajectory(path)
    assert [len(traj[i]) for i in range(4)] == [3, 272, 544, 3]
    assert "energies" not in traj[0].arrays and "energies" not in traj[3].arrays
    np.testing.assert_allclose(traj[2].arrays["energies"], big.arrays["energies"])
    assert list(traj[2].arrays["tag"][:5]) == ["t0", "t1", "t2", "t3", "t0"]
    assert "tag" not in traj[1].arrays
    np.testing.assert_allclose(traj.positions(3), small.positions)
    assert list(traj.frame_info["n_atoms"]) == [3, 272, 544, 3]


def test_truncated_gzip_keeps_the_frames_before_the_cut(tmp_path, frames):
    full = tmp_path / "full.extxyz.gz"
    with gzip.open(full, "wt") as fh:
        ase.io.write(fh, frames, format="extxyz")
    cut = tmp_path / "cut.extxyz.gz"
    cut.write_bytes(full.read_bytes()[: int(full.stat().st_size * 0.6)])
    traj = zifviz.Trajectory(cut)
    n = len(traj)
    assert 2 <= n <= 6
    np.testing.assert_allclose(traj[0].positions, frames[0].positions, atol=1e-6)
    with pytest.raises(StructureFileError, match=f"frame {n - 1}: .*(truncated|corrupt)"):
        traj[n - 1]
    with pytest.raises(StructureFileError, match="truncated or corrupt"):
        list(zifviz.iread(cut))
    with pytest.raises(StructureFileError, match="truncated or corrupt"):
        zifviz.read(cut)


def test_dump_bad_frame_is_the_only_unreadable_one(tmp_path, frames):
    path = tmp_path / "t.dump"
    _dump(path, frames[:3])
    lines = path.read_text().split("\n")
    per = 9 + len(frames[0])
    lines[per + 9 + 5] = "6 1 1.0 oops 2.0"  # an atom line of frame 1
    path.write_text("\n".join(lines))
    traj = zifviz.Trajectory(path, type_map=TYPE_MAP)
    assert len(traj) == 3
    with pytest.raises(StructureFileError, match="frame 1: atom .*'oops'"):
        traj[1]
    np.testing.assert_allclose(traj[2].positions, frames[2].positions, atol=1e-6)


def test_trajectory_pickles_small_and_reopens(tmp_path, frames):
    import pickle

    for name, (path, kw) in _write_all(tmp_path, frames).items():
        traj = zifviz.Trajectory(path, **kw)[::2]
        traj[0]
        blob = pickle.dumps(traj)
        assert len(blob) < 5000, name  # no frames, no memory maps in the pickle
        back = pickle.loads(blob)
        assert list(back.frames) == [0, 2, 4, 6]
        np.testing.assert_allclose(back[1].positions, frames[2].positions, atol=1e-6)


def test_clear_cache(tmp_path, frames, cache):
    ase.io.write(tmp_path / "a.extxyz", frames)
    ase.io.write(tmp_path / "b.extxyz", frames[:2])
    len(zifviz.Trajectory(tmp_path / "a.extxyz"))
    len(zifviz.Trajectory(tmp_path / "b.extxyz"))
    assert zframes.clear_cache(tmp_path / "a.extxyz") == 1
    assert len(list(cache.iterdir())) == 1
    assert len(zifviz.Trajectory(tmp_path / "a.extxyz")) == 7  # rebuilt on demand
    assert zframes.clear_cache() == 2 and not list(cache.iterdir())
