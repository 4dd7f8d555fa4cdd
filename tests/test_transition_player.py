"""TransitionPlayer without a browser: slider, play, curve marker, clicks, phase colours per
frame and level, cluster highlight and the t-SNE panel.

The labels are a small fixture in the format of :func:`zifviz.transitions.classify_trajectory`
(a region of ZIF-4-cp-II that grows from one Zn over six jittered frames of a ZIF-4 cell), so
which Zn has which phase in which frame is known exactly. Clicks on the curve come in through
plotly's own entry point for browser events (``FigureWidget._handler_js2py_pointsCallback``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import zifviz
from zifviz.datasets import fetch_structure
from zifviz.errors import ZifvizError
from zifviz.palettes import palette_for
from zifviz.widgets.transition_player import FADED, TransitionPlayer

OLD, NEW = "ZIF-4", "ZIF-4-cp-II"
N_FRAMES = 6


class Sent:
    """Pretend a browser view is on screen and capture what the viewer sends to it."""

    def __init__(self, viewer, monkeypatch):
        self.messages: list[tuple[dict, list]] = []
        monkeypatch.setattr(viewer.view, "send",
                            lambda content, buffers=None: self.messages.append((content, buffers)))
        viewer.view.loaded = True

    def of(self, kind: str) -> list[tuple[dict, list]]:
        return [(c, b) for c, b in self.messages if c.get("zifviz") == kind]


@pytest.fixture(scope="module")
def transition():
    """Frames of a ZIF-4 cell (jittered, 0.1 ps apart) and labels in which the Zn nearest
    Zn 0 turn ZIF-4-cp-II one after another (frame k: round(16 k / 5) Zn new)."""
    atoms = zifviz.read(fetch_structure("widmer2019/ZIF4-FixedCell.cif"))
    topo = zifviz.perceive(atoms)
    rng = np.random.default_rng(1)
    frames = []
    for k in range(N_FRAMES):
        a = atoms.copy()
        a.positions += rng.normal(0, 0.03, a.positions.shape)
        a.info["time"] = 0.1 * k
        frames.append(a)
    zpos = atoms.positions[topo.zn]
    order = np.argsort(np.linalg.norm(zpos - zpos[0], axis=1), kind="stable")
    tables = []
    for k in range(N_FRAMES):
        new = np.zeros(topo.n_zn, bool)
        new[order[:round(topo.n_zn * k / (N_FRAMES - 1))]] = True
        p_new = np.where(new, 0.8, 0.3)
        tables.append(pd.DataFrame({
            "trajectory": "toy", "frame": k, "time": 0.1 * k, "zn": topo.zn,
            "zn_rank": np.arange(topo.n_zn), "label": np.where(new, NEW, OLD),
            "confidence": np.maximum(p_new, 1 - p_new), f"p_{OLD}": 1 - p_new,
            f"p_{NEW}": p_new}))
    return frames, pd.concat(tables, ignore_index=True), topo


def _frame_labels(labels, k):
    return labels[labels["frame"] == k].sort_values("zn_rank")["label"].to_numpy()


def test_slider_play_and_marker_move_together(transition):
    frames, labels, topo = transition
    player = TransitionPlayer(frames, labels, topology=topo, growth=False)
    assert player.n_frames == N_FRAMES and player.x_title == "time (ps)"
    np.testing.assert_allclose(player.x, 0.1 * np.arange(N_FRAMES))
    assert player.target_phase == NEW  # the phase that grows
    assert player.marker_x == pytest.approx(0.0)
    # scrubbing the viewer's slider moves the player and the marker on the curve
    player.viewer.frame_slider.value = 3
    assert player.frame == 3 and player.play.value == 3
    assert player.marker_x == pytest.approx(0.3)
    assert 'data-frame="3"' in player.info.value and "c = " in player.info.value
    # the Play widget (what ticks while playing) moves the viewer and the marker
    player.play.value = 5
    assert player.viewer.frame == 5 and player.marker_x == pytest.approx(0.5)
    player.frame = 1
    assert player.play.value == 1 and player.marker_x == pytest.approx(0.1)
    with pytest.raises(ZifvizError):
        player.frame = N_FRAMES


def test_curves_have_fixed_phase_colours_and_c_on_a_second_axis(transition):
    frames, labels, topo = transition
    player = TransitionPlayer(frames, labels, topology=topo, growth=False)
    fig = player.figure
    phases = {t.name: t for t in fig.data if t.name in (OLD, NEW)}
    assert {n: t.line.color for n, t in phases.items()} == \
        {p: palette_for("phase")[p] for p in (OLD, NEW)}
    np.testing.assert_allclose(phases[NEW].y, [round(16 * k / 5) / 16 for k in range(N_FRAMES)])
    (c,) = [t for t in fig.data if t.name == "c (Å)"]
    assert c.yaxis == "y2" and fig.layout.yaxis2.overlaying == "y"
    np.testing.assert_allclose(c.y, [f.cell.cellpar()[2] for f in frames])


def test_clicking_the_curve_jumps_to_that_frame(transition):
    frames, labels, topo = transition
    player = TransitionPlayer(frames, labels, topology=topo, growth=False)
    for trace_index, point in [(0, 4), (1, 2), (len(player.figure.data) - 1, 5)]:
        trace = player.figure.data[trace_index]
        player.figure._handler_js2py_pointsCallback({"new": {
            "event_type": "plotly_click",
            "points": {"trace_indexes": [trace_index], "point_indexes": [point],
                       "xs": [trace.x[point]], "ys": [trace.y[point]]}}})
        assert player.frame == point and player.play.value == point
        assert player.marker_x == pytest.approx(player.x[point])
    assert player.go_to_x(0.27) == 3


def test_zn_colours_follow_the_labels_of_each_frame(transition, monkeypatch):
    frames, labels, topo = transition
    colors = palette_for("phase")
    player = TransitionPlayer(frames, labels, topology=topo, growth=False)
    assert player.level == "atomistic" and player.color_by == "phase"
    sent = Sent(player.viewer, monkeypatch)
    for k in range(N_FRAMES):
        player.frame = k
        hexes = np.asarray(player.viewer.colors.hex)
        assert (hexes[topo.zn] == [colors[p] for p in _frame_labels(labels, k)]).all()
        others = np.setdiff1d(np.arange(len(frames[0])), topo.zn)
        assert (hexes[others] == FADED).all()  # ligands pale
    # what reached the "browser": the colour indices of the last frame step, decoded
    content, buffers = [m for m in sent.of("frame") if m[0]["level"] == "atomistic"][-1]
    assert content["has"]["index"]
    index = np.frombuffer(bytes(buffers[-1]), "<u2")
    drawn = np.asarray(content["palette"])[index]
    assert (drawn[topo.zn] == [colors[p] for p in _frame_labels(labels, N_FRAMES - 1)]).all()


def test_level_toggle_keeps_phase_colours_on_the_a_beads(transition):
    frames, labels, topo = transition
    colors = palette_for("phase")
    player = TransitionPlayer(frames, labels, topology=topo, growth=False, level="A")
    for k in (1, 4):
        player.frame = k
        want = [colors[p] for p in _frame_labels(labels, k)]
        player.level = "A"
        assert player.viewer.colors.hex == want  # Zn only: one A bead per Zn, by rank
        player.level = "AB2"
        hexes = player.viewer.colors.hex
        assert hexes[:topo.n_zn] == want and set(hexes[topo.n_zn:]) == {FADED}
        player.level = "atomistic"
        assert list(np.asarray(player.viewer.colors.hex)[topo.zn]) == want


def test_colour_by_confidence(transition):
    frames, labels, topo = transition
    player = TransitionPlayer(frames, labels, topology=topo, growth=False, level="A",
                              color_by="confidence")
    assert player.color_by == "confidence" and player.viewer.colors.kind == "continuous"
    player.level = "atomistic"  # the ligands pale here too, the Zn on the confidence scale
    colors = player.viewer.colors
    hexes = np.asarray(colors.hex)
    assert set(hexes[np.setdiff1d(np.arange(len(frames[0])), topo.zn)]) == {FADED}
    assert set(hexes[topo.zn]) <= set(colors.bin_colors) and not colors.has_nan
    assert (colors.vmin, colors.vmax) == (0.7, 0.8)  # the labels' range, every frame
    player.color_by = "phase"
    assert player.viewer.color_by == "phase" and player.viewer.colors.kind == "categorical"
    with pytest.raises(ZifvizError):
        TransitionPlayer(frames, labels, topology=topo, growth=False, color_by="energy")


def test_speed_and_play_traits(transition):
    frames, labels, topo = transition
    player = TransitionPlayer(frames, labels, topology=topo, growth=False, speed=5)
    assert player.speed == 5 and player.play.interval == 200
    player.speed = 10
    assert player.play.interval == 100 and player.speed_slider.value == 10
    player.speed_slider.value = 2.5  # the slider in the page
    assert player.play.interval == 400 and player.speed == 2.5
    assert not player.playing
    player.playing = True
    assert player.play.playing
    player.playing = False
    assert not player.play.playing
    with pytest.raises(ZifvizError):
        player.speed = 0
    player.speed = 100  # the slider's top: 30 frames/s
    assert player.speed == 30 and player.play.interval == 33
    assert player.play.max == N_FRAMES - 1


def test_largest_cluster_from_a_growth_table_is_highlighted(transition, monkeypatch):
    frames, labels, topo = transition
    rows = []
    for k in range(1, N_FRAMES):
        ranks = tuple(int(r) for r in np.flatnonzero(_frame_labels(labels, k) == NEW))
        rows.append({"trajectory": "toy", "frame": k, "cluster": 0, "size": len(ranks),
                     "zn_ranks": ranks})
        rows.append({"trajectory": "toy", "frame": k, "cluster": 1, "size": 1,
                     "zn_ranks": ranks[:1]})
    growth = pd.DataFrame(rows)
    player = TransitionPlayer(frames, labels, topology=topo, growth=growth, level="A")
    sent = Sent(player.viewer, monkeypatch)
    assert player.cluster_toggle.value and player.largest_cluster() == ()
    sent.messages.clear()
    player.frame = 3
    (content, _), = [m for m in sent.of("highlight") if m[0]["level"] == "A"]
    assert sorted(content["indices"]) == sorted(rows[4]["zn_ranks"])  # A bead k = Zn rank k
    assert "largest ZIF-4-cp-II cluster" in player.info.value
    n = len(sent.of("highlight"))
    player.frame = 3  # same frame: nothing sent again
    assert len(sent.of("highlight")) == n
    player.cluster_toggle.value = False  # off: cleared
    assert all(not c["indices"] for c, _ in sent.of("highlight")[n:])


def test_clusters_computed_once_per_frame(transition, monkeypatch):
    frames, labels, topo = transition
    player = TransitionPlayer(frames, labels, topology=topo, growth=False)
    calls = []
    monkeypatch.setattr(player, "_compute_cluster",
                        lambda fid: calls.append(fid) or (0, 1))
    player._growth_table = None
    player.cluster_toggle.disabled = False
    player.cluster_toggle.value = True
    for k in (1, 2, 1, 2, 0):
        player.frame = k
    assert sorted(calls) == [0, 1, 2]  # each frame once, then from the cache


class _FakeMap:
    """A fitted map: reference points and a transform that counts its calls."""

    def __init__(self):
        self.embedding_ = np.random.default_rng(0).normal(size=(50, 2))
        self.calls = 0

    def transform(self, X):
        self.calls += 1
        return np.column_stack([X[:, 0], X[:, 1]])


class _FakeDescriptor:
    def transform(self, frames):
        rows = [np.column_stack([np.full(16, k), np.arange(16)]) for k in range(len(frames))]
        return np.concatenate(rows).astype(float)


def test_tsne_panel_shows_the_current_frames_points(transition):
    frames, labels, topo = transition
    tsne = _FakeMap()
    player = TransitionPlayer(frames, labels, topology=topo, growth=False, tsne_map=tsne,
                              descriptor=_FakeDescriptor())
    assert tsne.calls == 1  # placed once, up front
    fig = player.tsne_figure
    assert fig.data[0].name == "reference" and len(fig.data[0].x) == 50
    for k in (0, 3, 5):
        player.frame = k
        phases = _frame_labels(labels, k)
        for name in (OLD, NEW):
            (trace,) = [t for t in fig.data if t.name == name]
            assert trace.marker.color == palette_for("phase")[name]
            assert np.all(np.asarray(trace.x) == k)  # this frame's rows only
            np.testing.assert_array_equal(trace.y, np.flatnonzero(phases == name))
    assert tsne.calls == 1
    with pytest.raises(ZifvizError, match="descriptor"):
        TransitionPlayer(frames, labels, topology=topo, growth=False, tsne_map=tsne)
    with pytest.raises(ZifvizError, match="tsne_points"):
        TransitionPlayer(frames, labels, topology=topo, growth=False,
                         tsne_points=np.zeros((3, 2)))


def test_bad_input_is_a_zifviz_error(transition):
    frames, labels, topo = transition
    with pytest.raises(ZifvizError, match="label"):
        TransitionPlayer(frames, labels.drop(columns=["label"]), topology=topo)
    two = pd.concat([labels, labels.assign(trajectory="other")])
    with pytest.raises(ZifvizError, match="trajectories"):
        TransitionPlayer(frames, two, topology=topo)
    player = TransitionPlayer(frames, two, topology=topo, trajectory_name="toy", growth=False)
    assert player.n_frames == N_FRAMES
    from zifviz.transitions import phase_fractions

    fractions = phase_fractions(labels)
    with pytest.raises(ZifvizError, match="lack"):
        TransitionPlayer(frames, labels, fractions[fractions["frame"] < 3], topology=topo)
    with pytest.raises(ZifvizError, match="target_phase"):
        TransitionPlayer(frames, labels, topology=topo, target_phase="glass")
    # fractions without a cell: no c axis, the curve still works
    player = TransitionPlayer(frames, labels, fractions, topology=topo, growth=False)
    assert [t.name for t in player.figure.data] == [OLD, NEW]


def test_legend_lists_the_phases_not_the_ligands(transition):
    frames, labels, topo = transition
    player = TransitionPlayer(frames, labels, topology=topo, growth=False)
    player.frame = 3
    assert player.viewer.colors.labels == [OLD, NEW]
    assert FADED not in player.viewer.colors.label_colors
    assert OLD in player.viewer.legend.value and NEW in player.viewer.legend.value


def test_largest_cluster_on_demand_matches_cluster_growth(transition):
    from zifviz import growth

    frames, labels, topo = transition
    player = TransitionPlayer(frames, labels, topology=topo)  # growth=None: zifviz.growth
    assert player.cluster_toggle.value
    table = growth.cluster_growth(frames, labels, NEW, topology=topo, progress=False)
    for k in range(N_FRAMES):
        player.frame = k
        want = tuple(growth.largest_cluster(table, k).tolist())
        assert player.largest_cluster() == want
    assert len(player.largest_cluster(N_FRAMES - 1)) == topo.n_zn  # all new at the end


def test_player_on_the_shipped_transition_and_model(tmp_path):
    import json

    from zifviz import datasets, transitions
    from zifviz.widgets.state import load_state, save_state

    traj = datasets.load_demo("transition")
    labels = transitions.classify_trajectory(traj, datasets.demo_model_path("phases-bpsf"),
                                             start=len(traj) - 3, progress=False)
    player = TransitionPlayer(traj, labels, level="A", growth=False)
    assert player.n_frames == 3 and list(player.frame_ids) == list(range(len(traj) - 3,
                                                                          len(traj)))
    colors = palette_for("phase")
    for k in range(3):
        player.frame = k
        want = [colors[p] for p in player.frame_labels()["label"]]
        assert player.viewer.colors.hex == want
    assert player.x_title == "time (ps)" and "c = " in player.info.value
    # saved with a reference to the demo set, not a copy of its frames
    path = save_state(player, tmp_path / "replay.json")
    assert json.loads(path.read_text())["data"]["trajectory"]["kind"] == "demo"
    again = load_state(path)
    assert again.frame == 2 and again.viewer.colors.hex == player.viewer.colors.hex


def test_state_round_trip(transition, tmp_path):
    from zifviz.widgets.state import load_state, save_state

    frames, labels, topo = transition
    player = TransitionPlayer(frames, labels, level="A", color_by="confidence", speed=8,
                              tsne_points=np.arange(2 * len(labels), dtype=float)
                              .reshape(-1, 2))
    player.frame = 4
    player.cluster_toggle.value = False
    path = save_state(player, tmp_path / "replay.json")
    again = load_state(path)
    assert isinstance(again, TransitionPlayer)
    assert (again.frame, again.level, again.color_by, again.speed) == (4, "A", "confidence", 8)
    assert not again.cluster_toggle.value and again.target_phase == NEW
    pd.testing.assert_frame_equal(again.labels, player.labels, check_dtype=False)
    assert again.viewer.colors.hex == player.viewer.colors.hex
    np.testing.assert_allclose(again._tsne_xy, player._tsne_xy)
    assert again.marker_x == pytest.approx(0.4)
