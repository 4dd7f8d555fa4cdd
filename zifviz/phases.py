"""Phase classifiers of Zn environments (seed 003), their splits, metrics and model files.

:class:`PhaseClassifier` is a scikit-learn estimator around
:class:`sklearn.neural_network.MLPClassifier` that takes frames (described with its
descriptor, labelled from the EnvironmentTable) or a descriptor matrix, and stores the
feature scaling, the class names and the descriptor settings with the network.
``PhaseClassifier.seed003("soap" | "bpsf", level)`` gives seed 003's two networks.

Splits (row indices of the EnvironmentTable):

* :func:`random_split` — seed 003's stratified 80/20 random split. Frames of one MD run are
  20 fs apart, so nearly identical environments fall on both sides: it measures
  interpolation;
* :func:`block_split` — the last 20 % of every run's frames held out (runs from
  :func:`run_ids`): no frame on both sides, the test frames come after the training frames;
* :func:`group_split` — whole groups (runs, frameworks, ...) held out.

:func:`evaluate` trains and scores a classifier on named splits (accuracy, sizes, rates).

Metrics and figures: :func:`accuracy`, :func:`per_class_metrics` (DataFrame),
:func:`confusion_matrix_table`, :func:`confusion_matrix_figure` (plotly, phases in seed 003's
order, tick labels in the fixed phase colours), :func:`cross_source_table` and
:func:`cross_source_figure` (seed 003's Table 2: train on source A, B or both, test on A, B,
all).

Model files (:meth:`PhaseClassifier.save` / :meth:`PhaseClassifier.load`) hold no pickle:
``<name>.npz`` (weights, biases, scaler arrays; read with ``allow_pickle=False``) and
``<name>.json`` (class names, descriptor config, network settings, versions, training
metadata, the SHA-256 of the ``.npz``), both written atomically.
"""

from __future__ import annotations

import hashlib
import json
import time
import warnings
from collections.abc import Iterable, Sequence
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
from ase import Atoms
from sklearn.base import BaseEstimator, ClassifierMixin

from .environments import PHASES, environment_table
from .errors import DescriptorMismatchError, ModelFileError, ZifvizError
from .storage import atomic_write

FORMAT = "zifviz.phases.PhaseClassifier"
FORMAT_VERSION = 1

RUN_COLUMNS = ("phase", "source_set", "ensemble", "framework", "temperature", "pressure")
"""Columns whose values stay constant within one MD run (those present are used)."""

_RUNTIME_KEYS = {"zifviz_version", "dscribe_version", "n_jobs", "cache", "progress", "dtype",
                 "n_features"}
"""Config keys that do not change a descriptor's values (float32 vs float64 is a rounding)."""


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "unknown"


# --------------------------------------------------------------------------------------------
# descriptors
# --------------------------------------------------------------------------------------------
def descriptor_from_config(config: dict):
    """The descriptor object (SOAP or BPSF) a ``descriptor.config`` describes."""
    from .descriptors import BPSF, SOAP

    kind = str(config.get("class", "")) if isinstance(config, dict) else ""
    if kind.endswith("SOAP"):
        return SOAP.from_config(config)
    if kind.endswith("BPSF"):
        return BPSF.from_config(config)
    raise ZifvizError(f"unknown descriptor config (class {kind or config!r})")


def value_settings(config: dict) -> dict:
    """The settings of a descriptor config that change its values, flattened to ``a.b`` keys.

    Versions, worker counts, caches and the float precision are left out; so is the level of
    :class:`~zifviz.descriptors.BPSF` (its Zn–Zn values are the same at every level).
    """
    flat: dict = {}

    def walk(d: dict, prefix: str) -> None:
        for key, value in d.items():
            if key in _RUNTIME_KEYS:
                continue
            if isinstance(value, dict):
                walk(value, f"{prefix}{key}.")
            else:
                flat[f"{prefix}{key}"] = list(value) if isinstance(value, tuple) else value

    walk(dict(config), "")
    if str(config.get("class", "")).endswith("BPSF"):
        flat.pop("level", None)
    return flat


