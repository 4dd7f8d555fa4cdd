"""Root pytest configuration: point zifviz at the offline mirror of the public reference data
(../shared/data beside the repository) for tests and notebook runs, so nothing is downloaded."""

import os
from pathlib import Path

_shared = Path(__file__).resolve().parent.parent / "shared" / "data"
if _shared.is_dir():
    os.environ.setdefault("ZIFVIZ_DATA_MIRROR", str(_shared))
