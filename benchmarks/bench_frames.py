"""Frame access: zifviz.Trajectory vs ASE vs library alternatives, side by side in one run.

A 6x6x6 ZIF-4 trajectory (58,752 atoms, thermal noise) is written as plain extxyz, gzip extxyz,
plain XYZ, a text LAMMPS dump and an ASE .traj in a temporary folder; the bundled
``data/phases.extxyz.gz`` (608 small frames) is measured too. For each: index build (cold
cache), frame 0, last frame, random frames, ``positions(i)`` — ours vs ``ase.io.read(path,
index=i)`` and, when installed, chemfiles (random access by step), MDAnalysis (XYZ and LAMMPSDUMP
readers with frame offsets), indexed_gzip and rapidgzip (gzip seek points + our parser for one
frame). These four are not zifviz dependencies; put them on PYTHONPATH to include them.

    python benchmarks/bench_frames.py [--frames 12] [--repeat 6] [--skip-ase-gzip]

Targets (issue 6): random frame <= 2x frame 0 once indexed; 58,752-atom positions <= 50 ms and
>= 10x faster than ASE's parser. Also times a 2,000-atom P1 CIF: zifviz.read vs ase.io.read.
"""

from __future__ import annotations

import argparse
import gzip
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import ase.io  # noqa: E402

import zifviz  # noqa: E402
from zifviz import frames as zframes  # noqa: E402

CIF = REPO.parent / "shared/data/structures/widmer2019/ZIF4-FixedCell.cif"
TYPES = {"C": 1, "H": 2, "N": 3, "Zn": 4}
TYPE_MAP = {v: k for k, v in TYPES.items()}


