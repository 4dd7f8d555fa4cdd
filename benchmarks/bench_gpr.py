"""Exact vs sparse GPR: fit + predict time, test RMSE and peak memory against N, side by side.

Run: python benchmarks/bench_gpr.py [--sizes 1000 2000 4000 8000] [--large] [--level AB2]
                                    [--data path.extxyz.gz] [--n-inducing 2000] [--n-test 4000]

Data: SOAP rows (seed 000's settings at the level's optimum: atomistic 5 Å / 0.5 Å, AB2 9 Å /
0.2 Å, A 9 Å / 0.5 Å) of the demo energies set (or ``--data``), target ε_local, on seed 000's
selection (rattled frames whose environments all lie within 1 eV of relaxed ZIF-zni;
``--max-local`` moves the 1 eV, ``--all-frames`` keeps every frame). The test set is
``--n-test`` environments (default 4,000; 0: all) drawn from a fifth of the frameworks (never
trained on: the exact predictive std costs N² per test row); the N training rows are drawn from
the other frameworks (nested: each N contains the smaller ones). SOAP rows are cached
in ``$ZIFVIZ_CACHE_DIR/soap``.

Each fit runs in a fresh process (fork) so that its peak memory (``ru_maxrss`` of that
process, minus the inherited rows) is its own. ``--large`` adds N = 16,000 and 32,000 (when the
data has that many training rows; the exact solver needs 8 N² bytes: 8.2 GB at 32,000).
Columns: fit seconds, predict seconds (mean and std of the test rows), test RMSE (eV), peak
extra memory (GB); ratios sparse vs exact at each N.

``--cv N_ENV``: instead, the grouped 5-fold CV RMSE of ε_local and ε_Zn at the three levels
on a random subset of frames holding about N_ENV environments, with each level's optimum from
seed 000's own grid tables (atomistic 7.25 Å / 0.3 Å, AB2 9.5 Å / 0.35 Å, A 12 Å / 0.4 Å),
exact GPR, printed beside seed 000's RMSE and as ratios to the atomistic level.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import time
from pathlib import Path

import numpy as np

from _common import use_shared_data  # noqa: E402

use_shared_data()

import zifviz  # noqa: E402
from zifviz.descriptors import SOAP  # noqa: E402
from zifviz.gpr import GPR  # noqa: E402
from zifviz.validation import frames_within, grouped_folds, rmse  # noqa: E402

OPTIMA = {"atomistic": (5.0, 0.5), "AB2": (9.0, 0.2), "A": (9.0, 0.5)}
SEED000_OPTIMA = {"atomistic": (7.25, 0.3), "AB2": (9.5, 0.35), "A": (12.0, 0.4)}


def cv_levels(frames, n_env: int, n_splits: int = 5):
    """Grouped CV RMSE at the three levels (seed 000's optima), ε_local and ε_Zn."""
    from zifviz.validation import SEED000_RMSE, cross_validate

    rng = np.random.default_rng(0)
    per_frame = np.mean([int((f.numbers == 30).sum()) for f in frames])  # all: sizes vary
    picks = np.sort(rng.choice(len(frames), min(len(frames), int(n_env / per_frame)),
                               replace=False))
    subset = [frames[i] for i in picks]
    table = zifviz.environment_table(subset, progress=False)
    groups = table["framework"].astype(str).to_numpy()
    print(f"{len(subset)} frames, {len(table)} environments, {len(set(groups))} frameworks; "
          f"grouped {n_splits}-fold CV by framework, exact GPR (degree 4, noise 0.2 eV); "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'level':>10} {'r_cut':>6} {'sigma':>6} {'feat':>6} {'target':>10} {'test RMSE':>10} "
          f"{'train':>7} {'seed 000':>9} {'ours/seed':>10} {'SOAP s':>7} {'CV s':>7}")
    found = {}
    for level, (r_cut, sigma) in SEED000_OPTIMA.items():
        t = time.perf_counter()
        soap = SOAP.seed000(level, r_cut, sigma, cache=True, progress=False)
        X = soap.transform(subset)
        t_soap = time.perf_counter() - t
        for target in ("eps_local", "eps_zn"):
            t = time.perf_counter()
            result = cross_validate(X, table[target].to_numpy(float), groups, GPR(), n_splits)
            found[level, target] = result.test_rmse
            ref = SEED000_RMSE[target][level]
            print(f"{level:>10} {r_cut:>6} {sigma:>6} {X.shape[1]:>6} {target:>10} "
                  f"{result.test_rmse:>10.4f} {result.train_rmse:>7.4f} {ref:>9.3f} "
                  f"{result.test_rmse / ref:>10.2f} {t_soap:>7.1f} {time.perf_counter() - t:>7.1f}",
                  flush=True)
    for target in ("eps_local", "eps_zn"):
        ours = [found[lv, target] / found["atomistic", target] for lv in ("AB2", "A")]
        ref = [SEED000_RMSE[target][lv] / SEED000_RMSE[target]["atomistic"] for lv in ("AB2", "A")]
        print(f"{target}: AB2/atomistic {ours[0]:.2f} (seed 000 {ref[0]:.2f}), "
              f"A/atomistic {ours[1]:.2f} (seed 000 {ref[1]:.2f})")


