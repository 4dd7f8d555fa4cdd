"""A hypothetical-ZIF energies data set on the zeolite nets, by seed 000's recipe.

Pipeline, one framework at a time (:func:`build_framework`):

1. **decorate** an AB2 net (IZA framework type, Si → Zn, O → Im; or a net zifviz builds) with
   idealised imidazolates, or start from an experimental / glass structure;
2. **relax** it with MOF-FF, atoms and cell (:func:`zifviz.sampling.minimise`);
3. **screen** the relaxed structure: every Zn 4-coordinated and the Zn–N bonds and linkers the
   same as before relaxation (no linker flipped out); failures are reported and dropped. A
   glass may keep an under-coordinated Zn (a dangling linker, as glass-02 and glass-03 have);
   re-decoration cannot rebuild such a linker, so its copies are :data:`OWN_LINKER_PROCEDURES`;
4. **coarse-grain** it to its AB2 net;
5. make copies by three **procedures**: ``redecorated`` (ideal linkers on the relaxed net),
   ``redecorated-rattled`` (then atoms displaced and cell strained) and
   ``cg-rattled-redecorated`` (the net's beads and cell perturbed, then decorated), the
   rattled ones at each of :data:`MAGNITUDES` × ``n_batches`` seeds;
6. **screen distances** (every pair > 1.0 Å, > 0.6 Å when an H is involved);
7. **label** with MOF-FF (per-atom energies in ``arrays["energies"]``, eV, not referenced).

Each frame's ``info`` records ``framework`` (code), ``framework_source`` (``IZA``,
``experimental``, ``glass`` or ``built net``), ``procedure``, ``magnitude`` (0 for the ideal
copy, else 1–3), ``atom_sigma`` (Å), ``cell_sigma``, ``batch``, ``seed`` and ``structure_id``.

:func:`build` runs the pipeline over a set of frameworks into a folder: one result file per
framework written atomically (a killed build continues with ``resume=True``), in parallel
with ``n_jobs`` processes or on a Dask client; then duplicate frameworks (the same Zn count,
energy and volume per Zn after relaxation, like glass-01 and ZIF-4 under MOF-FF) are merged
and the kept frames written to one reproducible gzip extxyz file plus a JSON report.

Command line::

    python -m zifviz.hzif --size demo --out /tmp/hzif [--resume] [--n-jobs N]
        [--relaxed data/hzif-relaxed.extxyz.gz --only-relaxed] [--write-relaxed FILE]

Reproducibility: every random choice is seeded from (seed, framework, procedure, magnitude,
batch) and the per-framework files are assembled into the same bytes every time, in one
process or in many. (MOF-FF cell relaxations and the last digits of energies used to depend
on what the process had computed before, through work memory LAMMPS's triclinic Ewald sum
reads before writing; :func:`zifviz.lammps_engine.open_lammps` now has that memory zeroed.)
The shipped ``data/hzif-relaxed.extxyz.gz`` was relaxed before that fix, so a build starts
from it (``relaxed=``, :func:`write_relaxed`) to regenerate the shipped set byte for byte; a
build from scratch relaxes anew and differs from it in the last digits.

Energies are MOF-FF's own (not referenced to ZIF-zni; under MOF-FF ZIF-hPT-II lies below
ZIF-zni, so zni-referenced energies can be negative).
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import os
import signal
import threading
import time
import warnings
import zlib
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from ase import Atoms

from .energetics import REFERENCE_KEY
from .errors import (ResumeError, StructureError, UnderCoordinatedZnWarning, ZifvizError,
                     ZifvizWarning)

log = logging.getLogger(__name__)

__all__ = ["MAGNITUDES", "OWN_LINKER_PROCEDURES", "PROCEDURES", "SIZES", "Framework", "assemble", "build",
           "build_demo_set", "build_framework", "coordination_sequences", "frameworks", "learning_check",
           "perturb", "read_relaxed", "screen_distances", "write_relaxed"]

PROCEDURES = ("redecorated", "redecorated-rattled", "cg-rattled-redecorated")
"""The three ways copies are made (seed 000 / hZIF-data)."""

OWN_LINKER_PROCEDURES = ("relaxed", "relaxed-rattled")
"""Copies of a glass whose dangling linkers (bound to one Zn) cannot be re-decorated: the
relaxed glass itself, and rattled at the magnitudes of ``redecorated-rattled``."""

MAGNITUDES = {
    "redecorated-rattled": ((0.005, 0.005), (0.01, 0.01), (0.02, 0.02)),
    "cg-rattled-redecorated": ((0.02, 0.005), (0.05, 0.01), (0.08, 0.02)),
}
"""Rattling magnitudes 1–3 per procedure: (Gaussian displacement σ in Å of every atom, or of
every bead of the net, and σ of each cell strain component, atoms scaled with the cell).
Kept small so that most copies stay within 1 eV per Zn of relaxed ZIF-zni (seed 000 fitted
those): a first demo build with atom σ 0.01/0.03/0.05 Å, bead σ 0.04/0.08/0.12 Å and cell σ
0.01–0.03 put most copies at the two larger magnitudes above 1 eV (0.03 Å on every atom
costs about 0.9 eV per Zn under MOF-FF)."""

SIZES = {
    "smoke": {"max_t": 8, "n_batches": 1, "iza": ("ABW",), "experimental": False,
              "built": ("dia",)},
    "demo": {"max_t": 48, "n_batches": 1, "iza": None, "experimental": True,
             "built": ("dia", "lon", "sod", "qtz")},
    "full": {"max_t": 96, "n_batches": 5, "iza": None, "experimental": True,
             "built": ("dia", "lon", "sod", "qtz")},
}
"""Build sizes: IZA types with at most ``max_t`` T atoms per cell (or the listed codes),
``n_batches`` seeds per procedure and magnitude, the experimental and glass structures, and
the nets of :data:`zifviz.nets.NETS`."""

EXPERIMENTAL = {
    "ZIF-4": ("structures/widmer2019/ZIF4-RelaxedCell.cif", "experimental"),
    "ZIF-4-cp-II": ("structures/widmer2019/ZIF4-CP-II-RelaxedCell.cif", "experimental"),
    "ZIF-zni": ("structures/widmer2019/ZNI-RelaxedCell.cif", "experimental"),
    "ZIF-hPT-II": ("structures/widmer2019/ZIF-4-hPT-II.cif", "experimental"),
    "glass-01": ("structures/gaillac2020/ZIF4_15glass01.cif", "glass"),
    "glass-02": ("structures/gaillac2020/ZIF4_15glass02.cif", "glass"),
    "glass-03": ("structures/gaillac2020/ZIF4_15glass03.cif", "glass"),
}
"""Experimental frameworks and ab initio glasses: name -> (reference file, source)."""

DUPLICATE_ENERGY = 0.002
"""Frameworks whose relaxed energies per Zn differ by less than this (eV) ..."""
DUPLICATE_VOLUME = 0.05
"""... and volumes per Zn by less than this fraction (with the same Zn count and net
topology) are one. Loose: glass-01 relaxes 3 % larger than ZIF-4 at the build's tolerances."""

