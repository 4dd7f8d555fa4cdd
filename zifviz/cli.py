"""The ``zifviz`` command: label structures with MOF-FF and sample new ones.

::

    zifviz label FILE [-o OUT.extxyz] [--type-map 1=C,2=H,...] [--resume | --force]
    zifviz sample FILE --mode {minimise,nvt,npt,ramp,rattle} -o OUT.extxyz [options]

``label`` labels every frame of FILE (any format :func:`zifviz.read` reads; LAMMPS dumps
without elements need ``--type-map``) with per-atom MOF-FF energies, one typing and one
LAMMPS instance for the whole file (:class:`zifviz.mofff.MOFFFCalculator`), and prints, per
frame, the total energy and a summary of the per-Zn local-environment energies ε_local (eV).
With ``-o`` each labelled frame is written as soon as it is done
(:class:`zifviz.storage.FrameWriter`: ``OUT.partial.extxyz`` until the end); an error or
Ctrl-C keeps the finished frames and ``--resume`` continues from them. ``sample`` runs
:mod:`zifviz.sampling` on the last frame of FILE and streams labelled frames to OUT.extxyz.
An existing output is never replaced without ``--force`` (alias ``--overwrite``).

Batch commands for machine learning on users' files (every FILES argument: any number of
structure or trajectory files, frames in the order given)::

    zifviz describe FILES... --descriptor {soap,bpsf} --out X.npz      (+ X.csv, the table)
    zifviz train-gpr FILES... --level AB2 --r-cut 9 --sigma 0.2 --model gpr [--cv 5]
    zifviz train-classifier FILES... --descriptor bpsf --level A --model phases
    zifviz grid FILES... --level A --r-cut 4,6,8 --sigma 0.3,0.6 --out grid.csv
    zifviz classify TRAJ --model phases --out labelled.extxyz --fractions fractions.csv

They share ``--n-jobs N`` (local processes), ``--scheduler ADDRESS`` (a
``dask.distributed`` scheduler, e.g. ``tcp://host:8786``, or ``local:N`` for a LocalCluster
of N single-threaded worker processes on this machine) and ``-q/--quiet``; progress bars go
to stderr only when it is a terminal.

Exit status: 0 done, 2 bad input or usage (one line on stderr, ``zifviz COMMAND: error:
<file>: <problem>``), 130 interrupted; anything else (1) is a bug.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import signal
import sys
import threading
import warnings
from pathlib import Path

__all__ = ["main", "build_parser"]

MODES = ("minimise", "nvt", "npt", "ramp", "rattle")


def build_parser() -> argparse.ArgumentParser:
    from .cli_batch import MAIN_EPILOG, HelpFormatter, add_batch_commands

    parser = argparse.ArgumentParser(
        prog="zifviz", formatter_class=HelpFormatter,
        description="ZIF structures: label with MOF-FF (LAMMPS), sample, describe Zn "
                    "environments, train energy and phase models, classify trajectories.",
        epilog=MAIN_EPILOG)
    from . import __version__

    parser.add_argument("--version", action="version", version=f"zifviz {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("label", help="label every frame of a file with MOF-FF energies",
                       description="Label every frame of FILE with per-atom MOF-FF energies; "
                                   "print total energy and per-Zn ε_local summary per frame.")
    p.add_argument("file", metavar="FILE", help="structure or trajectory file")
    p.add_argument("-o", "--output", metavar="OUT.extxyz",
                   help="write the labelled frames here, each as soon as it is done "
                        "(extended XYZ)")
    p.add_argument("--format", help="ASE format of FILE, if its extension does not tell")
    p.add_argument("--type-map", metavar="T=EL,...", type=_type_map,
                   help="elements of LAMMPS atom types, for dumps without an element column, "
                        "e.g. 1=C,2=H,3=C,4=H,5=N,6=Zn")
    p.add_argument("--kspace", choices=("ewald", "pppm"), default="ewald",
                   help="long-range solver: ewald as in the MOF-FF reference (default), or "
                        "pppm, ~5x faster for large cells (per-atom energies agree to ~0.05 meV)")
    again = p.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true",
                       help="continue an interrupted run (skip the frames already in "
                            "OUT.partial.extxyz) or extend OUT")
    again.add_argument("--force", "--overwrite", dest="force", action="store_true",
                       help="replace OUT if it exists (only once the new run has finished)")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="no progress bar (shown only when stderr is a terminal)")

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
    s.add_argument("--force", "--overwrite", dest="force", action="store_true",
                   help="replace OUT if it exists")
    s.add_argument("--format", help="ASE format of FILE, if its extension does not tell")
    s.add_argument("-q", "--quiet", action="store_true",
                   help="no progress bar (shown only when stderr is a terminal)")
    sub.add_parser("build-demo", help="rebuild the demo datasets in data/ (see zifviz.build_demo)",
                   add_help=False)
    add_batch_commands(sub)
    e = sub.add_parser("export-html", help="a notebook as one static, offline HTML page",
                       description="Run NOTEBOOK (unless --no-execute) and write it as one "
                                   "offline HTML page: plotly figures and explorer maps stay "
                                   "interactive; 3D viewers become static snapshots "
                                   "(see zifviz.export).")
    e.add_argument("notebook", metavar="NOTEBOOK", help=".ipynb file")
    e.add_argument("out", metavar="OUT.html", help="page to write (atomically)")
    e.add_argument("--no-execute", dest="execute", action="store_false",
                   help="use the saved outputs instead of running the notebook")
    e.add_argument("--timeout", type=int, default=1200, help="seconds per cell (default 1200)")
    return parser


def _type_map(text: str) -> dict[int, str]:
    """``"1=C,2=H"`` -> ``{1: "C", 2: "H"}`` (an argparse type)."""
    from ase.data import atomic_numbers

    out = {}
    for item in filter(None, (x.strip() for x in text.split(","))):
        key, sep, element = item.partition("=")
        element = element.strip()
        try:
            t = int(key)
        except ValueError:
            t = None
        if not sep or t is None or element not in atomic_numbers:
            raise argparse.ArgumentTypeError(
                f"{item!r} is not TYPE=ELEMENT (e.g. 1=C,2=H,3=C,4=H,5=N,6=Zn)")
        out[t] = element
    if not out:
        raise argparse.ArgumentTypeError("empty type map")
    return out


@contextlib.contextmanager
def _holding_ctrl_c():
    """Hold Ctrl-C (SIGINT) until the block has run, so that a frame is never half written;
    the interrupt is raised as soon as the block ends."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received:
            raise KeyboardInterrupt


