"""Shareable widget state: what a view shows, saved to a small JSON file and opened again.

``save_state(widget, "view.json")`` writes

* which widget it is (``zifviz.widgets.viewer:StructureViewer``, ...);
* a **reference** to each piece of data it shows, never the data itself when a reference will
  do: a demo set by name and frame indices, a file by path and SHA-256, with the frames used;
* what the view shows: level, colouring, frame, highlighted Zn or selected rows, the camera
  (nglview's ``_camera_orientation``, the 16 numbers of the browser's last orientation), the
  explorers' controls and clicked point.

``load_state("view.json")`` checks every reference (a demo or file whose SHA-256 changed, or
that is gone, raises :class:`~zifviz.errors.StateFileError` naming it) and builds the same
widget again. ``load_state(path, data={"frames": frames})`` uses data already in memory
instead (checked against the fingerprint of the saved frames).

Data that exist only in memory (frames with added per-atom arrays, a table of predictions, a
2-D map) are written next to the state file as ``<name>.<role>.extxyz`` / ``.csv`` /
``.npy`` and referenced like any other file: share the folder. Writes are atomic.

Any widget with three methods works here (the transition player too)::

    widget.state() -> dict             # JSON-able view state
    widget.state_data() -> dict        # {role: frames | DataFrame | array | path(s)}
    Widget.from_state(data, state)     # classmethod: data = {role: resolved data}
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
from ase import Atoms
from traitlets import TraitError

from ..errors import StateFileError, ZifvizError
from ..storage import atomic_write

__all__ = ["save_state", "load_state", "data_reference", "resolve_reference", "file_sha256",
           "frames_fingerprint", "STATE_FORMAT"]

#: identifies a zifviz state file (and its version)
STATE_FORMAT = "zifviz-widget-state/1"
_WIDGET_PACKAGE = "zifviz.widgets."
_HASHES: dict[tuple, str] = {}


# ----------------------------------------------------------------------------- hashes
def file_sha256(path) -> str:
    """SHA-256 of a file (remembered for the session while size and mtime stay)."""
    p = Path(path).resolve()
    st = p.stat()
    key = (str(p), st.st_size, st.st_mtime_ns)
    if key not in _HASHES:
        h = hashlib.sha256()
        with open(p, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        _HASHES[key] = h.hexdigest()
    return _HASHES[key]


def frames_fingerprint(frames) -> str:
    """Short hash of the frame count and of the first frame's atomic numbers and positions
    (rounded to 1e-4 Å): enough to tell other data from the data a state was saved with."""
    n = len(frames)
    first = frames[0]
    h = hashlib.sha256(f"{n}:".encode())
    h.update(np.ascontiguousarray(first.numbers, dtype=np.int64).tobytes())
    h.update(np.round(np.asarray(first.positions, float), 4).tobytes())
    return h.hexdigest()[:16]


def _table_sha256(table: pd.DataFrame) -> str:
    return hashlib.sha256(table.to_csv(index=False).encode()).hexdigest()


# ----------------------------------------------------------------------------- references
def _compact(indices) -> dict | list:
    idx = np.asarray(indices, dtype=np.int64)
    if len(idx) > 1:
        step = int(idx[1] - idx[0])
        if step > 0 and np.array_equal(idx, np.arange(idx[0], idx[-1] + 1, step)):
            return {"start": int(idx[0]), "stop": int(idx[-1]) + 1, "step": step}
    return idx.tolist()


def _expand(spec) -> np.ndarray:
    if isinstance(spec, dict):
        return np.arange(spec["start"], spec["stop"], spec["step"])
    return np.asarray(spec, dtype=np.int64)


def _same_frame(a: Atoms, b: Atoms) -> bool:
    if len(a) != len(b) or not np.array_equal(a.numbers, b.numbers):
        return False
    if not np.allclose(a.positions, b.positions, atol=1e-6):
        return False
    if not np.allclose(np.asarray(a.cell), np.asarray(b.cell), atol=1e-6):
        return False
    if set(a.arrays) != set(b.arrays):
        return False
    for key, value in a.arrays.items():
        other = b.arrays[key]
        if np.asarray(value).dtype.kind in "fc":
            if not np.allclose(value, other, atol=1e-8, equal_nan=True):
                return False
        elif not np.array_equal(value, other):
            return False
    return True


def _file_frames(frames) -> tuple[Path, list[int]] | None:
    """The one file (and frame indices) these in-memory frames were read from, unchanged."""
    import zifviz

    sources = {f.info.get("source_file") for f in frames}
    if len(sources) != 1 or None in sources or not Path(str(next(iter(sources)))).is_file():
        return None
    path = Path(str(next(iter(sources))))
    indices = [f.info.get("frame") for f in frames]
    if any(i is None for i in indices):
        if len(frames) != 1:
            return None
        indices = [-1]
    try:
        stored = zifviz.Trajectory(path)  # indexed: any frame fast, in any order
        for f, i in zip(frames, indices):
            if not _same_frame(f, stored[int(i)]):
                return None
    except (ZifvizError, IndexError):
        return None
    return path, [int(i) for i in indices]


def _is_shipped_demo(demo) -> bool:
    """Whether a DemoSet is one of zifviz's own (``load_demo(name)`` opens the same file)."""
    from ..datasets import demo_path

    try:
        return Path(demo_path(demo.name)).resolve() == Path(demo.path).resolve()
    except (ZifvizError, OSError, KeyError, ValueError):
        return False