MIN_DISTANCE = 1.0
MIN_DISTANCE_H = 0.6


@dataclass
class Framework:
    """One input of the pipeline: an AB2 net to decorate, or an atomistic structure."""

    code: str
    source: str  # "IZA", "experimental", "glass" or "built net"
    atoms: Atoms
    is_net: bool = True
    n_t: int = field(default=0)
    relaxed: Atoms | None = None  # a MOF-FF relaxed structure to start from (no relaxation)
    may_relax: bool = True  # without ``relaxed``: relax it, or drop it


# ---------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------
def frameworks(size: str = "demo", *, codes=None, max_t: int | None = None,
               experimental: bool | None = None, built=None) -> tuple[list[Framework], dict]:
    """The inputs of a build and the skipped ones with their reasons: ``(frameworks, skipped)``.

    IZA types are read from their CIFs (:func:`zifviz.nets.read_iza`); interrupted frameworks
    and unreadable files are skipped (reason logged). Order: experimental, glasses, IZA
    (alphabetical), built nets — the first of a set of duplicates is the one kept.
    """
    from .datasets import fetch_structure
    from .io import read
    from .nets import NETS, build_net, iza_codes, read_iza

    spec = SIZES[size]
    max_t = spec["max_t"] if max_t is None else max_t
    codes = spec["iza"] if codes is None else codes
    experimental = spec["experimental"] if experimental is None else experimental
    built = spec["built"] if built is None else built
    out: list[Framework] = []
    skipped: dict[str, str] = {}
    if experimental:
        for name, (ref, source) in EXPERIMENTAL.items():
            atoms = read(fetch_structure(ref))
            atoms.info["source"] = name
            out.append(Framework(name, source, atoms, is_net=False,
                                 n_t=int((atoms.numbers == 30).sum())))
    for code in (iza_codes() if codes is None else codes):
        try:
            net = read_iza(code)
        except ZifvizError as exc:
            skipped[code] = str(exc)
            log.info("skipping IZA %s: %s", code, exc)
            continue
        n_t = int((net.arrays["bead"] == "A").sum())
        if n_t > max_t:
            continue
        out.append(Framework(code, "IZA", net, n_t=n_t))
    for name in built or ():
        if name not in NETS:
            raise ZifvizError(f"unknown built net {name!r}; choose from {sorted(NETS)}")
        net = build_net(name)
        out.append(Framework(f"net-{name}", "built net", net,
                             n_t=int((net.arrays["bead"] == "A").sum())))
    return out, skipped


# ---------------------------------------------------------------------------------------
# Pieces of the pipeline
# ---------------------------------------------------------------------------------------
def screen_distances(atoms: Atoms, min_distance: float = MIN_DISTANCE,
                     min_distance_h: float = MIN_DISTANCE_H) -> str | None:
    """Why ``atoms`` fails the distance screen, or None when every interatomic distance
    exceeds ``min_distance`` (``min_distance_h`` for pairs involving H)."""
    from vesin import NeighborList

    nl = NeighborList(cutoff=float(max(min_distance, min_distance_h)), full_list=False)
    i, j, d = nl.compute(points=atoms.positions, box=atoms.cell.array,
                         periodic=bool(atoms.pbc.all()), quantities="ijd")
    if len(d) == 0:
        return None
    h = atoms.numbers == 1
    limit = np.where(h[i] | h[j], min_distance_h, min_distance)
    bad = np.flatnonzero(d <= limit)
    if len(bad) == 0:
        return None
    k = bad[np.argmin(d[bad])]
    sym = atoms.get_chemical_symbols()
    return (f"{len(bad)} atom pairs too close (shortest {sym[i[k]]}{i[k]}–{sym[j[k]]}{j[k]} "
            f"{d[k]:.2f} Å)")


def perturb(atoms: Atoms, atom_sigma: float, cell_sigma: float,
            rng: np.random.Generator) -> Atoms:
    """A copy with a random symmetric cell strain (σ ``cell_sigma`` per component, atoms
    scaled along) and then Gaussian displacements (σ ``atom_sigma`` Å) of every atom or bead;
    the convention of :func:`zifviz.sampling.rattle`, without labelling."""
    upper = np.triu(rng.normal(0.0, cell_sigma, (3, 3)))
    eps = upper + np.triu(upper, 1).T
    copy = atoms.copy()
    copy.set_cell(atoms.cell.array @ (np.eye(3) + eps), scale_atoms=True)
    copy.positions += rng.normal(0.0, atom_sigma, copy.positions.shape)
    return copy


def _signature(topology) -> str:
    """Digest of the Zn–N bonds and linkers (atom indices): equal when no bond changed."""
    def canonical(rows) -> bytes:
        rows = np.sort(np.asarray(rows).reshape(len(rows), -1), axis=1)
        return rows[np.lexsort(rows.T[::-1])].astype("<i8").tobytes()

    h = zlib.crc32(canonical(topology.bonds))
    h = zlib.crc32(canonical(topology.linkers), h)
    h = zlib.crc32(np.sort(np.asarray(topology.zn)).astype("<i8").tobytes(), h)
    return f"{h:08x}"


def _neighbours_from_topology(topology) -> tuple[np.ndarray, np.ndarray]:
    """The two Zn of every linker and the cell shifts of the B→A vectors, in the bead
    indexing of ``coarse_grain(atoms, "AB2")``: the ``neighbours`` of
    :func:`zifviz.decorate.decorate` that keep the perceived connectivity (not the nearest
    beads, which can differ in a strained net)."""
    from .coarse import net_bonds

    pairs, shifts = net_bonds(topology, "AB2")
    b = pairs[:, 1] - topology.n_zn
    if not np.array_equal(np.bincount(b, minlength=topology.n_linkers),
                          np.full(topology.n_linkers, 2)):
        raise StructureError("a linker does not bind two Zn", topology.source)
    order = np.argsort(b, kind="stable")
    return pairs[order, 0].reshape(-1, 2), -np.asarray(shifts)[order].reshape(-1, 2, 3)


