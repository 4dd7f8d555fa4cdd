"""The batch subcommands of ``zifviz``: describe, train-gpr, train-classifier, grid, classify.

Each reads any number of structure or trajectory files (frames in the order given, read
lazily through :class:`zifviz.Trajectory`), runs the package's own functions, writes its
outputs atomically and prints a short summary on stdout. :func:`add_batch_commands` adds them
to the ``zifviz`` parser (:mod:`zifviz.cli`); :func:`run_batch` runs one.

Long loops run in ``--n-jobs`` local processes or on a Dask cluster (``--scheduler``): a
scheduler address such as ``tcp://10.0.0.5:8786`` (e.g. one started by dask-jobqueue's
``SLURMCluster``), or ``local:N`` for a LocalCluster of N single-threaded worker processes.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["BATCH_COMMANDS", "MAIN_EPILOG", "FileFrames", "add_batch_commands", "run_batch",
           "show_progress", "dask_client"]

BATCH_COMMANDS = ("describe", "train-gpr", "train-classifier", "grid", "classify")

CONNECT_TIMEOUT = "20s"
"""How long ``--scheduler ADDRESS`` waits for the scheduler to answer."""

MAIN_EPILOG = """\
examples:
  zifviz label traj.extxyz -o labelled.extxyz          per-atom MOF-FF energies
  zifviz describe a.extxyz b.cif --level AB2 --r-cut 9 --sigma 0.2 --out X.npz
  zifviz train-gpr hzif.extxyz.gz --level A --r-cut 10 --sigma 1 --cv 5 --model gpr-A
  zifviz train-classifier phases.extxyz.gz --descriptor bpsf --level A --model phases
  zifviz grid hzif.extxyz.gz --level A --r-cut 6,8,10 --sigma 0.5,1 --out grid.csv
  zifviz classify run.extxyz --model phases --out labelled.extxyz --fractions f.csv
  zifviz COMMAND --help                                 options of one command

