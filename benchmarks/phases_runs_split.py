"""Seed 003's classifiers on a phases set with whole independent runs held out (the last
quarter of the runs of every phase and source, at least one: a split by structure) beside the
block split (the last 20 % of every run: a split by time), at every coarse-graining level,
with each phase's recall on the held-out runs.

Run: python benchmarks/phases_runs_split.py [--data phases-full.extxyz.gz] [--every N]
       [--n-jobs N]
(default: every frame of data/phases.extxyz.gz, where run 3 of 0-3 is held out; --every N
keeps every N-th frame of the set; --n-jobs: SOAP's processes)
"""
import argparse
import time
import warnings

import numpy as np

from _common import use_shared_data  # noqa: E402

use_shared_data()

import zifviz  # noqa: E402
from zifviz.datasets import load_demo  # noqa: E402
from zifviz.descriptors import BPSF, SOAP  # noqa: E402
from zifviz.phases import PhaseClassifier, accuracy, block_split  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--data", default=None, help="a phases extxyz file (default: the demo set)")
parser.add_argument("--every", type=int, default=1, help="every N-th frame of the set")
parser.add_argument("--n-jobs", type=int, default=1, help="SOAP's processes")
args = parser.parse_args()
warnings.simplefilter("ignore")
source = zifviz.Trajectory(args.data) if args.data else load_demo("phases")
frames = [source[i] for i in range(0, len(source), args.every)]  # decode only those kept
table = zifviz.environment_table(frames, progress=False)
y = table["phase"].astype(str).to_numpy()
run_of_frame = np.array([int(f.info["run"]) for f in frames])
table["run"] = run_of_frame[table["frame_pos"].to_numpy()]
n_runs = int(table["run"].max()) + 1
held_out = list(range(n_runs - max(1, n_runs // 4), n_runs))
test = np.flatnonzero(table["run"].isin(held_out).to_numpy())
train = np.flatnonzero(~table["run"].isin(held_out).to_numpy())
btr, bte = block_split(table)
print(f"{len(frames)} frames, {len(table)} Zn; runs {held_out} of 0-{n_runs - 1} held out: "
      f"train {len(train)}, test {len(test)}; block: test {len(bte)}")
for kind, level in [("soap", "atomistic"), ("soap", "AB2"), ("soap", "A"), ("bpsf", "atomistic")]:
    t = time.perf_counter()
    desc = SOAP.seed003(level, progress=False, n_jobs=args.n_jobs) if kind == "soap" else BPSF()
    X = desc.transform(frames)
    res, recall = [], ""
    for tr, te in ((train, test), (btr, bte)):
        clf = PhaseClassifier.seed003(kind, level).fit(X[tr], y[tr])
        predicted = clf.predict(X[te])
        res.append(100 * accuracy(y[te], predicted))
        if not recall:  # per phase on the held-out runs
            recall = ", ".join(f"{c} {100 * np.mean(predicted[y[te] == c] == c):.0f}"
                               for c in clf.classes_)
    print(f"{kind:5} {level:10} held-out runs {res[0]:5.1f} %   block {res[1]:5.1f} %   "
          f"({time.perf_counter() - t:.0f} s)\n      held-out runs, recall per phase (%): "
          f"{recall}", flush=True)
