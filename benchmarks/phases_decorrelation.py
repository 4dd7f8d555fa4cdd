"""How far apart must frames of one MOF-FF run be to be (nearly) independent samples?

Runs one NPT trajectory (the phases recipe's conditions, a frame every 10 steps) and prints,
against the lag, the autocorrelation of (a) the Zn displacements from their run-mean
positions and (b) the deviations of the seed 003 symmetry-function rows (BPSF) from their
run means. The ``phases`` build spaces its frames (``PhaseSize.every``) from this.

    python benchmarks/phases_decorrelation.py [--phase ZIF-4] [--steps 6000]
"""

import argparse
import warnings

import numpy as np

from _common import use_shared_data

use_shared_data()

from zifviz import sampling  # noqa: E402
from zifviz.build_demo import _phase_conditions, _relaxed_starts  # noqa: E402
from zifviz.descriptors import BPSF  # noqa: E402


def autocorrelation(x: np.ndarray, lags) -> np.ndarray:
    """Normalised autocorrelation of the rows of ``x`` (frames × features), deviations from
    the per-feature mean, averaged over features."""
    d = x - x.mean(axis=0)
    var = (d * d).mean()
    return np.array([(d[:-lag or None] * d[lag:]).mean() / var if lag else 1.0 for lag in lags])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--phase", default="ZIF-4")
    parser.add_argument("--steps", type=int, default=6000)
    parser.add_argument("--every", type=int, default=10)
    args = parser.parse_args()
    import tempfile
    from pathlib import Path

    names, temperature, pressure = _phase_conditions(args.phase)
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = _relaxed_starts([names[0]], Path(tmp))[names[0]]
        frames = sampling.run_md(start, "NPT", temperature=temperature, pressure_mpa=pressure,
                                 steps=args.steps, every=args.every, seed=3, progress=False)
    frames = frames[len(frames) // 5:]  # drop the first 20 % (settling)
    zn = frames[0].numbers == 30
    # Zn displacements in fractional coordinates (cell fluctuations do not count), unwrapped
    frac = np.array([f.get_scaled_positions(wrap=False)[zn] for f in frames])
    frac -= np.round(frac - frac[0])
    disp = (frac - frac.mean(axis=0)).reshape(len(frames), -1)
    rows = BPSF().transform(frames).reshape(len(frames), -1)
    dt = args.every * 0.5e-3
    lags = [k for k in (0, 1, 2, 5, 10, 20, 30, 40, 60, 80, 100, 150, 200) if k < len(frames) // 2]
    cz, cb = autocorrelation(disp, lags), autocorrelation(rows, lags)
    print(f"{args.phase}: NPT {temperature:g} K, {pressure:g} MPa, {len(frames)} frames "
          f"{dt * 1000:g} fs apart")
    print(" lag (ps)   C_Zn-displacement   C_BPSF")
    for lag, a, b in zip(lags, cz, cb):
        print(f" {lag * dt:8.2f}   {a:17.3f}   {b:7.3f}")
    for name, c in (("Zn displacement", cz), ("BPSF", cb)):
        below = [lag * dt for lag, v in zip(lags, c) if abs(v) < 0.1]
        print(f"{name}: |C| < 0.1 from {below[0] if below else 'beyond'} ps")


if __name__ == "__main__":
    main()
