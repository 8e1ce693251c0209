r"""Masks that flow from layer to layer, as Keras' ``_keras_mask`` does.

The convention. A module that knows which steps are padding attaches the (N, T) bool mask (True
at real steps, always batch-first) to the tensor it returns, as the attribute
``_deeprnn_mask`` (:func:`attach_mask`). The next deeprnn module reads it from its input
(:func:`get_mask`) when it is given no ``lengths`` / ``mask`` of its own. In ``nn.Sequential``
one module's output object *is* the next one's input, so the mask flows::

    model = nn.Sequential(
        deeprnn.Embedding(1000, 32, mask_zero=True),          # mask = token ids != 0
        deeprnn.LSTM(32, 64, return_state=False),             # reads it, attaches it again
        deeprnn.LSTM(64, 64, return_state=False, return_sequences=False),  # reads it
    )

Who attaches: :class:`Masking` and :class:`Embedding`, and every deeprnn recurrent layer
(``LSTM``, ``DeepRNN``, ``Bidirectional``, ``Recurrent``, ...) with ``return_sequences=True``
that ran with a mask (given or flowing). Who reads: those layers, and the attention modules
(the mask of their ``keys``).

What carries it on (Keras' ``supports_masking``). A tensor with a mask is a
:class:`MaskedSequence` (a ``torch.Tensor`` subclass); the operations that act on each step
alone keep the mask on their result: dropout of every kind, ``nn.Linear``, layer / RMS norm,
activations, arithmetic (``x * 2``, ``x + y``), dtype and device moves, ``clone``, ``detach``.
So an ``nn.Dropout`` or ``nn.Linear`` between two deeprnn layers passes the mask on, in
training and in evaluation alike (a mask that flowed only in eval, where dropout returns its
input, would switch silently between what the model trains on and what it is evaluated on).

Everything else drops it: an operation that changes the time axis or mixes steps (slicing
``x[:, :5]``, ``flip``, ``cat``, ``transpose``, convolutions, pooling, reductions) returns a plain
tensor, so no stale mask can reach a later layer. Pass the mask explicitly after such a step, or
re-attach it with :func:`attach_mask`. Also:

* an explicit ``lengths`` or ``mask`` argument always wins over an attached mask;
* under ``torch.compile`` / ``torch.export`` nothing is attached or read (tensor attributes
  would break the graph), and under ``torch.jit.trace`` / ONNX export a plain attribute is set
  and not carried: pass masks explicitly there.
"""

from __future__ import annotations

import sys
from typing import Any

import torch
from torch import Tensor, nn

from deeprnn._config import ConfigMixin, register
from deeprnn._validation import check_bool, check_float_tensor, is_compiling

MASK_ATTR = "_deeprnn_mask"


# torch functions and Tensor methods that act on each time step alone: their result has the
# masked operand's leading dimensions (only the feature axis may change), so the mask still holds.
_STEPWISE = frozenset(
    [
        "dropout",
        "alpha_dropout",
        "feature_alpha_dropout",
        "dropout1d",
        "dropout2d",
        "dropout3d",
        "linear",
        "layer_norm",
        "rms_norm",
        "relu",
        "relu6",
        "gelu",
        "silu",
        "elu",
        "selu",
        "celu",
        "leaky_relu",
        "softplus",
        "softsign",
        "mish",
        "hardswish",
        "hardsigmoid",
        "hardtanh",
        "tanh",
        "sigmoid",
        "logsigmoid",
        "tanhshrink",
        "glu",
        "prelu",
        "rrelu",
        "add",
        "sub",
        "mul",
        "div",
        "true_divide",
        "neg",
        "abs",
        "exp",
        "log",
        "sqrt",
        "rsqrt",
        "pow",
        "clamp",
        "clip",
        "where",
        "__add__",
        "__radd__",
        "__iadd__",
        "__sub__",
        "__rsub__",
        "__isub__",
        "__mul__",
        "__rmul__",
        "__imul__",
        "__truediv__",
        "__rtruediv__",
        "__itruediv__",
        "__neg__",
        "__pow__",
        "__rpow__",
        "add_",
        "sub_",
        "mul_",
        "div_",
        "clamp_",
        "relu_",
        "tanh_",
        "sigmoid_",
        "to",
        "float",
        "double",
        "half",
        "bfloat16",
        "type_as",
        "contiguous",
        "clone",
        "detach",
        "requires_grad_",
        "cpu",
        "cuda",
    ]
)


