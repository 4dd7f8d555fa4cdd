"""Root pytest configuration: point zifviz at the offline mirror of the public reference data
(../shared/data beside the repository) for tests and notebook runs, so nothing is downloaded,
and keep the decoded frame cache of the test run in a temporary folder (not ~/.cache)."""

import atexit
import os
import shutil
import tempfile
from pathlib import Path

_shared = Path(__file__).resolve().parent.parent / "shared" / "data"
if _shared.is_dir():
    os.environ.setdefault("ZIFVIZ_DATA_MIRROR", str(_shared))

if "ZIFVIZ_CACHE_DIR" not in os.environ:  # inherited by notebook kernels and the lab server
    _cache = tempfile.mkdtemp(prefix="zifviz-test-cache-")
    os.environ["ZIFVIZ_CACHE_DIR"] = _cache
    atexit.register(shutil.rmtree, _cache, ignore_errors=True)
