"""zifviz: zeolitic imidazolate frameworks at atomistic and coarse-grained resolution, in JupyterLab.

ASE ``Atoms`` in, arrays and DataFrames out::

    import zifviz
    atoms = zifviz.read("ZIF-4.cif")
    topo = zifviz.perceive(atoms)              # Zn–N bonds, linkers, Zn–Zn net
    cg = zifviz.coarse_grain(atoms, "AB2", topo)
"""

from .coarse import LEVELS, bead_atoms, coarse_grain, net_bonds
from .energetics import linker_energies, local_energies
from .environments import environment_table, locate, structure_id
from .errors import (DataError, OutputExistsError, OverCoordinatedZnWarning, PerceptionError,
                     ResumeError, StructureError, StructureFileError, TopologyMismatchError,
                     UnderCoordinatedZnWarning, ZifvizError, ZifvizWarning)
from .io import Trajectory, iread, read, write
from .topology import ZIFTopology, annotate, perceive

__version__ = "0.1.0"

__all__ = [
    "LEVELS", "DataError", "OutputExistsError", "OverCoordinatedZnWarning", "PerceptionError",
    "ResumeError", "StructureError", "StructureFileError", "TopologyMismatchError", "Trajectory",
    "UnderCoordinatedZnWarning", "ZIFTopology", "ZifvizError", "ZifvizWarning", "annotate",
    "bead_atoms", "coarse_grain", "environment_table", "iread", "linker_energies",
    "local_energies", "locate", "net_bonds", "perceive", "read", "structure_id", "write",
]
