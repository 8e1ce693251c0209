"""deeprnn: deep recurrent neural networks on PyTorch.

Cells compute one step (:mod:`deeprnn.cells`); layers own the loop, masks, directions and state
(:mod:`deeprnn.layers`); :mod:`deeprnn.reference` is the NumPy float64 forward and BPTT that
the tests hold every layer to.
"""

from deeprnn._config import load_pretrained
from deeprnn._warnings import DeepRNNWarning
from deeprnn.cells import (
    GRUCell,
    LayerNormGRUCell,
    LayerNormLSTMCell,
    LSTMCell,
    MinimalGRUCell,
    RecurrentCell,
    SimpleRNNCell,
)
from deeprnn.determinism import set_deterministic
from deeprnn.gradients import GradientProbe, clip_gradients
from deeprnn.layers import (
    GRU,
    LSTM,
    Bidirectional,
    DeepRNN,
    LayerSpec,
    MaskedBatchNorm1d,
    MinimalGRU,
    Recurrent,
    SimpleRNN,
    from_torch,
    to_torch,
)
from deeprnn.states import LSTMState, RNNState, States
from deeprnn.summary import summary

__version__ = "0.1.0"

__all__ = [
    "GRU",
    "LSTM",
    "Bidirectional",
    "DeepRNN",
    "DeepRNNWarning",
    "GRUCell",
    "GradientProbe",
    "LSTMCell",
    "LSTMState",
    "LayerNormGRUCell",
    "LayerNormLSTMCell",
    "LayerSpec",
    "MaskedBatchNorm1d",
    "MinimalGRU",
    "MinimalGRUCell",
    "RNNState",
    "Recurrent",
    "RecurrentCell",
    "SimpleRNN",
    "SimpleRNNCell",
    "States",
    "__version__",
    "clip_gradients",
    "from_torch",
    "load_pretrained",
    "set_deterministic",
    "summary",
    "to_torch",
]
