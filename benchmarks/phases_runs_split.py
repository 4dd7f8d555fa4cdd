"""Seed 003's classifiers on the phases demo with whole independent runs held out (run 3 of
every phase and source: a split by structure) beside the block split (the last 20 % of every
run: a split by time), at every coarse-graining level.

Run: python benchmarks/phases_runs_split.py   (every frame of data/phases.extxyz.gz)
"""
import time
import warnings

import numpy as np

from _common import use_shared_data  # noqa: E402

use_shared_data()

import zifviz  # noqa: E402
from zifviz.datasets import load_demo  # noqa: E402
from zifviz.descriptors import BPSF, SOAP  # noqa: E402
from zifviz.phases import PhaseClassifier, accuracy, block_split  # noqa: E402

warnings.simplefilter("ignore")
frames = list(load_demo("phases"))
table = zifviz.environment_table(frames, progress=False)
y = table["phase"].astype(str).to_numpy()
run_of_frame = np.array([int(f.info["run"]) for f in frames])
table["run"] = run_of_frame[table["frame_pos"].to_numpy()]
test = np.flatnonzero(table["run"].to_numpy() == 3)
train = np.flatnonzero(table["run"].to_numpy() != 3)
btr, bte = block_split(table)
print(f"{len(table)} Zn; run-3 split: train {len(train)}, test {len(test)}; block: test {len(bte)}")
for kind, level in [("soap", "atomistic"), ("soap", "AB2"), ("soap", "A"), ("bpsf", "atomistic")]:
    t = time.perf_counter()
    desc = SOAP.seed003(level, progress=False) if kind == "soap" else BPSF()
    X = desc.transform(frames)
    res = []
    for tr, te in ((train, test), (btr, bte)):
        clf = PhaseClassifier.seed003(kind, level).fit(X[tr], y[tr])
        res.append(100 * accuracy(y[te], clf.predict(X[te])))
    print(f"{kind:5} {level:10} held-out runs {res[0]:5.1f} %   block {res[1]:5.1f} %   "
          f"({time.perf_counter() - t:.0f} s)", flush=True)
