"""A SOAP-GPR grid search at one level, killed half way (SIGKILL) and resumed.

Run: python benchmarks/bench_grid.py [--level A] [--frames 60] [--full] [--kill-after 4]
                                     [--n-jobs 1] [--out folder]

Default: a 3 × 3 grid (r_cut 4, 6, 9 Å × σ 0.2, 0.5, 1.0 Å) on ``--frames`` frames of the demo
energies set (one per framework first, so the grouped CV has many groups), target ε_local,
5 grouped folds, seed 000's GPR. ``--full``: seed 000's 27 × 19 grid (513 points).

Steps, timed in one run:
1. a child process runs ``grid_search(out=grid.csv)`` and is killed with SIGKILL as soon as
   ``--kill-after`` points are in the CSV;
2. the CSV is read back (every finished point must be there and readable);
3. ``grid_search(..., resume=True)`` finishes the grid in this process; the number of points
   it computed is counted (it must be the missing ones only);
4. the final table is checked: every grid point once, all with one settings hash.
Printed: points before the kill, points computed after it, seconds per point, minima.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import signal
import tempfile
import time
from pathlib import Path

import pandas as pd

from _common import use_shared_data  # noqa: E402

use_shared_data()

import zifviz  # noqa: E402
import zifviz.gridsearch as gridsearch  # noqa: E402
from zifviz.gridsearch import SEED000_RCUTS, SEED000_SIGMAS, grid_search  # noqa: E402


def pick_frames(n: int, data: str | None):
    if data:
        frames = list(zifviz.Trajectory(data))
    else:
        from zifviz.datasets import load_demo
        frames = list(load_demo("energies"))
    seen, first, rest = set(), [], []
    for f in frames:  # one frame per framework first: as many CV groups as possible
        (rest if f.info.get("framework") in seen else first).append(f)
        seen.add(f.info.get("framework"))
    return (first + rest)[:n]


def child(kwargs):
    grid_search(**kwargs)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--level", default="A")
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--data", default=None)
    parser.add_argument("--full", action="store_true", help="seed 000's 27 x 19 grid")
    parser.add_argument("--kill-after", type=int, default=4)
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--n-train", type=int, default=10_000)
    parser.add_argument("--out", default=None, help="folder for grid.csv (default: a temp dir)")
    args = parser.parse_args()

    frames = pick_frames(args.frames, args.data)
    table = zifviz.environment_table(frames, progress=False)
    r_cuts, sigmas = ((SEED000_RCUTS, SEED000_SIGMAS) if args.full
                      else ((4.0, 6.0, 9.0), (0.2, 0.5, 1.0)))
    folder = Path(args.out or tempfile.mkdtemp(prefix="zifviz-grid-"))
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / "grid.csv"
    for stale in [out, gridsearch._settings_file(out)]:
        stale.unlink(missing_ok=True)
    kwargs = {"frames": frames, "level": args.level, "r_cuts": r_cuts, "sigmas": sigmas,
              "n_train": args.n_train, "out": out, "table": table, "n_jobs": args.n_jobs,
              "progress": False}
    n_points = len(r_cuts) * len(sigmas)
    print(f"{len(frames)} frames, {len(table)} environments, {table['framework'].nunique()} "
          f"frameworks; level {args.level}; grid {len(r_cuts)} × {len(sigmas)} = {n_points} "
          f"points; n_jobs {args.n_jobs}; load average {os.getloadavg()[0]:.1f}; {out}")

    t0 = time.perf_counter()
    proc = mp.get_context("fork").Process(target=child, args=(kwargs,))
    proc.start()
    finished = 0
    while proc.is_alive():
        time.sleep(0.2)
        if out.exists():
            finished = len(pd.read_csv(out))
            if finished >= args.kill_after:
                os.kill(proc.pid, signal.SIGKILL)
                break
    proc.join()
    t_kill = time.perf_counter() - t0
    before = pd.read_csv(out)
    print(f"killed after {t_kill:.1f} s with {len(before)} points in the CSV "
          f"({t_kill / max(len(before), 1):.2f} s per point, start-up included)")

    computed = []
    real = gridsearch._evaluate

    def counting(descriptor, points, common):
        computed.append(descriptor)
        return real(descriptor, points, common)

    gridsearch._evaluate = counting  # serial resume: count what is computed
    t1 = time.perf_counter()
    result = grid_search(**{**kwargs, "n_jobs": 1})
    t_resume = time.perf_counter() - t1
    gridsearch._evaluate = real
    keys = result[["r_cut", "sigma"]].drop_duplicates()
    ok = (len(result) == n_points and len(keys) == n_points
          and result["settings_hash"].nunique() == 1
          and len(computed) == n_points - len(before))
    print(f"resumed: computed {len(computed)} points (missing: {n_points - len(before)}) in "
          f"{t_resume:.1f} s ({t_resume / max(len(computed), 1):.2f} s per point); "
          f"final table {len(result)} rows, {len(keys)} distinct points: "
          f"{'OK' if ok else 'FAILED'}")
    best = result.loc[result["test_rmse"].idxmin()]
    print(f"minimum: r_cut {best['r_cut']} Å, σ {best['sigma']} Å, test RMSE "
          f"{best['test_rmse']:.4f} eV (train {best['train_rmse']:.4f})")


if __name__ == "__main__":
    main()
