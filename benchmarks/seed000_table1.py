"""Seed 000 end to end on the demo energies: an (r_cut, σ_at) grid per level, each level's
optimum beside the paper's, and CV RMSE of ε_local and ε_Zn with every level's optimum crossed
with every representation (its Table 1).

Run: python benchmarks/seed000_table1.py [--out DIR] [--n-train 3000] [--max-local 1.0]
                                         [--optima grid|paper] [--data FILE]

Data as seed 000 fitted: rattled frames only (procedures other than ``redecorated``), whole
frames whose environments all lie within ``--max-local`` eV of relaxed ZIF-zni
(:func:`zifviz.validation.frames_within`). Model: seed 000's GPR (polynomial kernel of degree 4
on normalised SOAP, n_max ≤ 16, l_max 8, noise 0.2 eV), 5-fold CV grouped by framework,
``--n-train`` training environments per fold. The grids (target ε_local, :data:`R_CUTS` ×
:data:`SIGMAS`, a coarse cover of seed 000's) are written to ``DIR/grid-<level>.csv`` and resume
when the script is run again. ``--optima paper`` skips them and uses seed 000's optima.
Printed: the minima, the spread of each target, a mean predictor's grouped RMSE, one table per
target and the ratios to the atomistic RMSE beside the paper's.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from _common import use_shared_data  # noqa: E402

use_shared_data()

import zifviz  # noqa: E402
from zifviz.gridsearch import grid_search  # noqa: E402
from zifviz.validation import (SEED000_RMSE, cross_hyperparameter_table,  # noqa: E402
                               frames_within, grouped_folds)

PAPER_OPTIMA = {"atomistic": (7.25, 0.30), "AB2": (9.5, 0.35), "A": (12.0, 0.40)}
"""Seed 000's optimal (r_cut, σ_at) per level, in Å."""
R_CUTS = [3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 12.0]
SIGMAS = [0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-local", type=float, default=1.0)
    parser.add_argument("--optima", choices=["grid", "paper"], default="grid")
    parser.add_argument("--out", default="seed000-grids", help="folder of the grid CSVs")
    parser.add_argument("--n-train", type=int, default=3000)
    parser.add_argument("--data", default=None, help="an extxyz file (default: demo energies)")
    args = parser.parse_args()

    from zifviz.datasets import load_demo
    ds = zifviz.Trajectory(args.data) if args.data else load_demo("energies")
    everything = zifviz.environment_table(ds)
    rattled = everything.groupby("frame_pos")["procedure"].first() != "redecorated"
    keep = np.intersect1d(frames_within(everything, args.max_local),
                          rattled.index[rattled.to_numpy()])
    frames = [ds[int(i)] for i in keep]
    table = zifviz.environment_table(frames)
    groups = table["framework"].astype(str).to_numpy()
    print(f"{len(frames)} frames, {len(table)} environments, "
          f"{len(set(groups))} frameworks (max local {args.max_local} eV)")
    if args.optima == "paper":
        optima = PAPER_OPTIMA
    else:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        optima = {}
        for level in ("atomistic", "AB2", "A"):
            t0 = time.perf_counter()
            grid = grid_search(frames, level, R_CUTS, SIGMAS, n_train=args.n_train, table=table,
                               out=out / f"grid-{level}.csv", details=False, progress=False)
            best = grid.loc[grid["test_rmse"].idxmin()]
            optima[level] = (float(best["r_cut"]), float(best["sigma"]))
            print(f"{level}: grid {len(R_CUTS)} × {len(SIGMAS)} in {time.perf_counter() - t0:.0f}"
                  f" s; optimum r_cut {best['r_cut']:g} Å, σ_at {best['sigma']:g} Å, test RMSE "
                  f"{best['test_rmse']:.4f} eV (paper: {PAPER_OPTIMA[level][0]:g} / "
                  f"{PAPER_OPTIMA[level][1]:g} Å)", flush=True)
    for target in ("eps_local", "eps_zn"):
        y = table[target].to_numpy(float)
        mean_rmse = np.sqrt(np.mean([np.mean((y[test] - y[train].mean()) ** 2)
                                     for train, test in grouped_folds(groups, 5)]))
        t0 = time.perf_counter()
        cross = cross_hyperparameter_table(frames, optima, target=target, table=table,
                                           n_train=args.n_train, progress=False)
        print(f"\n{target}: std {y.std():.4f} eV, mean predictor {mean_rmse:.4f} eV "
              f"(grouped CV); {time.perf_counter() - t0:.0f} s")
        print(cross.round(4).to_string())
        diagonal = {lvl: cross.loc[lvl, lvl] for lvl in cross.index}
        paper = SEED000_RMSE[target]
        print("each level at its own optimum: " + ", ".join(
            f"{lvl} {v:.4f} eV (paper {paper[lvl]:.3f})" for lvl, v in diagonal.items()))
        print("ratios to atomistic: " + ", ".join(
            f"{lvl} {diagonal[lvl] / diagonal['atomistic']:.2f} "
            f"(paper {paper[lvl] / paper['atomistic']:.2f})" for lvl in ("AB2", "A")))


if __name__ == "__main__":
    main()
