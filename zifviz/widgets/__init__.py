"""Jupyter widgets of zifviz (ipywidgets + nglview + plotly); one module per widget."""

from __future__ import annotations

import importlib

from .colors import ColorMapping, color_options, map_colors, map_values
from .scene import SceneModel
from .viewer import LEVELS, StructureViewer

#: Widgets whose modules are imported on first use.
_LAZY = {"GridExplorer": ".grid_explorer", "EmbeddingExplorer": ".embedding_explorer",
         "TransitionPlayer": ".transition_player"}

__all__ = ["StructureViewer", "SceneModel", "LEVELS", "ColorMapping", "color_options",
           "map_colors", "map_values", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
