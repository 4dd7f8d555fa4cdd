"""Tetrahedral AB2 nets to decorate into hypothetical ZIFs (seed 000 decorated many such nets).

Each net is given by its T (A-site) positions and symmetry, built with
:func:`ase.spacegroup.crystal`, scaled so that the shortest A···A distance is ``a_a`` Å
(≈ 6.0 Å in ZIFs). B beads go on every A–A edge, displaced sideways from the midpoint so that
the A–B–A angle is about 145°, as in real Zn–Im–Zn bridges.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from ase import Atoms
from ase.spacegroup import crystal
from vesin import NeighborList

from .decorate import linker_geometry
from .errors import DataError, StructureError, StructureFileError, ZifvizError

# name -> (T-site fractional coordinates, space group, cell parameters of a prototype)
# Standard crystallographic descriptions of the nets (RCSR / IZA conventions).
NETS: dict[str, tuple[list, int, list]] = {
    "dia": ([(0.0, 0.0, 0.0)], 227, [1.0, 1.0, 1.0, 90, 90, 90]),
    "lon": ([(1 / 3, 2 / 3, 1 / 16)], 194, [1.0, 1.0, np.sqrt(8 / 3), 90, 90, 120]),
    "sod": ([(0.25, 0.0, 0.5)], 229, [1.0, 1.0, 1.0, 90, 90, 90]),
    "qtz": ([(0.5, 0.0, 0.0)], 180, [1.0, 1.0, 1.0 * 1.098, 90, 90, 120]),
}
"""Nets built here: diamond (dia), lonsdaleite (lon), sodalite (sod), quartz (qtz)."""

AB_ANGLE = 145.0
"""A–B–A angle (degrees) of the built nets."""


def _a_a_edges(t_sites: Atoms, tol: float = 1.05):
    nl = NeighborList(cutoff=1.0, full_list=False)
    lengths = t_sites.cell.lengths()
    cutoff = 0.75 * min(lengths)  # generous: nearest T–T is always shorter
    nl = NeighborList(cutoff=cutoff, full_list=False)
    i, j, d, D = nl.compute(points=t_sites.positions, box=t_sites.cell.array, periodic=True,
                            quantities="ijdD")
    short = d < tol * d.min()
    return i[short], j[short], D[short], d.min()


def _min_image_distance(cell: np.ndarray, points: np.ndarray, others: np.ndarray) -> float:
    if len(others) == 0:
        return np.inf
    inv = np.linalg.inv(cell)
    diff = (points[:, None, :] - others[None, :, :]) @ inv
    diff -= np.rint(diff)
    return float(np.linalg.norm(diff @ cell, axis=2).min())


def _place_b_beads(t_sites: Atoms, i, j, D, rng, n_trials: int = 24) -> np.ndarray:
    """B beads sideways from each A–A midpoint, each turned about its edge to the direction
    whose idealised linker keeps farthest from what is already placed (greedy)."""
    cell = t_sites.cell.array
    pos = t_sites.positions
    placed = [pos]
    b_positions = []
    for k in rng.permutation(len(i)):
        edge = D[k] / np.linalg.norm(D[k])
        base = np.cross(edge, rng.normal(size=3))
        base /= np.linalg.norm(base)
        other = np.cross(edge, base)
        turns = np.linspace(0, 2 * np.pi, n_trials, endpoint=False)
        sides = np.cos(turns)[:, None] * base + np.sin(turns)[:, None] * other
        offset = np.linalg.norm(D[k]) / 2 / np.tan(np.radians(AB_ANGLE / 2))
        centres = pos[i[k]] + D[k] / 2 + offset * sides
        linkers = linker_geometry(centres, pos[i[k]] - centres, pos[i[k]] + D[k] - centres)
        others = np.vstack(placed)
        mask = np.ones(len(others), dtype=bool)
        mask[[i[k], j[k]]] = False  # the two Zn it binds
        clearance = [_min_image_distance(cell, lk, others[mask]) for lk in linkers]
        best = int(np.argmax(clearance))
        placed.append(linkers[best])
        b_positions.append((k, centres[best]))
    b_positions.sort(key=lambda item: item[0])
    return np.array([c for _, c in b_positions])


def build_net(name: str, a_a: float = 6.0, seed: int = 0) -> Atoms:
    """The AB2 net ``name`` (see :data:`NETS`) with A···A distance ``a_a`` Å.

    Returns Atoms with A beads as Zn and B beads as O, arrays ``bead``, ``info["cg_level"]="AB2"``
    and ``info["source"]=f"net:{name}"``. ``seed`` picks the sideways direction of each B bead.
    """
    if name not in NETS:
        raise ZifvizError(f"unknown net {name!r}; choose one of {sorted(NETS)}")
    basis, spacegroup, cellpar = NETS[name]
    proto = crystal(["Zn"] * len(basis), basis, spacegroup=spacegroup, cellpar=cellpar)
    i, j, D, shortest = _a_a_edges(proto)
    scale = a_a / shortest
    t_sites = proto.copy()
    t_sites.set_cell(proto.cell.array * scale, scale_atoms=True)
    D = D * scale
    degree = np.bincount(np.concatenate([i, j]), minlength=len(t_sites))
    if not (degree == 4).all():
        raise ZifvizError(f"net {name} is not 4-connected (degrees {sorted(set(degree))})")

    b_positions = _place_b_beads(t_sites, i, j, D, np.random.default_rng(seed))
    net = Atoms(["Zn"] * len(t_sites) + ["O"] * len(b_positions),
                positions=np.vstack([t_sites.positions, b_positions]),
                cell=t_sites.cell, pbc=True)
    net.wrap()
    net.arrays["bead"] = np.array(["A"] * len(t_sites) + ["B"] * len(b_positions))
    net.info.update({"cg_level": "AB2", "source": f"net:{name}"})
    return net


# ---- the zeolite framework types (IZA), as AB2 nets ----------------------------------------

IZA_BASE_URL = ("https://raw.githubusercontent.com/morazov/Zeolite_CIF_Parser/"
                "ff247206ae3d3b7563dae16997161aaf5cd16112/CIFs/")
"""Public address of the IZA framework-type CIFs (idealised SiO2, DLS76), one per code."""

IZA_CITATION = ("Ch. Baerlocher and L. B. McCusker, Database of Zeolite Structures, "
                "http://www.iza-structure.org/databases/")

_IZA_SHA256 = """
ABW 95cdabfd80ee7655a14bcc34b9112daaa791d2c1b3fcc98621a7abb8be7c2208
ACO 1c6168ceb7fd636727ef4a5c7bf364476a44ecc7f489074cc67e4bc5346624c2
AEI c989d8814391b793a855c99d7d1ee89294839030e3a16927408c2160b1debd71
AEL 604555432b957221f5257e00445a02ced5a2d1647d745754b8f69affc22ccd5a
AEN ce8d6a01cd4e96d2b7865d87d8ec7c14a3274e14d915f517d03bd054556218c6
AET 34f5972c3f61c74840db1713f912b27af1f769630071c78353e8525f52bdeaf2
AFG 7c0962bc5e75263381b970c5c2ca646ad95d03957dea23ba96f6cb9db7817996
AFI 7d145d334e09cca643e388c19bdd1df6a9d78a8567690cd78dc01b67c4f36c92
AFN 627335c176fc013418382b840776c0143be52f6d8c00a505c70d3f759a88e4ac
AFO c81690a73e4a93883e4a9804d70f5fb2e20eeb15fbb9f1fac1d2052a2c735eec
AFR 660ffabfe36a2186e6cf8f106a099ec6973165c772ba0c73418c6c8101af50fb
AFS b17c96834a10355fc630a084e7cf32a0ff4aa9ce012e36682f9498584d83321f
AFT fd5118b1821c00e9b1efcce89c0c6ad43c2f6463e7d50c2b9f1d6cd171418837
AFV a82ccd08e4318438df44cb408082c059f81f884963e769cd3f8ecfc9cb8363ec
AFX 6a4256927b65ec320dba09660743c9ec8921bb513bce09036122bbad04559480
AFY 5450cec430da9271ec58700eda6cdec7deb841be80629269c9290c1555d7925d
AHT 31e27a8c65ffc7c396050b5255bee67de8230f874db6e6108f30493177ebe287
ANA 0d28ac06c0b1da47cbdbc74a261b2c294e9b8b915467d58c99cc0df7b23e552e
ANO ea516ca83565383c8e5788e2637cff796c29ade06902e3ba54d5d49a7d3b651e
APC 7891b541535a0f3afd78fe9702fcf0bc4e96e23c243d47b0fe71eb502a5d38fe
APD c9ce5dc6f0dea81b5be827d59702abbf606fafca1d323fd70113fcd37ccb06c0
AST a2e80974768b166977d6ede1cfa3e31c0116a4dbfb7c11af4248956e471db34a
ASV e5e2fc65c800e3d3f1680e5ab481a58c571dd9fd13bb2b089d2143d5dedf6008
ATN 9af2734044ae47444726923fb6bb92db17558f55d8b06a68572b906b461e2e45
ATO 3b26a6571f4d810e23574802ee83e8974cc89a02bcd38f417139b9717a621908
ATS 68acded0cb41298915ee209002966cc993aff6a23e6252b84f9bd6a7fe643ca8
ATT 0759d922a08edb0624af633612be52c2a8281bd310ebcac8f2e424976232f8d2
ATV bffa803b2afa2babed13b05987d7ad9102270bf757ef4e888a1693a8cd31ffe3
AVE 56432eed7baa173320402977e8db2ee155237ae222b0289c98addf55435cf796
AVL 78ab09647feff6cba015f6c2e076b7afec88cc3238bbbe09a242101fd0bc6c5b
AWO 4604da8d0f3efc2dd2c1063bd2b225d2b333679ee30e754208efdcba4bd6e4a3
AWW 047f0daf73c7072670bc7e73fd3ee98a9a2792443c499c20f5d4cd4dceb7796b
BCT ffbd3be2c60cadcc058fb94a9d992515a0c53cf37cbb04734d34f3de7fcfce89
BEC b9e3510256453ced2f392042a8bf991503028f90958fbe45f83faeb7362aac56
BIK ed6619d9d9c2ac1a12d3b41255a285554da0f78a5edfebb03e046520738dc00e
BOF 84c4ae1c1233a2c8844fe3dd16d84b44bc7c826379de4e7da35bbb6c9c395e62
BOG 22c29419d2b56d9b6783b753dadd40f48f3200e61e951e6135bd9f09ae82c5dc
BOZ 5982f0aca5a68c9dee20d9cd9bd969a991a23388abf2e048b9cb3ce07ae62620
BPH 0ec1035741ee9eb3f76b7b24278894e1a44c0d4e99d826c0f0187b0bdcc47803
BRE 99c6832af18f9336383008e3158d1879cea6f89b6fe5469c1f512d7d2b993c89
BSV 87d663b890f76ed62a25d25f2a0def59cfbd212347ae69d019ffbda848fd7a24
CAN c18e07f5ab7ddc122d5010562d4a9801340b353eac2eb12e982872cd73c52396
CAS 768bcc06a53debb99dafb3afe668cc3d820d40cbe2786fc994d2a7abf06a7d75
CDO 60e2c1dddff0f80859a25a11b2b108131b8d186e4ea95483a72fe5f6de2f0206
CFI 16381177e0fbea469b0d2d22e4ad75350ea665b1b02282eecb20bf47d558250a
CGF 7ac16b99285fe4948cd20168d810d17944a6a04610f54cdd5bbd10c5088267cf
CGS 7d0361d3ce69a590466d6b3265420cdf9318e02df834bb604a6bac8f65c10ee4
CHA abe820a15331145d26d2e6b87581db38a16db4363e324a5caa9a8636217896a8
CHI 8d7271ba187d794b50f3d17cf4388aed8a2e4f97c0c53f32cd60f7377c132c12
CLO cacab6f171f050b9583acef79bfcac6fe4e1c93712c762a9bac23ee204a68be8
CSV e335e4abe980de03d70f22734d3011d7dbe1559f08f41d8137a32e9171fdf560
CZP 0b220fb788756181c791061b1132e595fab5b5dc0adb3d16db7034e855c74738
DAC 9eb5078dd8c7a41bceac3137974b69b12fddd1f350d0bd77016fe1b90380e982
DDR 50f7970242dc6313cada43e824f0dd952c019667a772c3bf6f8abafb52e49933
DFO 2fbee3e60a922f2f0735dd9a6133f24ec637e78817ecca038afeedbface628e6
DFT 5422a4136f4efbe4399ae2cbdd20396de9dd4ca52f0de2a13e24b87d6c2fe8da
DOH 8634a5008ac94ece315138f73b4d031e5b7f51d44da3aec4d901aab9b84f0538
DON 62259677a8f0a5c2664f1360d8c3445fbde8e3392e751022de8901d3fdeee480
EAB e1bd2c1e1c48522adb9198689c4279d3277f4104c96694df6ea19dd8630a2a99
EDI 4007e1498f83e3e2871719d5f667d2b4c70fa7be0cdca81db1630dac8fad4035
EEI cb8815ad91d0999fc8807aa3afece7eea3fc72e658a9812b798d747fc2ae8893
EMT 0871088c8f6cc88b46146b977431b06df4a94927d4c9389f8e7bac3867be3b3b
EON 579b2402a9ce1ea89f37be9aa9ba79a61f82dcf43915e4e20834fe49f45b8d65
EPI dbfeed5f2a64f4c1703e8af584e41f7ebdd3dd1b18b7f5a9f1b0e23613b6cc11
ERI 2d6496697ba83f41a3bc4d7f7ebaee5c00b2aba9e563a8fdfa005b697d7152ee
ESV e1319be5dd81488508fb397cf81a201520bd13f76a23c15ac884464abf4d2ccc
ETL 4632cdc228d0ceeba25fca33170c9d765e8c3dc1c76089cb5032c51f8431e94c
ETR a266f7250a7e2302fb9c85fd21003ac77bc4aae38e011efe4b342bf119c20c74
ETV 99b517ea79786429732fcaae8ffa607f281cef5136bf00bd839d1089820a356f
EUO 81fe7998c7c3ad0bf516a32bb32c5279eb67fe903a63b01c212cfbdd068bfa3e
EWO fdc23693d039404e5a9b84537df9d67834c0965e9abf174b35caaecf27cad667
EWS c40c0445a124ef66225bb0ec47e4cdb81248aa691a06e10f4cdf91ca134ae62c
EWT 175a8dd9f5b457e40a2748f579d6b5749de984d07c4e1fb2fc49303cc1828cba
EZT 89f553f6b464f301ef23d7bad78efa1593ba8e3329cda681857f9c8f98b20430
FAR 86335dd93d33887b4c034b463ad0708aa32bb92ccbf7b73d0931a592f812923b
FAU b7b9606c1775c5b46f7517b7693de12791b588f5205c08747152c39af6e3e277
FER 0ce2fea0bcfa77473a2b39d4a3974246f88d169b99dfba82777a7002f94bb928
FRA 3f1a8c75ee3d156ecc8b77e399af6ed816f8253b587a3355de1d68dfa1afa7e8
GIS 2e4561950d84e316fd3f72da986d25e176df133d1467487e3d4f0ddb788ea18e
GIU f003c2d07e90248f1c209052607b6b3125f34f50d9a69517c051fb6f409eb37c
GME bb5960dc2ba06130ea691cc7d66c8ebe6a1b86ce65a80fc20904dc153280675f
GON e3036fc44be99107d3f019ebb406a87ab2499f2bdcb176b167045e6f9f803212
GOO a9cdb9151f1844be72525b5e5c7f9af39a6c7daa10ae2f65d3ebe22568a50339
HEU 5ee6f1f479899fbb44aa1576fa533bd83087c536393556913218a7757a024b23
IFO ab84e84ed85db7e8710b1d278e346051d0caafa1e456a7cf8923303faa0bb15b
IFR c43c96d6b9730729a6dd7a98a89032c3ad86fcfe64136e5af89b2bc05dceeca5
IFT 7c4427a5f94082337083532f54b61010534df66edc7ee757d694e829937c4a38
IFU 56b8d2982b7ceb9de416dac0cf0eb057dbd1e7baae0a42fca50ff80f935ec4ed
IFW 3bbcfe807ec8bb3e805d0712228fcee4dd75b0731ecf07aba22d04ef897c648a
IFY 16103f8037871d82a3b3a860adcb120e9b4e804c776b8703bbefb698c9ff1135
IHW dc1096d4989b4390f8b6b221b831b06a63b39a729c83a87b49bad915dd2fbfd0
IMF 88778a4ca9be18f9dbf9518f1401222b43ce47246fad381fb00dbfd9e78a5e15
IRN 15ff5304f6ec5c4dd322bb5d14503dc58d97ce805b8929af9c2f1df50e93a6cd
IRR 1b5508d6901306f823c6a8ccec73957b6e44dfb3cc36acbf140f9582bdb19a80
IRY 8b4c6f1ee0676bf487030e226dd72739822b205f66cdc065a7f58db1aebb3989
ISV fc56cd097586a1323916590251ef8ee8aa16f3cde69fcad6614711ea226a1942
ITE c5a197b162f35211d8ed29e48f7ee189e9082da4a30e27fc869c8309a0f3b066
ITG 6c1976b188aebdf1a7f31e64065138fe0d9476af66f86b7b451a8141837184a6
ITH 97c2cf33e862738cf6b5ba02349cd9f274d9cbec7b0f772222a4430f061a0160
ITR 9b64351148c7e119518328f22c249a4a8197e3416b992798fa59a7debeed99e7
ITT ab50069a1e2efab5adf38473f7e8414138361efb6546e6e91b1dea495e670768
ITV 1cefa7ea7abaf3b5a35e593acb834e35e4a72d5285ce618e69d7a597d8bd66d3
ITW 54e39f3593efe8722d4bcf1417ff35348ffdab14e6990272b4dbe63ebada8a47
IWR 073eb1c2d0a7b26bbda448e17de4303f091d276b4d31590e0ecb9c6a50660721
IWS 38ba96e360575eacc9aaa5d8f6c881e146e85acd22c595dfad900c10257a3f6b
IWV 0c5c349166a27febb07b66ee90c5788e9a86cc306b4eb93fd55ba1b57c8bd923
IWW baf265b877afbf980f1d7588520b05a5f5ab61543b2c2af3532d62fbf6ef51ef
JBW 203589ace3edc867b77df87afe1bd73ea1e07fa069a0ed4517a2951b5b265bed
JNT 9994835f9a3c51311cfd444a01c39ee3a3c0a23d5f9e5592a686f9986ef494eb
JOZ 155cebd64ab3df9a7125823e407e146411cf328d53847fd6287208941551d3c8
JRY ea78a4e15ef8071a473f6cb28e832a94edd7e862a0469fa934a716f35d48668e
JSN 8b83f501a8768c0e52a2e7472e0c1d527e3d9de43d8327b2121a91704625a443
JSR ccba2a39f20e2f807fa41313a54d5b0af2ec92592e117f8dcc38001059a61ba9
JST d9942747ab81333df40a9cdd62248e6de2462cc0a9635f4671f7eb92f27d66d3
JSW 9fce7637aaf9fdedb277ec41ba253b1a76021cc424407662c846d69abcff948e
JZO 2f2871c4f84dcec989273908bbd8f8a779b01bae4a0df5085065449b9665786c
KFI f5d91c96ed661fd9e8f1686d54ef432189cb7f08bbe141e932becc0ce305fa0a
LAU 273901c8d26bf29d082ba6d428bcc3a2990448d01d33b38822ba25e55b259d4a
LEV f81e44153755bf44ae2027af89567d63ea9ccf478e24eb5f7b49c4f37d859cfd
LIO 7a5c12463cc9a70dfed483135c4890d520dcbe0ef9b2b341cef306dddc7e804d
LIT c077689207d25b8aa298ebcac348695bbe27cc7f76aa4bf7f3a6a7275137762b
LOS b478b513bedd9e3eed6cd542056dd18e16f6807e0583a7e26f6abbcf0e0a62a9
LOV 741dada2db8e785b645d34a0c2192396801dd8ff8ed348fe7b8ee943699aa348
LTA f168df485c3fc9050800251056c9ae6c754c13f71e595ed7b24d0d67eaf89760
LTF 6cd602f662c725949c9d9281701fcda7128692b8c5c1450f5c02b5d237e90181
LTJ 52a22c3c085186a228592e68a5b97722d3b6d4d7bbfc3304e52c5204db61b5c8
LTL 4cf487415333ea35a3ed928abb189bea699506b0472d663bc3de3f011d90529c
LTN 006eaa83843e5cfb0dc2a583b45847cdb7e99094c230d356d7ed838d361e49ce
MAR 713a7eca8a51e3cef038915d19db6feedfda625c65b0c4f1ef618bd3b714d685
MAZ a214f3d98e0123abce10abc07defb6458aee218a04fb7621522d6613f345322c
MEI 009435fdbfab1c7c0d966d614dde8ac97c33cb41b0299a9b7c0bfbaa43e54a33
MEL 8d127f0a4c72ee01ec4309a62c3312f04edc0fdfa8a98eeb54c360df6e92bdff
MEP 1d6366aa96e0987a6344bc4222194b664a528944dbed1b785c378a973f919a46
MER 693b7c2534b94ce67a4201f2db4213825945638547332f166141b0cfa50d53e5
MFI ab7320e3c7e0aec3fd660298046ba99a7349a6b96353280952ecd1c518fb3032
MFS 3108214847fa59c754ce246ca6347ba8be7978afb1dbd2d50f1c614975404968
MON a49d028f4777a69f87f9caf5fef22d143e177e02eaa7e657c36fae5b9ea7cdb5
MOR 02414bab1867c866943117e7cbdf58a3f6141292aecbc086cc68314e2513d702
MOZ 1073d530d3fc93530437a0444746ea616fc3d2bd4257c6e858c296fe1bf48503
MRT a46148fb2d58063b5834520bafa1e5346e7d5ce0b5c7ffcab9465adf74491565
MSE adecebb4444482277577ab14957e10e109c1504a3adc026b09293966c24b6f97
MSO 85dadeb2ed01076cfb9f7e5fcc5dc90c42a33800692932d1d7a7e4dae625c144
MTF 000fe57afb08f7c26a0c20cdf4c6399e2672cba0bb8aa48db21e0f1ba31edb96
MTN 54953ad71f0443dfdde6890b77ee08c073e292196d13e7803d2092a69e9a6ddb
MTT f1e88be0b1c331c268663807107c2c14ccd1478f1c3f1f1f45a106fcbbb84a24
MTW d83c2bfe679dbfff4afc885d562a871f3eac80b3a47b136e1ab8af00197ef062
MVY dd041924de079dda950727926cfcb008ca0005a5734e05e51f7ef491e6fcf318
MWF fe3ee241c81d22a8065f8e469fccc14ffc72448f2460650197321e37e85046f3
MWW 05ef79bd31b5e5a54ec01d7e0a14993f1ca51b6b9f9541b40ae8d5c5f94fc120
NAB 1f5651912455d2d983324f57aef4c689a23484b030a720b2f7326bfb59818e0e
NAT 302be57aed30e82f056c6cb2316ccc3acf855f26b6416fa8983b7559988e8b15
NES c915bae6fd65c5b085a23d0e01b93bd91239afabd0f5f2e810f6d3397a925df2
NON 0adb53ab894615014c7dad29211d71ce933d886b9cd2aeaaaa2bfd6a16afac51
NPO 556267e478049274fa4b4fe2dd752923d3a6c77866745f076cb1c1306b809d55
NPT 23b8aad9499cd1a12ec10265f3b606f4287dc6879185bc0b86dd70e4d51de4c7
NSI 88003e587e2f2b7e0453cf20926a298b1cded8704204a4f3cda38c1e87281fc5
OBW c351808035d3c877116e0b93fdbbe99bc9d91a03a569f8956993dc8796c134ac
OFF 8da2d2968d28a0d64acd5f47d493e074631226565df045673bcdee21b1dde15e
OKO 9cfff0d3fedd6e3aaf4a38532f8b36dc481ec60b8761068c1885901d39cf77df
OSI dca4d57a6cf7eb0f2d1582f57ddd5b36b5e2493aa69ef7ca8b1a4f68b6c47ac9
OSO a45bb156ffdda1fd3f9c80e077f83cb654a13c17725b2923784b2e345e4779a3
OWE c5522e16cb12ae41e943f4da3f7a2e057f140ad07d1d7bb2553e0d443059862b
PAR aacfb0c37e08f99b600c3a0dae351d3226e7f63106426fdb5921de8b64a294f7
PAU e71bcc3a78ac3a34d8a8548157328c86d6333fd26526213ff5f7ce6204a57de9
PCR 84c6f18e70c3fc34d0e6f255c87db1cf3ff5c77447fdfe466812e56402381c14
PHI def1f5cb2f510623e27739820340b897f55898c9d932c5ea32d5e6067c78bcca
PON 049db32d5d61a3c4ffe0abc8f13c7bd5cebcd189e66b8959d72c34388d69ed54
POR 424bf0fc465f2e1847c4cf045ad5680efa18078cb78d21ec586d930ee647a4e3
POS a825bec0296971ac724b4b345548e7fb19180db68d9a0c16f097b431614272a9
PSI d8978078267dc3d306d8a2d8d35923c05a4acf7029ccf9f28e5c54eaf22ec4d3
PTO a91aab4e880e1f32f946cf28a7fbe75a6ceb5b8e9098a059a1cbf87730a8eab7
PTT 2f74bd53543f1bf7bfe84664fe098e4e0e77ad60ea15803823af66deed8138d2
PTY a1bc685537830338cd4aa6d28411f597d9f5e4d69293b3cd112f5238a1805f20
PUN 1e8ed75b92eb0481bd68906f584dc4ebf355174f8f11aa67374d4a92237e7ce7
PWN 37eb3bbbcd4fbae619637a2de2846468bfd301f94801e3931daca36764db7cef
PWO f45b646d1c89051ce6fe781d1b80a4291d49f82489a9932c15b7e03f92baec0d
PWW 7541e967bdb711d8eb2e5e45525a99af18d37f46bfd9a02862c054297b264549
RHO d5b745b918b0ce09e4f860fab8b4b2a2d356f81a7cde6ac02d1ee1c1bf3e092a
RON 1ce1046e711b0c6660239e511b35c29828a4c86cd244a102cfbb1fd03ffcab87
RRO 486f9d8f25ef3a7108298b66667888cbb4e43abc054157a4ca674ee29407bef2
RSN a91db2cd5f82e9e8ded6a68002eb821753535decc4b667af0c0330f3898d7ece
RTE c3dd0e6be049bca67dcfd10c1e0785db9defac0e8088c314d5159a2570a4cc4a
RTH 5fdc8c0de23ddd9ae622e7d1a611742cd57dfd0ce130022a87af0f8338d932e5
RUT ca7030cb79c7cadc7a11513f4e767e78a4e4d81492a5f89ef0c7d1c9e1a51a46
RWR 35c3a28a27c3e73bd4d060ead99867e7fe10c646cc5b63c0c869019c0dc77915
RWY 5279e2c50652f7b53aa4f498095c00f7177b6b642e09a5d7b163c5000c102643
SAF 91fa9e05e386dc12bcbb710361f2db4cb639f962b72292fa5d444bcf94f569e1
SAO db4d57124713ebe86ca102db5c65d811fbb424b928b1b0985d108d53c8c6a322
SAS be4fd2011d851da6ebfcdc70e998f3ee46575102122d38ce47dd868ed3d8f1a4
SAT 5905046a680856eb8bb6f9164ce62e230c797d6bbc939565f3406c9467f023fb
SAV fbed689cd5a1858433deee04eaab0a3bc37c01f646c87f8dac4ccdd3962643c9
SBE 769d9a003e326c42b9cfba874a842a2d7de49ab37144572c6d2b0fad5d0f1d95
SBN ea8acba7f8bd3015b75742505ce1692a5418450efacedeafda954c189a237c84
SBS 9b2727a2a16db5c4cd1afc79dfc09e7a4f8450d7f39140695e265fb46c86ff0c
SBT 6364263315a62080f61786d44442a7ff8ce2091bbf5519fdbd6cccd18e5e51b4
SEW cfcbb2f5f59127e19d8450fd33290e18cfb6d79610246eacfe9a33f963a82591
SFE 1d5f9bf00d745461b39ee0a2947b3675615f2f7b17812dbdd1c59e27ca0a0412
SFF f902773bcb09b576433bb03bec2d91ebf184da2da5bdb63449c2dc5125a62345
SFG 6ca4f7667e6ba6bae8c3b23a72f6853d8eb7090ba4985d4db1cbcc163dda4268
SFH 6127c26e6fa0c497b65ab66f9d83e7f62cd5214df90fdb13ea198872d92a50f1
SFN 647d18ca80cb8764e65235620066bd9a7139e674d1d91c8a94a7df6551d47e0a
SFO 630b373c334886359c2eba3c11193fca0016912aa0ab4df72319831f2ebf83ca
SFS 42fe241a8acb1ae7315188f8b3b101fab70e204884681bd68caf5d216c475957
SFW 0cabb9260fe6ca46482e8924f78498008ebc1b63100229d79f96ee13c052c921
SGT 3fecac81772c6afcf544004ee86e2c51b1664c18ef3f52953155601eecac3582
SIV 1e161e8d0960bc072ec4eb8d62946533f50338beaf11c9ca27361f0d7da6fd2e
SOD 28bb3a0dec3c32cf56b079bd6c23bf7dce5750ddc330786cd9d34c6519d102ea
SOF d09225fc97136312aae9b82c42818f3b68fb0e689e4d0c109115df61f5e6b7a5
SOR fc4f619db2a62bf648116fcbc771a8405727954a48f3d61d0f78685c507a4d68
SOS d7426722ab760f28a1fed09d2ea4afba404a779f59fe4ed6fdcb274a566053a2
SOV 7eec2233930ca614c31708d597bc651f67b9ca911a5b9a921b2365fb0f1d3ca1
SSF 67985cd81d7a3c8b2d4eea10c4214e3f6f3109a99b5cec3e5c6c983e4d7281da
SSO b6016c09e3866fb719400e778c6f7a6219d3aa24c3089fd6ac30ffb7facf27e4
SSY e23b63a61144f8257fd7ddc9929c7936100d43928a333cf04e43e14c3cb9b4c5
STF 8b0ed1cdd2a6ed7fe96c286aeee3f23b2fcc8def3b03cfdf7d352b9ff894768a
STI 09c169a89aa44d646306e5026060c3767c8605a98a3f6a5c35b6834b90ea3646
STT 222ac06070c1b94cd7c373295b7ec071dcd4abdccf7ba17aa230ad959f5465e2
STW a87adc12e6a7beffb42d7a1cd647f8320683e607239b8f2b2606fc9a072192f1
SVR 82eadf0ed510a68fa1b23ea1bcdb5638752b7c979048259578a932e247f79cc5
SVV 88c53a78bea4d8c1ed0e95825780ec7d704a6f045acbc891902ae81ae4009378
SWY ba857c379a526505ce22cbef0d99f87f85adc45753f11e907d4fad34e9e6e050
SYT 154bc5ae811cf79e82b125a4f3d083b032770d05ff745cce67459679401e853f
SZR ee4631a45469020db89d81e764db09bdb4bc4b0c40433019eb87c5e6062db647
TER 14d83d9324891ba7c3ce4b4a40b015244e357f66aa6916a84cb03fa6bb541f13
THO 352d2da22b6e7855adb92ce4fb6659458d0dfa7653c3fd81323b0e7c1fc6be29
TOL aaccf7d219e19eb46b69dc309ecb0fb8344c9159d68d4ad5ff4dbc42742a93f3
TON 61b81de6fa63bf57b2ed27048bfd1bd87445bcdbc992b600d0e4421216cb7ae0
TSC e30a969fa6ef7fc2e1827fd9ba00d848db5e5ec9acb9097978e623a90170260e
TUN be1767ed4222060e2f726522d38b2a9fd9808d4927a44c53fdfa45178e286829
UEI af3dabeadc8857dc071b675c2623bd36ca0176b8a30627d27e6876eb92179444
UFI 4bac576da8e2de0704a303a8d078e7dbdd82da855ae466431083e5c3e98e39f3
UOS 235bcd53c630b4e0cba6255a7f5473f98feb6db72d27202b7d51b14b2573a38a
UOV a4217e303c7ce3283fe84b312226a38f69d0ea467ef7126d59c89731a95386c6
UOZ 27b5b058f0334f9de877172c1fd7afef77772533983c9de0eb48b17163981603
USI 50123d8fd595688fa8d7328c5b5148d42353b801eda83d0f4738b17656eaf31f
UTL 7e8c074c722c900d4d053778a7d3b28415c957fd817aa60f0274c9df6dc5ad98
UWY e3aff6c71615c6a5bf7d0dc64cb0cf020f057e03b38b1e567c3f9aa28cc83364
VET ad22517ab17b5d702a5a34d7532b0741a17dd0824fe83d2704c0867a18a77a12
VFI 09bb16de093ab21d7039489d6c773edff437920f2411b0780fe345f1a5aa0477
VNI 4f1a99acafd9f87fd1b100fc3f3a943b7a5d6572c3d381af77bf8951cea0943b
VSV 9de1ffe17c8fcc5854011d10dc384f50c82596868939286dcdaaa0a8060e9b59
WEI f1f24b593ebeb66945530cecb94aa50b0fd44420c8f16a9b0db6c2f760fbf652
WEN eedf1b39b4bdcf1904671ee83e2321cf6fc4b9dd065f50e331a1dcd89062f632
YFI 01b7c4fa7652c900f7380f20ea473c4fb1c7ca10f7c3be2649cacb96de952ad7
YUG 5da5ece40abf5db1e36047eface77c42c5d7db5ff6ea5f3eb24b7423277ff26f
ZON 3491c3abdd63411db11bd5e12870091f7e321e16efff7db9e890bc5c0ba13b97
"""
IZA_SHA256: dict[str, str] = dict(line.split() for line in _IZA_SHA256.strip().splitlines())
"""Framework code -> SHA-256 of its CIF at :data:`IZA_BASE_URL`."""

SI_O_CUTOFF = 2.0
"""Largest Si–O distance (Å) taken as a bond in the IZA CIFs (Si–O ≈ 1.6 Å there)."""


def iza_codes() -> list[str]:
    """The 246 framework-type codes with a published CIF (alphabetical)."""
    return sorted(IZA_SHA256)


def fetch_iza(code: str) -> Path:
    """Local path of the IZA CIF of framework type ``code`` (e.g. ``"SOD"``), SHA-256 checked.

    Taken from ``$ZIFVIZ_DATA_MIRROR/nets/iza/<code>.cif`` when that variable is set (nothing
    goes to the network), else downloaded once into the user cache from :data:`IZA_BASE_URL`.
    """
    import os

    from .datasets import MIRROR_ENV, _sha256

    code = str(code).upper()
    if code not in IZA_SHA256:
        raise DataError(f"unknown IZA framework code {code!r}")
    sha = IZA_SHA256[code]
    mirror = os.environ.get(MIRROR_ENV)
    if mirror:
        path = Path(mirror).expanduser() / "nets" / "iza" / f"{code}.cif"
        if not path.is_file():
            raise DataError(f"{MIRROR_ENV}={mirror} has no file nets/iza/{code}.cif", str(path))
        if _sha256(path) != sha:
            raise DataError("SHA-256 does not match the published file", str(path))
        return path
    import pooch

    url = IZA_BASE_URL + f"{code}.cif"
    try:
        return Path(pooch.retrieve(url, known_hash=f"sha256:{sha}", fname=f"iza__{code}.cif",
                                   path=pooch.os_cache("zifviz"), progressbar=False))
    except Exception as exc:  # network errors, hash mismatch
        raise DataError(f"could not fetch {url}: {exc}. Offline? Set {MIRROR_ENV} to a "
                        "directory holding nets/iza/", code) from exc


def net_from_sio2(sio2: Atoms, a_a: float = 6.0, source: str = "SiO2") -> Atoms:
    """The AB2 net of a fully connected SiO2 framework: Si -> A (Zn), O -> B (O), scaled so
    that the mean bridged Si···Si distance becomes ``a_a`` Å.

    Raises :class:`~zifviz.errors.StructureError` for other elements, an O not bridging
    exactly two Si (an interrupted framework has terminal O) or a Si without four O.
    """
    symbols = np.array(sio2.get_chemical_symbols())
    if not np.isin(symbols, ["Si", "O"]).all():
        others = sorted(set(symbols) - {"Si", "O"})
        raise StructureError(f"not a SiO2 framework (contains {', '.join(others)})", source)
    if not (sio2.pbc.all() and sio2.cell.rank == 3):
        raise StructureError("no 3D periodic cell", source)
    si = np.flatnonzero(symbols == "Si")
    o = np.flatnonzero(symbols == "O")
    nl = NeighborList(cutoff=SI_O_CUTOFF, full_list=True)
    i, j, D = nl.compute(points=sio2.positions, box=sio2.cell.array, periodic=True,
                         quantities="ijD")
    keep = (symbols[i] == "O") & (symbols[j] == "Si")
    i, j, D = i[keep], j[keep], D[keep]
    o_degree = np.bincount(i, minlength=len(sio2))[o]
    si_degree = np.bincount(j, minlength=len(sio2))[si]
    if (o_degree != 2).any():
        bad = int((o_degree != 2).sum())
        raise StructureError(f"interrupted framework: {bad} O atoms do not bridge two Si "
                             f"(degrees {sorted(set(o_degree.tolist()))})", source)
    if (si_degree != 4).any():
        raise StructureError(f"not 4-connected: Si with {sorted(set(si_degree.tolist()))} O",
                             source)
    order = np.argsort(i, kind="stable")
    D = D[order].reshape(-1, 2, 3)  # O -> its two Si
    si_si = np.linalg.norm(D[:, 0] - D[:, 1], axis=1)
    scale = a_a / float(si_si.mean())
    net = Atoms(["Zn"] * len(si) + ["O"] * len(o),
                positions=np.vstack([sio2.positions[si], sio2.positions[o]]) * scale,
                cell=sio2.cell.array * scale, pbc=True)
    net.wrap()
    net.arrays["bead"] = np.array(["A"] * len(si) + ["B"] * len(o))
    net.info.update({"cg_level": "AB2", "source": source})
    return net


def read_iza(code: str, a_a: float = 6.0) -> Atoms:
    """The AB2 net of IZA framework type ``code`` (see :func:`fetch_iza`, :func:`net_from_sio2`),
    ``info["source"] = "iza:<code>"``. Unreadable files raise
    :class:`~zifviz.errors.StructureFileError`, interrupted frameworks
    :class:`~zifviz.errors.StructureError`."""
    import warnings

    import ase.io

    path = fetch_iza(code)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sio2 = ase.io.read(path, format="cif")
    except Exception as exc:  # ASE raises many kinds on bad CIFs
        raise StructureFileError(f"cannot read the CIF ({type(exc).__name__}: {exc})",
                                 str(path)) from exc
    return net_from_sio2(sio2, a_a=a_a, source=f"iza:{code.upper()}")
