r"""Cells whose recurrence is linear in the state: minGRU, minLSTM (Feng et al. 2024, "Were RNNs
All We Needed?") and the Linear Recurrent Unit (Orvieto et al. 2023).

Their gates read the input only, so every step is a first-order linear recurrence

.. math::
    h_t = a_t \odot h_{t-1} + b_t

with :math:`a_t, b_t` computed from :math:`x_t` alone, for all steps at once, by one GEMM
(``project_input``) and an elementwise pass (:meth:`ParallelCell.coefficients`). A layer can
then run the scan over time in parallel (:mod:`deeprnn.kernels.parallel`), or in one cheap
fused pass; ``step`` is the same recurrence one step at a time (the readable loop and
streaming). There is no recurrent matrix: ``weight_hh`` is an empty (0, I) view that only
carries the cell's device and dtype, and ``recurrent_dropout`` has nothing to act on.

Shapes: ``x_t`` (N, I); states (N, H) each; the input projection (N, T, G·H).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from deeprnn._config import register
from deeprnn._validation import check_bool, check_choice, check_fits_in_memory, check_positive_int
from deeprnn.cells._base import INITS, RecurrentCell
from deeprnn.states import RNNState

#: the candidate activation of minGRU / minLSTM: the paper's ``g`` (positive, for log space) or
#: none
CANDIDATES = ("g", "identity")


class LRUState(NamedTuple):
    """State of an LRU cell: the last output ``h`` (N, H) and the complex state's real and
    imaginary parts ``re``, ``im`` (N, H) each."""

    h: Tensor
    re: Tensor
    im: Tensor


def g(x: Tensor) -> Tensor:
    r"""The paper's candidate activation: :math:`g(x) = x + \tfrac12` for :math:`x \ge 0`, else
    :math:`\sigma(x)` — positive and continuous, linear growth above 0."""
    return torch.where(x >= 0, x + 0.5, torch.sigmoid(x))


class ParallelCell(RecurrentCell):
    """Base of the linear-recurrence cells: ``weight_ih`` (G·H, I) and ``bias`` (G·H,), no
    recurrent matrix. Subclasses set ``num_gates`` / ``scan_kind`` and implement
    :meth:`coefficients` and ``step``."""

    scan_kind: str = ""
    fused_kind = None  # the per-step fused kernels are for recurrent matrices; see scan_kind

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, init: str = "keras"):
        nn.Module.__init__(self)
        self.input_size = check_positive_int("input_size", input_size)
        self.hidden_size = check_positive_int("hidden_size", hidden_size)
        self.use_bias = check_bool("bias", bias)
        self.init = check_choice("init", init, INITS)
        gh = self.num_gates * hidden_size
        if torch.empty(0).device.type != "meta":
            check_fits_in_memory(
                "hidden_size" if hidden_size >= input_size else "input_size",
                max(hidden_size, input_size),
                gh * (input_size + 1),
                f"the weights of one {type(self).__name__}",
            )
        self.weight_ih = nn.Parameter(torch.empty(gh, input_size))  # (G*H, I)
        if bias:
            self.bias = nn.Parameter(torch.empty(gh))  # (G*H,)
        else:
            self.register_parameter("bias", None)

    @property
    def weight_hh(self) -> Tensor:
        """No recurrent matrix: an empty (0, I) view of ``weight_ih`` (device and dtype)."""
        return self.weight_ih[:0]

    def reset_parameters(self) -> None:
        if self.init == "torch":
            bound = 1.0 / math.sqrt(self.hidden_size)
            nn.init.uniform_(self.weight_ih, -bound, bound)
            if self.bias is not None:
                nn.init.uniform_(self.bias, -bound, bound)
        else:
            nn.init.xavier_uniform_(self.weight_ih)
            if self.bias is not None:
                nn.init.zeros_(self.bias)

    def recurrent_projection(self, h: Tensor) -> Tensor:  # pragma: no cover - never called
        raise TypeError(f"{type(self).__name__} has no recurrent matrix")

    def coefficients(self, xp: Tensor) -> tuple[Tensor, Tensor]:  # pragma: no cover
        """``(a, b)`` of :math:`h_t = a_t h_{t-1} + b_t` from the projections ``xp``."""
        raise NotImplementedError

    def readout(self, hs: Tensor, xp: Tensor) -> Tensor:
        """The outputs (N, T, H) from the scanned states ``hs``: the states themselves."""
        return hs

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config()}


class _MinCell(ParallelCell):
    """minGRU / minLSTM: the candidate :math:`\\tilde h_t = g(W_h x_t + b_h)` (or without ``g``)."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        candidate: str = "g",
        init: str = "keras",
    ):
        super().__init__(input_size, hidden_size, bias=bias, init=init)
        self.candidate = check_choice("candidate", candidate, CANDIDATES)
        self.reset_parameters()

    def _candidate(self, c: Tensor) -> Tensor:
        return g(c) if self.candidate == "g" else c

    def step(self, xp: Tensor, state: RNNState, recurrent_mask: Tensor | None = None):
        a, b = self.coefficients(xp)  # (N, H) each
        h = a * state.h + b
        return h, RNNState(h)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "candidate": self.candidate}