def _seed(base: int, *parts) -> int:
    return zlib.crc32(":".join(map(str, (base,) + parts)).encode()) & 0x7FFFFFFF


class FrameworkTimeout(TimeoutError):
    """A framework took longer than the build's ``max_seconds``."""


@contextmanager
def _time_limit(seconds: float | None, code: str):
    """Raise :class:`FrameworkTimeout` once ``seconds`` have passed (checked whenever Python
    runs, e.g. between LAMMPS minimisation chunks); only in the main thread of a process."""
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum, frame):
        raise FrameworkTimeout(f"{code}: took longer than {seconds:g} s (dropped; raise "
                               "max_seconds to keep it)")

    old = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _magnitudes(settings: dict, procedure: str) -> list:
    """The rattling magnitudes of ``procedure`` (a glass's own-linker copies are rattled as
    ``redecorated-rattled``)."""
    return settings["magnitudes"][procedure.replace("relaxed-", "redecorated-")]


def _given_relaxed(fw: Framework, start: Atoms) -> Atoms:
    """A copy of ``fw.relaxed``, checked to be the decorated framework (same atoms, in the
    same order) with its relaxation record (``energy``, ``converged``, ``fmax``, ``step``)."""
    relaxed = fw.relaxed.copy()
    if len(relaxed) != len(start) or (relaxed.numbers != start.numbers).any():
        raise StructureError("the given relaxed structure does not match the decorated "
                             f"framework ({len(relaxed)} vs {len(start)} atoms)", fw.code)
    missing = [k for k in ("energy", "converged", "fmax", "step") if k not in relaxed.info]
    if missing:
        raise StructureError(f"the given relaxed structure lacks {missing} in its info", fw.code)
    relaxed.calc = None
    return relaxed


def read_relaxed(path: str | os.PathLike) -> dict[str, Atoms]:
    """The relaxed frameworks of a build, as written by :func:`write_relaxed`, by code."""
    from .io import iread

    out: dict[str, Atoms] = {}
    for atoms in iread(path):
        code = atoms.info.get("framework")
        if code is None:
            raise StructureError("a frame without info['framework']", str(path))
        out[str(code)] = atoms
    return out


