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
    every time; ``--from-scratch`` relaxes anew (LAMMPS cell relaxations are not
    reproducible run to run).

``phases`` (seed 003's task: which phase is this Zn environment?)
    Seven phases from MOF-FF MD under two sources that differ in ensemble (seed 003 used two
    force fields; we have one published force field, so the least it asks for): source
    ``NPT`` (Nosé–Hoover thermostat and barostat, 0.1 MPa, fully flexible cell) and source
    ``NVT`` (Nosé–Hoover thermostat, cell fixed at the relaxed one). How each phase is made:
    ZIF-4, ZIF-4-cp-II, ZIF-zni, ZIF-hPT-II from the relaxed public crystals at 300 K;
    ZIF-4-cp by compressing ZIF-4 at 200 MPa (as seed 003 made cp by compression; in MOF-FF
    a shrinks to ≈13.3 Å while c stays ≈18 Å), then sampling at 200 MPa (NPT) or in that
    compressed cell (NVT); glass from the three ab initio melt-quenched glasses at 300 K;
    liquid from the glasses at 1500 K. MOF-FF keeps its bonds, so 'liquid' here is a hot,
    strongly distorted but fully bonded network, not a liquid whose Zn–N bonds break and
    re-form. Phases are balanced by the number of Zn environments per phase and source.

Both sets are gzip-compressed extxyz, written atomically with reproducible gzip headers (no
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
from pathlib import Path

import ase.io
import numpy as np
from ase import Atoms

from . import sampling
from .datasets import _sha256, checkout_root, citation, fetch_structure
from .errors import UnderCoordinatedZnWarning
from .io import read
from .storage import atomic_write

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
                   progress: bool = True) -> dict:
    """Build the ``energies`` set into ``out`` with :mod:`zifviz.hzif`; returns a summary.

    ``relaxed="auto"`` starts from the shipped relaxed frameworks (:data:`RELAXED_FILE` in the
    demo folder), which regenerates the shipped file byte for byte; ``None`` relaxes every
    framework anew (LAMMPS cell relaxations are not reproducible run to run, so the bytes
    differ) and writes the new relaxed frameworks next to ``out``. Per-framework results
    are kept in ``work_dir`` (default: the zifviz cache), so a killed build resumes.
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
    report = build_demo_set(out, size, work_dir=work, n_jobs=n_jobs, relaxed=relaxed,
                            relax_missing=size != "demo", progress=progress)
    if relaxed is None:
        write_relaxed(work, out.parent / RELAXED_FILE)
    keep = ("n_frameworks", "n_frames", "n_environments", "by_source", "duplicates",
            "dropped", "skipped", "dropped_frames", "zni_energy_per_zn")
    summary = {k: report[k] for k in keep if k in report}
    summary.update(relaxed_from=Path(relaxed).name if relaxed is not None else "relaxed anew",
                   work_dir=str(work), seconds=round(time.perf_counter() - t0, 1))
    return summary


PHASE_RECIPES = {
    # phase: (start structures, temperature K, pressure MPa for the NPT source)
    "ZIF-4": (["ZIF-4"], 300.0, 0.1),
    "ZIF-4-cp": (["ZIF-4"], 300.0, 200.0),
    "ZIF-4-cp-II": (["ZIF-4-cp-II"], 300.0, 0.1),
    "ZIF-zni": (["ZIF-zni"], 300.0, 0.1),
    "ZIF-hPT-II": (["ZIF-hPT-II"], 300.0, 0.1),
    "glass": (["glass-01", "glass-02", "glass-03"], 300.0, 0.1),
    "liquid": (["glass-01", "glass-02", "glass-03"], 1500.0, 0.1),
}


def build_phases(out: Path, size: str = "demo", seed: int = 1,
                 zn_per_phase_and_source: int = 640) -> dict:
    """Build the ``phases`` set into ``out`` (gzip extxyz); returns a summary."""
    target = zn_per_phase_and_source * SIZES[size]
    t0 = time.perf_counter()
    relaxed = {name: _relaxed(_public(name)) for name in PUBLIC if name != "ZIF-4-cp"}
    # ZIF-4-cp: compress relaxed ZIF-4 at 200 MPa, keep the last frame
    cp = None
    for cp in sampling.iter_md(relaxed["ZIF-4"], ensemble="NPT", temperature=300.0,
                              pressure_mpa=200.0, steps=4000, every=4000, seed=seed,
                              progress=False):
        pass
    cp.info["source"] = "ZIF-4 compressed at 200 MPa"
    relaxed["ZIF-4-cp"] = cp
    counts: dict[str, dict[str, int]] = {}
    with _gzip_text(out) as fh:
        for k, (phase, (starts, temperature, pressure)) in enumerate(PHASE_RECIPES.items()):
            counts[phase] = {}
            for source in ("NPT", "NVT"):
                n_zn = 0
                for s, start_name in enumerate(starts):
                    start = relaxed["ZIF-4-cp" if phase == "ZIF-4-cp" else start_name]
                    zn = int((start.symbols == "Zn").sum())
                    frames = int(np.ceil(target / len(starts) / zn))
                    equil = 2000 if temperature > 1000 else 400
                    md = sampling.iter_md(
                        start, ensemble=source, temperature=temperature,
                        pressure_mpa=pressure, steps=equil + 40 * frames, every=40,
                        seed=seed + 100 * k + 10 * s + (source == "NVT"), progress=False)
                    kept = (f for f in md if f.info["step"] > equil)
                    n_zn += _append(fh, kept, {"phase": phase, "source_set": source,
                                               "start": start_name})
                counts[phase][source] = n_zn
    return {"Zn environments": counts, "seconds": round(time.perf_counter() - t0, 1)}


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
    parser.add_argument("--only", choices=["energies", "phases"], default=None)
    parser.add_argument("--from-scratch", action="store_true",
                        help="energies: relax every framework anew instead of starting from "
                             f"the shipped {RELAXED_FILE} (different bytes; slower)")
    parser.add_argument("--n-jobs", type=int, default=1,
                        help="energies: frameworks built in parallel processes")
    parser.add_argument("--work-dir", type=Path, default=None,
                        help="energies: folder of per-framework results (default: the zifviz "
                             "cache); a killed build resumes from it")
    args = parser.parse_args(argv)
    args.out = output_folder(args.out)
    args.out.mkdir(parents=True, exist_ok=True)
    suffix = "" if args.size == "demo" else f"-{args.size}"
    manifest_path = args.out / f"MANIFEST{suffix}.json"
    builders = {"energies": build_energies, "phases": build_phases}
    for name, build in builders.items():
        if args.only and name != args.only:
            continue
        path = args.out / f"{name}{suffix}.extxyz.gz"
        print(f"building {path} ...", flush=True)
        if name == "energies":
            summary = build_energies(path, size=args.size, n_jobs=args.n_jobs,
                                     work_dir=args.work_dir,
                                     relaxed=None if args.from_scratch else "auto")
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
