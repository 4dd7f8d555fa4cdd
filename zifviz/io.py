"""Reading structures and trajectories into ASE ``Atoms``, with checks and clear errors.

Everything ASE reads is accepted (CIF, extxyz, XYZ, LAMMPS data, LAMMPS dump, POSCAR, ...),
also formats ASE knows only by extension (``.vasp``, ``.xsf``, ``.gen``, ``.res``, ``.cfg``).
zifviz adds: a type→element map for LAMMPS dumps and data files without Masses, the atom
style of a LAMMPS data file read from its ``Atoms # style`` line, per-atom energies kept in
``atoms.arrays["energies"]`` (total in ``atoms.info["energy"]``), P1 CIFs read without ASE's
symmetry expansion (quadratic in the atom count), :class:`Trajectory` (any frame of plain or
gzip extxyz/XYZ, LAMMPS dumps and ``.traj`` files in constant time, see
:mod:`zifviz.frames`), streaming :func:`iread`, atomic :func:`write`, and a
:class:`~zifviz.errors.StructureFileError` naming the file (and the frame) for every
unreadable input.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path

import ase.io
import numpy as np
from ase import Atoms
from ase.io.formats import filetype as _ase_filetype

from .errors import StructureError, StructureFileError
from .frames import (COMPRESSION_ERRORS, FrameIndex, FrameParseError, build_atoms,
                     iter_dump_blocks, iter_xyz_blocks, parse_dump, parse_extxyz, parse_xyz,
                     stream_problem)

ENERGY_KEY = "energies"
"""Name of the per-atom energy array (eV) everywhere in zifviz."""

_DUMP_FORMATS = {"lammps-dump-text", "lammps-dump-binary"}
_FAST = {"extxyz": (iter_xyz_blocks, parse_extxyz), "xyz": (iter_xyz_blocks, parse_xyz),
         "lammps-dump-text": (iter_dump_blocks, parse_dump)}


def _detect_format(path: Path, format: str | None) -> str:
    if format:
        return format
    if path.suffix.lower() in {".dump", ".lammpstrj"}:
        return "lammps-dump-text"
    if path.suffix.lower() in {".data", ".lmp"} or path.name.endswith(".lammps-data"):
        return "lammps-data"
    try:
        return _ase_filetype(str(path), guess=False)
    except Exception as exc:  # ASE raises several types for unknown formats
        problem = exc
    # formats ASE knows only by extension (.vasp, .xsf, .gen, .res, .cfg, ...)
    from ase.io.formats import extension2format, ioformats

    name = path.name.lower()
    for comp in (".gz", ".bz2", ".xz"):
        name = name.removesuffix(comp)
    ext = name.rsplit(".", 1)[-1] if "." in name else ""
    if ext in extension2format:
        return extension2format[ext].name
    if ext in ioformats and ioformats[ext].can_read:
        return ext
    raise StructureFileError(
        f"unknown file format (extension {('.' + ext) if ext else '(none)'!r}; {problem}); pass "
        "format= with an ASE format name", str(path))


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


_DATA_STYLES = {"atomic", "charge", "full", "molecular", "bond", "angle"}


def _lammps_data_header(path: Path) -> tuple[str | None, bool]:
    """Atom style named in the ``Atoms # style`` line of a LAMMPS data file, and whether the
    file has a Masses section."""
    style, masses, atoms = None, False, False
    with open(path, errors="replace") as fh:
        for line in fh:  # sections come in any order
            word = line.split("#")[0].strip()
            if word == "Masses":
                masses = True
            elif word == "Atoms":
                comment = line.split("#", 1)[1].split() if "#" in line else []
                style, atoms = (comment[0] if comment else None), True
            if masses and atoms:
                break
    return style, masses


def _read_kwargs(path: Path, fmt: str, type_map, kwargs: dict) -> dict:
    kw = dict(kwargs)
    if fmt == "lammps-data":
        style, masses = _lammps_data_header(path)
        if style is not None and "atom_style" not in kw:
            if style not in _DATA_STYLES:
                raise StructureFileError(f"LAMMPS data atom style {style!r} is not supported; "
                                         f"supported: {sorted(_DATA_STYLES)}", str(path))
        kw.setdefault("atom_style", style or "full")
        kw.setdefault("units", "real")
        if type_map is not None:
            from ase.data import atomic_numbers

            try:
                kw.setdefault("Z_of_type", {int(t): atomic_numbers[e] for t, e in type_map.items()})
            except KeyError as exc:
                raise StructureFileError(f"type_map names an unknown element {exc}",
                                         str(path)) from None
        elif not masses and "Z_of_type" not in kw:
            raise StructureFileError(
                "LAMMPS data file without a Masses section: the elements of the atom types are "
                "unknown; pass type_map={type: element}, e.g. type_map={1: 'Zn', 2: 'N', "
                "3: 'C', 4: 'H'}", str(path))
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
    if not isinstance(index, (int, np.integer)) or isinstance(index, bool):
        raise TypeError(f"read() takes one frame index (an integer), not {index!r}; use iread "
                        "or Trajectory for several frames")
    if _fast_format(fmt, kw):
        return _read_one_fast(p, fmt, int(index), type_map)
    from ase.io.formats import ioformats

    if fmt in ioformats and ioformats[fmt].single and index not in (0, -1):
        raise StructureFileError(f"file has 1 frame ({fmt} holds one structure); index {index} "
                                 "out of range", str(p))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            if fmt == "cif" and not kw:
                atoms = _read_cif(p, int(index))
            else:
                atoms = ase.io.read(p, index=index, format=fmt, **kw)
    except StructureFileError:
        raise
    except (StopIteration, IndexError) as exc:
        raise _index_error(p, fmt, int(index), kw, exc) from None
    except KeyError as exc:
        if fmt == "lammps-data" and type_map is not None:
            t = exc.args[0] if exc.args else "?"
            t = int(t) if isinstance(t, (int, np.integer)) else t
            raise StructureFileError(f"type_map has no element for LAMMPS type {t}; it maps "
                                     f"types {sorted(type_map)}", str(p)) from None
        raise _wrap_ase_error(exc, p, fmt) from exc
    except Exception as exc:
        raise _wrap_ase_error(exc, p, fmt) from exc
    if not isinstance(atoms, Atoms):
        raise StructureFileError("did not contain a structure", str(p))
    if type_map is not None and fmt != "lammps-data":
        _apply_type_map(atoms, type_map, str(p))
    atoms = _normalise(atoms, str(p))
    atoms.info["source_file"] = str(p)
    return atoms


def _frames_word(n: int) -> str:
    return f"{n} frame{'' if n == 1 else 's'}"


def _index_error(p: Path, fmt: str, index: int, kw: dict, exc: Exception) -> StructureFileError:
    """A clear error for an index past the end (ASE says StopIteration or IndexError)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            n = sum(1 for _ in ase.io.iread(p, index=":", format=fmt, **kw))
    except Exception:
        return _wrap_ase_error(exc, p, fmt)
    if n == 0:
        return StructureFileError("contains no atoms (no structure found)", str(p))
    return StructureFileError(f"file has {_frames_word(n)}; index {index} out of range", str(p))


