"""Jupyter widgets of zifviz (ipywidgets + nglview + plotly); one module per widget."""

from .colors import ColorMapping, color_options, map_colors, map_values
from .scene import SceneModel
from .viewer import LEVELS, StructureViewer

__all__ = ["StructureViewer", "SceneModel", "LEVELS", "ColorMapping", "color_options",
           "map_colors", "map_values"]
