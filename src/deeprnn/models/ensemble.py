r"""Deep ensembles: ``k`` copies of one network, built with different initialisations, trained
together, each on its own loss, their predictions averaged (Lakshminarayanan et al. 2017; the
practice of InceptionTime, five members, and of the M4 / N-BEATS forecasters).

Training the members in one module is training them apart: their parameters are disjoint, and
the training loss :func:`members_loss` is built so that member :math:`j` gets exactly the
gradient of its own loss :math:`\ell_j`,

.. math::
    L = \frac{1}{k} \sum_j \ell_j \;\text{(the value logged)}, \qquad
    \frac{\partial L_{\text{backward}}}{\partial \theta_j} = \frac{\partial \ell_j}{\partial
    \theta_j} \;\text{(the gradient taken)},

so Adam's per-parameter statistics, weight decay and :func:`clip_members` (gradient clipping per
member) see what they would see with one member alone. Predictions combine on the probability
scale for classifiers, :math:`\bar p = \frac{1}{k} \sum_j \mathrm{softmax}(z_j)`, returned as
:math:`\log \bar p` (:func:`average_probabilities`): ``softmax``, ``argmax`` and the cross
entropy of those "logits" are those of :math:`\bar p`, so evaluation, prediction and ONNX code
written for one network serve the ensemble unchanged. Point forecasts average
(:func:`average_outputs`).

What the members share: the batches, the learning-rate schedule and early stopping (both on the
ensemble's validation score), and the random stream (dropout masks differ from a lone run's).

>>> import torch
>>> ens = Ensemble(lambda: torch.nn.Linear(3, 4), k=5)
>>> logits = ens(torch.randn(2, 3))  # (K, N, C) = (5, 2, 4)
>>> average_probabilities(logits).exp().sum(-1)  # each row: the mean distribution
tensor([1.0000, 1.0000], grad_fn=<SumBackward1>)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from deeprnn.gradients import clip_gradients


def check_ensemble(k, where: str = "model.ensemble") -> int:
    """``k`` as the number of members (an int >= 1), else ``ValueError`` naming ``where``."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"{where} must be an int >= 1 (the number of members), got {k!r}")
    return k


class Ensemble(nn.Module):
    """``k`` networks from ``build()`` (each call a fresh initialisation) in ``members``.

    ``forward(*inputs)`` runs every member on the same inputs and stacks their outputs:
    ``(K, *member output shape)``. Combine them with :func:`average_probabilities` (classifier
    logits) or :func:`average_outputs` (regression, point forecasts).
    """

    def __init__(self, build: Callable[[], nn.Module], k: int):
        super().__init__()
        self.members = nn.ModuleList(build() for _ in range(check_ensemble(k)))

    def __len__(self) -> int:
        return len(self.members)

    def forward(self, *inputs, **kwargs) -> Tensor:
        return torch.stack([m(*inputs, **kwargs) for m in self.members])  # (K, ...)


def average_probabilities(logits: Tensor) -> Tensor:
    r"""Members' logits ``(K, N, C)`` -> :math:`\log \bar p` ``(N, C)``, the log of the mean of
    their softmax distributions (``logsumexp`` of the log-probabilities, less :math:`\log K`:
    stable, and exportable to ONNX). One member gives its ``log_softmax``."""
    log_probs = torch.log_softmax(logits, dim=-1)  # (K, N, C)
    return torch.logsumexp(log_probs, dim=0) - math.log(logits.shape[0])  # (N, C)


def average_outputs(outputs: Tensor) -> Tensor:
    """Members' outputs ``(K, ...)`` -> their mean ``(...)`` (point forecasts, regression)."""
    return outputs.mean(0)


def members_loss(losses: Sequence[Tensor]) -> Tensor:
    """The training loss of an ensemble from its members' losses: its value is their mean (the
    number to log, comparable with one network's loss), its gradient is that of their sum (each
    member's parameters get the gradient of its own loss, exactly as if trained alone)."""
    if not losses:
        raise ValueError("members_loss needs at least one member's loss, got none")
    total = torch.stack(list(losses)).sum()
    return total - total.detach() + total.detach() / len(losses)


def clip_members(
    members: Sequence[nn.Module], max_norm: float | None = None, clip_value: float | None = None
) -> Tensor:
    """:func:`deeprnn.gradients.clip_gradients` applied to every member on its own (a global
    norm over all members would couple them); returns the largest member norm before
    clipping."""
    norms = [clip_gradients(m, max_norm=max_norm, clip_value=clip_value) for m in members]
    return torch.stack([torch.as_tensor(n, dtype=torch.float32) for n in norms]).max()
