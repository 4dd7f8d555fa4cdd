"""zifviz: zeolitic imidazolate frameworks at atomistic and coarse-grained resolution, in JupyterLab.

ASE ``Atoms`` in, arrays and DataFrames out::

    import zifviz
    atoms = zifviz.read("ZIF-4.cif")
    topo = zifviz.perceive(atoms)              # Zn–N bonds, linkers, Zn–Zn net
    cg = zifviz.coarse_grain(atoms, "AB2", topo)
"""

from .coarse import LEVELS, bead_atoms, coarse_grain, net_bonds
from .energetics import linker_energies, local_energies
from .errors import (DataError, PerceptionError, StructureError, StructureFileError,
                     UnderCoordinatedZnWarning, ZifvizError, ZifvizWarning)
from .errors import OverCoordinatedZnWarning, TopologyMismatchError
from .io import Trajectory, iread, read, write
from .errors import OutputExistsError, ResumeError
from .topology import ZIFTopology, annotate, perceive
from .environments import environment_table, locate, structure_id

__version__ = "0.1.0"

__all__ = [
    "LEVELS", "DataError", "PerceptionError", "StructureError", "StructureFileError",
    "Trajectory", "UnderCoordinatedZnWarning", "ZIFTopology", "ZifvizError", "ZifvizWarning",
    "annotate", "bead_atoms", "coarse_grain", "iread", "linker_energies", "local_energies",
    "net_bonds", "perceive", "read", "write",
    "OverCoordinatedZnWarning", "TopologyMismatchError",
    "environment_table", "locate", "structure_id",
    "OutputExistsError", "ResumeError",
]
