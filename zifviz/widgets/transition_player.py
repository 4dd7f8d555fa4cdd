"""TransitionPlayer: replay a classified MD trajectory in 3D, in step with its phase fractions.

A thin view over the results of :mod:`zifviz.transitions` (per-Zn labels, phase fractions
with the cell), :mod:`zifviz.growth` (clusters of the new phase) and
:mod:`zifviz.embedding` (environments placed on a t-SNE map):

* a :class:`~zifviz.widgets.StructureViewer` of :func:`zifviz.transitions.labelled_frames`:
  every Zn coloured by its predicted phase (the fixed colours of :mod:`zifviz.palettes`) or by
  the classifier's confidence; the level toggle is the viewer's (``"A"`` draws the Zn only);
  at the atomistic and AB2 levels the ligand atoms and B beads are drawn in a pale grey
  (:data:`FADED`), and the viewer draws bonds as thin lines above
  :data:`~zifviz.widgets.viewer.LINE_BONDS` bonds — the viewer has no transparency, so
  "faded" means pale and thin;
* an ``ipywidgets.Play`` (play / pause / repeat) and a speed slider, linked in Python to the
  viewer's frame slider (scrubbing it moves the player and the reverse);
* a plotly ``FigureWidget`` of the fraction of each phase vs time (fixed phase colours), the
  c cell length on a second y axis and a vertical marker at the current frame; a click on
  the curves jumps to that frame;
* the largest cluster of the target phase highlighted (gold) in 3D, from a
  :func:`zifviz.growth.cluster_growth` table or computed frame by frame on demand;
* optionally the trajectory's environments on a t-SNE map (placed once, up front, with
  :meth:`zifviz.embedding.TSNEMap.transform`): the current frame's points, in the phase
  colours, over the grey reference map.

A frame step computes nothing heavy: positions of frames in the labels, fractions, marker
positions and t-SNE points are arrays made once; the largest cluster of a frame is computed
at most once (cached); colours are the viewer's ``per_zn`` colourings, read from the labels
by Zn rank (no coarse-grained copy of each frame; cached per frame).
"""

from __future__ import annotations

import html
import time

import ipywidgets as widgets
import numpy as np
import pandas as pd

from ..errors import ZifvizError
from ..palettes import palette_for
from .viewer import StructureViewer

__all__ = ["TransitionPlayer", "FADED", "COLOR_ARRAYS"]

#: colour of the ligand atoms and B beads (no phase) in the player: pale, so the Zn stand out
FADED = "#e4e4e4"
#: player colourings -> per-atom arrays of :func:`zifviz.transitions.labelled_frames`
COLOR_ARRAYS = {"phase": "phase", "confidence": "phase_confidence"}
_LABEL_COLUMNS = ("frame", "zn_rank", "label")
_CELL_COLOUR = "#444444"
_MARKER_COLOUR = "#d62728"


def _classes(labels: pd.DataFrame) -> list[str]:
    """Class names: the model's (``p_<class>`` columns, in order), else the labels seen."""
    classes = [c[2:] for c in labels.columns if str(c).startswith("p_")]
    if classes:
        return classes
    return sorted(labels["label"].astype(str).unique().tolist())


def _one_trajectory(table: pd.DataFrame, what: str, name=None) -> pd.DataFrame:
    if "trajectory" not in table.columns:
        return table
    names = table["trajectory"].astype(str).unique().tolist()
    if name is not None:
        if str(name) not in names:
            raise ZifvizError(f"{what} has no trajectory {name!r} (it has {names})")
        return table[table["trajectory"].astype(str) == str(name)]
    if len(names) > 1:
        raise ZifvizError(f"{what} holds {len(names)} trajectories ({names}); a player shows "
                          "one: pass trajectory_name=... or filter the table")
    return table


