"""Does the hypothetical-ZIF set teach what seed 000 found? One quick model per level.

Zn-centred SOAP, polynomial kernel (1 + x·x')⁴ on normalised SOAP, kernel ridge, 5-fold CV
grouped by framework (:func:`zifviz.hzif.learning_check`), on a file built by
``python -m zifviz.hzif``. Prints the spread of ε_local and ε_Zn, the RMSE per level and the
ratios, overall and per procedure and magnitude, next to seed 000's numbers, and writes them
as JSON.

    python benchmarks/bench_hzif.py data/energies.extxyz.gz [--n-train 4000] [--target eps_zn]
        [--seed 1] [--rattled-only] [--random-cv]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from zifviz.hzif import PROCEDURES, SOAP_SETTINGS, learning_check
from zifviz.storage import atomic_write

SEED_000 = {"eps_local": {"atomistic": 0.042, "AB2": 0.065, "A": 0.150},  # eV, GPR, 5-fold CV
            "eps_zn": {"atomistic": 0.010, "AB2": 0.020, "A": 0.081}}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("path")
    parser.add_argument("--n-train", type=int, default=4000)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--max-local", type=float, default=1.0)
    parser.add_argument("--rattled-only", action="store_true",
                        help="fit rattled copies only, as seed 000")
    parser.add_argument("--random-cv", action="store_true",
                        help="split environments at random instead of by framework")
    parser.add_argument("--soap", default=None,
                        help='JSON of SOAP settings per level, e.g. \'{"A": {"r_cut": 8, '
                             '"n_max": 6, "l_max": 4, "sigma": 0.5}}\' (others as default)')
    parser.add_argument("--target", choices=["eps_local", "eps_zn"], default="eps_local")
    parser.add_argument("--seed", type=int, default=0, help="which environments are sampled")
    parser.add_argument("--out", default=None, help="JSON file (default: next to the data)")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    table, s = learning_check(args.path, n_train=args.n_train, folds=args.folds,
                              max_local=args.max_local,
                              procedures=PROCEDURES[1:] if args.rattled_only else None,
                              grouped=not args.random_cv, target=args.target, seed=args.seed,
                              soap_settings={**SOAP_SETTINGS, **json.loads(args.soap)}
                              if args.soap else None)
    s["seconds"] = round(time.perf_counter() - t0, 1)
    seed = SEED_000[args.target]
    s["seed_000"] = seed
    print(f"{args.path}: {s['n_environments']} Zn environments, {s['n_frameworks']} frameworks; "
          f"fitted {s['n_used']} (ε_local within {args.max_local} eV of relaxed ZIF-zni), "
          f"{args.folds}-fold CV {'grouped by framework' if s['grouped_by_framework'] else 'at random'}"
          f", {s['seconds']} s")
    print(f"spread (std): ε_local {s['spread_eps_local_std']:.3f} eV, ε_Zn "
          f"{s['spread_eps_zn_std']:.3f} eV; fitted set std {s['used_std']:.3f} eV")
    r = s["rmse"]
    print(f"\ntarget {args.target}\n| | atomistic | AB2 | A-only | AB2/atom | A/atom | predict mean |")
    print("|---|---|---|---|---|---|---|")
    print(f"| this set | {r['atomistic']:.3f} | {r['AB2']:.3f} | {r['A']:.3f} | "
          f"×{r['AB2'] / r['atomistic']:.2f} | ×{r['A'] / r['atomistic']:.2f} | "
          f"{r['predict_mean']:.3f} |")
    print(f"| seed 000 | {seed['atomistic']:.3f} | {seed['AB2']:.3f} | {seed['A']:.3f} | "
          f"×{seed['AB2'] / seed['atomistic']:.2f} | ×{seed['A'] / seed['atomistic']:.2f} | |")
    print("\n| procedure / magnitude | n | std | atomistic | AB2 | A-only |")
    print("|---|---|---|---|---|---|")
    for key, g in s["by_group"].items():
        print(f"| {key} | {g['n']} | {g['std']:.3f} | {g['atomistic']:.3f} | {g['AB2']:.3f} | "
              f"{g['A']:.3f} |")
    out = Path(args.out) if args.out else Path(args.path).with_name("learning_check.json")
    with atomic_write(out) as fh:
        json.dump(s, fh, indent=1)
    print(f"\nwritten {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
