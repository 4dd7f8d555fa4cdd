"""Shared fixtures: the public reference structures from ../shared/data (never copied into the repo)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

if SHARED_DATA.is_dir():
    os.environ.setdefault("ZIFVIZ_DATA_MIRROR", str(SHARED_DATA))


def _need_shared():
    if not SHARED_DATA.is_dir():
        pytest.skip(f"reference data not found at {SHARED_DATA}")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    _need_shared()
    return SHARED_DATA


@pytest.fixture(scope="session")
def zif4_path(shared_data) -> Path:
    return shared_data / "structures/widmer2019/ZIF4-FixedCell.cif"


@pytest.fixture()
def zif4(zif4_path):
    import zifviz

    return zifviz.read(zif4_path)