class TransitionPlayer(widgets.VBox):
    """Replay a classified trajectory: 3D phases, fraction-vs-time curve, clusters, t-SNE.

    Parameters
    ----------
    trajectory:
        What the labels were made from: a path, a :class:`zifviz.Trajectory` or a sequence
        of Atoms (as :func:`zifviz.transitions.classify_trajectory` takes).
    labels:
        Per-Zn labels of :func:`zifviz.transitions.classify_trajectory` (``frame``,
        ``zn_rank``, ``label``, ``confidence``, ``p_<class>``, ``time``); one trajectory.
    fractions:
        :func:`zifviz.transitions.phase_fractions` of the labels (with the cell columns for
        the c axis); computed from ``labels`` and ``trajectory`` when not given.
    level:
        Level of the 3D view first shown (``"atomistic"``, ``"AB2"``, ``"A"``: Zn only).
    color_by:
        ``"phase"`` (predicted phase) or ``"confidence"`` (largest class probability).
    target_phase:
        The new phase whose largest cluster is highlighted; by default the class whose
        fraction grows most from the first to the last frame.
    growth:
        :func:`zifviz.growth.cluster_growth` table of ``target_phase`` (one row per cluster
        and frame, with ``zn_ranks``); ``None``: the largest cluster of a frame is computed
        when the frame is first shown (:func:`zifviz.growth.phase_clusters`, cached), if
        :mod:`zifviz.growth` is available; ``False``: no cluster highlight.
    tsne_map:
        A fitted :class:`zifviz.embedding.TSNEMap`: its map is drawn in grey and the
        trajectory's environments are placed on it once (needs ``descriptor``, the
        descriptor the map was fitted on) unless ``tsne_points`` are given.
    tsne_reference:
        ``(n, 2)`` reference points to draw in grey instead of ``tsne_map.embedding_``
        (e.g. the map of a subsample).
    tsne_points:
        ``(n_rows, 2)`` positions of the labels' rows on the map (already placed).
    descriptor:
        Descriptor whose rows the t-SNE map was fitted on (``transform(frames)``).
    topology:
        A :class:`zifviz.ZIFTopology` reused on every frame (else the viewer perceives it).
    trajectory_name:
        Which trajectory of ``labels`` / ``fractions`` to show when they hold several.
    speed:
        Frames per second while playing (0.5 to 30; the speed slider).
    height:
        CSS height of the 3D view; ``plot_height``, ``plot_width``: pixels of the plots.

    Attributes
    ----------
    viewer: the :class:`~zifviz.widgets.StructureViewer`.
    play, speed_slider, cluster_toggle, info: the controls.
    figure: the fraction-vs-time ``FigureWidget``; ``tsne_figure``: the map (or ``None``).
    frames: the labelled frames; ``frame_ids``: their frame number in the trajectory file.
    x: the curve's x value of every frame (time in ps, else the frame number).
    last_step_seconds: Python time of the last frame step (viewer push + plot, cluster, map).
    """

    def __init__(self, trajectory, labels: pd.DataFrame, fractions: pd.DataFrame | None = None,
                 *, level: str = "atomistic", color_by: str = "phase",
                 target_phase: str | None = None, growth=None, tsne_map=None,
                 tsne_reference=None, tsne_points=None, descriptor=None, topology=None,
                 trajectory_name: str | None = None, speed: float = 4.0,
                 height: str = "440px", plot_height: int = 300, plot_width: int = 480):
        import plotly.graph_objects as go

        from .. import transitions

        self._trajectory = trajectory
        self._options = {"height": height, "plot_height": int(plot_height),
                         "plot_width": int(plot_width), "topology": topology}
        if not isinstance(labels, pd.DataFrame):
            raise ZifvizError(f"labels must be the DataFrame of classify_trajectory, not "
                              f"{type(labels).__name__}")
        missing = [c for c in _LABEL_COLUMNS if c not in labels.columns]
        if missing:
            raise ZifvizError(f"labels have no {missing} column(s): make them with "
                              "zifviz.transitions.classify_trajectory")
        labels = _one_trajectory(labels, "labels", trajectory_name)
        if not len(labels):
            raise ZifvizError("labels are empty")
        if color_by not in COLOR_ARRAYS:
            raise ZifvizError(f"color_by must be one of {list(COLOR_ARRAYS)}, not {color_by!r}")
        # rows frame by frame, Zn by rank: the order of environment_table(frames)
        self.labels = labels.sort_values(["frame", "zn_rank"], kind="stable")\
            .reset_index(drop=True)
        self.classes = _classes(self.labels)
        self.colors = palette_for("phase", self.classes)
        self.frame_ids = np.unique(self.labels["frame"].to_numpy()).astype(int)
        self._rows = {int(f): np.asarray(r) for f, r in
                      self.labels.groupby("frame", sort=True).indices.items()}

        self.frames = transitions.labelled_frames(trajectory, self.labels)
        if len(self.frames) != len(self.frame_ids):
            raise ZifvizError(f"{len(self.frames)} labelled frames for the "
                              f"{len(self.frame_ids)} frames of the labels")
        if fractions is None:
            fractions = transitions.phase_fractions(self.labels, trajectory)
        self.fractions = self._aligned_fractions(fractions, trajectory_name)
        times = self.fractions["time"].to_numpy(float) if "time" in self.fractions \
            else np.full(len(self.frame_ids), np.nan)
        self.x_title = "time (ps)" if np.isfinite(times).all() else "frame"
        self.x = times if np.isfinite(times).all() else self.frame_ids.astype(float)
        self.target_phase = target_phase or self._growing_phase()
        if self.target_phase not in self.classes:
            raise ZifvizError(f"target_phase {self.target_phase!r} is not a class of the "
                              f"labels ({self.classes})")

        # the 3D view: phase colours fixed for every frame, ligands pale
        self.viewer = StructureViewer(
            self.frames, topology=topology, level=level, per_zn=self._per_zn_arrays(),
            no_value_color=FADED, color_by="phase", height=height,
            palette={**self.colors, "": FADED}, categories=[*self.classes, ""])
        if color_by != "phase":
            self.viewer.color_by = COLOR_ARRAYS[color_by]
        self.viewer.layout.flex = "1 1 420px"
        self.viewer.layout.min_width = "320px"

        n = len(self.frame_ids)
        self.play = widgets.Play(value=0, min=0, max=max(n - 1, 0), step=1,
                                 interval=self._interval(speed), show_repeat=True,
                                 description="play")
        self.play.add_class("zifviz-player-play")
        self.speed_slider = widgets.FloatSlider(
            value=float(speed), min=0.5, max=30, step=0.5, description="frames/s",
            continuous_update=False, layout=widgets.Layout(width="260px"))
        self.speed_slider.add_class("zifviz-player-speed")
        self._links = [widgets.link((self.play, "value"), (self.viewer.frame_slider, "value"))]
        self.speed_slider.observe(lambda ch: setattr(self.play, "interval",
                                                     self._interval(ch["new"])), "value")

        # the largest cluster of the target phase
        self._growth_table = None
        self._cluster_cache: dict[int, tuple] = {}
        self._net = None
        self._highlighted: tuple | None = None
        has_clusters = growth is not False and self._cluster_source(growth)
        self.cluster_toggle = widgets.Checkbox(
            value=has_clusters, description=f"largest {self.target_phase} cluster",
            indent=False, disabled=not has_clusters,
            layout=widgets.Layout(width="auto"))
        self.cluster_toggle.add_class("zifviz-player-cluster")

        self.figure = self._fraction_figure(go, plot_height, plot_width)
        self.tsne_figure = None
        self._tsne_xy = None
        if tsne_map is not None or tsne_points is not None:
            self._tsne_xy = self._placed_points(tsne_map, tsne_points, descriptor)
            self.tsne_figure = self._tsne_figure(go, tsne_map, tsne_reference, plot_height,
                                                  plot_width)

        self.last_step_seconds = float("nan")
        self.info = widgets.HTML()
        self.info.add_class("zifviz-player-info")
        controls = widgets.HBox([self.play, self.speed_slider, self.cluster_toggle],
                                layout=widgets.Layout(flex_flow="row wrap",
                                                      align_items="center"))
        plots = [self.figure] + ([self.tsne_figure] if self.tsne_figure is not None else [])
        right = widgets.VBox(plots, layout=widgets.Layout(flex="0 0 auto",
                                                          width=f"{plot_width + 8}px"))
        super().__init__(children=[
            controls,
            widgets.HBox([self.viewer, right], layout=widgets.Layout(
                flex_flow="row wrap", align_items="flex-start")),
            self.info])
        self.add_class("zifviz-transition-player")

        self.viewer.frame_slider.observe(self._on_frame, "value")
        self.cluster_toggle.observe(lambda _: self._show_cluster(), "value")
        for trace in self.figure.data:
            trace.on_click(self._on_curve_click)
        self._show(self.frame)

    # ---------------------------------------------------------------- set-up
    def _aligned_fractions(self, fractions: pd.DataFrame, name) -> pd.DataFrame:
        if not isinstance(fractions, pd.DataFrame) or "frame" not in fractions.columns:
            raise ZifvizError("fractions must be the DataFrame of "
                              "zifviz.transitions.phase_fractions (with a frame column)")
        if name is None and "trajectory" in fractions.columns and "trajectory" in self.labels:
            name = str(self.labels["trajectory"].iloc[0])
        table = _one_trajectory(fractions, "fractions", name).drop_duplicates("frame")
        table = table.set_index("frame")
        lacking = np.setdiff1d(self.frame_ids, table.index.to_numpy())
        if len(lacking):
            raise ZifvizError(f"fractions lack {len(lacking)} frames of the labels "
                              f"(e.g. {lacking[:5].tolist()})")
        out = table.loc[self.frame_ids].reset_index()
        missing = [c for c in self.classes if f"fraction_{c}" not in out.columns]
        if missing:
            raise ZifvizError(f"fractions have no fraction_ column for {missing}")
        return out

    def _per_zn_arrays(self) -> dict:
        """Per-Zn values by rank of a frame position (None: of every frame), for the viewer."""
        label = self.labels["label"].astype(str).to_numpy()
        confidence = self.labels["confidence"].to_numpy(float) \
            if "confidence" in self.labels else np.full(len(label), np.nan)
        rank = self.labels["zn_rank"].to_numpy(int)

        def by_rank(values, empty):
            def get(pos):
                if pos is None:
                    return values
                rows = self._rows[int(self.frame_ids[pos])]
                out = np.full(rank[rows].max() + 1, empty, dtype=values.dtype)
                out[rank[rows]] = values[rows]
                return out
            return get

        return {"phase": by_rank(label, ""), "phase_confidence": by_rank(confidence, np.nan)}

    def _growing_phase(self) -> str:
        gain = {c: self.fractions[f"fraction_{c}"].iloc[-1] - self.fractions[f"fraction_{c}"]
                .iloc[0] for c in self.classes}
        return max(gain, key=gain.get)

    @staticmethod
    def _interval(speed: float) -> int:
        speed = float(speed)
        if not speed > 0:
            raise ZifvizError(f"speed must be positive (frames per second), not {speed}")
        return max(1, int(round(1000.0 / speed)))

    def _cluster_source(self, growth) -> bool:
        """Where clusters come from: a growth table, or zifviz.growth on demand."""
        if growth is None:
            try:
                from .. import growth as growth_module  # noqa: F401
            except ImportError:
                return False
            return True
        if isinstance(growth, pd.DataFrame):
            need = [c for c in ("frame", "size", "zn_ranks") if c not in growth.columns]
            if need:
                raise ZifvizError(f"growth has no {need} column(s): make it with "
                                  "zifviz.growth.cluster_growth")
            table = _one_trajectory(growth, "growth",
                                    self.labels["trajectory"].iloc[0]
                                    if "trajectory" in self.labels and
                                    "trajectory" in growth else None)
            if "phase" in table.columns:
                table = table[table["phase"].astype(str) == self.target_phase]
            self._growth_table = table
            biggest = table.sort_values("size", ascending=False, kind="stable")\
                .drop_duplicates("frame")
            for f, ranks in zip(biggest["frame"].to_numpy(), biggest["zn_ranks"]):
                self._cluster_cache[int(f)] = tuple(int(r) for r in ranks)
            return True
        raise ZifvizError(f"growth must be a cluster_growth DataFrame, None or False, not "
                          f"{type(growth).__name__}")

    def _fraction_figure(self, go, height: int, width: int):
        has_c = "c" in self.fractions.columns and self.fractions["c"].notna().any()
        fig = go.FigureWidget(layout=go.Layout(
            height=height, width=width, margin=dict(l=50, r=55 if has_c else 10, t=30, b=40),
            template="plotly_white", hovermode="closest", uirevision="zifviz-player",
            xaxis=dict(title=dict(text=self.x_title)),
            yaxis=dict(title=dict(text="fraction of Zn"), range=[-0.02, 1.02]),
            legend=dict(orientation="h", y=1.02, yanchor="bottom", x=0, font=dict(size=11)),
            shapes=[dict(type="line", xref="x", yref="paper", x0=self.x[0], x1=self.x[0],
                         y0=0, y1=1, line=dict(color=_MARKER_COLOUR, width=2),
                         name="current frame")]))
        for c in self.classes:
            fig.add_trace(go.Scatter(
                x=self.x, y=self.fractions[f"fraction_{c}"].to_numpy(float), name=c,
                mode="lines+markers", line=dict(color=self.colors[c], width=2),
                marker=dict(size=4, color=self.colors[c]),
                hovertemplate=f"{html.escape(c)}: %{{y:.3f}}<br>{self.x_title} %{{x}}"
                              "<extra></extra>"))
        if has_c:
            fig.add_trace(go.Scatter(
                x=self.x, y=self.fractions["c"].to_numpy(float), name="c (Å)", yaxis="y2",
                mode="lines", line=dict(color=_CELL_COLOUR, width=1.5, dash="dash"),
                hovertemplate="c = %{y:.2f} Å<extra></extra>"))
            fig.update_layout(yaxis2=dict(title=dict(text="c (Å)"), overlaying="y",
                                          side="right", showgrid=False))
        fig.add_class("zifviz-player-fractions")
        return fig

    def _placed_points(self, tsne_map, tsne_points, descriptor) -> np.ndarray:
        if tsne_points is None:
            if descriptor is None:
                raise ZifvizError("placing the trajectory on a t-SNE map needs the descriptor "
                                  "the map was fitted on (descriptor=...), or tsne_points")
            tsne_points = tsne_map.transform(np.asarray(descriptor.transform(self.frames)))
        xy = np.asarray(tsne_points, dtype=float)
        if xy.shape != (len(self.labels), 2):
            raise ZifvizError(f"tsne_points must be ({len(self.labels)}, 2), one row per label "
                              f"row, not {xy.shape}")
        return xy

    def _tsne_figure(self, go, tsne_map, reference, height: int, width: int):
        if reference is None and tsne_map is not None:
            reference = tsne_map.embedding_
        fig = go.FigureWidget(layout=go.Layout(
            height=height + 40, width=width, margin=dict(l=10, r=10, t=50, b=10),
            template="plotly_white", title=dict(text="t-SNE map: the Zn of this frame",
                                                font=dict(size=13), x=0.02, y=0.98),
            hovermode="closest", uirevision="zifviz-player-map",
            xaxis=dict(showticklabels=False, zeroline=False),
            yaxis=dict(showticklabels=False, zeroline=False, scaleanchor="x"),
            legend=dict(orientation="h", y=1.0, yanchor="bottom", font=dict(size=11))))
        if reference is not None:
            ref = np.asarray(reference, dtype=float)
            if ref.ndim != 2 or ref.shape[1] != 2:
                raise ZifvizError(f"tsne_reference must be (n, 2), not {ref.shape}")
            fig.add_trace(go.Scattergl(
                x=ref[:, 0], y=ref[:, 1], mode="markers", name="reference",
                marker=dict(color="#c8c8c8", size=3), hoverinfo="skip"))
        self._tsne_traces = {}
        for c in self.classes:
            fig.add_trace(go.Scattergl(
                x=[], y=[], mode="markers", name=c,
                marker=dict(color=self.colors[c], size=7, line=dict(color="#333", width=0.5)),
                hovertemplate=f"{html.escape(c)} · Zn %{{customdata}}<extra></extra>"))
            self._tsne_traces[c] = len(fig.data) - 1
        fig.add_class("zifviz-player-map")
        return fig

    # ---------------------------------------------------------------- state
    @property
    def n_frames(self) -> int:
        return len(self.frame_ids)

    @property
    def frame(self) -> int:
        """Position of the frame shown (0 .. n_frames - 1)."""
        return self.viewer.frame

    @frame.setter
    def frame(self, value: int):
        value = int(value)
        if not 0 <= value < self.n_frames:
            raise ZifvizError(f"frame must be within 0..{self.n_frames - 1}, not {value}")
        self.viewer.frame = value

    @property
    def playing(self) -> bool:
        return bool(self.play.playing)

    @playing.setter
    def playing(self, value: bool):
        self.play.playing = bool(value)

    @property
    def speed(self) -> float:
        """Frames per second while playing."""
        return float(self.speed_slider.value)

    @speed.setter
    def speed(self, value: float):
        self._interval(value)  # refuses a speed that is not positive
        self.speed_slider.value = float(value)  # 0.5 to 30; the Play interval follows

    @property
    def level(self) -> str:
        return self.viewer.level

    @level.setter
    def level(self, value: str):
        self.viewer.level = value

    @property
    def color_by(self) -> str:
        """``"phase"`` or ``"confidence"`` (or another array chosen in the viewer)."""
        shown = self.viewer.color_by
        return {v: k for k, v in COLOR_ARRAYS.items()}.get(shown, shown)

    @color_by.setter
    def color_by(self, value: str):
        self.viewer.color_by = COLOR_ARRAYS.get(value, value)

    @property
    def marker_x(self) -> float:
        """Where the marker on the curve is (x of the current frame)."""
        return float(self.figure.layout.shapes[0].x0)

    def frame_labels(self, frame: int | None = None) -> pd.DataFrame:
        """The label rows of a frame (default the current one), Zn by rank."""
        frame = self.frame if frame is None else int(frame)
        return self.labels.iloc[self._rows[int(self.frame_ids[frame])]]

    def largest_cluster(self, frame: int | None = None) -> tuple:
        """Zn ranks of the largest cluster of the target phase in a frame (cached)."""
        fid = int(self.frame_ids[self.frame if frame is None else int(frame)])
        if fid not in self._cluster_cache:
            if self._growth_table is not None:
                self._cluster_cache[fid] = ()  # no cluster of that phase in the frame
            else:
                self._cluster_cache[fid] = self._compute_cluster(fid)
        return self._cluster_cache[fid]

    def _compute_cluster(self, fid: int) -> tuple:
        from .. import growth

        rows = self.labels.iloc[self._rows[fid]]
        pos = int(np.searchsorted(self.frame_ids, fid))
        atoms = self.frames[pos]
        topo = self.viewer.scene.topology(pos)
        if self._net is None or self._net[0] is not topo:
            self._net = (topo, growth.zn_net(topo))
        is_new = np.zeros(topo.n_zn, dtype=bool)
        ranks = rows["zn_rank"].to_numpy(int)
        is_new[ranks] = rows["label"].astype(str).to_numpy() == self.target_phase
        clusters = growth.phase_clusters(atoms, is_new, topology=topo, net=self._net[1])
        if not len(clusters):
            return ()
        best = clusters.sort_values("size", ascending=False, kind="stable").iloc[0]
        return tuple(int(r) for r in best["zn_ranks"])

    # ---------------------------------------------------------------- saved state
    def state(self) -> dict:
        """What the player shows, JSON-able (:func:`zifviz.widgets.state.save_state`):
        frame, level, colouring, speed, the cluster highlight, the 3D camera."""
        return {"frame": self.frame, "level": self.level, "color_by": self.color_by,
                "speed": self.speed, "cluster": bool(self.cluster_toggle.value),
                "target_phase": self.target_phase,
                "camera": [float(v) for v in self.viewer.view._camera_orientation],
                "options": {k: v for k, v in self._options.items() if k != "topology"}}

    def state_data(self) -> dict:
        """The data the player shows: the trajectory, labels, fractions and, with a t-SNE
        panel, the placed points and the reference map (clusters are found again from the
        labels when the state is opened)."""
        reference = None
        if self.tsne_figure is not None and self.tsne_figure.data[0].name == "reference":
            ref = self.tsne_figure.data[0]
            reference = np.column_stack([np.asarray(ref.x, float), np.asarray(ref.y, float)])
        return {"trajectory": self._trajectory, "labels": self.labels,
                "fractions": self.fractions, "tsne_points": self._tsne_xy,
                "tsne_reference": reference}

    @classmethod
    def from_state(cls, data: dict, state: dict) -> "TransitionPlayer":
        """A player over the resolved ``data`` showing what :meth:`state` recorded."""
        player = cls(data["trajectory"], data["labels"], data.get("fractions"),
                     level=state.get("level", "atomistic"),
                     target_phase=state.get("target_phase"),
                     growth=None if state.get("cluster", True) else False,
                     tsne_points=data.get("tsne_points"),
                     tsne_reference=data.get("tsne_reference"),
                     speed=float(state.get("speed", 4.0)), **state.get("options", {}))
        if state.get("color_by"):
            player.color_by = state["color_by"]
        player.frame = int(state.get("frame", 0))
        player.viewer.restore_camera(state.get("camera"))
        return player

    # ---------------------------------------------------------------- frame changes
    def _on_frame(self, change):
        t0 = time.perf_counter()
        self._show(change["new"])
        self.last_step_seconds = time.perf_counter() - t0 + self.viewer.last_redraw_seconds

    def _show(self, pos: int):
        x = float(self.x[pos])
        with self.figure.batch_update():
            self.figure.layout.shapes[0].update(x0=x, x1=x)
        self._show_cluster()
        if self.tsne_figure is not None:
            self._show_tsne(pos)
        self._show_info(pos)

    def _show_cluster(self):
        ranks = self.largest_cluster() if self.cluster_toggle.value else ()
        if ranks != self._highlighted:
            self.viewer.highlight(zn=list(ranks)) if ranks else self.viewer.highlight()
            self._highlighted = ranks

    def _show_tsne(self, pos: int):
        rows = self._rows[int(self.frame_ids[pos])]
        labels = self.labels["label"].to_numpy()[rows].astype(str)
        ranks = self.labels["zn_rank"].to_numpy()[rows]
        xy = self._tsne_xy[rows]
        with self.tsne_figure.batch_update():
            for c, k in self._tsne_traces.items():
                mine = labels == c
                trace = self.tsne_figure.data[k]
                trace.x, trace.y, trace.customdata = xy[mine, 0], xy[mine, 1], ranks[mine]

    def _show_info(self, pos: int):
        row = self.fractions.iloc[pos]
        parts = [f"frame {pos + 1}/{self.n_frames} (frame {int(self.frame_ids[pos])} of the "
                 f"file)"]
        if self.x_title.startswith("time"):
            parts.append(f"t = {self.x[pos]:.3f} ps")
        parts.append(" ".join(
            f'<span style="color:{self.colors[c]}">■</span> {html.escape(c)} '
            f'{row[f"fraction_{c}"]:.2f}' for c in self.classes
            if row[f"fraction_{c}"] > 0))
        if "c" in row and np.isfinite(row["c"]):
            parts.append(f"c = {row['c']:.2f} Å")
        if self.cluster_toggle.value:
            parts.append(f"largest {html.escape(self.target_phase)} cluster: "
                         f"{len(self._highlighted or ())} Zn (gold)")
        self.info.value = (f'<span class="zifviz-player-state" data-frame="{pos}">'
                           + " · ".join(parts) + "</span>")

    def _on_curve_click(self, trace, points, state):
        if not points.point_inds:
            return
        self.frame = int(points.point_inds[0])

    def go_to_x(self, x: float) -> int:
        """Show the frame whose curve x (time or frame number) is closest to ``x``."""
        self.frame = int(np.argmin(np.abs(self.x - float(x))))
        return self.frame
