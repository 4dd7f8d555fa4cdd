"""The ``zifviz`` command: label structures with MOF-FF and sample new ones.

::

    zifviz label FILE [-o OUT.extxyz]
    zifviz sample FILE --mode {minimise,nvt,npt,ramp,rattle} -o OUT.extxyz [options]

``label`` labels every frame of FILE (any format :func:`zifviz.read` reads) with per-atom
MOF-FF energies and prints, per frame, the total energy and a summary of the per-Zn
local-environment energies ε_local (eV). ``sample`` runs :mod:`zifviz.sampling` on the last
frame of FILE and streams labelled frames to OUT.extxyz. Problems with the input print one
line to stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import warnings
from pathlib import Path

__all__ = ["main", "build_parser"]

MODES = ("minimise", "nvt", "npt", "ramp", "rattle")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zifviz", description="Label ZIF structures with MOF-FF (LAMMPS) and sample new ones.")
    from . import __version__

    parser.add_argument("--version", action="version", version=f"zifviz {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("label", help="label every frame of a file with MOF-FF energies",
                       description="Label every frame of FILE with per-atom MOF-FF energies; "
                                   "print total energy and per-Zn ε_local summary per frame.")
    p.add_argument("file", metavar="FILE", help="structure or trajectory file")
    p.add_argument("-o", "--output", metavar="OUT.extxyz",
                   help="write the labelled frames here (extended XYZ; replaced if it exists)")
    p.add_argument("--format", help="ASE format of FILE, if its extension does not tell")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")

    s = sub.add_parser("sample", help="minimise, run MD or rattle with MOF-FF",
                       description="Sample from the last frame of FILE with MOF-FF and write "
                                   "the labelled frames to OUT.extxyz.")
    s.add_argument("file", metavar="FILE", help="starting structure")
    s.add_argument("--mode", required=True, choices=MODES)
    s.add_argument("-o", "--output", required=True, metavar="OUT.extxyz")
    s.add_argument("--temperature", type=float, default=300.0, help="K (default 300)")
    s.add_argument("--pressure", type=float, default=0.0,
                   help="MPa (npt; ramp start; minimise --relax-cell target; default 0)")
    s.add_argument("--pressure-end", type=float, help="MPa, end of the ramp (mode ramp)")
    s.add_argument("--steps", type=int, default=1000,
                   help="MD steps, or maximum minimisation iterations (default 1000)")
    s.add_argument("--every", type=int, default=100, help="frame every N MD steps (default 100)")
    s.add_argument("--timestep", type=float, default=0.5, help="fs (default 0.5)")
    s.add_argument("--n", type=int, default=10, help="number of rattled copies (default 10)")
    s.add_argument("--atom-sigma", type=float, default=0.05, help="Å, rattle (default 0.05)")
    s.add_argument("--cell-sigma", type=float, default=0.02, help="strain, rattle (default 0.02)")
    s.add_argument("--fmax", type=float, default=0.01, help="eV/Å, minimise (default 0.01)")
    s.add_argument("--relax-cell", action="store_true", help="minimise: relax the cell too")
    s.add_argument("--seed", type=int, default=None,
                   help="random seed (velocities for MD, default 12345; rattle, default 0)")
    s.add_argument("--resume", action="store_true",
                   help="MD: continue an interrupted run (OUT.partial.extxyz) or extend OUT")
    s.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    s.add_argument("--format", help="ASE format of FILE, if its extension does not tell")
    s.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    sub.add_parser("build-demo", help="rebuild the demo datasets in data/ (see zifviz.build_demo)",
                   add_help=False)
    return parser


def _summary_header() -> str:
    return (f"{'frame':>5} {'atoms':>6} {'n_Zn':>5} {'E_total/eV':>14} {'E/Zn/eV':>10} "
            f"{'eps_local: mean':>15} {'std':>8} {'min':>10} {'max':>10}")


def _summary_line(index: int, atoms, topology) -> str:
    import numpy as np

    from .energetics import local_energies

    eloc = local_energies(atoms.arrays["energies"], topology)
    e = atoms.info["energy"]
    return (f"{index:5d} {len(atoms):6d} {len(eloc):5d} {e:14.6f} {e / len(eloc):10.6f} "
            f"{eloc.mean():15.6f} {eloc.std():8.4f} {eloc.min():10.5f} {eloc.max():10.5f}"
            if len(eloc) else f"{index:5d} {len(atoms):6d} {0:5d} {e:14.6f}")


def _cmd_label(args) -> int:
    from tqdm.auto import tqdm

    from .errors import StructureFileError
    from .io import iread
    from .mofff import MOFFF
    from .sampling import _Writer
    from .topology import perceive

    writer = _Writer(Path(args.output), append=False) if args.output else None
    try:
        n = 0
        frames = iread(args.file, format=args.format)
        first = next(frames, None)  # errors about the file come before any progress bar
        if first is None:
            raise StructureFileError("contains no frames", args.file)
        frames = itertools.chain([first], frames)
        for i, atoms in enumerate(tqdm(frames, desc="label", unit="frame", disable=args.quiet,
                                       leave=False)):
            source = f"{args.file} (frame {i})"
            topology = perceive(atoms, source=source)
            labelled = MOFFF().label(atoms, topology)
            for key in ("spacegroup", "occupancy", "unit_cell"):  # not representable in extxyz
                labelled.info.pop(key, None)
            if i == 0:
                print(_summary_header())
            print(_summary_line(i, labelled, topology), flush=True)
            if writer:
                writer.write(labelled)
            n += 1
        if writer:
            writer.finish()
            print(f"wrote {n} labelled frames to {args.output}", file=sys.stderr)
    finally:
        if writer:
            writer.close()
            if writer.partial.exists():
                writer.partial.unlink()
    return 0


def _cmd_sample(args) -> int:
    from . import sampling
    from .io import read
    from .topology import perceive

    atoms = read(args.file, format=args.format)
    topology = perceive(atoms, source=args.file)
    progress = not args.quiet
    out = Path(args.output)
    if args.mode == "minimise":
        if out.exists() and not args.overwrite:
            raise sampling.SamplingError("output file exists; pass --overwrite to replace it",
                                         str(out))
        frame = sampling.minimise(atoms, relax_cell=args.relax_cell, fmax=args.fmax,
                                  max_steps=args.steps, pressure_mpa=args.pressure,
                                  topology=topology, progress=progress)
        from .io import write

        write(out, frame, format="extxyz")
        frames = [frame]
        state = "converged" if frame.info["converged"] else "NOT converged"
        print(f"minimised in {frame.info['step']} iterations ({state}, fmax "
              f"{frame.info['fmax']:.4f} eV/Å): E = {frame.info['energy']:.6f} eV", file=sys.stderr)
    elif args.mode == "rattle":
        frames = sampling.rattle(atoms, args.n, atom_sigma=args.atom_sigma,
                                 cell_sigma=args.cell_sigma,
                                 seed=0 if args.seed is None else args.seed, output=out,
                                 overwrite=args.overwrite, topology=topology, progress=progress)
    else:
        if args.mode == "ramp" and args.pressure_end is None:
            raise sampling.SamplingError("--mode ramp needs --pressure-end (MPa)")
        kwargs = dict(topology=topology, progress=progress, resume=args.resume,
                      overwrite=args.overwrite, output=out)
        if args.mode == "ramp":
            kwargs["pressure_end_mpa"] = args.pressure_end
        frames = sampling.run_md(atoms, "NVT" if args.mode == "nvt" else "NPT",
                                 temperature=args.temperature, pressure_mpa=args.pressure,
                                 steps=args.steps, every=args.every, timestep_fs=args.timestep,
                                 seed=12345 if args.seed is None else args.seed, **kwargs)
    last = frames[-1]
    a, b, c = last.cell.lengths()
    print(f"wrote {len(frames)} labelled frames to {out}; last: E = {last.info['energy']:.6f} eV, "
          f"cell {a:.3f} × {b:.3f} × {c:.3f} Å, V = {last.get_volume():.1f} Å³", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the ``zifviz`` command line; returns the exit status (0 ok, 2 bad input)."""
    from .errors import ZifvizError

    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["build-demo"]:
        from .build_demo import main as build_demo_main

        return build_demo_main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            if args.command == "label":
                return _cmd_label(args)
            return _cmd_sample(args)
    except ZifvizError as exc:
        print(f"zifviz {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # unwritable output, disk full, ...
        print(f"zifviz {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"zifviz {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
