"""Growth analysis on a 6×6×6 ZIF-4 frame: zifviz.growth vs plain Python graph walks.

Run: python benchmarks/bench_growth.py  (needs ../shared/data or ZIFVIZ_DATA_MIRROR)

On ONE core (the process is pinned to one CPU), for the 6×6×6 ZIF-4 (58,752 atoms, 3,456 Zn;
seed 003's system size), printed side by side in one run (best of 5; the machine may be
shared, so compare the columns of one run):

* building the net once: ``perceive``, ``zn_net`` (linker net), ``zn_net_from_distance``;
* ``four_rings`` (array joins of two-step paths) next to a Python walk of the periodic net
  one lifted Zn at a time (the obvious way); both must find the same rings;
* ``phase_clusters`` per frame for random labellings with 10/30/50/90 % of the Zn new and a
  slab, next to seed 003's method written plainly: a depth-first search over neighbouring new
  Zn in Python, unwrapping each Zn from the one it was reached from; both must give the same
  sizes, extents and percolation flags;
* ``ring_orientation`` per frame, and ``cluster_growth`` + ``ring_orientations`` per frame
  over 10 frames (thermal-noise copies, half the Zn new) from a list of Atoms.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from _common import best, use_shared_data, pin_one_core  # noqa: E402

use_shared_data()
pin_one_core()

import zifviz  # noqa: E402
from zifviz import growth  # noqa: E402
from zifviz.datasets import fetch_structure  # noqa: E402
from zifviz.geometry import minimum_image  # noqa: E402


def python_rings(net):
    """Four-rings by walking the lifted net from every Zn (sets of (rank, image))."""
    nb = {i: [] for i in range(net.n_zn)}
    for (i, j), s in zip(net.edges.tolist(), net.shifts.tolist()):
        nb[i].append((j, tuple(s)))
        nb[j].append((i, tuple(-x for x in s)))
    origin = (0, 0, 0)

    def add(a, b):
        return (a[0] + b[0], a[1] + b[1], a[2] + b[2])

    rings = set()
    for u in range(net.n_zn):
        for v, sv in nb[u]:
            for w, sw in nb[v]:
                sw = add(sv, sw)
                if (w, sw) == (u, origin):
                    continue
                for x, sx in nb[w]:
                    sx = add(sw, sx)
                    if (x, sx) in ((u, origin), (v, sv)):
                        continue
                    for y, sy in nb[x]:
                        if y == u and add(sx, sy) == origin:
                            nodes = [(u, origin), (v, sv), (w, sw), (x, sx)]
                            base = min(nodes)[1]
                            rings.add(frozenset((n, (s[0] - base[0], s[1] - base[1],
                                                     s[2] - base[2])) for n, s in nodes))
    return rings


def python_clusters(net, zn_positions, cell, is_new):
    """Seed 003's depth-first search, written plainly: (size, l_x, l_y, l_z, percolating)."""
    _, shifts = minimum_image(zn_positions[net.edges[:, 1]] - zn_positions[net.edges[:, 0]], cell)
    nb = {i: [] for i in range(net.n_zn)}
    for (i, j), s in zip(net.edges.tolist(), shifts.tolist()):
        if is_new[i] and is_new[j]:
            nb[i].append((j, np.array(s)))
            nb[j].append((i, -np.array(s)))
    inverse = np.linalg.inv(cell)
    lengths = np.linalg.norm(cell, axis=1)
    offset, out = {}, []
    for root in np.flatnonzero(is_new):
        if root in offset:
            continue
        offset[root] = np.zeros(3, dtype=int)
        stack, members, wraps = [root], [root], np.zeros(3, bool)
        while stack:
            u = stack.pop()
            for v, s in nb[u]:
                if v not in offset:
                    offset[v] = offset[u] + s
                    members.append(v)
                    stack.append(v)
                else:
                    wraps |= (offset[u] + s - offset[v]) != 0
        frac = np.array([(zn_positions[m] + offset[m] @ cell) @ inverse for m in members])
        extent = np.where(wraps, 1.0, frac.max(axis=0) - frac.min(axis=0)) * lengths
        out.append((len(members), *extent, bool(wraps.any())))
    return sorted(out, key=lambda r: -r[0])


