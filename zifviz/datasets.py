"""Public reference structures (fetched by address, SHA-256 checked) and the bundled demo data.

The public ZIF structures come from the Coudert group's ``citable-data`` repository (CC BY
4.0; cite the papers in :data:`CITATIONS`). :func:`fetch_structure` downloads a file once
into the user cache with :mod:`pooch`, checking its SHA-256. When the environment variable
``ZIFVIZ_DATA_MIRROR`` names a directory that holds the same files (with the layout of
``REFERENCE_FILES``' keys), they are taken from there instead and nothing goes to the network.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from .errors import DataError

MIRROR_ENV = "ZIFVIZ_DATA_MIRROR"
BASE_URL = "https://raw.githubusercontent.com/fxcoudert/citable-data/master/"

WIDMER = "Widmer et al., J. Am. Chem. Soc. 2019, 141, 9330"
GAILLAC = "Gaillac, Pullumbi, Coudert, Chem. Mater. 2020, 32, 8004"
CASTEL = ("Castel & Coudert, Chem. Mater. 2023, 35, 4038; MOF-FF for ZIFs: Dürholt, Fraux, "
          "Coudert, Schmid, J. Chem. Theory Comput. 2019, 15, 2420")

# name (path under the mirror) -> (path in citable-data, sha256, citation, description)
REFERENCE_FILES: dict[str, tuple[str, str, str, str]] = {
    "structures/widmer2019/ZIF4-FixedCell.cif": (
        "113-Widmer_JACS_2019/ZIF4-FixedCell.cif",
        "987da138634175227e49bf881d57d7113df74942e8429b7ab1050ed967c81be9", WIDMER,
        "ZIF-4 (cag), DFT-optimised, experimental cell"),
    "structures/widmer2019/ZIF4-RelaxedCell.cif": (
        "113-Widmer_JACS_2019/ZIF4-RelaxedCell.cif",
        "5ba11ca5b488ce601cdac2fdb2667750be7486463d9c59ab9b29c9af10a4ffff", WIDMER,
        "ZIF-4, DFT-optimised, relaxed cell"),
    "structures/widmer2019/ZIF4-CP-II-FixedCell.cif": (
        "113-Widmer_JACS_2019/ZIF4-CP-II-FixedCell.cif",
        "9c88ae716d91c0e0bdc6cb76a0eda949afbfd17de7b4009076e003efc7dd3c0e", WIDMER,
        "ZIF-4-cp-II (closed pore), DFT, experimental cell"),
    "structures/widmer2019/ZIF4-CP-II-RelaxedCell.cif": (
        "113-Widmer_JACS_2019/ZIF4-CP-II-RelaxedCell.cif",
        "9bc824817ed29e915dd4682839169629d7cd4251cbf9d86bd9c8f57bf87740a0", WIDMER,
        "ZIF-4-cp-II, relaxed cell"),
    "structures/widmer2019/ZNI-FixedCell.cif": (
        "113-Widmer_JACS_2019/ZNI-FixedCell.cif",
        "79ae93d7d1f5b69ee4ea4adbad4f72eb0ae1ec8d94b6d28a74851683ab154964", WIDMER,
        "ZIF-zni, DFT, experimental cell"),
    "structures/widmer2019/ZNI-RelaxedCell.cif": (
        "113-Widmer_JACS_2019/ZNI-RelaxedCell.cif",
        "0ad44d4bdc20e2c6c13d6606b5f3ca50fd9f9a625099c7649bfdade30ff8a1f4", WIDMER,
        "ZIF-zni, relaxed cell"),
    "structures/widmer2019/ZIF-4-cp-II.cif": (
        "113-Widmer_JACS_2019/ZIF-4-cp-II.cif",
        "1c33c0c5cd714b80378cdd5016e3fcea6ce843cd2484941cc55f17cd367b608d", WIDMER,
        "ZIF-4-cp-II, experimental"),
    "structures/widmer2019/ZIF-4-hPT-II.cif": (
        "113-Widmer_JACS_2019/ZIF-4-hPT-II.cif",
        "4be496a5bc705ed298f927af61aebd88ad8f11f5ebfbcd49b62ab76d450f4756", WIDMER,
        "ZIF-hPT-II (dia), experimental"),
    "structures/gaillac2020/ZIF4_15glass01.cif": (
        "129-Gaillac_ChemMater_2020/ZIF4/ZIF4_15glass01.cif",
        "e169cbfb6ece461d47971e493b0871b0ff686cc0cc3ef53455e04f4c0dc27ddc", GAILLAC,
        "ZIF-4 glass from ab initio MD melt-quench"),
    "structures/gaillac2020/ZIF4_15glass02.cif": (
        "129-Gaillac_ChemMater_2020/ZIF4/ZIF4_15glass02.cif",
        "9d374b38ce537dad9d9155a6a62660221ee643949e0cc1e7fd7a725d00f5d2ae", GAILLAC,
        "ZIF-4 glass (one 3-coordinated Zn)"),
    "structures/gaillac2020/ZIF4_15glass03.cif": (
        "129-Gaillac_ChemMater_2020/ZIF4/ZIF4_15glass03.cif",
        "e878b2b62ed99876bc6b023be4b37991a0d51e9d97813755b84e0142527de0de", GAILLAC,
        "ZIF-4 glass (one 3-coordinated Zn)"),
    "mofff/castel2023_zif4/ZIF-4_supercell111.data": (
        "156-Castel_ChemMater_2023/Structures/Crystal/MOF-FF/ZIF-4_supercell111.data",
        "d955171860a2c564ef1a09c607be14645f39aeaf1bd03f8b82a6b1c771144a9b", CASTEL,
        "ZIF-4 LAMMPS data file with MOF-FF parameters"),
    "mofff/castel2023_zif4/ZIF-4_supercell111.in": (
        "156-Castel_ChemMater_2023/Structures/Crystal/MOF-FF/ZIF-4_supercell111.in",
        "15ba4fe07c65e5f8ed60259638d2cb753947bb3fd4a780fda3cba0c3217ca7a5", CASTEL,
        "ZIF-4 LAMMPS input with MOF-FF parameters"),
}

CITATIONS = {name: entry[2] for name, entry in REFERENCE_FILES.items()}


def _resolve(name: str) -> str:
    if name in REFERENCE_FILES:
        return name
    matches = [k for k in REFERENCE_FILES if k.endswith("/" + name) or k == "structures/" + name]
    if len(matches) == 1:
        return matches[0]
    raise DataError(f"unknown reference file {name!r}; known: "
                    + ", ".join(k.split("/", 1)[1] for k in REFERENCE_FILES))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fetch_structure(name: str) -> Path:
    """Local path of a public reference file, e.g. ``"widmer2019/ZIF4-FixedCell.cif"``.

    Taken from ``$ZIFVIZ_DATA_MIRROR`` when set, else downloaded once (SHA-256 checked)
    into the user cache. Raises :class:`~zifviz.errors.DataError` on a wrong checksum or an
    unreachable file.
    """
    key = _resolve(name)
    remote, sha, _, _ = REFERENCE_FILES[key]
    mirror = os.environ.get(MIRROR_ENV)
    if mirror:
        path = Path(mirror).expanduser() / key
        if not path.is_file():
            raise DataError(f"{MIRROR_ENV}={mirror} has no file {key}", str(path))
        if _sha256(path) != sha:
            raise DataError("SHA-256 does not match the published file; the mirror copy is "
                            "corrupt or a different version", str(path))
        return path
    import pooch

    try:
        return Path(pooch.retrieve(BASE_URL + remote, known_hash=f"sha256:{sha}",
                                   fname=key.replace("/", "__"),
                                   path=pooch.os_cache("zifviz"), progressbar=False))
    except Exception as exc:  # network errors, hash mismatch
        raise DataError(f"could not fetch {BASE_URL + remote}: {exc}. Offline? Set "
                        f"{MIRROR_ENV} to a directory holding a copy", key) from exc


def citation(name: str) -> str:
    """The paper to cite for a reference file."""
    return CITATIONS[_resolve(name)]


def list_reference_files(kind: str = "structures") -> list[str]:
    """Names of the public reference files under ``kind`` ('structures' or 'mofff')."""
    return [k.split("/", 1)[1] for k in REFERENCE_FILES if k.startswith(kind + "/")]


# ---- demo datasets built by zifviz (zifviz.build_demo) -------------------------------------

DEMO_ENV = "ZIFVIZ_DEMO_DIR"
DEMO_SETS = ("energies", "phases")


def demo_dir() -> Path:
    """Directory of the demo datasets: ``$ZIFVIZ_DEMO_DIR`` or the repository's ``data/``."""
    env = os.environ.get(DEMO_ENV)
    return Path(env) if env else Path(__file__).resolve().parents[1] / "data"


