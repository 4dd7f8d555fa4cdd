"""Perception and coarse-graining time for ZIF-4 supercells, next to the neighbour list alone.

Run: python benchmarks/bench_perception.py  (needs ../shared/data or ZIFVIZ_DATA_MIRROR)
Prints, for 1×1×1, 2×2×2 and 6×6×6 ZIF-4: the best of 3 timings of vesin's neighbour list
alone (the library used directly), of zifviz.perceive, of ASE's neighbour list (for
comparison), and of coarse_grain to AB2; and the ratio perceive / vesin.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from ase.neighborlist import neighbor_list
from vesin import NeighborList

import zifviz
from zifviz.datasets import fetch_structure

shared = Path(__file__).resolve().parents[2] / "shared" / "data"
if shared.is_dir():
    os.environ.setdefault("ZIFVIZ_DATA_MIRROR", str(shared))


def best(fn, repeat=3):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


zif4 = zifviz.read(fetch_structure("widmer2019/ZIF4-FixedCell.cif"))
print(f"{'cell':>6} {'atoms':>7} {'vesin NL':>10} {'perceive':>10} {'ASE NL':>10} "
      f"{'cg AB2':>10} {'perceive/vesin':>15}")
for n in (1, 2, 6):
    atoms = zif4.repeat(n)
    nl = NeighborList(cutoff=2.6, full_list=False)
    t_nl = best(lambda: nl.compute(atoms.positions, atoms.cell.array, True, quantities="ijSd"))
    t_p = best(lambda: zifviz.perceive(atoms))
    t_ase = best(lambda: neighbor_list("ijSd", atoms, 2.6), repeat=1 if n == 6 else 3)
    topo = zifviz.perceive(atoms)
    t_cg = best(lambda: zifviz.coarse_grain(atoms, "AB2", topo))
    print(f"{n}x{n}x{n:<2} {len(atoms):>7} {t_nl*1e3:>8.1f}ms {t_p*1e3:>8.1f}ms "
          f"{t_ase*1e3:>8.1f}ms {t_cg*1e3:>8.2f}ms {t_p/t_nl:>15.1f}")