def write_relaxed(out: str | os.PathLike, path: str | os.PathLike | None = None) -> Path:
    """Gather the relaxed structures of every framework built in ``out`` (duplicates too)
    into one reproducible gzip extxyz, ``info["framework"]`` naming each: what
    :func:`build` needs (``relaxed=``) to regenerate the set byte for byte without relaxing."""
    from .io import read
    from .storage import atomic_write

    out = Path(out)
    path = out / "relaxed.extxyz.gz" if path is None else Path(path)
    frames = []
    for summary_file in sorted((out / "frameworks").glob("*.json")):
        summary = json.loads(summary_file.read_text())
        if summary["status"] != "ok":
            continue
        atoms = read(summary_file.with_suffix(".relaxed.extxyz"))
        atoms.info = {k: atoms.info[k] for k in ("energy", "converged", "fmax", "step",
                                                 "forcefield") if k in atoms.info}
        atoms.info.update(framework=summary["framework"],
                          framework_source=summary["framework_source"])
        frames.append(atoms)
    with atomic_write(path, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz:
            gz.write(_write_extxyz_text(frames).encode())
    return path


#: How often (s) a framework's relaxation saves its checkpoint.
CHECKPOINT_SECONDS = 120.0


def build_framework(fw: Framework, settings: dict, *, checkpoint: str | os.PathLike | None = None
                    ) -> tuple[list[Atoms], Atoms | None, dict]:
    """Run the pipeline on one framework: ``(labelled frames, relaxed structure, summary)``.

    ``checkpoint``: where the relaxation saves the structure reached every
    :data:`CHECKPOINT_SECONDS` and continues from (see :func:`zifviz.sampling.minimise`).

    The summary has ``status`` ``"ok"`` or ``"dropped"`` (with ``reason``), the relaxed
    ``energy_per_zn`` (eV) and ``volume_per_zn`` (Å³), counts and timings. Never raises
    for a bad structure: a failure is a dropped framework with its reason.
    """
    from .coarse import coarse_grain
    from .decorate import decorate
    from .mofff import MOFFFCalculator
    from .sampling import minimise
    from .topology import perceive

    t0 = time.perf_counter()
    summary = {"framework": fw.code, "framework_source": fw.source, "status": "dropped",
               "n_t": fw.n_t}
    frames: list[Atoms] = []
    resumed_seconds = 0.0
    try:
        start = decorate(fw.atoms) if fw.is_net else fw.atoms.copy()
        start.info["source"] = fw.code
        with warnings.catch_warnings():  # coordination is checked and reported below
            warnings.simplefilter("ignore", UnderCoordinatedZnWarning)
            topo0 = perceive(start, source=fw.code)
        summary.update(n_zn=int(topo0.n_zn), n_linkers=int(topo0.n_linkers),
                       n_atoms=len(start))
        if fw.is_net:
            kinds = np.asarray(fw.atoms.arrays["bead"])
            if topo0.n_zn != (kinds == "A").sum() or topo0.n_linkers != (kinds == "B").sum():
                raise StructureError(f"decoration gave {topo0.n_zn} Zn and {topo0.n_linkers} "
                                     f"linkers for {(kinds == 'A').sum()} A and "
                                     f"{(kinds == 'B').sum()} B beads", fw.code)
        coordination = np.asarray(topo0.coordination)
        # a glass may have under-coordinated Zn (dangling linkers): kept, with its own linkers
        own_linkers = fw.source == "glass" and not (coordination == 4).all()
        if not (coordination == 4).all() and not own_linkers:
            raise StructureError(f"{int((coordination != 4).sum())} Zn are not 4-coordinated "
                                 "before relaxation", fw.code)
        if fw.relaxed is not None:
            relaxed = _given_relaxed(fw, start)
            summary["relaxed_from"] = "file"
        elif not fw.may_relax:
            raise StructureError("not in the file of relaxed frameworks (dropped when that "
                                 "file was made)", fw.code)
        else:
            relaxed = minimise(start, relax_cell=True, fmax=settings["fmax"],
                               max_steps=settings["max_steps"], topology=topo0, progress=False,
                               checkpoint=checkpoint, checkpoint_seconds=CHECKPOINT_SECONDS)
        relaxed.info["source"] = fw.code
        resumed_seconds = float(relaxed.info.pop("resumed_seconds", 0.0))
        summary.update(converged=bool(relaxed.info["converged"]),
                       fmax=float(relaxed.info["fmax"]), relax_steps=int(relaxed.info["step"]))
        if relaxed.info["fmax"] > 10 * settings["fmax"]:
            raise StructureError(f"relaxation did not converge (fmax "
                                 f"{relaxed.info['fmax']:.3g} eV/Å)", fw.code)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UnderCoordinatedZnWarning)
            topo = perceive(relaxed, source=fw.code)
        after = np.asarray(topo.coordination)
        if not (after == coordination).all() or not (own_linkers or (after == 4).all()):
            raise StructureError(f"collapsed on relaxation: {int((after != coordination).sum())}"
                                 " Zn changed coordination", fw.code)
        if _signature(topo) != _signature(topo0):
            raise StructureError("a linker flipped on relaxation (Zn–N bonds changed)", fw.code)
        n_zn = topo.n_zn
        summary.update(energy_per_zn=float(relaxed.info["energy"]) / n_zn,
                       volume_per_zn=float(relaxed.get_volume()) / n_zn)

        if own_linkers:
            ideal = Atoms(relaxed.numbers, positions=relaxed.positions, cell=relaxed.cell,
                          pbc=True)
            ref = topo
            procedures = OWN_LINKER_PROCEDURES
        else:
            net = coarse_grain(relaxed, "AB2", topo)
            for key in list(net.arrays):
                if key not in ("numbers", "positions", "bead"):
                    del net.arrays[key]
            net.info = {"source": fw.code}
            neighbours = _neighbours_from_topology(topo)
            ideal = decorate(net, neighbours=neighbours)
            ref = perceive(ideal, source=fw.code)
            procedures = PROCEDURES
        ref_sig = _signature(ref)
        calc = MOFFFCalculator()
        dropped: dict[str, int] = {}
        jobs = [(procedures[0], 0, 0)]
        for procedure in procedures[1:]:
            for m in range(1, len(_magnitudes(settings, procedure)) + 1):
                for batch in range(settings["n_batches"]):
                    jobs.append((procedure, m, batch))
        try:
            for procedure, m, batch in jobs:
                seed = _seed(settings["seed"], fw.code, procedure, m, batch)
                rng = np.random.default_rng(seed)
                a_sig, c_sig = _magnitudes(settings, procedure)[m - 1] if m else (0.0, 0.0)
                if procedure in ("redecorated", "relaxed"):
                    atoms = ideal.copy()
                elif procedure in ("redecorated-rattled", "relaxed-rattled"):
                    atoms = perturb(ideal, a_sig, c_sig, rng)
                else:
                    atoms = decorate(perturb(net, a_sig, c_sig, rng), neighbours=neighbours)
                atoms.wrap()
                reason = screen_distances(atoms, settings["min_distance"],
                                          settings["min_distance_h"])
                if reason is None:
                    try:
                        with warnings.catch_warnings():
                            warnings.simplefilter("ignore", ZifvizWarning)
                            found = perceive(atoms, source=fw.code)
                        if _signature(found) != ref_sig:
                            reason = "connectivity changed"
                    except ZifvizError as exc:
                        reason = f"perception failed ({type(exc).__name__})"
                if reason is None:
                    try:
                        result = calc.evaluate(atoms, ref.at(atoms))
                    except ZifvizError as exc:
                        reason = f"labelling failed ({type(exc).__name__})"
                if reason is not None:
                    key = reason.split(" (")[0]
                    key = "atoms too close" if "too close" in key else key
                    dropped[key] = dropped.get(key, 0) + 1
                    continue
                out = Atoms(atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=True)
                out.arrays["energies"] = np.asarray(result["energies"], dtype=float)
                out.info.update({
                    "framework": fw.code, "framework_source": fw.source,
                    "procedure": procedure, "magnitude": m, "atom_sigma": a_sig,
                    "cell_sigma": c_sig, "batch": batch, "seed": seed,
                    "energy": float(result["energy"]), "forcefield": "MOF-FF",
                })
                out.info["structure_id"] = f"hzif:{fw.code}:{procedure}:{m}:{batch}"
                frames.append(out)
        finally:
            calc.close()
        summary.update(status="ok", n_frames=len(frames), n_environments=len(frames) * n_zn,
                       dropped_frames=dropped)
        relaxed_out = relaxed
    except ZifvizError as exc:
        summary["reason"] = str(exc)
        relaxed_out = None
        frames = []
    # a relaxation continued from a checkpoint: its earlier processes' time counts too
    summary["seconds"] = round(time.perf_counter() - t0 + resumed_seconds, 2)
    return frames, relaxed_out, summary


# ---------------------------------------------------------------------------------------
# Build folder: per-framework results, resume, parallel, assembly
# ---------------------------------------------------------------------------------------
def _write_extxyz_text(frames: list[Atoms]) -> str:
    import ase.io

    buf = io.StringIO()
    for frame in frames:
        ase.io.write(buf, frame, format="extxyz")
    return buf.getvalue()


def _safe(code: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in code)


def _run_one(fw: Framework, settings: dict, folder: str, max_seconds: float | None = None) -> dict:
    """Build one framework and write its result files atomically (the summary last). Its
    relaxation saves a checkpoint (``.<code>.relaxing.extxyz``) that a resumed build continues
    from: a build killed in an hour-long relaxation loses minutes, not the hour. (After a
    timeout the checkpoint stays: remove the dropped ``<code>.json`` and resume with a larger
    ``max_seconds`` to continue that relaxation.)"""
    from .storage import atomic_write

    t0 = time.perf_counter()
    base = Path(folder) / _safe(fw.code)
    try:
        with _time_limit(max_seconds, fw.code):
            frames, relaxed, summary = build_framework(
                fw, settings, checkpoint=base.with_name(f".{base.name}.relaxing.extxyz"))
        if max_seconds and time.perf_counter() - t0 > max_seconds:
            # the alarm can be lost inside a C call (LAMMPS); the limit holds all the same
            raise FrameworkTimeout(f"{fw.code}: took longer than {max_seconds:g} s (dropped; "
                                   "raise max_seconds to keep it)")
    except FrameworkTimeout as exc:
        frames, relaxed = [], None
        summary = {"framework": fw.code, "framework_source": fw.source, "status": "dropped",
                   "n_t": fw.n_t, "reason": str(exc),
                   "seconds": round(time.perf_counter() - t0, 2)}
    with atomic_write(f"{base}.extxyz") as fh:
        fh.write(_write_extxyz_text(frames))
    if relaxed is not None:
        with atomic_write(f"{base}.relaxed.extxyz") as fh:
            fh.write(_write_extxyz_text([relaxed]))
    with atomic_write(f"{base}.json") as fh:
        json.dump(summary, fh, indent=1, sort_keys=True)
    return summary


