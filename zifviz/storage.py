"""Writing files safely: atomic replacement, and frame streams that survive crashes and resume.

* :func:`atomic_write` — a file appears complete or not at all (temporary file in the same
  folder, fsync, ``os.replace``); a crash or an exception leaves the old file untouched.
* :class:`FrameWriter` — streams extxyz frames to ``<stem>.partial.extxyz`` (each frame flushed
  and fsync-ed), renames it to the final name when the run finishes, never deletes finished
  frames on an error, and resumes an unfinished (or extends a finished) file after checking
  that the run's ``settings`` are the same.

Frames are located with the one (ext)xyz scanner of :mod:`zifviz.frames`.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

from ase import Atoms

from .errors import OutputExistsError, ResumeError, StructureFileError
from .frames import iter_xyz_blocks

__all__ = ["FrameWriter", "atomic_write", "partial_path", "settings_path"]


def _folder(path: Path) -> Path:
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise StructureFileError(f"cannot write {path.name}: the folder does not exist",
                                 str(parent))
    return parent


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8"):
    """Open a temporary file next to ``path``; on success it replaces ``path`` atomically.

    ``mode`` is ``"w"`` (text) or ``"wb"``. The temporary file keeps the extension(s) of
    ``path`` (so a writer that looks at ``fh.name`` sees the right format) and is removed if
    the block raises. A missing folder raises :class:`~zifviz.errors.StructureFileError`
    naming the folder.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write mode must be 'w' or 'wb', not {mode!r}")
    p = Path(path)
    parent = _folder(p)
    fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{p.name}.",
                               suffix=f".tmp{''.join(p.suffixes)}")
    try:
        os.close(fd)
        with open(tmp, mode, encoding=None if "b" in mode else encoding) as fh:  # fh.name: path
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        try:  # mkstemp makes the file private; give it the mode a new file would get
            os.chmod(tmp, p.stat().st_mode & 0o7777 if p.exists() else 0o666 & ~_umask())
        except OSError:
            pass
        os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_folder(parent)


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def partial_path(output: str | os.PathLike) -> Path:
    """Where frames for ``output`` are kept until the run ends
    (``x.extxyz`` -> ``x.partial.extxyz``)."""
    p = Path(output)
    return p.with_name(f"{p.stem}.partial{p.suffix or '.extxyz'}")


def settings_path(output: str | os.PathLike) -> Path:
    """The settings file kept next to ``output`` (``x.extxyz`` -> ``x.settings.json``)."""
    p = Path(output)
    return p.with_name(f"{p.stem}.settings.json")


def _jsonable(value):
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return value.tolist()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"setting of type {type(value).__name__} cannot be stored")


def _normal_settings(settings: dict) -> dict:
    return json.loads(json.dumps(dict(settings), default=_jsonable, sort_keys=True))


def _scan(path: Path) -> tuple[int, int, bytes | None]:
    """Complete frames of ``path``: count, byte offset where they end, last frame's bytes."""
    n = good = 0
    last = None
    with open(path, "rb") as fh:
        for block in iter_xyz_blocks(fh):
            if block.problem or not block.terminated:
                break
            n, good, last = n + 1, block.end, block.data
    return n, good, last


def _parse_last(data: bytes | None, source: Path) -> Atoms | None:
    """The last complete frame, as zifviz reads frames (all arrays, info, energies)."""
    if data is None:
        return None
    from .frames import build_atoms, parse_extxyz

    try:
        parsed = parse_extxyz(data)
    except (ValueError, IndexError, KeyError) as exc:
        raise ResumeError(f"the last complete frame cannot be read ({exc})", str(source)) from None
    return build_atoms(parsed.columns, parsed.cell, parsed.pbc, parsed.info)