def _cli_hint(message: str) -> str:
    """Turn the library's keyword hints into the command's options."""
    return (message.replace("overwrite=True", "--force (--overwrite)")
            .replace("resume=True", "--resume"))


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


def _label_settings(args) -> dict:
    """What a resumed ``label`` run must share with the interrupted one."""
    from .mofff import KSPACE_ACCURACY

    return {"run": "label", "forcefield": "MOF-FF", "kspace_accuracy": KSPACE_ACCURACY,
            "kspace": args.kspace,
            "input": str(Path(args.file).resolve()), "format": args.format,
            "type_map": {str(k): v for k, v in sorted((args.type_map or {}).items())}}


def _skip_done(frames, n_done: int, last, source: str):
    """Skip the ``n_done`` frames already labelled, checking that the last of them is the
    frame written last (the input is the same file)."""
    import numpy as np

    from .errors import ResumeError

    seen = 0
    for atoms in frames:
        seen += 1
        if seen < n_done:
            continue
        if seen == n_done:
            if last is not None and (len(atoms) != len(last) or not np.allclose(
                    atoms.positions, last.positions, rtol=0, atol=1e-5)):
                raise ResumeError(f"frame {seen - 1} is not the last frame written; was the "
                                  "input changed? pass --force to start again", source)
            continue
        yield atoms
    if seen < n_done:
        raise ResumeError(f"has {seen} frames but {n_done} are already labelled; was the "
                          "input changed? pass --force to start again", source)


