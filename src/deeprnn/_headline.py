"""How ``metrics.json`` names a model's numbers and its baselines', and the one-line headline
that compares them.

A metric is ``{stage}_{name}`` (``test_mse``, ``val_acc``); a baseline's number on the same
split is ``{stage}_{prefix}{name}`` with a prefix from :data:`BASELINES` (``test_snaive_mse``,
``test_majority_acc``). The console summary, ``metrics.json`` and the report all read these
names, so a baseline added to a task shows up everywhere by adding its prefix here.
"""

from __future__ import annotations

#: baseline prefix -> the label a person reads. Order is the column order in tables.
BASELINES: dict[str, str] = {
    "naive_": "naive",
    "snaive_": "seasonal naive",
    "ets_": "AutoETS",
    "arima_": "AutoARIMA",
    "majority_": "majority class",
    "tfidf_": "TF-IDF + logistic regression",
    "minirocket_": "MiniRocket + ridge",
    "mft_": "most frequent tag",
    "unigram_": "unigram",
    "trigram_": "Kneser-Ney trigram",
    "copy_": "copy of the source",
    "mean_": "training mean",
}

#: metric names (the last ``_`` part) where lower is better
LOWER_IS_BETTER = (
    "loss",
    "mae",
    "mse",
    "rmse",
    "mase",
    "ppl",
    "bpc",
    "bpw",
    "nll",
    "smape",
    "mape",
    "crps",
    "wer",
    "cer",
)
#: metric names (the last ``_`` part) where higher is better
HIGHER_IS_BETTER = ("acc", "accuracy", "f1", "bleu", "auc", "auroc", "precision", "recall", "r2")

#: each task's headline metric, first one present wins
HEADLINE_METRICS = ("mse", "acc", "f1", "ppl", "bleu", "mae", "loss")

#: trailing parts that say which scale a metric is on, not what it measures: ``test_mse_scaled``
#: is an MSE (lower is better) on the scaled targets, ``test_mse`` the same on the original scale
UNIT_SUFFIXES = ("scaled",)


def _measure(name: str) -> str:
    """The part of ``test_mse_scaled`` / ``mse`` that names what is measured (``mse``)."""
    parts = name.split("_")
    while len(parts) > 1 and parts[-1] in UNIT_SUFFIXES:
        parts.pop()
    return parts[-1]


def direction(name: str) -> str | None:
    """``"min"`` / ``"max"`` for a metric name (``test_mse``, ``mse`` or ``test_mse_scaled``),
    ``None`` if unknown.

    >>> direction("test_mse_scaled"), direction("val_acc"), direction("test_chrf")
    ('min', 'max', None)
    """
    last = _measure(name)
    if last in LOWER_IS_BETTER:
        return "min"
    if last in HIGHER_IS_BETTER:
        return "max"
    return None


def scale_of(key: str) -> str:
    """``"scaled"`` for a metric on the scaled targets (``test_mse_scaled``), else
    ``"original"`` (the data's own units, or a metric without a scale such as accuracy)."""
    return "scaled" if key.split("_")[-1] in UNIT_SUFFIXES else "original"


def is_baseline_key(key: str) -> bool:
    """Whether ``key`` (``test_snaive_mse``) is a baseline's number rather than the model's."""
    _, _, name = key.partition("_")
    return any(name.startswith(p) for p in BASELINES)


def numbers(metrics: dict) -> dict[str, float]:
    """The plain numbers of ``metrics`` (no dicts, lists or booleans)."""
    return {
        k: float(v)
        for k, v in metrics.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool)
    }


def baselines_of(metrics: dict, key: str) -> dict[str, float]:
    """``{label: value}`` of every baseline reported beside the model's ``key``."""
    nums = numbers(metrics)
    stage, _, name = key.partition("_")
    return {
        label: nums[f"{stage}_{p}{name}"]
        for p, label in BASELINES.items()
        if f"{stage}_{p}{name}" in nums
    }


def compare(value: float, base: float, name: str) -> float | None:
    """How many times better the model is than the baseline (>1 better, <1 worse), or ``None``
    where the metric's direction is unknown or a value is zero."""
    d = direction(name)
    if d is None or not value or not base:
        return None
    return base / value if d == "min" else value / base


def comparisons(metrics: dict, stage: str = "test") -> list[tuple[str, float, dict]]:
    """Every model metric on ``stage`` that has at least one baseline beside it, the headline
    metric first: ``[(key, value, {label: (baseline value, ratio or None)}), ...]`` where the
    ratio is :func:`compare`'s (>1: the model is better).

    >>> comparisons({"test_mae": 2.0, "test_naive_mae": 4.0, "test_acc": 0.9})
    [('test_mae', 2.0, {'naive': (4.0, 2.0)})]
    """
    nums = numbers(metrics)
    first = headline_key(metrics, stage)
    rows = []
    for key, value in nums.items():
        if not key.startswith(f"{stage}_") or is_baseline_key(key):
            continue
        bases = baselines_of(metrics, key)
        if bases:
            cmp = {label: (b, compare(value, b, key)) for label, b in bases.items()}
            rows.append((key, value, cmp))
    rows.sort(key=lambda r: r[0] != first)  # stable: the rest keep metrics.json's order
    return rows


def level(ratio: float) -> bool:
    """Whether a :func:`compare` ratio would print as ``1.00x`` either way: model and baseline
    level (a forecaster that fell back to its baseline scores the same)."""
    return 0.995 <= ratio < 1.005


def headline_key(metrics: dict, stage: str = "test") -> str | None:
    """The model's headline metric on ``stage`` (``test_mse``), ``None`` if it has none: the
    task's own (``metrics["headline_metric"]``, e.g. a tagger's entity F1) where the run names
    it, else the first of :data:`HEADLINE_METRICS` present.

    >>> headline_key({"test_acc": 0.99, "test_f1": 0.8, "headline_metric": "f1"})
    'test_f1'
    """
    nums = numbers(metrics)
    own = metrics.get("headline_metric")
    names = ((own,) if isinstance(own, str) else ()) + HEADLINE_METRICS
    for name in names:
        key = f"{stage}_{name}"
        if key in nums:
            return key
    return None


def headline(metrics: dict, stage: str = "test") -> str | None:
    """One sentence: the model's headline metric and how it compares with each baseline.

    >>> headline({"test_mse": 0.5, "test_naive_mse": 1.0, "test_snaive_mse": 0.4})
    'test mse 0.5: 2.00x better than naive (1), 1.25x worse than seasonal naive (0.4)'
    >>> headline({"test_acc": 0.8, "test_majority_acc": 0.8001})
    'test acc 0.8: level with majority class (0.8001)'
    """
    key = headline_key(metrics, stage)
    if key is None:
        return None
    value = numbers(metrics)[key]
    text = f"{key.replace('_', ' ')} {value:.4g}"
    parts = []
    for label, base in baselines_of(metrics, key).items():
        r = compare(value, base, key)
        if r is None:
            continue
        if level(r):
            parts.append(f"level with {label} ({base:.4g})")
            continue
        word = "better" if r >= 1 else "worse"
        r = r if r >= 1 else 1 / r
        parts.append(f"{r:.2f}x {word} than {label} ({base:.4g})")
    if parts:
        text += ": " + ", ".join(parts)
    else:
        text += " (no baseline on this split)"
    return text
