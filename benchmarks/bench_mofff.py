"""MOF-FF through LAMMPS: ``label`` per frame with a reused calculator vs a fresh set-up per
frame, side by side, and milliseconds per MD step (NVT Nosé–Hoover, 300 K, 0.5 fs).

Runs on the ZIF-4 cell of Castel & Coudert (Chem. Mater. 2023; CC BY 4.0; 272 atoms, through
``zifviz.datasets.fetch_structure`` with ``../shared/data`` as the mirror when present), its
2×2×2 (2,176 atoms) and, with ``--big``, 6×6×6 (58,752 atoms) supercells. Frames are the
structure with its cell strained by up to 1 % and its atoms displaced by 0.03 Å (a different
frame each time, same connectivity)::

    python benchmarks/bench_mofff.py [--frames 5] [--steps 200] [--big]

"fresh" is what ``label(atoms)`` cost per structure before the calculator: perceive, type,
write a data file, start LAMMPS, ``run 0``. "reused" is :class:`zifviz.mofff.MOFFFCalculator`
(``label_frames``): a checked topology reuse, new cell and positions pushed into the running
LAMMPS, ``run 0``; "kspace=pppm" the same with PPPM instead of the reference Ewald sum
(same accuracy target). The first reused frame (which types and starts LAMMPS) is reported
apart; the paths alternate frame by frame so that all see the same load on a shared machine.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import ase.io
import numpy as np
from ase import Atoms

from zifviz.datasets import fetch_structure
from zifviz.mofff import MOFFF, MOFFFCalculator, assign_types
from zifviz.topology import perceive

REFERENCE_NAME = "mofff/castel2023_zif4/ZIF-4_supercell111.data"


def frames_of(atoms: Atoms, n: int, seed: int = 0) -> list[Atoms]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        f = Atoms(atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=True)
        eps = np.triu(rng.uniform(-0.01, 0.01, (3, 3)))
        f.set_cell(atoms.cell.array @ (np.eye(3) + (eps + eps.T) / 2), scale_atoms=True)
        f.positions += rng.normal(0.0, 0.03, f.positions.shape)
        out.append(f)
    return out


def fresh_label(atoms: Atoms) -> float:
    """Today's path before the calculator: perceive, type, new LAMMPS, run 0, close."""
    ff = MOFFF()
    try:
        ff.setup(atoms, perceive(atoms))
        return ff.energies()[1]
    finally:
        ff.close()


def ms_per_step(atoms, steps: int) -> tuple[float, float]:
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


def compare_label(name: str, atoms: Atoms, n_frames: int) -> None:
    frames = frames_of(atoms, n_frames + 1)
    t0 = time.perf_counter()
    topo = perceive(atoms)
    t_perceive = time.perf_counter() - t0
    t0 = time.perf_counter()
    assign_types(atoms, topo)
    t_type = time.perf_counter() - t0

    calc = MOFFFCalculator()
    pppm = MOFFFCalculator(kspace="pppm")
    t0 = time.perf_counter()
    calc.labelled(frames[0])
    t_first = time.perf_counter() - t0
    pppm.labelled(frames[0])
    fresh_t, fresh_e, reused_t, reused_e, pppm_t, pppm_e = [], [], [], [], [], []
    for f in frames[1:]:  # interleaved, so that all paths see the same machine load
        t0 = time.perf_counter()
        fresh_e.append(fresh_label(f))
        fresh_t.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        reused_e.append(calc.labelled(f).info["energy"])
        reused_t.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        pppm_e.append(pppm.labelled(f).info["energy"])
        pppm_t.append(time.perf_counter() - t0)
    calc.close()
    pppm.close()
    diff = float(np.max(np.abs(np.array(reused_e) - np.array(fresh_e)) / np.abs(fresh_e)))
    f_ms, r_ms = 1e3 * np.median(fresh_t), 1e3 * np.median(reused_t)
    print(f"{name}: {len(atoms):6d} atoms  label per frame (median of {n_frames}): "
          f"fresh {f_ms:9.1f} ms  reused {r_ms:9.1f} ms  ratio {f_ms / r_ms:6.1f}x  "
          f"(first reused frame {t_first * 1e3:.0f} ms; perceive {t_perceive * 1e3:.0f} ms, "
          f"typing {t_type * 1e3:.0f} ms; max rel. energy difference {diff:.1e}; "
          f"LAMMPS set-ups {calc.n_setups}, typings {calc.n_typings})", flush=True)
    p_ms = 1e3 * np.median(pppm_t)
    p_diff = np.abs(np.array(pppm_e) - np.array(fresh_e))
    print(f"{name}: {len(atoms):6d} atoms  reused with kspace=pppm {p_ms:9.1f} ms  "
          f"ratio to fresh {f_ms / p_ms:6.1f}x, to reused ewald {r_ms / p_ms:5.1f}x  "
          f"(energy difference to ewald: max {1e3 * p_diff.max() / len(atoms):.4f} meV/atom, "
          f"{float(np.max(p_diff / np.abs(fresh_e))):.1e} relative)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--frames", type=int, default=5)
    parser.add_argument("--big", action="store_true", help="also the 6x6x6 cell (58,752 atoms)")
    args = parser.parse_args()
    shared = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    if shared.is_dir():  # offline mirror beside the repository, as the tests use
        os.environ.setdefault("ZIFVIZ_DATA_MIRROR", str(shared))
    reference = fetch_structure(REFERENCE_NAME)
    ref = ase.io.read(reference, format="lammps-data", atom_style="full", units="real")
    cell = Atoms(ref.numbers, positions=ref.positions, cell=ref.cell, pbc=True)
    sizes = [("1x1x1", cell), ("2x2x2", cell.repeat(2))]
    if args.big:
        sizes.append(("6x6x6", cell.repeat(6)))
    for name, atoms in sizes:
        compare_label(name, atoms, args.frames if len(atoms) < 10_000 else min(args.frames, 2))
    for name, atoms in sizes[:2]:
        ms, temp = ms_per_step(atoms, args.steps)
        print(f"{name}: {len(atoms):6d} atoms  MD {ms:7.2f} ms/step  "
              f"(T after {args.steps} steps: {temp:.0f} K)", flush=True)


if __name__ == "__main__":
    main()