def _file_ref(path, folder: Path, **extra) -> dict:
    path = Path(path).resolve()
    try:
        shown = os.path.relpath(path, folder.resolve())
        if shown.startswith(".."):
            shown = str(path)
    except ValueError:  # another drive
        shown = str(path)
    return {"kind": "file", "path": shown, "sha256": file_sha256(path), **extra}


def data_reference(data, folder, stem: str, role: str) -> dict:
    """A JSON reference to ``data`` for a state file in ``folder`` named ``stem``.

    Frames of a demo set -> ``{"kind": "demo", "name", "sha256", "frames"}``; a
    :class:`zifviz.Trajectory` or Atoms read unchanged from one file -> ``{"kind": "file",
    "path", "sha256", "frames"}``; anything else (frames changed in memory, a DataFrame, an
    array) is written next to the state file (``<stem>.<role>.extxyz|csv|npy``) and referenced
    as a file. A path, or a dict of paths, is referenced as file(s)."""
    from ..datasets import DemoSet
    from ..io import Trajectory

    folder = Path(folder)
    if data is None:
        return {"kind": "none"}
    if isinstance(data, (str, os.PathLike)):
        return _file_ref(data, folder)
    if isinstance(data, dict):
        return {"kind": "files", "files": {str(k): data_reference(v, folder, stem, f"{role}-{k}")
                                           for k, v in data.items()}}
    if isinstance(data, DemoSet):
        if _is_shipped_demo(data):
            return {"kind": "demo", "name": data.name, "sha256": file_sha256(data.path),
                    "frames": _compact(data.frames), "fingerprint": frames_fingerprint(data)}
        return _file_ref(data.path, folder, frames=_compact(data.frames), demo_set=data.name,
                         fingerprint=frames_fingerprint(data))
    if isinstance(data, Trajectory):
        type_map = {str(k): v for k, v in (data.type_map or {}).items()} or None
        return _file_ref(data.path, folder, frames=_compact(data._frames()), trajectory=True,
                         reader=data.format, type_map=type_map,
                         fingerprint=frames_fingerprint(data))
    if isinstance(data, pd.DataFrame):
        path = folder / f"{stem}.{role}.csv"
        with atomic_write(path) as fh:
            data.to_csv(fh, index=False)
        dtypes = {str(c): str(t) for c, t in data.dtypes.items()}
        categories = {str(c): {"categories": data[c].cat.categories.tolist(),
                               "ordered": bool(data[c].cat.ordered)}
                      for c, t in data.dtypes.items() if isinstance(t, pd.CategoricalDtype)}
        return _file_ref(path, folder, format="csv", dtypes=dtypes, categories=categories)
    if isinstance(data, np.ndarray):
        path = folder / f"{stem}.{role}.npy"
        with atomic_write(path, "wb") as fh:
            np.save(fh, data, allow_pickle=False)
        return _file_ref(path, folder, format="npy")
    frames = [data] if isinstance(data, Atoms) else data
    if len(frames) and all(isinstance(f, Atoms) for f in frames):
        found = _file_frames(frames)
        if found is not None:
            path, indices = found
            return _file_ref(path, folder, frames=indices, single=isinstance(data, Atoms),
                             fingerprint=frames_fingerprint(frames))
        import zifviz

        path = folder / f"{stem}.{role}.extxyz"
        zifviz.write(path, list(frames), format="extxyz")
        return _file_ref(path, folder, frames="all", single=isinstance(data, Atoms),
                         fingerprint=frames_fingerprint(frames))
    raise StateFileError(f"cannot reference {role} data of type {type(data).__name__} "
                         "(frames, a DataFrame, an array or a path)")