def _read_one_fast(p: Path, fmt: str, index: int, type_map) -> Atoms:
    """One frame of a (compressed) extxyz/xyz file or text dump, streaming (no cache)."""
    from collections import deque

    want = None
    last: deque = deque(maxlen=max(1, -index))
    n = 0
    for n, atoms in enumerate(_fast_frames(p, fmt, type_map, lazy=True), 1):
        if index >= 0:
            if n - 1 == index:
                want = atoms()
                break
        else:
            last.append((n - 1, atoms))
    else:
        if index < 0 and n >= -index:
            k, make = last[0]
            want = make()
            index = k
    if want is None:
        if n == 0:
            raise StructureFileError("contains no atoms (no frame found)", str(p))
        raise StructureFileError(f"file has {_frames_word(n)}; index {index} out of range", str(p))
    atoms = _normalise(want, str(p))
    atoms.info["source_file"] = str(p)
    return atoms


def _read_cif(p: Path, index: int) -> Atoms:
    """CIF through ASE's parser; a P1 block (one symmetry operation) is built directly from
    its sites instead of through ASE's symmetry expansion (quadratic in the atom count)."""
    from ase.io.cif import parse_cif

    with open(p, encoding="latin-1") as fh:
        blocks = [b for b in parse_cif(fh) if b.has_structure()]
    if not blocks:
        raise StructureFileError("contains no atoms (no CIF block with atom sites)", str(p))
    if not -len(blocks) <= index < len(blocks):
        raise StructureFileError(f"file has {_frames_word(len(blocks))}; index {index} out of "
                                 "range", str(p))
    block = blocks[index]
    cell = block.get_cell()
    if cell.rank == 3:
        spg = block.get_spacegroup(True)
        ops = spg.get_symop()
        if len(ops) == 1 and np.allclose(ops[0][0], np.eye(3)) and np.allclose(ops[0][1], 0) \
                and len(spg.subtrans) == 1:
            return _p1_atoms(block, spg)
    return block.get_atoms()


