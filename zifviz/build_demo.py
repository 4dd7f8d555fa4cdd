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
                   client=None, progress: bool = True) -> dict:
    """Build the ``energies`` set into ``out`` with :mod:`zifviz.hzif`; returns a summary.

    ``relaxed="auto"`` starts from the shipped relaxed frameworks (:data:`RELAXED_FILE` in the
    demo folder), which regenerates the shipped file byte for byte; ``None`` relaxes every
    framework anew (LAMMPS cell relaxations are not reproducible run to run, so the bytes
    differ) and writes the new relaxed frameworks next to ``out``. Per-framework results
    are kept in ``work_dir`` (default: the zifviz cache), so a killed build resumes.
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
                        help="energies: frameworks built in parallel processes")
    parser.add_argument("--scheduler", metavar="ADDRESS", default=None,
                        help="energies: build the frameworks on a Dask cluster (tcp://host:port, "
                             "a scheduler .json file, or local:N)")
    parser.add_argument("--work-dir", type=Path, default=None,
                        help="energies: folder of per-framework results; transition: folder "
                             "of the MD runs (default: the zifviz cache); a killed build "
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
