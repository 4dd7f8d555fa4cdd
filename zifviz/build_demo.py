"""Recipes that build the demo datasets in ``data/`` with MOF-FF for ZIFs (deterministic).

``zifviz build-demo`` (or ``python -m zifviz.build_demo``) regenerates them; ``--size full``
makes ten times the frames. How each set is made:

``energies`` (seed 000's task: local-environment energies of many frameworks)
    Twelve Zn(Im)2 frameworks: the public ZIF-4, ZIF-4-cp-II, ZIF-zni and ZIF-hPT-II crystals
    (Widmer et al. 2019), the three ZIF-4 glasses (Gaillac et al. 2020), ZIF-4's own AB2 net
    re-decorated by zifviz, and the dia, lon, sod and qtz nets built and decorated by zifviz.
    Each is relaxed (MOF-FF, relaxed cell), then sampled by random rattling (0.03 Å on atom
    coordinates, 1 % symmetric cell strain)
    and by short NVT MD at 300 K; every frame has per-atom MOF-FF energies. Each frame's
    ``info["zni_energy_per_zn"]`` is the relaxed ZIF-zni energy per Zn, the reference of seed 000.

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
from .coarse import coarse_grain
from .datasets import _sha256, checkout_root, citation, fetch_structure
from .decorate import decorate
from .errors import UnderCoordinatedZnWarning
from .io import read
from .nets import build_net
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


NETS_TO_DECORATE = ("cag", "dia", "lon", "sod", "qtz")


def energy_frameworks(names=None) -> dict[str, Atoms]:
    """The relaxed frameworks of the ``energies`` set (all twelve, or those in ``names``:
    keys of :data:`PUBLIC` and net names of :data:`NETS_TO_DECORATE`)."""
    names = set(names) if names is not None else set(PUBLIC) | set(NETS_TO_DECORATE)
    frameworks = {name: _public(name) for name in PUBLIC if name in names}
    nets = []
    if "cag" in names:
        zif4_net = coarse_grain(_public("ZIF-4"), "AB2")
        zif4_net.info["source"] = "net:cag (ZIF-4 re-decorated)"
        nets.append(zif4_net)
    nets += [build_net(name) for name in NETS_TO_DECORATE[1:] if name in names]
    for net in nets:
        # seed 000's recipe: decorate, relax, coarse-grain, re-decorate (relaxed below)
        first = _relaxed(decorate(net))
        renet = coarse_grain(first, "AB2")
        renet.info["source"] = net.info["source"]
        frameworks[net.info["source"]] = decorate(renet)
    return {name: _relaxed(atoms) for name, atoms in frameworks.items()}


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


def build_energies(out: Path, size: str = "demo", seed: int = 1, names=None) -> dict:
    """Build the ``energies`` set into ``out`` (gzip extxyz); returns a summary."""
    scale = SIZES[size]
    t0 = time.perf_counter()
    frameworks = energy_frameworks(names)
    zni = frameworks["ZIF-zni"] if "ZIF-zni" in frameworks else energy_frameworks(["ZIF-zni"])["ZIF-zni"]
    zni_ref = float(zni.info["energy"]) / int((zni.symbols == "Zn").sum())
    counts = {}
    with _gzip_text(out) as fh:
        for k, (name, atoms) in enumerate(frameworks.items()):
            n_zn = int((atoms.symbols == "Zn").sum())
            # ~64 (demo) frames of 16-Zn frameworks; fewer for bigger cells, more for small ones
            n_frames = max(2, int(round(64 * scale * 16 / n_zn)))
            n_rattle = n_frames // 2
            info = {"zni_energy_per_zn": zni_ref, "framework": name}
            counts[name] = _append(fh, sampling.rattle(atoms, n_rattle, atom_sigma=0.03,
                                                       cell_sigma=0.01, seed=seed + k,
                                                       progress=False), info)
            md = sampling.iter_md(atoms, ensemble="NVT", temperature=300.0,
                                 steps=40 * (n_frames - n_rattle), every=40,
                                 seed=seed + k, progress=False)
            counts[name] += _append(fh, md, info)
    return {"Zn environments": counts, "total Zn environments": sum(counts.values()),
            "seconds": round(time.perf_counter() - t0, 1)}


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
        summary = build(path, size=args.size)
        summary.update({"file": path.name, "bytes": path.stat().st_size, "sha256": _sha256(path),
                        "command": f"zifviz build-demo --size {args.size} --only {name}"})
        print(json.dumps(summary, indent=1), flush=True)
        # read just before writing, so builds of the two sets may run side by side
        manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
        manifest[name] = summary
        with atomic_write(manifest_path) as fh:
            fh.write(json.dumps(manifest, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
