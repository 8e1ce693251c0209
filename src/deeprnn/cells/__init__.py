"""Recurrent cells: each computes one time step, ``cell(x_t, state) -> (h_t, new_state)``."""

from deeprnn.cells._base import ACTIVATIONS, RecurrentCell
from deeprnn.cells.gru import GRUCell, LayerNormGRUCell, MinimalGRUCell
from deeprnn.cells.lstm import LayerNormLSTMCell, LSTMCell
from deeprnn.cells.parallel import LRUCell, LRUState, MinGRUCell, MinLSTMCell, ParallelCell
from deeprnn.cells.rnn import SimpleRNNCell

#: cell names accepted by layers and ``DeepRNN`` specs -> (cell class, layer-norm class)
CELLS: dict[str, tuple[type[RecurrentCell], type[RecurrentCell] | None]] = {
    "rnn": (SimpleRNNCell, None),
    "lstm": (LSTMCell, LayerNormLSTMCell),
    "gru": (GRUCell, LayerNormGRUCell),
    "minimal_gru": (MinimalGRUCell, None),
    "mingru": (MinGRUCell, None),
    "minlstm": (MinLSTMCell, None),
    "lru": (LRUCell, None),
}

__all__ = [
    "ACTIVATIONS",
    "CELLS",
    "GRUCell",
    "LRUCell",
    "LRUState",
    "LSTMCell",
    "LayerNormGRUCell",
    "LayerNormLSTMCell",
    "MinGRUCell",
    "MinLSTMCell",
    "MinimalGRUCell",
    "ParallelCell",
    "RecurrentCell",
    "SimpleRNNCell",
]
