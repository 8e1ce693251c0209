"""Losses and metrics by Keras name, for :func:`deeprnn.fit` (what Keras'
``model.compile(loss=..., metrics=[...])`` sets up; optimizers by name are
:func:`deeprnn.tasks.optim.build_optimizer`'s, shared with the tasks).

Shapes: predictions ``pred`` (N, *) as the model returns them, targets ``y`` (N, *); for the
categorical losses ``pred`` is (N, C) or (N, T, C) with C classes.

======================================================  ==============  ======================
loss                                                    predictions     targets
======================================================  ==============  ======================
``mse`` / ``mean_squared_error``                        any             same shape
``mae`` / ``mean_absolute_error``                       any             same shape
``huber``                                               any             same shape
``binary_crossentropy`` / ``bce``                       probabilities   0/1, same shape
``binary_crossentropy_from_logits`` / ``bce_with_logits``  logits       0/1, same shape
``categorical_crossentropy``                            probabilities   one-hot (N, [T,] C)
``categorical_crossentropy_from_logits``                logits          one-hot (N, [T,] C)
``sparse_categorical_crossentropy``                     probabilities   class ids (N, [T])
``sparse_categorical_crossentropy_from_logits`` /
``cross_entropy``                                       logits          class ids (N, [T])
======================================================  ==============  ======================

The plain Keras names take probabilities (a sigmoid / softmax last layer), as Keras'
``from_logits=False`` default does; a PyTorch model ending in ``nn.Linear`` wants a
``*_from_logits`` name. Class ids of ``-100`` (the label padding of
:class:`~deeprnn.data.PadCollate`) are left out of the sparse losses and accuracy.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable

import torch
import torch.nn.functional as F
from torch import Tensor

IGNORE_INDEX = -100
_EPS = 1e-7  # Keras' epsilon: probabilities are clipped to [eps, 1 - eps] before the log

LossFn = Callable[[Tensor, Tensor], Tensor]


def _like(pred: Tensor, y: Tensor, name: str) -> Tensor:
    """``y`` in the shape and dtype of ``pred``: (N,) against (N, 1) is reshaped, as Keras does."""
    if pred.shape != y.shape:
        if pred.numel() != y.numel():
            hint = ""
            if y.dim() == pred.dim() - 1:
                hint = (
                    "; for class ids use loss='sparse_categorical_crossentropy_from_logits' "
                    "(or 'sparse_categorical_crossentropy' on probabilities)"
                )
            raise ValueError(
                f"loss {name!r} needs targets shaped like the predictions {tuple(pred.shape)}, "
                f"got y of shape {tuple(y.shape)}{hint}"
            )
        y = y.reshape(pred.shape)
    return y.to(pred.dtype)


def _class_ids(pred: Tensor, y: Tensor, name: str) -> Tensor:
    """Class ids (N*T,) for predictions (N, [T,] C); y may be (N, [T]) or (N, [T,] 1)."""
    if y.shape == (*pred.shape[:-1], 1) and pred.shape[-1] != 1:
        y = y.squeeze(-1)
    if y.shape != pred.shape[:-1]:
        raise ValueError(
            f"loss {name!r} needs class ids of shape {tuple(pred.shape[:-1])} for predictions "
            f"{tuple(pred.shape)} (N, [T,] C), got y of shape {tuple(y.shape)}"
        )
    if y.is_floating_point():
        y = y.round()
    ids = y.reshape(-1).long()
    classes = pred.shape[-1]
    bad = (ids >= classes) | ((ids < 0) & (ids != IGNORE_INDEX))
    if bool(bad.any()):  # torch would say "Target 5 is out of bounds" (a device assert on CUDA)
        first = int(bad.nonzero()[0, 0])
        where = tuple(int(i) for i in torch.unravel_index(torch.tensor(first), y.shape))
        raise ValueError(
            f"loss {name!r} needs class ids in [0, {classes - 1}] for the {classes} classes the "
            f"model predicts (or {IGNORE_INDEX} for padding), got {int(ids[first])} at index "
            f"{where} of a batch's y ({int(bad.sum())} out of range in that batch)"
        )
    return ids


def mse(pred: Tensor, y: Tensor) -> Tensor:
    return F.mse_loss(pred, _like(pred, y, "mse"))


def mae(pred: Tensor, y: Tensor) -> Tensor:
    return F.l1_loss(pred, _like(pred, y, "mae"))


def huber(pred: Tensor, y: Tensor) -> Tensor:
    return F.huber_loss(pred, _like(pred, y, "huber"), delta=1.0)


def binary_crossentropy(pred: Tensor, y: Tensor) -> Tensor:
    return F.binary_cross_entropy(pred.clamp(_EPS, 1 - _EPS), _like(pred, y, "bce"))


def binary_crossentropy_from_logits(pred: Tensor, y: Tensor) -> Tensor:
    return F.binary_cross_entropy_with_logits(pred, _like(pred, y, "bce_with_logits"))


def categorical_crossentropy(pred: Tensor, y: Tensor) -> Tensor:
    p = pred / pred.sum(-1, keepdim=True)  # (N, [T,] C), renormalised as Keras does
    return (
        -(_like(pred, y, "categorical_crossentropy") * p.clamp(_EPS, 1 - _EPS).log()).sum(-1).mean()
    )


def categorical_crossentropy_from_logits(pred: Tensor, y: Tensor) -> Tensor:
    y = _like(pred, y, "categorical_crossentropy_from_logits")
    return -(y * pred.log_softmax(-1)).sum(-1).mean()


def sparse_categorical_crossentropy(pred: Tensor, y: Tensor) -> Tensor:
    ids = _class_ids(pred, y, "sparse_categorical_crossentropy")
    logp = pred.clamp(_EPS, 1 - _EPS).log().reshape(-1, pred.shape[-1])  # (N*T, C)
    return F.nll_loss(logp, ids, ignore_index=IGNORE_INDEX)


def sparse_categorical_crossentropy_from_logits(pred: Tensor, y: Tensor) -> Tensor:
    ids = _class_ids(pred, y, "sparse_categorical_crossentropy_from_logits")
    return F.cross_entropy(pred.reshape(-1, pred.shape[-1]), ids, ignore_index=IGNORE_INDEX)


LOSSES: dict[str, LossFn] = {
    "mse": mse,
    "mean_squared_error": mse,
    "mae": mae,
    "mean_absolute_error": mae,
    "huber": huber,
    "bce": binary_crossentropy,
    "binary_crossentropy": binary_crossentropy,
    "bce_with_logits": binary_crossentropy_from_logits,
    "binary_crossentropy_from_logits": binary_crossentropy_from_logits,
    "categorical_crossentropy": categorical_crossentropy,
    "categorical_crossentropy_from_logits": categorical_crossentropy_from_logits,
    "sparse_categorical_crossentropy": sparse_categorical_crossentropy,
    "sparse_categorical_crossentropy_from_logits": sparse_categorical_crossentropy_from_logits,
    "cross_entropy": sparse_categorical_crossentropy_from_logits,
}
_FROM_LOGITS = {
    binary_crossentropy_from_logits,
    categorical_crossentropy_from_logits,
    sparse_categorical_crossentropy_from_logits,
}
_KIND = {  # the accuracy that goes with a loss, as Keras picks it for metrics=["accuracy"]
    binary_crossentropy: "binary",
    binary_crossentropy_from_logits: "binary",
    categorical_crossentropy: "categorical",
    categorical_crossentropy_from_logits: "categorical",
    sparse_categorical_crossentropy: "sparse",
    sparse_categorical_crossentropy_from_logits: "sparse",
}


def get_loss(loss: str | LossFn) -> LossFn:
    """The loss function ``(pred, y) -> scalar`` for a name of the table above, or ``loss``
    itself when it is a callable (an ``nn.Module`` such as ``nn.MSELoss()`` works too)."""
    if isinstance(loss, str):
        key = loss.lower()
        if key not in LOSSES:
            raise ValueError(f"loss must be one of {sorted(LOSSES)} or a callable, got {loss!r}")
        return LOSSES[key]
    if not callable(loss):
        raise TypeError(f"loss must be a name or a callable (pred, y) -> Tensor, got {loss!r}")
    return loss


# ------------------------------------------------------------------------------- metrics


def _accuracy(pred: Tensor, y: Tensor, kind: str | None, logits: bool) -> Tensor:
    if kind is None:  # by shape, as Keras' "accuracy" does for other losses
        if pred.dim() == y.dim() + 1 or (y.shape == (*pred.shape[:-1], 1) and pred.shape[-1] > 1):
            kind = "sparse"
        elif pred.shape[-1] > 1 and pred.shape == y.shape:
            kind = "categorical"
        else:
            kind = "binary"
    if kind == "sparse":
        ids = _class_ids(pred, y, "accuracy")
        keep = ids != IGNORE_INDEX
        hits = pred.reshape(-1, pred.shape[-1]).argmax(-1) == ids
        return hits[keep].float().mean() if keep.any() else hits.float().sum()
    if kind == "categorical":
        return (pred.argmax(-1) == _like(pred, y, "accuracy").argmax(-1)).float().mean()
    threshold = 0.0 if logits else 0.5
    return ((pred > threshold).float() == (_like(pred, y, "accuracy") > 0.5).float()).float().mean()


def _mae(pred: Tensor, y: Tensor) -> Tensor:
    return (pred - _like(pred, y, "mae")).abs().mean()


def _mse(pred: Tensor, y: Tensor) -> Tensor:
    return (pred - _like(pred, y, "mse")).square().mean()


_METRICS = {
    "mae": _mae,
    "mean_absolute_error": _mae,
    "mse": _mse,
    "mean_squared_error": _mse,
}
_ACCURACY = {
    "accuracy": None,
    "acc": None,
    "binary_accuracy": "binary",
    "categorical_accuracy": "categorical",
    "sparse_categorical_accuracy": "sparse",
}
METRIC_NAMES = sorted([*_METRICS, *_ACCURACY])


def get_metrics(
    metrics: Iterable[str | Callable] | dict[str, Callable] | None, loss_fn: LossFn
) -> dict[str, LossFn]:
    """``{history_key: fn(pred, y) -> scalar}`` for a list of names / callables (a callable is
    keyed by its ``__name__``) or a ``{name: callable}`` dict. ``"accuracy"`` picks binary,
    categorical or sparse accuracy from the loss (then from the shapes), as Keras does; binary
    accuracy thresholds logits at 0 for the ``*_from_logits`` losses and probabilities at 0.5."""
    if metrics is None:
        return {}
    if isinstance(metrics, str) or callable(metrics):
        metrics = [metrics]
    items = metrics.items() if isinstance(metrics, dict) else ((None, m) for m in metrics)
    out: dict[str, LossFn] = {}
    for key, m in items:
        if isinstance(m, str):
            name = m.lower()
            if name in _ACCURACY:
                kind = _ACCURACY[name] or _KIND.get(loss_fn)
                fn = functools.partial(_accuracy, kind=kind, logits=loss_fn in _FROM_LOGITS)
            elif name in _METRICS:
                fn = _METRICS[name]
            else:
                raise ValueError(f"metrics: unknown name {m!r}; known: {METRIC_NAMES}")
            key = key or m
        elif callable(m):
            fn = m
            key = key or getattr(m, "__name__", None) or type(m).__name__
        else:
            raise TypeError(f"metrics must hold names or callables, got {m!r}")
        if key in out or key == "loss":
            raise ValueError(f"metrics: the name {key!r} is given twice (or clashes with 'loss')")
        out[key] = fn
    return out
