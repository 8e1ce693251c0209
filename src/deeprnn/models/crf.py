r"""A linear-chain conditional random field over per-step emission scores (Lafferty et al. 2001;
the BiLSTM-CRF of Huang et al. 2015 and Lample et al. 2016).

.. math::
    s(x, y) = \text{start}_{y_1} + \sum_t E_{t, y_t} + \sum_{t>1} A_{y_{t-1}, y_t}
              + \text{end}_{y_T}, \qquad
    -\log p(y \mid x) = \log \sum_{y'} e^{s(x, y')} - s(x, y)

The partition function uses the forward algorithm and decoding uses Viterbi, both vectorised
over the batch with a (N, T) mask (post-padded rows; an empty row scores 0 and decodes to []).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class CRF(nn.Module):
    """``nll(emissions (N, T, C), tags (N, T), mask (N, T)) -> mean loss``;
    ``decode(emissions, mask) -> list of tag-index lists``."""

    def __init__(self, num_tags: int):
        super().__init__()
        self.num_tags = num_tags
        self.transitions = nn.Parameter(torch.empty(num_tags, num_tags).uniform_(-0.1, 0.1))
        self.start = nn.Parameter(torch.empty(num_tags).uniform_(-0.1, 0.1))
        self.end = nn.Parameter(torch.empty(num_tags).uniform_(-0.1, 0.1))

    def _score(self, emissions: Tensor, tags: Tensor, mask: Tensor) -> Tensor:
        steps = emissions.shape[1]
        tags = tags.clamp(min=0)  # padding labels (-100) are masked out below
        m = mask.to(emissions.dtype)
        emit = emissions.gather(2, tags[..., None]).squeeze(-1)  # (N, T)
        score = self.start[tags[:, 0]] * m[:, 0] + (emit * m).sum(1)
        if steps > 1:
            trans = self.transitions[tags[:, :-1], tags[:, 1:]]  # (N, T-1)
            score = score + (trans * m[:, 1:]).sum(1)
        last = (mask.sum(1) - 1).clamp(min=0)
        last_tag = tags.gather(1, last[:, None]).squeeze(1)
        return score + self.end[last_tag] * m[:, 0]

    def _log_partition(self, emissions: Tensor, mask: Tensor) -> Tensor:
        alpha = self.start + emissions[:, 0]  # (N, C)
        for t in range(1, emissions.shape[1]):
            nxt = torch.logsumexp(alpha[:, :, None] + self.transitions + emissions[:, t, None], 1)
            alpha = torch.where(mask[:, t, None], nxt, alpha)
        z = torch.logsumexp(alpha + self.end, dim=1)
        return z * mask[:, 0].to(z.dtype)

    def nll(self, emissions: Tensor, tags: Tensor, mask: Tensor) -> Tensor:
        """Mean negative log-likelihood over the rows."""
        return (self._log_partition(emissions, mask) - self._score(emissions, tags, mask)).mean()

    @torch.no_grad()
    def decode(self, emissions: Tensor, mask: Tensor) -> list[list[int]]:
        """The most likely tag sequence of every row (Viterbi)."""
        n, steps, _ = emissions.shape
        score = self.start + emissions[:, 0]  # (N, C)
        back = []
        for t in range(1, steps):
            total = score[:, :, None] + self.transitions  # (N, C_prev, C)
            best, idx = total.max(1)
            nxt = best + emissions[:, t]
            keep = mask[:, t, None]
            score = torch.where(keep, nxt, score)
            back.append(torch.where(keep, idx, torch.arange(self.num_tags, device=idx.device)))
        score = score + self.end
        lengths = mask.sum(1).tolist()
        best_last = score.argmax(1)
        paths = []
        for i in range(n):
            if lengths[i] == 0:
                paths.append([])
                continue
            tag = int(best_last[i])
            path = [tag]
            for t in range(lengths[i] - 1, 0, -1):
                tag = int(back[t - 1][i, tag])
                path.append(tag)
            paths.append(path[::-1])
        return paths