def _p1_atoms(block, spg) -> Atoms:
    """What ASE's ``crystal()`` gives for a P1 block, without the symmetry expansion."""
    atoms = block.get_unsymmetrized_structure()
    atoms.pbc = True
    atoms.set_scaled_positions(np.mod(atoms.get_scaled_positions(wrap=False), 1.0))
    atoms.info["spacegroup"] = spg
    atoms.info["unit_cell"] = "conventional"
    atoms.new_array("spacegroup_kinds", np.arange(len(atoms)))
    occ = block._get_fractional_occupancies()
    if occ is not None:
        atoms.info["occupancy"] = {str(i): {s: float(o)} for i, (s, o) in
                                   enumerate(zip(atoms.get_chemical_symbols(), occ))}
    return atoms


def _fast_format(fmt: str, kwargs: dict) -> bool:
    return fmt in _FAST and not kwargs


def _map_types(columns: dict, type_map, where: str) -> dict:
    """Element numbers of a LAMMPS dump frame: from its element column or through type_map."""
    types = columns.get("lammps_type")
    if type_map is not None and types is not None:
        from ase.data import atomic_numbers

        lut = {int(k): atomic_numbers[v] for k, v in type_map.items()}
        missing = sorted(set(np.unique(types).tolist()) - set(lut))
        if missing:
            raise StructureFileError(f"type_map has no element for LAMMPS types {missing}", where)
        table = np.zeros(max(max(lut), int(types.max())) + 1, dtype=np.int16)
        for t, z in lut.items():
            table[t] = z
        columns = dict(columns, numbers=table[np.asarray(types)])
    elif "numbers" not in columns:
        raise StructureFileError("LAMMPS dump without an 'element' column needs type_map="
                                 "{type: element}", where)
    return columns


def _parsed_atoms(parsed, type_map, where: str) -> Atoms:
    columns = _map_types(parsed.columns, type_map, where) if "lammps_type" in parsed.columns \
        else parsed.columns
    return build_atoms(columns, parsed.cell, parsed.pbc, dict(parsed.info), parsed.celldisp)


