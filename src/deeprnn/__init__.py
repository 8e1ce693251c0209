"""deeprnn: deep recurrent neural networks on PyTorch.

Cells compute one step (:mod:`deeprnn.cells`); layers own the loop, masks, directions and state
(:mod:`deeprnn.layers`); :mod:`deeprnn.reference` is the NumPy float64 forward and BPTT that
the tests hold every layer to.

Training, data, tasks and plots load on first use, so ``import deeprnn`` stays light (no
Lightning): ``deeprnn.fit`` / ``evaluate`` / ``predict`` / ``History`` (Keras' ``model.fit``, from
:mod:`deeprnn.training.keras`) and the submodules ``deeprnn.viz``, ``data``, ``tasks``,
``training``, ``export`` and ``report`` are attributes of the package.
"""

import importlib

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
    LRUCell,
    LRUState,
    LSTMCell,
    MinGRUCell,
    MinimalGRUCell,
    MinLSTMCell,
    RecurrentCell,
    SimpleRNNCell,
)
from deeprnn.determinism import set_deterministic
from deeprnn.gradients import GradientProbe, clip_gradients
from deeprnn.layers import (
    GRU,
    LRU,
    LSTM,
    Bidirectional,
    DeepRNN,
    Embedding,
    LayerSpec,
    MaskedBatchNorm1d,
    Masking,
    MinGRU,
    MinimalGRU,
    MinLSTM,
    Recurrent,
    SimpleRNN,
    apply_constraints,
    attach_mask,
    from_torch,
    get_mask,
    regularization_loss,
    regularizers,
    strip_mask,
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
    "LRU",
    "LSTM",
    "AdditiveAttention",
    "Attention",
    "AttentionDecoder",
    "BahdanauAttention",
    "Bidirectional",
    "DeepRNN",
    "DeepRNNWarning",
    "Embedding",
    "Encoder",
    "GRUCell",
    "GradientProbe",
    "History",
    "Hypotheses",
    "LRUCell",
    "LRUState",
    "LSTMCell",
    "LSTMState",
    "LayerNormGRUCell",
    "LayerNormLSTMCell",
    "LayerSpec",
    "LuongAttention",
    "MaskedBatchNorm1d",
    "Masking",
    "MinGRU",
    "MinGRUCell",
    "MinLSTM",
    "MinLSTMCell",
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
    "apply_constraints",
    "attach_mask",
    "beam_search",
    "clip_gradients",
    "evaluate",
    "fit",
    "from_torch",
    "get_mask",
    "greedy_search",
    "load_pretrained",
    "masked_softmax",
    "predict",
    "regularization_loss",
    "regularizers",
    "sequence_loss",
    "set_deterministic",
    "strip_mask",
    "summary",
    "teacher_forcing_ratio",
    "to_torch",
]

_LAZY = {  # name -> the module it lives in, imported on first access
    "fit": "deeprnn.training.keras",
    "evaluate": "deeprnn.training.keras",
    "predict": "deeprnn.training.keras",
    "History": "deeprnn.training.keras",
    "keras_import": "deeprnn.interop",
    "from_keras": "deeprnn.interop",
    "to_keras": "deeprnn.interop",
}
_SUBMODULES = ("data", "export", "interop", "reference", "report", "tasks", "training", "viz")


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"deeprnn.{name}")
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # later lookups skip __getattr__
        return value
    raise AttributeError(f"module 'deeprnn' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY, *_SUBMODULES})
