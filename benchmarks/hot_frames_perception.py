"""How often perception refuses frames of a hot MOF-FF liquid, with and without closing the
imidazolate rings that one stretched bond leaves open (zifviz.topology.RING_STRETCH_FACTOR).

Run: python benchmarks/hot_frames_perception.py [--steps 20000] [--every 10] [--seeds 3 5]

From the first liquid frame of the shipped phases set (glass-03 start, 1500 K), NVT MOF-FF MD
at 1500 K, 0.5 fs steps, a frame every ``--every`` steps, one run per velocity seed; each frame
is perceived twice, as zifviz does and with the ring closure switched off.
Also printed: per element pair, the longest bond and the shortest non-bonded distance over the
run (bonds are the start's: MOF-FF never breaks one), i.e. the gap a distance rule has to fit in.
"""
import argparse
import time
import warnings
from collections import defaultdict

import numpy as np

from _common import use_shared_data  # noqa: E402

use_shared_data()

from vesin import NeighborList  # noqa: E402

from zifviz import perceive, sampling, topology  # noqa: E402
from zifviz.datasets import load_demo  # noqa: E402
from zifviz.errors import PerceptionError, UnderCoordinatedZnWarning  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--steps", type=int, default=20000)
parser.add_argument("--every", type=int, default=10)
parser.add_argument("--seeds", type=int, nargs="+", default=[3, 5])
args = parser.parse_args()
warnings.simplefilter("ignore", UnderCoordinatedZnWarning)

liquid = load_demo("phases").query("phase == 'liquid' and start == 'glass-03'")
start = liquid[0]
start_bonds = {tuple(p) for p in topology.covalent_bonds(start)[0].tolist()}
symbols = start.get_chemical_symbols()


def refused(frame, closure: bool) -> bool:
    saved = topology.RING_STRETCH_FACTOR
    topology.RING_STRETCH_FACTOR = saved if closure else 0.0
    try:
        perceive(frame)
        return False
    except PerceptionError:
        return True
    finally:
        topology.RING_STRETCH_FACTOR = saved


longest, shortest = defaultdict(float), defaultdict(lambda: np.inf)
print(f"start: the first liquid frame of the phases demo set from glass-03 ({len(start)} atoms)")
for seed in args.seeds:
    t0 = time.perf_counter()
    n = without = with_closure = 0
    for frame in sampling.iter_md(start, "NVT", temperature=1500.0, steps=args.steps,
                                  every=args.every, seed=seed, progress=True):
        n += 1
        without += refused(frame, closure=False)
        with_closure += refused(frame, closure=True)
        i, j, d = NeighborList(cutoff=2.6, full_list=False).compute(
            points=frame.positions, box=frame.cell.array, periodic=True, quantities="ijd")
        for a, b, x in zip(i.tolist(), j.tolist(), d.tolist()):
            a, b = min(a, b), max(a, b)
            pair = "-".join(sorted((symbols[a], symbols[b])))
            if (a, b) in start_bonds:
                longest[pair] = max(longest[pair], x)
            else:
                shortest[pair] = min(shortest[pair], x)
    ps = args.steps * 0.5 / 1000
    print(f"seed {seed}: {n} frames over {ps:g} ps, {args.every * 0.5:g} fs apart; refused with "
          f"rings left open: {without}; by zifviz.perceive: {with_closure} "
          f"({time.perf_counter() - t0:.0f} s)")

print("\n| pair | longest bond (Å) | shortest non-bonded (Å) | bond-rule cut-off (Å) |")
print("|---|---|---|---|")
numbers = {s: z for s, z in zip(symbols, start.numbers)}
for pair in sorted(set(longest) | set(shortest)):
    a, b = pair.split("-")
    cut = float(topology.bond_cutoffs(numbers[a], numbers[b]))
    print(f"| {pair} | {longest.get(pair, float('nan')):.3f} | {shortest[pair]:.3f} | {cut:.3f} |")
