"""Sampling ZIF structures with MOF-FF through LAMMPS: minimisation, MD, pressure ramps, rattling.

Every function takes ASE ``Atoms`` (a Zn(Im)2 framework, typed by
:func:`zifviz.mofff.assign_types`) and gives back labelled ``Atoms``: per-atom MOF-FF energies in
``arrays["energies"]`` and the total in ``info["energy"]`` (eV), plus ``info`` recording

=====================  ==================================================================
``source``             ``info["source"]`` of the input structure
``forcefield``         ``"MOF-FF"``
``ensemble``           ``"minimise-fixed"``, ``"minimise-relaxed"``, ``"NVT"``, ``"NPT"``,
                       ``"ramp"`` or ``"rattle"``
``temperature``        target temperature (K; 0 for minimisation and rattling)
``pressure``           target pressure (MPa; for a ramp the target at that step; 0 where the
                       cell is not controlled)
``step``               MD step, minimisation iterations, or the index of a rattled copy
``timestep``           MD time step (fs; 0 outside MD), and ``time`` (ps)
``temperature_inst``   instantaneous kinetic temperature (K) and ``pressure_inst`` (MPa)
=====================  ==================================================================

MD frames also carry ``arrays["momenta"]`` (ASE units) so that a run can be resumed.

The bonded topology is perceived once, on the input structure, and kept for the whole run
(MOF-FF bonds cannot break). LAMMPS runs in ``real`` units, where pressure is in atm:
1 MPa = 9.86923 atm.

MD output files
---------------
With ``output="run.extxyz"`` frames are appended, one at a time and ``fsync``-ed, to
``run.partial.extxyz`` (a valid extended XYZ file after every frame; read it while the run
goes on), which is renamed to ``run.extxyz`` when the run ends. So a finished file is
never half written and memory does not grow with the number of frames. If the output file
exists the run refuses to start unless ``overwrite=True`` (the old file is replaced only
when the new run has finished). ``resume=True`` continues an interrupted run from the last
complete frame of ``run.partial.extxyz`` (a partly written last frame is cut off), or
extends a finished ``run.extxyz`` to more steps (a fresh run starts if neither exists); the
last frame must match the run's ensemble, temperature, pressure and time step. A resumed run restarts from the positions,
cell and velocities of that frame, but the Nosé–Hoover thermostat and barostat variables
start again from rest, so it is not bit-identical to an uninterrupted run.

Example
-------
>>> from zifviz.sampling import minimise, run_md
>>> relaxed = minimise(atoms, relax_cell=True)                      # doctest: +SKIP
>>> traj = run_md(relaxed, "NPT", temperature=300, pressure_mpa=200,
...               steps=20_000, every=200, output="npt.extxyz")     # doctest: +SKIP
>>> traj[-1].cell.cellpar()                                          # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from ase import Atoms, units

from .errors import ForceFieldError, ZifvizError
from .io import Trajectory
from .io import read as _read
from .mofff import KCALMOL_TO_EV, MOFFF

__all__ = [
    "ATM_PER_MPA",
    "ENSEMBLES",
    "SamplingError",
    "iter_md",
    "minimise",
    "partial_path",
    "pressure_ramp",
    "rattle",
    "run_md",
]

#: atm (LAMMPS ``real`` pressure unit) per MPa.
ATM_PER_MPA = 9.86923
#: Values of ``info["ensemble"]``.
ENSEMBLES = ("minimise-fixed", "minimise-relaxed", "NVT", "NPT", "ramp", "rattle")

_FMT = "extxyz"


class SamplingError(ZifvizError):
    """Bad sampling parameters or an output file that cannot be (re)used."""


# ---------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------
def _source(atoms: Atoms) -> str:
    return str(atoms.info.get("source") or atoms.info.get("label") or "structure")


def _lmp(ff: MOFFF, commands: str, source: str) -> None:
    try:
        ff.lmp.commands_string(commands)
    except Exception as exc:  # LAMMPS raises plain Exception / MPIAbortException
        raise ForceFieldError(f"LAMMPS failed ({str(exc).strip()})", source) from exc


def _frame(ff: MOFFF, info: dict, *, velocities: bool = False) -> Atoms:
    """The current LAMMPS state as a clean labelled ``Atoms`` (``info`` added)."""
    per_atom, total = ff.energies()
    state = ff.current_atoms(velocities=velocities)
    frame = Atoms(state.numbers, positions=state.positions, cell=state.cell, pbc=True)
    if velocities:
        frame.set_momenta(state.get_momenta())
    frame.arrays["energies"] = per_atom
    frame.info.update(info)
    frame.info["energy"] = float(total)
    frame.info["forcefield"] = ff.name
    frame.info["temperature_inst"] = float(ff.lmp.get_thermo("temp"))
    frame.info["pressure_inst"] = float(ff.lmp.get_thermo("press")) / ATM_PER_MPA
    return frame


def _progress(progress: bool, total: int, desc: str, initial: int = 0):
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=desc, disable=not progress,
                unit="step", leave=False, dynamic_ncols=True)


def partial_path(output: str | os.PathLike) -> Path:
    """Where a run writing to ``output`` keeps its frames until it ends (``x.partial.extxyz``)."""
    p = Path(output)
    return p.with_name(f"{p.stem}.partial{p.suffix or '.extxyz'}")


def _scan_extxyz(path: Path) -> tuple[int, int]:
    """Number of complete frames of an (ext)xyz file and the byte offset where they end."""
    n = good = 0
    with open(path, "rb") as fh:
        while True:
            head = fh.readline()
            if not head.strip():
                break
            try:
                natoms = int(head)
            except ValueError:
                break
            lines = [fh.readline() for _ in range(natoms + 1)]  # comment + atoms
            if not all(line.endswith(b"\n") for line in lines):
                break
            n += 1
            good = fh.tell()
    return n, good


class _Writer:
    """Append frames to ``partial``, each flushed and fsync-ed; rename to ``final`` on finish."""

    def __init__(self, final: Path, append: bool):
        self.final = Path(final)
        self.partial = partial_path(final)
        self.fh = open(self.partial, "a" if append else "w")

    def write(self, frame: Atoms) -> None:
        import ase.io

        ase.io.write(self.fh, frame, format=_FMT)
        self.fh.flush()
        os.fsync(self.fh.fileno())

    def finish(self) -> Path:
        self.fh.close()
        os.replace(self.partial, self.final)
        return self.final

    def close(self) -> None:
        if not self.fh.closed:
            self.fh.close()


def _check_output(output, *, resume: bool, overwrite: bool) -> tuple[Path | None, Atoms | None]:
    """Check ``output`` before a run. With ``resume``, return the file to resume from
    (the partial file, or the finished one to extend) and its last complete frame."""
    final = Path(output)
    partial = partial_path(final)
    if not final.parent.is_dir():
        raise SamplingError("output directory does not exist", str(final.parent))
    if resume and (partial.exists() or final.exists()):
        src = partial if partial.exists() else final
        n, good = _scan_extxyz(src)
        if n == 0:
            raise SamplingError("no complete frame to resume from; delete it or pass "
                                "overwrite=True (--overwrite)", str(src))
        if src == partial and good < src.stat().st_size:
            with open(src, "r+b") as fh:  # drop a partly written last frame
                fh.truncate(good)
        return src, _read(src, index=-1, format=_FMT)
    if partial.exists() and not overwrite:
        n, _ = _scan_extxyz(partial)
        raise SamplingError(f"unfinished run with {n} frames found; pass resume=True "
                            "(--resume) to continue it or overwrite=True (--overwrite) to "
                            "start again", str(partial))
    if final.exists() and not overwrite:
        raise SamplingError("output file exists; pass overwrite=True (--overwrite) to replace "
                            "it when the new run has finished, or resume=True (--resume) to "
                            "extend it", str(final))
    return None, None


def _open_writer(output, resume_from: Path | None) -> _Writer:
    final = Path(output)
    if resume_from is not None and resume_from == final:
        os.replace(final, partial_path(final))  # extending a finished run: unfinished again
    return _Writer(final, append=resume_from is not None)


def _set_velocities(ff: MOFFF, frame: Atoms) -> None:
    """Load the velocities of ``frame`` (from its momenta) into LAMMPS (Å/fs)."""
    v_ase = frame.get_velocities()
    v = v_ase @ ff.prism_.rot_mat * units.fs  # rotate into the LAMMPS frame, Å/fs
    n = ff.lmp.extract_global("nlocal")
    ids = np.array(ff.lmp.numpy.extract_atom("id")[:n]) - 1
    target = ff.lmp.numpy.extract_atom("v")
    target[:n] = v[ids]


def _check_positive(**kw) -> None:
    for name, value in kw.items():
        if value is None or not value > 0:
            raise SamplingError(f"{name} must be positive, got {value!r}")


# ---------------------------------------------------------------------------------------
# Minimisation
# ---------------------------------------------------------------------------------------
def minimise(atoms: Atoms, relax_cell: bool = False, fmax: float = 0.01, max_steps: int = 1000,
             *, pressure_mpa: float = 0.0, max_stress_mpa: float = 10.0, topology=None,
             progress: bool = True) -> Atoms:
    """Relax a structure with MOF-FF (LAMMPS conjugate gradients), cell fixed or relaxed.

    Parameters
    ----------
    atoms:
        The Zn(Im)2 framework.
    relax_cell:
        Also relax all six cell parameters (``fix box/relax tri`` at ``pressure_mpa``),
        after a first relaxation of the atoms in the fixed cell.
    fmax:
        Converged when no atom has a force larger than this (eV/Å) and, with
        ``relax_cell``, no stress component differs from the target by more than
        ``max_stress_mpa`` (MPa).
    max_steps:
        Maximum number of conjugate-gradient iterations.
    topology:
        :func:`zifviz.topology.perceive` result, perceived here if ``None``.

    Returns
    -------
    Atoms
        The relaxed, labelled structure; ``info["converged"]``, ``info["fmax"]`` (eV/Å) and
        ``info["step"]`` (iterations) tell how it went.
    """
    _check_positive(fmax=fmax, max_steps=max_steps)
    source = _source(atoms)
    ensemble = "minimise-relaxed" if relax_cell else "minimise-fixed"
    ftol = fmax / KCALMOL_TO_EV  # kcal/mol/Å
    p_atm = pressure_mpa * ATM_PER_MPA
    ff = MOFFF()
    bar = _progress(progress, max_steps, f"minimise ({'cell relaxed' if relax_cell else 'fixed cell'})")
    try:
        ff.setup(atoms, topology)
        _lmp(ff, "thermo_style custom step temp pe etotal press vol pxx pyy pzz pxy pxz pyz\n"
                 "thermo_modify norm no\nmin_style cg\nmin_modify norm max\nreset_timestep 0\n"
                 "run 0 post no", source)
        p_target = np.array([p_atm] * 3 + [0.0] * 3)

        def check(cell: bool) -> tuple[float, bool]:
            n = ff.lmp.extract_global("nlocal")
            f = np.array(ff.lmp.numpy.extract_atom("f")[:n])
            f_max = float(np.linalg.norm(f, axis=1).max()) * KCALMOL_TO_EV
            ok = f_max <= fmax
            if cell:
                p = np.array([ff.lmp.get_thermo(k) for k in ("pxx", "pyy", "pzz", "pxy", "pxz", "pyz")])
                ok = ok and np.abs(p - p_target).max() / ATM_PER_MPA <= max_stress_mpa
            bar.set_postfix(fmax=f"{f_max:.3g} eV/Å", refresh=False)
            return f_max, ok

        done = 0
        # With relax_cell the atoms are relaxed in the fixed cell first, then atoms and cell
        # together: from a strained start this is ~5x faster than relaxing all at once and
        # does not wander off into a higher-energy basin.
        for cell in (False, True) if relax_cell else (False,):
            if cell:
                _lmp(ff, f"fix zifviz_relax all box/relax tri {p_atm!r} vmax 0.001", source)
            f_now, converged = check(cell)
            while not converged and done < max_steps:
                chunk = min(50, max_steps - done)  # restarts CG; advised with box/relax
                before = ff.lmp.extract_global("ntimestep")
                _lmp(ff, f"minimize 0.0 {ftol!r} {chunk} {10 * chunk}", source)
                iterations = ff.lmp.extract_global("ntimestep") - before
                done += iterations
                bar.update(iterations)
                f_now, converged = check(cell)
                if iterations == 0:  # LAMMPS cannot go further (line search failed)
                    break
            if cell:
                _lmp(ff, "unfix zifviz_relax", source)
        frame = _frame(ff, {
            "source": source, "ensemble": ensemble, "temperature": 0.0,
            "pressure": float(pressure_mpa) if relax_cell else 0.0,
            "step": int(done), "timestep": 0.0, "time": 0.0,
        })
        frame.info["converged"] = bool(converged)
        frame.info["fmax"] = float(f_now)
        return frame
    finally:
        bar.close()
        ff.close()


# ---------------------------------------------------------------------------------------
# Molecular dynamics
# ---------------------------------------------------------------------------------------
def iter_md(atoms: Atoms, ensemble: str = "NVT", temperature: float = 300.0,
            pressure_mpa: float = 0.0, steps: int = 1000, every: int = 100,
            timestep_fs: float = 0.5, seed: int = 12345, output=None, *,
            pressure_end_mpa: float | None = None, tdamp_fs: float | None = None,
            pdamp_fs: float | None = None, resume: bool = False, overwrite: bool = False,
            topology=None, progress: bool = True) -> Iterator[Atoms]:
    """Run MOF-FF MD and yield labelled frames as they are made (a lazy generator).

    Frames are taken at steps 0, ``every``, 2 ``every``, ... and ``steps``. Nothing runs
    until the generator is iterated; :func:`run_md` runs it to the end for you. See
    :func:`run_md` for the parameters. When resuming, only the new frames are yielded.
    If the loop is left early the output stays in ``<output>.partial.extxyz``.
    """
    ens = str(ensemble).upper()
    if ens not in ("NVT", "NPT"):
        raise SamplingError(f"ensemble must be 'NVT' or 'NPT', got {ensemble!r}")
    if pressure_end_mpa is not None and ens != "NPT":
        raise SamplingError("a pressure ramp needs ensemble='NPT'")
    label_ens = "ramp" if pressure_end_mpa is not None else ens
    _check_positive(temperature=temperature, steps=steps, every=every, timestep_fs=timestep_fs)
    if not (isinstance(seed, (int, np.integer)) and 0 < seed < 2**31):
        raise SamplingError(f"seed must be an integer between 1 and 2**31 - 1, got {seed!r}")
    p_end = pressure_mpa if pressure_end_mpa is None else pressure_end_mpa
    tdamp = tdamp_fs or 100 * timestep_fs
    pdamp = pdamp_fs or 1000 * timestep_fs
    source = _source(atoms)

    def target_p(step: int) -> float:
        if ens == "NVT":
            return 0.0
        return float(pressure_mpa + (p_end - pressure_mpa) * step / steps)

    def info(step: int) -> dict:
        return {"source": source, "ensemble": label_ens, "temperature": float(temperature),
                "pressure": target_p(step), "step": int(step), "timestep": float(timestep_fs),
                "time": step * timestep_fs / 1000.0}

    resume_from, last = (None, None)
    if output is not None:
        resume_from, last = _check_output(output, resume=resume, overwrite=overwrite)
    if last is not None:
        start = int(last.info.get("step", -1))
        want = info(start) if 0 <= start <= steps else None
        have = {k: last.info.get(k) for k in ("ensemble", "temperature", "pressure", "timestep")}
        if want is None or have["ensemble"] != label_ens or any(
                not np.isclose(float(have[k] if have[k] is not None else np.nan), want[k],
                               rtol=1e-9, atol=1e-9)
                for k in ("temperature", "pressure", "timestep")):
            raise SamplingError(
                f"cannot resume: the last frame (step {start}, {have}) does not belong to "
                f"this run ({label_ens}, T={temperature} K, {steps} steps, dt={timestep_fs} fs)",
                str(resume_from))
        if "momenta" not in last.arrays or len(last) != len(atoms):
            raise SamplingError("cannot resume: last frame has no momenta or a different "
                                "number of atoms", str(resume_from))
    return _md_generator(atoms, ens, label_ens, temperature, pressure_mpa, p_end, steps, every,
                         timestep_fs, seed, output, tdamp, pdamp, resume_from, last, topology,
                         progress, source, info)


def _md_generator(atoms, ens, label_ens, temperature, p_start, p_end, steps, every, dt, seed,
                  output, tdamp, pdamp, resume_from, last, topology, progress, source, info):
    # Generator body kept separate so that parameter and output-file errors are raised when
    # iter_md is called, not at the first iteration.
    writer, start = None, 0
    ff = MOFFF()
    bar = None
    try:
        if topology is None:
            from .topology import perceive

            topology = perceive(atoms, source=source)
        if last is not None:
            start = int(last.info["step"])
            ff.setup(last, topology)
            _set_velocities(ff, last)
        else:
            ff.setup(atoms, topology)
        if output is not None:
            writer = _open_writer(output, resume_from)
        lmp_cmds = [f"timestep {dt!r}", f"reset_timestep {start}", "thermo 0"]
        if last is None:
            lmp_cmds.append(f"velocity all create {temperature!r} {int(seed)} "
                            "mom yes rot no dist gaussian loop geom")
        if ens == "NVT":
            lmp_cmds.append(f"fix zifviz_md all nvt temp {temperature!r} {temperature!r} {tdamp!r}")
        else:
            lmp_cmds.append(f"fix zifviz_md all npt temp {temperature!r} {temperature!r} {tdamp!r} "
                            f"tri {p_start * ATM_PER_MPA!r} {p_end * ATM_PER_MPA!r} {pdamp!r}")
        _lmp(ff, "\n".join(lmp_cmds), source)
        bar = _progress(progress, steps, f"MD {label_ens} {temperature:g} K", initial=start)
        if last is None:
            frame = _frame(ff, info(0), velocities=True)
            if writer:
                writer.write(frame)
            yield frame
        step = start
        while step < steps:
            n = min(every - step % every, steps - step)
            _lmp(ff, f"run {n} start 0 stop {steps} post no", source)
            step += n
            bar.update(n)
            frame = _frame(ff, info(step), velocities=True)
            if label_ens != "NVT":
                bar.set_postfix(V=f"{frame.get_volume():.0f} Å³", refresh=False)
            if writer:
                writer.write(frame)
            yield frame
        if writer:
            writer.finish()
    finally:
        if bar is not None:
            bar.close()
        if writer:
            writer.close()
        ff.close()


def run_md(atoms: Atoms, ensemble: str = "NVT", temperature: float = 300.0,
           pressure_mpa: float = 0.0, steps: int = 1000, every: int = 100,
           timestep_fs: float = 0.5, seed: int = 12345, output=None, **kwargs):
    """Run MOF-FF molecular dynamics (Nosé–Hoover) and return the labelled frames.

    Parameters
    ----------
    atoms:
        Starting structure (a Zn(Im)2 framework).
    ensemble:
        ``"NVT"`` (``fix nvt``) or ``"NPT"`` (``fix npt ... tri``: all six cell degrees of
        freedom, off-diagonal stress target 0).
    temperature:
        Thermostat temperature (K); initial velocities are drawn at this temperature from
        ``seed`` (``velocity create ... loop geom``), so a run is reproducible.
    pressure_mpa:
        Barostat pressure (MPa; NPT only).
    steps, every:
        Number of MD steps; a frame is taken every ``every`` steps (and at steps 0 and
        ``steps``).
    timestep_fs:
        MD time step (fs).
    output:
        An extended XYZ file the frames are streamed to (see the module notes on
        ``<output>.partial.extxyz``, ``resume`` and ``overwrite``).
    kwargs:
        ``pressure_end_mpa`` (ramp the barostat linearly to this pressure), ``tdamp_fs``
        (default 100 time steps), ``pdamp_fs`` (default 1000 time steps), ``resume``,
        ``overwrite``, ``topology``, ``progress`` (tqdm bar, default ``True``).

    Returns
    -------
    list[Atoms] or Trajectory
        Without ``output`` a list of frames; with ``output`` a lazily read
        :class:`zifviz.io.Trajectory` of the finished file (memory stays flat).
        Use :func:`iter_md` to handle frames one by one as they are made.
    """
    gen = iter_md(atoms, ensemble, temperature, pressure_mpa, steps, every, timestep_fs, seed,
                  output, **kwargs)
    if output is None:
        return list(gen)
    for _ in gen:
        pass
    return Trajectory(output)


def pressure_ramp(atoms: Atoms, p_start_mpa: float, p_end_mpa: float, steps: int = 10_000,
                  every: int = 200, temperature: float = 300.0, **kwargs):
    """NPT MD with the barostat target ramped linearly from ``p_start_mpa`` to ``p_end_mpa``.

    Frames have ``info["ensemble"] == "ramp"`` and ``info["pressure"]`` the target at their
    step. Other arguments as for :func:`run_md`.
    """
    return run_md(atoms, "NPT", temperature, p_start_mpa, steps, every,
                  pressure_end_mpa=p_end_mpa, **kwargs)


# ---------------------------------------------------------------------------------------
# Rattling
# ---------------------------------------------------------------------------------------
def rattle(atoms: Atoms, n: int, atom_sigma: float = 0.05, cell_sigma: float = 0.02,
           seed: int = 0, *, output=None, overwrite: bool = False, topology=None,
           progress: bool = True):
    """``n`` randomly perturbed, MOF-FF-labelled copies of a structure.

    Each copy gets a random symmetric strain ε (independent Gaussian components of standard
    deviation ``cell_sigma``, ε_ij = ε_ji) applied to the cell, cell → cell (1 + ε), with the
    atoms scaled along, then Gaussian displacements of standard deviation ``atom_sigma`` (Å)
    on every atom coordinate — the last step of the hypothetical-ZIF data set (decorate,
    relax, coarse-grain, re-decorate, rattle). The bonded topology of ``atoms`` is used for
    every copy. ``info["step"]`` is the index of the copy; ``info["strain"]`` the Voigt strain
    (xx, yy, zz, yz, xz, xy).

    Returns a list of ``Atoms``, or with ``output`` writes them (streamed, as in
    :func:`run_md`) and returns a :class:`zifviz.io.Trajectory`.
    """
    if not (isinstance(n, (int, np.integer)) and n > 0):
        raise SamplingError(f"n must be a positive integer, got {n!r}")
    if atom_sigma < 0 or cell_sigma < 0:
        raise SamplingError("atom_sigma and cell_sigma must not be negative")
    source = _source(atoms)
    if topology is None:
        from .topology import perceive

        topology = perceive(atoms, source=source)
    writer = None
    if output is not None:
        _check_output(output, resume=False, overwrite=overwrite)
        writer = _open_writer(output, None)
    rng = np.random.default_rng(seed)
    frames = []
    ff = MOFFF()
    try:
        from tqdm.auto import tqdm

        for k in tqdm(range(n), desc="rattle", disable=not progress, leave=False):
            upper = np.triu(rng.normal(0.0, cell_sigma, (3, 3)))
            eps = upper + np.triu(upper, 1).T
            copy = Atoms(atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=True)
            copy.set_cell(atoms.cell.array @ (np.eye(3) + eps), scale_atoms=True)
            copy.positions += rng.normal(0.0, atom_sigma, copy.positions.shape)
            copy.wrap()
            ff.setup(copy, topology)
            frame = _frame(ff, {
                "source": source, "ensemble": "rattle", "temperature": 0.0, "pressure": 0.0,
                "step": k, "timestep": 0.0, "time": 0.0,
                "atom_sigma": float(atom_sigma), "cell_sigma": float(cell_sigma), "seed": int(seed),
            })
            ff.close()
            frame.info["strain"] = eps[(0, 1, 2, 1, 0, 0), (0, 1, 2, 2, 2, 1)]
            if writer:
                writer.write(frame)
            else:
                frames.append(frame)
        if writer:
            writer.finish()
            return Trajectory(output)
        return frames
    finally:
        if writer:
            writer.close()
        ff.close()