def clock(fn, repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def make_frames(n_frames: int, rep=(6, 6, 6), seed: int = 0):
    base = ase.io.read(CIF)
    base.info.clear()
    for key in list(base.arrays):
        if key not in ("numbers", "positions"):
            del base.arrays[key]
    big = base.repeat(rep)
    rng = np.random.default_rng(seed)
    frames = []
    for k in range(n_frames):
        a = big.copy()
        a.positions += rng.normal(0, 0.1, a.positions.shape)
        a.arrays["energies"] = rng.normal(0, 0.1, len(a))
        a.info.update(step=100 * k, temperature=300.0, phase="ZIF-4")
        frames.append(a)
    return frames


def write_dump(path: Path, frames) -> None:
    with open(path, "w") as fh:
        for k, a in enumerate(frames):
            types = np.array([TYPES[s] for s in a.get_chemical_symbols()])
            L = a.cell.lengths()
            fh.write(f"ITEM: TIMESTEP\n{100 * k}\nITEM: NUMBER OF ATOMS\n{len(a)}\n"
                     f"ITEM: BOX BOUNDS pp pp pp\n0 {L[0]}\n0 {L[1]}\n0 {L[2]}\n"
                     "ITEM: ATOMS id type x y z\n")
            data = np.column_stack([np.arange(1, len(a) + 1), types, a.positions])
            np.savetxt(fh, data, fmt="%d %d %.6f %.6f %.6f")


def write_files(frames, folder: Path) -> dict:
    files = {}
    p = folder / "traj.extxyz"
    ase.io.write(p, frames, format="extxyz")
    files["extxyz"] = (p, "extxyz", None)
    gz = folder / "traj.extxyz.gz"
    with open(p, "rb") as src, gzip.open(gz, "wb", compresslevel=6) as dst:
        shutil.copyfileobj(src, dst)
    files["extxyz.gz"] = (gz, "extxyz", None)
    xyz = folder / "traj.xyz"
    with open(xyz, "w") as fh:
        for a in frames:
            fh.write(f"{len(a)}\nplain xyz frame\n")
            np.savetxt(fh, np.column_stack([a.get_chemical_symbols(), a.positions.round(6)]),
                       fmt="%s")
    files["xyz"] = (xyz, "xyz", None)
    dump = folder / "traj.dump"
    write_dump(dump, frames)
    files["lammps-dump"] = (dump, "lammps-dump-text", TYPE_MAP)
    traj = folder / "traj.traj"
    ase.io.write(traj, frames, format="traj")
    files["ase-traj"] = (traj, "traj", None)
    return files


def bench_ours(path: Path, fmt: str, type_map, repeat: int, rng) -> dict:
    """Each access is timed on a freshly opened Trajectory (index reused, nothing read yet),
    so frame 0 and random frames are measured the same way."""
    t = time.perf_counter()
    traj = zifviz.Trajectory(path, format=fmt, type_map=type_map)
    n = len(traj)
    build = time.perf_counter() - t

    def fresh():
        tr = zifviz.Trajectory(path, format=fmt, type_map=type_map)
        len(tr)
        return tr

    t = time.perf_counter()
    fresh()
    reopen = time.perf_counter() - t

    def first(i: int, what: str = "atoms") -> float:
        tr = fresh()
        t = time.perf_counter()
        tr[i] if what == "atoms" else tr.positions(i)
        return time.perf_counter() - t

    picks = [rng.randrange(n) for _ in range(repeat)]
    return {"n": n, "index": build, "reopen": reopen,
            "frame0": float(np.median([first(0) for _ in range(repeat)])),
            "last": float(np.median([first(n - 1) for _ in range(repeat)])),
            "random": float(np.median([first(i) for i in picks])),
            "positions": float(np.median([first(i, "positions") for i in picks])),
            "n_atoms": len(traj.positions(0))}


def bench_ase(path: Path, fmt: str, n: int, lammps: bool) -> dict:
    kw = {"format": "lammps-dump-text"} if lammps else {}  # otherwise ASE's own detection
    return {"frame0": clock(lambda: ase.io.read(path, index=0, **kw)),
            "last": clock(lambda: ase.io.read(path, index=n - 1, **kw))}


def bench_chemfiles(path: Path, fmt: str) -> dict | None:
    try:
        import chemfiles
    except ImportError:
        return None
    chemfiles.set_warnings_callback(lambda message: None)
    cf_fmt = {"extxyz": "XYZ", "xyz": "XYZ", "lammps-dump-text": "LAMMPS"}.get(fmt, "")
    if cf_fmt and str(path).endswith(".gz"):
        cf_fmt += " / GZ"
    try:
        t = time.perf_counter()
        tr = chemfiles.Trajectory(str(path), "r", cf_fmt)
        m = tr.nsteps
        first = tr.read_step(0)
        open_t = time.perf_counter() - t
        out = {"open+frame0": open_t,
               "frame0": clock(lambda: np.asarray(tr.read_step(0).positions, np.float32)),
               "last": clock(lambda: np.asarray(tr.read_step(m - 1).positions, np.float32)),
               "n": m, "n_atoms": len(first.atoms)}
        tr.close()
        return out
    except BaseException as exc:  # format not supported by chemfiles
        if isinstance(exc, KeyboardInterrupt):
            raise
        return {"error": str(exc)[:80]}


def bench_mdanalysis(path: Path, fmt: str) -> dict | None:
    """MDAnalysis readers (XYZ, also gzip; LAMMPSDUMP): positions only (no extxyz info/arrays)."""
    try:
        import warnings

        import MDAnalysis as mda
    except ImportError:
        return None
    kind = {"extxyz": "XYZ", "xyz": "XYZ", "lammps-dump-text": "LAMMPSDUMP"}.get(fmt)
    if kind is None:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t = time.perf_counter()
            u = mda.Universe(str(path), format=kind, topology_format=kind)
            m = len(u.trajectory)
            open_t = time.perf_counter() - t

            def at(i):
                u.trajectory[i]
                return u.atoms.positions

            return {"open": open_t, "frame0": clock(lambda: at(0), 2),
                    "last": clock(lambda: at(m - 1), 2), "n": m}
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {str(exc)[:80]}"}


def bench_gzip_seek(gz: Path) -> dict:
    """Seek points in the gzip stream (indexed_gzip, rapidgzip) + our parser for one frame."""
    with gzip.open(gz, "rb") as fh:
        offsets = [(b.start, b.end) for b in zframes.iter_xyz_blocks(fh)]
    start, end = offsets[-1]
    out = {}
    try:
        import indexed_gzip

        t = time.perf_counter()
        f = indexed_gzip.IndexedGzipFile(str(gz), spacing=1 << 22)
        f.build_full_index()
        out["indexed_gzip index"] = time.perf_counter() - t

        def last():
            f.seek(start)
            zframes.parse_extxyz(f.read(end - start))

        out["indexed_gzip last"] = clock(last, 2)

        def first():
            f.seek(offsets[0][0])
            zframes.parse_extxyz(f.read(offsets[0][1] - offsets[0][0]))

        out["indexed_gzip frame0"] = clock(first, 2)
        f.close()
    except ImportError:
        pass
    try:
        import rapidgzip

        t = time.perf_counter()
        f = rapidgzip.open(str(gz), parallelization=2)
        f.seek(0, 2)  # builds the seek-point index
        out["rapidgzip index"] = time.perf_counter() - t

        def last_r():
            f.seek(start)
            zframes.parse_extxyz(f.read(end - start))

        out["rapidgzip last"] = clock(last_r, 2)
        f.close()
    except ImportError:
        pass
    return out


def bench_parsers(path: Path) -> dict:
    """One 58,752-atom extxyz frame's text -> arrays: ours vs ASE's parser vs pandas.read_csv."""
    import io

    import pandas as pd

    with open(path, "rb") as fh:
        block = next(zframes.iter_xyz_blocks(fh))
    data = block.data
    body = data.split(b"\n", 2)[2]
    return {"ours (parse_extxyz)": clock(lambda: zframes.parse_extxyz(data), 3),
            "ASE extxyz parser": clock(lambda: ase.io.read(io.StringIO(data.decode()),
                                                           format="extxyz"), 3),
            "pandas.read_csv (columns only)": clock(lambda: pd.read_csv(
                io.BytesIO(body), sep=r"\s+", header=None, engine="c"), 3),
            "numpy.loadtxt (numeric columns)": clock(lambda: np.loadtxt(
                io.BytesIO(body), usecols=(1, 2, 3, 4)), 3)}


def cache_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def bench_p1_cif(folder: Path) -> dict:
    from ase.build import make_supercell

    base = ase.io.read(CIF)
    base.info.clear()
    for key in list(base.arrays):
        if key not in ("numbers", "positions"):
            del base.arrays[key]
    big = base.repeat((2, 2, 2))  # 2,176 atoms
    path = folder / "p1.cif"
    ase.io.write(path, big, format="cif")
    del make_supercell
    ours = clock(lambda: zifviz.read(path))
    t = time.perf_counter()
    ase_atoms = ase.io.read(path)
    ase_t = time.perf_counter() - t
    back = zifviz.read(path)
    assert len(back) == len(ase_atoms) == len(big)
    return {"n_atoms": len(big), "zifviz.read": ours, "ase.io.read": ase_t}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=12)
    ap.add_argument("--repeat", type=int, default=6)
    ap.add_argument("--skip-ase-gzip", action="store_true",
                    help="do not time ASE on gzip files (slow: it rereads from the start)")
    args = ap.parse_args(argv)
    rng = random.Random(1)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        os.environ["ZIFVIZ_CACHE_DIR"] = str(folder / "cache")  # cold cache for this run
        t = time.perf_counter()
        frames = make_frames(args.frames)
        files = write_files(frames, folder)
        n_atoms = len(frames[0])
        del frames
        print(f"wrote {args.frames} frames of {n_atoms} atoms in 5 formats "
              f"({time.perf_counter() - t:.1f} s)\n")
        files["phases.extxyz.gz"] = (REPO / "data/phases.extxyz.gz", "extxyz", None)
        rows = []
        for name, (path, fmt, type_map) in files.items():
            ours = bench_ours(path, fmt, type_map, args.repeat, rng)
            skip_ase = args.skip_ase_gzip and str(path).endswith(".gz")
            theirs = None if skip_ase else bench_ase(path, fmt, ours["n"], type_map is not None)
            cf = bench_chemfiles(path, fmt) if fmt != "traj" else None
            rows.append((name, path, ours, theirs, cf))
            print(f"== {name}: {ours['n']} frames x {ours['n_atoms']} atoms, "
                  f"{path.stat().st_size / 1e6:.1f} MB")
            print(f"   ours : index {ours['index']:.3f} s (reopen {ours['reopen'] * 1e3:.1f} ms), "
                  f"frame0 {ours['frame0'] * 1e3:.2f} ms, last {ours['last'] * 1e3:.2f} ms, "
                  f"random {ours['random'] * 1e3:.2f} ms, positions {ours['positions'] * 1e3:.3f} ms")
            print(f"         random/frame0 = {ours['random'] / ours['frame0']:.2f} (target <= 2); "
                  f"last/frame0 = {ours['last'] / ours['frame0']:.2f}")
            if theirs:
                print(f"   ASE  : frame0 {theirs['frame0']:.3f} s, last {theirs['last']:.3f} s"
                      f"   -> ours faster: frame0 x{theirs['frame0'] / ours['frame0']:.0f}, "
                      f"last x{theirs['last'] / ours['last']:.0f}, "
                      f"ASE frame0 / our positions x{theirs['frame0'] / ours['positions']:.0f}")
            if cf:
                if "error" in cf:
                    print(f"   chemfiles: {cf['error']}")
                else:
                    print(f"   chemfiles: open+frame0 {cf['open+frame0']:.3f} s, positions frame0 "
                          f"{cf['frame0'] * 1e3:.1f} ms, last {cf['last'] * 1e3:.1f} ms "
                          f"(ours positions x{cf['last'] / ours['positions']:.0f} faster than its last)")
            md = bench_mdanalysis(path, fmt)
            if md:
                if "error" in md:
                    print(f"   MDAnalysis: {md['error']}")
                else:
                    print(f"   MDAnalysis: open (offsets) {md['open']:.3f} s, positions frame0 "
                          f"{md['frame0'] * 1e3:.1f} ms, last {md['last'] * 1e3:.1f} ms "
                          f"(ours positions x{md['last'] / ours['positions']:.0f} faster than its last)")
            if name == "extxyz.gz":
                seek = bench_gzip_seek(path)
                for k, v in seek.items():
                    print(f"   {k}: {v * 1e3:.1f} ms")
                if "indexed_gzip last" in seek:
                    print(f"   ours last {ours['last'] * 1e3:.2f} ms vs seek+parse "
                          f"{seek['indexed_gzip last'] * 1e3:.1f} ms "
                          f"(x{seek['indexed_gzip last'] / ours['last']:.0f})")
            print()
        print("== one 58,752-atom extxyz frame, text -> arrays:")
        parsers = bench_parsers(files["extxyz"][0])
        ref = parsers["ours (parse_extxyz)"]
        for k, v in parsers.items():
            print(f"   {k:32s} {v * 1e3:7.1f} ms  (x{v / ref:.1f} ours)")
        cache = folder / "cache"
        text_size = sum(files[k][0].stat().st_size for k in ("extxyz", "xyz", "lammps-dump"))
        print(f"   decoded cache on disk: {cache_size(cache) / 1e6:.0f} MB for all files "
              f"(plain text inputs {text_size / 1e6:.0f} MB + gzip + phases)\n")
        p1 = bench_p1_cif(folder)
        print(f"== P1 CIF, {p1['n_atoms']} atoms: zifviz.read {p1['zifviz.read']:.2f} s, "
              f"ase.io.read {p1['ase.io.read']:.2f} s (x{p1['ase.io.read'] / p1['zifviz.read']:.0f})")
        print("\nsummary (targets: random/frame0 <= 2, positions <= 50 ms, ASE/positions >= 10):")
        for name, _, ours, theirs, _ in rows:
            r = f"ASE/positions x{theirs['frame0'] / ours['positions']:.0f}" if theirs else "ASE skipped"
            print(f"  {name:17s} random/frame0 {ours['random'] / ours['frame0']:.2f}  positions "
                  f"{ours['positions'] * 1e3:.2f} ms  {r}")


if __name__ == "__main__":
    main()
