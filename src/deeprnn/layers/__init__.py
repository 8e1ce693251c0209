"""Recurrent layers: the time loop, masks, directions, stacks and state."""

from deeprnn.layers import regularizers
from deeprnn.layers._sequence import SequenceLayer
from deeprnn.layers.bidirectional import MERGE_MODES, Bidirectional
from deeprnn.layers.masking import (
    Embedding,
    MaskedSequence,
    Masking,
    attach_mask,
    get_mask,
    strip_mask,
)
from deeprnn.layers.norm import MaskedBatchNorm1d
from deeprnn.layers.parallel import LRU, MinGRU, MinLSTM
from deeprnn.layers.recurrent import Recurrent
from deeprnn.layers.regularizers import (
    L1,
    L1L2,
    L2,
    Constraint,
    MaxNorm,
    MinMaxNorm,
    NonNeg,
    Regularizer,
    UnitNorm,
    apply_constraints,
    regularization_loss,
)
from deeprnn.layers.revin import RevIN
from deeprnn.layers.rnn import GRU, LSTM, MinimalGRU, SimpleRNN
from deeprnn.layers.stacked import DeepRNN, LayerSpec
from deeprnn.layers.torch_convert import from_torch, to_torch

__all__ = [
    "GRU",
    "L1",
    "L1L2",
    "L2",
    "LRU",
    "LSTM",
    "MERGE_MODES",
    "Bidirectional",
    "Constraint",
    "DeepRNN",
    "Embedding",
    "LayerSpec",
    "MaskedBatchNorm1d",
    "MaskedSequence",
    "Masking",
    "MaxNorm",
    "MinGRU",
    "MinLSTM",
    "MinMaxNorm",
    "MinimalGRU",
    "NonNeg",
    "Recurrent",
    "Regularizer",
    "RevIN",
    "SequenceLayer",
    "SimpleRNN",
    "UnitNorm",
    "apply_constraints",
    "attach_mask",
    "from_torch",
    "get_mask",
    "regularization_loss",
    "regularizers",
    "strip_mask",
    "to_torch",
]
