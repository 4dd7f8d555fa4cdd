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
goes on), which is renamed to ``run.extxyz`` when the run ends (through
:class:`zifviz.storage.FrameWriter`). So a finished file is never half written, an error or
Ctrl-C never deletes finished frames, and memory does not grow with the number of frames. If
the output file exists the run refuses to start unless ``overwrite=True`` (the old file is
replaced only when the new run has finished). The run's :class:`MDSettings` (all but
``steps``) are kept in ``run.settings.json``. ``resume=True`` continues an interrupted run
from the last complete frame of ``run.partial.extxyz`` (a partly written last frame is cut
off), or extends a finished ``run.extxyz`` to more steps (a fresh run starts if neither
exists); the settings must be the same (:class:`~zifviz.errors.ResumeError` names those that
differ) and the last frame must belong to the run. A resumed run restarts from the positions,
cell and velocities of that frame, but the Nosé–Hoover thermostat and barostat variables
start again from rest, so it is not bit-identical to an uninterrupted run.

Example
-------
>>> from zifviz.sampling import MDSettings, minimise, run_md
>>> relaxed = minimise(atoms, relax_cell=True)                      # doctest: +SKIP
>>> traj = run_md(relaxed, "NPT", temperature=300, pressure_mpa=200,
...               steps=20_000, every=200, output="npt.extxyz")     # doctest: +SKIP
>>> settings = MDSettings("NVT", temperature=600, steps=4000, every=40)
>>> frames = run_md(relaxed, settings, seed=7)                        # doctest: +SKIP
>>> traj[-1].cell.cellpar()                                          # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase import Atoms, units

from .errors import ForceFieldError, ResumeError, ZifvizError
from .io import Trajectory
from .mofff import KCALMOL_TO_EV, MOFFF, MOFFFCalculator
from .storage import FrameWriter, partial_path

