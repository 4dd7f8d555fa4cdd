"""Recipes that build the demo datasets in ``data/`` with MOF-FF for ZIFs (deterministic).

``zifviz build-demo`` (or ``python -m zifviz.build_demo``) regenerates them; ``--size full``
makes the large sets (not shipped). How each set is made:

``energies`` (seed 000's task: local-environment energies of many frameworks)
    The hypothetical-ZIF set of :mod:`zifviz.hzif`, made by seed 000's recipe: the IZA zeolite
    framework types with at most 48 T atoms per cell (``--size full``: 96, and five batches)
    as AB2 nets, the public ZIF-4, ZIF-4-cp-II, ZIF-zni and ZIF-hPT-II crystals (Widmer et
    al. 2019), the ZIF-4 glasses of Gaillac et al. 2020 that stay distinct, and the dia, lon,
    sod and qtz nets built by zifviz; each decorated with Zn and imidazolate, relaxed with
    MOF-FF (relaxed cell), coarse-grained and copied three ways (re-decorated; re-decorated
    and rattled; net rattled and re-decorated) at three magnitudes, screened (no atoms closer
    than 1.0 Å, 0.6 Å between H) and labelled with per-atom MOF-FF energies. Duplicate
    frameworks are merged (glass-01 relaxes to ZIF-4). ``info["zni_energy_per_zn"]`` is the
    relaxed ZIF-zni energy per Zn, seed 000's reference. The relaxed frameworks ship beside
    it (``hzif-relaxed.extxyz.gz``): the build starts from them and so gives the same bytes
    every time; ``--from-scratch`` relaxes anew (the shipped relaxed frameworks predate a fix
    that made LAMMPS cell relaxations reproducible, so the last digits differ from them).

``phases`` (seed 003's task: which phase is this Zn environment?)
    Seven phases from MOF-FF MD under two sources that differ in ensemble (seed 003 used two
    force fields; we have one published force field, so the least it asks for), at seed
    003's nb-ZIF-FF conditions (:data:`PHASE_RECIPES`): ZIF-4, ZIF-zni and the glass at 300 K
    and 0.1 MPa, ZIF-4-cp-II at 300 K and 150 MPa, ZIF-hPT-II at 563 K and 810 MPa,
    ZIF-4-cp by compressing ZIF-4 at 100 MPa (:data:`PHASE_CP_PRESSURE`), the 'liquid' at
    1500 K. Starts: the public structures relaxed with MOF-FF (relaxed cell); the glass is
    glass-02 and glass-03 (glass-01 relaxes to ZIF-4: the build checks all three against
    ZIF-4 with the duplicate test of :mod:`zifviz.hzif` and records it). Each start is
    equilibrated in NPT until its density is stationary (blocks, :class:`PhaseSize`); source
    ``NPT`` samples NPT at T and P, source ``NVT`` samples NVT in the mean cell of that
    start's last NPT block (so every phase has its own cell), each as several independent
    runs (velocity seeds) with frames far enough apart to decorrelate
    (``benchmarks/phases_decorrelation.py``). MOF-FF keeps its bonds, so 'liquid' here is a
    hot, strongly distorted but fully bonded network, not a liquid whose Zn–N bonds break
    and re-form. Balanced by the number of Zn environments per phase and source; every MD
    leg resumes from ``--work-dir`` (:func:`build_phases`).

``transition`` (seed 003's task: replay a transition, every Zn classified)
    ZIF-4 (2x2x2, relaxed with MOF-FF) in NPT at 300 K after a pressure step to 200 MPa
    (:func:`build_transition`; the MD resumes from ``--work-dir`` when killed).

``model`` (``data/models/phases-bpsf.{npz,json}``, ``phases-soap-A.{npz,json}``)
    Seed 003's symmetry-function classifier, and its SOAP classifier at the A level (Zn
    only), trained on the whole ``phases`` set (:func:`build_model`; deterministic).

The sets are gzip-compressed extxyz, written atomically with reproducible gzip headers (no
file name, no time stamp); ``MANIFEST.json`` records sizes and SHA-256. ``--out`` names the
folder; it defaults to the checkout's ``data/`` only when zifviz runs from a checkout (an
installed zifviz needs ``--out``), and never points into an installed package.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import io
import json
import os
import sysconfig
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import ase.io
import numpy as np
from ase import Atoms
from ase.cell import Cell

from . import sampling
from .datasets import _sha256, checkout_root, citation, fetch_structure
from .errors import DataError, UnderCoordinatedZnWarning, ZifvizError
from .io import read
from .storage import atomic_write
from .topology import perceive

PUBLIC = {
    "ZIF-4": "widmer2019/ZIF4-FixedCell.cif",
    "ZIF-4-cp-II": "widmer2019/ZIF4-CP-II-FixedCell.cif",
    "ZIF-zni": "widmer2019/ZNI-FixedCell.cif",
    "ZIF-hPT-II": "widmer2019/ZIF-4-hPT-II.cif",
    "glass-01": "gaillac2020/ZIF4_15glass01.cif",
    "glass-02": "gaillac2020/ZIF4_15glass02.cif",
    "glass-03": "gaillac2020/ZIF4_15glass03.cif",
}

SIZES = {"smoke": 0.05, "demo": 1, "full": 10}


def _public(name: str) -> Atoms:
    atoms = read(fetch_structure(PUBLIC[name]))
    atoms.info["source"] = name
    atoms.info["citation"] = citation(PUBLIC[name])
    return atoms


def _relaxed(atoms: Atoms) -> Atoms:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnderCoordinatedZnWarning)
        relaxed = sampling.minimise(atoms, relax_cell=True, progress=False)
    relaxed.info["source"] = atoms.info["source"]
    if "citation" in atoms.info:
        relaxed.info["citation"] = atoms.info["citation"]
    return relaxed


@contextlib.contextmanager
def _gzip_text(path: Path):
    """A text stream into a reproducible gzip file (no name or time stamp in the header),
    written atomically: ``path`` appears complete when the block ends, or not at all."""
    with atomic_write(path, "wb") as raw, \
            gzip.GzipFile(fileobj=raw, mode="wb", filename="", mtime=0) as gz, \
            io.TextIOWrapper(gz, encoding="utf-8") as fh:
        yield fh


def _append(fh, frames, label_info: dict) -> int:
    n_zn = 0
    for frame in frames:
        frame.arrays.pop("momenta", None)  # MD restart data; not needed in a dataset
        frame.info.update(label_info)
        ase.io.write(fh, frame, format="extxyz")
        n_zn += int((frame.symbols == "Zn").sum())
    return n_zn


RELAXED_FILE = "hzif-relaxed.extxyz.gz"
"""The relaxed frameworks the shipped ``energies`` set was made from (next to it in data/)."""


def build_energies(out: Path, size: str = "demo", *, relaxed: str | os.PathLike | None = "auto",
                   work_dir: str | os.PathLike | None = None, n_jobs: int = 1,
                   client=None, progress: bool = True) -> dict:
    """Build the ``energies`` set into ``out`` with :mod:`zifviz.hzif`; returns a summary.

    ``relaxed="auto"`` starts from the shipped relaxed frameworks (:data:`RELAXED_FILE` in the
    demo folder), which regenerates the shipped file byte for byte; ``None`` relaxes every
    framework anew (the last digits differ from the shipped relaxed frameworks, which predate
    a fix that made LAMMPS cell relaxations reproducible) and writes the new relaxed
    frameworks next to ``out``. Per-framework results are kept in ``work_dir`` (default:
    the zifviz cache), so a killed build resumes.
    ``client``: a ``dask.distributed.Client`` builds the frameworks on its workers (they
    write into ``work_dir``, which they must share); the same bytes as without it.
    """
    from .datasets import demo_dir
    from .frames import cache_dir
    from .hzif import build_demo_set, write_relaxed

    out = Path(out)
    if relaxed == "auto":
        shipped = demo_dir() / RELAXED_FILE
        relaxed = shipped if shipped.is_file() else None
    tag = "relaxed" if relaxed is not None else "scratch"
    work = Path(work_dir) if work_dir is not None else \
        cache_dir().parent / "hzif" / f"{size}-{tag}"
    t0 = time.perf_counter()
    # the shipped file made the shipped set: at that size, frameworks it lacks stay dropped
    report = build_demo_set(out, size, work_dir=work, n_jobs=n_jobs, client=client,
                            relaxed=relaxed, relax_missing=size != "demo", progress=progress)
    if relaxed is None:
        write_relaxed(work, out.parent / RELAXED_FILE)
    keep = ("n_frameworks", "n_frames", "n_environments", "by_source", "duplicates",
            "dropped", "skipped", "dropped_frames", "zni_energy_per_zn")
    summary = {k: report[k] for k in keep if k in report}
    summary.update(relaxed_from=Path(relaxed).name if relaxed is not None else "relaxed anew",
                   work_dir=str(work), seconds=round(time.perf_counter() - t0, 1))
    return summary


PHASE_RECIPES = {
    # phase: (start structures, temperature K, pressure MPa of the NPT source). The conditions
    # are seed 003's nb-ZIF-FF NPT runs (its Table 1), except the liquid (see PHASE_LIQUID) and
    # ZIF-4-cp (one pressure, PHASE_CP_PRESSURE, instead of 20 and 105 MPa).
    "ZIF-4": (("ZIF-4",), 300.0, 0.1),
    "ZIF-4-cp": (("ZIF-4",), 300.0, None),  # None: PHASE_CP_PRESSURE
    "ZIF-4-cp-II": (("ZIF-4-cp-II",), 300.0, 150.0),
    "ZIF-zni": (("ZIF-zni",), 300.0, 0.1),
    "ZIF-hPT-II": (("ZIF-hPT-II",), 563.0, 810.0),
    "glass": (("glass-02", "glass-03"), 300.0, 0.1),
    "liquid": (("glass-02", "glass-03"), None, 0.1),  # None: PHASE_LIQUID
}
PHASE_CP_PRESSURE = 100.0
"""MPa (seed 003's upper cp pressure is 105 MPa): one 272-atom ZIF-4 cell in MOF-FF NPT at 300 K
turns cp-like within about 2 ps (one short axis shrinks to 13.6–14.3 Å, the long axis stays
17.2–18.4 Å, γ ≈ 80°, 4.3 Zn/nm³) and stayed so over 6 ps; at 200 MPa the long axis collapsed
to 15.5 Å (cp-II) after 2.5 ps in the same test. Checked per build (``cp_check``)."""
PHASE_LIQUID = 1500.0
"""K: the 'liquid' (seed 003's MACE liquid temperature; MOF-FF cannot break bonds, so this is a
hot amorphous network, not a liquid whose Zn–N bonds break and re-form)."""
PHASE_DROPPED = {"glass-01": "relaxes to crystalline ZIF-4 under MOF-FF (same Zn net, energy "
                             "and volume per Zn as ZIF-4: merged as a duplicate by zifviz.hzif)"}


@dataclass(frozen=True)
class PhaseSize:
    """How much MD one ``phases`` build runs (every number is recorded in the summary).

    Attributes
    ----------
    block: NPT equilibration block (MD steps of 0.5 fs); equilibration stops when the mean
        density of each of the last two blocks differs from the block before it by less
        than ``tolerance`` (relative), after at least ``min_blocks`` and at most
        ``max_blocks`` blocks.
    compress: MD steps of NPT at the cp pressure before ZIF-4-cp's equilibration blocks
        (the cp transformation took about 2 ps; a density plateau before it is not cp).
    runs: independent production runs (velocity seeds) per phase and source; the glass and
        liquid runs alternate between their starts.
    every: MD steps between two kept frames (and before the first one of a run).
    zn: Zn environments per phase and source (the set is balanced on it).
    """

    block: int
    compress: int
    min_blocks: int
    max_blocks: int
    tolerance: float
    runs: int
    every: int
    zn: int


PHASE_SIZES = {
    "smoke": PhaseSize(block=40, compress=40, min_blocks=3, max_blocks=4, tolerance=0.01,
                       runs=2, every=20, zn=32),
    "demo": PhaseSize(block=1000, compress=6000, min_blocks=3, max_blocks=16, tolerance=0.01,
                      runs=4, every=600, zn=640),
    "full": PhaseSize(block=1000, compress=6000, min_blocks=3, max_blocks=24, tolerance=0.01,
                      runs=16, every=1000, zn=6400),
}
PHASE_TIMESTEP_FS = 0.5
PHASE_MS_PER_STEP = 4.7
"""MOF-FF MD, one 272-atom ZIF-4 cell, one core of the shared build machine (NPT 4.7, NVT 4.8
ms per step; 136-atom ZIF-hPT-II 3.6, 544-atom ZIF-zni 12): what :func:`phases_plan` prices
a build at."""


def _phase_conditions(phase: str) -> tuple[tuple[str, ...], float, float]:
    starts, temperature, pressure = PHASE_RECIPES[phase]
    return (starts, PHASE_LIQUID if temperature is None else temperature,
            PHASE_CP_PRESSURE if pressure is None else pressure)


def _zn_density(atoms: Atoms) -> float:
    """Zn per nm³."""
    return 1000.0 * int((atoms.numbers == 30).sum()) / atoms.get_volume()


def _md_leg(start: Atoms, output: Path, progress: bool, **settings):
    """One MD leg streamed to ``output`` (resumed when unfinished; read back when finished)."""
    from .io import Trajectory

    if output.is_file():
        return Trajectory(output)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnderCoordinatedZnWarning)
        return sampling.run_md(start, output=output, resume=True, progress=progress,
                               timestep_fs=PHASE_TIMESTEP_FS, **settings)


def _equilibrate(start: Atoms, work: Path, name: str, temperature: float, pressure: float,
                 size: PhaseSize, seed: int, progress: bool) -> tuple[Atoms, dict, np.ndarray]:
    """NPT blocks until the block-mean Zn density is stationary; returns the last frame and
    a record (blocks, ps, block-mean densities, relative drift of the last block, mean cell
    of the last block)."""
    means, last_block = [], None
    every = max(1, size.block // 10)
    current = start
    for b in range(size.max_blocks):
        leg = _md_leg(current, work / f"{name}-npt-equil{b:02d}.extxyz", progress,
                      ensemble="NPT", temperature=temperature, pressure_mpa=pressure,
                      steps=size.block, every=every, seed=seed + b)
        frames = [leg[i] for i in range(1, len(leg))]  # step 0 is the block's start
        means.append(float(np.mean([_zn_density(f) for f in frames])))
        current, last_block = frames[-1], frames
        drifts = [abs(means[i] / means[i - 1] - 1) for i in range(1, len(means))]
        drift = max(drifts[-2:]) if len(drifts) >= 2 else np.inf
        if b + 1 >= size.min_blocks and drift < size.tolerance:
            break
    cell = np.mean([f.cell.array for f in last_block], axis=0)
    record = {"blocks": len(means), "steps": len(means) * size.block,
              "ps": round(len(means) * size.block * PHASE_TIMESTEP_FS / 1000, 3),
              "block_density": [round(m, 4) for m in means],
              "drift": round(float(drift), 5) if np.isfinite(drift) else None,
              "drift_rule": "largest relative change of the block-mean density over the "
                            "last two blocks",
              "stationary": bool(drift < size.tolerance),
              "mean_cell": [round(float(x), 3) for x in Cell(cell).cellpar()]}
    return current, record, cell


def _same_framework(a: Atoms, b: Atoms) -> dict:
    """The structure comparison of :mod:`zifviz.hzif`'s duplicate detection on two relaxed
    structures: the same Zn count and Zn-net coordination sequences, energy per Zn within
    ``DUPLICATE_ENERGY`` and volume per Zn within ``DUPLICATE_VOLUME``."""
    from . import hzif, mofff

    out = {}
    for key, atoms in (("a", a), ("b", b)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UnderCoordinatedZnWarning)
            topo = perceive(atoms)
        n_zn = topo.n_zn
        out[key] = {"n_zn": n_zn, "net": hzif.coordination_sequences(topo),
                    "energy_per_zn": mofff.label(atoms, topo).info["energy"] / n_zn,
                    "volume_per_zn": atoms.get_volume() / n_zn}
    de = abs(out["a"]["energy_per_zn"] - out["b"]["energy_per_zn"])
    dv = abs(out["a"]["volume_per_zn"] / out["b"]["volume_per_zn"] - 1)
    same_net = out["a"]["n_zn"] == out["b"]["n_zn"] and out["a"]["net"] == out["b"]["net"]
    return {"same_net": bool(same_net), "energy_per_zn_diff_eV": round(float(de), 4),
            "volume_per_zn_rel_diff": round(float(dv), 4),
            "duplicate": bool(same_net and de < hzif.DUPLICATE_ENERGY
                              and dv < hzif.DUPLICATE_VOLUME)}


def _relaxed_starts(names, work: Path) -> dict[str, Atoms]:
    """The public structures relaxed with MOF-FF (relaxed cell): from the shipped
    :data:`RELAXED_FILE` when it has them (the same start every build), else relaxed anew
    (kept in ``work``)."""
    from .datasets import demo_dir

    shipped = {}
    path = demo_dir() / RELAXED_FILE
    if path.is_file():
        for atoms in ase.io.iread(path, index=":", format="extxyz"):
            if atoms.info.get("framework") in names:
                shipped[atoms.info["framework"]] = atoms
    out = {}
    for name in names:
        cached = work / f"start-{name}.extxyz"
        if not cached.is_file():
            atoms = shipped.get(name)
            atoms = _relaxed(_public(name)) if atoms is None else atoms
            atoms = Atoms(atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=True)
            with atomic_write(cached) as fh:
                ase.io.write(fh, atoms, format="extxyz")
        atoms = read(cached)
        atoms.info = {"source": name, "citation": citation(PUBLIC[name])}
        out[name] = atoms
    return out


def _without_file_keys(frame: Atoms) -> Atoms:
    """A frame read back from a work file, without the reader's keys (where it was read)."""
    for key in ("frame", "source_file"):
        frame.info.pop(key, None)
    return frame


def _perceivable(frames, label: dict, left_out: list, topologies: list):
    """The frames, labelled, that :func:`zifviz.perceive` accepts (a data set's promise), with
    their topologies appended to ``topologies``; each one it refuses is recorded in
    ``left_out`` (run, time, reason) instead of stopping a long build at its last step."""
    for frame in frames:
        frame.info.update(label)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UnderCoordinatedZnWarning)
                topology = perceive(frame)
        except ZifvizError as exc:
            left_out.append({**{k: label[k] for k in ("phase", "source_set", "run", "start")},
                             "time": frame.info.get("time"), "step": frame.info.get("step"),
                             "n_zn": int((frame.numbers == 30).sum()), "reason": str(exc)})
            continue
        topologies.append(topology)
        yield frame