Dask: --scheduler tcp://HOST:8786 runs the long loops on a dask.distributed cluster
(e.g. dask-jobqueue's SLURMCluster); --scheduler local:2 on two local worker processes.

exit status:
  0    done
  2    bad input or usage: one line on stderr, "zifviz COMMAND: error: <file>: <problem>"
  130  interrupted (Ctrl-C); finished work is kept where the command says
  1    anything else is a bug (a traceback): please report it
"""


# ---- shared pieces ---------------------------------------------------------------------------

def show_progress(args) -> bool:
    """Progress bars only when asked for (no ``--quiet``) and stderr is a terminal."""
    return not getattr(args, "quiet", False) and sys.stderr.isatty()


class FileFrames(Sequence):
    """The frames of several files as one lazy sequence (``len``, ``[i]``, iteration).

    Every file is opened with :class:`zifviz.Trajectory` (a missing or unreadable file raises
    a :class:`~zifviz.errors.StructureFileError` naming it); frames carry
    ``info["source_file"]`` and ``info["frame"]`` (index in their file).
    """

    def __init__(self, paths: Sequence[str | os.PathLike], format: str | None = None):
        from .errors import StructureFileError
        from .io import Trajectory

        if not paths:
            raise StructureFileError("no input files given")
        self.trajectories = [Trajectory(p, format=format) for p in paths]
        lengths = []
        for traj in self.trajectories:
            n = len(traj)
            if n == 0:
                raise StructureFileError("contains no frames", str(traj.path))
            traj[0]  # a file that is not a structure file fails here, before any work
            lengths.append(n)
        self._ends = np.cumsum(lengths)

    def __len__(self) -> int:
        return int(self._ends[-1])

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        i = int(i)
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(f"frame {i} of {len(self)}")
        k = int(np.searchsorted(self._ends, i, side="right"))
        start = 0 if k == 0 else int(self._ends[k - 1])
        return self.trajectories[k][i - start]

    def __iter__(self):
        for traj in self.trajectories:
            yield from traj


@contextlib.contextmanager
def dask_client(address: str | None, n_jobs: int = 1):
    """A ``dask.distributed.Client`` for ``--scheduler`` (None: no client).

    ``address``: a scheduler address (``tcp://host:8786``, a scheduler file path ending in
    ``.json``) or ``local[:N]``: a LocalCluster of N (default ``n_jobs``) single-threaded
    worker processes, closed at the end.
    """
    from .errors import ZifvizError

    if not address:
        yield None
        return
    try:
        from distributed import Client, LocalCluster
    except ImportError:  # pragma: no cover - distributed is a dependency
        raise ZifvizError("--scheduler needs dask.distributed (pip install distributed)") from None
    cluster = None
    if address == "local" or address.startswith("local:"):
        count = address.partition(":")[2]
        try:
            n = int(count) if count else max(1, int(n_jobs))
        except ValueError:
            raise ZifvizError(f"--scheduler {address}: local:N needs a number of workers") from None
        if n < 1:
            raise ZifvizError(f"--scheduler {address}: needs at least one worker")
        import logging

        # the workers' own logs stay quiet: a task's error reaches the command as an exception
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, dashboard_address=None,
                               silence_logs=logging.CRITICAL)
        client = Client(cluster)
    else:
        try:
            if address.endswith(".json"):
                client = Client(scheduler_file=address, timeout=CONNECT_TIMEOUT)
            else:
                client = Client(address, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError, ValueError) as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise ZifvizError(f"cannot connect to the Dask scheduler ({reason})",
                              address) from None
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _refuse_existing(paths: Sequence[Path], force: bool) -> None:
    from .errors import OutputExistsError

    for path in paths:
        if path.exists() and not force:
            raise OutputExistsError("output file exists; pass --force (--overwrite) to replace "
                                    "it", str(path))


def _floats(text: str) -> list[float]:
    """``"4,6,8"`` or ``"4:8:2"`` (start:stop:step, stop included) -> floats (argparse type)."""
    try:
        if ":" in text:
            start, stop, step = (float(x) for x in text.split(":"))
            if step <= 0:
                raise ValueError
            n = int(np.floor((stop - start) / step + 1e-9)) + 1
            return [round(start + k * step, 6) for k in range(max(n, 0))]
        values = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a list of numbers (e.g. 4,6,8 or 4:8:2)") from None
    if not values:
        raise argparse.ArgumentTypeError("empty list")
    return values


def _write_npz(path: Path, **arrays) -> None:
    from .storage import atomic_write

    with atomic_write(path, "wb") as fh:
        np.savez(fh, **arrays)


def _write_csv(path: Path, table) -> None:
    from .storage import atomic_write

    with atomic_write(path) as fh:
        table.to_csv(fh, index=False)


def _with_labels(table, frames, keys: Sequence[str]):
    """Add per-frame ``info`` keys that the environment table does not carry (e.g. a user's
    own label column) to ``table`` (a copy); missing values stay NaN."""
    missing = [k for k in keys if k and k not in table.columns]
    if not missing:
        return table
    values = {k: [] for k in missing}
    for atoms in frames:
        for k in missing:
            values[k].append(atoms.info.get(k))
    table = table.copy()
    pos = table["frame_pos"].to_numpy()
    for k in missing:
        column = np.asarray(values[k], dtype=object)[pos]
        if all(v is None for v in column):
            continue
        table[k] = column
    return table


def _descriptor(args, progress: bool):
    """The descriptor the options ask for (SOAP or BPSF), checked."""
    from .descriptors import BPSF, SOAP
    from .descriptors.symmetry import SEED003_R_CUT
    from .errors import ZifvizError

    kind = getattr(args, "descriptor", "soap")
    preset = getattr(args, "preset", None)
    if kind == "bpsf":
        extra = [name for name, value in (("--sigma", args.sigma), ("--n-max", args.n_max),
                                          ("--l-max", args.l_max)) if value is not None]
        if extra or preset == "seed000":
            raise ZifvizError("BPSF (seed 003's symmetry functions) takes only --level and "
                              f"--r-cut, not {', '.join(extra) or '--preset seed000'}")
        return BPSF(args.level, r_cut=SEED003_R_CUT if args.r_cut is None else args.r_cut,
                    progress=progress)
    common = {"progress": progress, "n_jobs": args.n_jobs}
    if preset == "seed003":
        fixed = [name for name, value in (("--r-cut", args.r_cut), ("--n-max", args.n_max),
                                          ("--l-max", args.l_max)) if value is not None]
        if fixed:
            raise ZifvizError("--preset seed003 fixes r_cut 9 Å, n_max 12, l_max 9 (drop "
                              f"{', '.join(fixed)})")
        if args.sigma is not None:
            common["sigma"] = args.sigma
        return SOAP.seed003(args.level, **common)
    for name, value in (("--n-max", args.n_max), ("--l-max", args.l_max)):
        if value is not None:
            common[name[2:].replace("-", "_")] = value
    return SOAP.seed000(args.level, 5.0 if args.r_cut is None else args.r_cut,
                        0.5 if args.sigma is None else args.sigma, **common)


def _transform(descriptor, frames, client):
    """Descriptor rows of ``frames``, on ``client`` when given."""
    if client is None:
        return np.asarray(descriptor.transform(frames))
    return np.asarray(descriptor.transform(frames, client=client))


def _environments(frames, progress: bool, keys: Sequence[str] = ()):
    from .environments import environment_table

    return _with_labels(environment_table(frames, progress=progress), frames, keys)


def _group_column(table, wanted: str | None) -> str:
    from .errors import ZifvizError

    if wanted:
        if wanted not in table.columns:
            raise ZifvizError(f"--group-by {wanted}: the environment table has no such column "
                              f"(columns: {', '.join(map(str, table.columns))})")
        return wanted
    return "framework" if "framework" in table.columns else "structure_id"


def _target(table, target: str, frames) -> np.ndarray:
    from .errors import ZifvizError

    if target not in table.columns:
        first = frames[0].info.get("source_file", "the input")
        raise ZifvizError(f"no {target} values: the frames have no per-atom energies "
                          "(arrays['energies']; label them with 'zifviz label')", str(first))
    y = table[target].to_numpy(float)
    bad = ~np.isfinite(y)
    if bad.any():
        where = table.loc[bad, "source_file"].iloc[0] if "source_file" in table else None
        raise ZifvizError(f"{int(bad.sum())} environments have no {target} (frames without "
                          "per-atom energies)", None if where is None else str(where))
    return y


# ---- the commands ------------------------------------------------------------------------------

def _cmd_describe(args, client) -> int:
    progress = show_progress(args)
    out = Path(args.out)
    table_path = out.with_suffix(".csv")
    _refuse_existing([out, table_path], args.force)
    frames = FileFrames(args.files, args.format)
    descriptor = _descriptor(args, progress)
    table = _environments(frames, progress)
    X = _transform(descriptor, frames, client)
    import json

    _write_npz(out, X=X, config=np.array(json.dumps(descriptor.config)))
    _write_csv(table_path, table)
    print(f"{len(frames)} frames, {len(table)} Zn environments x {X.shape[1]} features "
          f"({type(descriptor).__name__}, level {descriptor.level})")
    print(f"wrote {out} (X, config) and {table_path} (row k = row k of X)", file=sys.stderr)
    return 0


def _cmd_train_gpr(args, client) -> int:
    from .gpr import GPR
    from .validation import cross_validate

    from .gpr import _paths as model_paths

    progress = show_progress(args)
    _refuse_existing(model_paths(args.model), args.force)
    frames = FileFrames(args.files, args.format)
    args.descriptor, args.preset = "soap", "seed000"
    soap = _descriptor(args, progress)
    table = _environments(frames, progress)
    y = _target(table, args.target, frames)
    X = _transform(soap, frames, client)
    estimator = GPR(noise=args.noise, solver=args.solver)
    n_train = args.n_train
    print(f"{len(frames)} frames, {len(table)} Zn environments, target {args.target}; SOAP "
          f"{soap.level} r_cut {soap.r_cut:g} Å, sigma {soap.sigma:g} Å, {X.shape[1]} features")
    if args.cv:
        group_by = _group_column(table, args.group_by)
        result = cross_validate(X, y, table[group_by].astype(str).to_numpy(), estimator,
                                n_splits=args.cv, n_train=n_train, progress=progress)
        print(f"CV RMSE ({args.cv} folds grouped by {group_by}): test {result.test_rmse:.4f} "
              f"eV, train {result.train_rmse:.4f} eV")
    rows = np.arange(len(y))
    if n_train is not None and n_train < len(rows):
        rows = np.sort(np.random.default_rng(args.seed).choice(rows, n_train, replace=False))
    model = estimator.fit(X[rows], y[rows], descriptor=soap)
    fitted = np.asarray(model.in_sample_ if model.in_sample_ is not None
                        else model.predict(X[rows]))
    train_rmse = float(np.sqrt(np.mean((fitted - y[rows]) ** 2)))
    path = model.save(args.model)
    print(f"fitted on {len(rows)} environments (train RMSE {train_rmse:.4f} eV)")
    print(f"wrote {path} and {Path(path).with_suffix('.npz')}", file=sys.stderr)
    return 0


def _cmd_train_classifier(args, client) -> int:
    from .errors import ZifvizError
    from .phases import PhaseClassifier, evaluate

    progress = show_progress(args)
    _refuse_existing(PhaseClassifier._paths(args.model), args.force)
    frames = FileFrames(args.files, args.format)
    settings = {"label": args.label_key, "progress": progress, "random_state": args.seed}
    if args.epochs is not None:
        settings["max_iter"] = args.epochs
    classifier = PhaseClassifier.seed003(args.descriptor, args.level, **settings)
    if args.descriptor == "soap":
        classifier.descriptor.set_params(n_jobs=args.n_jobs)
    table = _environments(frames, progress, [args.label_key])
    if args.label_key not in table.columns:
        raise ZifvizError(f"the frames have no {args.label_key!r} label (atoms.info"
                          f"['{args.label_key}'])", str(frames[0].info.get("source_file")))
    labels = table[args.label_key]
    if labels.isna().any():
        where = table.loc[labels.isna(), "source_file"].iloc[0] if "source_file" in table \
            else None
        raise ZifvizError(f"{int(labels.isna().sum())} environments have no "
                          f"{args.label_key!r} label", None if where is None else str(where))
    X = _transform(classifier.descriptor, frames, client)
    counts = labels.astype(str).value_counts()
    print(f"{len(frames)} frames, {len(table)} Zn environments, {len(counts)} classes of "
          f"{args.label_key!r}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    if args.split:
        summary = evaluate(lambda: PhaseClassifier.seed003(args.descriptor, args.level,
                                                           **settings),
                           X, table, splits=args.split,
                           label=args.label_key, test_size=args.test_size,
                           random_state=args.seed)
        for split, row in summary.iterrows():
            print(f"{split} split: accuracy {row['accuracy']:.3f} ({int(row['n_test'])} test "
                  f"environments, {int(row['n_train'])} training)")
    classifier.fit(X, labels.astype(str).to_numpy())
    npz, js = classifier.save(args.model)
    print(f"fitted on all {len(X)} environments: training accuracy "
          f"{classifier.training_['train_accuracy']:.3f}, {classifier.training_['epochs']} epochs")
    print(f"wrote {js} and {npz}", file=sys.stderr)
    return 0


def _cmd_grid(args, client) -> int:
    from .coarse import normalise_level
    from .gpr import GPR
    from .gridsearch import SEED000_RCUTS, SEED000_SIGMAS, grid_search

    progress = show_progress(args)
    frames = list(FileFrames(args.files, args.format))
    table = _environments(frames, progress)
    _target(table, args.target, frames)
    group_by = _group_column(table, args.group_by)
    levels = [normalise_level(v) for v in args.level.split(",") if v.strip()]
    result = grid_search(
        frames, levels, args.r_cut or SEED000_RCUTS, args.sigma or SEED000_SIGMAS,
        target=args.target, n_train=args.n_train, n_max=args.n_max, l_max=args.l_max,
        n_splits=args.cv, group_by=group_by, estimator=GPR(noise=args.noise), out=args.out,
        resume=True, n_jobs=args.n_jobs, client=client, progress=progress, table=table)
    shown = result[["level", "r_cut", "sigma", "n_max", "train_rmse", "test_rmse"]]
    print(shown.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    for level, rows in result.groupby("level", sort=False):
        best = rows.loc[rows["test_rmse"].idxmin()]
        print(f"best {level}: r_cut {best['r_cut']:g} Å, sigma {best['sigma']:g} Å, test RMSE "
              f"{best['test_rmse']:.4f} eV")
    print(f"{len(result)} points in {args.out} (rerun the same command to continue an "
          "interrupted grid)", file=sys.stderr)
    return 0


def _cmd_classify(args, client) -> int:
    from .errors import ZifvizError

    try:
        from . import transitions
    except ImportError:
        raise ZifvizError("zifviz classify needs zifviz.transitions, which this zifviz lacks"
                          ) from None
    progress = show_progress(args)
    outputs = [Path(args.out)] + ([Path(args.fractions)] if args.fractions else []) + (
        [Path(args.labels)] if args.labels else [])
    _refuse_existing(outputs, args.force)
    from .phases import PhaseClassifier

    trajectory = FileFrames([args.trajectory], args.format).trajectories[0]  # checked
    model = PhaseClassifier.load(args.model)
    labels = transitions.classify_trajectory(
        trajectory, model, start=args.start, stop=args.stop, step=args.step,
        client=client, progress=progress)
    transitions.write_labelled(trajectory, labels, args.out, progress=progress)
    fractions = transitions.phase_fractions(labels, trajectory)
    if args.fractions:
        _write_csv(Path(args.fractions), fractions)
    if args.labels:
        _write_csv(Path(args.labels), labels)
    n_frames = labels["frame"].nunique()
    last = fractions.iloc[-1]
    shares = ", ".join(f"{c[len('fraction_'):]} {last[c]:.2f}" for c in fractions.columns
                       if c.startswith("fraction_") and last[c] > 0)
    print(f"{n_frames} frames, {len(labels)} Zn environments classified; last frame: {shares}")
    wrote = ", ".join(str(p) for p in outputs)
    print(f"wrote {wrote}", file=sys.stderr)
    return 0


_COMMANDS = {"describe": _cmd_describe, "train-gpr": _cmd_train_gpr,
             "train-classifier": _cmd_train_classifier, "grid": _cmd_grid,
             "classify": _cmd_classify}


def _has_process_pool(args) -> bool:
    """Whether the command's long loop has local worker processes of its own (SOAP, grid)."""
    if args.command in ("grid", "train-gpr"):
        return True
    return args.command in ("describe", "train-classifier") and args.descriptor == "soap"


def run_batch(args) -> int:
    """Run one batch command (inside :func:`zifviz.cli.main`'s error handling)."""
    from .errors import ZifvizError

    if args.n_jobs == 0:
        raise ZifvizError("--n-jobs must not be 0 (1: this process, -1: all cores)")
    n_jobs = args.n_jobs if args.n_jobs > 0 else max(1, (os.cpu_count() or 1) + 1 + args.n_jobs)
    address = args.scheduler
    if address is None and n_jobs > 1 and not _has_process_pool(args):
        address = f"local:{n_jobs}"  # BPSF and classify spread work only through Dask
    with dask_client(address, n_jobs) as client:
        try:
            return _COMMANDS[args.command](args, client)
        except KeyboardInterrupt:
            kept = (f"; finished points are kept in {args.out} (run the same command to "
                    "continue)" if args.command == "grid" and Path(args.out).exists() else "")
            print(f"zifviz {args.command}: interrupted{kept}", file=sys.stderr)
            return 130


# ---- the parsers -------------------------------------------------------------------------------

class HelpFormatter(argparse.HelpFormatter):
    """Wraps prose paragraphs; keeps indented lines (examples, tables) as written."""

    def _fill_text(self, text, width, indent):
        import textwrap

        paragraphs = []
        for para in text.split("\n\n"):
            lines = para.splitlines()
            if any(line.startswith("  ") for line in lines):
                paragraphs.append("\n".join(indent + line for line in lines))
            else:
                paragraphs.append(textwrap.fill(" ".join(para.split()), width,
                                                initial_indent=indent, subsequent_indent=indent))
        return "\n\n".join(paragraphs)


_FORMATTER = HelpFormatter


def _common(p: argparse.ArgumentParser, *, files: bool = True) -> None:
    if files:
        p.add_argument("files", nargs="+", metavar="FILE",
                       help="structure or trajectory files (extxyz, xyz, CIF, LAMMPS dump, "
                            "...; .gz too); frames in the order given")
    p.add_argument("--format", help="ASE format of the files, if their extension does not tell")
    p.add_argument("--n-jobs", type=int, default=1, metavar="N",
                   help="worker processes on this machine (default 1; -1: all cores); for "
                        "BPSF and classify a local Dask cluster of N workers")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="run on a Dask cluster: a scheduler address (tcp://host:8786), a "
                        "scheduler file (.json) or local:N (N local worker processes)")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="no progress bars (they are shown only when stderr is a terminal)")
    p.add_argument("--force", "--overwrite", dest="force", action="store_true",
                   help="replace existing output files")


