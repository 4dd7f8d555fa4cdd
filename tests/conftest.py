"""Shared fixtures: the public reference structures, never copied into the repository.

They come from ``$ZIFVIZ_DATA_MIRROR`` or ``../shared/data`` beside the repository when that
exists (offline), otherwise they are fetched by address (SHA-256 checked) through
:func:`zifviz.datasets.fetch_structure`. A test that needs them never skips silently: without a
mirror and without the network it fails, naming the file it could not get.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

if SHARED_DATA.is_dir():
    os.environ.setdefault("ZIFVIZ_DATA_MIRROR", str(SHARED_DATA))


@pytest.fixture(scope="session")
def shared_data(tmp_path_factory) -> Path:
    """A folder with the layout of the reference mirror (``structures/...``, ``mofff/...``)."""
    mirror = os.environ.get("ZIFVIZ_DATA_MIRROR")
    if mirror and Path(mirror).is_dir():
        return Path(mirror)
    from zifviz.datasets import REFERENCE_FILES, fetch_structure

    root = tmp_path_factory.mktemp("reference-data")
    for name in REFERENCE_FILES:  # downloaded once into the user cache, SHA-256 checked
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(fetch_structure(name))
    return root


@pytest.fixture(scope="session")
def zif4_path(shared_data) -> Path:
    return shared_data / "structures/widmer2019/ZIF4-FixedCell.cif"


@pytest.fixture()
def zif4(zif4_path):
    import zifviz

    return zifviz.read(zif4_path)
