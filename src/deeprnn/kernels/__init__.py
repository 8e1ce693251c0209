"""Fast paths behind the layer API.

* :mod:`deeprnn.kernels.dispatch` — which of them runs a layer's call, and why
  (:func:`choose` for one call, :func:`explain` for every recurrent layer of a model).
* :mod:`deeprnn.kernels.torch_rnn` — plain configurations through torch's fused RNN ops
  (cuDNN / oneDNN), with the layer's own parameters.
* :mod:`deeprnn.kernels.fused` — everything else (recurrent dropout, zoneout, layer norm,
  other activations, minimal GRU, any mask): a per-step GEMM loop with a hand-written BPTT.
* :mod:`deeprnn.kernels.compiled` — that loop in C++ for LSTM / GRU and their layer-norm
  kinds on CPU (built just in time on first use, cached on disk; without a compiler one
  warning and the Python loop).
* :mod:`deeprnn.kernels.parallel` — the linear recurrences (minGRU, minLSTM, LRU): their scan
  :math:`h_t = a_t h_{t-1} + b_t` compiled on CPU (gates fused, hand-written backward), the
  same in Triton on CUDA (:mod:`deeprnn.kernels.triton_scan`), or as the associative scan in
  torch (``impl="parallel"``).

``Recurrent(impl="auto")`` picks one; ``impl="loop"`` is the readable reference loop that the
tests hold every kernel to.
"""

from deeprnn.kernels.dispatch import Choice, choose, explain
from deeprnn.kernels.fused import FusedRecurrence, fused_scan
from deeprnn.kernels.torch_rnn import torch_scan, unsupported_reason

__all__ = [
    "Choice",
    "FusedRecurrence",
    "choose",
    "explain",
    "fused_scan",
    "torch_scan",
    "unsupported_reason",
]
