"""Gradient clipping and the per-time-step gradient probe (vanishing / exploding gradients)."""

from __future__ import annotations

from collections import defaultdict

import torch
from torch import Tensor, nn

from deeprnn._validation import is_number


def clip_gradients(
    model: nn.Module, max_norm: float | None = None, clip_value: float | None = None
) -> Tensor:
    """Clip the gradients of ``model`` in place, by global norm and/or by value.

    Args:
        max_norm: rescale all gradients so their global L2 norm is at most ``max_norm``
            (Keras ``clipnorm`` applied globally, torch ``clip_grad_norm_``).
        clip_value: clamp every gradient element to ``[-clip_value, clip_value]``.

    Returns the global gradient norm before clipping (``inf``/``nan`` when the gradients are).
    """
    if max_norm is None and clip_value is None:
        raise ValueError("pass max_norm and/or clip_value, got neither")
    for name, v in (("max_norm", max_norm), ("clip_value", clip_value)):
        if v is not None and (not is_number(v) or v <= 0):
            raise ValueError(f"{name} must be a positive finite number, got {v!r}")
    params = [p for p in model.parameters() if p.grad is not None]
    if clip_value is not None:
        nn.utils.clip_grad_value_(params, clip_value)
    if max_norm is not None:
        return nn.utils.clip_grad_norm_(params, max_norm)
    if not params:
        return torch.tensor(0.0)
    return torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(p.grad) for p in params]))


class GradientProbe:
    r"""Record :math:`\lVert \partial L / \partial h_t \rVert` for every step of every recurrent
    layer in ``model`` — the total derivative, through all later steps.

    The probe forces the readable loop while active (fused kernels never materialise
    :math:`h_t`). Norms are taken over the batch and hidden units of each step.

    >>> import deeprnn
    >>> net = deeprnn.SimpleRNN(4, 8, num_layers=2, return_state=False)
    >>> with deeprnn.GradientProbe(net) as probe:
    ...     net(torch.randn(3, 20, 4))[:, -1].sum().backward()
    >>> probe.norms()["blocks.0"].shape
    torch.Size([20])
    """

    def __init__(self, model: nn.Module):
        from deeprnn.layers.recurrent import Recurrent

        self.model = model
        self._layers = {name: m for name, m in model.named_modules() if isinstance(m, Recurrent)}
        if not self._layers:
            raise ValueError(
                f"model has no deeprnn recurrent layer to probe: {type(model).__name__}"
            )
        self._names = {id(m): n for n, m in self._layers.items()}
        self._grads: dict[str, dict[int, Tensor]] = defaultdict(dict)
        self._saved_impl: dict[str, str] = {}

    def _record(self, layer, t: int, grad: Tensor) -> None:
        self._grads[self._names[id(layer)]][t] = torch.linalg.vector_norm(grad.detach().double())

    def __enter__(self) -> GradientProbe:
        self._grads.clear()
        for name, layer in self._layers.items():
            self._saved_impl[name] = layer.impl
            layer.impl = "loop"
            layer._probe = self._record
        return self

    def __exit__(self, *exc) -> None:
        for name, layer in self._layers.items():
            layer._probe = None
            layer.impl = self._saved_impl.get(name, layer.impl)

    def norms(self) -> dict[str, Tensor]:
        """``{layer name: (T,) tensor}`` of gradient norms, in time order.

        Only a forward *and* backward pass run inside ``with probe:`` are recorded; with nothing
        recorded this raises instead of returning an empty dict.
        """
        if not self._grads:
            raise RuntimeError(
                "GradientProbe recorded nothing: run the forward and the backward pass inside "
                "`with GradientProbe(model) as probe:` (the probe is inactive outside its block)"
            )
        out = {}
        for name, by_t in self._grads.items():
            steps = max(by_t) + 1
            out[name] = torch.tensor([float(by_t.get(t, 0.0)) for t in range(steps)])
        return out
