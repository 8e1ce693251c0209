r"""Keras' per-layer weight options: regularizers, constraints and initializers by name.

A recurrent layer has three kinds of weights, named as in Keras:

* ``kernel``: ``weight_ih`` (G*H, I), the input weights of every gate;
* ``recurrent``: ``weight_hh`` (G*H, H);
* ``bias``: ``bias`` (or ``bias_ih`` and ``bias_hh`` for the reset-after GRU).

Layer-norm gains and shifts belong to none of them.

**Regularizers** (``kernel_regularizer``, ``recurrent_regularizer``, ``bias_regularizer``,
``activity_regularizer``) are :class:`L1`, :class:`L2`, :class:`L1L2`, a name (``"l1"``,
``"l2"``, ``"l1_l2"``: Keras' default factor 0.01) or the dict :meth:`Regularizer.get_config`
gives. The penalty of a weight :math:`w` is

.. math::
    R(w) = \lambda_1 \textstyle\sum |w| + \lambda_2 \sum w^2 ;

the activity regularizer is applied to the layer's output of its last call (the (N, T, H)
sequence, or (N, H) with ``return_sequences=False``) and divided by the batch size N, as in
Keras. ``layer.regularization_loss()`` sums a layer's penalties (Keras ``sum(layer.losses)``);
:func:`regularization_loss` sums them over every deeprnn layer in a model — add it to the
loss (``deeprnn.fit`` does).

**Constraints** (``kernel_constraint``, ``recurrent_constraint``, ``bias_constraint``) are
:class:`MaxNorm`, :class:`MinMaxNorm`, :class:`NonNeg`, :class:`UnitNorm` or their Keras names.
They project the weights after each optimizer step: call :func:`apply_constraints` after
``optimizer.step()`` (``deeprnn.fit`` does). Norms are over each unit's incoming weights
(Keras' ``axis=0`` on its (I, G*H) kernel, one row of torch's (G*H, I) ``weight_ih``); a bias
is one vector.

**Initializers** (``kernel_initializer``, ``recurrent_initializer``, ``bias_initializer``) are
Keras names from :data:`INITIALIZERS`; ``None`` keeps the layer's ``init`` scheme. Fans are
Keras': ``fan_in = I`` and ``fan_out = G*H`` for the kernel. With ``init="keras"`` the LSTM
forget-gate bias is set to 1 after the bias initializer (Keras' ``unit_forget_bias``).

>>> import deeprnn
>>> layer = deeprnn.SimpleRNN(4, 8, kernel_regularizer="l2", return_state=False)
>>> float(layer.regularization_loss()) == 0.01 * float(layer._cells()[0].weight_ih.pow(2).sum())
True
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from deeprnn._validation import check_choice
from deeprnn.layers._sequence import SequenceLayer

KINDS = {"weight_ih": "kernel", "weight_hh": "recurrent", "bias": "bias"}
KINDS.update(bias_ih="bias", bias_hh="bias")


def _check_factor(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ValueError(f"{name} must be a non-negative float, got {value!r}")
    return float(value)


# -- regularizers ------------------------------------------------------------------------------
class Regularizer:
    """Base class: ``regularizer(w) -> scalar tensor``. Subclass it (with ``get_config``) for a
    custom penalty that round-trips through a layer's config."""

    def __call__(self, w: Tensor) -> Tensor:  # pragma: no cover
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        return {}

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and self.get_config() == other.get_config()

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class L1L2(Regularizer):
    r""":math:`\lambda_1 \sum |w| + \lambda_2 \sum w^2` (Keras ``L1L2``; both default to 0)."""

    def __init__(self, l1: float = 0.0, l2: float = 0.0):
        self.l1 = _check_factor("l1", l1)
        self.l2 = _check_factor("l2", l2)

    def __call__(self, w: Tensor) -> Tensor:
        total = w.new_zeros(())
        if self.l1:
            total = total + self.l1 * w.abs().sum()
        if self.l2:
            total = total + self.l2 * w.square().sum()
        return total

    def get_config(self) -> dict[str, Any]:
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    r""":math:`\lambda_1 \sum |w|` (Keras ``L1``, default 0.01)."""

    def __init__(self, l1: float = 0.01):
        super().__init__(l1=l1)

    def get_config(self) -> dict[str, Any]:
        return {"l1": self.l1}


class L2(L1L2):
    r""":math:`\lambda_2 \sum w^2` (Keras ``L2``, default 0.01)."""

    def __init__(self, l2: float = 0.01):
        super().__init__(l2=l2)

    def get_config(self) -> dict[str, Any]:
        return {"l2": self.l2}


REGULARIZERS: dict[str, Any] = {
    "l1": L1,
    "l2": L2,
    "l1_l2": lambda: L1L2(0.01, 0.01),  # Keras: the name gives 0.01 for both
}
_REGULARIZER_CLASSES = {"L1": L1, "L2": L2, "L1L2": L1L2}


