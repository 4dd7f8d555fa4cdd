"""Gaussian-process regression of Zn environment energies on SOAP rows (seed 000).

Kernel ``k(x, x') = (1 + x̂·x̂')**degree`` on unit-length rows x̂ (degree 4 in seed 000), a
constant mean (the training mean), a constant noise (0.2 eV: the noise variance is
``noise**2``) and no hyperparameter optimisation.

Two solvers, both with a predictive standard deviation:

``exact``
    c = (K_NN + noise² I)⁻¹ (y − ȳ) by a float64 Cholesky factorisation
    (:func:`scipy.linalg.cho_factor`). Memory 8 N² bytes (8.2 GB at N = 32,000).
``sparse``
    The projected-process (DTC) approximation on ``n_inducing`` inducing rows chosen by
    farthest-point sampling: mean K_*M (noise² K_MM + K_MN K_NM)⁻¹ K_MN (y − ȳ), variance
    k_** − Q_** + noise² K_*M (noise² K_MM + K_MN K_NM)⁻¹ K_M*, evaluated through Cholesky
    factors of M × M matrices. Cost O(N M F + N M²), memory O(N M).

Farthest-point sampling works on a 128-dimensional Gaussian random projection of the unit
rows (the Euclidean distance of unit rows is the kernel's natural metric; the projection
keeps distances within a few per cent and makes the sampling 100× cheaper at 18,720 features).

Models are saved as ``<name>.npz`` (arrays) + ``<name>.json`` (settings, the descriptor's
config, a checksum of the arrays); no pickles.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
from scipy.linalg import cho_factor, cho_solve, solve_triangular
from sklearn.base import BaseEstimator, RegressorMixin

from .errors import DescriptorMismatchError, ModelFileError, ZifvizError

__all__ = ["GPR", "farthest_point_sampling", "polynomial_kernel"]

_FORMAT = "zifviz-gpr-1"
_BLOCK = 2048        # rows per kernel block
_PROJECTION = 128    # dimensions of the random projection used by farthest-point sampling
_JITTER = 1e-6       # relative jitter on K_MM (float32 rows: kernel errors ~1e-6 relative)
_SAME = 1e-10        # squared distance below which two unit rows are the same environment


def _unit_rows(X, name: str = "X") -> np.ndarray:
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[0] == 0:
        raise ZifvizError(f"{name} must be a non-empty 2D array (rows = environments), got shape "
                          f"{X.shape}")
    if not np.issubdtype(X.dtype, np.floating):
        X = X.astype(np.float64)
    if not np.isfinite(X).all():
        raise ZifvizError(f"{name} has NaN or infinite values")
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    if np.allclose(norms, 1.0, atol=1e-5):
        return X
    return (X / np.where(norms > 0, norms, 1.0)).astype(X.dtype, copy=False)


def polynomial_kernel(A: np.ndarray, B: np.ndarray, degree: int = 4) -> np.ndarray:
    """(1 + a·b)**degree in float64, for unit rows ``A`` and ``B`` (dot products in their
    own precision, in blocks of rows)."""
    out = np.empty((len(A), len(B)), dtype=np.float64)
    for i in range(0, len(A), _BLOCK):
        block = A[i:i + _BLOCK] @ B.T
        np.add(block, 1.0, out=out[i:i + _BLOCK], casting="unsafe")
        if degree != 1:
            np.power(out[i:i + _BLOCK], degree, out=out[i:i + _BLOCK])
    return out


def _exact_factor(X: np.ndarray, degree: int, var: float):
    """Cholesky factor of K + var I. Dot products in the rows' precision first; if float32
    rounding makes the matrix indefinite (a small noise with near-identical rows), again in
    float64."""
    for dtype in dict.fromkeys((X.dtype, np.dtype(np.float64))):
        A = X if X.dtype == dtype else X.astype(dtype)
        K = polynomial_kernel(A, A, degree)
        K[np.diag_indices_from(K)] += var
        try:
            return cho_factor(K, lower=True, overwrite_a=True, check_finite=False)
        except np.linalg.LinAlgError:
            del K
    raise ZifvizError(f"the kernel matrix plus noise² = {var:g} is not positive definite; "
                      "raise the noise (identical environments need noise > 0)")


def _self_kernel(A: np.ndarray, degree: int) -> np.ndarray:
    return (1.0 + np.einsum("ij,ij->i", A, A, dtype=np.float64)) ** degree


def farthest_point_sampling(X, n: int, random_state=0) -> np.ndarray:
    """Indices of ``n`` rows of ``X`` chosen by farthest-point sampling (Euclidean distance of
    the unit rows, on a 128-dimensional random projection), starting from a random row.
    Fewer when the rest are copies of rows already chosen (identical environments)."""
    X = _unit_rows(X)
    n = int(n)
    if n >= len(X):
        return np.arange(len(X))
    rng = np.random.default_rng(random_state)
    if X.shape[1] > _PROJECTION:
        R = rng.standard_normal((X.shape[1], _PROJECTION)).astype(X.dtype) / np.sqrt(_PROJECTION)
        Z = np.empty((len(X), _PROJECTION), dtype=np.float64)
        for i in range(0, len(X), 4 * _BLOCK):
            Z[i:i + 4 * _BLOCK] = X[i:i + 4 * _BLOCK] @ R
    else:
        Z = np.asarray(X, dtype=np.float64)
    chosen = np.empty(n, dtype=np.int64)
    chosen[0] = rng.integers(len(Z))
    distance = np.sum((Z - Z[chosen[0]]) ** 2, axis=1)
    for k in range(1, n):
        far = int(np.argmax(distance))
        if distance[far] <= _SAME:  # every row left repeats a chosen one (identical copies)
            return chosen[:k]
        chosen[k] = far
        np.minimum(distance, np.sum((Z - Z[far]) ** 2, axis=1), out=distance)
    return chosen


class GPR(RegressorMixin, BaseEstimator):
    """Gaussian-process regression with seed 000's polynomial kernel and constant noise.

    Parameters
    ----------
    degree:
        Exponent of the kernel ``(1 + x̂·x̂')**degree``.
    noise:
        Noise standard deviation (eV); the noise variance on the diagonal is ``noise**2``.
    solver:
        ``"exact"`` (Cholesky, float64) or ``"sparse"`` (projected process on inducing rows).
    n_inducing:
        Number of inducing rows of the sparse solver (all rows when N is smaller).
    random_state:
        Seed of the farthest-point sampling's start and projection.

    Attributes (after ``fit``)
    --------------------------
    y_mean_, n_features_in_, n_train_, basis_ (the rows predictions are expanded on: the
    training rows or the inducing rows), alpha_ (their weights), descriptor_config_ (the
    descriptor's :attr:`config`, when given to ``fit``), in_sample_ (exact solver: the
    predictions at the training rows, ``y − noise² alpha``, without another kernel pass).

    ``predict(X, return_std=True)`` gives the latent function's standard deviation (add
    ``noise**2`` to its square for the spread of new observations).
    """

    def __init__(self, degree=4, noise=0.2, solver="exact", n_inducing=2000, random_state=0):
        self.degree = degree
        self.noise = noise
        self.solver = solver
        self.n_inducing = n_inducing
        self.random_state = random_state

    def _check_params(self):
        if self.solver not in ("exact", "sparse"):
            raise ZifvizError(f"GPR solver must be 'exact' or 'sparse', not {self.solver!r}")
        if not (float(self.noise) > 0):
            raise ZifvizError(f"GPR noise must be positive, not {self.noise!r}")
        if int(self.degree) != self.degree or self.degree < 1:
            raise ZifvizError(f"GPR degree must be a positive integer, not {self.degree!r}")
        if int(self.n_inducing) < 1:
            raise ZifvizError(f"GPR n_inducing must be ≥ 1, not {self.n_inducing!r}")

    def fit(self, X, y, descriptor=None) -> "GPR":
        """Fit on rows ``X`` (n, F) and targets ``y`` (n,).

        ``descriptor``: the descriptor (or its ``config`` dict) that made ``X``; saved with
        the model so that loading it against other settings is refused.
        """
        self._check_params()
        X = _unit_rows(X)
        y = np.asarray(y, dtype=np.float64).ravel()
        if len(y) != len(X):
            raise ZifvizError(f"X has {len(X)} rows but y has {len(y)} values")
        if not np.isfinite(y).all():
            raise ZifvizError(f"y has {int((~np.isfinite(y)).sum())} NaN or infinite values "
                              "(environments without energies?)")
        degree, var = int(self.degree), float(self.noise) ** 2
        self.descriptor_config_ = (getattr(descriptor, "config", descriptor)
                                   if descriptor is not None else None)
        self.n_features_in_ = X.shape[1]
        self.n_train_ = len(X)
        self.y_mean_ = float(y.mean())
        r = y - self.y_mean_
        self._factors = {}
        self.in_sample_ = None
        if self.solver == "exact":
            factor = _exact_factor(X, degree, var)
            self.basis_ = X
            self.alpha_ = cho_solve(factor, r, check_finite=False)
            self._factors = {"L": factor[0]}
            self.inducing_ = None
            # K alpha = (K + noise² I) alpha − noise² alpha: the fit at the training rows, free
            self.in_sample_ = y - var * self.alpha_
            return self
        m = min(int(self.n_inducing), len(X))
        self.inducing_ = np.sort(farthest_point_sampling(X, m, self.random_state))
        Z = np.ascontiguousarray(X[self.inducing_])
        self.basis_ = Z
        L, LB, KMN_r = self._sparse_factors(X, Z, degree, var, r)
        # c = LB⁻¹ L⁻¹ K_MN r / noise²; alpha = L⁻ᵀ LB⁻ᵀ c (so that mean = K_*M alpha)
        V_y = solve_triangular(L, KMN_r, lower=True, check_finite=False)
        c = solve_triangular(LB, V_y, lower=True, check_finite=False) / var
        self.alpha_ = solve_triangular(L.T, solve_triangular(LB.T, c, lower=False,
                                                             check_finite=False),
                                       lower=False, check_finite=False)
        self._factors = {"L": L, "LB": LB}
        return self

    @staticmethod
    def _sparse_factors(X, Z, degree, var, r):
        """Cholesky factors L of K_MM and L_B of I + L⁻¹ K_MN K_NM L⁻ᵀ / noise², and K_MN r,
        from one pass over the rows (each block of K_MN is computed once)."""
        KMM = polynomial_kernel(Z, Z, degree)
        scale = np.mean(np.diag(KMM))
        for jitter in (_JITTER, 1e-5, 1e-4, 1e-3):  # more only if rounding makes K_MM singular
            try:
                L = cho_factor(KMM + jitter * scale * np.eye(len(Z)), lower=True,
                               overwrite_a=True, check_finite=False)[0]
                break
            except np.linalg.LinAlgError:
                continue
        else:
            raise ZifvizError("the inducing rows' kernel matrix is singular (near-identical "
                              "rows); use fewer inducing rows")
        L = np.tril(L)
        B = np.zeros((len(Z), len(Z)))
        KMN_r = np.zeros(len(Z))
        for i in range(0, len(X), _BLOCK):
            K = polynomial_kernel(Z, X[i:i + _BLOCK], degree)
            KMN_r += K @ r[i:i + _BLOCK]
            V = solve_triangular(L, K, lower=True, check_finite=False, overwrite_b=True)
            B += V @ V.T
        B /= var
        B[np.diag_indices_from(B)] += 1.0
        LB = np.tril(cho_factor(B, lower=True, overwrite_a=True, check_finite=False)[0])
        return L, LB, KMN_r

    def _check_fitted(self, X):
        if not hasattr(self, "alpha_"):
            raise ZifvizError("this GPR is not fitted yet; call fit(X, y) first")
        X = _unit_rows(X)
        if X.shape[1] != self.n_features_in_:
            raise ZifvizError(f"X has {X.shape[1]} features but the model was fitted on "
                              f"{self.n_features_in_} (another descriptor or settings?)")
        return X

    def predict(self, X, return_std=False):
        """Predicted energies of rows ``X`` (and their latent standard deviation)."""
        X = self._check_fitted(X)
        degree = int(self.degree)
        mean = np.empty(len(X))
        std = np.empty(len(X)) if return_std else None
        if return_std and "L" not in self._factors:
            self._refactor()
        for i in range(0, len(X), _BLOCK):
            Ks = polynomial_kernel(self.basis_, X[i:i + _BLOCK], degree)  # (basis, b)
            mean[i:i + _BLOCK] = Ks.T @ self.alpha_ + self.y_mean_
            if not return_std:
                continue
            prior = _self_kernel(X[i:i + _BLOCK], degree)
            V = solve_triangular(self._factors["L"], Ks, lower=True, check_finite=False)
            var = prior - np.einsum("ij,ij->j", V, V)
            if self.solver == "sparse":
                W = solve_triangular(self._factors["LB"], V, lower=True, check_finite=False)
                var += np.einsum("ij,ij->j", W, W)
            std[i:i + _BLOCK] = np.sqrt(np.maximum(var, 0.0))
        return (mean, std) if return_std else mean

    def _refactor(self):
        """Rebuild the Cholesky factor of a loaded exact model (not stored: 8 N² bytes)."""
        factor = _exact_factor(self.basis_, int(self.degree), float(self.noise) ** 2)
        self._factors = {"L": np.tril(factor[0])}

    # ---- files -----------------------------------------------------------------------------
    def save(self, path) -> Path:
        """Write ``<path>.npz`` (arrays) and ``<path>.json`` (settings, descriptor config,
        checksum of the arrays), each atomically. Returns the .json path."""
        from .storage import atomic_write

        if not hasattr(self, "alpha_"):
            raise ZifvizError("cannot save a GPR that is not fitted")
        npz, meta = _paths(path)
        arrays = {"basis": self.basis_, "alpha": self.alpha_}
        if self.solver == "sparse":
            arrays.update(L=self._factors["L"], LB=self._factors["LB"],
                          inducing=self.inducing_)
        with atomic_write(npz, "wb") as fh:
            np.savez(fh, **arrays)
        info = {"format": _FORMAT, "class": "zifviz.gpr.GPR", "params": self.get_params(),
                "y_mean": self.y_mean_, "n_features": int(self.n_features_in_),
                "n_train": int(self.n_train_), "descriptor": self.descriptor_config_,
                "arrays": npz.name, "checksum": _checksum(npz),
                "zifviz_version": _zifviz_version()}
        with atomic_write(meta) as fh:
            json.dump(info, fh, indent=1, default=_json_default)
        return meta

    @classmethod
    def load(cls, path, descriptor=None, n_features: int | None = None) -> "GPR":
        """A model written by :meth:`save`. Refuses (:class:`~zifviz.errors.ModelFileError`)
        a damaged file, and (:class:`~zifviz.errors.DescriptorMismatchError`) one whose
        feature count differs from ``n_features`` or one fitted on rows of another descriptor
        configuration than ``descriptor`` (a descriptor or its ``config``; the versions of
        zifviz and dscribe may differ)."""
        npz, meta = _paths(path)
        try:
            info = json.loads(meta.read_text())
        except FileNotFoundError:
            raise ModelFileError("no such model file", str(meta)) from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ModelFileError(f"not a zifviz model file ({exc})", str(meta)) from None
        if not isinstance(info, dict) or info.get("format") != _FORMAT:
            found = info.get("format") if isinstance(info, dict) else None
            raise ModelFileError(f"not a zifviz GPR model (format {found!r})", str(meta))
        if not npz.exists() or _checksum(npz) != info["checksum"]:
            raise ModelFileError(f"its arrays {npz.name} are missing or changed since the model "
                                 "was saved", str(meta))
        if n_features is not None and int(n_features) != info["n_features"]:
            raise DescriptorMismatchError(f"model expects {info['n_features']} features, the "
                                          f"data has {n_features}", str(meta))
        if descriptor is not None:
            wanted = getattr(descriptor, "config", descriptor)
            have = info.get("descriptor")
            if have is None or _settings_of(have) != _settings_of(wanted):
                raise DescriptorMismatchError("model was fitted on another descriptor: "
                                     f"{_difference(have, wanted)}", str(meta))
        model = cls(**info["params"])
        with np.load(npz, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        model.basis_, model.alpha_ = arrays["basis"], arrays["alpha"]
        model.y_mean_ = float(info["y_mean"])
        model.n_features_in_ = int(info["n_features"])
        model.n_train_ = int(info["n_train"])
        model.descriptor_config_ = info.get("descriptor")
        model.inducing_ = arrays.get("inducing")
        model._factors = ({"L": arrays["L"], "LB": arrays["LB"]} if model.solver == "sparse"
                          else {})
        return model


def _paths(path) -> tuple[Path, Path]:
    p = Path(path)
    stem = p.with_suffix("") if p.suffix in (".npz", ".json") else p
    return stem.with_name(stem.name + ".npz"), stem.with_name(stem.name + ".json")


def _checksum(path: Path) -> str:
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _settings_of(config) -> dict | None:
    """The part of a descriptor config that determines the numbers (versions ignored)."""
    if not isinstance(config, dict):
        return None
    return {k: v for k, v in config.items() if not k.endswith("_version")}


def _difference(have, wanted) -> str:
    have, wanted = _settings_of(have), _settings_of(wanted)
    if have is None:
        return "the file records no descriptor"
    if wanted is None:
        return "no descriptor config given"
    flat_h = {**{k: v for k, v in have.items() if k != "params"}, **have.get("params", {})}
    flat_w = {**{k: v for k, v in wanted.items() if k != "params"}, **wanted.get("params", {})}
    diffs = [f"{k} {flat_h.get(k)!r} (file) vs {flat_w.get(k)!r}"
             for k in sorted(set(flat_h) | set(flat_w)) if flat_h.get(k) != flat_w.get(k)]
    return "; ".join(diffs) or "configs differ"


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def _zifviz_version() -> str:
    from importlib import metadata
    try:
        return metadata.version("zifviz")
    except metadata.PackageNotFoundError:
        return "unknown"
