"""Frames of trajectory files reached fast, in any order: scanner, parsers, decoded cache.

* :func:`iter_xyz_blocks` is the one (ext)xyz frame scanner of zifviz: reading, indexing,
  streaming and resuming a partly written file (:mod:`zifviz.storage`) all use it, with one
  rule for blank lines (skipped *between* frames; inside a frame every line counts). The
  atom-count line tells where the next frame starts, so a frame with bad atom lines costs only
  that frame. :func:`iter_dump_blocks` does the same for text LAMMPS dumps (``ITEM: TIMESTEP``).
* :func:`parse_extxyz` / :func:`parse_dump` turn one frame's bytes into arrays without ASE's
  text parser: ASE's own key=value parser for the comment line (same info, same column names),
  then pandas' C reader for the atom lines of large frames (exact floats) or one split for
  small ones; any doubt falls back to the token path, which names the bad line.
* :class:`FrameIndex` decodes every frame once into a cache folder
  (``$ZIFVIZ_CACHE_DIR`` or ``~/.cache/zifviz/frames/<hash of path and format>``): positions
  and every per-atom column as raw arrays concatenated over frames (memory-mapped), cells,
  pbc, and each frame's header key-values (JSON). It is keyed by the absolute path,
  invalidated by size and mtime, written in a temporary folder renamed into place (atomic),
  and checked file by file on load: a broken cache is rebuilt, never trusted.

Why a decoded cache rather than byte offsets or gzip seek points (benchmarks/bench_frames.py,
6x6x6 ZIF-4, 58,752 atoms, 12 frames, one run): the text itself is the slow part. ASE's extxyz
parser takes 80-190 ms per frame and ours 14-50 ms, so any design that re-parses text on
access misses "positions in <= 50 ms" on a loaded machine. chemfiles (an indexed C++ reader)
gives positions in 12-31 ms per frame but rereads gzip files from the start (160 ms for the
last frame); MDAnalysis (frame offsets) 45-160 ms per frame, 330 ms for the last gzip frame,
and it cannot read files whose frames have different atom counts (the demo sets); both give
positions only, not extxyz info and per-atom arrays. indexed_gzip / rapidgzip seek points
reach a gzip frame's bytes in 15-55 ms, plus the parse. The decoded memmap answers
``positions(i)`` in < 0.1 ms and a full ``Atoms`` in < 1 ms for every format, compressed or
not, at the cost of one pass (0.2-1.4 s for those 12 frames) and about the text size on disk.
zarr/HDF5 would add a dependency for what raw memory-mapped arrays already do. ASE ``.traj``
files are binary and indexed already, so they are read by frame directly
(:class:`zifviz.io.Trajectory`), with no cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_CHUNK = 1 << 22
_PIECE = 1 << 16


def _compression_errors() -> tuple:
    import bz2  # noqa: F401  (the modules whose errors a damaged stream raises)
    import lzma
    import zlib

    return (EOFError, zlib.error, lzma.LZMAError, OSError)


COMPRESSION_ERRORS = _compression_errors()
"""What reading a cut or damaged compressed stream raises (gzip.BadGzipFile is an OSError)."""


def stream_problem(exc: Exception) -> str:
    return f"file truncated or corrupt ({type(exc).__name__}: {exc})"




@dataclass
class XYZBlock:
    """One (ext)xyz frame as found by the scanner.

    ``start``/``end`` are byte offsets in the (decompressed) stream; ``data`` holds the bytes
    from the atom-count line to the end of the last atom line. ``problem`` is None for a
    complete frame, else why the frame cannot be read (the scanner then stops when the next
    frame cannot be located). ``terminated`` tells whether the last line ends with a newline
    (a frame being written may lack it).
    """

    start: int
    end: int
    n_atoms: int
    data: bytes
    problem: str | None = None
    terminated: bool = True


def _skip_lines(buf: bytes, at: int, k: int) -> tuple[int, int]:
    """Skip up to ``k`` lines of ``buf`` from ``at``: (lines skipped, offset after them)."""
    if at >= len(buf) or k == 0:
        return 0, min(at, len(buf))
    if k <= 32:
        found = 0
        while found < k:
            nl = buf.find(b"\n", at)
            if nl < 0:
                break
            at = nl + 1
            found += 1
        return found, at
    window = len(buf) - at
    guess = min(window, k * 160)
    while True:
        idx = np.flatnonzero(np.frombuffer(buf, np.uint8, count=guess, offset=at) == 10)
        if len(idx) >= k:
            return k, at + int(idx[k - 1]) + 1
        if guess == window:
            return len(idx), (at + int(idx[-1]) + 1) if len(idx) else at
        guess = min(window, guess * 2)


class _Lines:
    """Line access to a binary stream read in large chunks; keeps bytes from ``mark`` on."""

    def __init__(self, fh, chunk_size: int = _CHUNK):
        self.fh, self.chunk = fh, chunk_size
        self.buf = b""
        self.base = 0  # stream offset of buf[0]
        self.pos = 0
        self.mark = 0
        self.eof = False
        self.terminated = True  # did the last line read/skipped end with a newline?
        self.error: Exception | None = None  # what ended the stream early, if anything

    def problem(self, text: str) -> str:
        return text if self.error is None else f"{text}: {stream_problem(self.error)}"

    def check(self) -> None:
        """At the end of the stream: raise what cut it short, if anything."""
        if self.error is not None:
            raise self.error

    def more(self) -> bool:
        if self.eof:
            return False
        pieces, size = [], 0
        while size < self.chunk and self.error is None:
            try:  # in pieces: what a cut compressed stream gave before the cut is kept
                piece = self.fh.read(min(_PIECE, self.chunk - size))
            except COMPRESSION_ERRORS as exc:
                self.error = exc
                break
            if not piece:
                break
            pieces.append(piece)
            size += len(piece)
        if not pieces:
            self.eof = True
            return False
        data = b"".join(pieces)
        if self.mark > 0:
            self.base += self.mark
            self.buf = self.buf[self.mark:]
            self.pos -= self.mark
            self.mark = 0
        self.buf += data
        return True

    def set_mark(self) -> int:
        self.mark = self.pos
        return self.base + self.pos

    def block(self) -> bytes:
        return self.buf[self.mark:self.pos]

    def tell(self) -> int:
        return self.base + self.pos

    def readline(self) -> bytes | None:
        """The next line without its newline, or None at the end of the stream."""
        while True:
            nl = self.buf.find(b"\n", self.pos)
            if nl >= 0:
                line = self.buf[self.pos:nl]
                self.pos = nl + 1
                self.terminated = True
                return line
            if not self.more():
                if self.pos >= len(self.buf):
                    return None
                line = self.buf[self.pos:]
                self.pos = len(self.buf)
                self.terminated = False
                return line

    def skip(self, k: int) -> int:
        """Skip ``k`` lines; returns how many there were (a last line without newline counts,
        with ``terminated`` False)."""
        found = 0
        self.terminated = True
        while found < k:
            f, self.pos = _skip_lines(self.buf, self.pos, k - found)
            found += f
            if found == k:
                break
            if not self.more():
                if self.buf[self.pos:].strip():
                    found += 1
                self.pos = len(self.buf)
                self.terminated = False
                break
        return found


def _headers(r: _Lines) -> Iterator[tuple[int, bytes]]:
    """(offset, line) of each frame's first line: the next non-blank line, until the stream
    ends (then the reader's own error, if any, is raised)."""
    while True:
        start = r.set_mark()
        line = r.readline()
        if line is None:
            r.check()
            return
        if line.strip():
            yield start, line


def _bad_header(r: _Lines, start: int, line: bytes, expected: str) -> XYZBlock:
    """The last block of a stream whose frame header is not what the format needs."""
    text = line.strip()[:40].decode(errors="replace")
    return XYZBlock(start, r.tell(), 0, r.block(), f"expected {expected}, found {text!r}", False)


def _frame_block(r: _Lines, start: int, n: int, short: str | None) -> tuple[XYZBlock, bool]:
    """The block of a frame of ``n`` atoms whose lines were just read (``short``: why it is
    cut short, if it is), and whether it is the stream's last block."""
    if short is not None:
        return XYZBlock(start, r.tell(), n, r.block(), r.problem(short), False), True
    if not r.terminated and r.error is not None:  # cut inside the last line
        return XYZBlock(start, r.tell(), n, r.block(), r.problem("truncated"), False), True
    return XYZBlock(start, r.tell(), n, r.block(), None, r.terminated), not r.terminated


def iter_xyz_blocks(fh, chunk_size: int = _CHUNK) -> Iterator[XYZBlock]:
    """Yield the frames of a binary (ext)xyz stream ``fh`` one by one (see :class:`XYZBlock`).

    The atom-count line tells where the next frame starts, so a frame with bad atom lines is
    reported (by the parser) without losing the frames after it. A count line that is not a
    number, or a stream that ends inside a frame, gives a last block with ``problem`` set.
    """
    r = _Lines(fh, chunk_size)
    for start, line in _headers(r):
        try:
            n = int(line.split()[0])
            if n < 0:
                raise ValueError
        except ValueError:
            yield _bad_header(r, start, line, "an atom count")
            return
        got = r.skip(n + 1)
        block, last = _frame_block(r, start, n, None if got == n + 1 else
                                   f"truncated: ends after {max(got - 1, 0)} of {n} atoms")
        yield block
        if last:
            return


def iter_dump_blocks(fh, chunk_size: int = _CHUNK) -> Iterator[XYZBlock]:
    """Yield the frames of a text LAMMPS dump (from each ``ITEM: TIMESTEP``), like
    :func:`iter_xyz_blocks`."""
    r = _Lines(fh, chunk_size)
    for start, line in _headers(r):
        if not line.startswith(b"ITEM: TIMESTEP"):
            yield _bad_header(r, start, line, "'ITEM: TIMESTEP'")
            return
        n = None
        problem = None
        for _ in range(50):
            line = r.readline()
            if line is None:
                problem = r.problem("truncated: ends in the frame header")
                break
            if line.startswith(b"ITEM: NUMBER OF ATOMS"):
                count = r.readline()
                try:
                    n = int(count)
                except (TypeError, ValueError):
                    problem = f"bad number of atoms {count!r}"
                    break
            elif line.startswith(b"ITEM: ATOMS"):
                break
        else:
            problem = "no 'ITEM: ATOMS' line in the frame header"
        if problem is None and n is None:
            problem = "no 'ITEM: NUMBER OF ATOMS' in the frame header"
        if problem:
            yield XYZBlock(start, r.tell(), n or 0, r.block(), problem, False)
            return
        got = r.skip(n)
        block, last = _frame_block(r, start, n, None if got == n else
                                   f"truncated: ends after {got} of {n} atoms")
        yield block
        if last:
            return


def scan_complete_xyz(fh) -> tuple[int, int]:
    """Number of complete, newline-terminated frames of an (ext)xyz stream and the byte offset
    where they end (used to resume a partly written file)."""
    n = good = 0
    for block in iter_xyz_blocks(fh):
        if block.problem or not block.terminated:
            break
        n += 1
        good = block.end
    return n, good


# --------------------------------------------------------------------------------------------
# Parsing one frame's bytes (no ASE text parser: one split, one array conversion per column)

class FrameParseError(ValueError):
    """A frame's text cannot be parsed (the message says what and where in the frame)."""


@dataclass
class ParsedFrame:
    n_atoms: int
    cell: np.ndarray  # (3, 3)
    pbc: np.ndarray  # (3,) bool
    info: dict
    columns: dict  # ASE array name -> ndarray (n,) or (n, k)
    celldisp: np.ndarray | None = None


_NUMERIC = {"R": np.float64, "I": np.int64}


def _tokens(body: bytes, n: int, ncol: int, first_line: int) -> list:
    tok = body.split()
    if len(tok) != n * ncol:
        lines = body.splitlines()
        for j, line in enumerate(lines[:n]):
            if len(line.split()) != ncol:
                raise FrameParseError(f"line {first_line + j + 1} of the frame has "
                                      f"{len(line.split())} columns, expected {ncol}")
        raise FrameParseError(f"{len(lines)} atom lines, expected {n}")
    return tok


def _column(tok: list, start: int, width: int, ncol: int, kind: str, name: str) -> np.ndarray:
    cols = []
    for c in range(width):
        items = tok[start + c::ncol]
        try:
            if kind in _NUMERIC:
                cols.append(np.array(items, dtype=_NUMERIC[kind]))
            elif kind == "L":
                arr = np.array(items, dtype="S1")
                cols.append(np.isin(arr, (b"T", b"t", b"1")))
            else:
                cols.append(np.array(items).astype(str))
        except ValueError:
            conv = float if kind == "R" else int
            for j, item in enumerate(items):
                try:
                    conv(item)
                except ValueError:
                    raise FrameParseError(
                        f"atom {j + 1}: {item.decode(errors='replace')!r} is not a valid value "
                        f"of column {name!r}") from None
            raise FrameParseError(f"column {name!r} cannot be read") from None
    return cols[0] if width == 1 else np.stack(cols, axis=1)


_PANDAS_FROM = 2000


def _table(body: bytes, n: int, specs: list, first_line: int) -> dict:
    """Columns of ``n`` whitespace-separated atom lines; ``specs`` is a list of
    ``(name, kind, width)`` with extxyz kinds R, I, S, L. pandas' C reader does the work
    (about 3x less time than splitting in Python); any doubt (an error, missing fields, NaN)
    and the exact, slower token path decides and names the bad line."""
    ncol = sum(w for _, _, w in specs)
    if n >= _PANDAS_FROM:  # below, the fixed cost of read_csv is more than it saves
        try:
            out = _table_pandas(body, n, specs, ncol)
        except Exception:
            out = None
        if out is not None:
            return out
    tok = _tokens(body, n, ncol, first_line)
    out, at = {}, 0
    for name, kind, width in specs:
        out[name] = _column(tok, at, width, ncol, kind, name)
        at += width
    return out


def _table_pandas(body: bytes, n: int, specs: list, ncol: int) -> dict | None:
    import io

    import pandas as pd

    dtypes, at = {}, 0
    for _, kind, width in specs:
        for c in range(at, at + width):
            dtypes[c] = {"R": np.float64, "I": np.int64}.get(kind, "category")
        at += width
    df = pd.read_csv(io.BytesIO(body), sep=r"\s+", header=None, names=range(ncol), dtype=dtypes,
                     engine="c", na_filter=False, index_col=False)
    if df.shape != (n, ncol):
        return None
    out, at = {}, 0
    for name, kind, width in specs:
        cols = []
        for c in range(at, at + width):
            series = df[c]
            if kind in ("R", "I"):
                values = series.to_numpy()
                if kind == "R" and np.isnan(values).any():
                    return None
            else:
                codes = series.cat.codes.to_numpy()
                if (codes < 0).any():
                    return None
                cats = np.asarray(series.cat.categories.astype(str), dtype=str)
                if (cats == "").any():  # a missing field
                    return None
                if kind == "L":
                    lut = np.isin(cats, ("T", "t", "True", "true", "1"))
                    values = lut[codes]
                else:
                    values = cats[codes]
            cols.append(values)
        out[name] = cols[0] if width == 1 else np.stack(cols, axis=1)
        at += width
    return out


def _symbols_to_numbers(symbols: np.ndarray) -> np.ndarray:
    from ase.data import atomic_numbers

    uniq, inv = np.unique(symbols, return_inverse=True)
    table = []
    for s in uniq:
        z = atomic_numbers.get(str(s).capitalize())
        if z is None:
            raise FrameParseError(f"unknown element {str(s)!r}")
        table.append(z)
    return np.asarray(table, dtype=np.int16)[inv.reshape(-1)]


def parse_xyz(data: bytes) -> ParsedFrame:
    """Parse one plain XYZ frame (symbol x y z; the comment line is ignored)."""
    return parse_extxyz(data, comment=False)


def parse_extxyz(data: bytes, comment: bool = True) -> ParsedFrame:
    """Parse one (ext)xyz frame (count line to last atom line), as ASE's extxyz reader would:
    the same key-value parser for the comment line, the same column names."""
    from ase.io.extxyz import key_val_str_to_dict, parse_properties

    nl1 = data.find(b"\n")
    nl2 = data.find(b"\n", nl1 + 1)
    if nl1 < 0 or nl2 < 0:
        nl2 = len(data) if nl1 >= 0 else nl1
    n = int(data[:nl1].split()[0])
    comment = data[nl1 + 1:nl2].decode(errors="replace").strip() if comment else ""
    try:
        info = key_val_str_to_dict(comment) if comment else {}
    except Exception as exc:
        raise FrameParseError(f"comment line cannot be parsed ({exc})") from None
    pbc = info.pop("pbc", None)
    cell = np.zeros((3, 3))
    if "Lattice" in info:
        cell = np.asarray(info.pop("Lattice"), dtype=float).T
        if pbc is None:
            pbc = [True, True, True]
    pbc = np.zeros(3, bool) if pbc is None else np.asarray(pbc, dtype=bool).reshape(3)
    props = info.pop("Properties", "species:S:1:pos:R:3")
    try:
        properties, names, _, _ = parse_properties(props)
    except Exception as exc:
        raise FrameParseError(f"bad Properties {props!r} ({exc})") from None
    kinds = dict(zip(props.split(":")[0::3], props.split(":")[1::3]))
    body = data[nl2 + 1:] if nl2 < len(data) else b""
    specs = [(name, kinds.get(name, "R"), properties[name][1]) for name in names]
    table = _table(body, n, specs, 2)
    columns = {}
    for name in names:
        ase_name = properties[name][0]
        value = table[name]
        if ase_name == "symbols":
            columns["numbers"] = _symbols_to_numbers(value)
        elif ase_name == "numbers":
            columns["numbers"] = value.astype(np.int16)
        else:
            columns[ase_name] = value
    if "positions" not in columns:
        raise FrameParseError("no positions (pos) column")
    if "numbers" not in columns:
        raise FrameParseError("no species or Z column")
    return ParsedFrame(n, cell, pbc, info, columns)


_DUMP_POS = (("x", "y", "z"), ("xu", "yu", "zu"), ("xs", "ys", "zs"), ("xsu", "ysu", "zsu"))


def parse_dump(data: bytes) -> ParsedFrame:
    """Parse one text LAMMPS dump frame (``ITEM: TIMESTEP`` to the last atom line). Atoms are
    sorted by ``id``; the cell is ASE's reading of the box (tilt and origin included)."""
    from ase.io.lammpsrun import construct_cell

    lines = data.split(b"\n", 40)
    info = {}
    n = None
    bounds = None
    header = 0
    cols = None
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith(b"ITEM: TIMESTEP"):
            info["timestep"] = int(lines[i + 1])
            i += 2
        elif line.startswith(b"ITEM: NUMBER OF ATOMS"):
            n = int(lines[i + 1])
            i += 2
        elif line.startswith(b"ITEM: BOX BOUNDS"):
            items = line.decode().split()[3:]
            try:
                bounds = np.array([[float(x) for x in lines[i + k].split()] for k in (1, 2, 3)])
            except ValueError:
                raise FrameParseError("bad BOX BOUNDS lines") from None
            flags = items[-3:] if len(items) >= 3 else ["f", "f", "f"]
            pbc = np.array(["p" in f for f in flags])
            i += 4
        elif line.startswith(b"ITEM: ATOMS"):
            cols = line.decode().split()[2:]
            header = i + 1
            break
        else:
            i += 1
    if n is None or bounds is None or cols is None:
        raise FrameParseError("incomplete frame header")
    body = data.split(b"\n", header)[-1] if header else b""
    if len(set(cols)) != len(cols):
        raise FrameParseError(f"repeated column names in {cols}")
    kinds = {name: "S" if name == "element" else ("I" if name in ("id", "type", "mol", "proc")
                                                  else "R") for name in cols}
    columns = _table(body, n, [(name, kinds[name], 1) for name in cols], header)
    if bounds.shape[1] == 3:
        xy, xz, yz = bounds[:, 2]
    else:
        xy = xz = yz = 0.0
    cell, celldisp = construct_cell(bounds[:, :2].ravel(), (xy, xz, yz))
    order = np.argsort(columns["id"], kind="stable") if "id" in columns else None
    if order is not None:
        columns = {k: v[order] for k, v in columns.items()}
    for names in _DUMP_POS:
        if all(x in columns for x in names):
            pos = np.stack([columns.pop(x) for x in names], axis=1)
            if names[0].startswith("xs"):
                pos = pos @ cell
            break
    else:
        raise FrameParseError(f"no coordinate columns among {cols}")
    out = {"positions": pos}
    if "element" in columns:
        out["numbers"] = _symbols_to_numbers(columns.pop("element"))
    if "type" in columns:
        out["lammps_type"] = columns.pop("type").astype(np.int32)
    for k, v in columns.items():
        out[k] = v
    return ParsedFrame(n, cell, pbc, info, out, celldisp=np.asarray(celldisp, float))


# --------------------------------------------------------------------------------------------
# The decoded frame cache

CACHE_VERSION = 1


def cache_dir() -> Path:
    """Folder of the frame caches: ``$ZIFVIZ_CACHE_DIR`` or ``~/.cache/zifviz/frames``."""
    env = os.environ.get("ZIFVIZ_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "zifviz" / "frames"


def _cache_key(path: Path, format: str) -> str:
    return hashlib.sha1(f"{path}|{format}".encode()).hexdigest()[:20]


def clear_cache(path: str | os.PathLike | None = None) -> int:
    """Delete the decoded frames of ``path`` (every format), or the whole frame cache; returns
    the number of cache folders removed. Caches are rebuilt when next needed."""
    root = cache_dir()
    if not root.is_dir():
        return 0
    if path is None:
        folders = [p for p in root.iterdir() if p.is_dir()]
    else:
        resolved = Path(path).resolve()
        folders = []
        for p in root.iterdir():
            try:
                meta = json.loads((p / "meta.json").read_text())
            except (OSError, ValueError):
                continue
            if meta.get("path") == str(resolved):
                folders.append(p)
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)
    return len(folders)


def _jsonify(value):
    if isinstance(value, np.ndarray):
        return {"__ndarray__": value.tolist(), "dtype": str(value.dtype)}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {str(k): _jsonify(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonify(v) for v in value]
    return value


def _unjsonify(value):
    if isinstance(value, dict):
        if "__ndarray__" in value:
            return np.array(value["__ndarray__"], dtype=value["dtype"])
        return {k: _unjsonify(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unjsonify(v) for v in value]
    return value


_TEXT_FORMATS = {"extxyz": (iter_xyz_blocks, parse_extxyz), "xyz": (iter_xyz_blocks, parse_xyz),
                 "lammps-dump-text": (iter_dump_blocks, parse_dump)}


class FrameIndex:
    """Every frame of a text trajectory (plain or compressed extxyz/xyz, LAMMPS dump), decoded
    once into a cache folder and memory-mapped: positions, cells and per-atom arrays of any
    frame are reached in constant time without a text parser.

    ``FrameIndex.open(path, format)`` reuses a valid cache (same absolute path, size, mtime and
    cache version, all files of the right size) or builds one in one streaming pass. A broken
    or stale cache is rebuilt, never trusted. Frames that cannot be parsed are recorded
    (``errors``: frame -> message) and the frames after them stay readable.
    """

    def __init__(self, path: Path, folder: Path, meta: dict):
        self.path = path
        self.folder = folder
        self.meta = meta
        self.format = meta["format"]
        self.n_frames = int(meta["n_frames"])
        self.errors = {int(k): v for k, v in meta["errors"].items()}
        self.atom_start = np.fromfile(folder / "atom_start.i8", dtype=np.int64)
        self.cells = np.fromfile(folder / "cells.f8", dtype=np.float64).reshape(-1, 3, 3)
        self.pbc = np.fromfile(folder / "pbc.b1", dtype=bool).reshape(-1, 3)
        total = int(self.atom_start[-1])
        self._cols = {}
        for name, spec in meta["columns"].items():
            shape = (total,) + tuple(spec["shape"])
            if total == 0:
                self._cols[name] = np.zeros(shape, dtype=spec["dtype"])
            else:
                self._cols[name] = np.memmap(folder / spec["file"], dtype=spec["dtype"],
                                             mode="r", shape=shape)
        with open(folder / "frames.json", encoding="utf-8") as fh:
            self._frames = json.load(fh)

    # -- construction -------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | os.PathLike, format: str, cache: bool = True,
             progress: bool | None = None) -> FrameIndex:
        path = Path(path).resolve()
        st = path.stat()
        key = _cache_key(path, format)
        root = cache_dir()
        folder = root / key
        if cache:
            found = cls._load(path, folder, st)
            if found is not None:
                return found
        try:
            root.mkdir(parents=True, exist_ok=True)
            _sweep(root, key)
            tmp = Path(tempfile.mkdtemp(dir=root, prefix=f"{key}.tmp-"))
        except OSError:  # no writable cache folder: a private temporary one
            tmp = Path(tempfile.mkdtemp(prefix="zifviz-frames-"))
            folder = tmp
        try:
            cls._build(path, format, st, tmp, progress)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        if tmp != folder:
            old = folder.with_name(f"{key}.old-{os.getpid()}-{id(tmp)}")
            try:
                if folder.exists():
                    os.replace(folder, old)
                os.replace(tmp, folder)
            except OSError:  # another process won the race: use our own copy
                folder = tmp
            shutil.rmtree(old, ignore_errors=True)
        found = cls._load(path, folder, st)
        if found is None:
            raise OSError(f"frame cache in {folder} could not be read back")
        return found

    @classmethod
    def _load(cls, path: Path, folder: Path, st) -> FrameIndex | None:
        try:
            with open(folder / "meta.json", encoding="utf-8") as fh:
                meta = json.load(fh)
            if (meta.get("version") != CACHE_VERSION or meta.get("path") != str(path)
                    or meta.get("size") != st.st_size or meta.get("mtime_ns") != st.st_mtime_ns):
                return None
            n, total = int(meta["n_frames"]), int(meta["n_total"])
            expect = {"atom_start.i8": 8 * (n + 1), "cells.f8": 72 * n, "pbc.b1": 3 * n}
            for spec in meta["columns"].values():
                expect[spec["file"]] = (total * int(np.prod(spec["shape"], dtype=int))
                                        * np.dtype(spec["dtype"]).itemsize)
            for name, size in expect.items():
                if (folder / name).stat().st_size != size:
                    return None
            index = cls(path, folder, meta)
            if len(index._frames) != n or int(index.atom_start[-1]) != total:
                return None
            return index
        except (OSError, ValueError, KeyError, TypeError):
            return None

    @staticmethod
    def _build(path: Path, fmt: str, st, tmp: Path, progress: bool | None) -> None:
        from ase.io.formats import open_with_compression

        scan, parse = _TEXT_FORMATS[fmt]
        show = progress if progress is not None else st.st_size > 200_000_000
        bar = None
        if show:
            from tqdm.auto import tqdm

            bar = tqdm(total=st.st_size, unit="B", unit_scale=True, desc=f"indexing {path.name}",
                       leave=False)
        with _CacheWriter(tmp) as out:
            with open_with_compression(str(path), "rb") as fh:
                try:
                    for block in scan(fh):
                        parsed, problem = None, block.problem
                        if problem is None:
                            try:
                                parsed = parse(block.data)
                            except FrameParseError as exc:
                                problem = str(exc)
                            except (ValueError, IndexError, KeyError) as exc:
                                problem = f"cannot be parsed ({exc})"
                        out.add(parsed, block.n_atoms, problem)
                        if bar is not None:
                            bar.update(max(0, min(fh.tell(), st.st_size) - bar.n))
                except COMPRESSION_ERRORS as exc:  # a cut or damaged gzip/bz2/xz stream
                    out.add(None, 0, f"{stream_problem(exc)}; the frames before are readable")
            if bar is not None:
                bar.close()
            out.finish({"version": CACHE_VERSION, "path": str(path), "size": st.st_size,
                        "mtime_ns": st.st_mtime_ns, "format": fmt})

    # -- access -------------------------------------------------------------------------
    def check(self, i: int) -> None:
        if i in self.errors:
            from .errors import StructureFileError

            raise StructureFileError(f"frame {i}: {self.errors[i]}", str(self.path))

    def n_atoms(self, i: int) -> int:
        return int(self._frames[i]["n_atoms"])

    def column(self, name: str, i: int) -> np.ndarray | None:
        """Per-atom array ``name`` of frame ``i`` (a read-only view) or None if absent."""
        if name not in self._frames[i]["columns"]:
            return None
        a, b = self.atom_start[i], self.atom_start[i + 1]
        return self._cols[name][a:b]

    def columns(self, i: int) -> list[str]:
        return list(self._frames[i]["columns"])

    def info(self, i: int) -> dict:
        return _unjsonify(self._frames[i]["info"])

    def celldisp(self, i: int):
        return self._frames[i].get("celldisp")

    def frame_table(self):
        """pandas DataFrame, one row per frame: ``frame``, ``n_atoms``, the scalar header
        key-values, and ``error`` (None for readable frames) when a frame is unreadable."""
        import pandas as pd

        rows = []
        for k, rec in enumerate(self._frames):
            row = {"frame": k, "n_atoms": rec["n_atoms"]}
            for key, value in rec["info"].items():
                if isinstance(value, (str, int, float, bool)) or value is None:
                    row[key] = value
            rows.append(row)
        df = pd.DataFrame(rows, columns=None if rows else ["frame", "n_atoms"])
        if self.errors:
            df["error"] = [self.errors.get(k) for k in range(len(rows))]
        return df


class _CacheWriter:
    """Writes a cache folder frame by frame: one raw file per per-atom column (all frames
    concatenated; a frame without the column gets zeros), cells, pbc, per-frame records
    (atom count, columns present, header info) and, last, ``meta.json``."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.columns: dict[str, dict] = {}
        self.files: dict[str, object] = {}
        self.frames: list[dict] = []
        self.errors: dict[int, str] = {}
        self.starts, self.cells, self.pbcs = [0], [], []
        self.total = 0

    def __enter__(self) -> _CacheWriter:
        return self

    def __exit__(self, *exc) -> None:
        for f in self.files.values():
            f.close()

    def _spec(self, name: str, value: np.ndarray) -> dict:
        spec = self.columns.get(name)
        if spec is None:
            dtype = value.dtype
            if dtype.kind == "U":  # room for longer strings in later frames
                dtype = np.dtype(f"U{max(16, dtype.itemsize // 4)}")
            spec = {"file": f"col{len(self.columns)}.bin", "dtype": dtype.str,
                    "shape": list(value.shape[1:])}
            self.columns[name] = spec
            self.files[name] = open(self.folder / spec["file"], "wb")
            _zeros(self.files[name], spec, self.total)
        return spec

    def add(self, parsed: ParsedFrame | None, n_claimed: int, problem: str | None) -> None:
        k = len(self.frames)
        if parsed is not None:
            for name, value in parsed.columns.items():
                want = np.dtype(self._spec(name, value)["dtype"])
                if list(value.shape[1:]) != self.columns[name]["shape"] or (
                        want.kind == "U" and value.dtype.itemsize > want.itemsize):
                    parsed, problem = None, f"column {name!r} changes shape or type"
                    break
        if parsed is None:
            self.errors[k] = problem or "cannot be parsed"
        n = parsed.n_atoms if parsed is not None else 0
        present = list(parsed.columns) if parsed is not None else []
        for name, spec in self.columns.items():
            if name in present:
                value = np.ascontiguousarray(parsed.columns[name], dtype=spec["dtype"])
                value.tofile(self.files[name])
            else:
                _zeros(self.files[name], spec, n)
        self.total += n
        self.starts.append(self.total)
        self.cells.append(parsed.cell if parsed is not None else np.zeros((3, 3)))
        self.pbcs.append(parsed.pbc if parsed is not None else np.zeros(3, bool))
        rec = {"n_atoms": n if parsed is not None else n_claimed, "columns": present, "info": {}}
        if parsed is not None:
            rec["info"] = _jsonify(parsed.info)
            if parsed.celldisp is not None and np.any(parsed.celldisp):
                rec["celldisp"] = parsed.celldisp.tolist()
        self.frames.append(rec)

    def finish(self, meta: dict) -> None:
        for f in self.files.values():
            f.close()
        folder = self.folder
        np.asarray(self.starts, dtype=np.int64).tofile(folder / "atom_start.i8")
        np.asarray(self.cells, dtype=np.float64).reshape(-1, 3, 3).tofile(folder / "cells.f8")
        np.asarray(self.pbcs, dtype=bool).reshape(-1, 3).tofile(folder / "pbc.b1")
        with open(folder / "frames.json", "w", encoding="utf-8") as fh:
            json.dump(self.frames, fh)
        meta = dict(meta, n_frames=len(self.frames), n_total=self.total, columns=self.columns,
                    errors={str(k): v for k, v in self.errors.items()})
        with open(folder / "meta.json", "w", encoding="utf-8") as fh:  # last: marks complete
            json.dump(meta, fh)


def _sweep(root: Path, key: str, age: float = 3600.0) -> None:
    """Remove what crashed builds of this cache left behind (older than ``age`` seconds)."""
    import time

    now = time.time()
    for p in root.glob(f"{key}.*-*"):
        try:
            if now - p.stat().st_mtime > age:
                shutil.rmtree(p, ignore_errors=True)
        except OSError:
            pass


def _zeros(fh, spec: dict, n: int) -> None:
    if n:
        np.zeros((n, *spec["shape"]), dtype=spec["dtype"]).tofile(fh)


def build_atoms(columns: dict, cell, pbc, info: dict, celldisp=None):
    """ASE ``Atoms`` from decoded columns (``numbers``, ``positions`` and any per-atom arrays),
    with ASE's conventions: ``initial_charges``/``masses`` set as such, ``free_energy`` used
    as ``energy`` when there is none. Arrays are copied (never views of the cache)."""
    from ase import Atoms

    atoms = Atoms(numbers=np.array(columns["numbers"]), positions=np.array(columns["positions"]),
                  cell=np.array(cell), pbc=np.array(pbc), celldisp=celldisp)
    for name, value in columns.items():
        if name in ("numbers", "positions"):
            continue
        if name == "initial_charges":
            atoms.set_initial_charges(np.array(value))
        elif name == "masses":
            atoms.set_masses(np.array(value))
        else:
            atoms.new_array(name, np.array(value))
    atoms.info.update(info)
    if "energy" not in atoms.info and "free_energy" in atoms.info:
        atoms.info["energy"] = float(atoms.info["free_energy"])
    return atoms
