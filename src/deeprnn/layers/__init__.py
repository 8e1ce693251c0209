"""Recurrent layers: the time loop, masks, directions, stacks and state."""

from deeprnn.layers._sequence import SequenceLayer
from deeprnn.layers.bidirectional import MERGE_MODES, Bidirectional
from deeprnn.layers.norm import MaskedBatchNorm1d
from deeprnn.layers.recurrent import Recurrent
from deeprnn.layers.revin import RevIN
from deeprnn.layers.rnn import GRU, LSTM, MinimalGRU, SimpleRNN, from_torch, to_torch
from deeprnn.layers.stacked import DeepRNN, LayerSpec

__all__ = [
    "GRU",
    "LSTM",
    "MERGE_MODES",
    "Bidirectional",
    "DeepRNN",
    "LayerSpec",
    "MaskedBatchNorm1d",
    "MinimalGRU",
    "Recurrent",
    "RevIN",
    "SequenceLayer",
    "SimpleRNN",
    "from_torch",
    "to_torch",
]