def _level(p, default: str | None = "atomistic", help_extra: str = "") -> None:
    p.add_argument("--level", default=default, required=default is None,
                   help="coarse-graining level: atomistic, AB2 or A" + help_extra
                        + (f" (default {default})" if default else ""))


def _soap_options(p, r_cut_default: str = "5", sigma_default: str = "0.5") -> None:
    p.add_argument("--r-cut", type=float, default=None, metavar="R_CUT",
                   help=f"cut-off radius, Å (default {r_cut_default})")
    p.add_argument("--sigma", type=float, default=None, metavar="SIGMA",
                   help=f"SOAP Gaussian width sigma_at, Å (default {sigma_default})")
    p.add_argument("--n-max", type=int, default=None,
                   help="SOAP radial basis size (default 16, or the largest the r_cut allows)")
    p.add_argument("--l-max", type=int, default=None, help="SOAP angular basis size (default 8)")


def add_batch_commands(sub) -> None:
    """Add the batch subcommands to the ``zifviz`` subparsers ``sub``."""
    d = sub.add_parser(
        "describe", help="descriptor matrix of every Zn environment (SOAP or BPSF)",
        formatter_class=_FORMATTER,
        description="Describe every Zn environment of FILES: a matrix X (.npz, with the "
                    "descriptor's settings as JSON in 'config') and the environment table "
                    "beside it (.csv, same stem): row k of the table is row k of X.",
        epilog="examples:\n"
               "  zifviz describe traj.extxyz --level AB2 --r-cut 9 --sigma 0.2 --out X.npz\n"
               "  zifviz describe *.cif --descriptor soap --preset seed003 --out X.npz\n"
               "  zifviz describe traj.extxyz --descriptor bpsf --out bpsf.npz --scheduler "
               "local:2\n\n"
               "Load them with np.load('X.npz')['X'] and pandas.read_csv('X.csv').")
    _common(d)
    d.add_argument("--descriptor", choices=("soap", "bpsf"), default="soap",
                   help="SOAP (dscribe) or seed 003's 12 Zn-Zn symmetry functions (default soap)")
    d.add_argument("--preset", choices=("seed000", "seed003"), default=None,
                   help="SOAP settings of seed 000 (n_max 16, l_max 8, per-species channels; "
                        "the default) or seed 003 (r_cut 9 Å, n_max 12, l_max 9, one channel)")
    _level(d)
    _soap_options(d, r_cut_default="5 for SOAP, 13 for BPSF")
    d.add_argument("--out", "-o", required=True, metavar="X.npz",
                   help="matrix file; the table goes to the same name with .csv")

    g = sub.add_parser(
        "train-gpr", help="fit seed 000's SOAP-GPR to per-atom energies",
        formatter_class=_FORMATTER,
        description="Fit zifviz.gpr.GPR (kernel (1 + x.x')^4, noise 0.2 eV) on the local-"
                    "environment energies of FILES (frames with per-atom MOF-FF energies, "
                    "e.g. from 'zifviz label'), optionally cross-validated grouped by "
                    "framework; save the model as MODEL.json + MODEL.npz (no pickle).",
        epilog="examples:\n"
               "  zifviz train-gpr hzif.extxyz.gz --level AB2 --r-cut 9 --sigma 0.2 --cv 5 "
               "--model gpr-AB2\n"
               "  zifviz train-gpr labelled.extxyz --level A --r-cut 10 --sigma 1 \\\n"
               "      --n-train 4000 --solver sparse --model gpr-A")
    _common(g)
    _level(g)
    _soap_options(g)
    g.add_argument("--target", default="eps_local",
                   help="environment-table column to learn: eps_local (default) or eps_zn")
    g.add_argument("--n-train", type=int, default=None, metavar="N",
                   help="at most N training environments (a seeded random subset; default all)")
    g.add_argument("--cv", type=int, default=0, metavar="K",
                   help="print the RMSE of K-fold CV grouped by --group-by first")
    g.add_argument("--group-by", default=None, metavar="COLUMN",
                   help="CV groups (default framework when present, else structure_id)")
    g.add_argument("--noise", type=float, default=0.2, help="noise std, eV (default 0.2)")
    g.add_argument("--solver", choices=("exact", "sparse"), default="exact",
                   help="exact (Cholesky) or sparse (inducing points) GPR (default exact)")
    g.add_argument("--seed", type=int, default=0, help="random seed of the --n-train subset")
    g.add_argument("--model", "-o", required=True, metavar="MODEL",
                   help="writes MODEL.json and MODEL.npz")

    c = sub.add_parser(
        "train-classifier", help="train seed 003's phase classifier (MLP on BPSF or SOAP)",
        formatter_class=_FORMATTER,
        description="Train zifviz.phases.PhaseClassifier (seed 003's networks) on the Zn "
                    "environments of FILES labelled by the frames' info[LABEL_KEY], print "
                    "its accuracy on a random and a trajectory-block split, then fit on "
                    "everything and save MODEL.npz + MODEL.json (no pickle).",
        epilog="examples:\n"
               "  zifviz train-classifier phases.extxyz.gz --descriptor bpsf --level A "
               "--model phases-bpsf\n"
               "  zifviz train-classifier npt.extxyz nvt.extxyz --label-key phase \\\n"
               "      --descriptor soap --split random --model phases-soap")
    _common(c)
    c.add_argument("--label-key", default="phase",
                   help="the frames' info key holding the class (default phase)")
    c.add_argument("--descriptor", choices=("bpsf", "soap"), default="bpsf",
                   help="seed 003's BPSF (24-neuron net, 350 epochs) or SOAP (100 neurons) "
                        "(default bpsf)")
    _level(c)
    c.add_argument("--split", type=lambda t: [x for x in t.split(",") if x],
                   default=["random", "block"], metavar="random,block",
                   help="test splits to report (default random,block; '' for none)")
    c.add_argument("--test-size", type=float, default=0.2, help="test share (default 0.2)")
    c.add_argument("--epochs", type=int, default=None,
                   help="training epochs (default seed 003's: 350 BPSF, up to 1000 SOAP)")
    c.add_argument("--seed", type=int, default=0, help="random seed (network, split)")
    c.add_argument("--model", "-o", required=True, metavar="MODEL",
                   help="writes MODEL.npz and MODEL.json")

    r = sub.add_parser(
        "grid", help="grid search of SOAP r_cut x sigma by grouped CV of a GPR (resumable)",
        formatter_class=_FORMATTER,
        description="Cross-validated GPR error at every (level, r_cut, sigma) point "
                    "(zifviz.gridsearch): each finished point is appended to OUT atomically; "
                    "the same command run again computes only the missing points.",
        epilog="examples:\n"
               "  zifviz grid hzif.extxyz.gz --level A --r-cut 6,8,10 --sigma 0.5,1 "
               "--out grid-A.csv\n"
               "  zifviz grid hzif.extxyz.gz --level atomistic,AB2,A --r-cut 4:12:1 \\\n"
               "      --sigma 0.2,0.5,1 --n-train 2000 --out grid.csv --scheduler "
               "tcp://head:8786\n\n"
               "Without --r-cut/--sigma: seed 000's 27 x 19 grid. Open the results with "
               "zifviz.widgets.GridExplorer.")
    _common(r)
    r.add_argument("--level", default="atomistic",
                   help="level(s), comma-separated (default atomistic)")
    r.add_argument("--r-cut", type=_floats, default=None, metavar="LIST",
                   help="r_cut values, Å: 4,6,8 or 4:8:0.5 (default seed 000's 27)")
    r.add_argument("--sigma", type=_floats, default=None, metavar="LIST",
                   help="sigma_at values, Å (default seed 000's 19)")
    r.add_argument("--target", default="eps_local", help="eps_local (default) or eps_zn")
    r.add_argument("--n-train", type=int, default=10_000, metavar="N",
                   help="training environments per fold (default 10000, seed 000's)")
    r.add_argument("--n-max", type=int, default=16, help="SOAP n_max upper bound (default 16)")
    r.add_argument("--l-max", type=int, default=8, help="SOAP l_max (default 8)")
    r.add_argument("--cv", type=int, default=5, metavar="K", help="grouped folds (default 5)")
    r.add_argument("--group-by", default=None, metavar="COLUMN",
                   help="CV groups (default framework when present, else structure_id)")
    r.add_argument("--noise", type=float, default=0.2, help="GPR noise std, eV (default 0.2)")
    r.add_argument("--out", "-o", required=True, metavar="RESULTS.csv",
                   help="results table (continued when it exists)")

    k = sub.add_parser(
        "classify", help="label every Zn of a trajectory with a phase classifier",
        formatter_class=_FORMATTER,
        description="Classify every Zn environment of every frame of TRAJ with a saved "
                    "PhaseClassifier (zifviz.transitions): an extxyz with per-atom arrays "
                    "'phase' and 'phase_confidence', and optionally the phase fractions per "
                    "frame (with the cell) and the per-Zn table as CSV.",
        epilog="examples:\n"
               "  zifviz classify run.extxyz --model phases-bpsf --out labelled.extxyz \\\n"
               "      --fractions fractions.csv\n"
               "  zifviz classify big.dump --format lammps-dump-text --model m --out l.extxyz \\\n"
               "      --step 10 --scheduler local:2")
    k.add_argument("trajectory", metavar="TRAJ", help="trajectory file")
    _common(k, files=False)
    k.add_argument("--model", "-m", required=True, metavar="MODEL",
                   help="a saved PhaseClassifier (MODEL, MODEL.npz or MODEL.json)")
    k.add_argument("--out", "-o", required=True, metavar="LABELLED.extxyz",
                   help="labelled frames (per-atom phase and phase_confidence)")
    k.add_argument("--fractions", metavar="FRACTIONS.csv",
                   help="phase fractions and cell per frame")
    k.add_argument("--labels", metavar="LABELS.csv", help="one row per Zn and frame")
    k.add_argument("--start", type=int, default=0, help="first frame (default 0)")
    k.add_argument("--stop", type=int, default=None, help="stop before this frame")
    k.add_argument("--step", type=int, default=1, help="every STEP-th frame (default 1)")
