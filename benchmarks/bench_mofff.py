"""Milliseconds per MOF-FF MD step (NVT Nosé–Hoover, 300 K, 0.5 fs) through LAMMPS.

Runs on the ZIF-4 cell of Castel & Coudert (Chem. Mater. 2023; CC BY 4.0) read from
``../shared/data`` (272 atoms) and its 2×2×2 supercell (2,176 atoms), plus the cost of one
full labelling call (typing + LAMMPS set-up + ``run 0``)::

    python benchmarks/bench_mofff.py [--steps 200]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import ase.io

from zifviz.mofff import MOFFF, label

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
REFERENCE = DATA / "mofff" / "castel2023_zif4" / "ZIF-4_supercell111.data"


def ms_per_step(atoms, steps: int) -> float:
    ff = MOFFF()
    lmp = ff.setup(atoms)
    lmp.commands_string(
        "timestep 0.5\n"
        "velocity all create 300.0 4928459 mom yes rot yes dist gaussian\n"
        "fix zifviz_nvt all nvt temp 300.0 300.0 50.0\n"
        "thermo 0\n"
        "run 20\n"  # warm-up: neighbour lists, Ewald set-up
    )
    t0 = time.perf_counter()
    lmp.command(f"run {steps}")
    dt = time.perf_counter() - t0
    temp = lmp.get_thermo("temp")
    ff.close()
    return 1e3 * dt / steps, temp


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    cell = ase.io.read(REFERENCE, format="lammps-data", atom_style="full", units="real")
    for name, atoms in (("1x1x1", cell), ("2x2x2", cell.repeat(2))):
        t0 = time.perf_counter()
        label(atoms)
        t_label = time.perf_counter() - t0
        ms, temp = ms_per_step(atoms, args.steps)
        print(f"{name}: {len(atoms):5d} atoms  label {t_label * 1e3:7.1f} ms  "
              f"MD {ms:7.2f} ms/step  (T after {args.steps} steps: {temp:.0f} K)")


if __name__ == "__main__":
    main()
