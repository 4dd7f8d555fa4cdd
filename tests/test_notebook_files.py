"""The notebooks as files: valid nbformat (every cell with an id, which nbformat will require)
and saved without outputs, so that nbval runs them from a clean state and diffs stay small."""

from __future__ import annotations

import warnings
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 6


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_file_is_valid_and_clean(path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. MissingIDFieldWarning: a cell without an id
        nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
        nbformat.validate(nb)
    ids = [cell["id"] for cell in nb.cells]
    assert len(set(ids)) == len(ids)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert not any(cell.outputs for cell in code)
    assert all(cell.execution_count is None for cell in code)
