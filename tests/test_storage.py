"""Atomic writes, and frame streams that survive crashes and resume (zifviz.storage)."""

from __future__ import annotations

import json

import ase.io
import numpy as np
import pytest
from ase import Atoms

import zifviz
from zifviz.errors import OutputExistsError, ResumeError, StructureFileError, ZifvizError
from zifviz.storage import FrameWriter, atomic_write, partial_path, settings_path


def _frame(k: int, n: int = 5) -> Atoms:
    a = Atoms("H" * n, positions=np.arange(3 * n, dtype=float).reshape(n, 3) + k,
              cell=[10, 10, 10], pbc=True)
    a.info["step"] = k
    a.set_momenta(np.full((n, 3), 0.5 * k))
    a.arrays["energies"] = np.full(n, float(k))
    return a


def test_atomic_write_replaces_only_on_success(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_write(target) as fh:
            fh.write("half of the new")
            raise RuntimeError("crash mid-write")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]  # no temporary left
    with atomic_write(target) as fh:
        fh.write("new")
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_atomic_write_binary_and_permissions(tmp_path):
    target = tmp_path / "b.bin"
    with atomic_write(target, "wb") as fh:
        fh.write(b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"
    assert target.stat().st_mode & 0o644 == 0o644  # not the private mode of a temp file


def test_missing_folder_error_names_the_folder(tmp_path):
    folder = tmp_path / "nowhere"
    with pytest.raises(StructureFileError, match="folder does not exist") as err:
        with atomic_write(folder / "x.txt"):
            pass
    assert err.value.source == str(folder)
    with pytest.raises(StructureFileError) as err:
        zifviz.write(folder / "x.extxyz", _frame(0))
    assert err.value.source == str(folder) and ".tmp" not in str(err.value)
    with pytest.raises(StructureFileError) as err:
        FrameWriter(folder / "run.extxyz")
    assert err.value.source == str(folder)


def test_crash_mid_write_keeps_old_file(tmp_path, monkeypatch):
    target = tmp_path / "t.extxyz"
    zifviz.write(target, [_frame(0), _frame(1)])
    before = target.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(ase.io, "write", boom)
    with pytest.raises(OSError, match="disk full"):
        zifviz.write(target, [_frame(5)])
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["t.extxyz"]


def test_frame_writer_streams_and_finishes(tmp_path):
    out = tmp_path / "run.extxyz"
    with FrameWriter(out, settings={"T": 300.0}) as w:
        for k in range(3):
            w.write(_frame(k))
            assert partial_path(out).exists() and not out.exists()
            assert len(list(zifviz.iread(partial_path(out)))) == k + 1  # each frame on disk
    assert out.exists() and not partial_path(out).exists()
    assert [a.info["step"] for a in zifviz.iread(out)] == [0, 1, 2]
    assert json.loads(settings_path(out).read_text()) == {"T": 300.0}


def test_exception_keeps_finished_frames(tmp_path):
    out = tmp_path / "run.extxyz"
    with pytest.raises(KeyboardInterrupt):
        with FrameWriter(out) as w:
            w.write(_frame(0))
            w.write(_frame(1))
            raise KeyboardInterrupt
    assert not out.exists()
    assert [a.info["step"] for a in zifviz.iread(partial_path(out))] == [0, 1]


def test_resume_after_truncated_last_frame(tmp_path):
    out = tmp_path / "run.extxyz"
    w = FrameWriter(out, settings={"T": 300.0, "steps": 10})
    for k in range(3):
        w.write(_frame(k))
    w.close()
    partial = partial_path(out)
    with open(partial, "a") as fh:  # a crash in the middle of writing frame 3
        fh.write("5\nLattice=\"10 0 0 0 10 0 0 0 10\" Properties=species:S:1:pos:R:3 step=3\nH 0 0 0\nH 1 ")
    w = FrameWriter(out, resume=True, settings={"steps": 10, "T": 300.0})
    assert w.n_done == 3 and w.last.info["step"] == 2
    np.testing.assert_allclose(w.last.get_momenta(), _frame(2).get_momenta())
    assert w.last.arrays["energies"][1] == 2.0
    np.testing.assert_allclose(w.last.positions, _frame(2).positions)
    w.write(_frame(3))
    assert w.finish() == out
    assert [a.info["step"] for a in zifviz.iread(out)] == [0, 1, 2, 3]
    # extending a finished run
    with FrameWriter(out, resume=True, settings={"steps": 10, "T": 300.0}) as w:
        assert w.n_done == 4
        w.write(_frame(4))
    assert [a.info["step"] for a in zifviz.iread(out)] == [0, 1, 2, 3, 4]


def test_compressed_stream_output_refused(tmp_path):
    with pytest.raises(StructureFileError, match="plain extxyz"):
        FrameWriter(tmp_path / "run.extxyz.gz")


def test_resume_with_nothing_there_starts_new(tmp_path):
    w = FrameWriter(tmp_path / "new.extxyz", resume=True)
    assert w.n_done == 0 and w.last is None
    w.write(_frame(0))
    w.finish()


def test_settings_mismatch_refused(tmp_path):
    out = tmp_path / "run.extxyz"
    w = FrameWriter(out, settings={"T": 300.0, "steps": 10, "mode": "nvt"})
    w.write(_frame(0))
    w.close()
    before = partial_path(out).read_bytes()
    with pytest.raises(ResumeError, match="T: 300.0 -> 500.0") as err:
        FrameWriter(out, resume=True, settings={"T": 500.0, "steps": 10, "mode": "nvt"})
    assert isinstance(err.value, ZifvizError) and "steps" not in str(err.value)
    assert str(partial_path(out)) in str(err.value)
    with pytest.raises(ResumeError, match="extra"):
        FrameWriter(out, resume=True, settings={"T": 300.0, "steps": 10, "mode": "nvt", "extra": 1})
    assert partial_path(out).read_bytes() == before  # nothing touched


def test_existing_outputs_refused_without_overwrite(tmp_path):
    out = tmp_path / "run.extxyz"
    w = FrameWriter(out)
    w.write(_frame(0))
    w.close()
    with pytest.raises(OutputExistsError, match="unfinished run with 1 complete frames"):
        FrameWriter(out)
    w = FrameWriter(out, overwrite=True)  # starts again
    w.write(_frame(7))
    w.finish()
    before = out.read_bytes()
    with pytest.raises(OutputExistsError, match="output file exists"):
        FrameWriter(out)
    assert out.read_bytes() == before
    w = FrameWriter(out, overwrite=True)
    assert out.read_bytes() == before  # replaced only when the new run finishes
    w.write(_frame(8))
    w.finish()
    assert [a.info["step"] for a in zifviz.iread(out)] == [8]


def test_hard_crash_leaves_old_file_and_finished_frames(tmp_path):
    """A process killed in the middle of a write (no cleanup at all)."""
    import subprocess
    import sys
    import textwrap

    target = tmp_path / "a.extxyz"
    zifviz.write(target, _frame(0))
    before = target.read_bytes()
    out = tmp_path / "run.extxyz"
    script = textwrap.dedent(f"""
        import os
        import numpy as np
        from ase import Atoms
        from zifviz.storage import FrameWriter, atomic_write
        with atomic_write({str(target)!r}) as fh:
            fh.write("3\\nhalf a frame")
            fh.flush()
            w = FrameWriter({str(out)!r})
            for k in range(2):
                w.write(Atoms("H2", positions=[[0, 0, k], [0, 0, k + 1]], cell=[5, 5, 5], pbc=True))
            w._fh.write(b"2\\nLattice=")  # dies while writing frame 2
            w._fh.flush()
            os._exit(9)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == 9, proc.stderr
    assert target.read_bytes() == before
    assert not out.exists()
    w = FrameWriter(out, resume=True)
    assert w.n_done == 2 and w.last.positions[0, 2] == 1.0
    w.finish()
    assert len(list(zifviz.iread(out))) == 2


def test_interrupt_while_writing_a_frame_leaves_no_half_frame(tmp_path, monkeypatch):
    """Ctrl-C (or a full disk) in the middle of a frame: the frames before it stay, whole."""
    out = tmp_path / "run.extxyz"
    w = FrameWriter(out)
    w.write(_frame(0))
    size = partial_path(out).stat().st_size

    class Interrupted:
        def __init__(self, fh):
            self.fh = fh

        def write(self, data):
            self.fh.write(data[: len(data) // 2])  # half the frame reaches the file
            raise KeyboardInterrupt

        def __getattr__(self, name):
            return getattr(self.fh, name)

    monkeypatch.setattr(w, "_fh", Interrupted(w._fh))
    with pytest.raises(KeyboardInterrupt):
        w.write(_frame(1))
    w._fh = w._fh.fh
    w.close()
    assert partial_path(out).stat().st_size == size
    assert len(zifviz.Trajectory(partial_path(out))) == 1