def _cmd_label(args) -> int:
    from tqdm.auto import tqdm

    from .cli_batch import show_progress

    from .errors import StructureFileError
    from .io import iread
    from .mofff import MOFFFCalculator
    from .storage import FrameWriter

    writer = None
    if args.output:
        writer = FrameWriter(args.output, resume=args.resume, overwrite=args.force,
                             settings=_label_settings(args))
    calc = MOFFFCalculator(kspace=args.kspace)
    index = writer.n_done if writer else 0
    try:
        frames = iread(args.file, format=args.format, type_map=args.type_map)
        if index:
            frames = _skip_done(frames, index, writer.last, args.file)
        first = next(frames, None)  # errors about the file come before any progress bar
        if first is None and not index:
            raise StructureFileError("contains no frames", args.file)
        if first is not None:
            frames = itertools.chain([first], frames)
            print(_summary_header())
            for atoms in tqdm(frames, desc="label", unit="frame", disable=not show_progress(args),
                              leave=False, initial=index):
                atoms.info.setdefault("source", Path(args.file).name)
                atoms.info.setdefault("source_file", str(args.file))
                atoms.info["frame"] = index
                labelled = calc.labelled(atoms)
                for key in ("spacegroup", "occupancy", "unit_cell"):  # not representable
                    labelled.info.pop(key, None)
                print(_summary_line(index, labelled, calc.last_topology), flush=True)
                if writer:
                    with _holding_ctrl_c():
                        writer.write(labelled)
                index += 1
        if writer:
            out = writer.finish()
            new = index - writer.n_done
            print(f"wrote {index} labelled frames to {out}"
                  + (f" ({new} new, {writer.n_done} resumed)" if writer.n_done else ""),
                  file=sys.stderr)
    except KeyboardInterrupt:
        if writer:
            writer.close()
            print(f"zifviz label: interrupted; {writer.n_frames} labelled frames kept in "
                  f"{writer.partial} (continue with --resume)", file=sys.stderr)
        else:
            print("zifviz label: interrupted", file=sys.stderr)
        return 130
    except BaseException:
        if writer:
            writer.close()
            if writer.n_frames:
                print(f"zifviz label: {writer.n_frames} labelled frames kept in "
                      f"{writer.partial} (continue with --resume)", file=sys.stderr)
        raise
    finally:
        calc.close()
    return 0


def _cmd_sample(args) -> int:
    try:
        return _run_sample(args)
    except KeyboardInterrupt:
        from .storage import partial_path

        partial = partial_path(args.output)
        kept = (f"; the finished frames are kept in {partial} (continue with --resume)"
                if partial.exists() else "")
        print(f"zifviz sample: interrupted{kept}", file=sys.stderr)
        return 130


def _run_sample(args) -> int:
    from . import sampling
    from .io import read
    from .topology import perceive

    atoms = read(args.file, format=args.format)
    topology = perceive(atoms, source=args.file)
    from .cli_batch import show_progress

    progress = show_progress(args)
    out = Path(args.output)
    if args.mode == "minimise":
        if out.exists() and not args.force:
            raise sampling.SamplingError("output file exists; pass --force (--overwrite) to "
                                         "replace it", str(out))
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
                                 overwrite=args.force, topology=topology, progress=progress)
    else:
        if args.mode == "ramp" and args.pressure_end is None:
            raise sampling.SamplingError("--mode ramp needs --pressure-end (MPa)")
        kwargs = dict(topology=topology, progress=progress, resume=args.resume,
                      overwrite=args.force, output=out)
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


def _cmd_export_html(args) -> int:
    from .export import export_html

    out = export_html(args.notebook, args.out, execute=args.execute, timeout=args.timeout)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the ``zifviz`` command line; returns the exit status (0 ok, 2 bad input,
    130 interrupted)."""
    from .cli_batch import BATCH_COMMANDS, run_batch
    from .errors import ZifvizError

    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["build-demo"]:
        from .build_demo import main as build_demo_main

        try:
            return build_demo_main(argv[1:])
        except ZifvizError as exc:  # e.g. an unreachable --scheduler
            print(f"zifviz build-demo: error: {' '.join(str(exc).split())}", file=sys.stderr)
            return 2
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "label" and (args.resume or args.force) and not args.output:
        parser.error("--resume and --force need -o/--output")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            if args.command == "label":
                return _cmd_label(args)
            if args.command in BATCH_COMMANDS:
                return run_batch(args)
            if args.command == "export-html":
                return _cmd_export_html(args)
            return _cmd_sample(args)
    except ZifvizError as exc:
        message = " ".join(_cli_hint(str(exc)).split())  # one line, whatever the message
        print(f"zifviz {args.command}: error: {message}", file=sys.stderr)
        return 2
    except OSError as exc:  # unwritable output, disk full, ...
        print(f"zifviz {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"zifviz {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