def _run_one_isolated(fw: Framework, settings: dict, folder: str,
                      max_seconds: float | None = None) -> dict:
    """:func:`_run_one` in a fresh Python process, for executors whose workers are reused
    (a Dask worker): the time limit needs a main thread, and a framework's memory goes back
    when its process ends. A subprocess, because a Dask worker (a daemon process)
    may not start multiprocessing children."""
    import pickle
    import subprocess
    import sys
    import tempfile

    with tempfile.TemporaryDirectory(dir=folder, prefix=".job-") as tmp:
        job = Path(tmp) / "job.pickle"  # a transient hand-over to the child, never kept
        job.write_bytes(pickle.dumps((fw, settings, folder, max_seconds)))
        run = subprocess.run([sys.executable, "-c", "import sys; from zifviz.hzif import "
                              "_run_job; _run_job(sys.argv[1])", str(job)],
                             capture_output=True, text=True)
    if run.returncode != 0:
        last = (run.stderr.strip().splitlines() or [f"exit status {run.returncode}"])[-1]
        raise ZifvizError(f"building {fw.code} failed in its own process: {last}", folder)
    return json.loads((Path(folder) / f"{_safe(fw.code)}.json").read_text())


def _run_job(path: str) -> None:
    """The child side of :func:`_run_one_isolated`."""
    import pickle

    fw, settings, folder, max_seconds = pickle.loads(Path(path).read_bytes())
    _run_one(fw, settings, folder, max_seconds)


def _settings(size: str, n_batches: int | None, seed: int, fmax: float, max_steps: int) -> dict:
    spec = SIZES[size]
    return {"size": size, "n_batches": spec["n_batches"] if n_batches is None else n_batches,
            "magnitudes": {p: [list(m) for m in ms] for p, ms in MAGNITUDES.items()}, "seed": seed, "fmax": fmax,
            "max_steps": max_steps, "min_distance": MIN_DISTANCE,
            "min_distance_h": MIN_DISTANCE_H}


def build(out: str | os.PathLike, size: str = "demo", *, resume: bool = False,
          n_jobs: int = 1, client=None, inputs: list[Framework] | None = None,
          n_batches: int | None = None, seed: int = 0, fmax: float = 0.05,
          max_steps: int = 3000, max_seconds: float | None = None,
          relaxed: str | os.PathLike | None = None, relax_missing: bool = True,
          isolate: bool = False, progress: bool = True) -> Path:
    """Build the data set of ``size`` (:data:`SIZES`) into the folder ``out``.

    Writes ``out/frameworks/<code>.{extxyz,relaxed.extxyz,json}`` per framework as each one
    finishes, then :func:`assemble` writes ``out/energies.extxyz.gz`` (returned) and
    ``out/report.json``. ``resume=True`` skips frameworks already done (the settings must be
    the same); without it an existing build is refused. ``n_jobs`` processes work in
    parallel, or ``client`` (a Dask ``Client`` or any object with ``submit``) runs them,
    each framework in a fresh process started by the worker (so the folder must be one the
    workers share). Frameworks are built smallest first (fewest T atoms); the output keeps
    the order of the inputs.
    ``inputs`` replaces the frameworks of ``size`` (see :func:`frameworks`). A framework
    taking longer than ``max_seconds`` (e.g. a relaxation crawling for half an hour) is
    dropped with that reason; the limit is not part of the settings compared on resume.
    ``relaxed`` names a file of relaxed frameworks (:func:`write_relaxed`): those frameworks
    start from it instead of being relaxed again (the shipped file regenerates the shipped set
    byte for byte); the others are relaxed, or dropped with ``relax_missing=False`` (to
    regenerate exactly the set the file came from).
    Local parallel work (``n_jobs > 1``), and serial work with ``isolate=True``, runs each
    framework in a fresh process (LAMMPS never runs in a process forked from one that used
    it); the bytes are those of an in-process build.
    """
    from tqdm.auto import tqdm

    from .storage import atomic_write

    if size not in SIZES:
        raise ZifvizError(f"unknown size {size!r}; choose one of {sorted(SIZES)}")
    t0 = time.perf_counter()
    out = Path(out)
    folder = out / "frameworks"
    folder.mkdir(parents=True, exist_ok=True)
    settings = _settings(size, n_batches, seed, fmax, max_steps)
    given: dict[str, Atoms] = {}
    if relaxed is not None:
        from .datasets import _sha256

        given = read_relaxed(relaxed)
        settings["relaxed_sha256"] = _sha256(Path(relaxed))
        settings["relax_missing"] = bool(relax_missing)
    settings_file = out / "settings.json"
    if settings_file.exists():
        old = json.loads(settings_file.read_text())
        if not resume:
            raise ResumeError("a build exists here; pass resume=True (--resume) to continue "
                              "it, or choose another folder", str(out))
        differ = sorted(k for k in set(old) | set(settings) if old.get(k) != settings.get(k))
        if differ:
            raise ResumeError(f"settings differ from the build being resumed: {differ}",
                              str(settings_file))
    else:
        with atomic_write(settings_file) as fh:
            json.dump(settings, fh, indent=1, sort_keys=True)

    skipped: dict[str, str] = {}
    if inputs is None:
        inputs, skipped = frameworks(size)
    for fw in inputs:
        fw.relaxed = given.get(fw.code, fw.relaxed)
        fw.may_relax = relax_missing or not given
    codes = [fw.code for fw in inputs]
    if len(set(codes)) != len(codes):
        raise ZifvizError("framework codes must be unique")
    # smallest first (fewest T atoms): an interrupted build has done as many frameworks as it
    # could, and a long relaxation of a large net does not hold up the small ones behind it;
    # the output keeps the order of ``inputs``
    todo = sorted((fw for fw in inputs if not (folder / f"{_safe(fw.code)}.json").exists()),
                  key=lambda fw: fw.n_t)
    bar = tqdm(total=len(inputs), initial=len(inputs) - len(todo), desc="hZIF frameworks",
               unit="framework", disable=not progress, dynamic_ncols=True)
    try:
        if client is not None or n_jobs > 1 or isolate:
            executor = client
            own = None
            if executor is None:
                import multiprocessing
                from concurrent.futures import ProcessPoolExecutor

                own = executor = ProcessPoolExecutor(
                    max_workers=n_jobs, mp_context=multiprocessing.get_context("spawn"),
                    max_tasks_per_child=1)
            # a given executor's workers are reused: each framework in a fresh process there
            run = _run_one if own is not None else _run_one_isolated
            try:
                futures = [executor.submit(run, fw, settings, str(folder), max_seconds)
                           for fw in todo]
                for fut in futures:
                    s = fut.result()
                    bar.set_postfix_str(f"{s['framework']} {s['status']}", refresh=False)
                    bar.update(1)
            finally:
                if own is not None:
                    own.shutdown(cancel_futures=True)
        else:
            for fw in todo:
                s = _run_one(fw, settings, str(folder), max_seconds)
                bar.set_postfix_str(f"{s['framework']} {s['status']}", refresh=False)
                bar.update(1)
    finally:
        bar.close()
    return assemble(out, codes, skipped=skipped, build_seconds=time.perf_counter() - t0)


