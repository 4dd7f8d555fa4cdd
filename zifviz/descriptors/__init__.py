"""Descriptors of Zn environments, one row per row of :func:`zifviz.environment_table`.

- :class:`SOAP` (dscribe underneath) at any coarse-graining level, as seed 000 and seed 003;
- :class:`BPSF`, seed 003's twelve Zn–Zn symmetry functions.
"""

from __future__ import annotations

import importlib

_WHERE = {"SOAP": ".soap", "BPSF": ".symmetry"}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    """Import each descriptor's module on first use (dscribe is slow to import)."""
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