class FrameWriter:
    """Stream extxyz frames to ``output`` safely, resumably.

    Frames go to :func:`partial_path` ``(output)``, each flushed and fsync-ed; :meth:`finish`
    renames that file to ``output``; :meth:`close` (also on an exception in a ``with`` block)
    keeps it, so finished frames are never lost.

    Parameters
    ----------
    output: the final file (extxyz).
    resume: continue an unfinished run (its partial file; a partly written last frame is cut)
        or extend a finished ``output``; without either, start a new file.
    overwrite: start again although a partial or final file exists (the final file is only
        replaced when :meth:`finish` is called).
    settings: what defines the run (JSON-able dict). Stored in :func:`settings_path`
        ``(output)``; on resume, compared with the stored ones (:class:`ResumeError` naming the
        differing keys).

    Attributes: ``n_done`` (complete frames found when resuming), ``n_frames`` (complete frames
    now), ``last`` (the last complete frame or None), ``partial``, ``output``.
    """

    def __init__(self, output: str | os.PathLike, *, resume: bool = False,
                 overwrite: bool = False, settings: dict | None = None):
        self.output = Path(output)
        if self.output.suffix.lower() in (".gz", ".bz2", ".xz"):
            raise StructureFileError("FrameWriter streams plain extxyz (each frame on disk at "
                                     "once); compress the file when the run has finished",
                                     str(self.output))
        self.partial = partial_path(self.output)
        self.settings_file = settings_path(self.output)
        self.settings = None if settings is None else _normal_settings(settings)
        self.n_done = 0
        self.last: Atoms | None = None
        self._fh = None
        _folder(self.output)
        source = None
        if resume:
            source = self.partial if self.partial.exists() else (
                self.output if self.output.exists() else None)
        if source is None:
            self._start_new(overwrite)
        else:
            self._resume(source)
        self.n_frames = self.n_done

    def _start_new(self, overwrite: bool) -> None:
        if self.partial.exists() and not overwrite:
            n = _scan(self.partial)[0]
            raise OutputExistsError(
                f"unfinished run with {n} complete frames; pass resume=True to continue it or "
                "overwrite=True to start again", str(self.partial))
        if self.output.exists() and not overwrite:
            raise OutputExistsError(
                "output file exists; pass overwrite=True to replace it when the new run has "
                "finished, or resume=True to extend it", str(self.output))
        self._store_settings()
        self._fh = open(self.partial, "wb")

    def _resume(self, source: Path) -> None:
        self._check_settings(source)
        n, good, last = _scan(source)
        if source == self.output and good < source.stat().st_size:
            tail = source.read_bytes()[good:]
            if tail.strip():
                raise ResumeError(f"finished file ends in an unreadable frame after {n} "
                                  "complete frames; cannot extend it", str(source))
        self.last = _parse_last(last, source)
        self.n_done = n
        if source == self.output:  # extending a finished run: unfinished again
            os.replace(self.output, self.partial)
        with open(self.partial, "r+b") as fh:  # drop a partly written last frame
            fh.truncate(good)
            fh.flush()
            os.fsync(fh.fileno())
        if self.settings is not None and not self.settings_file.exists():
            self._store_settings()
        self._fh = open(self.partial, "ab")

    def _store_settings(self) -> None:
        if self.settings is None:
            if self.settings_file.exists():
                self.settings_file.unlink()  # belongs to a run being replaced
            return
        with atomic_write(self.settings_file) as fh:
            json.dump(self.settings, fh, indent=1, sort_keys=True)

    def _check_settings(self, source: Path) -> None:
        if self.settings is None or not self.settings_file.exists():
            return
        try:
            stored = json.loads(self.settings_file.read_text())
        except (OSError, ValueError) as exc:
            raise ResumeError(f"settings file cannot be read ({exc})",
                              str(self.settings_file)) from None
        keys = sorted(set(stored) | set(self.settings))
        differ = [k for k in keys
                  if stored.get(k, "<missing>") != self.settings.get(k, "<missing>")]
        if differ:
            detail = ", ".join(f"{k}: {stored.get(k, '<missing>')!r} -> "
                               f"{self.settings.get(k, '<missing>')!r}" for k in differ)
            raise ResumeError(f"cannot resume: settings differ from the stored run ({detail}); "
                              "pass overwrite=True without resume to start again", str(source))

    def write(self, atoms: Atoms) -> None:
        """Append one frame (flushed and fsync-ed before returning)."""
        import ase.io

        if self._fh is None or self._fh.closed:
            raise ValueError(f"FrameWriter for {self.output} is closed")
        text = io.StringIO()
        ase.io.write(text, atoms, format="extxyz")
        data = text.getvalue().encode("utf-8")
        start = self._fh.tell()
        try:
            self._fh.write(data)
            self._fh.flush()
            os.fsync(self._fh.fileno())
        except BaseException:  # Ctrl-C or a full disk mid-frame: no half frame stays behind
            self._fh.truncate(start)
            self._fh.flush()
            raise
        self.n_frames += 1
        self.last = atoms.copy()

    def finish(self) -> Path:
        """Close and rename the partial file to ``output``; returns ``output``."""
        self.close()
        if self.partial.exists():
            os.replace(self.partial, self.output)
            _fsync_folder(self.output.parent if str(self.output.parent) else Path("."))
        return self.output

    def close(self) -> None:
        """Close the partial file, keeping it (and every finished frame) for a later resume."""
        if self._fh is not None and not self._fh.closed:
            self._fh.close()

    def __enter__(self) -> FrameWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.finish()
        else:
            self.close()

    def __repr__(self) -> str:
        return f"FrameWriter({str(self.output)!r}, frames={self.n_frames}, resumed={self.n_done})"