def coordination_sequences(topology, shells: int = 10) -> list[tuple[int, ...]]:
    """Sorted coordination sequences of the Zn net (Zn at 1..``shells`` bonds from each Zn,
    counting periodic images apart): a topological fingerprint of the framework."""
    from .coarse import net_bonds

    pairs, shifts = net_bonds(topology, "A")
    neighbours: list[list[tuple[int, tuple]]] = [[] for _ in range(topology.n_zn)]
    for (a, b), sh in zip(pairs.tolist(), np.asarray(shifts, dtype=int).tolist()):
        neighbours[a].append((b, tuple(sh)))
        neighbours[b].append((a, tuple(-x for x in sh)))
    out = []
    for start in range(topology.n_zn):
        seen = {(start, (0, 0, 0))}
        shell = [(start, (0, 0, 0))]
        counts = []
        for _ in range(shells):
            nxt = []
            for node, img in shell:
                for other, sh in neighbours[node]:
                    key = (other, (img[0] + sh[0], img[1] + sh[1], img[2] + sh[2]))
                    if key not in seen:
                        seen.add(key)
                        nxt.append(key)
            counts.append(len(nxt))
            shell = nxt
        out.append(tuple(counts))
    return sorted(out)


def _topology_key(relaxed_file: Path) -> str | None:
    """Digest of the coordination sequences of a relaxed structure (None if unreadable)."""
    import ase.io

    from .topology import perceive

    try:
        atoms = ase.io.read(relaxed_file, format="extxyz")
        cs = coordination_sequences(perceive(atoms))
    except (OSError, ZifvizError, ValueError):
        return None
    return f"{zlib.crc32(repr(cs).encode()):08x}"


def _duplicates(summaries: list[dict]) -> dict[str, str]:
    """Duplicate framework -> the earlier framework it is merged into: the same Zn count
    and net topology (``topology_key``, coordination sequences) and, after relaxation, the
    same energy per Zn (:data:`DUPLICATE_ENERGY`) and volume per Zn
    (:data:`DUPLICATE_VOLUME`)."""
    merged: dict[str, str] = {}
    kept: list[dict] = []
    for s in summaries:
        for k in kept:
            if (k["n_zn"] == s["n_zn"]
                    and k.get("topology_key") == s.get("topology_key")
                    and abs(k["energy_per_zn"] - s["energy_per_zn"]) < DUPLICATE_ENERGY
                    and abs(k["volume_per_zn"] / s["volume_per_zn"] - 1) < DUPLICATE_VOLUME):
                merged[s["framework"]] = k["framework"]
                break
        else:
            kept.append(s)
    return merged


def _add_to_comments(text: str, extra: str) -> str:
    """Append ``extra`` (`` key=value``) to the comment line of every extxyz frame."""
    if not extra:
        return text
    lines = text.split("\n")
    k = 0
    while k < len(lines) and lines[k].strip():
        n = int(lines[k])
        lines[k + 1] += extra
        k += n + 2
    return "\n".join(lines)


