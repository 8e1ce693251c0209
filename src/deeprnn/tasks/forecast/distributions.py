r"""Probabilistic forecasts: the likelihood and quantile heads of :class:`~deeprnn.tasks.Forecast`.

``model.likelihood`` turns the network's P outputs per (step, target) into a predictive
distribution (DeepAR, Salinas et al. 2020), trained by its negative log-likelihood:

* ``gaussian`` (P = 2): :math:`\mu = o_0`, :math:`\sigma = \mathrm{softplus}(o_1) + 10^{-4}`;
* ``student_t`` (P = 3): the same :math:`\mu, \sigma` and :math:`\nu = 2 + \mathrm{softplus}(o_2)`
  degrees of freedom (more than 2: the variance is finite);
* ``negative_binomial`` (P = 2), for counts, on the original scale: with the window's scale
  :math:`v = 1 + \bar z` (the mean of its past targets), :math:`\mu = v\,\mathrm{softplus}(o_0)`
  and :math:`\alpha = \mathrm{softplus}(o_1) / \sqrt v` (mean :math:`\mu`, variance
  :math:`\mu + \alpha\mu^2`);
* ``quantile`` (P = len(``model.quantiles``)): the quantiles themselves, kept in order as
  :math:`q_1 = o_0,\ q_{j+1} = q_j + \mathrm{softplus}(o_j)`, trained by the mean pinball loss
  :math:`\rho_\tau(y - q) = \max(\tau (y - q), (\tau - 1)(y - q))`.

Gaussian, Student-t and quantile outputs live on the scaled (standardised) values, where the
network works: RevIN and ``model.baseline`` act on the location (every quantile) as on a point
forecast, and the scale follows the same affine map. The point forecast is the median (the mean
for the negative binomial). Quantiles are exact for the Gaussian, read from 400 seeded samples
for Student-t and the negative binomial, and interpolated between the trained levels for the
quantile head.

Metrics (:func:`crps`, :func:`coverage`): CRPS approximated by twice the mean pinball loss over
the levels 0.05, 0.10, ..., 0.95 (the head's own levels for ``quantile``), and the share of
values inside the central 80% interval [q0.1, q0.9]; the baseline beside them is the
seasonal-naive forecast with the empirical quantiles of the window's seasonal differences,
widened by :math:`\sqrt{k}` in the k-th season ahead (:func:`naive_quantiles`).
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.distributions import NegativeBinomial, Normal, StudentT
from torch.nn.functional import softplus

LIKELIHOODS = ("none", "gaussian", "student_t", "negative_binomial", "quantile")
CRPS_LEVELS = tuple(round(i / 20, 2) for i in range(1, 20))
INTERVAL = (0.1, 0.9)  # the central 80% interval of the coverage metric
SAMPLES = 400
MIN_SCALE = 1e-4


def n_params(kind: str, levels) -> int:
    """Outputs of the network per (step, target)."""
    return {"none": 1, "gaussian": 2, "student_t": 3, "negative_binomial": 2}.get(kind) or len(
        levels
    )


def _sorted_quantiles(samples: Tensor, levels, discrete: bool = False) -> Tensor:
    """Empirical quantiles of ``samples`` (S, ...) -> (Q, ...): linear interpolation, or for a
    ``discrete`` distribution the smallest sample whose empirical CDF reaches the level."""
    s = samples.sort(dim=0).values
    n = s.shape[0]
    tau = torch.tensor(levels, dtype=s.dtype, device=s.device)
    if discrete:
        return s[(torch.ceil(tau * n).long() - 1).clamp(0, n - 1)]
    pos = tau * (n - 1)
    lo = pos.floor().long()
    hi = (lo + 1).clamp(max=n - 1)
    w = (pos - lo).view(-1, *([1] * (s.dim() - 1)))
    return s[lo] * (1 - w) + s[hi] * w


@dataclass
class Predictive:
    """The predictive distribution of a batch: per (N, H, K) step and target, in ``space``
    ("scaled" values, or "original" for the negative binomial)."""

    kind: str
    params: dict[str, Tensor]
    space: str = "scaled"
    levels: tuple[float, ...] = ()

    def _dist(self):
        p = self.params
        if self.kind == "gaussian":
            return Normal(p["loc"], p["scale"], validate_args=False)
        if self.kind == "student_t":
            return StudentT(p["df"], p["loc"], p["scale"], validate_args=False)
        total = 1.0 / p["alpha"]
        return NegativeBinomial(total, logits=torch.log(p["mu"] * p["alpha"]), validate_args=False)

    def loss(self, y: Tensor, observed: Tensor | None = None) -> Tensor:
        """Mean negative log-likelihood (pinball loss for ``quantile``) of ``y`` (N, H, K),
        over the ``observed`` (N, H, K) steps only when given."""
        if self.kind == "quantile":
            return masked_mean(pinball(y, self.params["q"], self.levels).mean(0), observed)
        if self.kind == "negative_binomial":
            y = y.round()
        return masked_mean(-self._dist().log_prob(y), observed)

    def point(self) -> Tensor:
        """The median (N, H, K); the mean for the negative binomial."""
        if self.kind == "quantile":
            return self.quantiles((0.5,))[0]
        if self.kind == "negative_binomial":
            return self.params["mu"]
        return self.params["loc"]

    def quantiles(self, levels, seed: int = 0) -> Tensor:
        """(Q, N, H, K) quantiles at ``levels``."""
        levels = tuple(float(v) for v in levels)
        if self.kind == "gaussian":
            q = torch.tensor(
                levels, dtype=self.params["loc"].dtype, device=self.params["loc"].device
            )
            return self._dist().icdf(q.view(-1, 1, 1, 1))
        if self.kind == "quantile":
            return interpolate_levels(self.params["q"], self.levels, levels)
        with torch.random.fork_rng(devices=[]):  # seeded, and the global stream is left alone
            torch.manual_seed(seed)
            samples = self._dist().sample((SAMPLES,))
        return _sorted_quantiles(samples, levels, discrete=self.kind == "negative_binomial")

    def map(self, fn: Callable[[Tensor], Tensor]) -> Predictive:
        """The distribution after an increasing affine map of the values (scaled -> original)."""
        p = dict(self.params)
        if self.kind == "quantile":
            p["q"] = fn(p["q"])
        elif self.kind != "negative_binomial":
            loc = fn(p["loc"])
            p["scale"] = (fn(p["loc"] + p["scale"]) - loc).abs()
            p["loc"] = loc
        return Predictive(self.kind, p, self.space, self.levels)


def interpolate_levels(q: Tensor, trained: tuple[float, ...], levels) -> Tensor:
    """Quantiles (Q', ...) at the ``trained`` levels -> (Q, ...) at ``levels`` (linear between
    neighbours; a level outside the trained range is a ValueError)."""
    out = []
    for level in levels:
        if not trained[0] - 1e-9 <= level <= trained[-1] + 1e-9:
            raise ValueError(
                f"quantile {level} is outside the levels the model was trained on "
                f"({trained[0]} .. {trained[-1]}: model.quantiles={list(trained)})"
            )
        j = max(bisect.bisect_right(trained, level + 1e-9) - 1, 0)  # trained[j] <= level
        if j == len(trained) - 1 or abs(trained[j] - level) < 1e-9:
            out.append(q[j])
            continue
        w = (level - trained[j]) / (trained[j + 1] - trained[j])
        out.append(q[j] * (1 - w) + q[j + 1] * w)
    return torch.stack(out)


def build(
    kind: str,
    raw: Tensor,
    levels: tuple[float, ...],
    *,
    shift: Tensor | None = None,
    denormalise: Callable[[Tensor], Tensor] = lambda t: t,
    count_scale: Tensor | None = None,
) -> Predictive:
    """The :class:`Predictive` of the network's outputs ``raw`` (N, H, K, P).

    ``shift`` (N, H, K): the baseline forecast added to the location (every quantile);
    ``denormalise``: RevIN's inverse (an increasing affine map per window and target);
    ``count_scale`` (N, 1, K): the negative binomial's window scale :math:`v`.
    """
    shift = 0.0 if shift is None else shift
    if kind == "negative_binomial":
        v = count_scale
        mu = softplus(raw[..., 0]) * v + 1e-6
        alpha = softplus(raw[..., 1]) / v.sqrt() + 1e-6
        return Predictive(kind, {"mu": mu, "alpha": alpha}, space="original")
    if kind == "quantile":
        steps = torch.cat([raw[..., :1], softplus(raw[..., 1:])], dim=-1).cumsum(-1)
        q = steps.permute(3, 0, 1, 2) + shift  # (Q, N, H, K)
        q = torch.stack([denormalise(qi) for qi in q]).sort(dim=0).values
        return Predictive(kind, {"q": q}, levels=levels)
    loc = raw[..., 0] + shift
    scale = softplus(raw[..., 1]) + MIN_SCALE
    params = {"loc": loc, "scale": scale}
    if kind == "student_t":
        params["df"] = 2.0 + softplus(raw[..., 2])
    return Predictive(kind, params).map(denormalise)


def masked_mean(values: Tensor, observed: Tensor | None) -> Tensor:
    """The mean of ``values`` over the ``observed`` entries (all when None; 0 when none)."""
    if observed is None:
        return values.mean()
    w = observed.to(values.dtype)
    return (values * w).sum() / w.sum().clamp(min=1.0)


def pinball(y: Tensor, q: Tensor, levels) -> Tensor:
    """Pinball losses (Q, N, H, K) of ``y`` (N, H, K) at quantiles ``q`` (Q, N, H, K)."""
    tau = torch.tensor(levels, dtype=q.dtype, device=q.device).view(-1, 1, 1, 1)
    diff = y[None] - q
    return torch.maximum(tau * diff, (tau - 1) * diff)


def crps(y: Tensor, q: Tensor, levels) -> Tensor:
    """CRPS per (N, H, K) from quantiles: twice the mean pinball loss over ``levels``."""
    return 2.0 * pinball(y, q, levels).mean(0)


def coverage(y: Tensor, lo: Tensor, hi: Tensor) -> Tensor:
    """1.0 where ``lo <= y <= hi``, per (N, H, K)."""
    return ((y >= lo) & (y <= hi)).to(y.dtype)


def seasonal_naive(past: Tensor, m: int, horizon: int, lengths: Tensor | None = None) -> Tensor:
    """The last season of ``past`` (N, W, K) repeated over ``horizon`` steps: (N, H, K); the
    naive forecast (the last value) for ``m = 1``. With ``lengths`` (N,), each row's past ends
    at its last real step (post-padded windows)."""
    steps = past.shape[1] if lengths is None else lengths[:, None]  # () or (N, 1)
    index = steps - m + torch.arange(horizon, device=past.device) % m  # (H,) or (N, H)
    index = torch.as_tensor(index, device=past.device).clamp(min=0)
    index = index.expand(past.shape[0], horizon)[..., None].expand(-1, -1, past.shape[2])
    return past.gather(1, index)


def naive_quantiles(past: Tensor, m: int, horizon: int, levels) -> Tensor:
    """The (seasonal) naive forecast's empirical quantiles (Q, N, H, K) from ``past`` (N, W, K).

    The point is the last season repeated (the last value for ``m = 1``); around it, the
    quantiles of the window's centred lag-``m`` differences (lag 1 when the window holds a
    single season), times :math:`\\sqrt{k}` at a step k lags ahead (``k = ceil(h / lag)``),
    as a seasonal random walk widens.
    """
    w = past.shape[1]
    m = m if 1 < m <= w else 1
    lag = m if m < w else 1  # a window of one season has no lag-m difference: lag 1
    point = seasonal_naive(past, m, horizon)  # (N, H, K)
    diffs = past[:, lag:] - past[:, :-lag]  # (N, W - lag, K)
    diffs = diffs - diffs.median(dim=1, keepdim=True).values
    qd = _sorted_quantiles(diffs.transpose(0, 1), levels)  # (Q, N, K)
    ahead = torch.arange(1, horizon + 1, device=past.device, dtype=past.dtype)
    widen = torch.ceil(ahead / lag).sqrt()  # (H,)
    return point[None] + qd[:, :, None, :] * widen.view(1, 1, -1, 1)


def check_levels(levels, where: str) -> tuple[float, ...]:
    """``model.quantiles``: increasing numbers in (0, 1)."""
    if not isinstance(levels, (list, tuple)) or not levels:
        raise ValueError(f"{where} must be a non-empty list of levels in (0, 1), got {levels!r}")
    out = []
    for v in levels:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < 1:
            raise ValueError(f"{where} must hold levels in (0, 1), got {v!r} in {levels!r}")
        out.append(float(v))
    if any(b <= a for a, b in itertools.pairwise(out)):
        raise ValueError(f"{where} must be increasing, got {levels!r}")
    return tuple(out)