def _checked_path(ref: dict, folder: Path, source: str) -> Path:
    path = Path(ref["path"])
    if not path.is_absolute():
        path = folder / path
    if not path.is_file():
        raise StateFileError(f"the data file {path} it refers to is not there", source)
    sha = file_sha256(path)
    if sha != ref["sha256"]:
        raise StateFileError(f"the data file {path} changed since the state was saved "
                             f"(SHA-256 {sha[:12]}…, saved {ref['sha256'][:12]}…)", source)
    return path


def resolve_reference(ref: dict, folder, source: str = "state"):
    """The data a :func:`data_reference` points to, checked (SHA-256, frames fingerprint);
    a changed or missing file raises :class:`~zifviz.errors.StateFileError`."""
    import zifviz
    from ..datasets import load_demo

    folder = Path(folder)
    kind = ref.get("kind")
    if kind == "none":
        return None
    if kind == "files":
        return {k: resolve_reference(v, folder, source) for k, v in ref["files"].items()}
    if kind == "demo":
        demo = load_demo(ref["name"])
        sha = file_sha256(demo.path)
        if sha != ref["sha256"]:
            raise StateFileError(f"the demo set {ref['name']!r} ({demo.path}) is not the one "
                                 f"the state was saved with (SHA-256 {sha[:12]}…, saved "
                                 f"{ref['sha256'][:12]}…)", source)
        data = demo[_expand(ref["frames"])]
    elif kind == "file":
        path = _checked_path(ref, folder, source)
        fmt = ref.get("format")
        if fmt == "csv":
            table = pd.read_csv(path)
            categories = ref.get("categories", {})
            for column, dtype in ref.get("dtypes", {}).items():
                if column in categories and column in table:
                    table[column] = pd.Categorical(table[column], **categories[column])
                elif column in table and str(table[column].dtype) != dtype:
                    try:
                        table[column] = table[column].astype(dtype)
                    except (TypeError, ValueError):
                        pass
            return table
        if fmt == "npy":
            return np.load(path, allow_pickle=False)
        frames = ref.get("frames")
        if ref.get("demo_set") is not None:  # a demo-format file of one's own (DemoSet.open)
            from ..datasets import DemoSet

            data = DemoSet.open(path, name=ref["demo_set"] or None)[_expand(frames)]
        elif ref.get("trajectory"):
            type_map = {int(k): v for k, v in (ref.get("type_map") or {}).items()} or None
            data = zifviz.Trajectory(path, format=ref.get("reader"), type_map=type_map)
            data = data[_expand(frames)]
        elif frames == "all":
            data = list(zifviz.iread(path))
            if ref.get("single"):
                data = data[0]
        elif frames is not None:
            stored = zifviz.Trajectory(path)
            data = [stored[int(i)] for i in frames]
            if ref.get("single"):
                data = data[0]
        if frames is None:
            return path
    else:
        raise StateFileError(f"unknown data reference kind {kind!r}", source)
    _check_fingerprint(ref, data, source)
    return data