def _fast_frames(path: Path, fmt: str, type_map, lazy: bool = False) -> Iterator:
    """Stream frames with the one scanner and the fast parser of :mod:`zifviz.frames`
    (``lazy``: yield a function that parses the frame, so skipped frames cost no parsing)."""
    from ase.io.formats import open_with_compression

    scan, parse = _FAST[fmt]

    def make(i, block):
        try:
            if block.problem:
                raise FrameParseError(block.problem)
            parsed = parse(block.data)
        except (ValueError, IndexError, KeyError) as exc:
            raise StructureFileError(f"frame {i}: {exc}", str(path)) from None
        return _parsed_atoms(parsed, type_map, str(path))

    with open_with_compression(str(path), "rb") as fh:
        i = 0
        blocks = scan(fh)
        while True:
            try:
                block = next(blocks)
            except StopIteration:
                return
            except COMPRESSION_ERRORS as exc:
                raise StructureFileError(f"frame {i}: {stream_problem(exc)}", str(path)) from None
            yield (lambda i=i, block=block: make(i, block)) if lazy else make(i, block)
            i += 1


def iread(path: str | os.PathLike, format: str | None = None,
          type_map: Mapping[int, str] | None = None, **kwargs) -> Iterator[Atoms]:
    """Iterate lazily over the frames of a trajectory file (one frame in memory at a time).

    (ext)xyz (plain or compressed) and text LAMMPS dumps are cut by the one frame scanner of
    :mod:`zifviz.frames` and parsed without ASE's text parser; other formats go through ASE.
    A frame that cannot be read raises a StructureFileError naming it ("frame 17: ...").
    """
    p = Path(path)
    _check_file(p)
    fmt = _detect_format(p, format)
    kw = _read_kwargs(p, fmt, type_map, kwargs)
    fast = _fast_format(fmt, kw)
    gen = _fast_frames(p, fmt, type_map) if fast else ase.io.iread(p, index=":", format=fmt, **kw)
    i = 0
    while True:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                atoms = next(gen)
        except StopIteration:
            return
        except StructureFileError:
            raise
        except Exception as exc:
            raise StructureFileError(
                f"frame {i} cannot be read as {fmt}: {exc or type(exc).__name__} (truncated?)",
                str(p),
            ) from exc
        if type_map is not None and not fast:
            _apply_type_map(atoms, type_map, str(p))
        atoms = _normalise(atoms, str(p), index=i)
        atoms.info["source_file"] = str(p)
        yield atoms
        i += 1


class _IndexedSource:
    """Frames of a text trajectory through its decoded cache (:class:`zifviz.frames.FrameIndex`)."""

    def __init__(self, path: Path, fmt: str, type_map, cache: bool):
        self.path, self.type_map = path, type_map
        self.index = FrameIndex.open(path, fmt, cache=cache)
        self.n = self.index.n_frames
        self._table = None

    def _columns(self, i: int) -> dict:
        idx = self.index
        idx.check(i)
        cols = {name: idx.column(name, i) for name in idx.columns(i)}
        if "lammps_type" in cols:
            cols = _map_types(cols, self.type_map, f"{self.path} (frame {i})")
        return cols

    def atoms(self, i: int) -> Atoms:
        idx = self.index
        return build_atoms(self._columns(i), idx.cells[i], idx.pbc[i], idx.info(i), idx.celldisp(i))

    def positions(self, i: int) -> np.ndarray:
        self.index.check(i)
        return np.asarray(self.index.column("positions", i), dtype=np.float32)

    def cell(self, i: int) -> np.ndarray:
        self.index.check(i)
        return self.index.cells[i].copy()

    def numbers(self, i: int) -> np.ndarray:
        idx = self.index
        idx.check(i)
        if "lammps_type" in idx.columns(i):
            return np.asarray(self._columns(i)["numbers"], dtype=int)
        return np.asarray(idx.column("numbers", i), dtype=int)

    def frame_info(self):
        if self._table is None:
            self._table = self.index.frame_table()
        return self._table.copy()