class MaskedSequence(Tensor):
    """A (N, T, ...) or (T, N, ...) tensor that carries its (N, T) padding mask as
    ``_deeprnn_mask``; step-wise operations keep it (see :mod:`deeprnn.layers.masking`).

    Made by :func:`attach_mask`; every deeprnn layer that reads the mask takes a plain tensor
    from it (:func:`strip_mask`), so the recurrences themselves run on plain tensors."""

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        with torch._C.DisableTorchFunctionSubclass():
            out = func(*args, **kwargs)
            if not isinstance(out, Tensor):
                return out  # shapes, dtypes, tuples of parts: nothing to carry
            source = _masked_operand(args, kwargs)
            mask = getattr(source, MASK_ATTR, None)
            keeps = (
                mask is not None
                and getattr(func, "__name__", None) in _STEPWISE
                and out.dim() == source.dim()
                and out.shape[:-1] == source.shape[:-1]
            )
        if keeps:
            return attach_mask(out, mask)
        return out.as_subclass(Tensor) if type(out) is not Tensor else out

    def __repr__(self, *args, **kwargs) -> str:
        return strip_mask(self).__repr__(*args, **kwargs)  # prints as the tensor it is


def _masked_operand(args, kwargs) -> Tensor | None:
    for a in (*args, *kwargs.values()):
        if isinstance(a, MaskedSequence):
            return a
    return None


def _tracing() -> bool:
    onnx = sys.modules.get("torch.onnx")  # not imported: not exporting (and no import here)
    return torch.jit.is_tracing() or (onnx is not None and onnx.is_in_onnx_export())


def attach_mask(x: Tensor, mask: Tensor | None) -> Tensor:
    """``x`` carrying the (N, T) bool ``mask``: a :class:`MaskedSequence` that shares ``x``'s
    data and autograd history. Use the returned tensor.

    ``None`` returns ``x`` without a mask (a plain tensor). A no-op under ``torch.compile``;
    under ``torch.jit.trace`` / ONNX export the mask is set as a plain attribute on ``x``.
    """
    if is_compiling():
        return x
    if _tracing():
        if mask is None:
            if hasattr(x, MASK_ATTR):
                delattr(x, MASK_ATTR)
            return x
        setattr(x, MASK_ATTR, mask)
        return x
    if mask is None:
        return strip_mask(x)
    out = x if type(x) is MaskedSequence else x.as_subclass(MaskedSequence)
    setattr(out, MASK_ATTR, mask)
    return out


def strip_mask(x: Tensor) -> Tensor:
    """``x`` as a plain tensor, without a carried mask (the same data, the same graph)."""
    if isinstance(x, MaskedSequence):
        return x.as_subclass(Tensor)
    return x


def get_mask(x) -> Tensor | None:
    """The (N, T) mask attached to ``x`` by the module that produced it, or ``None``."""
    if is_compiling() or not isinstance(x, Tensor):
        return None
    return getattr(x, MASK_ATTR, None)


def _batch_first_mask(mask: Tensor, batch_first: bool) -> Tensor:
    return mask if batch_first else mask.transpose(0, 1)  # (T, N) -> (N, T)


