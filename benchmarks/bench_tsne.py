"""t-SNE maps (zifviz.embedding.TSNEMap, openTSNE): fit, placing new points, save/load.

Run: python benchmarks/bench_tsne.py [--n 10000] [--new 10000] [--large]
(needs the phases demo; ZIFVIZ_DATA_MIRROR for nothing else)

Rows are seed 003's SOAP vectors (one channel, 780 features) of the phases demo's Zn
environments (all 9,088), resampled with replacement to the wanted size with Gaussian noise of
2 % of each feature's spread (so that no two rows coincide). Measured in one run, side by side:

* fit of ``--n`` rows with 1 thread and with all threads (``n_jobs=-1``): the ratio is the
  multithreading speed-up on this machine (and its load);
* placing ``--new`` other rows on the fitted map (``transform``), and the same map saved,
  loaded (neighbour index rebuilt) and placing them again: identical positions?;
* the size of the map file;
* ``--large``: also a fit of 100,000 rows (all threads only; minutes).

Writes test-artifacts/benchmarks/bench_tsne.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "test-artifacts" / "benchmarks" / "bench_tsne.json"


def soap_rows() -> np.ndarray:
    from zifviz.datasets import load_demo
    from zifviz.descriptors import SOAP

    return SOAP.seed003("atomistic", progress=False).transform(load_demo("phases"))


def resample(X: np.ndarray, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rows = X[rng.integers(0, len(X), n)]
    return (rows + rng.normal(size=rows.shape) * 0.02 * X.std(axis=0)).astype(np.float32)


def timed_fit(X: np.ndarray, n_jobs: int, n_iter: int):
    from zifviz.embedding import TSNEMap

    tsne = TSNEMap(n_iter=n_iter, n_jobs=n_jobs, random_state=0, progress=False)
    t0 = time.perf_counter()
    tsne.fit(X)
    return tsne, time.perf_counter() - t0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000, help="rows of the map")
    ap.add_argument("--new", type=int, default=10_000, help="rows placed on the map")
    ap.add_argument("--n-iter", type=int, default=500, help="iterations after the early "
                    "exaggeration phase (250 iterations)")
    ap.add_argument("--large", action="store_true", help="also fit 100,000 rows")
    args = ap.parse_args(argv)
    from threadpoolctl import threadpool_limits

    from zifviz.embedding import TSNEMap, _threads

    threadpool_limits(limits=1, user_api="blas")
    t0 = time.perf_counter()
    X0 = soap_rows()
    print(f"SOAP rows of the phases demo: {X0.shape} in {time.perf_counter() - t0:.1f} s")
    X = resample(X0, args.n, 1)
    X_new = resample(X0, args.new, 2)
    res = {"n": args.n, "n_new": args.new, "n_features": int(X.shape[1]),
           "n_iter": args.n_iter, "threads": _threads(-1), "load_avg": os.getloadavg()}

    one, res["fit_1_thread_s"] = timed_fit(X, 1, args.n_iter)
    tsne, res["fit_all_threads_s"] = timed_fit(X, -1, args.n_iter)
    res["kl_1_thread"], res["kl_all_threads"] = one.kl_divergence_, tsne.kl_divergence_

    t = time.perf_counter()
    placed = tsne.transform(X_new)
    res["transform_s"] = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        path = tsne.save(Path(tmp) / "map.npz")
        res["save_s"] = time.perf_counter() - t
        res["file_mb"] = path.stat().st_size / 1e6
        t = time.perf_counter()
        loaded = TSNEMap.load(path)
        res["load_s"] = time.perf_counter() - t
        t = time.perf_counter()
        again = loaded.transform(X_new)
        res["transform_after_load_s"] = time.perf_counter() - t
    res["identical_after_load"] = bool(np.array_equal(placed, again))
    if args.large:
        Xl = resample(X0, 100_000, 3)
        _, res["fit_100k_all_threads_s"] = timed_fit(Xl, -1, args.n_iter)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(res, indent=1))

    n, m = f"{args.n:,}", f"{args.new:,}"
    print(f"\nTSNEMap on {n} x {X.shape[1]} SOAP rows, 250 + {args.n_iter} iterations; "
          f"{res['threads']} threads, load average {res['load_avg'][0]:.1f}; {OUT}")
    print(f"{'fit, 1 thread':>40} {res['fit_1_thread_s']:8.1f} s")
    print(f"{'fit, all threads':>40} {res['fit_all_threads_s']:8.1f} s   "
          f"speed-up {res['fit_1_thread_s'] / res['fit_all_threads_s']:.2f}x")
    print(f"{'place ' + m + ' new rows':>40} {res['transform_s']:8.1f} s   "
          f"({args.new / res['transform_s']:,.0f} rows/s)")
    print(f"{'save / load (index rebuilt)':>40} {res['save_s']:8.1f} s / {res['load_s']:.1f} s   "
          f"file {res['file_mb']:.1f} MB")
    print(f"{'place them again after load':>40} {res['transform_after_load_s']:8.1f} s   "
          f"identical: {res['identical_after_load']}")
    if args.large:
        print(f"{'fit 100,000 rows, all threads':>40} {res['fit_100k_all_threads_s']:8.1f} s   "
              f"({res['fit_100k_all_threads_s'] / res['fit_all_threads_s']:.1f}x the "
              f"{n}-row fit)")
    return res


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
