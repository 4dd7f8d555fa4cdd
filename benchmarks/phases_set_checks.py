"""What a phases set is before a model sees it: per phase and source its density and Zn
coordination beside seed 003's Table 1, repeated frames, and whether the production runs drift
(an unequilibrated run shows the same sign of change in every run).

Run: python benchmarks/phases_set_checks.py [--data phases-full.extxyz.gz]
(default: the shipped demo set)

Drift: for every run, the mean of its second half minus the mean of its first half, of the Zn
density (per cent) and of the MOF-FF energy per Zn (meV); printed as the mean ± std over the
runs of each phase and source. A stationary run gives a mean near zero against its spread.
"""
import argparse

import numpy as np

from _common import use_shared_data  # noqa: E402

use_shared_data()

import zifviz  # noqa: E402
from zifviz.build_demo import phases_table  # noqa: E402
from zifviz.datasets import DemoSet, load_demo  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--data", default=None, help="a phases extxyz file (default: the demo set)")
args = parser.parse_args()
ds = DemoSet.open(args.data, name="phases") if args.data else load_demo("phases")
info = ds.frames_info.copy()
print(f"{ds.path.name}: {len(ds)} frames, {int(info['n_zn'].sum())} Zn environments, "
      f"{ds.path.stat().st_size / 1e6:.1f} MB")

table = phases_table(ds, zifviz.environment_table(ds, progress=True)).reset_index()
print("\n| phase | source | T (K) | P (MPa) | frames | Zn | ρ (Zn/nm³) | 4-coord. Zn | "
      "mean coord. | cell (Å, sorted) | seed 003 ρ nb-ZIF-FF NPT / MACE NVT |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for r in table.itertuples():
    print(f"| {r.phase} | {r.source} | {r.T_K:g} | {r.P_MPa:g} | {r.frames} | {r.n_zn} | "
          f"{r.density:.2f} ± {r.density_std:.2f} | {r.fraction_4coord:.3f} | "
          f"{r.mean_coord:.3f} | {r.cell_sorted_abc} | "
          f"{r.seed003_nbZIFFF_density} / {r.seed003_MACE_density} |")

digests = {ds.positions(i).tobytes() for i in range(len(ds))}
print(f"\nrepeated frames: {len(ds) - len(digests)} of {len(ds)} share their positions "
      "with another frame")

info["density"] = 1000.0 * info["n_zn"] / info["volume"]
info["e_per_zn"] = info["energy"] / info["n_zn"]
print("\ndrift per run (second half − first half; mean ± std over runs):")
print("| phase | source | runs | frames per run | Δρ (%) | ΔE (meV/Zn) | E std within a run "
      "(meV/Zn) |")
print("|---|---|---|---|---|---|---|")
for (phase, source), group in info.groupby(["phase", "source_set"], sort=False, observed=True):
    d_rho, d_e, spread, lengths = [], [], [], []
    for _, run in group.groupby("run", observed=True):
        run = run.sort_values("time")
        half = len(run) // 2
        first, second = run.iloc[:half], run.iloc[len(run) - half:]
        d_rho.append(100 * (second["density"].mean() / first["density"].mean() - 1))
        d_e.append(1000 * (second["e_per_zn"].mean() - first["e_per_zn"].mean()))
        spread.append(1000 * run["e_per_zn"].std())
        lengths.append(len(run))
    print(f"| {phase} | {source} | {len(lengths)} | {int(np.median(lengths))} | "
          f"{np.mean(d_rho):+.2f} ± {np.std(d_rho):.2f} | {np.mean(d_e):+.1f} ± "
          f"{np.std(d_e):.1f} | {np.mean(spread):.1f} |")
