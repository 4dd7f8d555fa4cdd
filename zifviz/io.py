"""Reading structures and trajectories into ASE ``Atoms``, with checks and clear errors.

Everything ASE reads is accepted (CIF, extxyz, XYZ, LAMMPS data, LAMMPS dump, POSCAR, ...).
zifviz adds: a type→element map for LAMMPS dumps, per-atom energies kept in
``atoms.arrays["energies"]`` (total in ``atoms.info["energy"]``), lazy trajectories,
and a :class:`~zifviz.errors.StructureFileError` naming the file for every unreadable input.
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path

import ase.io
import numpy as np
from ase import Atoms
from ase.io.formats import filetype as _ase_filetype

from .errors import StructureError, StructureFileError
from .frames import iter_xyz_blocks

ENERGY_KEY = "energies"
"""Name of the per-atom energy array (eV) everywhere in zifviz."""

_DUMP_FORMATS = {"lammps-dump-text", "lammps-dump-binary"}


def _detect_format(path: Path, format: str | None) -> str:
    if format:
        return format
    if path.suffix.lower() in {".dump", ".lammpstrj"}:
        return "lammps-dump-text"
    if path.suffix.lower() in {".data", ".lmp"} or path.name.endswith(".lammps-data"):
        return "lammps-data"
    try:
        fmt = _ase_filetype(str(path), guess=False)
    except Exception as exc:  # ASE raises several types for unknown formats
        raise StructureFileError(
            f"unknown file format ({exc}); pass format= with an ASE format name", str(path)
        ) from None
    return fmt


def _check_file(path: Path) -> None:
    if not path.exists():
        raise StructureFileError("file does not exist", str(path))
    if path.is_dir():
        raise StructureFileError("is a directory, not a structure file", str(path))
    if path.stat().st_size == 0:
        raise StructureFileError("file is empty", str(path))
    with open(path, "rb") as fh:
        head = fh.read(4096)
    if path.suffix.lower() not in {".gz", ".bz2", ".xz", ".bin", ".traj", ".db", ".nc"}:
        if b"\0" in head:
            raise StructureFileError("file is binary, not a text structure file", str(path))
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.start < len(head) - 4:  # a multibyte char cut at the 4096 boundary is fine
                raise StructureFileError(
                    "file is not text (undecodable bytes); is it a structure file?", str(path)
                ) from None


def _dump_has_elements(path: Path) -> bool:
    with open(path, errors="replace") as fh:
        for line in fh:
            if line.startswith("ITEM: ATOMS"):
                return "element" in line.split()[2:]
    return False


def _apply_type_map(atoms: Atoms, type_map: Mapping[int, str], source: str) -> None:
    types = atoms.get_atomic_numbers()  # ASE puts LAMMPS types into the atomic numbers
    missing = sorted(set(types.tolist()) - set(int(k) for k in type_map))
    if missing:
        raise StructureFileError(f"type_map has no element for LAMMPS types {missing}", source)
    atoms.arrays["lammps_type"] = types.copy()
    atoms.set_chemical_symbols([type_map[int(t)] for t in types])


def _normalise(atoms: Atoms, source: str, index: int | None = None) -> Atoms:
    """Move per-atom energies into arrays, check coordinates, record the source."""
    calc = atoms.calc
    if calc is not None:
        results = getattr(calc, "results", {})
        if ENERGY_KEY in results and ENERGY_KEY not in atoms.arrays:
            atoms.arrays[ENERGY_KEY] = np.asarray(results[ENERGY_KEY], dtype=float).copy()
        if "energy" in results and "energy" not in atoms.info:
            atoms.info["energy"] = float(results["energy"])
        if "free_energy" in results and "energy" not in atoms.info:
            atoms.info["energy"] = float(results["free_energy"])
    atoms.calc = None
    where = source if index is None else f"{source} (frame {index})"
    if len(atoms) == 0:
        raise StructureFileError("contains no atoms", where)
    pos = atoms.positions
    if not np.all(np.isfinite(pos)):
        bad = int(np.count_nonzero(~np.isfinite(pos).all(axis=1)))
        raise StructureError(f"{bad} atoms have NaN or infinite coordinates", where)
    if np.any(atoms.cell.lengths() > 0) and not np.all(np.isfinite(atoms.cell.array)):
        raise StructureError("cell has NaN or infinite entries", where)
    occ = atoms.info.get("occupancy")
    if isinstance(occ, dict):
        partial = [k for k, v in occ.items() if any(float(x) < 0.999 for x in v.values())]
        if partial:
            raise StructureError(
                f"{len(partial)} sites have partial occupancy (disorder); resolve the disorder "
                "into one ordered structure before loading",
                where,
            )
    atoms.info.setdefault("source", os.path.basename(source))
    if index is not None:
        atoms.info.setdefault("frame", index)
    return atoms


def _read_kwargs(path: Path, fmt: str, type_map, kwargs: dict) -> dict:
    kw = dict(kwargs)
    if fmt == "lammps-data":
        kw.setdefault("atom_style", "full")
        kw.setdefault("units", "real")
    if fmt in _DUMP_FORMATS and type_map is None and not _dump_has_elements(path):
        raise StructureFileError(
            "LAMMPS dump without an 'element' column needs type_map={type: element}, "
            "e.g. type_map={1: 'C', 2: 'H', 3: 'C', 4: 'H', 5: 'N', 6: 'Zn'}",
            str(path),
        )
    return kw


def _wrap_ase_error(exc: Exception, path: Path, fmt: str) -> StructureFileError:
    msg = str(exc) or type(exc).__name__
    return StructureFileError(f"cannot be read as {fmt}: {msg} (truncated or corrupt?)", str(path))


def read(path: str | os.PathLike, index: int = -1, format: str | None = None,
         type_map: Mapping[int, str] | None = None, **kwargs) -> Atoms:
    """Read one frame (the last by default) of a structure or trajectory file.

    Parameters
    ----------
    path: file to read; any format ASE reads.
    index: frame to read (negative counts from the end).
    format: ASE format name, if the extension does not tell.
    type_map: LAMMPS type → element symbol, required for dumps without an element column.
    kwargs: passed on to :func:`ase.io.read`.
    """
    p = Path(path)
    _check_file(p)
    fmt = _detect_format(p, format)
    kw = _read_kwargs(p, fmt, type_map, kwargs)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            atoms = ase.io.read(p, index=index, format=fmt, **kw)
    except StructureFileError:
        raise
    except Exception as exc:
        raise _wrap_ase_error(exc, p, fmt) from exc
    if not isinstance(atoms, Atoms):
        raise StructureFileError("did not contain a structure", str(p))
    if type_map is not None:
        _apply_type_map(atoms, type_map, str(p))
    return _normalise(atoms, str(p))


def _xyz_frames(path: Path, fmt: str, kwargs: dict) -> Iterator[Atoms]:
    """Stream (ext)xyz frames one by one, also from compressed files (the one scanner of
    :mod:`zifviz.frames` cuts the frames; each frame's text goes to ASE's parser)."""
    from ase.io.formats import open_with_compression

    with open_with_compression(str(path), "rb") as fh:
        for block in iter_xyz_blocks(fh):
            if block.problem:
                raise ValueError(block.problem)
            yield ase.io.read(io.StringIO(block.data.decode()), format=fmt, **kwargs)


def iread(path: str | os.PathLike, format: str | None = None,
          type_map: Mapping[int, str] | None = None, **kwargs) -> Iterator[Atoms]:
    """Iterate lazily over the frames of a trajectory file (one frame in memory at a time)."""
    p = Path(path)
    _check_file(p)
    fmt = _detect_format(p, format)
    kw = _read_kwargs(p, fmt, type_map, kwargs)
    if fmt in ("extxyz", "xyz"):
        gen = _xyz_frames(p, fmt, kw)
    else:
        gen = ase.io.iread(p, index=":", format=fmt, **kw)
    i = 0
    while True:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                atoms = next(gen)
        except StopIteration:
            return
        except Exception as exc:
            raise StructureFileError(
                f"frame {i} cannot be read as {fmt}: {exc or type(exc).__name__} (truncated?)",
                str(p),
            ) from exc
        if type_map is not None:
            _apply_type_map(atoms, type_map, str(p))
        yield _normalise(atoms, str(p), index=i)
        i += 1


_COMPRESSED = (".gz", ".bz2", ".xz")


def _xyz_offsets(path: Path) -> list[int]:
    """Byte offset of every frame of an uncompressed (ext)xyz file, in one pass."""
    offsets = []
    with open(path, "rb") as fh:
        for block in iter_xyz_blocks(fh):
            if block.problem:
                raise StructureFileError(f"frame {len(offsets)} is {block.problem}", str(path))
            offsets.append(block.start)
    return offsets


class Trajectory:
    """A lazily read trajectory: ``len()``, ``[i]`` and iteration, never all frames in memory.

    Uncompressed (ext)xyz files are indexed once (byte offset of each frame), so ``[i]`` reads
    one frame; other formats count frames in one streaming pass and read ``[i]`` through ASE.
    A small cache keeps the most recently used frames.
    """

    def __init__(self, path: str | os.PathLike, format: str | None = None,
                 type_map: Mapping[int, str] | None = None, cache_size: int = 4, **kwargs):
        self.path = Path(path)
        _check_file(self.path)
        self.format = _detect_format(self.path, format)
        self.type_map = type_map
        self._kwargs = _read_kwargs(self.path, self.format, type_map, kwargs)
        self._offsets: list[int] | None = None
        self._len: int | None = None
        self._cache: dict[int, Atoms] = {}
        self._cache_size = cache_size

    @property
    def _indexed(self) -> bool:
        return self.format in ("extxyz", "xyz") and self.path.suffix.lower() not in _COMPRESSED

    def __iter__(self) -> Iterator[Atoms]:
        n = 0
        for n, atoms in enumerate(iread(self.path, self.format, self.type_map, **self._kwargs), 1):
            yield atoms
        self._len = n

    def __len__(self) -> int:
        if self._len is None:
            if self._indexed:
                self._offsets = _xyz_offsets(self.path)
                self._len = len(self._offsets)
            else:
                self._len = sum(1 for _ in self)
        return self._len

    def _read_frame(self, i: int) -> Atoms:
        if self._indexed:
            if self._offsets is None:
                self._offsets = _xyz_offsets(self.path)
            with open(self.path, "rb") as fh:
                fh.seek(self._offsets[i])
                end = self._offsets[i + 1] if i + 1 < len(self._offsets) else None
                text = (fh.read(end - self._offsets[i]) if end else fh.read()).decode()
            try:
                atoms = ase.io.read(io.StringIO(text), format=self.format, **self._kwargs)
            except Exception as exc:
                raise _wrap_ase_error(exc, self.path, self.format) from exc
            if self.type_map is not None:
                _apply_type_map(atoms, self.type_map, str(self.path))
            return _normalise(atoms, str(self.path), index=i)
        return read(self.path, index=i, format=self.format, type_map=self.type_map, **self._kwargs)

    def __getitem__(self, i: int) -> Atoms:
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"frame {i} out of range for {n} frames in {self.path}")
        i %= n
        if i not in self._cache:
            atoms = self._read_frame(i)
            atoms.info["frame"] = i
            if len(self._cache) >= self._cache_size:
                self._cache.pop(next(iter(self._cache)))
            self._cache[i] = atoms
        return self._cache[i].copy()

    def __repr__(self) -> str:
        n = "?" if self._len is None else self._len
        return f"Trajectory({str(self.path)!r}, frames={n})"


def write(path: str | os.PathLike, frames: Atoms | list[Atoms], format: str | None = None,
          **kwargs) -> Path:
    """Write frames atomically (see :func:`zifviz.storage.atomic_write`): the file appears
    complete or not at all. A missing folder raises a StructureFileError naming the folder."""
    from .storage import atomic_write

    p = Path(path)
    try:
        fmt = format or _ase_filetype(str(p), read=False)
    except Exception as exc:
        raise StructureFileError(f"unknown output format ({exc}); pass format= with an ASE "
                                 "format name", str(p)) from None
    with atomic_write(p, "wb") as fh:
        # by name: ASE opens the temporary file itself (binary formats, compression by suffix)
        ase.io.write(fh.name, frames, format=fmt, **kwargs)
    return p