def _maxrss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2


def _fit_one(X, y, train, test, solver, n_inducing):
    base = _maxrss_gb()
    t = time.perf_counter()
    model = GPR(solver=solver, n_inducing=n_inducing).fit(X[train], y[train])
    fit = time.perf_counter() - t
    t = time.perf_counter()
    pred, std = model.predict(X[test], return_std=True)
    predict = time.perf_counter() - t
    return {"fit": fit, "predict": predict, "rmse": rmse(y[test], pred),
            "mean_std": float(std.mean()), "memory": _maxrss_gb() - base}


_DATA = {}


def _fit_in_child(train, test, solver, n_inducing):
    return _fit_one(_DATA["X"], _DATA["y"], train, test, solver, n_inducing)


def run(X, y, train, test, solver, n_inducing):
    """One fit in a fresh forked process (rows inherited, not copied): its own peak memory."""
    from concurrent.futures import ProcessPoolExecutor

    _DATA.update(X=X, y=y)
    with ProcessPoolExecutor(1, mp_context=mp.get_context("fork")) as pool:
        return pool.submit(_fit_in_child, train, test, solver, n_inducing).result()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 2000, 4000, 8000])
    parser.add_argument("--large", action="store_true", help="add N = 16,000 and 32,000")
    parser.add_argument("--level", default="AB2", choices=list(OPTIMA))
    parser.add_argument("--data", default=None, help="an extxyz file (default: demo energies)")
    parser.add_argument("--n-inducing", type=int, default=2000)
    parser.add_argument("--n-test", type=int, default=4000,
                        help="test rows drawn from the held-out frameworks (0: all)")
    parser.add_argument("--all-frames", action="store_true",
                        help="keep every frame (default: seed 000's selection, rattled frames "
                             "whose environments all lie within --max-local of relaxed ZIF-zni)")
    parser.add_argument("--max-local", type=float, default=1.0,
                        help="eV above relaxed ZIF-zni (seed 000: 1 eV)")
    parser.add_argument("--cv", type=int, default=None, metavar="N_ENV",
                        help="CV RMSE at the three levels on about N_ENV environments")
    args = parser.parse_args()

    if args.data:
        frames = zifviz.Trajectory(args.data)
    else:
        from zifviz.datasets import load_demo
        frames = load_demo("energies")
    frames = list(frames)
    if args.cv:
        return cv_levels(frames, args.cv)
    table = zifviz.environment_table(frames, progress=False)
    if not args.all_frames:
        rattled = {int(f) for f in table.loc[table["procedure"] != "relaxed", "frame_pos"]}
        keep = [int(k) for k in frames_within(table, args.max_local) if int(k) in rattled]
        print(f"seed 000's selection: {len(keep)} of {len(frames)} frames (rattled, every "
              f"environment within {args.max_local:g} eV of relaxed ZIF-zni)")
        frames = [frames[k] for k in keep]
        table = zifviz.environment_table(frames, progress=False)
    r_cut, sigma = OPTIMA[args.level]
    t = time.perf_counter()
    X = SOAP.seed000(args.level, r_cut, sigma, cache=True, progress=False).transform(frames)
    print(f"{len(table)} environments of {table['framework'].nunique()} frameworks; "
          f"{args.level} SOAP r_cut {r_cut} Å, σ {sigma} Å: {X.shape[1]} features "
          f"({time.perf_counter() - t:.0f} s, cached after the first run); "
          f"load average {os.getloadavg()[0]:.1f}")
    y = table["eps_local"].to_numpy(float)
    pool, test = grouped_folds(table["framework"].astype(str).to_numpy(), 5)[0]
    rng = np.random.default_rng(0)
    if 0 < args.n_test < len(test):  # the exact predictive std costs N² per test row
        test = np.sort(rng.choice(test, args.n_test, replace=False))
    order = rng.permutation(pool)
    sizes = sorted(set(args.sizes + ([16000, 32000] if args.large else [])))
    print(f"test: {len(test)} environments; training pool: {len(pool)}; sparse: "
          f"{args.n_inducing} inducing rows (farthest-point sampling)")
    print(f"{'N':>6} {'solver':>7} {'fit s':>8} {'predict s':>10} {'RMSE eV':>9} "
          f"{'mean std':>9} {'peak GB':>8}   sparse/exact: speed-up, RMSE ratio")
    for n in sizes:
        if n > len(pool):
            print(f"{n:>6}  skipped: only {len(pool)} training environments")
            continue
        train = np.sort(order[:n])
        res = {s: run(X, y, train, test, s, args.n_inducing) for s in ("exact", "sparse")}
        for s, r in res.items():
            extra = ""
            if s == "sparse":
                e = res["exact"]
                extra = (f"   {(e['fit'] + e['predict']) / (r['fit'] + r['predict']):.1f}×, "
                         f"{r['rmse'] / e['rmse']:.3f}")
            print(f"{n:>6} {s:>7} {r['fit']:>8.1f} {r['predict']:>10.2f} {r['rmse']:>9.4f} "
                  f"{r['mean_std']:>9.3f} {r['memory']:>8.2f}{extra}", flush=True)


if __name__ == "__main__":
    main()