# -- constraints -------------------------------------------------------------------------------
class Constraint:
    """Base class: ``constraint(w) -> projected w`` (same shape), applied after each step."""

    def __call__(self, w: Tensor) -> Tensor:  # pragma: no cover
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        return {}

    __eq__ = Regularizer.__eq__
    __repr__ = Regularizer.__repr__


def _unit_norms(w: Tensor, axis: int) -> Tensor:
    """Norms over Keras ``axis`` of the transposed (Keras-layout) weight; keepdim."""
    dim = 0 if w.dim() == 1 else w.dim() - 1 - axis  # torch (out, in) is Keras (in, out)
    return w.square().sum(dim=dim, keepdim=True).sqrt()


def _check_axis(axis) -> int:
    if axis not in (0, 1) or isinstance(axis, bool):
        raise ValueError(f"axis must be 0 or 1 (Keras kernel layout), got {axis!r}")
    return axis


class MaxNorm(Constraint):
    """Rescale each unit's incoming weights to norm at most ``max_value`` (Keras ``MaxNorm``)."""

    def __init__(self, max_value: float = 2.0, axis: int = 0):
        self.max_value = _check_factor("max_value", max_value)
        self.axis = _check_axis(axis)

    def __call__(self, w: Tensor) -> Tensor:
        norms = _unit_norms(w, self.axis)
        return w * norms.clamp(0, self.max_value) / (1e-7 + norms)

    def get_config(self) -> dict[str, Any]:
        return {"max_value": self.max_value, "axis": self.axis}


class MinMaxNorm(Constraint):
    """Norms pulled into [min_value, max_value] at ``rate`` (Keras ``MinMaxNorm``)."""

    def __init__(
        self, min_value: float = 0.0, max_value: float = 1.0, rate: float = 1.0, axis: int = 0
    ):
        self.min_value = _check_factor("min_value", min_value)
        self.max_value = _check_factor("max_value", max_value)
        if self.min_value > self.max_value:
            raise ValueError(f"min_value must be <= max_value, got {min_value} > {max_value}")
        self.rate = _check_factor("rate", rate)
        self.axis = _check_axis(axis)

    def __call__(self, w: Tensor) -> Tensor:
        norms = _unit_norms(w, self.axis)
        desired = self.rate * norms.clamp(self.min_value, self.max_value) + (1 - self.rate) * norms
        return w * desired / (1e-7 + norms)

    def get_config(self) -> dict[str, Any]:
        return {
            "min_value": self.min_value,
            "max_value": self.max_value,
            "rate": self.rate,
            "axis": self.axis,
        }


class NonNeg(Constraint):
    """Negative weights set to zero (Keras ``NonNeg``)."""

    def __call__(self, w: Tensor) -> Tensor:
        return w.clamp(min=0)


class UnitNorm(Constraint):
    """Each unit's incoming weights rescaled to norm 1 (Keras ``UnitNorm``)."""

    def __init__(self, axis: int = 0):
        self.axis = _check_axis(axis)

    def __call__(self, w: Tensor) -> Tensor:
        return w / (1e-7 + _unit_norms(w, self.axis))

    def get_config(self) -> dict[str, Any]:
        return {"axis": self.axis}


CONSTRAINTS = {
    "max_norm": MaxNorm,
    "min_max_norm": MinMaxNorm,
    "non_neg": NonNeg,
    "unit_norm": UnitNorm,
}
_CONSTRAINT_CLASSES = {c.__name__: c for c in CONSTRAINTS.values()}


# -- lookup and serialisation ------------------------------------------------------------------
def _get(name: str, spec, names: dict, classes: dict, base: type):
    if spec is None or isinstance(spec, base):
        return spec
    if isinstance(spec, str):
        check_choice(name, spec, names)
        return names[spec]()
    if isinstance(spec, dict) and set(spec) == {"class_name", "config"}:
        cls = classes.get(spec["class_name"])
        if cls is None:
            raise ValueError(
                f"{name} has unknown class_name {spec['class_name']!r}; known: {sorted(classes)}"
            )
        return cls(**spec["config"])
    raise TypeError(
        f"{name} must be None, one of {list(names)}, a deeprnn {base.__name__} or its "
        f"serialised dict, got {type(spec).__name__} {spec!r}; for a custom one subclass "
        f"deeprnn.layers.regularizers.{base.__name__}"
    )


def get_regularizer(name: str, spec) -> Regularizer | None:
    """``None``, a name, a :class:`Regularizer` or its serialised dict -> a regularizer."""
    return _get(name, spec, REGULARIZERS, _REGULARIZER_CLASSES, Regularizer)


def get_constraint(name: str, spec) -> Constraint | None:
    """``None``, a name, a :class:`Constraint` or its serialised dict -> a constraint."""
    return _get(name, spec, CONSTRAINTS, _CONSTRAINT_CLASSES, Constraint)


def serialize(obj) -> dict[str, Any] | None:
    """The JSON form of a regularizer or constraint (``None`` stays ``None``)."""
    if obj is None:
        return None
    return {"class_name": type(obj).__name__, "config": obj.get_config()}


