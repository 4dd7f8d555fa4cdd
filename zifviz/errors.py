"""Exceptions and warnings raised by zifviz.

Every problem with user input is a :class:`ZifvizError` whose message names the
source (usually a file) and what is wrong with it.
"""

from __future__ import annotations


class ZifvizError(ValueError):
    """Base class of all zifviz errors about user input.

    Parameters
    ----------
    message:
        What is wrong.
    source:
        Where the problem was found (a file path or a structure label), if known.
    """

    def __init__(self, message: str, source: str | None = None):
        self.source = source
        self.problem = message
        super().__init__(f"{source}: {message}" if source else message)


class StructureFileError(ZifvizError):
    """A structure or trajectory file cannot be read (empty, truncated, binary, unknown format, ...)."""


class StructureError(ZifvizError):
    """A structure was read but is not usable (no cell, NaN coordinates, overlapping atoms, ...)."""


class PerceptionError(ZifvizError):
    """The structure is not a Zn(imidazolate)2 framework (no Zn, broken linkers, missing H, guests, ...)."""


class DataError(ZifvizError):
    """A data file or download failed its checks (unknown name, wrong checksum, missing mirror)."""


class ZifvizWarning(UserWarning):
    """Base class of zifviz warnings."""


class UnderCoordinatedZnWarning(ZifvizWarning):
    """Some Zn have fewer than four imidazolate N neighbours (legitimate in glasses and liquids)."""


class ForceFieldError(ZifvizError):
    """A force field cannot be set up or evaluated (LAMMPS missing, atoms without parameters, ...)."""


class ResumeError(ZifvizError):
    """An unfinished output cannot be resumed (other settings, no complete frame, ...)."""


class OutputExistsError(ZifvizError):
    """An output file (or an unfinished one) exists and would be replaced without overwrite=True."""


class TopologyMismatchError(StructureError):
    """A topology perceived on one frame does not fit another (other atoms, order, or bonds)."""


class OverCoordinatedZnWarning(ZifvizWarning):
    """Some Zn have more than four imidazolate N neighbours (a distorted or overlapping structure)."""


class ModelFileError(ZifvizError):
    """A saved model or map file cannot be used (missing, not zifviz's format, other settings)."""


class DescriptorMismatchError(ModelFileError):
    """Data described with other descriptor settings (or feature count) than a model was fitted on."""


class StateFileError(ZifvizError):
    """A saved widget state cannot be reopened (not a state file, its data changed or are gone)."""