def demo_path(name: str, size: str = "demo") -> Path:
    """Path of a demo dataset file, checked against ``MANIFEST.json`` (SHA-256)."""
    import json

    if name not in DEMO_SETS:
        raise DataError(f"unknown demo dataset {name!r}; choose one of {DEMO_SETS}")
    suffix = "" if size == "demo" else f"-{size}"
    folder = demo_dir()
    path = folder / f"{name}{suffix}.extxyz.gz"
    rebuild = f"rebuild it with: zifviz build-demo --size {size} --only {name}"
    if not path.is_file():
        raise DataError(f"demo dataset not found; {rebuild}", str(path))
    manifest = folder / f"MANIFEST{suffix}.json"
    if manifest.is_file():
        expected = json.loads(manifest.read_text()).get(name, {}).get("sha256")
        if expected and _sha256(path) != expected:
            raise DataError(f"SHA-256 differs from {manifest.name}; the file is corrupt or "
                            f"half-written; {rebuild}", str(path))
    return path


def load_demo(name: str, size: str = "demo") -> list:
    """Frames of a demo dataset (``"energies"`` or ``"phases"``) as a list of ASE Atoms.

    Works offline: the demo sets ship in ``data/``. Per-atom MOF-FF energies (eV) are in
    ``atoms.arrays["energies"]``; see :mod:`zifviz.build_demo` for how each set was made.
    """
    from .io import iread

    return list(iread(demo_path(name, size), format="extxyz"))
