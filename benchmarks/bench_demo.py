"""Loading the demo data: the lazy DemoSet (metadata, query, frames on demand) vs full loads.

Run: python benchmarks/bench_demo.py
Does what notebook 01 needs from the demo sets — one NVT ZIF-4 frame of ``energies`` and the
frames of one 1500 K run of ``phases`` — several ways, side by side in one run:

* full load, ASE parser: every frame of both files parsed by ASE's extxyz reader (what
  ``load_demo`` did before it became lazy), then filtered in Python (once: ~20 s);
* full load, zifviz.iread: every frame through zifviz's own parser, then filtered (best of 3);
* lazy, query: ``load_demo`` (metadata), ``.query(...)``, then only the frames asked for — the
  first time ever (empty frame cache: the files are decoded once) and in a later session
  (the cache on disk is reused), best of 3;
* lazy, old code: the DemoSet iterated and filtered in Python (code written for the list);
* lazy, first frame: ``load_demo("phases")``, the query and its first frame only.

Prints the time of each and the ratio to the ASE full load.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
import time

import ase.io
from ase.io.formats import open_with_compression

import zifviz
from zifviz import datasets
from zifviz.frames import iter_xyz_blocks

ENERGIES_FRAME = "framework == 'ZIF-4' and ensemble == 'NVT' and step > 0"
HOT_RUN = "phase == 'liquid' and source_set == 'NVT' and start == 'glass-02'"


def pick(frames, phases):
    frame = next(f for f in frames if f.info["framework"] == "ZIF-4"
                 and f.info["ensemble"] == "NVT" and f.info["step"] > 0)
    hot = [f for f in phases if f.info["phase"] == "liquid" and f.info["source_set"] == "NVT"
           and f.info["start"] == "glass-02"]
    return frame, hot


def ase_frames(path):
    with open_with_compression(str(path), "rb") as fh:
        return [ase.io.read(io.StringIO(b.data.decode()), format="extxyz")
                for b in iter_xyz_blocks(fh)]


def full_ase():
    return pick(ase_frames(datasets.demo_path("energies")), ase_frames(datasets.demo_path("phases")))


def full_iread():
    return pick(list(zifviz.iread(datasets.demo_path("energies"), format="extxyz")),
                list(zifviz.iread(datasets.demo_path("phases"), format="extxyz")))


def lazy_query():
    frame = datasets.load_demo("energies").query(ENERGIES_FRAME)[0]
    return frame, list(datasets.load_demo("phases").query(HOT_RUN))


def lazy_first_frame():
    return datasets.load_demo("phases").query(HOT_RUN)[0]


def lazy_old_code():
    return pick(datasets.load_demo("energies"), datasets.load_demo("phases"))


def timed(fn, repeat=3, fresh_cache=False):
    times = []
    for _ in range(repeat):
        datasets._OPEN.clear()  # the per-session index
        folder = None
        if fresh_cache:
            folder = tempfile.mkdtemp(prefix="bench-demo-cache-")
            os.environ["ZIFVIZ_CACHE_DIR"] = folder
        try:
            t = time.perf_counter()
            out = fn()
            times.append(time.perf_counter() - t)
        finally:
            if folder:
                del os.environ["ZIFVIZ_CACHE_DIR"]
                shutil.rmtree(folder, ignore_errors=True)
    return min(times), out


if __name__ == "__main__":
    lazy_query()  # make sure the frame cache of this machine exists
    t_first, first = timed(lazy_first_frame)
    rows = [("lazy: load_demo + query + frames", *timed(lazy_query)),
            ("lazy, first time ever (empty cache)", *timed(lazy_query, repeat=1, fresh_cache=True)),
            ("lazy: old list-style code on DemoSet", *timed(lazy_old_code)),
            ("full load, zifviz.iread", *timed(full_iread)),
            ("full load, ASE parser (before)", *timed(full_ase, repeat=1))]
    steps = {tuple(f.info["step"] for f in [frame, *hot]) for _, _, (frame, hot) in rows}
    assert len(steps) == 1, "the ways disagree on the frames"
    n = len(datasets.load_demo("energies")) + len(datasets.load_demo("phases"))
    frame, hot = rows[0][2]
    print(f"demo sets: {n} frames; notebook 01 needs 1 + {len(hot)} of them")
    t_ase = rows[-1][1]
    for label, t, _ in rows:
        print(f"{label:<40} {t:8.3f} s   ASE full load / this {t_ase / t:8.1f}x")
    assert first.info["step"] == hot[0].info["step"]
    print(f"{'lazy: phases load_demo + query + 1st':<40} {t_first:8.3f} s   ASE full load / this "
          f"{t_ase / t_first:8.1f}x")