def _check_fingerprint(ref: dict, data, source: str):
    if "fingerprint" not in ref:
        return
    frames = [data] if isinstance(data, Atoms) else data
    if frames_fingerprint(frames) != ref["fingerprint"]:
        raise StateFileError("the frames given are not the ones the state was saved with "
                             f"({len(frames)} frames; first-frame atoms or positions differ)",
                             source)


# ----------------------------------------------------------------------------- save / load
def _widget_name(widget) -> str:
    cls = type(widget)
    if not cls.__module__.startswith(_WIDGET_PACKAGE):
        raise StateFileError(f"{cls.__name__} is not a zifviz widget")
    for method in ("state", "state_data", "from_state"):
        if not hasattr(widget, method):
            raise StateFileError(f"{cls.__name__} cannot save its state (no {method}())")
    return f"{cls.__module__}:{cls.__qualname__}"


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON-able: {type(value).__name__}")


def save_state(widget, path) -> Path:
    """Write what ``widget`` shows to the JSON file ``path`` (atomically); see the module
    docstring. Returns the path."""
    import zifviz

    path = Path(path)
    name = _widget_name(widget)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise StateFileError("no such folder", str(folder))
    stem = path.name[:-len(path.suffix)] if path.suffix else path.name
    data = {role: data_reference(value, folder, stem, role)
            for role, value in widget.state_data().items()}
    doc = {"format": STATE_FORMAT, "widget": name, "zifviz": zifviz.__version__,
           "data": data, "state": widget.state()}
    text = json.dumps(doc, indent=1, default=_json_default)
    with atomic_write(path) as fh:
        fh.write(text + "\n")
    return path


def read_state(path) -> dict:
    """The parsed state file (checked to be one), without building the widget."""
    path = Path(path)
    if not path.is_file():
        raise StateFileError("no such state file", str(path))
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise StateFileError(f"not a JSON state file ({exc})", str(path)) from None
    if not isinstance(doc, dict) or doc.get("format") != STATE_FORMAT:
        raise StateFileError(f"not a zifviz widget state (format "
                             f"{doc.get('format') if isinstance(doc, dict) else None!r}, "
                             f"expected {STATE_FORMAT!r})", str(path))
    for key in ("widget", "data", "state"):
        if key not in doc:
            raise StateFileError(f"the state has no {key!r}", str(path))
    return doc


def load_state(path, data: dict | None = None):
    """Build the widget saved in ``path`` again.

    Parameters
    ----------
    path:
        A file written by :func:`save_state`.
    data:
        ``{role: data}`` already in memory to use instead of the references (roles as in the
        file's ``data``); frames are checked against the saved fingerprint.

    Raises
    ------
    StateFileError
        Not a state file, an unknown widget, or data that changed or are missing (the
        message names the file or demo set).
    """
    path = Path(path)
    doc = read_state(path)
    module, _, qualname = str(doc["widget"]).partition(":")
    if not module.startswith(_WIDGET_PACKAGE) or not qualname:
        raise StateFileError(f"unknown widget {doc['widget']!r}", str(path))
    try:
        cls = getattr(importlib.import_module(module), qualname)
    except (ImportError, AttributeError):
        raise StateFileError(f"unknown widget {doc['widget']!r} (not in this zifviz "
                             "version)", str(path)) from None
    given = dict(data or {})
    resolved = {}
    for role, ref in doc["data"].items():
        if role in given:
            _check_fingerprint(ref, given[role], str(path))
            resolved[role] = given[role]
        else:
            resolved[role] = resolve_reference(ref, path.parent, str(path))
    try:
        return cls.from_state(resolved, doc["state"])
    except StateFileError:
        raise
    except (ZifvizError, KeyError, ValueError, TypeError, TraitError) as exc:
        raise StateFileError(f"cannot rebuild the {qualname} ({exc})", str(path)) from None
