"""Speed-up of 2 Dask workers over 1: SOAP over frames and a few grid points, side by side.

Run: python benchmarks/bench_dask.py [--frames 240] [--repeat 3] [--points 4]

Two ``LocalCluster`` s are up at once, one with 1 and one with 2 single-threaded worker
processes (``threads_per_worker=1``), both warmed by an untimed first call; the timed calls
alternate between them (repeat 1: one worker, two workers; repeat 2: ...) so that a change
in the machine's load falls on both, and the best of ``--repeat`` is kept. Rows:

* ``SOAP seed 000``: ``SOAP.seed000("atomistic", 5.0, 0.5)`` (16,470 features: ~1 MB of
  float32 per 16-Zn frame goes back to the client) over ``--frames`` frames of the demo
  energies set (one per framework: 136–544 atoms);
* ``SOAP seed 003``: ``SOAP.seed003()`` (780 features, r_cut 9 Å: compute-bound);
* ``results only``: tasks returning seed 000's rows for 8 frames each (16-Zn frames) without
  computing anything: the cost of moving the results, as one stacked array per chunk (what
  SOAP's workers return) and as a list of per-frame arrays (what they returned before; Dask
  pickles such a list in-band);
* ``grid``: ``grid_search`` of ``--points`` (r_cut, σ) points at the A level (SOAP n_max 8,
  l_max 6, 5 grouped folds of seed 000's GPR on 2,000 training rows) on the same frames: one
  task per point.

Printed per row: seconds in this process (no cluster), with 1 worker, with 2 workers, the
speed-up 1 worker ÷ 2 workers (ideal 2.0 on an idle 2-core machine), and the cores the
workers used during those calls (their CPU seconds ÷ wall seconds): on an idle machine about
1 and 2; less means other processes held the cores, which bounds the speed-up. The machine's
load average is printed before and after, and first, as a ceiling, the cores that one and
two workers running a pure-Python busy loop for 3 s get.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
import warnings
from pathlib import Path

import numpy as np

from _common import use_shared_data  # noqa: E402

use_shared_data()

import zifviz  # noqa: E402
from zifviz.datasets import load_demo  # noqa: E402
from zifviz.descriptors import SOAP  # noqa: E402


def _spin(seconds):
    """A pure-Python busy loop for ``seconds`` of wall time; returns the CPU seconds it got."""
    start, cpu = time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds:
        pass
    return time.process_time() - cpu


def _stacked(n_frames, shape):
    """What a SOAP chunk task returns: positions, row counts, the rows stacked."""
    return (np.arange(n_frames), np.full(n_frames, shape[0]),
            np.ones((n_frames * shape[0], shape[1]), dtype=np.float32))


def _per_frame(n_frames, shape):
    """What it returned before: a list of (position, rows) per frame."""
    return [(k, np.ones(shape, dtype=np.float32)) for k in range(n_frames)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=240)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--points", type=int, default=4, help="grid points (A level)")
    args = parser.parse_args()

    from distributed import Client, LocalCluster

    from zifviz.gpr import GPR
    from zifviz.gridsearch import grid_search

    warnings.simplefilter("ignore", zifviz.ZifvizWarning)
    ds = load_demo("energies")
    info = ds.frames_info  # one frame per framework first: many groups for the grouped CV
    order = list(info.drop_duplicates("framework").index) + list(
        info.index.difference(info.drop_duplicates("framework").index))
    frames = [ds[info.index.get_loc(i)] for i in order[:args.frames]]
    n_zn = sum(int((f.numbers == 30).sum()) for f in frames)
    print(f"{len(frames)} frames, {n_zn} Zn environments, {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f}")

    seed000 = SOAP.seed000("atomistic", 5.0, 0.5, progress=False)
    seed003 = SOAP.seed003(progress=False)
    r_cuts = [4.0, 6.0, 8.0, 10.0][:max(1, args.points // 2)]
    sigmas = [0.5, 1.0][:max(1, args.points // len(r_cuts))]
    grid_kwargs = dict(n_max=8, l_max=6, n_splits=5, estimator=GPR(), progress=False,
                       n_train=2000)
    rows_per_frame = seed000.transform(frames[:1]).shape

    def results_only(client, task):
        chunks = -(-len(frames) // 8)
        futures = client.map(task, [8] * chunks, [rows_per_frame] * chunks, pure=False)
        return client.gather(futures)

    cases = {
        f"SOAP seed 000 ({seed000.n_features} features)":
            lambda client: seed000.transform(frames, client=client),
        f"SOAP seed 003 ({seed003.n_features} features)":
            lambda client: seed003.transform(frames, client=client),
        "results only, stacked per chunk": lambda client: results_only(client, _stacked),
        "results only, list per frame": lambda client: results_only(client, _per_frame),
        f"grid ({len(r_cuts) * len(sigmas)} points, A)":
            lambda client: grid_search(frames, "A", r_cuts, sigmas, client=client,
                                       **grid_kwargs),
    }

    quiet = dict(threads_per_worker=1, processes=True, dashboard_address=None,
                 silence_logs=logging.ERROR)
    with LocalCluster(n_workers=1, **quiet) as c1, Client(c1) as one, \
            LocalCluster(n_workers=2, **quiet) as c2, Client(c2) as two:
        # the ceiling: how many cores one and two busy workers get from the machine right now
        got = {n: sum(c.gather(c.map(_spin, [3.0] * n, pure=False))) / 3.0
               for n, c in ((1, one), (2, two))}
        print(f"busy loops: 1 worker got {got[1]:.2f} cores, 2 workers {got[2]:.2f}: the best "
              f"2 vs 1 speed-up the machine allows now is {got[2] / got[1]:.2f}×")
        print(f"{'':>34} {'this process':>13} {'1 worker':>10} {'2 workers':>10} "
              f"{'2 vs 1 worker':>14} {'cores used 1 / 2':>17}")
        for name, run in cases.items():
            in_process = None
            if not name.startswith("results"):
                t = time.perf_counter()
                reference = run(None)
                in_process = time.perf_counter() - t
            for client in (one, two):  # warm: workers import, dscribe set up
                run(client)
            t1, t2 = [], []  # (wall seconds, cores the workers used: their CPU s / wall)
            for _ in range(args.repeat):
                for client, times in ((one, t1), (two, t2)):
                    cpu = sum(client.run(time.process_time).values())
                    t = time.perf_counter()
                    result = run(client)
                    wall = time.perf_counter() - t
                    cpu = sum(client.run(time.process_time).values()) - cpu
                    times.append((wall, cpu / wall))
                if name.startswith("SOAP"):
                    assert np.array_equal(result, reference), "Dask rows differ from serial"
            (w1, c1_used), (w2, c2_used) = min(t1), min(t2)
            here = f"{in_process:>11.2f} s" if in_process is not None else f"{'':>13}"
            print(f"{name:>34} {here} {w1:>8.2f} s {w2:>8.2f} s {w1 / w2:>13.2f}× "
                  f"{c1_used:>10.2f} / {c2_used:.2f}")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
