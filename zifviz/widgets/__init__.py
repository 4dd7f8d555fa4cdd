"""Jupyter widgets of zifviz (ipywidgets + nglview + plotly); one module per widget."""

from .colors import ColorMapping, color_options, map_colors
from .viewer import LEVELS, StructureViewer

__all__ = ["StructureViewer", "LEVELS", "ColorMapping", "color_options", "map_colors"]
