"""SOAP power spectra of Zn environments at any coarse-graining level (seeds 000 and 003).

One row per Zn environment, aligned with :func:`zifviz.environment_table` of the same frames
(frames in order, Zn by increasing atom index). dscribe computes the spectra; zifviz chooses
the centres (the Zn atoms, or the A beads of the coarse-grained structure), the species
channels, normalises the rows, caches them on disk and spreads frames over processes or a
Dask cluster.

Species channels (``species="per-species"``)
    ``atomistic``: Zn, N, C, H; ``AB2``: A (cg Zn) and B (ring centres, written as
    :data:`zifviz.coarse.B_SYMBOL`); ``A``: A only. ``species="single"`` puts every atom or
    bead in one channel (seed 003's 780-feature vector at the atomistic level).

Example::

    soap = SOAP.seed000("AB2", r_cut=9.0, sigma=0.2)
    X = soap.transform(zifviz.datasets.load_demo("energies"))   # (n_zn, 4752) float32
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import warnings
from collections import OrderedDict
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import closing
from functools import lru_cache
from importlib import metadata
from pathlib import Path

import numpy as np
from ase import Atoms
from scipy.linalg import LinAlgWarning
from sklearn.base import BaseEstimator

from ..coarse import B_SYMBOL, normalise_level
from ..environments import frame_sequence
from ..errors import (PerceptionError, StructureError, TopologyMismatchError,
                      UnderCoordinatedZnWarning, ZifvizError)
from ..topology import Connectivity, fitted_ring_centres, perceive

__all__ = ["SOAP", "CHANNELS", "cache_dir", "content_key", "largest_n_max"]

CHANNELS = {"atomistic": ("Zn", "N", "C", "H"), "AB2": ("A", "B"), "A": ("A",)}
"""The per-species channels of each level (A = cg Zn, B = ring centre)."""

_SYMBOL = {"A": "Zn", "B": B_SYMBOL}
_ZN = 30
_SINGLE = "Zn"   # the element every atom becomes in a single-channel SOAP
_TASKS_PER_WORKER = 4      # a chunk holds at most 1/(this × workers) of the frames left
_CHUNK_MAX = 8             # at most this many frames per chunk (short tail, bounded memory)
_CHUNK_UNKNOWN = 4         # frames per chunk of a stream without len()
_IN_FLIGHT_PER_WORKER = 3  # chunks sent but not finished, per worker (frames read meanwhile)
_IDLE_SECONDS = 300        # local worker processes stay this long after their last chunk
_ONE_THREAD = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                      "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
                                      "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")}
#: glibc malloc settings of the local worker processes (unless set in the environment):
#: dscribe's per-frame buffers (about 1 MB at seed 000's AB2 settings) then come from the
#: heap, reused, instead of being mapped and faulted in anew for every frame, which cost each
#: worker 0.2-0.3 s of system time per 1,029 frames (benchmarks/bench_soap.py runs every
#: variant with these settings, so the comparison stays fair)
WORKER_MALLOC = {"MALLOC_MMAP_THRESHOLD_": str(64 << 20), "MALLOC_TRIM_THRESHOLD_": str(256 << 20)}
_CACHE_ENV = "ZIFVIZ_CACHE_DIR"
_IN_PLACE = os.name == "posix" and hasattr(os, "pwrite")
"""Local workers write rows in place into a shared file (else they send them back)."""


def cache_dir(cache=True) -> Path | None:
    """The folder of the SOAP cache: ``cache`` itself when it is a path, else
    ``$ZIFVIZ_CACHE_DIR/soap`` (default ``~/.cache/zifviz/soap``); None when ``cache`` is
    None or False."""
    if cache is None or cache is False:
        return None
    if cache is True:
        root = os.environ.get(_CACHE_ENV) or Path.home() / ".cache" / "zifviz"
        return Path(root) / "soap"
    return Path(cache)


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "unknown"


def _label(atoms: Atoms, pos: int) -> str:
    where = atoms.info.get("source_file") or atoms.info.get("source") or "frames"
    return f"{where} (frame {atoms.info.get('frame', pos)})"


def content_key(atoms: Atoms) -> str:
    """A hash of exactly what SOAP sees: atomic numbers, positions, cell and periodicity (no
    rounding, ``info`` ignored), so two frames share cached rows only if identical."""
    h = hashlib.blake2b(b"zifviz-soap-frame-1", digest_size=12)
    h.update(np.ascontiguousarray(atoms.numbers, dtype="<i4").tobytes())
    h.update(np.ascontiguousarray(atoms.positions, dtype="<f8").tobytes())
    h.update(np.ascontiguousarray(atoms.cell.array, dtype="<f8").tobytes())
    h.update(np.asarray(atoms.pbc, dtype=bool).tobytes())
    return h.hexdigest()


class SOAP(BaseEstimator):
    """SOAP vectors of every Zn environment, one row per row of the EnvironmentTable.

    Parameters
    ----------
    level:
        ``"atomistic"``, ``"AB2"`` or ``"A"`` (any spelling :func:`zifviz.coarse.normalise_level`
        knows). Centres are the Zn atoms / A beads.
    r_cut, sigma:
        Cut-off radius and Gaussian width σ_at (Å).
    n_max, l_max:
        Radial and angular basis sizes (GTO radial basis).
    species:
        ``"per-species"`` (one channel per element or bead kind, see :data:`CHANNELS`) or
        ``"single"`` (every atom or bead in one channel).
    normalise:
        Scale every row to unit length (the polynomial kernel uses normalised vectors).
    dtype:
        ``"float32"`` or ``"float64"`` of the returned rows.
    cache:
        None/False: no cache; True: ``$ZIFVIZ_CACHE_DIR/soap`` (default ``~/.cache/zifviz/soap``);
        a path: that folder. Rows are cached per frame, keyed by the frame's content
        (:func:`content_key`) and this descriptor's settings, written atomically.
    n_jobs:
        Processes computing frames (1: this one only; -1: one per CPU): this one and
        ``n_jobs - 1`` worker processes. The workers are single-threaded, kept for later
        calls, and all write their rows straight into one shared array
        (:mod:`zifviz.descriptors.shared_rows`); perceived topologies are kept per process
        and reused, checked, on later frames and calls.
    progress:
        Show a tqdm progress bar over frames.
    """

    def __init__(self, level="atomistic", r_cut=5.0, sigma=0.5, n_max=16, l_max=8,
                 species="per-species", normalise=True, dtype="float32", cache=None, n_jobs=1,
                 progress=True):
        self.level = level
        self.r_cut = r_cut
        self.sigma = sigma
        self.n_max = n_max
        self.l_max = l_max
        self.species = species
        self.normalise = normalise
        self.dtype = dtype
        self.cache = cache
        self.n_jobs = n_jobs
        self.progress = progress

    # ---- the two papers' settings ------------------------------------------------------
    @classmethod
    def seed000(cls, level: str, r_cut: float, sigma: float, **kwargs) -> "SOAP":
        """Seed 000's SOAP: n_max 16, l_max 8, per-species channels, at ``(r_cut, sigma)``.

        dscribe's GTO basis (l_max 8) cannot be orthonormalised with 16 radial functions
        below r_cut 5.5 Å; there ``n_max`` is the largest it allows (:func:`largest_n_max`:
        12 at 2.5 Å, 13 at 3 Å, 14 at 3.5 Å, 15 at 4–5 Å), and :attr:`config` records it."""
        settings = {"l_max": 8, "species": "per-species", **kwargs}  # kwargs may override
        settings.setdefault("n_max", min(16, largest_n_max(r_cut, settings["l_max"])))
        return cls(level=level, r_cut=r_cut, sigma=sigma, **settings)

    @classmethod
    def seed003(cls, level: str = "atomistic", **kwargs) -> "SOAP":
        """Seed 003's classifier SOAP: r_cut 9 Å, n_max 12, l_max 9, one channel (780 features)."""
        kwargs.setdefault("sigma", 0.5)
        return cls(level=level, r_cut=9.0, n_max=12, l_max=9, species="single", **kwargs)

    # ---- settings ----------------------------------------------------------------------
    def _settings(self) -> dict:
        """Validated settings that determine the numbers (not cache/n_jobs/progress)."""
        level = normalise_level(self.level)
        if self.species not in ("per-species", "single"):
            raise ZifvizError("SOAP species must be 'per-species' or 'single', not "
                              f"{self.species!r}")
        if str(self.dtype) not in ("float32", "float64"):
            raise ZifvizError(f"SOAP dtype must be 'float32' or 'float64', not {self.dtype!r}")
        try:
            r_cut, sigma = float(self.r_cut), float(self.sigma)
            n_max, l_max = int(self.n_max), int(self.l_max)
        except (TypeError, ValueError) as exc:
            raise ZifvizError(f"SOAP settings must be numbers: {exc}") from None
        if not (np.isfinite(r_cut) and r_cut > 1.0):
            raise ZifvizError(f"SOAP r_cut must be a number > 1 Å, not {self.r_cut!r}")
        if not (np.isfinite(sigma) and sigma > 0):
            raise ZifvizError(f"SOAP sigma must be a positive number, not {self.sigma!r}")
        if n_max < 1 or l_max < 0 or l_max > 20:
            raise ZifvizError(f"SOAP needs n_max ≥ 1 and 0 ≤ l_max ≤ 20 (got {n_max}, "
                              f"{l_max})")
        channels = CHANNELS[level] if self.species == "per-species" else ("all",)
        return {"level": level, "r_cut": r_cut, "sigma": sigma, "n_max": n_max, "l_max": l_max,
                "species": self.species, "channels": list(channels),
                "normalise": bool(self.normalise), "dtype": str(self.dtype), "rbf": "gto",
                "average": "off", "periodic": True}

    @property
    def config(self) -> dict:
        """JSON-able description: class, versions, every parameter and the species channels."""
        s = self._settings()
        params = {k: s[k] for k in ("level", "r_cut", "sigma", "n_max", "l_max", "species",
                                    "normalise", "dtype")}
        return {"class": "zifviz.descriptors.SOAP", "zifviz_version": _version("zifviz"),
                "dscribe_version": _version("dscribe"), "params": params,
                "channels": s["channels"], "elements": _elements(s),
                "rbf": "gto", "average": "off", "periodic": True,
                "n_features": self.n_features}

    @classmethod
    def from_config(cls, config: dict, **kwargs) -> "SOAP":
        """The descriptor a :attr:`config` describes (``kwargs``: cache, n_jobs, progress)."""
        if not isinstance(config, dict) or config.get("class") != "zifviz.descriptors.SOAP":
            raise ZifvizError("not a zifviz SOAP config (its 'class' is "
                              f"{config.get('class') if isinstance(config, dict) else config!r})")
        return cls(**config["params"], **kwargs)

    def config_key(self) -> str:
        """Hash of the settings that determine the numbers (and the dscribe version)."""
        s = self._settings()
        s["dscribe_version"] = _version("dscribe")
        text = json.dumps(s, sort_keys=True)
        return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()

    @property
    def n_features(self) -> int:
        """Length of one row."""
        key = json.dumps(self._settings(), sort_keys=True)
        return int(_dscribe_cached(key).get_number_of_features())

    def fit(self, frames=None, y=None) -> "SOAP":
        """Nothing to learn; present for scikit-learn pipelines."""
        self._settings()
        return self

    # ---- computing -----------------------------------------------------------------------
    def transform(self, frames, client=None) -> np.ndarray:
        """SOAP rows of every Zn environment of ``frames``.

        Parameters
        ----------
        frames:
            ``Atoms``, a list of them, a :class:`zifviz.Trajectory` or a
            :class:`zifviz.datasets.DemoSet`, all atomistic.
        client:
            A ``dask.distributed.Client``: chunks of frames are computed on its workers
            (then ``n_jobs`` is ignored).

        Returns
        -------
        (n_env, n_features) array, row k = row k of ``environment_table(frames)``.

        With ``n_jobs`` > 1 the processes write their rows straight into one shared
        array (:mod:`zifviz.descriptors.shared_rows`) that is returned; a Dask client's
        workers send their rows back.
        """
        from tqdm.auto import tqdm

        settings = self._settings()
        n_features = self.n_features
        frames, total = frame_sequence(frames)
        folder = self._cache_folder()
        n_jobs = int(self.n_jobs or 1)
        if n_jobs < 0:
            n_jobs = max(1, (os.cpu_count() or 1) + 1 + n_jobs)
        workers = n_jobs if client is None else max(1, sum(client.nthreads().values()))

        def size(pos: int) -> int:
            """Frames in a chunk starting at ``pos``: shrinking towards the end (guided), so
            that the workers finish together."""
            if total is None:
                return _CHUNK_UNKNOWN
            return max(1, min(_CHUNK_MAX, -(-(total - pos) // (_TASKS_PER_WORKER * workers))))

        stream = _stream(frames, folder, n_features)
        bar = tqdm(total=total, desc=f"SOAP {settings['level']}", unit="frame",
                   disable=not self.progress, leave=False)
        try:
            if client is not None:
                return _returned(
                    lambda chunk: client.submit(_compute_chunk, settings, chunk, pure=False),
                    _wait_first_dask, settings, n_features, stream, folder, size, workers, bar)
            if n_jobs == 1:
                return _serial(settings, n_features, stream, folder, bar)
            if _IN_PLACE:
                return _on_processes(settings, n_features, stream, folder, size, n_jobs, total,
                                     bar)
            executor = _executor(n_jobs)
            return _returned(lambda chunk: executor.submit(_compute_chunk, settings, chunk),
                             _wait_first_local, settings, n_features, stream, folder, size,
                             n_jobs, bar)
        finally:
            bar.close()

    def _cache_folder(self) -> Path | None:
        """This descriptor's cache folder (made, with its config.json), or None."""
        folder = cache_dir(self.cache)
        if folder is None:
            return None
        folder = folder / self.config_key()
        folder.mkdir(parents=True, exist_ok=True)
        config_file = folder / "config.json"
        if not config_file.exists():
            from ..storage import atomic_write
            with atomic_write(config_file) as fh:
                json.dump(self.config, fh, indent=1)
        return folder


# ---- the three ways of computing: here, in local processes, on a Dask cluster ---------------

def _stream(frames, folder: Path | None, n_features: int):
    """``(position, atoms, cache key, cached rows or None)`` of every frame."""
    for pos, atoms in enumerate(_frames(frames)):
        key = content_key(atoms) if folder is not None else None
        yield pos, atoms, key, _read_cached(folder, key, n_features)


def _stack(rows: list, n_features: int, dtype: str) -> np.ndarray:
    if not rows:
        return np.zeros((0, n_features), dtype=dtype)
    return np.concatenate(rows, axis=0)


def _serial(settings: dict, n_features: int, stream, folder, bar) -> np.ndarray:
    computer = _computer(settings)
    rows = []
    for pos, atoms, key, values in stream:
        if values is None:
            values = computer.rows(atoms, pos)
            if folder is not None:
                _write_cached(folder, key, values)
        rows.append(values)
        bar.update(1)
    return _stack(rows, n_features, settings["dtype"])


def _completed(submit, chunks, limit: int, wait_first, here=None) -> Iterator:
    """Futures of ``submit(chunk)`` for every chunk, as they complete, with at most ``limit``
    unfinished at once (frames are read while workers compute: no barrier between batches);
    those still pending when the caller stops are cancelled. With ``here``, a chunk that
    finds ``limit`` unfinished is computed by ``here(chunk)`` in this process instead of
    waiting (yielded as a finished future): this process is one of the workers."""
    running: set = set()
    try:
        for chunk in chunks:
            if here is not None and len(running) >= limit:
                done = {future for future in running if future.done()}
                running -= done
                yield from done
                if len(running) >= limit:
                    future = Future()
                    future.set_result(here(chunk))
                    yield future
                    continue
            while len(running) >= limit:
                done = wait_first(running)
                running -= done
                yield from done
            running.add(submit(chunk))
        while running:
            done = wait_first(running)
            running -= done
            yield from done
    finally:
        for future in running:
            future.cancel()


def _wait_first_local(futures: set) -> set:
    from concurrent.futures import FIRST_COMPLETED, wait
    return wait(futures, return_when=FIRST_COMPLETED).done


def _wait_first_dask(futures: set) -> set:
    from distributed import wait
    return set(wait(futures, return_when="FIRST_COMPLETED").done)


def _returned(submit, wait_first, settings: dict, n_features: int, stream, folder, size,
              workers: int, bar) -> np.ndarray:
    """Chunks of frames computed by ``submit(chunk)`` futures whose results carry the rows back
    (a Dask cluster, whose workers may be on other machines; local processes where rows
    cannot be shared in place)."""
    rows: list = []
    keys: list = []

    def chunks():
        chunk = []
        for pos, atoms, key, cached in stream:
            rows.append(cached)
            keys.append(key)
            if cached is not None:
                bar.update(1)
                continue
            if not chunk:
                target = size(pos)
            chunk.append((pos, atoms))
            if len(chunk) >= target:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    with closing(_completed(submit, chunks(), _IN_FLIGHT_PER_WORKER * workers,
                            wait_first)) as done:
        for future in done:
            for pos, values in _split(*future.result()):
                rows[pos] = values
                if folder is not None:
                    _write_cached(folder, keys[pos], values)
                bar.update(1)
    return _stack(rows, n_features, settings["dtype"])


_POOL: dict = {}  # this process's pool of SOAP worker processes (see _executor)


def _executor(n_jobs: int):
    """A pool of ``n_jobs`` single-threaded (BLAS/OpenMP) worker processes, kept for later
    calls (workers leave after :data:`_IDLE_SECONDS` idle and come back on demand).

    zifviz's own loky executor, not loky's global reusable one: joblib's ``Parallel`` reuses
    that one and fails on an executor it did not make."""
    from joblib.externals.loky import ProcessPoolExecutor

    pool = _POOL.get("pool")
    if (pool is not None and _POOL["n_jobs"] == n_jobs and _POOL["pid"] == os.getpid()
            and not pool._flags.broken and not pool._flags.shutdown):
        return pool
    if pool is not None and _POOL["pid"] == os.getpid():
        pool.shutdown(wait=False)
    env = {**_ONE_THREAD, **{k: os.environ.get(k, v) for k, v in WORKER_MALLOC.items()}}
    pool = ProcessPoolExecutor(max_workers=n_jobs, timeout=_IDLE_SECONDS, env=env)
    _POOL.update(pool=pool, n_jobs=n_jobs, pid=os.getpid())
    return pool


def _on_processes(settings: dict, n_features: int, stream, folder, size, n_jobs: int,
                  total: int | None, bar) -> np.ndarray:
    """Chunks of frames computed by ``n_jobs - 1`` local worker processes and this one, all
    writing their rows in place into one shared file; only positions go back. This process
    computes a chunk whenever the workers have enough queued (on two cores, one worker and
    this process took 0.48 s where two workers took 0.51-0.54 s and this process mostly
    waited, using 0.065 s of CPU to feed them: seed 000's AB2 rows of 300 frames). Every
    frame's rows (cached ones too) are reserved in frame order, so the file is the result."""
    from .shared_rows import SharedRows

    block: SharedRows | None = None
    keys: dict = {}

    def chunks():
        nonlocal block
        chunk = []
        for pos, atoms, key, cached in stream:
            n = len(cached) if cached is not None else int(np.count_nonzero(
                atoms.numbers == _ZN))
            if block is None:
                guess = (total or 1) * n * n_features * np.dtype(settings["dtype"]).itemsize
                block = SharedRows(n_features, settings["dtype"], folder=_shared_dir(guess))
            start = block.reserve(n)
            if cached is not None:
                block.write(start, cached)
                bar.update(1)
                continue
            keys[pos] = key
            if not chunk:
                target = size(pos)
            chunk.append((pos, atoms, start))
            if len(chunk) >= target:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    executor = _executor(n_jobs - 1)  # and this process, the n_jobs-th

    def submit(chunk):
        return executor.submit(_compute_chunk_into, settings, chunk, block.path, n_features)

    def here(chunk):
        return _compute_chunk_into(settings, chunk, block.path, n_features)

    try:
        with closing(_completed(submit, chunks(), _IN_FLIGHT_PER_WORKER * (n_jobs - 1),
                                _wait_first_local, here)) as done:
            for future in done:
                positions, starts, counts = future.result()
                for pos, start, n in zip(positions, starts, counts):
                    key = keys.pop(pos)
                    if folder is not None:
                        _write_cached(folder, key, block.view(start, n))
                bar.update(len(positions))
        if block is None:
            return np.zeros((0, n_features), dtype=settings["dtype"])
        return block.result()
    finally:
        if block is not None:
            block.close()


def _shared_dir(expected_bytes: int) -> Path:
    """Where the shared row file goes (a function, so tests can point it elsewhere)."""
    from .shared_rows import shared_folder
    return shared_folder(expected_bytes)


# ---- helpers (module level so that worker processes can import them) -----------------------

@lru_cache(maxsize=None)
def largest_n_max(r_cut: float, l_max: int = 8, limit: int = 16) -> int:
    """The largest ``n_max`` (≤ ``limit``) whose dscribe GTO basis exists at ``r_cut`` and
    ``l_max`` (the basis is orthonormalised per angular channel)."""
    from dscribe.descriptors import SOAP as DScribeSOAP
    for n_max in range(limit, 0, -1):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                DScribeSOAP(species=["Zn"], r_cut=float(r_cut), n_max=n_max, l_max=int(l_max),
                            sigma=0.5, rbf="gto", periodic=True)
            return n_max
        except ValueError:
            continue
    raise ZifvizError(f"no GTO radial basis exists at r_cut {r_cut} Å")


def _elements(settings: dict) -> list[str]:
    """The element symbols dscribe sees, one per channel."""
    if settings["species"] == "single":
        return [_SINGLE]
    return [_SYMBOL.get(c, c) for c in settings["channels"]]


@lru_cache(maxsize=8)
def _dscribe_cached(key: str):
    return _dscribe(json.loads(key))


def _dscribe(settings: dict):
    from dscribe.descriptors import SOAP as DScribeSOAP
    try:
        with warnings.catch_warnings():  # dscribe warns about ill-conditioned overlaps it handles
            warnings.simplefilter("ignore", LinAlgWarning)
            return DScribeSOAP(species=_elements(settings), r_cut=settings["r_cut"],
                           n_max=settings["n_max"], l_max=settings["l_max"],
                           sigma=settings["sigma"], rbf="gto", average="off", periodic=True,
                           sparse=False, dtype="float64")
    except ValueError as exc:
        raise ZifvizError(f"dscribe refuses SOAP r_cut {settings['r_cut']} Å, sigma "
                          f"{settings['sigma']}, n_max {settings['n_max']}, l_max "
                          f"{settings['l_max']}: {exc} (at this r_cut n_max ≤ "
                          f"{largest_n_max(settings['r_cut'], settings['l_max'])} works)") from None


def _frames(frames) -> Iterator[Atoms]:
    for pos, atoms in enumerate(frames):
        if not isinstance(atoms, Atoms):
            raise ZifvizError(f"frame at position {pos} is a {type(atoms).__name__}, not ase.Atoms")
        yield atoms


_CONNECTIVITIES: "OrderedDict[bytes, list[Connectivity]]" = OrderedDict()
"""Per process: the perceived connectivities of each atom list (by atomic numbers; several
frameworks may share one list, most recently used first), reused on later frames and later
calls through the checked :func:`zifviz.topology.fitted_ring_centres`; the least recently
used atom lists are dropped beyond :data:`_CONNECTIVITIES_MAX` connectivities in all."""
_CONNECTIVITIES_MAX = 256
_CONNECTIVITIES_LOCK = threading.Lock()


class _Computer:
    """Computes the rows of single frames with one dscribe object and reused topologies."""

    def __init__(self, settings: dict):
        self.settings = settings
        self.soap = _dscribe(settings)
        self._buffer: np.ndarray | None = None

    @staticmethod
    def _centres(atoms: Atoms, label: str) -> np.ndarray:
        """The frame's ring centres: perceived once per connectivity, reused (checked by
        ``fitted_ring_centres``) on later frames."""
        key = hashlib.blake2b(np.asarray(atoms.numbers).tobytes(), digest_size=8).digest()
        with _CONNECTIVITIES_LOCK:
            known = list(_CONNECTIVITIES.get(key, ()))
        fits = centres = None
        for candidate in known:
            try:
                centres = fitted_ring_centres(candidate, atoms, label)
                fits = candidate
                break
            except TopologyMismatchError:
                continue
        if centres is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UnderCoordinatedZnWarning)
                fits = perceive(atoms, source=label).connectivity
            centres = fitted_ring_centres(fits, atoms, label)  # the same numbers as on reuse
        with _CONNECTIVITIES_LOCK:  # Dask workers may be threads
            same = [c for c in _CONNECTIVITIES.pop(key, ()) if c is not fits]
            _CONNECTIVITIES[key] = [fits] + same
            total = sum(map(len, _CONNECTIVITIES.values()))
            while total > _CONNECTIVITIES_MAX and len(_CONNECTIVITIES) > 1:
                total -= len(_CONNECTIVITIES.popitem(last=False)[1])
            if total > _CONNECTIVITIES_MAX:
                del _CONNECTIVITIES[key][_CONNECTIVITIES_MAX:]
        return centres

    def buffer(self, n_rows: int, n_features: int) -> np.ndarray:
        """A scratch array of ``n_rows`` rows, reused from frame to frame (a worker writes
        the rows on from there)."""
        buf = self._buffer
        if buf is None or len(buf) < n_rows or buf.shape[1] != n_features:
            buf = self._buffer = np.empty((max(n_rows, 64), n_features),
                                          dtype=self.settings["dtype"])
        return buf[:n_rows]

    def rows(self, atoms: Atoms, pos: int, out: np.ndarray | None = None) -> np.ndarray:
        """The frame's rows (normalised when configured) in the configured dtype, written into
        ``out`` when given (one pass: divided in float64, rounded once)."""
        values = self.spectra(atoms, pos)
        if out is None:
            out = np.empty(values.shape, dtype=self.settings["dtype"])
        if self.settings["normalise"]:
            norms = np.sqrt(np.einsum("ij,ij->i", values, values))
            norms[norms == 0] = 1.0
            np.divide(values, norms[:, None], out=out, casting="unsafe")
        else:
            out[...] = values
        return out

    def spectra(self, atoms: Atoms, pos: int) -> np.ndarray:
        """The frame's SOAP rows as dscribe gives them (float64, not normalised), after
        checking the frame."""
        s = self.settings
        label = _label(atoms, pos)
        positions = np.asarray(atoms.positions, dtype=float)
        if not np.isfinite(positions).all() or not np.isfinite(atoms.cell.array).all():
            raise StructureError("NaN or infinite coordinates; SOAP needs finite positions", label)
        if atoms.info.get("cg_level", "atomistic") != "atomistic":
            raise ZifvizError(f"frame is already coarse-grained ({atoms.info['cg_level']}); "
                              "give SOAP the atomistic frames and a level", label)
        zn = np.flatnonzero(atoms.numbers == _ZN)
        if not len(zn):
            raise PerceptionError(f"no Zn atoms (formula {atoms.get_chemical_formula()}): no "
                                  "environments to describe", label)
        if not all(atoms.pbc) or abs(np.linalg.det(atoms.cell.array)) < 1e-9:
            raise StructureError("SOAP of a ZIF needs a periodic 3D cell", label)
        cell = atoms.cell.array
        if s["level"] == "atomistic":
            numbers = atoms.numbers
            allowed = {1, 6, 7, _ZN}
            other = sorted(set(np.unique(numbers).tolist()) - allowed)
            if other:
                from ase.data import chemical_symbols
                raise PerceptionError("elements other than Zn, N, C, H ("
                                      + ", ".join(chemical_symbols[z] for z in other)
                                      + "): not a Zn(Im)2 framework", label)
            system = atoms if s["species"] == "per-species" else Atoms(
                numbers=np.full(len(atoms), _ZN), positions=positions, cell=cell, pbc=True)
            centres = zn
        elif s["level"] == "A":
            system = Atoms(numbers=np.full(len(zn), _ZN), positions=positions[zn], cell=cell,
                           pbc=True)
            centres = np.arange(len(zn))
        else:
            centres = self._centres(atoms, label)  # checked against this frame
            beads = np.vstack([positions[zn], centres])  # = level_geometry's AB2 beads
            b = _ZN if s["species"] == "single" else 8  # B_SYMBOL "O"
            numbers = np.concatenate([np.full(len(zn), _ZN), np.full(len(beads) - len(zn), b)])
            system = Atoms(numbers=numbers, positions=beads, cell=cell, pbc=True)
            centres = np.arange(len(zn))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", LinAlgWarning)
            values = self.soap.create(system, centers=centres.tolist(), n_jobs=1)
        return np.asarray(values).reshape(len(centres), -1)


_COMPUTERS: dict[str, _Computer] = {}  # per process: the computer of the last settings


def _computer(settings: dict) -> _Computer:
    """This process's computer for ``settings`` (kept from one chunk or call to the next)."""
    key = json.dumps(settings, sort_keys=True)
    computer = _COMPUTERS.get(key)
    if computer is None:
        _COMPUTERS.clear()
        computer = _COMPUTERS[key] = _Computer(settings)
    return computer


def _compute_chunk_into(settings: dict, chunk: list, path: str, n_features: int
                        ) -> tuple[list, list, list]:
    """In a local worker: compute a chunk of ``(position, Atoms, start row)`` and write each
    frame's rows at its start row of the shared file ``path``; returns ``(positions, start
    rows, row counts)``."""
    from .shared_rows import RowWriter

    computer = _computer(settings)
    counts = [int(np.count_nonzero(atoms.numbers == _ZN)) for _, atoms, _ in chunk]
    with RowWriter(path, settings["dtype"], n_features) as writer:
        for (pos, atoms, start), n in zip(chunk, counts):
            writer.write(start, computer.rows(atoms, pos, out=computer.buffer(n, n_features)))
    return [pos for pos, _, _ in chunk], [start for _, _, start in chunk], counts


def _compute_chunk(settings: dict, chunk: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(positions, row counts, rows stacked)`` of a chunk of ``(position, Atoms)``.

    One stacked array, not a list of per-frame arrays: Dask and loky send a top-level array
    without copying it through pickle (seed 000's atomistic rows moved 2.3-5.1x faster from
    one Dask worker in benchmarks/bench_dask.py)."""
    computer = _computer(settings)
    blocks = [computer.rows(atoms, pos) for pos, atoms in chunk]
    positions = np.array([pos for pos, _ in chunk], dtype=np.int64)
    counts = np.array([len(b) for b in blocks], dtype=np.int64)
    return positions, counts, np.concatenate(blocks, axis=0)


def _split(positions: np.ndarray, counts: np.ndarray, stacked: np.ndarray
           ) -> Iterator[tuple[int, np.ndarray]]:
    """(position, rows) of each frame of a computed chunk (views of ``stacked``)."""
    start = 0
    for pos, n in zip(positions.tolist(), counts.tolist()):
        yield pos, stacked[start:start + n]
        start += n


def _read_cached(folder: Path | None, key: str | None, n_features: int) -> np.ndarray | None:
    if folder is None:
        return None
    path = folder / f"{key}.npy"
    try:
        values = np.load(path, allow_pickle=False)
    except (FileNotFoundError, ValueError, OSError):
        return None
    if values.ndim != 2 or values.shape[1] != n_features:
        return None
    return values


def _write_cached(folder: Path, key: str, values: np.ndarray) -> None:
    from ..storage import atomic_write
    with atomic_write(folder / f"{key}.npy", "wb") as fh:
        np.save(fh, values, allow_pickle=False)
