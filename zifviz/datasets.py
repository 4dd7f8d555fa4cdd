"""Public reference structures (fetched by address, SHA-256 checked) and the bundled demo data.

The public ZIF structures come from the Coudert group's ``citable-data`` repository (CC BY
4.0; cite the papers in :data:`CITATIONS`). :func:`fetch_structure` downloads a file once
into the user cache with :mod:`pooch`, checking its SHA-256. When the environment variable
``ZIFVIZ_DATA_MIRROR`` names a directory that holds the same files (with the layout of
``REFERENCE_FILES``' keys), they are taken from there instead and nothing goes to the network.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ase import Atoms

from .errors import DataError

MIRROR_ENV = "ZIFVIZ_DATA_MIRROR"
BASE_URL = "https://raw.githubusercontent.com/fxcoudert/citable-data/master/"

WIDMER = "Widmer et al., J. Am. Chem. Soc. 2019, 141, 9330"
GAILLAC = "Gaillac, Pullumbi, Coudert, Chem. Mater. 2020, 32, 8004"
CASTEL = ("Castel & Coudert, Chem. Mater. 2023, 35, 4038; MOF-FF for ZIFs: Dürholt, Fraux, "
          "Coudert, Schmid, J. Chem. Theory Comput. 2019, 15, 2420")

# name (path under the mirror) -> (path in citable-data, sha256, citation, description)
REFERENCE_FILES: dict[str, tuple[str, str, str, str]] = {
    "structures/widmer2019/ZIF4-FixedCell.cif": (
        "113-Widmer_JACS_2019/ZIF4-FixedCell.cif",
        "987da138634175227e49bf881d57d7113df74942e8429b7ab1050ed967c81be9", WIDMER,
        "ZIF-4 (cag), DFT-optimised, experimental cell"),
    "structures/widmer2019/ZIF4-RelaxedCell.cif": (
        "113-Widmer_JACS_2019/ZIF4-RelaxedCell.cif",
        "5ba11ca5b488ce601cdac2fdb2667750be7486463d9c59ab9b29c9af10a4ffff", WIDMER,
        "ZIF-4, DFT-optimised, relaxed cell"),
    "structures/widmer2019/ZIF4-CP-II-FixedCell.cif": (
        "113-Widmer_JACS_2019/ZIF4-CP-II-FixedCell.cif",
        "9c88ae716d91c0e0bdc6cb76a0eda949afbfd17de7b4009076e003efc7dd3c0e", WIDMER,
        "ZIF-4-cp-II (closed pore), DFT, experimental cell"),
    "structures/widmer2019/ZIF4-CP-II-RelaxedCell.cif": (
        "113-Widmer_JACS_2019/ZIF4-CP-II-RelaxedCell.cif",
        "9bc824817ed29e915dd4682839169629d7cd4251cbf9d86bd9c8f57bf87740a0", WIDMER,
        "ZIF-4-cp-II, relaxed cell"),
    "structures/widmer2019/ZNI-FixedCell.cif": (
        "113-Widmer_JACS_2019/ZNI-FixedCell.cif",
        "79ae93d7d1f5b69ee4ea4adbad4f72eb0ae1ec8d94b6d28a74851683ab154964", WIDMER,
        "ZIF-zni, DFT, experimental cell"),
    "structures/widmer2019/ZNI-RelaxedCell.cif": (
        "113-Widmer_JACS_2019/ZNI-RelaxedCell.cif",
        "0ad44d4bdc20e2c6c13d6606b5f3ca50fd9f9a625099c7649bfdade30ff8a1f4", WIDMER,
        "ZIF-zni, relaxed cell"),
    "structures/widmer2019/ZIF-4-cp-II.cif": (
        "113-Widmer_JACS_2019/ZIF-4-cp-II.cif",
        "1c33c0c5cd714b80378cdd5016e3fcea6ce843cd2484941cc55f17cd367b608d", WIDMER,
        "ZIF-4-cp-II, experimental"),
    "structures/widmer2019/ZIF-4-hPT-II.cif": (
        "113-Widmer_JACS_2019/ZIF-4-hPT-II.cif",
        "4be496a5bc705ed298f927af61aebd88ad8f11f5ebfbcd49b62ab76d450f4756", WIDMER,
        "ZIF-hPT-II (dia), experimental"),
    "structures/gaillac2020/ZIF4_15glass01.cif": (
        "129-Gaillac_ChemMater_2020/ZIF4/ZIF4_15glass01.cif",
        "e169cbfb6ece461d47971e493b0871b0ff686cc0cc3ef53455e04f4c0dc27ddc", GAILLAC,
        "ZIF-4 glass from ab initio MD melt-quench"),
    "structures/gaillac2020/ZIF4_15glass02.cif": (
        "129-Gaillac_ChemMater_2020/ZIF4/ZIF4_15glass02.cif",
        "9d374b38ce537dad9d9155a6a62660221ee643949e0cc1e7fd7a725d00f5d2ae", GAILLAC,
        "ZIF-4 glass (one 3-coordinated Zn)"),
    "structures/gaillac2020/ZIF4_15glass03.cif": (
        "129-Gaillac_ChemMater_2020/ZIF4/ZIF4_15glass03.cif",
        "e878b2b62ed99876bc6b023be4b37991a0d51e9d97813755b84e0142527de0de", GAILLAC,
        "ZIF-4 glass (one 3-coordinated Zn)"),
    "mofff/castel2023_zif4/ZIF-4_supercell111.data": (
        "156-Castel_ChemMater_2023/Structures/Crystal/MOF-FF/ZIF-4_supercell111.data",
        "d955171860a2c564ef1a09c607be14645f39aeaf1bd03f8b82a6b1c771144a9b", CASTEL,
        "ZIF-4 LAMMPS data file with MOF-FF parameters"),
    "mofff/castel2023_zif4/ZIF-4_supercell111.in": (
        "156-Castel_ChemMater_2023/Structures/Crystal/MOF-FF/ZIF-4_supercell111.in",
        "15ba4fe07c65e5f8ed60259638d2cb753947bb3fd4a780fda3cba0c3217ca7a5", CASTEL,
        "ZIF-4 LAMMPS input with MOF-FF parameters"),
}

CITATIONS = {name: entry[2] for name, entry in REFERENCE_FILES.items()}


def _resolve(name: str) -> str:
    if name in REFERENCE_FILES:
        return name
    matches = [k for k in REFERENCE_FILES if k.endswith("/" + name) or k == "structures/" + name]
    if len(matches) == 1:
        return matches[0]
    raise DataError(f"unknown reference file {name!r}; known: "
                    + ", ".join(k.split("/", 1)[1] for k in REFERENCE_FILES))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fetch_structure(name: str) -> Path:
    """Local path of a public reference file, e.g. ``"widmer2019/ZIF4-FixedCell.cif"``.

    Taken from ``$ZIFVIZ_DATA_MIRROR`` when set, else downloaded once (SHA-256 checked)
    into the user cache. Raises :class:`~zifviz.errors.DataError` on a wrong checksum or an
    unreachable file.
    """
    key = _resolve(name)
    remote, sha, _, _ = REFERENCE_FILES[key]
    mirror = os.environ.get(MIRROR_ENV)
    if mirror:
        path = Path(mirror).expanduser() / key
        if not path.is_file():
            raise DataError(f"{MIRROR_ENV}={mirror} has no file {key}", str(path))
        if _sha256(path) != sha:
            raise DataError("SHA-256 does not match the published file; the mirror copy is "
                            "corrupt or a different version", str(path))
        return path
    import pooch

    try:
        return Path(pooch.retrieve(BASE_URL + remote, known_hash=f"sha256:{sha}",
                                   fname=key.replace("/", "__"),
                                   path=pooch.os_cache("zifviz"), progressbar=False))
    except Exception as exc:  # network errors, hash mismatch
        raise DataError(f"could not fetch {BASE_URL + remote}: {exc}. Offline? Set "
                        f"{MIRROR_ENV} to a directory holding a copy", key) from exc


def citation(name: str) -> str:
    """The paper to cite for a reference file."""
    return CITATIONS[_resolve(name)]


def list_reference_files(kind: str = "structures") -> list[str]:
    """Names of the public reference files under ``kind`` ('structures' or 'mofff')."""
    return [k.split("/", 1)[1] for k in REFERENCE_FILES if k.startswith(kind + "/")]


# ---- demo datasets built by zifviz (zifviz.build_demo) -------------------------------------

DEMO_ENV = "ZIFVIZ_DEMO_DIR"
DEMO_SETS = ("energies", "phases", "transition")
DEMO_MODELS = ("phases-bpsf", "phases-soap-A")
"""Trained models shipped in ``data/models/`` (:func:`demo_model_path`)."""
_PACKAGE = Path(__file__).resolve().parent


def checkout_root() -> Path | None:
    """The repository this zifviz is imported from (a git checkout or an unpacked source
    tree), or None for an installed copy (a wheel, ``pip install .``)."""
    root = _PACKAGE.parent
    pyproject = root / "pyproject.toml"
    try:
        is_ours = pyproject.is_file() and 'name = "zifviz"' in pyproject.read_text()
    except OSError:
        return None
    return root if is_ours and (root / "data").is_dir() else None


def demo_dir() -> Path:
    """Folder of the demo datasets.

    ``$ZIFVIZ_DEMO_DIR`` when set; else the checkout's ``data/`` when zifviz runs from a
    checkout (also an editable install); else the copy installed with the package
    (``zifviz/data/``, put there when a wheel is built).
    """
    env = os.environ.get(DEMO_ENV)
    if env:
        return Path(env)
    root = checkout_root()
    return root / "data" if root is not None else _PACKAGE / "data"


def demo_path(name: str, size: str = "demo") -> Path:
    """Path of a demo dataset file, checked against ``MANIFEST.json`` (SHA-256)."""
    import json

    if name not in DEMO_SETS:
        raise DataError(f"unknown demo dataset {name!r}; choose one of {DEMO_SETS}")
    suffix = "" if size == "demo" else f"-{size}"
    folder = demo_dir()
    path = folder / f"{name}{suffix}.extxyz.gz"
    rebuild = f"rebuild it with: zifviz build-demo --size {size} --only {name}"
    if not path.is_file():
        raise DataError(f"demo dataset not found; {rebuild}", str(path))
    manifest = folder / f"MANIFEST{suffix}.json"
    if manifest.is_file():
        expected = json.loads(manifest.read_text()).get(name, {}).get("sha256")
        if expected and _sha256(path) != expected:
            raise DataError(f"SHA-256 differs from {manifest.name}; the file is corrupt or "
                            f"half-written; {rebuild}", str(path))
    return path


def demo_model_path(name: str = "phases-bpsf") -> Path:
    """Path (``<name>.json``; its ``.npz`` beside it) of a model shipped in ``data/models/``,
    both files checked against ``MANIFEST.json`` (SHA-256); load it with
    :meth:`zifviz.phases.PhaseClassifier.load`. ``"phases-bpsf"``: seed 003's symmetry-function
    network, ``"phases-soap-A"``: seed 003's SOAP network on the A beads (Zn only), both trained
    on the whole ``phases`` demo set (``zifviz build-demo --only model``)."""
    import json

    if name not in DEMO_MODELS:
        raise DataError(f"unknown demo model {name!r}; choose one of {DEMO_MODELS}")
    folder = demo_dir()
    rebuild = "rebuild it with: zifviz build-demo --only model"
    manifest = folder / "MANIFEST.json"
    entries = json.loads(manifest.read_text()) if manifest.is_file() else {}
    for suffix in (".npz", ".json"):
        path = folder / "models" / f"{name}{suffix}"
        if not path.is_file():
            raise DataError(f"demo model file not found; {rebuild}", str(path))
        expected = entries.get(f"models/{path.name}", {}).get("sha256")
        if expected and _sha256(path) != expected:
            raise DataError(f"SHA-256 differs from {manifest.name}; the file is corrupt or "
                            f"half-written; {rebuild}", str(path))
    return folder / "models" / f"{name}.json"


def load_demo(name: str, size: str = "demo") -> "DemoSet":
    """A demo dataset (``"energies"``, ``"phases"`` or ``"transition"``) as a lazy
    :class:`DemoSet`.

    Metadata first (``.frames_info``, one row per frame), frames on demand (``ds[i]``,
    iteration, slicing) and selection by query (``ds.query("phase == 'liquid'")``). Works
    offline: the demo sets ship with zifviz. Per-atom MOF-FF energies (eV) are in
    ``atoms.arrays["energies"]``; see :mod:`zifviz.build_demo` for how each set was made.
    """
    return DemoSet.open(demo_path(name, size), name=name)


class _DemoFile:
    """One demo file through :class:`zifviz.Trajectory` (decoded once into its frame cache,
    memory-mapped): a table of every frame's metadata, and frames built on demand."""

    def __init__(self, path: Path):
        from .environments import CATEGORIES, categorical
        from .io import Trajectory

        self.path = path
        self.trajectory = Trajectory(path, format="extxyz")
        traj = self.trajectory
        table = traj.frame_info.copy()
        if "error" in table and table["error"].notna().any():
            bad = table.loc[table["error"].notna()].iloc[0]
            raise DataError(f"frame {bad['frame']}: {bad['error']}; rebuild it with zifviz "
                            "build-demo", str(path))
        table.insert(2, "n_zn", [int((traj.numbers(i) == 30).sum()) for i in range(len(traj))])
        table.insert(3, "volume", [abs(float(np.linalg.det(traj.cell(i))))
                                   for i in range(len(traj))])
        if "framework" not in table and "start" in table:
            table["framework"] = table["start"]  # the phases set: the framework a run started from
        table["source_file"] = str(path)
        for key, known in CATEGORIES.items():
            if key in table:
                table[key] = categorical(table[key], known)
        table.index = table["frame"].to_numpy()
        self.frames_info = table

    def __len__(self) -> int:
        return len(self.trajectory)

    def frame(self, i: int) -> Atoms:
        atoms = self.trajectory[i]
        if "framework" not in atoms.info and "start" in atoms.info:
            atoms.info["framework"] = atoms.info["start"]
        return atoms


