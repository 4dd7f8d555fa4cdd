"""What the benchmark scripts share: the offline data mirror, one pinned core, best-of-n timing.

Import it first (before zifviz): ``from _common import best, use_shared_data``; a script run as
``python benchmarks/bench_x.py`` has this folder on ``sys.path``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path


def use_shared_data() -> None:
    """Read the public structures from ``../shared/data`` beside the repository when it is
    there (offline, as the tests do), unless ``ZIFVIZ_DATA_MIRROR`` is already set."""
    shared = Path(__file__).resolve().parents[2] / "shared" / "data"
    if shared.is_dir():
        os.environ.setdefault("ZIFVIZ_DATA_MIRROR", str(shared))


def pin_one_core() -> None:
    """Run this process on one core (figures per core), where the OS allows it."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})


def best(fn, repeat: int = 5):
    """``(fastest wall time in s of repeat calls of fn, what the last call returned)``."""
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out