class _AseTrajSource:
    """ASE ``.traj`` files: binary and random access already; positions read without Atoms."""

    def __init__(self, path: Path):
        from ase.io.trajectory import TrajectoryReader

        self.path = path
        try:
            self.reader = TrajectoryReader(str(path))
            self.n = len(self.reader)
        except Exception as exc:
            raise _wrap_ase_error(exc, path, "traj") from exc

    def _frame(self, i: int):
        try:
            return self.reader.backend[i]
        except Exception as exc:
            raise StructureFileError(f"frame {i}: cannot be read ({exc})", str(self.path)) from exc

    def atoms(self, i: int) -> Atoms:
        try:
            return self.reader[i]
        except Exception as exc:
            raise StructureFileError(f"frame {i}: cannot be read ({exc})", str(self.path)) from exc

    def positions(self, i: int) -> np.ndarray:
        return np.asarray(self._frame(i).positions, dtype=np.float32)

    def cell(self, i: int) -> np.ndarray:
        return np.asarray(self._frame(i).cell, dtype=float).reshape(3, 3)

    def numbers(self, i: int) -> np.ndarray:
        b = self._frame(i)
        if "numbers" in b:
            return np.asarray(b.numbers, dtype=int)
        return np.asarray(self.reader.backend[0].numbers, dtype=int)

    def frame_info(self):
        return _info_table(self.atoms(i) for i in range(self.n))


class _AseSource:
    """Any other format: counted once by streaming, frames read through ASE."""

    def __init__(self, path: Path, fmt: str, type_map, kwargs: dict):
        self.path, self.fmt, self.type_map, self.kwargs = path, fmt, type_map, kwargs
        self.n = sum(1 for _ in iread(path, fmt, type_map, **kwargs))

    def atoms(self, i: int) -> Atoms:
        return read(self.path, index=i, format=self.fmt, type_map=self.type_map, **self.kwargs)

    def positions(self, i: int) -> np.ndarray:
        return self.atoms(i).positions.astype(np.float32)

    def cell(self, i: int) -> np.ndarray:
        return self.atoms(i).cell.array.copy()

    def numbers(self, i: int) -> np.ndarray:
        return self.atoms(i).numbers.copy()

    def frame_info(self):
        return _info_table(iread(self.path, self.fmt, self.type_map, **self.kwargs))


def _info_table(frames):
    import pandas as pd

    rows = []
    for k, atoms in enumerate(frames):
        row = {"frame": k, "n_atoms": len(atoms)}
        row.update({key: v for key, v in atoms.info.items()
                    if isinstance(v, (str, int, float, bool)) and key not in row})
        rows.append(row)
    return pd.DataFrame(rows, columns=None if rows else ["frame", "n_atoms"])