_OPEN: dict[tuple, _DemoFile] = {}


class DemoSet(Sequence):
    """A demo dataset, lazily: metadata for every frame at once, frames only when asked for.

    * ``frames_info``: a pandas DataFrame, one row per frame of this set (index: the frame's
      index in the file), with ``frame``, ``n_atoms``, ``n_zn``, ``volume`` (Å³), every
      header key of the extxyz file (``phase``, ``source_set``, ``framework``, ``ensemble``,
      ``temperature``, ``pressure``, ``step``, ``time``, ``energy``, ...) and ``source_file``.
    * ``ds[i]`` -> ASE Atoms (``info["frame"]``, ``info["source_file"]`` set); ``ds[i:j:k]``,
      ``ds[[i, j]]`` or ``ds[mask]`` -> a lazy DemoSet subset; ``len(ds)``, iteration.
    * ``ds.query("phase == 'liquid' and source_set == 'NVT'")`` -> a lazy subset
      (:meth:`pandas.DataFrame.query` on ``frames_info``).
    * ``ds.positions(i)`` (float32), ``ds.cell(i)``, ``ds.numbers(i)`` without building Atoms,
      as on :class:`zifviz.Trajectory`, which holds the file (``ds.trajectory``).

    Subsets share the file's index, so making them costs nothing; frames are parsed on access
    (a few ms each for the demo sets) and not kept.
    """

    def __init__(self, store: _DemoFile, rows=None, name: str = ""):
        self._store = store
        self._rows = np.arange(len(store)) if rows is None else np.asarray(rows, dtype=np.int64)
        self.name = name

    @classmethod
    def open(cls, path: str | os.PathLike, name: str | None = None) -> "DemoSet":
        """Open a demo file (gzip extxyz as written by ``zifviz build-demo``); the file's
        index is kept for the session (until the file changes)."""
        path = Path(path).resolve()
        stat = path.stat()
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        store = _OPEN.get(key)
        if store is None:
            store = _OPEN[key] = _DemoFile(path)
        return cls(store, name=name or path.name.split(".")[0])

    @property
    def path(self) -> Path:
        return self._store.path

    @property
    def trajectory(self):
        """The :class:`zifviz.Trajectory` of the whole file (all frames, not only this set's)."""
        return self._store.trajectory

    @property
    def frames(self) -> np.ndarray:
        """Index in the file of each frame of this set."""
        return self._rows.copy()

    @property
    def frames_info(self) -> pd.DataFrame:
        return self._store.frames_info.iloc[self._rows]

    def __len__(self) -> int:
        return len(self._rows)

    def _subset(self, rows) -> "DemoSet":
        return DemoSet(self._store, rows, self.name)

    def __getitem__(self, key):
        if isinstance(key, (int, np.integer)):
            return self._store.frame(self._file_index(key))
        if isinstance(key, slice):
            return self._subset(self._rows[key])
        key = np.asarray(key)
        if key.dtype == bool:
            if key.shape != self._rows.shape:
                raise IndexError(f"boolean mask of length {len(key)} for {len(self)} frames")
            return self._subset(self._rows[key])
        if key.dtype.kind in "iu":
            return self._subset(self._rows[key])
        raise TypeError(f"DemoSet indices must be integers, slices, integer arrays or boolean "
                        f"masks, not {type(key).__name__}")

    def __iter__(self) -> Iterator[Atoms]:
        for i in self._rows:
            yield self._store.frame(int(i))

    def _file_index(self, i: int) -> int:
        n = len(self._rows)
        if not -n <= i < n:
            raise IndexError(f"frame {i} out of range for {n} frames of {self.name}")
        return int(self._rows[i])

    def positions(self, i: int) -> np.ndarray:
        """Positions of frame ``i`` as float32 (n, 3), without building Atoms (as
        :meth:`zifviz.Trajectory.positions`)."""
        return self._store.trajectory.positions(self._file_index(i))

    def cell(self, i: int) -> np.ndarray:
        """Cell of frame ``i`` (3, 3)."""
        return self._store.trajectory.cell(self._file_index(i))

    def numbers(self, i: int) -> np.ndarray:
        """Atomic numbers of frame ``i``."""
        return self._store.trajectory.numbers(self._file_index(i))

    def query(self, expr: str, **kwargs) -> "DemoSet":
        """The frames whose ``frames_info`` rows satisfy ``expr`` (pandas query syntax;
        ``@name`` refers to the caller's variables)."""
        kwargs["level"] = kwargs.get("level", 0) + 1  # @names from the caller's frame
        try:
            mask = self.frames_info.eval(expr, **kwargs)
        except Exception as exc:
            raise DataError(f"query {expr!r} failed: {exc}; columns are "
                            f"{', '.join(map(str, self.frames_info.columns))}",
                            str(self.path)) from None
        mask = np.asarray(mask)
        if mask.dtype != bool or mask.shape != self._rows.shape:
            raise DataError(f"query {expr!r} is not a condition on each frame", str(self.path))
        return self._subset(self._rows[mask])

    def __repr__(self) -> str:
        return f"DemoSet({self.name!r}, frames={len(self)}, Zn={int(self.frames_info['n_zn'].sum())})"
