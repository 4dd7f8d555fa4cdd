"""zifviz.growth: the Zn–Zn net, clusters of a new phase and four-membered Zn rings."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from ase import Atoms

import zifviz
from zifviz import growth
from zifviz.errors import StructureError, ZifvizError


@pytest.fixture(scope="module")
def zif4_cell(zif4_path):
    return zifviz.read(zif4_path)


@pytest.fixture(scope="module")
def zif4_222(zif4_cell):
    atoms = zif4_cell.repeat(2)
    return atoms, zifviz.perceive(atoms)


@pytest.fixture(scope="module")
def zif4_333(zif4_cell):
    atoms = zif4_cell.repeat(3)
    return atoms, zifviz.perceive(atoms)


def _reference_rings(net):
    """Four-rings by walking the periodic net one lifted Zn at a time (slow, obvious)."""
    nb = {i: [] for i in range(net.n_zn)}
    for (i, j), s in zip(net.edges, net.shifts):
        nb[i].append((j, tuple(s)))
        nb[j].append((i, tuple(-s)))
    origin = (0, 0, 0)
    rings = set()
    for u in range(net.n_zn):
        for v, sv in nb[u]:
            for w, sw in nb[v]:
                W = (w, tuple(np.add(sv, sw)))
                if W == (u, origin):
                    continue
                for x, sx in nb[w]:
                    X = (x, tuple(np.add(W[1], sx)))
                    if X in ((u, origin), (v, sv)):
                        continue
                    for y, sy in nb[x]:
                        if (y, tuple(np.add(X[1], sy))) == (u, origin):
                            nodes = [(u, origin), (v, sv), W, X]
                            base = np.array(min(nodes)[1])
                            rings.add(frozenset((n, tuple(np.subtract(s, base))) for n, s in nodes))
    return rings


# ---- the net --------------------------------------------------------------------------------

def test_every_zn_of_zif4_has_four_net_neighbours(zif4_cell, zif4_222):
    for atoms in (zif4_cell, zif4_222[0]):
        net = growth.zn_net(zifviz.perceive(atoms))
        assert net.kind == "linker"
        assert net.n_zn == len(atoms[atoms.numbers == 30])
        assert (net.degree == 4).all()
        assert net.n_edges == 2 * net.n_zn
        assert (net.edges[:, 0] < net.edges[:, 1]).all()
        assert ((net.lengths > 5.0) & (net.lengths < 6.6)).all()


def test_distance_net_matches_linker_net_between_shells(zif4_cell, zif4_222):
    # ZIF-4: Zn–Zn through a linker 5.5–6.5 Å, the next Zn beyond 7 Å
    for atoms, topo in ((zif4_cell, zifviz.perceive(zif4_cell)), zif4_222):
        linker = growth.zn_net(topo)
        by_distance = growth.zn_net_from_distance(atoms, 6.7)
        assert by_distance.kind == "distance"
        np.testing.assert_array_equal(by_distance.edges, linker.edges)
        np.testing.assert_array_equal(by_distance.shifts, linker.shifts)
        np.testing.assert_allclose(by_distance.lengths, linker.lengths, atol=1e-9)
    # beyond the second shell the nets differ
    assert growth.zn_net_from_distance(zif4_222[0], 7.6).n_edges > linker.n_edges


def test_distance_net_of_cp2_needs_a_shorter_cutoff(shared_data):
    atoms = zifviz.read(shared_data / "structures/widmer2019/ZIF-4-cp-II.cif").repeat(2)
    linker = growth.zn_net(zifviz.perceive(atoms))
    np.testing.assert_array_equal(growth.zn_net_from_distance(atoms, 6.2).edges, linker.edges)
    extra = growth.zn_net_from_distance(atoms, 6.7)
    assert extra.n_edges == linker.n_edges + linker.n_zn // 2  # one more neighbour per Zn


def test_distance_net_refuses_bad_cutoffs(zif4_cell):
    with pytest.raises(ZifvizError, match="cutoff"):
        growth.zn_net_from_distance(zif4_cell, -1.0)
    with pytest.raises(StructureError, match="cell too small"):
        growth.zn_net_from_distance(zif4_cell, 9.0)  # narrowest width 15.4 Å < 2 x 9


# ---- four-membered rings ---------------------------------------------------------------------

def test_four_rings_per_zn_same_in_cell_and_supercell(zif4_cell, zif4_222):
    rings_1 = growth.four_rings(zifviz.perceive(zif4_cell))
    net_2 = growth.zn_net(zif4_222[1])
    rings_2 = growth.four_rings(net_2)
    assert len(rings_1) > 0
    assert len(rings_2) == 8 * len(rings_1)
    assert len(rings_1) / 16 == len(rings_2) / 128
    # seed 003: every Zn of the crystal is in at least one four-membered ring
    assert (np.bincount(rings_2.ravel(), minlength=128) >= 1).all()
    # each ring once, listed round the ring: consecutive Zn are net neighbours
    assert len(np.unique(rings_2, axis=0)) == len(rings_2)
    pairs = {tuple(e) for e in net_2.edges.tolist()}
    for ring in rings_2:
        for a, b in zip(ring, np.roll(ring, -1)):
            assert (min(a, b), max(a, b)) in pairs
    assert (rings_2[:, 0] == rings_2.min(axis=1)).all()
    assert (rings_2[:, 1] < rings_2[:, 3]).all()


def test_four_rings_match_a_slow_walk_of_the_periodic_net(zif4_cell, zif4_222):
    for topo in (zifviz.perceive(zif4_cell), zif4_222[1]):
        net = growth.zn_net(topo)
        ranks, images = growth.four_rings(net, return_shifts=True)
        mine = {frozenset(zip(r.tolist(), map(tuple, (s - s[np.argmin(r)]).tolist())))
                for r, s in zip(ranks, images)}
        assert mine == _reference_rings(net)


def test_ring_orientation_of_a_ring_rotated_by_a_known_angle():
    side = 6.0
    # a square in the bc plane: its normal is along a
    square = np.array([[0, 0, 0], [0, 1, 0], [0, 1, 1], [0, 0, 1]], float) * side
    for angle in (0.0, 17.0, 45.0, 72.5, 90.0):
        t = np.radians(angle)
        rot = np.array([[np.cos(t), -np.sin(t), 0], [np.sin(t), np.cos(t), 0], [0, 0, 1]])
        pos = square @ rot.T + [12.0, 11.0, 10.0]
        atoms = Atoms("Zn4", positions=pos, cell=[30.0, 30.0, 30.0], pbc=True)
        table = growth.ring_orientation(atoms, [[0, 1, 2, 3]])
        assert list(table.columns) == list(growth.RING_COLUMNS)
        assert table["phi_a"].iloc[0] == pytest.approx(angle, abs=1e-6)
        assert table["phi_b"].iloc[0] == pytest.approx(90.0 - angle, abs=1e-6)
        assert table["phi_c"].iloc[0] == pytest.approx(90.0, abs=1e-6)
        normal = table[["normal_x", "normal_y", "normal_z"]].to_numpy()[0]
        assert np.linalg.norm(normal) == pytest.approx(1.0)
        assert normal[0] >= -1e-12  # oriented to the side of +a
        # the same ring across the periodic boundary, or walked the other way round
        wrapped = atoms.copy()
        wrapped.positions -= [12.0 + side / 2, 0, 0]
        wrapped.wrap()
        assert growth.ring_orientation(wrapped, [[0, 3, 2, 1]])["phi_a"].iloc[0] == \
            pytest.approx(angle, abs=1e-6)


def test_ring_normal_is_the_mean_of_its_triplet_normals():
    # a puckered ring: two triplets tilt one way, two the other; the mean is along a
    pos = np.array([[0, 0, 0.4], [0, 6, -0.4], [0, 6, 6.4], [0, 0, 5.6]]) + 10.0
    pos = pos[:, [2, 1, 0]]  # ring spread in y and x ... normal near z
    atoms = Atoms("Zn4", positions=pos, cell=[30.0, 30.0, 30.0], pbc=True)
    d = np.roll(pos, -1, axis=0) - pos
    tri = np.cross(d, np.roll(d, -1, axis=0))
    tri /= np.linalg.norm(tri, axis=1, keepdims=True)
    mean = tri.mean(axis=0) / np.linalg.norm(tri.mean(axis=0))
    table = growth.ring_orientation(atoms, [[0, 1, 2, 3]])
    got = table[["normal_x", "normal_y", "normal_z"]].to_numpy()[0]
    np.testing.assert_allclose(np.abs(got), np.abs(mean), atol=1e-12)
    assert table["phi_a"].iloc[0] == pytest.approx(np.degrees(np.arccos(abs(mean[0]))))


def test_zif4_rings_share_one_phi_a(zif4_222):
    atoms, topo = zif4_222
    table = growth.ring_orientation(atoms, growth.four_rings(topo), topo)
    assert len(table) == 32
    assert table["phi_a"].between(0, 90).all()
    assert table["phi_a"].std() < 0.1  # the four ring orientations are mirror images


# ---- clusters -----------------------------------------------------------------------------

def _fractional_zn(atoms, topo):
    return atoms.cell.scaled_positions(atoms.positions[topo.zn])


def test_slab_is_one_cluster_with_the_slab_extents(zif4_333):
    atoms, topo = zif4_333
    frac = _fractional_zn(atoms, topo)
    slab = (frac[:, 2] >= 0.3) & (frac[:, 2] < 0.7)
    table = growth.phase_clusters(atoms, slab, topo)
    assert list(table.columns) == list(growth.CLUSTER_COLUMNS)
    assert len(table) == 1
    row = table.iloc[0]
    assert row["size"] == slab.sum()
    assert row["zn_ranks"] == tuple(np.flatnonzero(slab).tolist())
    assert row["percolating"] and row["percolating_axes"] == "xy"
    lengths = atoms.cell.lengths()
    assert row["l_x"] == pytest.approx(lengths[0])
    assert row["l_y"] == pytest.approx(lengths[1])
    z = atoms.positions[topo.zn][slab, 2]
    assert row["l_z"] == pytest.approx(z.max() - z.min())


def test_cluster_across_the_periodic_boundary_is_one_cluster(zif4_333):
    atoms, topo = zif4_333
    frac = _fractional_zn(atoms, topo)
    slab = (frac[:, 2] >= 0.8) | (frac[:, 2] < 0.2)
    table = growth.phase_clusters(atoms, slab, topo)
    assert len(table) == 1 and table["size"].iloc[0] == slab.sum()
    z = atoms.positions[topo.zn][slab, 2]
    z = np.where(frac[slab, 2] >= 0.5, z - atoms.cell[2, 2], z)
    assert table["l_z"].iloc[0] == pytest.approx(z.max() - z.min())
    assert table["percolating_axes"].iloc[0] == "xy"


def test_compact_cluster_across_a_corner(zif4_333):
    """A ball of Zn round a cell corner: one non-percolating cluster, unwrapped extents."""
    atoms, topo = zif4_333
    p = atoms.positions[topo.zn]
    cell = atoms.cell.array
    v, _ = zifviz.geometry.minimum_image(p - 0.02 * cell.sum(axis=0), cell)
    ball = np.linalg.norm(v, axis=1) < 10.0
    table = growth.phase_clusters(atoms, ball, topo)
    assert len(table) == 1  # the ball is connected through the net
    row = table.iloc[0]
    assert not row["percolating"] and row["percolating_axes"] == ""
    extent = v[ball].max(axis=0) - v[ball].min(axis=0)
    np.testing.assert_allclose(row[["l_x", "l_y", "l_z"]].to_numpy(float), extent, atol=1e-9)


def test_full_labelling_percolates_with_cell_extents(zif4_222):
    atoms, topo = zif4_222
    table = growth.phase_clusters(atoms, np.ones(128, bool), topo)
    assert len(table) == 1
    row = table.iloc[0]
    assert row["size"] == 128 and row["percolating"] and row["percolating_axes"] == "xyz"
    np.testing.assert_allclose(row[["l_x", "l_y", "l_z"]].to_numpy(float), atoms.cell.lengths())


def test_separate_groups_are_separate_clusters_largest_first(zif4_333):
    atoms, topo = zif4_333
    net = growth.zn_net(topo)
    one = np.zeros(net.n_zn, bool)
    a, b = net.edges[0]
    one[[a, b]] = True  # a pair of neighbours
    near = np.unique(net.edges[np.isin(net.edges, [a, b]).any(axis=1)])
    far = np.setdiff1d(np.arange(net.n_zn), near)
    one[far[-1]] = True  # a lone Zn away from them
    table = growth.phase_clusters(atoms, one, net=net)
    assert table["size"].tolist() == [2, 1]
    assert table["cluster"].tolist() == [0, 1]
    assert table.iloc[1][["l_x", "l_y", "l_z"]].tolist() == [0.0, 0.0, 0.0]
    assert growth.phase_clusters(atoms, np.zeros(net.n_zn, bool), net=net).empty


@pytest.mark.parametrize("tilt", [0.0, 4.0])
def test_clusters_do_not_depend_on_where_the_cell_boundary_is(zif4_333, tilt):
    """Moving the origin (every Zn re-wrapped) changes no cluster, in a straight or a
    tilted cell (extents along the cell vectors)."""
    atoms, topo = zif4_333
    atoms = atoms.copy()
    cell = atoms.cell.array.copy()
    cell[1, 0] += tilt  # b leans towards a
    atoms.set_cell(cell, scale_atoms=True)
    net = growth.zn_net(topo)
    mask = np.random.default_rng(3).random(net.n_zn) < 0.4
    before = growth.phase_clusters(atoms, mask, net=net)
    moved = atoms.copy()
    moved.positions += [7.3, -11.1, 19.7]
    moved.wrap()
    after = growth.phase_clusters(moved, mask, net=net)
    assert len(before) > 5 and before["size"].max() > 20
    pd.testing.assert_frame_equal(before, after, atol=1e-8)
    full = growth.phase_clusters(moved, np.ones(net.n_zn, bool), net=net)
    np.testing.assert_allclose(full[["l_x", "l_y", "l_z"]].to_numpy(float)[0],
                               atoms.cell.lengths())


def test_distance_net_gives_the_same_clusters(zif4_333):
    atoms, topo = zif4_333
    frac = _fractional_zn(atoms, topo)
    mask = (frac[:, 0] < 0.5) & (frac[:, 1] < 0.4)
    by_linker = growth.phase_clusters(atoms, mask, topo)
    by_distance = growth.phase_clusters(atoms, mask, net=growth.zn_net_from_distance(atoms, 6.7))
    pd.testing.assert_frame_equal(by_linker, by_distance)


def test_bad_inputs_raise_zifviz_errors(zif4_222, zif4_cell):
    atoms, topo = zif4_222
    with pytest.raises(ZifvizError, match="one boolean per Zn"):
        growth.phase_clusters(atoms, np.ones(127, bool), topo)
    with pytest.raises(ZifvizError, match="booleans"):
        growth.phase_clusters(atoms, np.full(128, 0.5), topo)
    with pytest.raises(ZifvizError, match="frame has"):
        growth.phase_clusters(zif4_cell, np.ones(16, bool), topo)
    with pytest.raises(ZifvizError, match="ZnNet"):
        growth.phase_clusters(atoms, np.ones(128, bool), net=topo)
    with pytest.raises(ZifvizError, match="rings name Zn rank"):
        growth.ring_orientation(zif4_cell, [[0, 1, 2, 40]])


# ---- over frames ----------------------------------------------------------------------------

def _trajectory(atoms, n_frames=4, seed=0):
    rng = np.random.default_rng(seed)
    frames = []
    for k in range(n_frames):
        frame = atoms.copy()
        frame.positions += rng.normal(scale=0.05, size=frame.positions.shape)
        frame.wrap()
        frame.info.update(frame=k, time=0.5 * k)
        frames.append(frame)
    return frames


def _labels(frames, topo, new_per_frame, phase="ZIF-4-cp-II", other="ZIF-4-cp"):
    rows = []
    for atoms, new in zip(frames, new_per_frame):
        rows.append(pd.DataFrame({
            "trajectory": "run-1", "frame": atoms.info["frame"], "time": atoms.info["time"],
            "zn": topo.zn, "zn_rank": np.arange(topo.n_zn),
            "label": np.where(new, phase, other)}))
    return pd.concat(rows, ignore_index=True)


def test_cluster_growth_and_ring_orientations_over_frames(zif4_222, tmp_path):
    atoms, topo = zif4_222
    frames = _trajectory(atoms)
    frac = _fractional_zn(atoms, topo)
    new = [np.zeros(128, bool), frac[:, 2] < 0.25, frac[:, 2] < 0.5, np.ones(128, bool)]
    labels = _labels(frames, topo, new)
    table = growth.cluster_growth(frames, labels, "ZIF-4-cp-II", topo)
    assert list(table.columns[:3]) == ["trajectory", "frame", "time"]
    assert list(table.columns[3:]) == list(growth.CLUSTER_COLUMNS)
    assert sorted(table["frame"].unique()) == [1, 2, 3]  # frame 0 has no new Zn
    sizes = table.groupby("frame")["size"].sum()
    assert sizes.tolist() == [int(new[1].sum()), int(new[2].sum()), 128]
    assert table.loc[table.frame == 3, "time"].iloc[0] == 1.5
    assert table["trajectory"].eq("run-1").all()
    assert growth.largest_cluster(table, 0).size == 0
    np.testing.assert_array_equal(growth.largest_cluster(table, 3), np.arange(128))

    # the same from a trajectory file, streamed frame by frame
    path = tmp_path / "run-1.extxyz"
    zifviz.write(path, frames)
    from_file = growth.cluster_growth(zifviz.Trajectory(path), labels, "ZIF-4-cp-II")
    pd.testing.assert_frame_equal(from_file.drop(columns=["l_x", "l_y", "l_z"]),
                                  table.drop(columns=["l_x", "l_y", "l_z"]))
    np.testing.assert_allclose(from_file[["l_x", "l_y", "l_z"]], table[["l_x", "l_y", "l_z"]],
                               atol=1e-4)  # float32 positions in the trajectory cache

    rings = growth.ring_orientations(frames, labels, "ZIF-4-cp-II", topo)
    ring_zn = growth.four_rings(topo)
    assert len(rings) == 4 * len(ring_zn)
    assert list(rings.columns) == ["trajectory", "frame", "time", *growth.RING_COLUMNS, "n_new"]
    for k, mask in enumerate(new):
        got = rings.loc[rings.frame == k, "n_new"].to_numpy()
        np.testing.assert_array_equal(got, mask[ring_zn].sum(axis=1))
    assert rings.attrs["phase"] == "ZIF-4-cp-II"

    fig = growth.extents_figure(table)
    assert [t.name for t in fig.data] == ["⟨l_x⟩", "⟨l_y⟩", "⟨l_z⟩"]
    assert [t.line.color for t in fig.data] == list(growth.AXIS_COLORS.values())
    hist = growth.ring_histogram_figure(rings)
    assert {t.marker.color for t in hist.data} <= set(growth.N_NEW_COLORS)
    assert sum(len(t.x) for t in hist.data) == len(rings)
    assert growth.ring_histogram_figure(rings, angle="phi_c").layout.xaxis.title.text == \
        "φc (degrees)"
    with pytest.raises(ZifvizError, match="angle"):
        growth.ring_histogram_figure(rings, angle="normal_x")


def test_labels_checked_against_the_structure(zif4_222):
    atoms, topo = zif4_222
    frames = _trajectory(atoms, 2)
    labels = _labels(frames, topo, [np.ones(128, bool)] * 2)
    with pytest.raises(ZifvizError, match="label rows for 128 Zn"):
        growth.cluster_growth(frames, labels.iloc[:-1], "ZIF-4-cp-II", topo)
    with pytest.raises(ZifvizError, match="not a label"):
        growth.cluster_growth(frames, labels, "cp-II", topo)
    with pytest.raises(ZifvizError, match="not among the frames"):
        growth.cluster_growth(frames[:1], labels, "ZIF-4-cp-II", topo)
    two = pd.concat([labels, labels.assign(trajectory="run-2")])
    with pytest.raises(ZifvizError, match="2 trajectories"):
        growth.ring_orientations(frames, two, "ZIF-4-cp-II", topo)
    with pytest.raises(ZifvizError, match="column"):
        growth.cluster_growth(frames, labels.drop(columns="label"), "ZIF-4-cp-II", topo)


def test_real_cp2_frame_all_new(zif4_cell):
    from zifviz.datasets import load_demo

    demo = load_demo("phases").query("phase == 'ZIF-4-cp-II' and source_set == 'NPT'")
    atoms = demo[0]
    topo = zifviz.perceive(atoms)
    table = growth.phase_clusters(atoms, np.ones(topo.n_zn, bool), topo)
    assert len(table) == 1 and table["percolating_axes"].iloc[0] == "xyz"
    np.testing.assert_allclose(table[["l_x", "l_y", "l_z"]].to_numpy(float)[0],
                               atoms.cell.lengths())
    phi = growth.ring_orientation(atoms, growth.four_rings(topo), topo)["phi_a"]
    assert len(phi) == 4 and phi.between(30, 70).all()


def test_six_cubed_frame_is_fast(zif4_cell):
    atoms = zif4_cell.repeat(6)
    topo = zifviz.perceive(atoms)
    net = growth.zn_net(topo)
    rings = growth.four_rings(net)
    assert len(rings) == 3456 // 4
    mask = np.random.default_rng(1).random(net.n_zn) < 0.4
    t = time.perf_counter()
    growth.phase_clusters(atoms, mask, net=net)
    growth.ring_orientation(atoms, rings, topo)
    assert time.perf_counter() - t < 3.0  # measured ~0.05 s; generous for a shared machine


def test_extents_figure_bins_many_sizes():
    sizes = np.array([1, 1, 2, 3, 5, 8, 13, 40, 90, 200, 450, 1000, 3000] * 4)
    table = pd.DataFrame({"size": sizes, "l_x": 3.0 * sizes ** (1 / 3),
                          "l_y": 3.0 * sizes ** (1 / 3), "l_z": 2.0 * sizes ** (1 / 3),
                          "percolating": sizes == 3000})
    exact = growth.extents_figure(table)  # 13 distinct N: one point each
    np.testing.assert_allclose(exact.data[2].y, 2.0 * np.unique(sizes) ** (1 / 3))
    assert exact.layout.xaxis.type == "log"
    binned = growth.extents_figure(table, bins=[0.5, 10.5, 100.5, 3000.5],
                                   include_percolating=False)
    assert len(binned.data[0].x) == 3
    assert max(binned.data[0].x) == pytest.approx(np.mean([200, 450, 1000]))


def test_on_labels_of_classify_trajectory():
    """The labels table of zifviz.transitions (the shipped BPSF classifier on demo frames)."""
    transitions = pytest.importorskip("zifviz.transitions")
    from zifviz.datasets import load_demo

    demo = load_demo("phases").query("phase == 'ZIF-4-cp-II' and source_set == 'NPT'")
    frames = [demo[k] for k in range(0, 40, 4)]
    labels = transitions.classify_trajectory(frames, "phases-bpsf", name="cp2", progress=False)
    phase = "ZIF-4-cp-II"
    table = growth.cluster_growth(frames, labels, phase)
    new = labels.assign(new=labels["label"] == phase).groupby("frame")["new"].sum()
    got = table.groupby("frame")["size"].sum().reindex(new.index, fill_value=0)
    np.testing.assert_array_equal(got.to_numpy(), new.to_numpy())
    for frame, rows in labels.groupby("frame"):
        ranks = growth.largest_cluster(table, frame)
        assert set(ranks) <= set(rows.loc[rows["label"] == phase, "zn_rank"])
    rings = growth.ring_orientations(frames, labels, phase)
    assert len(rings) == 4 * len(frames) and rings["n_new"].between(0, 4).all()
    assert rings["phi_a"].between(0, 90).all()
