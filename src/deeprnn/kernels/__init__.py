"""Fast paths behind the layer API.

* :mod:`deeprnn.kernels.torch_rnn` — plain configurations through torch's fused RNN ops
  (cuDNN / oneDNN), with the layer's own parameters.
* :mod:`deeprnn.kernels.fused` — everything else (recurrent dropout, zoneout, layer norm,
  other activations, minimal GRU, any mask): a per-step GEMM loop with a hand-written BPTT.

``Recurrent(impl="auto")`` picks one; ``impl="loop"`` is the readable reference loop that the
tests hold every kernel to.
"""

from deeprnn.kernels.fused import FusedRecurrence, fused_scan
from deeprnn.kernels.torch_rnn import torch_scan, unsupported_reason

__all__ = ["FusedRecurrence", "fused_scan", "torch_scan", "unsupported_reason"]
