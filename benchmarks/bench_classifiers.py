"""Seed 003's two phase classifiers on the phases demo: descriptor, training and inference rates
side by side, and (with --accuracy) their accuracies at every level beside seed 003's.

Run: python benchmarks/bench_classifiers.py [--every N] [--epochs E] [--accuracy]
     (needs ../shared/data or ZIFVIZ_DATA_MIRROR)

Rates (one process, the machine may be shared: compare the rows of one run):

* descriptor: BPSF (12 Zn–Zn functions) and SOAP.seed003 (780 features, one channel) on the
  same frames (every N-th frame of the demo, default 4), Zn environments per second;
* training: ``PhaseClassifier.seed003(kind)`` with a fixed number of epochs (``--epochs``,
  default 30) on 80 % of those environments: seconds per epoch and environment-epochs per
  second; then the seed's full recipe time for BPSF (350 epochs);
* inference: ``predict_proba`` on every environment (best of 3), environments per second;
* a whole 6×6×6 ZIF-4 frame (58,752 atoms, 3,456 Zn) classified by the BPSF classifier
  (descriptor + network): frames per second (DESIGN target ≥ 5).

--accuracy: seed 003's recipes in full (SOAP: 100 ReLU, ≤ 1000 epochs; BPSF: 24 ReLU, 350
epochs; min–max scaling) on every N-th frame, stratified random 80/20 split and the block
split (last 20 % of every run held out), at the atomistic, AB2 and A levels; and the
cross-source table (train NPT / NVT / both, test NPT / NVT / all, random split) at the
atomistic level — printed beside seed 003's 98.6 % / 92.6 % and its Table 2. Slow (tens of
minutes with --every 1).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from _common import best, use_shared_data  # noqa: E402

use_shared_data()

import zifviz  # noqa: E402
from zifviz.datasets import DemoSet, fetch_structure, load_demo  # noqa: E402
from zifviz.phases import (PhaseClassifier, cross_source_table, evaluate,  # noqa: E402
                           random_split)

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--every", type=int, default=4, help="use every N-th frame of the demo")
parser.add_argument("--epochs", type=int, default=30, help="epochs of the rate measurement")
parser.add_argument("--accuracy", action="store_true", help="also the full accuracy report")
parser.add_argument("--data", type=Path, default=None,
                    help="a phases set to use instead of the shipped demo (e.g. a new build)")
parser.add_argument("--levels", nargs="+", default=["atomistic", "AB2", "A"],
                    help="levels of the accuracy report")
args = parser.parse_args()


ds = load_demo("phases") if args.data is None else DemoSet.open(args.data, name="phases")
frames = [ds[i] for i in range(0, len(ds), args.every)]
table = zifviz.environment_table(frames, progress=False)
y = table.phase.astype(str).to_numpy()
n = len(table)
print(f"{ds.path.name}, every {args.every}th frame: {len(frames)} frames, {n} Zn environments")

X = {}
PhaseClassifier.seed003("bpsf").descriptor.transform(frames[:1])  # load the compiled kernel
print(f"\n{'descriptor':<12} {'features':>9} {'seconds':>9} {'Zn/s':>9}")
for kind in ("bpsf", "soap"):
    descriptor = PhaseClassifier.seed003(kind).descriptor
    t, X[kind] = best(lambda: descriptor.transform(frames), repeat=1)
    print(f"{kind:<12} {X[kind].shape[1]:>9} {t:>9.2f} {n / t:>9.0f}")

train, test = random_split(table)
print(f"\ntraining {args.epochs} epochs on {len(train)} environments, predicting {n}")
print(f"{'classifier':<12} {'s/epoch':>9} {'env-epochs/s':>13} {'predict Zn/s':>13}")
for kind in ("bpsf", "soap"):
    model = PhaseClassifier.seed003(kind, max_iter=args.epochs, n_iter_no_change=None)
    start = time.perf_counter()
    model.fit(X[kind][train], y[train])
    t_fit = time.perf_counter() - start
    t_pred, _ = best(lambda: model.predict_proba(X[kind]), repeat=3)
    print(f"{kind:<12} {t_fit / args.epochs:>9.4f} {len(train) * args.epochs / t_fit:>13.0f} "
          f"{n / t_pred:>13.0f}")

start = time.perf_counter()
bpsf = PhaseClassifier.seed003("bpsf").fit(X["bpsf"][train], y[train])
print(f"BPSF, seed 003's recipe (350 epochs, {len(train)} environments): "
      f"{time.perf_counter() - start:.1f} s")

big = zifviz.read(fetch_structure("widmer2019/ZIF4-FixedCell.cif")).repeat(6)
t_big, out = best(lambda: bpsf.predict_proba([big]), repeat=3)
print(f"6x6x6 ZIF-4 frame ({len(big)} atoms, {len(out)} Zn) classified by BPSF: "
      f"{t_big:.3f} s = {1 / t_big:.1f} frames/s")

if args.accuracy:
    print("\naccuracy (%), seed 003's recipes; seed 003: SOAP 98.6, BPSF 92.6 (random 80/20)")
    print(f"{'classifier':<10} {'level':<10} {'random':>8} {'block':>8} {'epochs r/b':>11} "
          f"{'fit s r/b':>12}")
    for level in args.levels:
        for kind in ("soap", "bpsf"):
            if kind == "bpsf":
                Xl = X["bpsf"]  # Zn = A beads: the same values at every level
            elif level == "atomistic":
                Xl = X["soap"]
            else:
                Xl = PhaseClassifier.seed003("soap", level).descriptor.transform(frames)
            s = evaluate(lambda: PhaseClassifier.seed003(kind, level), Xl, table)
            print(f"{kind:<10} {level:<10} {100 * s.loc['random', 'accuracy']:>8.1f} "
                  f"{100 * s.loc['block', 'accuracy']:>8.1f} "
                  f"{s.epochs.iloc[0]:>5d}/{s.epochs.iloc[1]:<5d} "
                  f"{s.fit_seconds.iloc[0]:>6.0f}/{s.fit_seconds.iloc[1]:<5.0f}", flush=True)
    print("\ncross-source (%), atomistic, random split within each source "
          "(seed 003 Table 2, train FF1/FF2/both x test FF1/FF2/all:\n"
          "  SOAP 99.5 76.4 87.9 / 84.5 98.6 91.6 / 99.0 98.2 98.6;"
          " BPSF 98.4 64.4 81.4 / 64.9 90.0 77.4 / 98.0 87.9 92.6)")
    for kind in ("soap", "bpsf"):
        t = cross_source_table(X[kind], table, lambda: PhaseClassifier.seed003(kind),
                               source="ensemble")
        print(f"{kind}:\n{t.round(1).to_string()}", flush=True)