@register
class MinGRUCell(_MinCell):
    r"""One step of minGRU (Feng et al. 2024): the GRU without its reset gate and without
    :math:`h_{t-1}` in the gates.

    .. math::
        \begin{aligned}
        z_t &= \sigma(W_z x_t + b_z), \qquad \tilde h_t = g(W_h x_t + b_h) \\
        h_t &= (1 - z_t) \odot h_{t-1} + z_t \odot \tilde h_t
        \end{aligned}

    so :math:`a_t = 1 - z_t`, :math:`b_t = z_t \tilde h_t`. ``candidate="g"`` (default) is the
    paper's :func:`g` (the log-space version's positive candidate), ``"identity"`` its plain
    version. Gate order (z, h): ``weight_ih`` (2H, I), ``bias`` (2H,).
    """

    num_gates = 2
    scan_kind = "mingru"

    def coefficients(self, xp: Tensor) -> tuple[Tensor, Tensor]:
        k, c = xp.chunk(2, dim=-1)  # (..., H) each
        z = torch.sigmoid(k)
        return 1 - z, z * self._candidate(c)


@register
class MinLSTMCell(_MinCell):
    r"""One step of minLSTM (Feng et al. 2024): forget and input gates from the input only,
    normalised to sum to one, no output gate and no cell state.

    .. math::
        \begin{aligned}
        f_t &= \sigma(W_f x_t + b_f), \quad i_t = \sigma(W_i x_t + b_i), \quad
        \tilde h_t = g(W_h x_t + b_h) \\
        f'_t &= \frac{f_t}{f_t + i_t}, \quad i'_t = \frac{i_t}{f_t + i_t}, \qquad
        h_t = f'_t \odot h_{t-1} + i'_t \odot \tilde h_t
        \end{aligned}

    Gate order (f, i, h): ``weight_ih`` (3H, I), ``bias`` (3H,).
    """

    num_gates = 3
    scan_kind = "minlstm"

    def coefficients(self, xp: Tensor) -> tuple[Tensor, Tensor]:
        kf, ki, c = xp.chunk(3, dim=-1)  # (..., H) each
        f, i = torch.sigmoid(kf), torch.sigmoid(ki)
        s = f + i
        return f / s, i / s * self._candidate(c)