@register
class Masking(ConfigMixin, nn.Module):
    r"""Mark the steps whose features all equal ``mask_value`` as padding (Keras ``Masking``).

    .. math::
        m_{n,t} = \exists i:\ x_{n,t,i} \ne v, \qquad y = x \odot m

    Inputs: ``x`` (N, T, I) (or (T, N, I) with ``batch_first=False``). Output: ``y``, the same
    shape, zero at masked steps, carrying the (N, T) mask for the layers after it (see
    :mod:`deeprnn.layers.masking`).

    >>> import deeprnn, torch
    >>> x = torch.tensor([[[1.0], [2.0], [0.0]]])
    >>> deeprnn.get_mask(deeprnn.Masking(0.0)(x))
    tensor([[ True,  True, False]])
    """

    def __init__(self, mask_value: float = 0.0, batch_first: bool = True):
        super().__init__()
        if isinstance(mask_value, bool) or not isinstance(mask_value, (int, float)):
            raise TypeError(f"mask_value must be a number, got {type(mask_value).__name__}")
        self.mask_value = float(mask_value)
        self.batch_first = check_bool("batch_first", batch_first)

    def forward(self, x: Tensor) -> Tensor:
        check_float_tensor("x", x, 3)
        keep = (x != self.mask_value).any(dim=-1)  # (N, T) or (T, N)
        y = x * keep[..., None].to(x.dtype)
        return attach_mask(y, _batch_first_mask(keep, self.batch_first))

    def get_config(self) -> dict[str, Any]:
        return {"mask_value": self.mask_value, "batch_first": self.batch_first}

    def extra_repr(self) -> str:
        return f"mask_value={self.mask_value}"


@register
class Embedding(ConfigMixin, nn.Embedding):
    r"""``torch.nn.Embedding`` with Keras' ``mask_zero``: index 0 is padding, and the output
    carries the mask ``ids != 0`` to the layers after it (see :mod:`deeprnn.layers.masking`).

    Args: those of :class:`torch.nn.Embedding`, plus ``mask_zero`` (default True) and
    ``batch_first`` (ids (N, T), the default, or (T, N)). Token 0 keeps its own trainable
    vector, as in Keras; pass ``padding_idx=0`` for torch's fixed zero vector.

    Inputs: ``ids`` (N, T) integers. Output: (N, T, E) with the (N, T) mask attached.

    >>> import deeprnn, torch
    >>> emb = deeprnn.Embedding(10, 4)
    >>> deeprnn.get_mask(emb(torch.tensor([[3, 1, 0]])))
    tensor([[ True,  True, False]])
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx: int | None = None,
        *,
        mask_zero: bool = True,
        batch_first: bool = True,
        **kwargs: Any,
    ):
        super().__init__(num_embeddings, embedding_dim, padding_idx, **kwargs)
        self.mask_zero = check_bool("mask_zero", mask_zero)
        self.batch_first = check_bool("batch_first", batch_first)

    def forward(self, ids: Tensor) -> Tensor:
        if not isinstance(ids, Tensor) or ids.is_floating_point():
            got = ids.dtype if isinstance(ids, Tensor) else type(ids).__name__
            raise TypeError(f"ids must be an integer tensor, got {got}")
        if not is_compiling() and not _tracing() and ids.numel():
            bad = (ids < 0) | (ids >= self.num_embeddings)
            if bool(bad.any()):
                where = bad.nonzero()[0].tolist()
                raise ValueError(
                    f"ids must be in [0, {self.num_embeddings - 1}] (num_embeddings="
                    f"{self.num_embeddings}), got {int(ids[tuple(where)])} at index "
                    f"{tuple(where)}"
                )
        out = super().forward(ids)
        if not self.mask_zero or ids.dim() != 2:
            return out
        return attach_mask(out, _batch_first_mask(ids != 0, self.batch_first))

    @classmethod
    def from_pretrained(cls, embeddings, *args, **kwargs):
        """torch's ``from_pretrained(embeddings, freeze=True, ...)`` for a (V, E) weight tensor,
        or deeprnn's ``from_pretrained(directory)`` for a folder from ``save_pretrained``."""
        if isinstance(embeddings, Tensor):
            return nn.Embedding.from_pretrained.__func__(cls, embeddings, *args, **kwargs)
        return ConfigMixin.from_pretrained.__func__(cls, embeddings, *args, **kwargs)

    def get_config(self) -> dict[str, Any]:
        return {
            "num_embeddings": self.num_embeddings,
            "embedding_dim": self.embedding_dim,
            "padding_idx": self.padding_idx,
            "mask_zero": self.mask_zero,
            "batch_first": self.batch_first,
            "max_norm": self.max_norm,
            "norm_type": self.norm_type,
            "scale_grad_by_freq": self.scale_grad_by_freq,
            "sparse": self.sparse,
        }
