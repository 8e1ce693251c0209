"""One registry of module configurations; generic suites in tests/layers run over it.

A ``Case`` names a factory and the facts the suites need: whether the NumPy reference covers it
(plain cells, merges it can undo, no stochastic or between-layer extras) and whether torch.nn
has an equivalent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import deeprnn
from deeprnn.cells import (
    GRUCell,
    LayerNormGRUCell,
    LayerNormLSTMCell,
    LRUCell,
    LSTMCell,
    MinGRUCell,
    MinimalGRUCell,
    MinLSTMCell,
    SimpleRNNCell,
)

I, H = 3, 4  # small sizes keep float64 gradcheck fast


@dataclass
class CellCase:
    id: str
    cls: type
    kwargs: dict[str, Any] = field(default_factory=dict)
    ref_kind: str | None = None  # deeprnn.reference kind, None when not covered
    activation: str = "tanh"

    def make(self, input_size: int = I, hidden_size: int = H):
        return self.cls(input_size, hidden_size, **self.kwargs)


CELLS = [
    CellCase("rnn_tanh", SimpleRNNCell, {}, "rnn"),
    *[
        CellCase(f"rnn_{a}", SimpleRNNCell, {"activation": a}, "rnn", a)
        for a in ("relu", "leaky_relu", "sigmoid", "identity")
    ],
    CellCase("lstm", LSTMCell, {}, "lstm"),
    CellCase("lstm_nobias", LSTMCell, {"bias": False}, None),
    CellCase("gru", GRUCell, {}, "gru"),
    CellCase("gru_v1", GRUCell, {"reset_after": False}, "gru_v1"),
    CellCase("minimal_gru", MinimalGRUCell, {}, "minimal_gru"),
    CellCase("mingru", MinGRUCell, {}, "mingru"),
    CellCase("mingru_identity", MinGRUCell, {"candidate": "identity"}, None),
    CellCase("minlstm", MinLSTMCell, {}, "minlstm"),
    CellCase("lru", LRUCell, {"r_min": 0.5}, "lru"),
    CellCase("ln_lstm", LayerNormLSTMCell, {}, None),
    CellCase("ln_gru", LayerNormGRUCell, {}, None),
]


@dataclass
class LayerCase:
    id: str
    factory: Any  # (input_size) -> module
    reference: bool = True  # deeprnn.reference can reproduce it (eval mode)
    torch_equivalent: bool = False
    deterministic: bool = True  # same output twice in train mode

    def make(self, input_size: int = I, **overrides):
        return self.factory(input_size, **overrides)


def _deep(layers, **kw):
    return lambda i, **o: deeprnn.DeepRNN(i, layers=layers, **{**kw, **o})


LAYERS = [
    LayerCase("lstm", lambda i, **o: deeprnn.LSTM(i, H, **o), torch_equivalent=True),
    LayerCase("gru", lambda i, **o: deeprnn.GRU(i, H, **o), torch_equivalent=True),
    LayerCase(
        "rnn_relu",
        lambda i, **o: deeprnn.SimpleRNN(i, H, activation="relu", **o),
        torch_equivalent=True,
    ),
    LayerCase("gru_v1", lambda i, **o: deeprnn.GRU(i, H, reset_after=False, **o)),
    LayerCase("minimal_gru", lambda i, **o: deeprnn.MinimalGRU(i, H, **o)),
    LayerCase("lstm_backwards", lambda i, **o: deeprnn.LSTM(i, H, go_backwards=True, **o)),
    LayerCase(
        "bilstm_2",
        lambda i, **o: deeprnn.LSTM(i, H, 2, bidirectional=True, **o),
        torch_equivalent=True,
    ),
    LayerCase(
        "bigru_2",
        lambda i, **o: deeprnn.GRU(i, H, 2, bidirectional=True, **o),
        torch_equivalent=True,
    ),
    LayerCase(
        "birnn_sum",
        lambda i, **o: deeprnn.SimpleRNN(i, H, bidirectional=True, merge_mode="sum", **o),
    ),
    LayerCase(
        "mixed_stack",
        _deep(
            [
                dict(cell="lstm", hidden_size=5, bidirectional=True),
                dict(cell="gru", hidden_size=4),
                dict(cell="rnn", hidden_size=3),
            ]
        ),
    ),
    # the linear recurrences (issue 30): compiled scan (auto), parallel scan, the paper's stack
    LayerCase("mingru", lambda i, **o: deeprnn.MinGRU(i, H, **o)),
    LayerCase("minlstm_bi_2", lambda i, **o: deeprnn.MinLSTM(i, H, 2, bidirectional=True, **o)),
    LayerCase("lru_backwards", lambda i, **o: deeprnn.LRU(i, H, go_backwards=True, **o)),
    LayerCase(
        "lru_2_parallel",
        lambda i, **o: deeprnn.LRU(i, H, 2, r_min=0.3, **{"impl": "parallel", **o}),
    ),
    LayerCase(
        "mingru_identity_parallel",
        lambda i, **o: deeprnn.MinGRU(i, H, candidate="identity", **{"impl": "parallel", **o}),
    ),
    LayerCase(
        "mixed_linear_stack",
        _deep([dict(cell="mingru", hidden_size=5), dict(cell="lru", hidden_size=4)]),
    ),
    LayerCase(
        "minlstm_paper_stack",
        lambda i, **o: deeprnn.MinLSTM(i, H, 3, residual=True, norm="layer", **o),
        reference=False,
    ),
    LayerCase(  # with the papers' position-wise feed-forward block after every layer
        "mingru_ffn_stack",
        lambda i, **o: deeprnn.MinGRU(
            i, H, 2, residual=True, norm="layer", dim_feedforward=2 * H, **o
        ),
        reference=False,
    ),
    LayerCase(
        "ln_lstm_2", lambda i, **o: deeprnn.LSTM(i, H, 2, layer_norm=True, **o), reference=False
    ),
    LayerCase(
        "ln_gru",
        lambda i, **o: deeprnn.GRU(i, H, layer_norm=True, bidirectional=True, **o),
        reference=False,
    ),
    LayerCase(
        "residual", lambda i, **o: deeprnn.LSTM(i, H, 3, residual=True, **o), reference=False
    ),
    LayerCase("highway_proj", _deep([4, 6, 5], cell="gru", highway=True), reference=False),
    LayerCase("batchnorm", lambda i, **o: deeprnn.GRU(i, H, 2, norm="batch", **o), reference=False),
    LayerCase(
        "layernorm_between",
        lambda i, **o: deeprnn.LSTM(i, H, 2, norm="layer", **o),
        reference=False,
    ),
    LayerCase(
        "rec_dropout",
        lambda i, **o: deeprnn.LSTM(i, H, 2, recurrent_dropout=0.3, **o),
        deterministic=False,
    ),
    LayerCase(
        "zoneout",
        lambda i, **o: deeprnn.GRU(i, H, zoneout=0.2, **o),
        reference=False,
        deterministic=False,
    ),
    LayerCase(
        "dropout_between",
        lambda i, **o: deeprnn.GRU(i, H, 2, dropout=0.4, **o),
        deterministic=False,
    ),
]

CELL_IDS = [c.id for c in CELLS]
LAYER_IDS = [c.id for c in LAYERS]