def register_custom(cls: type) -> type:
    """Make a custom :class:`Regularizer` / :class:`Constraint` subclass loadable from configs."""
    table = _REGULARIZER_CLASSES if issubclass(cls, Regularizer) else _CONSTRAINT_CLASSES
    table[cls.__name__] = cls
    return cls


# -- initializers by Keras name ----------------------------------------------------------------
def _fans(w: Tensor) -> tuple[int, int]:
    """Keras fans: a 1-D weight has fan_in = fan_out = its size; torch (out, in) otherwise."""
    if w.dim() == 1:
        return w.shape[0], w.shape[0]
    return w.shape[1], w.shape[0]


def _variance_scaling(scale: float, mode: str, distribution: str):
    def init(w: Tensor) -> None:
        fan_in, fan_out = _fans(w)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
        if distribution == "uniform":
            limit = math.sqrt(3.0 * scale / max(1.0, n))
            nn.init.uniform_(w, -limit, limit)
        else:  # Keras' truncated normal, its stddev corrected for the truncation at 2 sigma
            std = math.sqrt(scale / max(1.0, n)) / 0.87962566103423978
            nn.init.trunc_normal_(w, 0.0, std, -2 * std, 2 * std)

    return init


INITIALIZERS = {
    "zeros": nn.init.zeros_,
    "ones": nn.init.ones_,
    "glorot_uniform": _variance_scaling(1.0, "fan_avg", "uniform"),
    "glorot_normal": _variance_scaling(1.0, "fan_avg", "normal"),
    "he_uniform": _variance_scaling(2.0, "fan_in", "uniform"),
    "he_normal": _variance_scaling(2.0, "fan_in", "normal"),
    "lecun_uniform": _variance_scaling(1.0, "fan_in", "uniform"),
    "lecun_normal": _variance_scaling(1.0, "fan_in", "normal"),
    "orthogonal": nn.init.orthogonal_,
    "identity": nn.init.eye_,
    "random_normal": lambda w: nn.init.normal_(w, 0.0, 0.05),
    "random_uniform": lambda w: nn.init.uniform_(w, -0.05, 0.05),
    "truncated_normal": lambda w: nn.init.trunc_normal_(w, 0.0, 0.05, -0.1, 0.1),
}
_MATRIX_ONLY = ("orthogonal", "identity")


def check_initializer(name: str, value, kind: str) -> str | None:
    """A Keras initializer name (or ``None``); matrix-only ones are refused for biases."""
    if value is None:
        return None
    check_choice(name, value, INITIALIZERS)
    if kind == "bias" and value in _MATRIX_ONLY:
        raise ValueError(f"{name} must be an initializer for a vector, got {value!r}")
    return value


def initialize(w: Tensor, initializer: str) -> None:
    """Fill ``w`` in place with the Keras initializer ``initializer``."""
    with torch.no_grad():
        INITIALIZERS[initializer](w)


# -- over a whole model ------------------------------------------------------------------------
def _sequence_layers(model: nn.Module):
    """The outermost deeprnn sequence layers in ``model`` (a stack counts once)."""
    if isinstance(model, SequenceLayer):
        yield model
        return
    for child in model.children():
        yield from _sequence_layers(child)


def regularization_loss(model: nn.Module) -> Tensor:
    """The sum of every deeprnn layer's ``regularization_loss()`` in ``model`` (a 0-dim tensor,
    0 when nothing is regularised): weight penalties, plus the activity penalties of the last
    forward pass. Add it to the training loss, as Keras adds ``model.losses``.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    param = next(model.parameters(), None)
    total = torch.zeros((), device=None if param is None else param.device)
    for layer in _sequence_layers(model):
        total = total + layer.regularization_loss()
    return total


def apply_constraints(model: nn.Module) -> None:
    """Project every constrained deeprnn weight in ``model`` in place; call it after each
    ``optimizer.step()`` (Keras applies constraints after every update)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    for layer in _sequence_layers(model):
        layer.apply_constraints()


# -- weight drop -------------------------------------------------------------------------------
def drop_recurrent_weights(model: nn.Module, p: float) -> dict[str, Tensor]:
    r"""DropConnect on every recurrent matrix of ``model`` (AWD-LSTM's weight drop, Merity et al.
    2018): ``{name: W_hh * m / (1 - p)}`` for every parameter named ``weight_hh``, each
    :math:`m \sim \mathrm{Bernoulli}(1 - p)` elementwise, drawn in ``named_parameters`` order.

    Run ``model`` with them by :func:`torch.func.functional_call` (``DeepRNN(weight_dropout=p)``
    does, once per forward): every step and every row of that call sees the same dropped
    matrix, the gradient reaches :math:`W_{hh}` through the mask, and every kernel (torch's op,
    the fused and compiled loops) runs unchanged on the dropped weights."""
    return {
        name: nn.functional.dropout(w, p, training=True)
        for name, w in model.named_parameters()
        if name.rsplit(".", 1)[-1] == "weight_hh"
    }