def check_same_descriptor(expected: dict, given: dict, source: str | None = None) -> None:
    """Raise :class:`DescriptorMismatchError` naming every setting in which ``given`` differs
    from ``expected`` (descriptor configs)."""
    a, b = value_settings(expected), value_settings(given)
    diffs = [f"{k}: model {a.get(k, '(absent)')!r}, data {b.get(k, '(absent)')!r}"
             for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
    if diffs:
        raise DescriptorMismatchError(
            "the data are described with other descriptor settings than the model was trained "
            "on (" + "; ".join(diffs) + ")", source)


def _is_matrix(data) -> bool:
    if isinstance(data, (Atoms, str, Path)):
        return False
    if isinstance(data, (np.ndarray, pd.DataFrame)):
        return True
    if isinstance(data, (list, tuple)) and data and not isinstance(data[0], Atoms):
        return True
    return False


def class_order(labels, known: Sequence[str] = PHASES) -> list[str]:
    """Class names present in ``labels``: the ``known`` ones first in their order (seed 003's
    phase order), then the others in the order of their categories or first appearance."""
    labels = pd.Series(labels)
    if isinstance(labels.dtype, pd.CategoricalDtype):
        present = set(labels.dropna().astype(str))
        seen = [str(c) for c in labels.cat.categories if str(c) in present]
    else:
        seen = [str(c) for c in pd.unique(labels.dropna().astype(str))]
    first = [c for c in known if c in seen]
    return first + [c for c in seen if c not in first]


# --------------------------------------------------------------------------------------------
# the classifier
# --------------------------------------------------------------------------------------------
class PhaseClassifier(ClassifierMixin, BaseEstimator):
    """An MLP phase classifier of Zn environments with its scaling and descriptor.

    Parameters
    ----------
    descriptor:
        A descriptor object (:class:`~zifviz.descriptors.SOAP`,
        :class:`~zifviz.descriptors.BPSF`) used when frames are given; None to work on
        descriptor matrices only.
    hidden_layer_sizes, activation, solver, alpha, batch_size, learning_rate_init, max_iter,
    tol, n_iter_no_change, random_state:
        Passed to :class:`sklearn.neural_network.MLPClassifier` (``max_iter`` = epochs with
        Adam). ``n_iter_no_change=None`` trains all ``max_iter`` epochs (seed 003's BPSF
        network: 350 epochs).
    scale:
        ``"minmax"`` (seed 003: each feature mapped to [0, 1] on the training set) or
        ``"standard"`` (zero mean, unit variance). Stored with the model.
    label:
        EnvironmentTable column to learn when frames are given without ``y``.
    progress:
        Show progress bars while describing frames.

    Attributes
    ----------
    classes_:
        Class names (after fit), seed 003's phase order first.
    mlp_:
        The fitted ``MLPClassifier`` (its integer classes index ``classes_``).
    scale_offset_, scale_factor_:
        Feature scaling: scaled = (X − offset) / factor.
    training_:
        Metadata of the fit (sizes, epochs, loss, time, convergence, train accuracy).
    """

    def __init__(self, descriptor=None, hidden_layer_sizes=(100,), activation="relu",
                 solver="adam", alpha=1e-4, batch_size="auto", learning_rate_init=1e-3,
                 max_iter=1000, tol=1e-4, n_iter_no_change=10, random_state=0, scale="minmax",
                 label="phase", progress=False):
        self.descriptor = descriptor
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.random_state = random_state
        self.scale = scale
        self.label = label
        self.progress = progress

    # -- seed 003's networks ---------------------------------------------------------------
    @classmethod
    def seed003(cls, kind: str, level: str = "atomistic", **kwargs) -> "PhaseClassifier":
        """Seed 003's classifiers (its SI), at any coarse-graining level.

        ``"soap"``: SOAP r_cut 9 Å, n_max 12, l_max 9, one channel (780 features) → 100 ReLU →
        softmax, Adam, at most 1000 epochs. ``"bpsf"``: the 12 Zn–Zn symmetry functions →
        24 ReLU → softmax, Adam, 350 epochs. Both min–max normalised. ``kwargs`` override
        the network settings (e.g. ``max_iter`` for a quick run).
        """
        from .descriptors import BPSF, SOAP

        kind = str(kind).lower()
        if kind == "soap":
            settings = dict(descriptor=SOAP.seed003(level, progress=False),
                            hidden_layer_sizes=(100,), max_iter=1000)
        elif kind == "bpsf":
            settings = dict(descriptor=BPSF(level, progress=False), hidden_layer_sizes=(24,),
                            max_iter=350, n_iter_no_change=None)
        else:
            raise ZifvizError(f"seed 003 has a 'soap' and a 'bpsf' classifier, not {kind!r}")
        settings.update(kwargs)
        return cls(**settings)

    # -- data --------------------------------------------------------------------------------
    def _describe(self, frames) -> np.ndarray:
        if self.descriptor is None:
            raise ZifvizError("this classifier has no descriptor: pass a descriptor matrix, or "
                              "give it a descriptor (e.g. PhaseClassifier.seed003('bpsf'))")
        import inspect

        transform = self.descriptor.transform
        if "progress" in inspect.signature(transform).parameters:
            return np.asarray(transform(frames, progress=self.progress))
        return np.asarray(transform(frames))

    def _matrix(self, data) -> np.ndarray:
        X = np.asarray(data.to_numpy() if isinstance(data, pd.DataFrame) else data, dtype=float)
        if X.ndim != 2:
            raise ZifvizError(f"a descriptor matrix must be 2-D (rows = Zn environments), got "
                              f"shape {X.shape}")
        if not np.isfinite(X).all():
            raise ZifvizError(f"descriptor matrix has {int((~np.isfinite(X)).sum())} NaN or "
                              "infinite values")
        return X

    def _features(self, data) -> np.ndarray:
        """The descriptor matrix of ``data`` (a matrix as is, frames described)."""
        if _is_matrix(data):
            return self._matrix(data)
        if isinstance(data, Atoms):
            data = [data]
        return self._matrix(self._describe(data))

    # -- fitting -----------------------------------------------------------------------------
    def fit(self, frames_or_X, y=None, *, table: pd.DataFrame | None = None) -> "PhaseClassifier":
        """Fit on frames (described and labelled here) or on a descriptor matrix.

        Parameters
        ----------
        frames_or_X:
            Frames (Atoms, list, Trajectory, DemoSet) or an (n_env, n_features) matrix.
        y:
            Labels, one per row; a column name of the EnvironmentTable; or None: the
            ``label`` column (``"phase"``) of ``table`` or of ``environment_table(frames)``.
        table:
            The EnvironmentTable of the frames, if already made (saves perceiving again).
        """
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPClassifier

        start = time.perf_counter()
        matrix = _is_matrix(frames_or_X)
        if y is None or isinstance(y, str):
            column = y or self.label
            if table is None:
                if matrix:
                    raise ZifvizError("labels are needed with a descriptor matrix: pass y (one "
                                      "label per row) or table=the EnvironmentTable")
                table = environment_table(frames_or_X, progress=self.progress)
            if column not in table:
                raise ZifvizError(f"the environment table has no {column!r} column to learn "
                                  f"(columns: {list(table.columns)})")
            y = table[column]
        X = self._features(frames_or_X)
        labels = pd.Series(y).reset_index(drop=True)
        if len(labels) != len(X):
            raise ZifvizError(f"{len(labels)} labels for {len(X)} descriptor rows")
        if labels.isna().any():
            raise ZifvizError(f"{int(labels.isna().sum())} environments have no label")
        classes = class_order(labels)
        if len(classes) < 2:
            raise ZifvizError(f"need at least two classes to learn, got {classes}")
        codes = pd.Categorical(labels.astype(str), categories=classes).codes
        offset, factor = self._fit_scaler(X)
        epochs_fixed = self.n_iter_no_change is None
        self.mlp_ = MLPClassifier(
            hidden_layer_sizes=tuple(self.hidden_layer_sizes), activation=self.activation,
            solver=self.solver, alpha=self.alpha, batch_size=self.batch_size,
            learning_rate_init=self.learning_rate_init, max_iter=int(self.max_iter),
            tol=self.tol, n_iter_no_change=int(self.max_iter) if epochs_fixed
            else int(self.n_iter_no_change), random_state=self.random_state)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            self.mlp_.fit((X - offset) / factor, codes)
        self.classes_ = np.array(classes)
        self.n_features_in_ = X.shape[1]
        self.scale_offset_, self.scale_factor_ = offset, factor
        counts = pd.Series(labels.astype(str)).value_counts()
        self.training_ = {
            "n_environments": int(len(X)), "class_counts": {c: int(counts[c]) for c in classes},
            "epochs": int(self.mlp_.n_iter_), "final_loss": float(self.mlp_.loss_),
            "converged": epochs_fixed or not any(issubclass(w.category, ConvergenceWarning)
                                                 for w in caught),
            "train_accuracy": float(np.mean(self.mlp_.predict((X - offset) / factor) == codes)),
            "seconds": round(time.perf_counter() - start, 3),
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        return self

    def _fit_scaler(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.scale == "minmax":
            offset = X.min(axis=0)
            factor = X.max(axis=0) - offset
        elif self.scale == "standard":
            offset = X.mean(axis=0)
            factor = X.std(axis=0)
        else:
            raise ZifvizError(f"scale must be 'minmax' or 'standard', not {self.scale!r}")
        factor = np.where(factor > 0, factor, 1.0)  # a constant feature stays 0
        return offset, factor

    # -- predicting --------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "mlp_"):
            raise ZifvizError("this PhaseClassifier is not fitted yet: call fit() or load()")

    def _scaled(self, frames_or_X) -> np.ndarray:
        self._check_fitted()
        X = self._features(frames_or_X)
        if X.shape[1] != self.n_features_in_:
            raise DescriptorMismatchError(
                f"the data have {X.shape[1]} features per environment, the model was trained "
                f"on {self.n_features_in_} (other descriptor settings?)")
        return (X - self.scale_offset_) / self.scale_factor_

    def predict_proba(self, frames_or_X, *, chunk_frames: int = 64) -> np.ndarray:
        """(n_env, n_classes) probabilities, columns in the order of :attr:`classes_`.

        Frames are described ``chunk_frames`` at a time, so memory stays flat along a long
        trajectory (only the probabilities are kept).
        """
        self._check_fitted()
        if _is_matrix(frames_or_X):
            return self.mlp_.predict_proba(self._scaled(frames_or_X))
        if isinstance(frames_or_X, Atoms):
            frames_or_X = [frames_or_X]
        chunk_frames = max(1, int(chunk_frames))
        out, chunk = [], []
        for atoms in frames_or_X:
            chunk.append(atoms)
            if len(chunk) == chunk_frames:
                out.append(self.mlp_.predict_proba(self._scaled(chunk)))
                chunk = []
        if chunk or not out:
            out.append(self.mlp_.predict_proba(self._scaled(chunk)) if chunk
                       else np.zeros((0, len(self.classes_))))
        return np.concatenate(out)

    def predict(self, frames_or_X) -> np.ndarray:
        """Predicted class name of every environment."""
        proba = self.predict_proba(frames_or_X)
        return self.classes_[np.argmax(proba, axis=1)]

    def predict_table(self, frames, *, table: pd.DataFrame | None = None, topologies=None,
                      X: np.ndarray | None = None) -> pd.DataFrame:
        """The EnvironmentTable of ``frames`` with the predictions beside each environment.

        Adds ``predicted_<label>`` (Categorical, categories :attr:`classes_`), one
        ``p_<class>`` column per class and ``confidence`` (the largest probability).
        ``table`` (the frames' EnvironmentTable), ``topologies`` (passed to
        :func:`zifviz.environment_table`, e.g. one topology reused over a trajectory) and
        ``X`` (the frames' descriptor matrix) save recomputing what is already known.
        """
        self._check_fitted()
        if isinstance(frames, Atoms):
            frames = [frames]
        if table is None:
            table = environment_table(frames, topologies, progress=self.progress)
        proba = self.predict_proba(frames if X is None else X)
        if len(proba) != len(table):
            raise ZifvizError(f"{len(proba)} descriptor rows for {len(table)} table rows: "
                              "the table is not of these frames")
        out = table.copy()
        out[f"predicted_{self.label}"] = pd.Categorical.from_codes(
            np.argmax(proba, axis=1), categories=list(self.classes_))
        for k, name in enumerate(self.classes_):
            out[f"p_{name}"] = proba[:, k]
        out["confidence"] = proba.max(axis=1)
        return out

    def check_descriptor(self, descriptor) -> None:
        """Refuse (:class:`DescriptorMismatchError`) a descriptor with other settings than the
        model's, naming each differing setting."""
        if self.descriptor is None:
            return
        other = descriptor.config if hasattr(descriptor, "config") else descriptor
        check_same_descriptor(self.descriptor.config, other)

    # -- model files ---------------------------------------------------------------------------
    @staticmethod
    def _paths(path) -> tuple[Path, Path]:
        p = Path(path)
        if p.suffix in (".npz", ".json"):
            p = p.with_suffix("")
        return p.with_name(p.name + ".npz"), p.with_name(p.name + ".json")

    def save(self, path) -> tuple[Path, Path]:
        """Write ``<path>.npz`` (arrays) and ``<path>.json`` (everything else) atomically.

        Returns the two paths. No pickle: :meth:`load` reads the arrays with
        ``allow_pickle=False``.
        """
        self._check_fitted()
        npz, js = self._paths(path)
        arrays = {"scale_offset": self.scale_offset_, "scale_factor": self.scale_factor_}
        for k, (w, b) in enumerate(zip(self.mlp_.coefs_, self.mlp_.intercepts_)):
            arrays[f"weights_{k}"] = w
            arrays[f"biases_{k}"] = b
        with atomic_write(npz, "wb") as fh:
            np.savez(fh, **arrays)
        digest = hashlib.sha256(npz.read_bytes()).hexdigest()
        params = {k: v for k, v in self.get_params(deep=False).items() if k != "descriptor"}
        params["hidden_layer_sizes"] = list(np.atleast_1d(params["hidden_layer_sizes"]).tolist())
        doc = {
            "format": FORMAT, "format_version": FORMAT_VERSION,
            "classes": [str(c) for c in self.classes_], "label": self.label,
            "n_features": int(self.n_features_in_), "n_layers": len(self.mlp_.coefs_) + 1,
            "out_activation": self.mlp_.out_activation_, "params": params,
            "descriptor": None if self.descriptor is None else self.descriptor.config,
            "training": self.training_,
            "versions": {"zifviz": _version("zifviz"), "scikit-learn": _version("scikit-learn"),
                         "numpy": np.__version__},
            "npz": npz.name, "npz_sha256": digest,
        }
        with atomic_write(js) as fh:
            json.dump(doc, fh, indent=1)
        return npz, js

    @classmethod
    def load(cls, path, descriptor=None) -> "PhaseClassifier":
        """Rebuild a saved classifier (no pickle).

        Parameters
        ----------
        path:
            ``<name>``, ``<name>.npz`` or ``<name>.json`` of :meth:`save`.
        descriptor:
            The descriptor (object or config) the data will be described with; refused with a
            :class:`~zifviz.errors.DescriptorMismatchError` naming each setting that differs
            from the model's. By default the model's own descriptor is rebuilt from its file.
        """
        from sklearn.neural_network import MLPClassifier
        from sklearn.preprocessing import LabelBinarizer

        npz, js = cls._paths(path)
        for p in (npz, js):
            if not p.is_file():
                raise ModelFileError("model file not found (a model is a .npz and a .json of the "
                                "same name)", str(p))
        try:
            doc = json.loads(js.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelFileError(f"not a readable model description: {exc}", str(js)) from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise ModelFileError(f"not a {FORMAT} model file", str(js))
        if doc.get("format_version", 0) > FORMAT_VERSION:
            raise ModelFileError(f"model file format {doc['format_version']} is newer than this "
                            f"zifviz reads ({FORMAT_VERSION})", str(js))
        if hashlib.sha256(npz.read_bytes()).hexdigest() != doc.get("npz_sha256"):
            raise ModelFileError(f"the arrays do not belong to this description (SHA-256 differs "
                            f"from {js.name}'s record)", str(npz))
        try:
            with np.load(npz, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except (OSError, ValueError) as exc:
            raise ModelFileError(f"unreadable model arrays: {exc}", str(npz)) from None
        n_weights = int(doc["n_layers"]) - 1
        try:
            coefs = [arrays[f"weights_{k}"].astype(float) for k in range(n_weights)]
            intercepts = [arrays[f"biases_{k}"].astype(float) for k in range(n_weights)]
            offset, factor = arrays["scale_offset"], arrays["scale_factor"]
        except KeyError as exc:
            raise ModelFileError(f"model arrays lack {exc.args[0]!r}", str(npz)) from None
        classes = list(doc["classes"])
        n_out = 1 if len(classes) == 2 else len(classes)
        if coefs[0].shape[0] != doc["n_features"] or coefs[-1].shape[1] != n_out \
                or offset.shape != (doc["n_features"],):
            raise ModelFileError("model arrays do not match the described network", str(npz))

        own = None if doc["descriptor"] is None else descriptor_from_config(doc["descriptor"])
        if descriptor is not None:
            given = descriptor.config if hasattr(descriptor, "config") else dict(descriptor)
            if doc["descriptor"] is not None:
                check_same_descriptor(doc["descriptor"], given, str(js))
            if hasattr(descriptor, "transform"):
                own = descriptor
        params = dict(doc["params"])
        params["hidden_layer_sizes"] = tuple(params["hidden_layer_sizes"])
        model = cls(descriptor=own, **params)
        mlp = MLPClassifier(hidden_layer_sizes=params["hidden_layer_sizes"],
                            activation=params["activation"], solver=params["solver"])
        mlp.coefs_, mlp.intercepts_ = coefs, intercepts
        mlp.n_layers_ = n_weights + 1
        mlp.n_outputs_ = n_out
        mlp.out_activation_ = doc["out_activation"]
        mlp.classes_ = np.arange(len(classes))
        mlp._label_binarizer = LabelBinarizer().fit(mlp.classes_)
        mlp.n_features_in_ = int(doc["n_features"])
        mlp.n_iter_ = int(doc["training"].get("epochs", 0))
        model.mlp_ = mlp
        model.classes_ = np.array(classes)
        model.n_features_in_ = int(doc["n_features"])
        model.scale_offset_, model.scale_factor_ = offset.astype(float), factor.astype(float)
        model.training_ = doc["training"]
        model.file_info_ = {"versions": doc.get("versions", {}), "path": str(js)}
        return model


# --------------------------------------------------------------------------------------------
# splits
# --------------------------------------------------------------------------------------------
def run_ids(table: pd.DataFrame, columns: Sequence[str] = RUN_COLUMNS,
            time_column: str = "time") -> np.ndarray:
    """An integer id of the MD run of every row of an EnvironmentTable.

    A run is a stretch of consecutive frames whose ``columns`` (those present) stay the same
    and whose ``time`` (else ``step``, else ``frame``) keeps increasing: a change of either
    starts a new run.
    """
    frames = table.drop_duplicates("frame_pos").sort_values("frame_pos")
    keys = [c for c in columns if c in frames]
    clock = next((c for c in (time_column, "step", "frame") if c in frames), None)
    new = np.zeros(len(frames), dtype=bool)
    if len(frames):
        new[0] = True
    for c in keys:
        v = frames[c].astype(str).to_numpy()
        new[1:] |= v[1:] != v[:-1]
    if clock is not None:
        t = frames[clock].to_numpy(dtype=float)
        new[1:] |= ~(t[1:] > t[:-1])
    per_frame = pd.Series(np.cumsum(new) - 1, index=frames["frame_pos"].to_numpy())
    return per_frame.loc[table["frame_pos"].to_numpy()].to_numpy()


def random_split(labels, test_size: float = 0.2, random_state: int = 0,
                 stratify: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Seed 003's split: environments drawn at random, stratified by label.

    ``labels`` is one label per row (or the EnvironmentTable: its ``phase`` column).
    Returns ``(train_rows, test_rows)``, sorted positional indices.
    """
    from sklearn.model_selection import train_test_split

    if isinstance(labels, pd.DataFrame):
        labels = labels["phase"]
    labels = np.asarray(pd.Series(labels).astype(str))
    rows = np.arange(len(labels))
    train, test = train_test_split(rows, test_size=test_size, random_state=random_state,
                                   stratify=labels if stratify else None)
    return np.sort(train), np.sort(test)


def block_split(table: pd.DataFrame, test_size: float = 0.2, runs=None,
                time_column: str = "time") -> tuple[np.ndarray, np.ndarray]:
    """Hold out the last ``test_size`` of every run's frames (at least one frame per run with
    two or more frames).

    ``runs`` gives each row's run (default :func:`run_ids`). No frame has rows on both sides
    and within a run every test frame comes after every training frame. Returns
    ``(train_rows, test_rows)``, sorted positional indices.
    """
    if not 0 < test_size < 1:
        raise ZifvizError(f"test_size must be between 0 and 1, got {test_size!r}")
    runs = run_ids(table, time_column=time_column) if runs is None else np.asarray(runs)
    if len(runs) != len(table):
        raise ZifvizError(f"{len(runs)} run ids for {len(table)} rows")
    clock = next((c for c in (time_column, "step", "frame") if c in table), "frame_pos")
    frames = pd.DataFrame({"run": runs, "frame_pos": table["frame_pos"].to_numpy(),
                           "clock": table[clock].to_numpy(dtype=float)})
    frames = frames.drop_duplicates("frame_pos").sort_values(["run", "clock", "frame_pos"])
    test_frames = []
    for _, group in frames.groupby("run", sort=False):
        n = len(group)
        k = int(np.ceil(test_size * n)) if n > 1 else 0
        test_frames.extend(group["frame_pos"].to_numpy()[n - k:])
    is_test = np.isin(table["frame_pos"].to_numpy(), np.asarray(test_frames, dtype=np.int64))
    rows = np.arange(len(table))
    return rows[~is_test], rows[is_test]


def group_split(groups, test_size: float = 0.2, random_state: int = 0
                ) -> tuple[np.ndarray, np.ndarray]:
    """Hold out whole groups (runs, frameworks, ...): about ``test_size`` of the rows, no group
    on both sides. Returns ``(train_rows, test_rows)``."""
    from sklearn.model_selection import GroupShuffleSplit

    groups = np.asarray(pd.Series(groups).astype(str))
    if len(np.unique(groups)) < 2:
        raise ZifvizError("a group split needs at least two groups")
    splitter = GroupShuffleSplit(n_splits=1, test_size=test_size, random_state=random_state)
    train, test = next(splitter.split(np.zeros(len(groups)), groups=groups))
    return np.sort(train), np.sort(test)


def split_rows(table: pd.DataFrame, split: str = "random", test_size: float = 0.2,
               random_state: int = 0, label: str = "phase") -> tuple[np.ndarray, np.ndarray]:
    """``(train_rows, test_rows)`` of a named split: ``"random"`` (:func:`random_split`,
    stratified by ``label``) or ``"block"`` (:func:`block_split`)."""
    if split == "random":
        return random_split(table[label], test_size, random_state)
    if split == "block":
        return block_split(table, test_size)
    raise ZifvizError(f"split must be 'random' or 'block', not {split!r}")


def evaluate(make_classifier, X, table: pd.DataFrame, splits: Sequence[str] = ("random", "block"),
             *, label: str = "phase", test_size: float = 0.2, random_state: int = 0,
             return_predictions: bool = False):
    """Train a fresh classifier on each split's training rows and score its test rows.

    Parameters
    ----------
    make_classifier:
        Callable returning an unfitted classifier (``lambda: PhaseClassifier.seed003("bpsf")``).
    X:
        Descriptor matrix, rows aligned with ``table`` (the EnvironmentTable).
    splits:
        Names for :func:`split_rows`.

    Returns
    -------
    DataFrame, one row per split: ``accuracy``, ``n_train``, ``n_test``, ``epochs``,
    ``fit_seconds``, ``predict_per_second`` (environments). With ``return_predictions``,
    also ``{split: DataFrame(row, true, predicted, confidence)}`` for confusion matrices.
    """
    X = np.asarray(X)
    table = table.reset_index(drop=True)
    if len(X) != len(table):
        raise ZifvizError(f"{len(X)} descriptor rows for {len(table)} table rows")
    y = table[label].astype(str).to_numpy()
    rows, predictions = [], {}
    for split in splits:
        train, test = split_rows(table, split, test_size, random_state, label)
        start = time.perf_counter()
        model = make_classifier().fit(X[train], y[train])
        fit_seconds = time.perf_counter() - start
        start = time.perf_counter()
        proba = model.predict_proba(X[test])
        predict_seconds = max(time.perf_counter() - start, 1e-9)
        predicted = model.classes_[proba.argmax(axis=1)]
        rows.append({"split": split, "accuracy": accuracy(y[test], predicted),
                     "n_train": len(train), "n_test": len(test),
                     "epochs": model.training_["epochs"], "fit_seconds": fit_seconds,
                     "predict_per_second": len(test) / predict_seconds})
        predictions[split] = pd.DataFrame({"row": test, "true": y[test], "predicted": predicted,
                                           "confidence": proba.max(axis=1)})
    summary = pd.DataFrame(rows).set_index("split")
    return (summary, predictions) if return_predictions else summary


# --------------------------------------------------------------------------------------------
# metrics and figures
# --------------------------------------------------------------------------------------------
def accuracy(y_true, y_pred) -> float:
    """Fraction of environments classified correctly."""
    y_true = np.asarray(pd.Series(y_true).astype(str))
    y_pred = np.asarray(pd.Series(y_pred).astype(str))
    if len(y_true) != len(y_pred) or not len(y_true):
        raise ZifvizError(f"{len(y_true)} true labels for {len(y_pred)} predictions")
    return float(np.mean(y_true == y_pred))


def _classes(y_true, y_pred, classes) -> list[str]:
    if classes is not None:
        return [str(c) for c in classes]
    return class_order(pd.concat([pd.Series(y_true).astype(str),
                                  pd.Series(y_pred).astype(str)]))


def per_class_metrics(y_true, y_pred, classes=None) -> pd.DataFrame:
    """Precision, recall, F1 and support of every class (rows in seed 003's phase order),
    plus ``accuracy`` and ``macro avg`` rows."""
    from sklearn.metrics import precision_recall_fscore_support

    classes = _classes(y_true, y_pred, classes)
    t = np.asarray(pd.Series(y_true).astype(str))
    p = np.asarray(pd.Series(y_pred).astype(str))
    prec, rec, f1, support = precision_recall_fscore_support(t, p, labels=classes,
                                                             zero_division=0)
    out = pd.DataFrame({"precision": prec, "recall": rec, "f1": f1, "support": support},
                       index=pd.Index(classes, name="class"))
    out.loc["macro avg"] = [prec.mean(), rec.mean(), f1.mean(), support.sum()]
    acc = accuracy(t, p)
    out.loc["accuracy"] = [acc, acc, acc, len(t)]
    out["support"] = out["support"].astype(int)
    return out


def confusion_matrix_table(y_true, y_pred, classes=None, normalize: str | None = "true"
                           ) -> pd.DataFrame:
    """Confusion matrix as a DataFrame (rows: true class, columns: predicted class).

    ``normalize``: ``"true"`` (rows sum to 1: recall on the diagonal), ``"pred"``, ``"all"``
    or None (counts).
    """
    from sklearn.metrics import confusion_matrix

    classes = _classes(y_true, y_pred, classes)
    m = confusion_matrix(np.asarray(pd.Series(y_true).astype(str)),
                         np.asarray(pd.Series(y_pred).astype(str)), labels=classes,
                         normalize=normalize)
    return pd.DataFrame(m, index=pd.Index(classes, name="true"),
                        columns=pd.Index(classes, name="predicted"))


def _coloured(names: Iterable[str]) -> list[str]:
    from .palettes import palette_for

    colours = palette_for("phase", list(names))
    return [f'<span style="color:{colours[n]}"><b>{n}</b></span>' for n in names]


def confusion_matrix_figure(y_true, y_pred, classes=None, normalize: str | None = "true",
                            title: str | None = None):
    """The confusion matrix as a plotly heatmap (true classes top to bottom in seed 003's
    order, tick labels in the fixed phase colours, each cell annotated)."""
    import plotly.graph_objects as go

    m = confusion_matrix_table(y_true, y_pred, classes, normalize)
    names = list(m.index)
    values = m.to_numpy()
    text = [[(f"{v:.0%}" if normalize else f"{int(v)}") for v in row] for row in values]
    fig = go.Figure(go.Heatmap(
        z=values, x=names, y=names, text=text, texttemplate="%{text}", colorscale="Blues",
        zmin=0, zmax=1 if normalize else None, colorbar=dict(title="fraction" if normalize
                                                             else "count"),
        hovertemplate="true %{y}<br>predicted %{x}<br>%{text}<extra></extra>"))
    acc = accuracy(y_true, y_pred)
    fig.update_layout(
        title=title or f"confusion matrix (accuracy {acc:.1%}, {len(pd.Series(y_true))} Zn)",
        width=560, height=520, margin=dict(l=110, r=20, t=60, b=100))
    fig.update_xaxes(title="predicted phase", tickmode="array", tickvals=names,
                     ticktext=_coloured(names), tickangle=-35)
    fig.update_yaxes(title="true phase", tickmode="array", tickvals=names,
                     ticktext=_coloured(names), autorange="reversed")
    return fig


def cross_source_table(X, table: pd.DataFrame, make_classifier, *, source: str = "ensemble",
                       label: str = "phase", split: str = "random", test_size: float = 0.2,
                       random_state: int = 0, progress: bool = False) -> pd.DataFrame:
    """Seed 003's Table 2: accuracy (%) of classifiers trained on one source, the other, or
    both, tested on each source and on all.

    Every source is split once (``split``: ``"random"``, stratified, or ``"block"``, the last
    frames of every run) into training and test rows. The classifier trained on source A
    learns A's training rows ("All": every source's training rows); each column tests on
    the test rows of that source ("All": every source's test rows).

    Parameters
    ----------
    X:
        Descriptor matrix, rows aligned with ``table``.
    table:
        The EnvironmentTable (with the ``source`` and ``label`` columns).
    make_classifier:
        A callable returning a fresh, unfitted classifier (e.g.
        ``lambda: PhaseClassifier.seed003("bpsf")``).

    Returns
    -------
    DataFrame, rows ``train: <source>`` and ``train: All``, columns ``<source>`` and ``All``.
    """
    from tqdm.auto import tqdm

    X = np.asarray(X)
    if len(X) != len(table):
        raise ZifvizError(f"{len(X)} descriptor rows for {len(table)} table rows")
    for col in (source, label):
        if col not in table:
            raise ZifvizError(f"the environment table has no {col!r} column")
    table = table.reset_index(drop=True)
    sources = [str(s) for s in pd.unique(table[source].astype(str))]
    if len(sources) < 2:
        raise ZifvizError(f"a cross-source table needs two sources in {source!r}, got {sources}")
    train_rows, test_rows = {}, {}
    for s in sources:
        rows = np.flatnonzero(table[source].astype(str).to_numpy() == s)
        tr, te = split_rows(table.iloc[rows].reset_index(drop=True), split, test_size,
                            random_state, label)
        train_rows[s], test_rows[s] = rows[tr], rows[te]
    train_rows["All"] = np.sort(np.concatenate([train_rows[s] for s in sources]))
    test_rows["All"] = np.sort(np.concatenate([test_rows[s] for s in sources]))
    y = table[label].astype(str).to_numpy()
    result = pd.DataFrame(index=pd.Index([f"train: {s}" for s in sources + ["All"]],
                                         name="trained on"),
                          columns=pd.Index(sources + ["All"], name="tested on"), dtype=float)
    for s in tqdm(sources + ["All"], desc="cross-source", disable=not progress, leave=False):
        model = make_classifier().fit(X[train_rows[s]], y[train_rows[s]])
        for t in sources + ["All"]:
            result.loc[f"train: {s}", t] = 100 * accuracy(y[test_rows[t]],
                                                          model.predict(X[test_rows[t]]))
    return result


def cross_source_figure(tables, title: str = "accuracy (%) across sources"):
    """Seed 003's Table 2 as annotated plotly heatmaps, one panel per classifier.

    ``tables``: one :func:`cross_source_table` or ``{"SOAP": table, "BPSF": table}``.
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    if isinstance(tables, pd.DataFrame):
        tables = {"": tables}
    fig = make_subplots(rows=1, cols=len(tables), subplot_titles=list(tables),
                        horizontal_spacing=0.12)
    for k, (name, t) in enumerate(tables.items(), start=1):
        values = t.to_numpy(dtype=float)
        fig.add_trace(go.Heatmap(
            z=values, x=[f"test: {c}" for c in t.columns], y=list(t.index),
            text=[[f"{v:.1f}" for v in row] for row in values], texttemplate="%{text}",
            colorscale="Blues", zmin=50, zmax=100, showscale=k == len(tables),
            colorbar=dict(title="%"), name=name,
            hovertemplate="%{y}<br>%{x}<br>%{text} %<extra>" + name + "</extra>"), 1, k)
        fig.update_yaxes(autorange="reversed", row=1, col=k)
    fig.update_layout(title=title, width=420 * len(tables), height=360,
                      margin=dict(l=100, r=20, t=80, b=40))
    return fig


__all__ = [
    "PhaseClassifier", "accuracy", "block_split", "check_same_descriptor", "class_order",
    "confusion_matrix_figure", "confusion_matrix_table", "cross_source_figure",
    "cross_source_table", "descriptor_from_config", "group_split", "per_class_metrics",
    "evaluate", "random_split", "run_ids", "split_rows", "value_settings",
]