def assemble(out: str | os.PathLike, codes: list[str], *, skipped: dict | None = None,
             build_seconds: float | None = None, name: str = "energies.extxyz.gz") -> Path:
    """Merge duplicates and write the kept frameworks' frames (in ``codes`` order) to
    ``out/<name>`` (gzip with a fixed header: the same frames give the same bytes) and the
    counts, drops, skips and duplicates to ``out/report.json``."""
    from .storage import atomic_write

    out = Path(out)
    folder = out / "frameworks"
    summaries = []
    for code in codes:
        path = folder / f"{_safe(code)}.json"
        if not path.exists():
            raise ZifvizError(f"framework {code} has not been built", str(path))
        summaries.append(json.loads(path.read_text()))
    ok = [s for s in summaries if s["status"] == "ok" and s.get("n_frames", 0) > 0]
    for s in ok:
        s["topology_key"] = _topology_key(folder / f"{_safe(s['framework'])}.relaxed.extxyz")
    merged = _duplicates(ok)
    kept = [s for s in ok if s["framework"] not in merged]
    zni = [s["energy_per_zn"] for s in kept if s["framework"] == "ZIF-zni"]
    extra = f" {REFERENCE_KEY}={zni[0]!r}" if zni else ""
    target = out / name
    with atomic_write(target, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz:
            for s in kept:
                text = (folder / f"{_safe(s['framework'])}.extxyz").read_text()
                gz.write(_add_to_comments(text, extra).encode())
    report = {
        "file": name, "n_frameworks": len(kept), REFERENCE_KEY: zni[0] if zni else None,
        "n_frames": int(sum(s["n_frames"] for s in kept)),
        "n_environments": int(sum(s["n_environments"] for s in kept)),
        "bytes": target.stat().st_size,
        "by_source": {src: sum(1 for s in kept if s["framework_source"] == src)
                      for src in sorted({s["framework_source"] for s in kept})},
        "duplicates": merged,
        "dropped": {s["framework"]: s.get("reason", "no frame passed the screen")
                    for s in summaries if s not in ok},
        "skipped": skipped or {},
        "dropped_frames": {s["framework"]: s["dropped_frames"] for s in kept
                           if s.get("dropped_frames")},
        "framework_seconds": round(sum(s["seconds"] for s in summaries), 1),
    }
    if build_seconds is not None:
        report["build_seconds"] = round(build_seconds, 1)
    with atomic_write(out / "report.json") as fh:
        json.dump(report, fh, indent=1, sort_keys=True)
    return target


def build_demo_set(path: str | os.PathLike, size: str = "demo", *, work_dir, n_jobs: int = 1,
                   client=None, resume: bool = True, max_seconds: float | None = 600.0,
                   relaxed: str | os.PathLike | None = None, relax_missing: bool = True,
                   progress: bool = True) -> dict:
    """Build the ``energies`` demo set of ``size`` and copy it to ``path``: the hook for
    ``zifviz build-demo``. ``work_dir`` keeps the per-framework results (resumable).
    ``relaxed``: start from these relaxed frameworks (:func:`write_relaxed`; the shipped
    ``data/hzif-relaxed.extxyz.gz`` regenerates the shipped set byte for byte). Returns the
    build report (counts, drops, duplicates, seconds) as a dict."""
    import shutil

    from .storage import atomic_write

    work = Path(work_dir)
    built = build(work, size, resume=resume and (work / "settings.json").exists(),
                  n_jobs=n_jobs, client=client, max_seconds=max_seconds, relaxed=relaxed,
                  relax_missing=relax_missing, isolate=True, progress=progress)
    with atomic_write(path, "wb") as fh, open(built, "rb") as src:
        shutil.copyfileobj(src, fh)
    return json.loads((work / "report.json").read_text())


# ---------------------------------------------------------------------------------------
# Does it teach? A quick model per level
# ---------------------------------------------------------------------------------------
ALPHAS = (1e-4, 1e-3, 1e-2, 1e-1, 1.0)
"""Kernel-ridge regularisations tried (chosen per fold by an inner grouped CV)."""


SOAP_SETTINGS = {
    "atomistic": {"r_cut": 6.0, "n_max": 6, "l_max": 4, "sigma": 0.5},
    "AB2": {"r_cut": 8.0, "n_max": 6, "l_max": 4, "sigma": 0.75},
    "A": {"r_cut": 10.0, "n_max": 6, "l_max": 4, "sigma": 1.0},
}
"""Zn-centred SOAP per level (cut-offs reach the first Zn neighbours at ≈ 6 Å in cg levels;
fixed beforehand, not tuned on the data)."""


def _krr_fit_predict(K_train, y_train, K_test, alphas) -> list[np.ndarray]:
    """Kernel ridge predictions (target centred on the training mean) for several alphas,
    from one eigendecomposition of the training kernel."""
    mean = y_train.mean()
    w, V = np.linalg.eigh(K_train)
    proj = V.T @ (y_train - mean)
    KV = K_test @ V
    return [KV @ (proj / (np.maximum(w, 0.0) + a)) + mean for a in alphas]


def _choose_alpha(K, y, groups, alphas, folds: int = 3) -> float:
    from sklearn.model_selection import GroupKFold

    folds = min(folds, len(np.unique(groups)))
    if folds < 2:
        return float(alphas[len(alphas) // 2])
    errors = np.zeros(len(alphas))
    for train, test in GroupKFold(n_splits=folds).split(K, y, groups):
        preds = _krr_fit_predict(K[np.ix_(train, train)], y[train], K[np.ix_(test, train)],
                                 alphas)
        errors += [np.sum((p - y[test]) ** 2) for p in preds]
    return float(alphas[int(np.argmin(errors))])


def learning_check(path: str | os.PathLike, *, n_train: int | None = 4000, seed: int = 0,
                   folds: int = 5, max_local: float | None = 1.0, alphas=ALPHAS,
                   soap_settings: dict | None = None, procedures=None,
                   grouped: bool = True, target: str = "eps_local", progress: bool = True):
    """Seed 000's test on a built file: per coarse-graining level, Zn-centred SOAP
    (normalised), polynomial kernel (1 + x·x')⁴, kernel ridge (regularisation chosen from
    ``alphas`` by an inner grouped CV), ``folds``-fold CV grouped by framework on
    ``n_train`` sampled environments.

    ε_local is MOF-FF's own (RMSE does not depend on a reference). Environments with
    ε_local more than ``max_local`` eV above relaxed ZIF-zni (``info["zni_energy_per_zn"]``;
    the set's lowest ε_local when absent) are left out of the fits, as seed 000 dropped
    those above 1 eV. ``predict_mean`` is the RMSE of predicting, for each
    environment, the mean of the other frameworks. ``procedures`` restricts the fits (seed
    000 fitted rattled copies only). ``grouped=False`` splits environments at random
    instead (frames of one framework then sit on both sides, which flatters every level).
    ``target``: ``"eps_local"`` or ``"eps_zn"`` (the Zn atom's own energy).

    Returns ``(table, summary)``: a pandas DataFrame with one row per environment (framework,
    procedure, magnitude, ε_Zn, ε_local and the CV prediction per level) and a dict of
    spreads, RMSEs per level and ratios, overall and per procedure and magnitude.
    """
    import pandas as pd
    from dscribe.descriptors import SOAP
    from sklearn.model_selection import GroupKFold
    from tqdm.auto import tqdm

    from .coarse import coarse_grain
    from .energetics import local_energies
    from .io import iread
    from .topology import perceive

    rows, structures = [], {"atomistic": [], "AB2": [], "A": []}
    topo_cache: dict[str, object] = {}
    first_info: dict = {}
    for f, atoms in enumerate(iread(path, format="extxyz")):
        first_info = first_info or dict(atoms.info)
        code = atoms.info["framework"]
        topo = topo_cache.get(code)
        try:
            topo = topo.at(atoms) if topo is not None else perceive(atoms)
        except ZifvizError:
            topo = perceive(atoms)
        topo_cache[code] = topo
        e = np.asarray(atoms.arrays["energies"])
        local = local_energies(e, topo)
        for k, z in enumerate(topo.zn):
            rows.append({"frame": f, "framework": code, "procedure": atoms.info["procedure"],
                         "magnitude": int(atoms.info["magnitude"]), "zn_rank": k,
                         "zn": int(z), "eps_zn": float(e[z]), "eps_local": float(local[k])})
        structures["atomistic"].append((atoms, np.asarray(topo.zn)))
        for level in ("AB2", "A"):
            cg = coarse_grain(atoms, level, topo)
            structures[level].append((cg, np.arange(topo.n_zn)))
    table = pd.DataFrame(rows)
    reference = first_info.get(REFERENCE_KEY)
    reference = float(table["eps_local"].min()) if reference is None else float(reference)
    table["eps_local_rel"] = table["eps_local"] - reference
    use = table if max_local is None else table[table["eps_local_rel"] <= max_local]
    if procedures is not None:
        use = use[use["procedure"].isin(list(procedures))]
    rng = np.random.default_rng(seed)
    if n_train is not None and len(use) > n_train:
        use = use.iloc[np.sort(rng.choice(len(use), n_train, replace=False))]
    if target not in ("eps_local", "eps_zn"):
        raise ZifvizError(f"target must be 'eps_local' or 'eps_zn', not {target!r}")
    y = use[target].to_numpy()
    if not np.isfinite(y).all():
        raise ZifvizError(f"{int((~np.isfinite(y)).sum())} environments have a non-finite "
                          f"{target}", str(path))

    species = {"atomistic": ["H", "C", "N", "Zn"], "AB2": ["Zn", "O"], "A": ["Zn"]}
    soap_settings = SOAP_SETTINGS if soap_settings is None else soap_settings
    summary = {"target": target, "grouped_by_framework": bool(grouped), "n_environments": int(len(table)), "n_used": int(len(use)),
               "n_frameworks": int(table["framework"].nunique()),
               "spread_eps_local_std": float(table["eps_local"].std()),
               "spread_eps_zn_std": float(table["eps_zn"].std()),
               "range_eps_local": [float(table["eps_local"].min()),
                                   float(table["eps_local"].max())],
               "range_eps_zn": [float(table["eps_zn"].min()), float(table["eps_zn"].max())],
               "used_std": float(y.std()), "rmse": {}, "by_group": {}}
    groups = use["framework"].to_numpy() if grouped else np.arange(len(use))
    preds = {}
    for level in tqdm(("atomistic", "AB2", "A"), desc="levels", disable=not progress):
        soap = SOAP(species=species[level], periodic=True, **soap_settings[level])
        feats = []
        by_frame = use.groupby("frame")["zn_rank"].apply(list)
        for f, ranks in by_frame.items():
            atoms, centres = structures[level][f]
            x = soap.create(atoms, centers=[int(c) for c in centres[ranks]])
            feats.append(np.atleast_2d(x))
        X = np.vstack(feats)  # rows of `use` are sorted by frame then Zn: the same order
        norms = np.linalg.norm(X, axis=1, keepdims=True)
        if not (np.isfinite(norms).all() and (norms > 0).all()):
            bad = int((~(np.isfinite(norms) & (norms > 0))).sum())
            raise ZifvizError(f"{level} SOAP rows of {bad} environments are zero or not "
                              "finite", str(path))
        X /= norms
        K = (1.0 + X @ X.T) ** 4  # seed 000's polynomial kernel on normalised SOAP
        pred = np.empty_like(y)
        chosen = []
        for train, test in GroupKFold(n_splits=folds).split(X, y, groups):
            a = _choose_alpha(K[np.ix_(train, train)], y[train], groups[train], alphas)
            chosen.append(a)
            pred[test] = _krr_fit_predict(K[np.ix_(train, train)], y[train],
                                          K[np.ix_(test, train)], [a])[0]
        if not np.isfinite(pred).all():
            bad = int((~np.isfinite(pred)).sum())
            raise ZifvizError(f"kernel ridge at the {level} level gave {bad} non-finite "
                              "predictions (a non-finite label or kernel?)", str(path))
        preds[level] = pred
        summary.setdefault("alpha", {})[level] = chosen
        summary["rmse"][level] = float(np.sqrt(np.mean((pred - y) ** 2)))
    summary["rmse"]["predict_mean"] = float(np.sqrt(np.mean(
        (y - np.array([y[groups != g].mean() for g in groups])) ** 2)))
    r = summary["rmse"]
    summary["ratios"] = {"AB2/atomistic": r["AB2"] / r["atomistic"],
                         "A/atomistic": r["A"] / r["atomistic"]}
    used = use.copy()
    for level, pred in preds.items():
        used[f"pred_{level}"] = pred
    for key, sub in used.groupby(["procedure", "magnitude"]):
        summary["by_group"]["/".join(map(str, key))] = {
            "n": int(len(sub)), "std": float(sub[target].std()),
            **{level: float(np.sqrt(np.mean((sub[f"pred_{level}"] - sub[target]) ** 2)))
               for level in preds}}
    return used, summary


# ---------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------
def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m zifviz.hzif", description=__doc__.split("\n")[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="demo")
    parser.add_argument("--out", required=True, help="build folder (created)")
    parser.add_argument("--resume", action="store_true", help="continue a build in --out")
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--n-batches", type=int, default=None)
    parser.add_argument("--max-seconds", type=float, default=600.0,
                        help="drop a framework that takes longer (default 600 s)")
    parser.add_argument("--relaxed", default=None,
                        help="start from these relaxed frameworks (an extxyz written by "
                             "--write-relaxed, e.g. data/hzif-relaxed.extxyz.gz): no "
                             "relaxation, the same bytes every time")
    parser.add_argument("--only-relaxed", action="store_true",
                        help="with --relaxed: drop frameworks that are not in that file "
                             "instead of relaxing them")
    parser.add_argument("--write-relaxed", default=None, metavar="FILE",
                        help="then gather the relaxed frameworks into FILE")
    parser.add_argument("--check", action="store_true",
                        help="then fit a quick model per level and print the figures")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    t0 = time.perf_counter()
    try:
        path = build(args.out, args.size, resume=args.resume, n_jobs=args.n_jobs,
                     n_batches=args.n_batches, max_seconds=args.max_seconds,
                     relaxed=args.relaxed, relax_missing=not args.only_relaxed,
                     isolate=True)
        if args.write_relaxed:
            print(f"relaxed frameworks: {write_relaxed(args.out, args.write_relaxed)}")
    except ZifvizError as exc:
        print(f"error: {exc}")
        return 2
    report = json.loads((Path(args.out) / "report.json").read_text())
    print(f"{path}: {report['n_frameworks']} frameworks, {report['n_frames']} frames, "
          f"{report['n_environments']} Zn environments, {report['bytes'] / 1e6:.2f} MB, "
          f"{time.perf_counter() - t0:.0f} s")
    if args.check:
        _, summary = learning_check(path)
        print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