__all__ = [
    "ATM_PER_MPA",
    "ENSEMBLES",
    "MDSettings",
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
#: ``vmax`` of LAMMPS ``fix box/relax`` (largest fractional cell change per step) in
#: :func:`minimise`; the smaller ones are tried when a relaxation goes unstable.
CELL_STEPS = (0.001, 0.0002, 0.00005)
#: Values of ``info["ensemble"]``.
ENSEMBLES = ("minimise-fixed", "minimise-relaxed", "NVT", "NPT", "ramp", "rattle")


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


def _set_velocities(ff: MOFFF, frame: Atoms) -> None:
    """Load the velocities of ``frame`` (from its momenta) into LAMMPS (Å/fs)."""
    v_ase = frame.get_velocities()
    v = v_ase @ ff.prism_.rot_mat * units.fs  # rotate into the LAMMPS frame, Å/fs
    n = ff.lmp.extract_global("nlocal")
    ids = np.array(ff.lmp.numpy.extract_atom("id")[:n]) - 1
    target = ff.lmp.numpy.extract_atom("v")
    target[:n] = v[ids]


#: New LAMMPS instances tried when the forces of the starting structure are not finite.
#: Within one long-lived process LAMMPS gave, rarely, NaN forces for a structure that is
#: finite in a fresh process (the decorated ABW net, in the test suite): its triclinic Ewald
#: sum read work memory that earlier objects had left (zeroed since, see
#: :func:`zifviz.lammps_engine._zero_new_allocations`); with NaN forces its line search never
#: ends (``linemin_backtrack`` calling ``energy_force`` forever), so the check stays.
NONFINITE_RETRIES = 2


def _forces_finite(ff: MOFFF) -> bool:
    n = ff.lmp.extract_global("nlocal")
    return bool(np.isfinite(np.asarray(ff.lmp.numpy.extract_atom("f")[:n])).all())


def _check_positive(**kw) -> None:
    for name, value in kw.items():
        if value is None or not value > 0:
            raise SamplingError(f"{name} must be positive, got {value!r}")


# ---------------------------------------------------------------------------------------
# Minimisation
# ---------------------------------------------------------------------------------------
def minimise(atoms: Atoms, relax_cell: bool = False, fmax: float = 0.01, max_steps: int = 1000,
             *, pressure_mpa: float = 0.0, max_stress_mpa: float = 10.0, topology=None,
             progress: bool = True, checkpoint: str | os.PathLike | None = None,
             checkpoint_seconds: float = 120.0) -> Atoms:
    """Relax a structure with MOF-FF (LAMMPS conjugate gradients), cell fixed or relaxed;
    when LAMMPS's line search stalls, ASE's L-BFGS finishes under the same criteria.

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
    checkpoint, checkpoint_seconds:
        An extxyz file where the structure reached so far is written (atomically) every
        ``checkpoint_seconds`` of minimisation; when it exists, the minimisation continues from
        it (same atoms and settings, else :class:`~zifviz.errors.ResumeError`), with the steps
        already done counted (and the seconds they took in ``info["resumed_seconds"]``).
        Removed when the minimisation returns. A killed hour-long relaxation of a big cell
        thus loses at most ``checkpoint_seconds``.

    Returns
    -------
    Atoms
        The relaxed, labelled structure; ``info["converged"]``, ``info["fmax"]`` (eV/Å) and
        ``info["step"]`` (iterations) tell how it went, ``info["lbfgs_from_step"]`` where
        L-BFGS took over (if it did).
    """
    _check_positive(fmax=fmax, max_steps=max_steps, checkpoint_seconds=checkpoint_seconds)
    source = _source(atoms)
    plan = {"relax_cell": bool(relax_cell), "fmax": float(fmax), "max_steps": int(max_steps),
            "pressure_mpa": float(pressure_mpa), "max_stress_mpa": float(max_stress_mpa)}
    resumed = _read_checkpoint(checkpoint, atoms, plan) if checkpoint is not None else None
    ensemble = "minimise-relaxed" if relax_cell else "minimise-fixed"
    ftol = fmax / KCALMOL_TO_EV  # kcal/mol/Å
    p_atm = pressure_mpa * ATM_PER_MPA
    ff = MOFFF()
    bar = _progress(progress, max_steps, f"minimise ({'cell relaxed' if relax_cell else 'fixed cell'})")
    try:
        def start(structure: Atoms) -> None:
            for attempt in range(1 + NONFINITE_RETRIES):
                ff.setup(structure, topology)
                _lmp(ff, "thermo_style custom step temp pe etotal press vol pxx pyy pzz pxy pxz "
                         "pyz\nthermo_modify norm no\nmin_style cg\n"
                         "min_modify norm max line backtrack\nreset_timestep 0\nrun 0 post no",
                     source)
                if _forces_finite(ff):
                    return
            raise ForceFieldError(
                f"MOF-FF forces are not finite at the start ({1 + NONFINITE_RETRIES} fresh "
                "LAMMPS instances in this process); LAMMPS would loop forever minimising them. "
                "Overlapping atoms? If the structure is sound, run it in a fresh process.", source)

        # LAMMPS's conjugate gradients; when its line search stalls (with box/relax on big
        # nets: one iteration per chunk at 25 force evaluations, for thousands of steps; the
        # quadratic line search then crawled on at ~1 s per step without converging), ASE's
        # L-BFGS finishes the minimisation (info["lbfgs_from_step"]). A checkpoint written
        # after a switch to LAMMPS's quadratic line search (older zifviz) resumes with L-BFGS.
        stalled = resumed.get("line", "backtrack") != "backtrack" if resumed else False
        switched_at = resumed.get("switched_at") if resumed else None
        start(resumed["atoms"] if resumed else atoms)
        p_target = np.array([p_atm] * 3 + [0.0] * 3)
        began = saved_at = time.monotonic()
        earlier = resumed["seconds"] if resumed else 0.0  # s, in the processes before

        def save(cell: bool, state: Atoms | None = None, steps: int | None = None) -> None:
            nonlocal saved_at
            if checkpoint is not None and time.monotonic() - saved_at >= checkpoint_seconds:
                saved_at = time.monotonic()
                _write_checkpoint(checkpoint, ff.current_atoms() if state is None else state,
                                  plan, cell, done if steps is None else steps,
                                  earlier + saved_at - began,
                                  line="lbfgs" if stalled else "backtrack",
                                  switched_at=switched_at)

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

        done = resumed["done"] if resumed else 0
        bar.update(done)
        # With relax_cell the atoms are relaxed in the fixed cell first, then atoms and cell
        # together: from a strained start this is ~5x faster than relaxing all at once and
        # does not wander off into a higher-energy basin.
        retries = 0
        for cell in (False, True) if relax_cell else (False,):
            if resumed and resumed["cell"] and not cell:
                continue  # the checkpoint was written in the cell phase
            if cell:
                # Rarely a box step makes the system blow up ("simulation unstable", seen
                # before open_lammps zeroed LAMMPS's Ewald work memory): then start again
                # from the fixed-cell minimum with smaller box steps.
                fixed_cell_minimum = ff.current_atoms()
            for attempt, vmax in enumerate(CELL_STEPS if cell else (None,)):
                if stalled:
                    break
                try:
                    if cell:
                        _lmp(ff, f"fix zifviz_relax all box/relax tri {p_atm!r} vmax {vmax!r}",
                             source)
                    f_now, converged = check(cell)
                    while not converged and done < max_steps:
                        if not np.isfinite(f_now):  # never hand LAMMPS non-finite forces
                            raise ForceFieldError("MOF-FF forces became non-finite during the "
                                                  f"minimisation (after {done} steps)", source)
                        chunk = min(50, max_steps - done)  # restarts CG; advised with box/relax
                        before = ff.lmp.extract_global("ntimestep")
                        _lmp(ff, f"minimize 0.0 {ftol!r} {chunk} {10 * chunk}", source)
                        iterations = ff.lmp.extract_global("ntimestep") - before
                        done += iterations
                        bar.update(iterations)
                        f_now, converged = check(cell)
                        if not converged and iterations < chunk:  # stalled: see above
                            stalled, switched_at = True, done
                        save(cell)
                        if stalled:
                            break
                    if cell:
                        _lmp(ff, "unfix zifviz_relax", source)
                    break
                except ForceFieldError as exc:
                    if not cell or attempt + 1 == len(CELL_STEPS) or "unstable" not in str(exc):
                        raise
                    retries += 1
                    start(fixed_cell_minimum)
            if stalled:
                state, done = _lbfgs(ff.current_atoms(), topology, cell=cell, fmax=fmax,
                                     max_stress_mpa=max_stress_mpa, pressure_mpa=pressure_mpa,
                                     done=done, max_steps=max_steps, bar=bar,
                                     save=lambda state, steps: save(cell, state, steps),
                                     source=source)
                start(state)  # back into LAMMPS: its labels, and the next phase's start
                f_now, converged = check(cell)
        frame = _frame(ff, {
            "source": source, "ensemble": ensemble, "temperature": 0.0,
            "pressure": float(pressure_mpa) if relax_cell else 0.0,
            "step": int(done), "timestep": 0.0, "time": 0.0,
        })
        frame.info["converged"] = bool(converged)
        frame.info["fmax"] = float(f_now)
        if retries:
            frame.info["cell_retries"] = retries
        if resumed:
            frame.info["resumed_seconds"] = round(earlier, 2)
        if switched_at is not None:
            frame.info["lbfgs_from_step"] = int(switched_at)
        if checkpoint is not None:
            Path(checkpoint).unlink(missing_ok=True)
        return frame
    finally:
        bar.close()
        ff.close()


def _lbfgs(atoms: Atoms, topology, *, cell: bool, fmax: float, max_stress_mpa: float,
           pressure_mpa: float, done: int, max_steps: int, bar, save, source) -> tuple[Atoms, int]:
    """ASE's L-BFGS on MOF-FF from ``atoms`` until :func:`minimise`'s criteria hold (every
    atom's force ≤ ``fmax``; with ``cell``, atoms and cell together through a
    ``FrechetCellFilter``, every stress component within ``max_stress_mpa`` of the target) or
    ``max_steps`` steps are done in all; ``save(state, steps done)`` is offered each chunk.
    Returns ``(structure, steps done)``.

    The filter's cell-gradient factor is set so that its force criterion on the cell is the
    stress criterion: ``exp_cell_factor = V σ_max / fmax``."""
    from ase.filters import FrechetCellFilter
    from ase.optimize import LBFGS

    mpa = units.GPa / 1000.0  # eV/Å³
    state = Atoms(atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=True)
    state.calc = MOFFFCalculator(topology)
    target = np.array([pressure_mpa] * 3 + [0.0] * 3)
    movable = (FrechetCellFilter(state, exp_cell_factor=state.get_volume() * max_stress_mpa
                                 * mpa / fmax, scalar_pressure=pressure_mpa * mpa)
               if cell else state)
    optimiser = LBFGS(movable, logfile=None)

    def converged() -> bool:
        ok = np.linalg.norm(state.get_forces(), axis=1).max() <= fmax
        if cell:  # LAMMPS's pressure tensor is minus ASE's stress
            ok = ok and np.abs(-state.get_stress() / mpa - target).max() <= max_stress_mpa
        return bool(ok)

    try:
        while not converged() and done < max_steps:
            before = optimiser.nsteps
            with warnings.catch_warnings():  # scipy's logm of the cell deformation: ~1e-13
                warnings.filterwarnings("ignore", "logm result may be inaccurate",
                                        RuntimeWarning)
                optimiser.run(fmax=fmax, steps=min(25, max_steps - done))
            steps = optimiser.nsteps - before
            done += steps
            bar.update(steps)
            save(state, done)
            if not np.isfinite(state.get_forces()).all():
                raise ForceFieldError("MOF-FF forces became non-finite during the L-BFGS "
                                      f"minimisation (after {done} steps)", source)
            if steps == 0:  # converged by the optimiser's own (stricter) criterion
                break
    finally:
        state.calc.close()
    out = atoms.copy()
    out.set_cell(state.cell)
    out.positions = state.positions
    return out, done


CHECKPOINT_KEY = "zifviz_minimise"


def _write_checkpoint(path, state: Atoms, plan: dict, cell: bool, done: int,
                      seconds: float, **more) -> None:
    from ase.io import write

    from .storage import atomic_write

    frame = Atoms(state.numbers, positions=state.positions, cell=state.cell, pbc=True)
    frame.info[CHECKPOINT_KEY] = json.dumps({**plan, "cell": bool(cell), "done": int(done),
                                             "seconds": round(float(seconds), 2), **more})
    with atomic_write(path) as fh:
        write(fh, frame, format="extxyz")


def _read_checkpoint(path, atoms: Atoms, plan: dict) -> dict | None:
    """The checkpoint of :func:`minimise` at ``path`` (``None`` if there is none), checked
    against the structure and settings being minimised."""
    from ase.io import read

    path = Path(path)
    if not path.exists():
        return None
    try:
        saved = read(path, format="extxyz")
        state = json.loads(saved.info[CHECKPOINT_KEY])
    except Exception as exc:  # a file that is not a checkpoint of minimise
        raise ResumeError(f"not a minimisation checkpoint ({exc}); remove it to start anew",
                          str(path)) from None
    if not np.array_equal(saved.numbers, atoms.numbers):
        raise ResumeError("the checkpoint holds other atoms than the structure being "
                          "minimised; remove it to start anew", str(path))
    differ = sorted(k for k in plan if state.get(k) != plan[k])
    if differ:
        raise ResumeError(f"the checkpoint was written with other settings: {differ}; "
                          "remove it to start anew", str(path))
    state["atoms"] = atoms.copy()
    state["atoms"].set_cell(saved.cell)
    state["atoms"].positions = saved.positions
    return state


# ---------------------------------------------------------------------------------------
# Molecular dynamics
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MDSettings:
    """What defines an MD run (validated; compared when a run is resumed).

    Parameters
    ----------
    ensemble:
        ``"NVT"`` (``fix nvt``) or ``"NPT"`` (``fix npt ... tri``: all six cell degrees of
        freedom, off-diagonal stress target 0).
    temperature:
        Thermostat temperature (K); initial velocities are drawn at this temperature from
        ``seed`` (``velocity create ... loop geom``), so a run is reproducible.
    pressure_mpa, pressure_end_mpa:
        Barostat pressure (MPa; NPT only); with ``pressure_end_mpa`` the target is ramped
        linearly from one to the other over the run (``info["ensemble"] == "ramp"``).
    steps, every:
        Number of MD steps; a frame is taken every ``every`` steps (and at steps 0 and
        ``steps``).
    timestep_fs:
        MD time step (fs).
    seed:
        Velocity seed, 1 ≤ seed < 2**31.
    tdamp_fs, pdamp_fs:
        Thermostat and barostat damping times (fs; default 100 and 1000 time steps).
    """

    ensemble: str = "NVT"
    temperature: float = 300.0
    pressure_mpa: float = 0.0
    pressure_end_mpa: float | None = None
    steps: int = 1000
    every: int = 100
    timestep_fs: float = 0.5
    seed: int = 12345
    tdamp_fs: float | None = None
    pdamp_fs: float | None = None

    def __post_init__(self):
        ens = str(self.ensemble).upper()
        if ens not in ("NVT", "NPT"):
            raise SamplingError(f"ensemble must be 'NVT' or 'NPT', got {self.ensemble!r}")
        if self.pressure_end_mpa is not None and ens != "NPT":
            raise SamplingError("a pressure ramp needs ensemble='NPT'")
        _check_positive(temperature=self.temperature, steps=self.steps, every=self.every,
                        timestep_fs=self.timestep_fs)
        seed = self.seed
        if not (isinstance(seed, (int, np.integer)) and 0 < seed < 2**31):
            raise SamplingError(f"seed must be an integer between 1 and 2**31 - 1, got {seed!r}")
        for name in ("tdamp_fs", "pdamp_fs"):
            if getattr(self, name) is not None:
                _check_positive(**{name: getattr(self, name)})
        object.__setattr__(self, "ensemble", ens)

    @property
    def label(self) -> str:
        """``info["ensemble"]`` of the frames: ``"NVT"``, ``"NPT"`` or ``"ramp"``."""
        return "ramp" if self.pressure_end_mpa is not None else self.ensemble

    def target_pressure(self, step: int) -> float:
        """Barostat target (MPa) at ``step``; 0 in NVT."""
        if self.ensemble == "NVT":
            return 0.0
        end = self.pressure_mpa if self.pressure_end_mpa is None else self.pressure_end_mpa
        return float(self.pressure_mpa + (end - self.pressure_mpa) * step / self.steps)

    def info(self, step: int, source: str) -> dict:
        """``info`` of the frame taken at ``step``."""
        return {"source": source, "ensemble": self.label, "temperature": float(self.temperature),
                "pressure": self.target_pressure(step), "step": int(step),
                "timestep": float(self.timestep_fs), "time": step * self.timestep_fs / 1000.0}

    def fix_command(self) -> str:
        """The LAMMPS ``fix`` that integrates the run (real units: atm, fs)."""
        t = float(self.temperature)
        tdamp = self.tdamp_fs or 100 * self.timestep_fs
        if self.ensemble == "NVT":
            return f"fix zifviz_md all nvt temp {t!r} {t!r} {tdamp!r}"
        pdamp = self.pdamp_fs or 1000 * self.timestep_fs
        p0 = self.pressure_mpa * ATM_PER_MPA
        p1 = self.target_pressure(self.steps) * ATM_PER_MPA
        return f"fix zifviz_md all npt temp {t!r} {t!r} {tdamp!r} tri {p0!r} {p1!r} {pdamp!r}"

    def resume_settings(self) -> dict:
        """What a resumed (or extended) run must share with the stored one: all but ``steps``."""
        out = dataclasses.asdict(self)
        del out["steps"]
        return {"run": "md", **out}


def _md_settings(ensemble, kwargs: dict) -> MDSettings:
    """An :class:`MDSettings` from ``ensemble`` (a string or settings) and keyword overrides."""
    fields = {f.name for f in dataclasses.fields(MDSettings)}
    unknown = sorted(set(kwargs) - fields)
    if unknown:
        raise TypeError(f"unknown MD setting(s) {unknown}; the settings are {sorted(fields)}")
    if isinstance(ensemble, MDSettings):
        return dataclasses.replace(ensemble, **kwargs) if kwargs else ensemble
    return MDSettings(ensemble=ensemble, **kwargs)


def _open_md_output(output, settings: MDSettings, *, resume: bool, overwrite: bool,
                    n_atoms: int) -> FrameWriter | None:
    """The writer of an MD run; when resuming, its last frame must belong to this run."""
    if output is None:
        return None
    writer = FrameWriter(output, resume=resume, overwrite=overwrite,
                         settings=settings.resume_settings())
    last = writer.last
    if last is None:
        if writer.n_done:
            writer.close()
            raise SamplingError("cannot resume: no complete frame", str(writer.partial))
        return writer
    start = int(last.info.get("step", -1))
    have = {k: last.info.get(k) for k in ("ensemble", "temperature", "pressure", "timestep")}
    want = settings.info(start, "") if 0 <= start <= settings.steps else None
    if want is None or have["ensemble"] != settings.label or any(
            not np.isclose(float(have[k] if have[k] is not None else np.nan), want[k],
                           rtol=1e-9, atol=1e-9) for k in ("temperature", "pressure", "timestep")):
        writer.close()
        raise SamplingError(f"cannot resume: the last frame (step {start}, {have}) does not "
                            f"belong to this run ({settings})", str(writer.partial))
    if "momenta" not in last.arrays or len(last) != n_atoms:
        writer.close()
        raise SamplingError("cannot resume: last frame has no momenta or a different number "
                            "of atoms", str(writer.partial))
    return writer


def _start_md(ff: MOFFF, atoms: Atoms, settings: MDSettings, last: Atoms | None, topology,
              source: str) -> int:
    """Load the start (``atoms``, or the ``last`` frame of a resumed run with its velocities)
    into LAMMPS and fix the integrator; returns the first step."""
    start = 0 if last is None else int(last.info["step"])
    ff.setup(atoms if last is None else last, topology)
    if last is not None:
        _set_velocities(ff, last)
    cmds = [f"timestep {float(settings.timestep_fs)!r}", f"reset_timestep {start}", "thermo 0"]
    if last is None:
        cmds.append(f"velocity all create {float(settings.temperature)!r} {int(settings.seed)} "
                    "mom yes rot no dist gaussian loop geom")
    cmds.append(settings.fix_command())
    _lmp(ff, "\n".join(cmds), source)
    return start


def _md_steps(ff: MOFFF, settings: MDSettings, start: int, source: str, bar) -> Iterator[Atoms]:
    """Run from ``start`` to ``settings.steps``, yielding a labelled frame every ``every``
    steps (and the first frame when ``start`` is 0)."""
    if start == 0:
        yield _frame(ff, settings.info(0, source), velocities=True)
    step, every, steps = start, settings.every, settings.steps
    while step < steps:
        n = min(every - step % every, steps - step)
        _lmp(ff, f"run {n} start 0 stop {steps} post no", source)
        step += n
        bar.update(n)
        frame = _frame(ff, settings.info(step, source), velocities=True)
        if settings.label != "NVT":
            bar.set_postfix(V=f"{frame.get_volume():.0f} Å³", refresh=False)
        yield frame


def iter_md(atoms: Atoms, ensemble: str | MDSettings = "NVT", *, output=None,
            resume: bool = False, overwrite: bool = False, topology=None, progress: bool = True,
            **settings) -> Iterator[Atoms]:
    """Run MOF-FF MD and yield labelled frames as they are made (a lazy generator).

    Frames are taken at steps 0, ``every``, 2 ``every``, ... and ``steps``. Nothing runs
    until the generator is iterated; :func:`run_md` runs it to the end for you. See
    :func:`run_md` for the parameters. When resuming, only the new frames are yielded.
    If the loop is left early the output stays in ``<output>.partial.extxyz``.
    """
    run = _md_settings(ensemble, settings)
    writer = _open_md_output(output, run, resume=resume, overwrite=overwrite, n_atoms=len(atoms))
    return _md_generator(atoms, run, writer, topology, progress)


def _md_generator(atoms: Atoms, settings: MDSettings, writer: FrameWriter | None, topology,
                  progress: bool) -> Iterator[Atoms]:
    # Separate from iter_md so that settings and output-file errors are raised when iter_md
    # is called, not at the first iteration.
    source = _source(atoms)
    ff = MOFFF()
    bar = None
    try:
        if topology is None:
            from .topology import perceive

            topology = perceive(atoms, source=source)
        start = _start_md(ff, atoms, settings, None if writer is None else writer.last,
                          topology, source)
        bar = _progress(progress, settings.steps, f"MD {settings.label} {settings.temperature:g} K",
                        initial=start)
        for frame in _md_steps(ff, settings, start, source, bar):
            if writer is not None:
                writer.write(frame)
            yield frame
        if writer is not None:
            writer.finish()
    finally:
        if bar is not None:
            bar.close()
        if writer is not None:
            writer.close()  # keeps every finished frame in the partial file
        ff.close()


def run_md(atoms: Atoms, ensemble: str | MDSettings = "NVT", *, output=None, **kwargs):
    """Run MOF-FF molecular dynamics (Nosé–Hoover) and return the labelled frames.

    Parameters
    ----------
    atoms:
        Starting structure (a Zn(Im)2 framework).
    ensemble:
        ``"NVT"`` or ``"NPT"``, or a complete :class:`MDSettings`.
    output:
        An extended XYZ file the frames are streamed to (see the module notes on
        ``<output>.partial.extxyz``, ``resume`` and ``overwrite``).
    kwargs:
        The fields of :class:`MDSettings` (``temperature``, ``pressure_mpa``,
        ``pressure_end_mpa``, ``steps``, ``every``, ``timestep_fs``, ``seed``, ``tdamp_fs``,
        ``pdamp_fs``; they override those of a given settings object) and ``resume``,
        ``overwrite``, ``topology``, ``progress`` (tqdm bar, default ``True``).

    Returns
    -------
    list[Atoms] or Trajectory
        Without ``output`` a list of frames; with ``output`` a lazily read
        :class:`zifviz.io.Trajectory` of the finished file (memory stays flat).
        Use :func:`iter_md` to handle frames one by one as they are made.
    """
    gen = iter_md(atoms, ensemble, output=output, **kwargs)
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
    return run_md(atoms, "NPT", temperature=temperature, pressure_mpa=p_start_mpa,
                  pressure_end_mpa=p_end_mpa, steps=steps, every=every, **kwargs)


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
        writer = FrameWriter(output, overwrite=overwrite, settings={
            "run": "rattle", "n": int(n), "atom_sigma": float(atom_sigma),
            "cell_sigma": float(cell_sigma), "seed": int(seed)})
    rng = np.random.default_rng(seed)
    frames = []
    calc = MOFFFCalculator(topology)  # one typing, one LAMMPS instance for every copy
    try:
        from tqdm.auto import tqdm

        for k in tqdm(range(n), desc="rattle", disable=not progress, leave=False):
            upper = np.triu(rng.normal(0.0, cell_sigma, (3, 3)))
            eps = upper + np.triu(upper, 1).T
            copy = Atoms(atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=True)
            copy.set_cell(atoms.cell.array @ (np.eye(3) + eps), scale_atoms=True)
            copy.positions += rng.normal(0.0, atom_sigma, copy.positions.shape)
            copy.wrap()
            results = calc.evaluate(copy)
            frame = copy
            frame.arrays["energies"] = results["energies"]
            frame.info.update({
                "source": source, "ensemble": "rattle", "temperature": 0.0, "pressure": 0.0,
                "step": k, "timestep": 0.0, "time": 0.0,
                "atom_sigma": float(atom_sigma), "cell_sigma": float(cell_sigma), "seed": int(seed),
                "energy": results["energy"], "forcefield": calc.name, "temperature_inst": 0.0,
                # pressure = -trace(stress)/3; eV/Å³ -> MPa
                "pressure_inst": float(-results["stress"][:3].mean() / units.Pascal / 1e6),
            })
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
        calc.close()
