"""SOAP through zifviz vs dscribe called directly, and 1 vs 2 worker processes, side by side.

Run: python benchmarks/bench_soap.py [--frames 300] [--repeat 3] [--data file.extxyz.gz]
[--only atomistic AB2 seed003]

Frames: the first ``--frames`` frames of the demo energies set (hypothetical ZIFs). Settings:
seed 000's SOAP (n_max ≤ 16, l_max 8, per-species channels) at r_cut 5 Å, σ 0.5 Å
(atomistic) and r_cut 9 Å, σ 0.2 Å (AB2), and seed 003's classifier SOAP (r_cut 9 Å, n_max 12,
l_max 9, one channel: 780 features; far more work per byte of output).

Rows (best of ``--repeat``; the machine is shared, so compare the columns of one run):

* ``dscribe direct``: ``dscribe.descriptors.SOAP.create(atoms, centers=Zn)`` frame by frame,
  the rows stacked into one matrix (``np.concatenate``: the (n_env, n_features) matrix both
  give); AB2: on coarse-grained ``Atoms`` built beforehand, i.e. without the coarse-graining
  cost; the row ``AB2 +cg`` times the same with ``zifviz.coarse_grain`` of every frame
  included (what a user calling dscribe directly would have to do);
* ``zifviz n_jobs=1``: ``zifviz.descriptors.SOAP.transform`` (checks, coarse-graining with
  topology reuse, normalisation, float32) — overhead = zifviz / dscribe − 1 (target ≤ 10 %).
  Topologies are perceived once per process and reused, checked, on later frames and calls;
  ``first call`` is the untimed-in-the-table first transform, which perceives them;
* ``zifviz n_jobs=2``: this process and one loky worker process, both writing their rows
  into one shared array (warm: the worker is started by a first call that is not timed) —
  speed-up = n_jobs=1 / n_jobs=2 (target ≥ 1.7×);
* ``rows piped``: two worker processes sending their rows back through loky's pipe instead,
  this process waiting (what zifviz does where files cannot be shared in place), for
  comparison;
* ``dscribe n_jobs=2`` (AB2): dscribe's own parallelism, ``create(systems, n_jobs=2)``, against
  its ``n_jobs=1`` — the library's two workers, beside zifviz's.

zifviz's worker processes run with glibc's malloc thresholds raised
(``zifviz.descriptors.soap.WORKER_MALLOC``: dscribe's per-frame buffers reused from the heap,
not mapped and faulted in anew). So that every column runs under the same allocator, this
script restarts itself with those settings in its environment, unless they are set already
or ``--default-malloc`` is given (then only the workers have them: the n_jobs=1 columns run
as in a notebook started without them).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.base import clone

from _common import best, use_shared_data  # noqa: E402

use_shared_data()

import zifviz  # noqa: E402
import zifviz.descriptors.soap as soap_module  # noqa: E402
from zifviz.coarse import B_SYMBOL  # noqa: E402
from zifviz.datasets import load_demo  # noqa: E402
from zifviz.descriptors import SOAP  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--data", default=None, help="an extxyz file (default: demo energies)")
    parser.add_argument("--only", nargs="+", choices=["atomistic", "AB2", "seed003"],
                        help="these settings only (default: all three)")
    parser.add_argument("--default-malloc", action="store_true",
                        help="do not give this process the workers' malloc settings")
    args = parser.parse_args()
    from zifviz.descriptors.soap import WORKER_MALLOC

    if not args.default_malloc and any(k not in os.environ for k in WORKER_MALLOC):
        os.execve(sys.executable, [sys.executable, *sys.argv], {**WORKER_MALLOC, **os.environ})
    print("malloc: " + (", ".join(f"{k}={os.environ.get(k, 'default')}" for k in WORKER_MALLOC)
                        + " in this process; the workers: "
                        + ", ".join(f"{k}={v}" for k, v in WORKER_MALLOC.items())))

    from dscribe.descriptors import SOAP as DScribeSOAP
    from scipy.linalg import LinAlgWarning

    warnings.simplefilter("ignore", LinAlgWarning)
    warnings.simplefilter("ignore", zifviz.ZifvizWarning)  # glasses: 3-coordinated Zn
    ds = zifviz.Trajectory(args.data) if args.data else load_demo("energies")
    frames = [ds[i] for i in range(min(args.frames, len(ds)))]
    n_zn = sum(int((f.numbers == 30).sum()) for f in frames)
    print(f"{len(frames)} frames, {n_zn} Zn environments, {os.cpu_count()} CPUs "
          f"(load average {os.getloadavg()[0]:.1f})")
    print(f"{'level':>10} {'features':>9} {'dscribe direct':>15} {'zifviz n_jobs=1':>16} "
          f"{'zifviz n_jobs=2':>16} {'overhead':>9} {'2 vs 1 workers':>15} "
          f"{'rows piped':>11} {'2 vs 1 piped':>13}")
    for name, level, r_cut, sigma in (("atomistic", "atomistic", 5.0, 0.5),
                                       ("AB2", "AB2", 9.0, 0.2),
                                       ("seed 003", "atomistic", 9.0, 0.5)):
        if args.only and name.replace(" ", "") not in args.only:
            continue
        single = name == "seed 003"
        soap = (SOAP.seed003(progress=False) if single
                else SOAP.seed000(level, r_cut, sigma, progress=False))
        species = (["Zn"] if single else ["Zn", "N", "C", "H"] if level == "atomistic"
                   else ["Zn", B_SYMBOL])
        direct = DScribeSOAP(species=species, r_cut=r_cut, n_max=soap.n_max, l_max=soap.l_max,
                             sigma=sigma, rbf="gto", average="off", periodic=True)
        if single:  # one channel: every atom as Zn
            systems = [f.copy() for f in frames]
            for system in systems:
                system.numbers[:] = 30
            centres = [np.flatnonzero(f.numbers == 30).tolist() for f in frames]
        elif level == "atomistic":
            systems = frames
            centres = [np.flatnonzero(f.numbers == 30).tolist() for f in frames]
        else:
            systems = [zifviz.coarse_grain(f, "AB2") for f in frames]
            centres = [np.flatnonzero(s.arrays["bead"] == "A").tolist() for s in systems]

        def run_direct():
            return np.concatenate([direct.create(s, centers=c, n_jobs=1)
                                   for s, c in zip(systems, centres)])

        def run_direct_cg():
            rows = []
            for f in frames:
                cg = zifviz.coarse_grain(f, "AB2")
                rows.append(direct.create(cg, centers=np.flatnonzero(cg.arrays["bead"] == "A"),
                                          n_jobs=1))
            return np.concatenate(rows)

        t_first = time.perf_counter()
        X1 = soap.transform(frames)
        t_first = time.perf_counter() - t_first
        ref = run_direct()
        ref /= np.linalg.norm(ref, axis=1, keepdims=True)
        assert np.allclose(X1, ref, atol=1e-5), "zifviz and dscribe rows differ"
        t_direct = best(run_direct, args.repeat)[0]
        t_one = best(lambda: soap.transform(frames), args.repeat)[0]
        two = clone(soap).set_params(n_jobs=2)
        for _ in range(2):  # starts the worker pool; each worker perceives its frameworks
            assert np.array_equal(two.transform(frames), X1)
        t_two = best(lambda: two.transform(frames), args.repeat)[0]
        soap_module._IN_PLACE = False
        try:
            assert np.array_equal(two.transform(frames), X1)
            t_piped = best(lambda: two.transform(frames), args.repeat)[0]
        finally:
            soap_module._IN_PLACE = True
        print(f"{name:>10} {soap.n_features:>9} {t_direct:>13.2f} s {t_one:>14.2f} s "
              f"{t_two:>14.2f} s {100 * (t_one / t_direct - 1):>8.1f}% {t_one / t_two:>14.2f}× "
              f"{t_piped:>9.2f} s {t_one / t_piped:>12.2f}×")
        print(f"{'':>10} {'':>9} {n_zn / t_direct:>11.0f} Zn/s {n_zn / t_one:>10.0f} Zn/s "
              f"{n_zn / t_two:>10.0f} Zn/s   (first call {t_first:.2f} s)")
        if level == "AB2":
            # dscribe's own parallelism (joblib processes, rows sent back), for comparison
            def run_direct_two():
                return np.concatenate(direct.create(systems, centers=centres, n_jobs=2))

            run_direct_two()
            t_d1, t_d2 = t_direct, best(run_direct_two, args.repeat)[0]
            print(f"{'dscribe':>10} {'n_jobs=2':>9} {t_d2:>13.2f} s {'':>16} {'':>16} "
                  f"{'':>9} {t_d1 / t_d2:>14.2f}×   (dscribe's own n_jobs=2 vs its n_jobs=1)")
            t_cg = best(run_direct_cg, args.repeat)[0]
            print(f"{'AB2 +cg':>10} {soap.n_features:>9} {t_cg:>13.2f} s {t_one:>14.2f} s "
                  f"{t_two:>14.2f} s {100 * (t_one / t_cg - 1):>8.1f}% {t_one / t_two:>14.2f}×")


if __name__ == "__main__":
    main()