def _split(total: int, parts: int) -> list[int]:
    """``total`` as ``parts`` near-equal counts (the first ones larger)."""
    return [total // parts + (k < total % parts) for k in range(parts)]


def phases_plan(size: str = "demo") -> dict:
    """The MD a ``phases`` build of ``size`` runs: production steps (fixed) and equilibration
    steps (at most), per phase, and in 272-atom-cell equivalents (cost ∝ atoms × steps)."""
    s = PHASE_SIZES[size]
    atoms_per_zn = 17  # Zn(C3H3N2)2
    plan, prod_equiv, equil_equiv = {}, 0.0, 0.0
    zn_of = {"ZIF-4": 16, "ZIF-4-cp-II": 16, "ZIF-zni": 32, "ZIF-hPT-II": 8, "glass-02": 16,
             "glass-03": 16}
    for phase in PHASE_RECIPES:
        starts, _, _ = _phase_conditions(phase)
        zn = zn_of[starts[0]]
        frames = int(np.ceil(s.zn / zn))
        prod = 2 * frames * s.every  # both sources; each kept frame costs `every` steps
        equil = len(starts) * (s.max_blocks * s.block + s.block)  # NPT blocks + NVT block
        equil += s.compress if phase == "ZIF-4-cp" else 0
        plan[phase] = {"frames_per_source": frames, "production_steps": prod,
                       "equilibration_steps_max": equil, "atoms": zn * atoms_per_zn}
        prod_equiv += prod * zn * atoms_per_zn / 272
        equil_equiv += equil * zn * atoms_per_zn / 272
    hours = (prod_equiv + equil_equiv) * PHASE_MS_PER_STEP / 3.6e6
    return {"phases": plan, "production_steps_272": int(prod_equiv),
            "equilibration_steps_272_max": int(equil_equiv),
            "hours_one_core_at_most": round(hours, 2),
            "ms_per_step_272": PHASE_MS_PER_STEP}


SEED003_TABLE1 = {
    # phase: (T K, P MPa, Zn/nm³) of seed 003's nb-ZIF-FF NPT runs, and (T, P, Zn/nm³) of its
    # MACE NVT runs (Table 1; two cp pressures: 20 & 105 MPa, 4.76 & 4.87; 1218 & 1494 MPa)
    "ZIF-4": ((300, 0, 4.03), (300, 633, 3.65)),
    "ZIF-4-cp": ((300, 105, 4.87), (300, 1494, 4.87)),
    "ZIF-4-cp-II": ((300, 150, 5.11), (300, 1448, 4.92)),
    "ZIF-zni": ((300, 0, 4.92), (300, 508, 4.43)),
    "ZIF-hPT-II": ((563, 810, 7.05), (560, 7263, 6.54)),
    "glass": ((300, 0, 4.75), (300, 482, 3.65)),
    "liquid": ((700, 0, 4.05), (1500, 803, 3.65)),
}


def phases_table(frames, table=None) -> "pd.DataFrame":
    """Per phase and source of a phases set: T, P, Zn density (Zn/nm³, mean and std over the
    frames), Zn coordination (fraction 4-coordinated, mean), mean cell lengths and angles, and
    seed 003's densities (its Table 1) beside them.

    ``frames``: a phases set (:class:`zifviz.datasets.DemoSet` or sequence of Atoms);
    ``table``: its EnvironmentTable if already made.
    """
    import pandas as pd

    from .environments import environment_table

    table = environment_table(frames, progress=False) if table is None else table
    rows = []
    info = []
    for i in range(len(frames)):
        atoms = frames[i]
        info.append({"frame_pos": i, "phase": atoms.info["phase"],
                     "source_set": atoms.info["source_set"],
                     "temperature": atoms.info.get("temperature"),
                     "pressure": atoms.info.get("pressure"), "density": _zn_density(atoms),
                     **dict(zip(("a", "b", "c", "alpha", "beta", "gamma"),
                                atoms.cell.cellpar()))})
    info = pd.DataFrame(info)
    for (phase, source), group in info.groupby(["phase", "source_set"], sort=False):
        env = table[table["frame_pos"].isin(group["frame_pos"])]
        nb, mace = SEED003_TABLE1.get(phase, ((None,) * 3,) * 2)
        lengths = np.sort(group[["a", "b", "c"]].to_numpy(), axis=1).mean(axis=0)
        rows.append({"phase": phase, "source": source, "T_K": group["temperature"].iloc[0],
                     "P_MPa": group["pressure"].iloc[0], "frames": len(group),
                     "n_zn": len(env), "density": group["density"].mean(),
                     "density_std": group["density"].std(),
                     "fraction_4coord": float(np.mean(env["coordination"] == 4)),
                     "mean_coord": float(env["coordination"].mean()),
                     "cell_sorted_abc": " × ".join(f"{x:.2f}" for x in lengths),
                     "seed003_nbZIFFF_density": nb[2], "seed003_MACE_density": mace[2]})
    return pd.DataFrame(rows).set_index(["phase", "source"])


def _equilibrated(k: int, j: int, phase: str, name: str, first: Atoms, work: Path,
                  s: PhaseSize, seed: int, progress: bool) -> tuple[str, dict, dict]:
    """Stage 1 of :func:`build_phases` for start ``name`` of ``phase``: compression (cp),
    NPT equilibration blocks, one NVT block in the mean cell; ``(tag, record, states)``."""
    _, temperature, pressure = _phase_conditions(phase)
    tag = f"{phase}-{name}"
    if phase == "ZIF-4-cp":  # compress first: a density plateau before cp is not cp
        squeezed = _md_leg(first, work / f"{tag}-npt-compress.extxyz", progress,
                           ensemble="NPT", temperature=temperature,
                           pressure_mpa=pressure, steps=s.compress,
                           every=max(1, s.compress // 10), seed=seed + 1000 * k + 99)
        first = squeezed[len(squeezed) - 1]
    npt_last, record, cell = _equilibrate(
        first, work, tag, temperature, pressure, s, seed + 1000 * k + 100 * j, progress)
    if phase == "ZIF-4-cp":
        record["compression_ps"] = s.compress * PHASE_TIMESTEP_FS / 1000
    nvt_start = npt_last.copy()
    nvt_start.set_cell(cell, scale_atoms=True)
    nvt_start.info["source"] = npt_last.info.get("source", name)
    nvt_equil = _md_leg(nvt_start, work / f"{tag}-nvt-equil.extxyz", progress,
                        ensemble="NVT", temperature=temperature, steps=s.block,
                        every=s.block, seed=seed + 1000 * k + 100 * j + 50)
    record["nvt_cell"] = record["mean_cell"]
    return tag, record, {"NPT": npt_last, "NVT": nvt_equil[len(nvt_equil) - 1], "cell": cell}


def _leg_done(start: Atoms, output: Path, settings: dict) -> None:
    """Stage 2 of :func:`build_phases` in a worker: one production leg run into ``output``."""
    _md_leg(start, output, False, **settings)


def _in_processes(fn, tasks: list[tuple], n_jobs: int, desc: str, progress: bool,
                  client=None) -> list:
    """``[fn(*t) for t in tasks]``, in ``n_jobs`` processes when ``n_jobs`` > 1, or on the
    workers of ``client`` (a Dask ``Client``) when given (MD legs give the same bytes whichever
    process runs them: tested against the serial build)."""
    if client is None and n_jobs <= 1:
        return [fn(*t) for t in tasks]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from tqdm.auto import tqdm

    with contextlib.ExitStack() as stack:
        executor = client if client is not None else stack.enter_context(ProcessPoolExecutor(
            n_jobs, mp_context=multiprocessing.get_context("spawn")))
        futures = [executor.submit(fn, *t) for t in tasks]
        try:
            return [f.result() for f in tqdm(futures, desc=desc, unit="leg", disable=not progress)]
        except BaseException:
            for f in futures:
                f.cancel()
            raise


def build_phases(out: Path, size: str = "demo", seed: int = 1, *,
                 work_dir: str | os.PathLike | None = None, n_jobs: int = 1, client=None,
                 progress: bool = True) -> dict:
    """Build the ``phases`` set into ``out`` (gzip extxyz); returns a summary.

    Recipe (:data:`PHASE_RECIPES`, :data:`PHASE_SIZES`; every number is recorded in the
    summary and the frames): each start (the public structures, MOF-FF relaxed with a relaxed
    cell; glass-01 is not used, :data:`PHASE_DROPPED`) is equilibrated in NPT at the phase's
    T and P in blocks until the block-mean Zn density is stationary (:func:`_equilibrate`).
    Source ``NPT``: ``runs`` production runs from the equilibrated state, new velocity seeds,
    a frame every ``every`` steps. Source ``NVT``: the equilibrated state scaled to the mean
    cell of its last NPT block, one NVT block of equilibration, then ``runs`` production runs
    likewise. Each phase and source gets ``zn`` Zn environments. Every MD leg streams into
    ``work_dir`` (default: the zifviz cache) and a killed build resumes from it; the set is
    then written atomically from the finished legs (the same bytes for the same legs).
    ``n_jobs`` > 1 runs the equilibrations (one chain per phase and start), then the
    production legs, in that many processes (the same legs, seeds and bytes); ``client`` (a
    Dask ``Client``) runs them on its workers instead, which must all see ``work_dir``.
    """
    if size not in PHASE_SIZES:
        raise ValueError(f"size must be one of {sorted(PHASE_SIZES)}, got {size!r}")
    s = PHASE_SIZES[size]
    if work_dir is None:
        from .frames import cache_dir

        work_dir = cache_dir().parent / f"phases-{size}"
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    names = sorted({n for p in PHASE_RECIPES for n in _phase_conditions(p)[0]})
    starts = _relaxed_starts(names + ["glass-01"], work)
    glass_check = {g: _same_framework(starts[g], starts["ZIF-4"])
                   for g in ("glass-01", "glass-02", "glass-03")}
    for g in ("glass-02", "glass-03"):
        if glass_check[g]["duplicate"]:
            raise DataError(f"{g} relaxes to ZIF-4 under MOF-FF ({glass_check[g]}); it cannot "
                            "stand for the glass", str(work))
    summary = {"size": size, "recipe": {
        "conditions": {p: dict(zip(("starts", "temperature_K", "pressure_MPa"),
                                   _phase_conditions(p))) for p in PHASE_RECIPES},
        "timestep_fs": PHASE_TIMESTEP_FS, **asdict(s),
        "frame_spacing_ps": s.every * PHASE_TIMESTEP_FS / 1000,
        "sources": {"NPT": "Nosé–Hoover NPT (tri) at the phase's T and P",
                    "NVT": "Nosé–Hoover NVT in the mean cell of the phase's last NPT "
                           "equilibration block"},
        "dropped": PHASE_DROPPED,
        "liquid": "MOF-FF keeps its bonds: 'liquid' is a hot amorphous network"},
        "plan": phases_plan(size), "glass_vs_ZIF-4": glass_check,
        "equilibration": {}, "Zn environments": {}, "runs": {}}
    serial = client is None and n_jobs <= 1
    chains = [(k, j, phase, name, starts[name], work, s, seed, progress and serial)
              for k, phase in enumerate(PHASE_RECIPES)
              for j, name in enumerate(_phase_conditions(phase)[0])]
    legs = {}
    for tag, record, states in _in_processes(_equilibrated, chains, n_jobs,
                                             "equilibrations", progress, client):
        summary["equilibration"][tag] = record
        legs[tag] = states
    if phase_cp := summary["equilibration"].get("ZIF-4-cp-ZIF-4"):
        a, b, c = sorted(phase_cp["mean_cell"][:3])
        summary["cp_check"] = {"shortest_axis": a, "longest_axis": c,
                               "cp_like": bool(a < 14.5 and c > 17.0),
                               "rule": "cp: one axis shrunk below 14.5 Å (ZIF-4: 15.3 Å) "
                                       "while the long axis stays above 17 Å (cp-II "
                                       "collapses it to about 15 Å)"}
    runs = []  # (leg start, output, MD settings, label)
    for k, phase in enumerate(PHASE_RECIPES):
        start_names, temperature, pressure = _phase_conditions(phase)
        summary["Zn environments"][phase] = {}
        for m, source in enumerate(("NPT", "NVT")):
            zn_start = int((starts[start_names[0]].numbers == 30).sum())
            per_run = _split(int(np.ceil(s.zn / zn_start)), s.runs)
            n_zn = 0
            for run, n_frames in enumerate(per_run):
                if n_frames == 0:
                    continue
                name = start_names[run % len(start_names)]
                tag = f"{phase}-{name}"
                run_seed = seed + 1000 * k + 500 * m + 10 * run + 7
                settings = dict(ensemble=source, temperature=temperature,
                                pressure_mpa=pressure if source == "NPT" else 0.0,
                                steps=n_frames * s.every, every=s.every, seed=run_seed)
                label = {"phase": phase, "source_set": source, "start": name, "run": run,
                         "seed": run_seed, "temperature": temperature,
                         "pressure": pressure if source == "NPT" else 0.0,
                         "equilibration_ps": summary["equilibration"][tag]["ps"]
                         + summary["equilibration"][tag].get("compression_ps", 0.0)}
                runs.append((legs[tag][source], work / f"{tag}-{source.lower()}-run{run}.extxyz",
                             settings, label))
                n_zn += n_frames * int((starts[name].numbers == 30).sum())
                summary["runs"][f"{phase}/{source}/{run}"] = {"start": name, "seed": run_seed,
                                                              "frames": n_frames}
            summary["Zn environments"][phase][source] = n_zn
    if not serial:
        _in_processes(_leg_done, [(start, output, settings) for start, output, settings, _ in runs
                                  if not output.is_file()], n_jobs, "production legs", progress,
                      client)
    frames_out = [(_md_leg(start, output, progress, **settings), label)
                  for start, output, settings, label in runs]
    left_out: list[dict] = []
    topologies: list = []  # of the frames written, in order: the table below reuses them
    with _gzip_text(out) as fh:
        for leg, label in frames_out:
            kept = _perceivable((_without_file_keys(leg[i]) for i in range(1, len(leg))),  # 0: start
                                label, left_out, topologies)
            _append(fh, kept, label)
    if left_out:
        for frame in left_out:
            summary["Zn environments"][frame["phase"]][frame["source_set"]] -= frame["n_zn"]
        summary["left_out"] = left_out
        warnings.warn(f"{len(left_out)} frames are left out of {out.name}: zifviz.perceive "
                      "refuses them (see the summary's 'left_out')", stacklevel=2)
    summary["seconds"] = round(time.perf_counter() - t0, 1)
    from .datasets import DemoSet
    from .environments import environment_table

    written = DemoSet.open(out, name="phases")
    table = phases_table(written, environment_table(written, topologies, progress=False))
    table = table.reset_index()
    summary["per_phase"] = [{k: ((None if np.isnan(v) else round(v, 4))
                                 if isinstance(v, float) else v)
                             for k, v in row.items()} for row in table.to_dict("records")]
    summary["work_dir"] = str(work)
    return summary


TRANSITION_RECIPES = {
    # size: (supercell repeat, runs (velocity seeds), pressure MPa, equilibration steps at
    #        0.1 MPa, production steps at the pressure, frame every ... steps)
    "smoke": ((1, 1, 1), (1,), 600.0, 100, 200, 50),
    "demo": ((2, 2, 2), (1,), 200.0, 1000, 8000, 100),
    "full": ((3, 3, 3), (1, 2, 3), 200.0, 2000, 12000, 100),
}


def _long_axis_as_c(atoms: Atoms, axis: int) -> Atoms:
    """The same structure with cell vector ``axis`` relabelled c (a cyclic relabelling of the
    axes and of x, y, z: a proper rotation, nothing moves relative to anything else)."""
    order = [(axis + 1 + k) % 3 for k in range(3)]
    out = atoms.copy()
    out.set_cell(atoms.cell.array[order][:, order], scale_atoms=False)
    out.positions = atoms.positions[:, order]
    for name in ("momenta", "forces"):
        if name in atoms.arrays:
            out.arrays[name] = atoms.arrays[name][:, order]
    return out


def build_transition(out: Path, size: str = "demo", *, work_dir: str | os.PathLike | None = None,
                     seeds=None, progress: bool = True) -> dict:
    """Build the ``transition`` set into ``out``: ZIF-4 under an NPT pressure step (MOF-FF).

    Recipe (:data:`TRANSITION_RECIPES`): the public ZIF-4 relaxed with MOF-FF (relaxed cell),
    repeated into a supercell (demo: 2x2x2, 2,176 atoms), equilibrated in NPT at 300 K and
    0.1 MPa, then NPT at 300 K with the barostat target stepped to the recipe's pressure
    (demo: 200 MPa, where MOF-FF first compresses a to a cp-like cell and then collapses c
    towards the cp-II cell). The frames are written with ZIF-4's long axis as c (the public
    cell has it along b; :func:`_long_axis_as_c`), as the literature names it. Frames carry
    ``time`` (ps since the pressure step), ``pressure`` (target, MPa), ``pressure_inst``,
    ``temperature``, ``temperature_inst``, ``ensemble``, ``run`` and ``seed`` (velocity seed
    of the run). Every MD leg streams into ``work_dir``
    (default: the zifviz cache) and resumes when the build is killed and started again.
    ``seeds`` replaces the recipe's velocity seeds (one independent run per seed).
    """
    repeat, recipe_seeds, pressure, n_equil, n_prod, every = TRANSITION_RECIPES[size]
    seeds = recipe_seeds if seeds is None else tuple(int(s) for s in seeds)
    if work_dir is None:
        import pooch

        work_dir = Path(pooch.os_cache("zifviz")) / f"transition-{size}"
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    start_file = work / "start.extxyz"
    if start_file.is_file():
        start = read(start_file)
    else:
        start = _relaxed(_public("ZIF-4")).repeat(repeat)
        start.info["source"] = f"ZIF-4 relaxed (MOF-FF), {'x'.join(map(str, repeat))} supercell"
        with atomic_write(start_file) as fh:
            ase.io.write(fh, start, format="extxyz")
    long_axis = int(np.argmax(start.cell.cellpar()[:3]))
    summary = {"supercell": list(repeat), "n_atoms": len(start),
               "n_zn": int((start.symbols == "Zn").sum()), "temperature": 300.0,
               "pressure_mpa": pressure, "equilibration_steps": n_equil,
               "production_steps": n_prod, "timestep_fs": 0.5, "every": every, "runs": {}}
    with _gzip_text(out) as fh:
        for run, seed in enumerate(seeds):
            equil_file = work / f"run{run}-equil.extxyz"
            prod_file = work / f"run{run}-npt{pressure:g}.extxyz"
            equil = sampling.run_md(start, "NPT", temperature=300.0, pressure_mpa=0.1,
                                    steps=n_equil, every=n_equil, seed=seed, output=equil_file,
                                    resume=True, progress=progress)
            stepped = sampling.run_md(equil[-1], "NPT", temperature=300.0,
                                      pressure_mpa=pressure, steps=n_prod, every=every,
                                      seed=seed + 1000, output=prod_file, resume=True,
                                      progress=progress)
            label = {"run": run, "seed": seed, "supercell": "x".join(map(str, repeat))}
            n = 0
            for frame in stepped:
                frame.arrays.pop("energies", None)  # keep the shipped file small
                frame = _long_axis_as_c(frame, long_axis)
                n += 1
                _append(fh, [frame], label)
            last = _long_axis_as_c(stepped[-1], long_axis).cell.cellpar()
            summary["runs"][run] = {"seed": seed, "frames": n,
                                    "final_cell": [round(float(x), 2) for x in last]}
    summary["seconds"] = round(time.perf_counter() - t0, 1)
    return summary


MODEL_RECIPES = {
    # model name: (seed 003 network kind, coarse-graining level)
    "phases-bpsf": ("bpsf", "atomistic"),
    "phases-soap-A": ("soap", "A"),
}


def build_model(folder: Path, name: str = "phases-bpsf", *, random_state: int = 0,
                progress: bool = True) -> dict:
    """Train a shipped phase classifier on the whole ``phases`` demo set and save it as
    ``folder/models/<name>.{npz,json}`` (:meth:`zifviz.phases.PhaseClassifier.save`; no pickle).

    Before the final fit the same network is trained on the first 80 % of every MD run's
    frames and scored on the last 20 % (:func:`zifviz.phases.block_split`): a sanity check,
    recorded in the summary and in the model's JSON (``training["block_check"]``).
    Deterministic for a given ``random_state`` (the network's initial weights and batches).
    """
    from .datasets import DemoSet
    from .environments import environment_table
    from .phases import PhaseClassifier, accuracy, block_split

    kind, level = MODEL_RECIPES[name]
    t0 = time.perf_counter()
    phases = DemoSet.open(folder / "phases.extxyz.gz", name="phases")
    table = environment_table(phases, progress=progress)
    model = PhaseClassifier.seed003(kind, level, random_state=random_state)
    X = model.descriptor.transform(phases)
    y = table["phase"].astype(str).to_numpy()
    train, test = block_split(table)
    check = PhaseClassifier.seed003(kind, level, random_state=random_state).fit(X[train],
                                                                                y[train])
    predicted = check.predict(X[test])
    per_phase = {p: round(float(np.mean(predicted[y[test] == p] == p)), 4)
                 for p in check.classes_ if (y[test] == p).any()}
    block = {"split": "block (last 20% of every run's frames held out)",
             "n_train": int(len(train)), "n_test": int(len(test)),
             "accuracy": round(accuracy(y[test], predicted), 4), "recall_per_phase": per_phase}
    model.fit(X, y)
    model.training_["block_check"] = block
    model.training_["trained_on"] = "phases.extxyz.gz (all Zn environments)"
    (folder / "models").mkdir(parents=True, exist_ok=True)
    npz, js = model.save(folder / "models" / name)
    return {"model": name, "kind": kind, "level": level, "classes": list(model.classes_),
            "n_environments": int(len(X)), "train_accuracy": model.training_["train_accuracy"],
            "block_check": block, "files": [f"models/{npz.name}", f"models/{js.name}"],
            "seconds": round(time.perf_counter() - t0, 1)}


def _build_models(folder: Path, manifest_path: Path) -> None:
    """Train the shipped models and record their files in the manifest."""
    for name in MODEL_RECIPES:
        print(f"building {folder / 'models' / name}.{{npz,json}} ...", flush=True)
        summary = build_model(folder, name)
        print(json.dumps(summary, indent=1), flush=True)
        manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
        for rel in summary["files"]:
            path = folder / rel
            manifest[rel] = {"what": f"{name}: {summary['kind']} phase classifier trained on "
                                     "phases.extxyz.gz", "file": rel,
                             "bytes": path.stat().st_size, "sha256": _sha256(path),
                             "command": "zifviz build-demo --only model"}
        manifest[rel]["summary"] = summary
        with atomic_write(manifest_path) as fh:
            fh.write(json.dumps(manifest, indent=1) + "\n")


def _installed_trees() -> list[Path]:
    """Folders of installed packages (site-packages and the installed zifviz)."""
    trees = {Path(__file__).resolve().parent} if checkout_root() is None else set()
    for key in ("purelib", "platlib"):
        try:
            trees.add(Path(sysconfig.get_paths()[key]).resolve())
        except (KeyError, OSError):
            pass
    return sorted(trees)


def output_folder(out: str | os.PathLike | None) -> Path:
    """Where ``build-demo`` writes: ``out``, or the checkout's ``data/`` when zifviz runs from
    a checkout. Never a folder inside installed packages (site-packages)."""
    if out is None:
        root = checkout_root()
        if root is None:
            raise SystemExit("zifviz build-demo: this zifviz is installed, not a checkout; pass "
                             "--out FOLDER (then point ZIFVIZ_DEMO_DIR at it to load the sets)")
        return root / "data"
    folder = Path(out).expanduser().resolve()
    for tree in _installed_trees():
        if folder == tree or tree in folder.parents:
            raise SystemExit(f"zifviz build-demo: --out {out} is inside installed packages "
                             f"({tree}); choose a folder of your own")
    return folder


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="zifviz build-demo", description=__doc__.split("\n")[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="demo")
    parser.add_argument("--out", type=Path, default=None,
                        help="folder to write to (default: data/ of the checkout zifviz runs "
                             "from; required for an installed zifviz)")
    parser.add_argument("--only", choices=["energies", "phases", "transition", "model"],
                        default=None)
    parser.add_argument("--from-scratch", action="store_true",
                        help="energies: relax every framework anew instead of starting from "
                             f"the shipped {RELAXED_FILE} (different bytes; slower)")
    parser.add_argument("--n-jobs", type=int, default=1,
                        help="energies: frameworks built in parallel processes; phases: MD "
                             "legs run in parallel processes")
    parser.add_argument("--scheduler", metavar="ADDRESS", default=None,
                        help="energies: build the frameworks, phases: run the MD legs, on a "
                             "Dask cluster (tcp://host:port, a scheduler .json file, or "
                             "local:N); its workers must see --work-dir")
    parser.add_argument("--work-dir", type=Path, default=None,
                        help="energies: folder of per-framework results; phases, transition: "
                             "folder of the MD runs (default: the zifviz cache); a killed build "
                             "resumes from it")
    args = parser.parse_args(argv)
    args.out = output_folder(args.out)
    args.out.mkdir(parents=True, exist_ok=True)
    suffix = "" if args.size == "demo" else f"-{args.size}"
    manifest_path = args.out / f"MANIFEST{suffix}.json"
    builders = {"energies": build_energies, "phases": build_phases,
                "transition": build_transition, "model": build_model}
    for name, build in builders.items():
        if args.only and name != args.only:
            continue
        if name == "model":
            if args.size != "demo":
                continue  # the shipped model is trained on the demo phases set
            _build_models(args.out, manifest_path)
            continue
        path = args.out / f"{name}{suffix}.extxyz.gz"
        print(f"building {path} ...", flush=True)
        if name == "energies":
            from .cli_batch import dask_client

            with dask_client(args.scheduler, args.n_jobs) as client:
                summary = build_energies(path, size=args.size, n_jobs=args.n_jobs,
                                         work_dir=args.work_dir, client=client,
                                         relaxed=None if args.from_scratch else "auto")
        elif name == "transition":
            summary = build_transition(path, size=args.size, work_dir=args.work_dir)
        elif name == "phases":
            from .cli_batch import dask_client

            print("MD plan:", json.dumps(phases_plan(args.size)), flush=True)
            with dask_client(args.scheduler, args.n_jobs) as client:
                summary = build_phases(path, size=args.size, work_dir=args.work_dir,
                                       n_jobs=args.n_jobs, client=client)
        else:
            summary = build(path, size=args.size)
        summary.update({"file": path.name, "bytes": path.stat().st_size, "sha256": _sha256(path),
                        "command": f"zifviz build-demo --size {args.size} --only {name}"})
        print(json.dumps(summary, indent=1), flush=True)
        # read just before writing, so builds of the two sets may run side by side
        manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
        manifest[name] = summary
        relaxed = args.out / RELAXED_FILE
        if name == "energies" and relaxed.is_file():
            manifest["hzif-relaxed"] = {
                "what": "the relaxed frameworks the energies set is made from",
                "frameworks": summary["n_frameworks"] + len(summary.get("duplicates", {})),
                "file": relaxed.name, "bytes": relaxed.stat().st_size,
                "sha256": _sha256(relaxed)}
        with atomic_write(manifest_path) as fh:
            fh.write(json.dumps(manifest, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
