r"""Training objectives for the seq2seq models: the masked token loss and scheduled sampling."""

from __future__ import annotations

import math

import torch.nn.functional as F
from torch import Tensor

from deeprnn._validation import check_choice


def sequence_loss(
    logits: Tensor, tgt: Tensor, pad_id: int = 0, label_smoothing: float = 0.0
) -> Tensor:
    r"""Mean token cross-entropy over the real target tokens (``pad_id`` ignored).

    .. math:: \mathcal{L} = -\frac{1}{\sum_{n,t} m_{nt}} \sum_{n,t} m_{nt} \log p(y_{nt})

    ``logits`` (N, T, V), ``tgt`` (N, T).
    """
    vocab = logits.shape[-1]
    return F.cross_entropy(
        logits.reshape(-1, vocab),  # (N*T, V)
        tgt.reshape(-1),
        ignore_index=pad_id,
        label_smoothing=label_smoothing,
    )


SCHEDULES = ("constant", "linear", "exponential", "inverse_sigmoid")


def teacher_forcing_ratio(
    step: int, schedule: str = "inverse_sigmoid", k: float = 1000.0, minimum: float = 0.0
) -> float:
    r"""Scheduled sampling (Bengio et al. 2015): the teacher-forcing probability at ``step``.

    .. math::
        \epsilon_i = \max\Big(\epsilon_{\min}, \begin{cases}
            1 & \texttt{constant} \\ 1 - i / k & \texttt{linear} \\
            k^i\ (k < 1) & \texttt{exponential} \\ k / (k + e^{i/k})\ (k \ge 1) &
            \texttt{inverse\_sigmoid} \end{cases}\Big)

    >>> round(teacher_forcing_ratio(2000, "inverse_sigmoid", k=1000), 3)
    0.993
    """
    check_choice("schedule", schedule, SCHEDULES)
    if schedule == "constant":
        value = 1.0
    elif schedule == "linear":
        value = 1.0 - step / k
    elif schedule == "exponential":
        value = k**step
    else:
        value = k / (k + math.exp(min(step / k, 700.0)))
    return float(min(1.0, max(minimum, value)))
