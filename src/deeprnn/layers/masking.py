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

Limits, by design of a plain attribute:

* any tensor operation returns a new tensor without the attribute (``x * 2``, ``x.to(...)``,
  ``x[:, :5]``, a ``nn.Linear`` or ``nn.Dropout`` in between): the mask stops there. Pass it
  explicitly after such a step, or re-attach it with :func:`attach_mask`;
* an explicit ``lengths`` or ``mask`` argument always wins over an attached mask;
* under ``torch.compile`` / ``torch.export`` nothing is attached or read (tensor attributes
  would break the graph): pass masks explicitly there.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from deeprnn._config import ConfigMixin, register
from deeprnn._validation import check_bool, check_float_tensor, is_compiling

MASK_ATTR = "_deeprnn_mask"


def attach_mask(x: Tensor, mask: Tensor | None) -> Tensor:
    """Attach the (N, T) bool ``mask`` to ``x`` (in place on the object) and return ``x``.

    ``None`` removes an attached mask. A no-op under ``torch.compile``.
    """
    if is_compiling():
        return x
    if mask is None:
        if hasattr(x, MASK_ATTR):
            delattr(x, MASK_ATTR)
        return x
    setattr(x, MASK_ATTR, mask)
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
