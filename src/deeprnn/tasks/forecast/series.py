"""Global models over panels (issue 29): per-series scaling of the targets and the series-id
embedding, the two ways DeepAR (Salinas et al. 2020) and GluonTS tell one global network which
series a window comes from.

Both rest on the artifact ``series_ids``: the ids of the series with at least one training row,
in the order of the panel, fitted by the data module whenever the data names its series
(``data.series_column``, or ``data.series_scaler`` on one series). A window's series enters the
model as its *code*, the index into ``series_ids``; a series that is not there (one a model
never saw in training, at evaluate or predict time) is a ``ValueError`` naming it: neither its
statistics nor its embedding exist, and no fallback is guessed.

``data.series_scaler`` (artifact ``series_scaler``: ``kind``, ``columns`` (the targets),
``shift`` and ``scale`` (S, K) in the targets' original units, fitted on each series' train
rows, gaps left out):

* ``mean``: DeepAR's mean scaling, ``z / (1 + mean |z|)`` (shift 0);
* ``standard``: ``(z - mean) / std`` per series (std 1 for a flat series).

The panel keeps ``data.scaler``'s values (the targets' ``*_scaled`` metrics and every baseline
stay on them); the model maps each window's targets into its series' units on the way in and
back on the way out (:class:`SeriesInputs`), so the loss weighs every series in its own units
while the metrics, ``predict`` and the plots see what they saw before.

Shape symbols: N windows, T steps, K targets, S series, E embedding size.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn

SCALERS = ("none", "mean", "standard")


def fit_series_scaler(kind: str, ids: Sequence[str], train: Sequence[np.ndarray], targets) -> dict:
    """The artifact ``series_scaler`` of ``kind`` from each series' train rows ``train[i]``
    (T_i, F) unscaled, the K targets first (NaN: a masked target's gap, left out). A series
    without an observed training value of some target is a ValueError naming it."""
    k = len(targets)
    shift = np.zeros((len(ids), k))
    scale = np.ones((len(ids), k))
    for i, (sid, rows) in enumerate(zip(ids, train)):
        z = np.asarray(rows[:, :k], dtype=np.float64)  # (T_i, K)
        seen = np.isfinite(z).sum(0)
        if (seen == 0).any():
            missing = [t for t, n in zip(targets, seen) if n == 0]
            raise ValueError(
                f"data.series_scaler={kind!r}: series {sid!r} has no training value of "
                f"{missing} ({len(z)} training rows) to fit its statistics on; leave it out of "
                "the data (data.rows / data.dates) or set data.series_scaler: none"
            )
        if kind == "mean":
            scale[i] = 1.0 + np.nanmean(np.abs(z), axis=0)
        else:
            shift[i] = np.nanmean(z, axis=0)
            std = np.nanstd(z, axis=0)
            scale[i] = np.where(std > 1e-12, std, 1.0)
    return {
        "kind": kind,
        "columns": list(targets),
        "shift": shift.tolist(),
        "scale": scale.tolist(),
    }


def series_codes(art: dict, ids: Sequence[str], where: str) -> np.ndarray:
    """The codes (index into the artifact ``series_ids``) of the series ``ids``; a series the
    model was not trained on is a ValueError naming it and ``where`` it came from."""
    vocab = {s: i for i, s in enumerate(art["series_ids"])}
    unknown = [s for s in ids if str(s) not in vocab]
    if unknown:
        shown = ", ".join(repr(s) for s in unknown[:5]) + (" ..." if len(unknown) > 5 else "")
        raise ValueError(
            f"series {shown} ({where}) had no training rows when this model was trained: "
            f"{_users(art)} has nothing for it. The model knows {len(vocab)} series "
            f"({', '.join(repr(s) for s in list(vocab)[:5])}{' ...' if len(vocab) > 5 else ''})"
        )
    return np.array([vocab[str(s)] for s in ids], dtype=np.int64)


def _users(art: dict) -> str:
    used = []
    if art.get("series_scaler"):
        used.append(f"data.series_scaler={art['series_scaler']['kind']!r}")
    if art.get("series_embedding"):
        used.append("model.series_embedding")
    return " / ".join(used) or "the model"


class SeriesInputs(nn.Module):
    """What a forecaster reads of a window's series: its targets' affine map into the series'
    own units (``data.series_scaler``) and its id embedding (``model.series_embedding``).

    Args:
        scaler: the ``data.scaler`` state (``shift``, ``scale``, ``kind``) the panel's values
            are in.
        series_scaler: the artifact ``series_scaler`` (or None: off).
        num_series: S, the size of ``series_ids``.
        embedding_dim: E (0: off).
    """

    def __init__(self, scaler, series_scaler: dict | None, num_series: int, embedding_dim: int):
        super().__init__()
        self.scaled = series_scaler is not None
        self.embedding = nn.Embedding(num_series, embedding_dim) if embedding_dim else None
        if self.scaled:
            k = len(series_scaler["columns"])
            shift = torch.tensor(series_scaler["shift"], dtype=torch.float64)  # (S, K)
            scale = torch.tensor(series_scaler["scale"], dtype=torch.float64)
            # the series' map in the panel's values: with data.scaler x -> x / g + c,
            # (x - m) / s = (v - (m / g + c)) / (s / g) for v the panel's value
            a = scaler.transform(shift, k) if scaler.shift_ is not None else shift
            g = 1.0 if scaler.scale_ is None else torch.as_tensor(scaler.scale_[:k])
            self.register_buffer("_shift", a.float(), persistent=False)  # (S, K)
            self.register_buffer("_scale", (scale / g).float(), persistent=False)

    @classmethod
    def of(cls, cfg, art: dict, scaler) -> SeriesInputs:
        """The series inputs of a forecaster with config ``cfg`` (a ForecastConfig) and
        artifacts ``art`` (``series_ids``, ``series_scaler``), checked against each other."""
        scaling = art.get("series_scaler")
        if (scaling or cfg.series_embedding) and not art.get("series_ids"):
            raise ValueError(
                f"model.series_embedding={cfg.series_embedding} needs the series ids of the "
                "training data (artifact series_ids): set data.series_column"
            )
        if scaling and cfg.likelihood == "negative_binomial":
            raise ValueError(
                "model.likelihood='negative_binomial' models counts on their own scale: set "
                f"data.series_scaler none (got {scaling['kind']!r})"
            )
        n = len(art.get("series_ids") or [])
        return cls(scaler, scaling, n, cfg.series_embedding)

    @property
    def used(self) -> bool:
        return self.scaled or self.embedding is not None

    def affine(self, series: Tensor | None) -> tuple[Tensor, Tensor] | None:
        """``(shift, scale)`` (N, 1, K) of the windows' series, or None when off."""
        if not self.scaled:
            return None
        self._need(series)
        return self._shift[series][:, None], self._scale[series][:, None]

    def embed(self, series: Tensor | None) -> Tensor | None:
        """The windows' id embeddings (N, E), or None when off."""
        if self.embedding is None:
            return None
        self._need(series)
        return self.embedding(series)

    @staticmethod
    def _need(series: Tensor | None) -> None:
        if series is None:
            raise ValueError(
                "this forecaster reads each window's series (data.series_scaler / "
                "model.series_embedding): pass series (N,) codes, the index of each window's "
                "series id in the artifact series_ids (deeprnn.tasks.forecast.series_codes)"
            )


def to_series(t: Tensor | None, ab, k: int) -> Tensor | None:
    """The first ``k`` features (the targets) of ``t`` (N, T, >= K) in the series' units."""
    if t is None or ab is None:
        return t
    a, b = ab
    return torch.cat([(t[..., :k] - a) / b, t[..., k:]], dim=-1)


def from_series(t: Tensor, ab) -> Tensor:
    """Targets (..., N, T, K) in the series' units -> the panel's values."""
    if ab is None:
        return t
    a, b = ab
    return t * b + a


def with_embedding(cov: Tensor, emb: Tensor | None) -> Tensor:
    """Covariates (N, T, C) with the id embedding (N, E) beside them at every step:
    (N, T, C + E), as a static covariate is fed."""
    if emb is None:
        return cov
    return torch.cat([cov, emb[:, None].expand(-1, cov.shape[1], -1)], dim=-1)
