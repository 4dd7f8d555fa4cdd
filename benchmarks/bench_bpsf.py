"""Seed 003's twelve symmetry functions: zifviz.descriptors.BPSF vs a plain numpy version.

Run: python benchmarks/bench_bpsf.py  (needs ../shared/data or ZIFVIZ_DATA_MIRROR)

Both compute the same 12 functions (Rc 13 Å, η 0.005–0.02 Bohr⁻², λ ±1, Zn only) from the
same vesin neighbour list, on ONE core (the process is pinned to one CPU): the numpy
reference loops over centres in Python and evaluates each centre's neighbour pairs as
arrays; BPSF runs one compiled numba loop. Printed side by side in one run (best of 5; the
machine may be shared, so compare the columns of one run): the 6×6×6 ZIF-4 (58,752 atoms,
3,456 Zn; seed 003's system size and the target of ≥ 20,000 Zn environments/s), the
neighbour list alone, and the whole phases demo (9,088 Zn in 608 small cells, where the
per-frame overhead counts). The two must agree to 1e-9 relative.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from _common import best, use_shared_data, pin_one_core  # noqa: E402

use_shared_data()
pin_one_core()

import zifviz  # noqa: E402
from zifviz.datasets import fetch_structure, load_demo  # noqa: E402
from zifviz.descriptors import BPSF  # noqa: E402
from zifviz.descriptors.symmetry import zn_neighbours  # noqa: E402


def numpy_reference(atoms, d: BPSF) -> np.ndarray:
    """The same functions with numpy, one centre at a time."""
    zn = atoms.positions[atoms.numbers == 30]
    start, vectors, distances = zn_neighbours(zn, atoms.cell.array, d.r_cut)
    etas = d.etas_per_A2
    lambdas = np.asarray(d.lambdas)
    out = np.zeros((len(zn), d.n_features))
    n_eta = len(etas)
    for i in range(len(zn)):
        v = vectors[start[i]:start[i + 1]]
        r = distances[start[i]:start[i + 1]]
        fc = 0.5 * (np.cos(np.pi * r / d.r_cut) + 1)
        r2 = r * r
        out[i, :n_eta] = np.exp(-np.outer(etas, r2)) @ fc
        a, b = np.triu_indices(len(r), 1)
        rjk2 = ((v[b] - v[a]) ** 2).sum(axis=1)
        keep = rjk2 < d.r_cut**2
        a, b, rjk2 = a[keep], b[keep], rjk2[keep]
        fjk = 0.5 * (np.cos(np.pi * np.sqrt(rjk2) / d.r_cut) + 1)
        weight = 2 * fc[a] * fc[b] * fjk
        cos = (v[a] * v[b]).sum(axis=1) / (r[a] * r[b])
        e = np.exp(-np.outer(etas, r2[a] + r2[b] + rjk2)) * weight   # (n_eta, pairs)
        ang = e @ (1 - np.outer(cos, lambdas))                        # (n_eta, n_lambda)
        out[i, n_eta:] = ang.ravel()
    return out


d = BPSF()
zif4 = zifviz.read(fetch_structure("widmer2019/ZIF4-FixedCell.cif"))
d.transform(zif4)  # compile (cached on disk after the first run)
print(f"one core: CPU {sorted(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else '?'}")

big = zif4.repeat(6)
n_zn = int((big.numbers == 30).sum())
zn = big.positions[big.numbers == 30]
t_nl, _ = best(lambda: zn_neighbours(zn, big.cell.array, d.r_cut))
t_ours, X = best(lambda: d.transform(big))
t_np, X_np = best(lambda: numpy_reference(big, d), repeat=2)
err = np.abs(X - X_np).max() / np.abs(X_np).max()
print(f"\n6x6x6 ZIF-4: {len(big)} atoms, {n_zn} Zn (best of 5; numpy best of 2)")
print(f"{'':<28} {'seconds':>9} {'Zn/s':>10} {'frames/s':>9}")
print(f"{'vesin neighbour list only':<28} {t_nl:>9.3f} {n_zn / t_nl:>10.0f} {1 / t_nl:>9.2f}")
print(f"{'zifviz BPSF (numba)':<28} {t_ours:>9.3f} {n_zn / t_ours:>10.0f} {1 / t_ours:>9.2f}")
print(f"{'numpy reference':<28} {t_np:>9.3f} {n_zn / t_np:>10.0f} {1 / t_np:>9.2f}")
print(f"BPSF / numpy speed-up: {t_np / t_ours:.1f}x   max relative difference {err:.1e}")

frames = list(load_demo("phases"))
n_env = sum(int((a.numbers == 30).sum()) for a in frames)
t_ours, X = best(lambda: d.transform(frames, progress=False), repeat=3)
t_np, X_np = best(lambda: np.concatenate([numpy_reference(a, d) for a in frames]), repeat=1)
err = np.abs(X - X_np).max() / np.abs(X_np).max()
print(f"\nphases demo: {len(frames)} frames, {n_env} Zn (best of 3; numpy 1 run)")
print(f"{'zifviz BPSF (numba)':<28} {t_ours:>9.3f} {n_env / t_ours:>10.0f}")
print(f"{'numpy reference':<28} {t_np:>9.3f} {n_env / t_np:>10.0f}")
print(f"BPSF / numpy speed-up: {t_np / t_ours:.1f}x   max relative difference {err:.1e}")
