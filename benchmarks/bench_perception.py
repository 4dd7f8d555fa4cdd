"""Perception, checked reuse and per-level geometry for ZIF-4 supercells, side by side.

Run: python benchmarks/bench_perception.py  (needs ../shared/data or ZIFVIZ_DATA_MIRROR)

Part 1, for 1×1×1, 2×2×2 and 6×6×6 ZIF-4 (best of 3): vesin's neighbour list alone (the
library used directly), zifviz.perceive, ASE's neighbour list (for comparison), coarse_grain
to AB2; and the ratio perceive / vesin.

Part 2, for the 6×6×6 ZIF-4 (58,752 atoms, 3,456 Zn), with a topology perceived on a clean
frame and a second frame with 0.15 Å of noise (best of 10; the machine may be shared,
so compare the columns of one run): ``topology.at(frame)`` (the
checked reuse: atomic numbers, every bond, the cell), ``level_geometry`` at A, AB2 and
atomistic from float32 positions (what the viewer sends per frame), next to building the
same beads with ``coarse_grain`` + ``net_bonds`` (Atoms), and a fresh ``perceive``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
from ase.neighborlist import neighbor_list
from vesin import NeighborList

import zifviz
from zifviz.coarse import level_geometry
from zifviz.datasets import fetch_structure

from _common import best, use_shared_data  # noqa: E402

use_shared_data()


zif4 = zifviz.read(fetch_structure("widmer2019/ZIF4-FixedCell.cif"))
print(f"{'cell':>6} {'atoms':>7} {'vesin NL':>10} {'perceive':>10} {'ASE NL':>10} "
      f"{'cg AB2':>10} {'perceive/vesin':>15}")
for n in (1, 2, 6):
    atoms = zif4.repeat(n)
    nl = NeighborList(cutoff=2.6, full_list=False)
    t_nl = best(lambda: nl.compute(atoms.positions, atoms.cell.array, True, quantities="ijSd"),
                repeat=3)[0]
    t_p = best(lambda: zifviz.perceive(atoms), repeat=3)[0]
    t_ase = best(lambda: neighbor_list("ijSd", atoms, 2.6), repeat=1 if n == 6 else 3)[0]
    topo = zifviz.perceive(atoms)
    t_cg = best(lambda: zifviz.coarse_grain(atoms, "AB2", topo), repeat=3)[0]
    print(f"{n}x{n}x{n:<2} {len(atoms):>7} {t_nl*1e3:>8.1f}ms {t_p*1e3:>8.1f}ms "
          f"{t_ase*1e3:>8.1f}ms {t_cg*1e3:>8.2f}ms {t_p/t_nl:>15.1f}")

print("\n6x6x6 ZIF-4, second frame with 0.15 Å noise, topology of the first frame (best of 10; coarse_grain best of 5)")
big = zif4.repeat(6)
topo = zifviz.perceive(big)
frame = big.copy()
frame.positions += np.random.default_rng(0).normal(scale=0.15, size=frame.positions.shape)
frame.wrap()
pos32, cell = frame.positions.astype(np.float32), frame.cell.array
t_perceive = best(lambda: zifviz.perceive(big), repeat=3)[0]  # the noisy frame has overlaps
t_at = best(lambda: topo.at(frame), repeat=10)[0]
print(f"{'perceive (clean frame)':<34} {t_perceive*1e3:>8.1f} ms")
print(f"{'topology.at(frame) (checked reuse)':<34} {t_at*1e3:>8.1f} ms   "
      f"perceive / at = {t_perceive / t_at:.0f}x")
print(f"{'level':>10} {'level_geometry':>15} {'coarse_grain+net_bonds':>23} {'ratio':>7}")
for level in ("A", "AB2", "atomistic"):
    t_lg = best(lambda: level_geometry(topo, pos32, cell, level), repeat=10)[0]

    def via_atoms():
        reused = topo.at(frame)
        zifviz.coarse_grain(frame, level, reused)
        zifviz.net_bonds(reused, level)

    t_cg = best(via_atoms, repeat=5)[0]
    print(f"{level:>10} {t_lg*1e3:>12.2f} ms {t_cg*1e3:>20.1f} ms {t_cg / t_lg:>6.1f}x")