class Trajectory:
    """A trajectory file read lazily and reached fast, in any order.

    ``len``, ``[i]`` (an ``Atoms``; negative ``i`` counts from the end), ``[i:j:k]``, a list
    of indices or a boolean mask (a lazy view, itself indexable) and iteration; and, without
    building ``Atoms``,
    :meth:`positions` (float32), :meth:`cell`, :meth:`numbers` and :attr:`frame_info` (one row
    per frame: ``frame``, ``n_atoms`` and the header key-values).

    Plain or compressed extxyz/xyz and text LAMMPS dumps are decoded once into a cache folder
    (:func:`zifviz.frames.cache_dir`, keyed by the absolute path, rebuilt when size or mtime
    change) and memory-mapped; ASE ``.traj`` files are read by frame directly; other formats
    through ASE. Frames carry ``info["frame"]`` (index in the file) and ``info["source_file"]``.
    A frame that cannot be read raises a StructureFileError naming it; the others stay readable.
    """

    def __init__(self, path: str | os.PathLike, format: str | None = None,
                 type_map: Mapping[int, str] | None = None, *, cache: bool = True, **kwargs):
        self.path = Path(path)
        _check_file(self.path)
        self.format = _detect_format(self.path, format)
        self.type_map = type_map
        self._kwargs = _read_kwargs(self.path, self.format, type_map, kwargs)
        self._cache = cache
        self._src = None
        self._sel: np.ndarray | None = None  # frames of the file in this view (None: all)

    @property
    def _source(self):
        if self._src is None:
            if _fast_format(self.format, self._kwargs):
                self._src = _IndexedSource(self.path, self.format, self.type_map, self._cache)
            elif self.format == "traj" and not self._kwargs:
                self._src = _AseTrajSource(self.path)
            else:
                self._src = _AseSource(self.path, self.format, self.type_map, self._kwargs)
        return self._src

    def _frames(self) -> np.ndarray:
        return np.arange(self._source.n) if self._sel is None else self._sel

    def __len__(self) -> int:
        return int(self._source.n if self._sel is None else len(self._sel))

    def _file_index(self, i) -> int:
        if not isinstance(i, (int, np.integer)) or isinstance(i, bool):
            raise TypeError(f"frame index must be an integer or a slice, not {type(i).__name__}")
        n = len(self)
        if not -n <= i < n:
            where = " in this view" if self._sel is not None else ""
            raise IndexError(f"frame {i} out of range: {self.path} has {_frames_word(n)}{where}")
        i = int(i) % n
        return i if self._sel is None else int(self._sel[i])

    def __getitem__(self, i):
        if isinstance(i, (slice, list, np.ndarray)):
            frames = self._frames()
            if not isinstance(i, slice):
                i = np.asarray(i)
                if i.dtype == bool:
                    if i.shape != frames.shape:
                        raise IndexError(f"boolean mask of {i.size} for {len(frames)} frames")
                elif i.size and i.dtype.kind not in "iu":
                    raise TypeError("frame indices must be integers or booleans")
                elif i.size and not (-len(frames) <= i.min() and i.max() < len(frames)):
                    raise IndexError(f"frame index out of range: {self.path} has "
                                     f"{_frames_word(len(frames))}")
                i = i.astype(bool) if i.dtype == bool else i.astype(np.int64)
            view = object.__new__(Trajectory)
            view.__dict__.update(self.__dict__)
            view._sel = frames[i]
            return view
        k = self._file_index(i)
        src = self._source
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            atoms = src.atoms(k)
        if self.type_map is not None and isinstance(src, _AseTrajSource):
            _apply_type_map(atoms, self.type_map, str(self.path))
        atoms = _normalise(atoms, str(self.path), index=k)
        atoms.info["frame"] = k
        atoms.info["source_file"] = str(self.path)
        return atoms

    def __iter__(self) -> Iterator[Atoms]:
        if self._sel is None and isinstance(self._source, _AseSource):
            # formats without an index: one streaming pass, not one re-read per frame
            for atoms in iread(self.path, self.format, self.type_map, **self._kwargs):
                yield atoms
            return
        for i in range(len(self)):
            yield self[i]

    def positions(self, i: int) -> np.ndarray:
        """Positions of frame ``i`` as float32 (n, 3), without building Atoms."""
        return self._source.positions(self._file_index(i))

    def cell(self, i: int) -> np.ndarray:
        """Cell of frame ``i`` (3, 3)."""
        return self._source.cell(self._file_index(i))

    def numbers(self, i: int) -> np.ndarray:
        """Atomic numbers of frame ``i``."""
        return self._source.numbers(self._file_index(i))

    @property
    def frames(self) -> np.ndarray:
        """Index in the file of each frame of this (view of the) trajectory."""
        return self._frames().copy()

    @property
    def frame_info(self):
        """pandas DataFrame, one row per frame of this view: ``frame`` (index in the file),
        ``n_atoms``, the scalar header key-values (extxyz) and ``error`` for unreadable frames."""
        df = self._source.frame_info()
        if self._sel is not None:
            df = df.iloc[self._sel].reset_index(drop=True)
        return df

    def __getstate__(self) -> dict:
        # pickled (e.g. sent to a worker process) without open files or memory maps: the
        # receiver reopens the file's index from the cache
        state = dict(self.__dict__)
        state["_src"] = None
        return state

    def __repr__(self) -> str:
        n = "?" if self._src is None and self._sel is None else len(self)
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