def main():
    zif4 = zifviz.read(fetch_structure("widmer2019/ZIF4-FixedCell.cif"))
    atoms = zif4.repeat(6)
    print(f"6x6x6 ZIF-4: {len(atoms)} atoms, {int((atoms.numbers == 30).sum())} Zn, one core, "
          "best of 5\n")
    t_perceive, topo = best(lambda: zifviz.perceive(atoms), 3)
    t_net, net = best(lambda: growth.zn_net(topo))
    t_dnet, dnet = best(lambda: growth.zn_net_from_distance(atoms, 6.7))
    assert np.array_equal(dnet.edges, net.edges)
    print("build once")
    print(f"  {'perceive':<34} {t_perceive * 1e3:9.1f} ms")
    print(f"  {'zn_net (linker net)':<34} {t_net * 1e3:9.1f} ms   {net.n_edges} edges")
    print(f"  {'zn_net_from_distance(6.7 Å)':<34} {t_dnet * 1e3:9.1f} ms   same edges")

    t_rings, (ranks, images) = best(lambda: growth.four_rings(net, return_shifts=True))
    t_py_rings, ref = best(lambda: python_rings(net), 1)
    mine = {frozenset(zip(r.tolist(), map(tuple, (s - s[np.argmin(r)]).tolist())))
            for r, s in zip(ranks, images)}
    assert mine == ref, "four_rings and the Python walk disagree"
    print(f"  {'four_rings':<34} {t_rings * 1e3:9.1f} ms   {len(ranks)} rings; Python walk "
          f"{t_py_rings * 1e3:.0f} ms (x{t_py_rings / t_rings:.0f}), same rings")

    zn_pos = atoms.positions[topo.zn]
    cell = atoms.cell.array
    frac = atoms.cell.scaled_positions(zn_pos)
    rng = np.random.default_rng(0)
    cases = {f"random {int(p * 100)} % new": rng.random(net.n_zn) < p
             for p in (0.1, 0.3, 0.5, 0.9)}
    cases["slab 0.3 <= z < 0.6"] = (frac[:, 2] >= 0.3) & (frac[:, 2] < 0.6)
    print(f"\nper frame{'':<26} {'clusters':>9} {'largest':>8} {'zifviz':>10} "
          f"{'Python DFS':>11} {'ratio':>6}")
    for name, mask in cases.items():
        t_z, table = best(lambda: growth.phase_clusters(atoms, mask, net=net))
        t_p, ref = best(lambda: python_clusters(net, zn_pos, cell, mask), 1)
        got = sorted(zip(table["size"], table["l_x"], table["l_y"], table["l_z"],
                         table["percolating"]), key=lambda r: -r[0])
        assert [r[0] for r in got] == [r[0] for r in ref]
        assert sorted(got) == sorted(ref) or np.allclose(
            np.array(sorted(got), float), np.array(sorted(ref), float))
        print(f"  phase_clusters, {name:<26} {len(table):>5} {table['size'].max():>8} "
              f"{t_z * 1e3:8.1f} ms {t_p * 1e3:8.0f} ms {t_p / t_z:>5.0f}x")
    rings = growth.four_rings(net)
    t_orient, _ = best(lambda: growth.ring_orientation(atoms, rings, topo))
    print(f"  {'ring_orientation (864 rings)':<48} {t_orient * 1e3:8.1f} ms")

    frames = []
    for k in range(10):
        f = atoms.copy()
        f.positions += rng.normal(scale=0.1, size=f.positions.shape)
        f.wrap()
        f.info.update(frame=k, time=0.1 * k)
        frames.append(f)
    new = rng.random((10, net.n_zn)) < 0.5
    labels = pd.concat([pd.DataFrame({"trajectory": "bench", "frame": k, "time": 0.1 * k,
                                      "zn": topo.zn, "zn_rank": np.arange(net.n_zn),
                                      "label": np.where(new[k], "new", "old")})
                        for k in range(10)], ignore_index=True)
    t_growth, table = best(lambda: growth.cluster_growth(frames, labels, "new", topo,
                                                         progress=False), 3)
    t_ro, rtable = best(lambda: growth.ring_orientations(frames, labels, "new", topo,
                                                         progress=False), 3)
    print(f"\nover 10 frames (list of Atoms, 50 % new; net built once from the topology)")
    print(f"  {'cluster_growth':<34} {t_growth / 10 * 1e3:9.1f} ms per frame   "
          f"{len(table)} cluster rows")
    print(f"  {'ring_orientations':<34} {t_ro / 10 * 1e3:9.1f} ms per frame   "
          f"{len(rtable)} ring rows")


if __name__ == "__main__":
    main()
