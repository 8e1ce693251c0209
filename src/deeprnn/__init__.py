"""deeprnn: deep recurrent neural networks on PyTorch.

Cells compute one step (:mod:`deeprnn.cells`); layers own the loop, masks, directions and state
(:mod:`deeprnn.layers`); :mod:`deeprnn.reference` is the NumPy float64 forward and BPTT that
the tests hold every layer to.
"""

from deeprnn._config import load_pretrained
from deeprnn._version import __version__
from deeprnn._warnings import DeepRNNWarning
from deeprnn.attention import (
    AdditiveAttention,
    Attention,
    BahdanauAttention,
    LuongAttention,
    masked_softmax,
)
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
from deeprnn.seq2seq import (
    AttentionDecoder,
    Encoder,
    Hypotheses,
    Seq2Seq,
    SequenceToVector,
    VectorToSequence,
    beam_search,
    greedy_search,
    sequence_loss,
    teacher_forcing_ratio,
)
from deeprnn.states import LSTMState, RNNState, States
from deeprnn.summary import summary

__all__ = [
    "GRU",
    "LSTM",
    "AdditiveAttention",
    "Attention",
    "AttentionDecoder",
    "BahdanauAttention",
    "Bidirectional",
    "DeepRNN",
    "DeepRNNWarning",
    "Encoder",
    "GRUCell",
    "GradientProbe",
    "Hypotheses",
    "LSTMCell",
    "LSTMState",
    "LayerNormGRUCell",
    "LayerNormLSTMCell",
    "LayerSpec",
    "LuongAttention",
    "MaskedBatchNorm1d",
    "MinimalGRU",
    "MinimalGRUCell",
    "RNNState",
    "Recurrent",
    "RecurrentCell",
    "Seq2Seq",
    "SequenceToVector",
    "SimpleRNN",
    "SimpleRNNCell",
    "States",
    "VectorToSequence",
    "__version__",
    "beam_search",
    "clip_gradients",
    "from_torch",
    "greedy_search",
    "load_pretrained",
    "masked_softmax",
    "sequence_loss",
    "set_deterministic",
    "summary",
    "teacher_forcing_ratio",
    "to_torch",
]