@register
class LRUCell(ParallelCell):
    r"""One step of the Linear Recurrent Unit (Orvieto et al. 2023): a complex diagonal
    recurrence with exponential parameterisation and input normalisation.

    .. math::
        \begin{aligned}
        \lambda &= \exp(-\exp(\nu) + i \exp(\theta)), \qquad
        \gamma = \exp(\gamma_{\log}) \\
        s_t &= \lambda \odot s_{t-1} + \gamma \odot (B x_t + b_B) \\
        y_t &= \mathrm{Re}(C s_t) + D x_t + b_D
        \end{aligned}

    with a complex state :math:`s_t \in \mathbb{C}^H` (``re``, ``im``), :math:`|\lambda| < 1`
    for any :math:`\nu`. :math:`\lambda` starts uniform on the ring :math:`r_{\min} \le
    |\lambda| \le r_{\max}`, phase in :math:`[0, \text{max\_phase}]`, and :math:`\gamma_{\log}
    = \log\sqrt{1 - |\lambda|^2}` (the paper's initialisation).

    Parameters: ``weight_ih`` (3H, I) holds :math:`[\mathrm{Re} B; \mathrm{Im} B; D]` and
    ``bias`` (3H,) their shifts (one GEMM for all three); ``weight_out`` (H, 2H) is
    :math:`[\mathrm{Re}\,C, -\mathrm{Im}\,C]`, so that :math:`y = [\mathrm{re}, \mathrm{im}]
    W_{out}^\top + D x`; ``nu_log``, ``theta_log``, ``gamma_log`` (H,) each. ``D`` is a full
    (H, I) matrix (the paper's diagonal needs I = H). The state is
    :class:`LRUState` ``(h, re, im)``, ``h`` the last output.
    """

    num_gates = 3
    scan_kind = "lru"
    state_type = LRUState

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        r_min: float = 0.9,
        r_max: float = 0.999,
        max_phase: float = 2 * math.pi,
        init: str = "keras",
    ):
        super().__init__(input_size, hidden_size, bias=bias, init=init)
        for name, value in (("r_min", r_min), ("r_max", r_max)):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"{name} must be a float in [0, 1), got {value!r}")
        if not 0.0 <= r_min <= r_max < 1.0:
            raise ValueError(
                f"r_min and r_max must satisfy 0 <= r_min <= r_max < 1, got {r_min}, {r_max}"
            )
        if isinstance(max_phase, bool) or not isinstance(max_phase, (int, float)) or max_phase <= 0:
            raise ValueError(f"max_phase must be a positive float, got {max_phase!r}")
        self.r_min, self.r_max, self.max_phase = float(r_min), float(r_max), float(max_phase)
        self.weight_out = nn.Parameter(torch.empty(hidden_size, 2 * hidden_size))  # (H, 2H)
        self.nu_log = nn.Parameter(torch.empty(hidden_size))  # (H,)
        self.theta_log = nn.Parameter(torch.empty(hidden_size))  # (H,)
        self.gamma_log = nn.Parameter(torch.empty(hidden_size))  # (H,)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        hidden, inputs = self.hidden_size, self.input_size
        with torch.no_grad():
            if self.init == "keras":  # the paper's B ~ N(0, 1/(2I)) for Re and Im
                nn.init.normal_(self.weight_ih[: 2 * hidden], std=1.0 / math.sqrt(2 * inputs))
            nn.init.normal_(self.weight_out, std=1.0 / math.sqrt(2 * hidden))
            u1 = torch.rand(hidden, dtype=torch.float64)
            u2 = torch.rand(hidden, dtype=torch.float64)
            r2 = u1 * (self.r_max**2 - self.r_min**2) + self.r_min**2  # |lambda|^2 on the ring
            nu = torch.log(-0.5 * torch.log(r2.clamp(min=1e-12)))
            self.nu_log.copy_(nu)
            self.theta_log.copy_(torch.log((self.max_phase * u2).clamp(min=1e-6)))
            self.gamma_log.copy_(0.5 * torch.log1p(-r2))

    def lam(self) -> tuple[Tensor, Tensor]:
        r"""The real and imaginary parts of :math:`\lambda` (H,) each."""
        modulus = torch.exp(-torch.exp(self.nu_log))
        phase = torch.exp(self.theta_log)
        return modulus * torch.cos(phase), modulus * torch.sin(phase)

    def initial_state(self, batch_size: int, device=None, dtype=None):
        (h,) = super().initial_state(batch_size, device, dtype)
        return LRUState(h, h.clone(), h.clone())

    def coefficients(self, xp: Tensor) -> tuple[Tensor, Tensor]:
        """Complex ``(a, b)``: :math:`\\lambda` (H,) and :math:`\\gamma (B x + b_B)` (..., H)."""
        u_re, u_im, _ = xp.chunk(3, dim=-1)
        lr, li = self.lam()
        gamma = torch.exp(self.gamma_log)
        return torch.complex(lr, li), torch.complex(gamma * u_re, gamma * u_im)

    def readout(self, hs: Tensor, xp: Tensor) -> Tensor:
        """:math:`y = [\\mathrm{re}, \\mathrm{im}] W_{out}^\\top + D x`: hs (N, T, 2H) -> (N, T, H)."""
        return F.linear(hs, self.weight_out) + xp[..., 2 * self.hidden_size :]

    def step(self, xp: Tensor, state: LRUState, recurrent_mask: Tensor | None = None):
        u_re, u_im, _ = xp.chunk(3, dim=-1)  # (N, H) each
        lr, li = self.lam()
        gamma = torch.exp(self.gamma_log)
        re = lr * state.re - li * state.im + gamma * u_re
        im = lr * state.im + li * state.re + gamma * u_im
        y = self.readout(torch.cat([re, im], dim=-1), xp)  # (N, H)
        return y, LRUState(y, re, im)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "r_min": self.r_min,
            "r_max": self.r_max,
            "max_phase": self.max_phase,
        }


__all__ = ["CANDIDATES", "LRUCell", "LRUState", "MinGRUCell", "MinLSTMCell", "ParallelCell", "g"]
