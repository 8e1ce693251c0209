"""deeprnn -> Keras for the layers where the mapping is exact: plain ``LSTM`` / ``GRU`` /
``SimpleRNN`` stacks (any number of layers, bidirectional with any merge mode). Imports Keras,
so only when called."""

from __future__ import annotations

import numpy as np

ACTIVATIONS = {"tanh": "tanh", "relu": "relu", "sigmoid": "sigmoid", "identity": "linear"}


def _gru_from_torch(a: np.ndarray, H: int) -> np.ndarray:
    """torch's gate blocks r, z, n -> Keras' z, r, h along the last axis."""
    return np.concatenate([a[..., H : 2 * H], a[..., :H], a[..., 2 * H :]], axis=-1)


def _problems(layer, cfg: dict) -> list[str]:
    from deeprnn.layers import GRU, LSTM, SimpleRNN

    problems = []
    if type(layer) not in (LSTM, GRU, SimpleRNN):
        return [f"class {type(layer).__name__} (only LSTM, GRU and SimpleRNN)"]
    if cfg.get("activation", "tanh") not in ACTIVATIONS:
        problems.append(f"activation={cfg['activation']!r}")
    for key in ("layer_norm", "residual", "highway", "norm", "zoneout", "go_backwards",
                "output_dropout", "dropout", "learn_initial_state", "checkpoint_steps"):  # fmt: skip
        if cfg.get(key):
            problems.append(f"{key}={cfg[key]!r}")
    if not cfg.get("batch_first", True):
        problems.append("batch_first=False")
    return problems


def to_keras(layer):
    """A ``keras.Sequential`` equal to the deeprnn ``LSTM`` / ``GRU`` / ``SimpleRNN`` ``layer``
    (weights copied; one Keras layer per deeprnn layer, ``Bidirectional`` where bidirectional).

    The Keras model returns the output only (no states); ``masked_output="zero"`` maps to
    Keras' ``zero_output_for_mask=True`` on layers that return sequences. Options with no exact Keras equivalent (layer norm,
    residual / highway connections, zoneout, ``go_backwards``, dropout between layers, ...) are
    a ``ValueError`` listing them.
    """
    from deeprnn._validation import require

    keras = require("keras", "to_keras (a Keras model from a deeprnn layer)")
    cfg = layer.get_config() if hasattr(layer, "get_config") else {}
    problems = _problems(layer, cfg)
    if problems:
        raise ValueError(
            f"to_keras has no exact Keras equivalent of a layer with {', '.join(problems)}"
        )
    kind = {"LSTM": "LSTM", "GRU": "GRU", "SimpleRNN": "SimpleRNN"}[type(layer).__name__]
    H, n = cfg["hidden_size"], cfg["num_layers"]
    model = keras.Sequential([keras.Input((None, cfg["input_size"]))])
    for i in range(n):
        sequences = cfg["return_sequences"] or i < n - 1
        kwargs = dict(
            use_bias=cfg["bias"],
            return_sequences=sequences,
            dropout=cfg.get("input_dropout", 0.0),
            recurrent_dropout=cfg.get("recurrent_dropout", 0.0),
            stateful=cfg.get("stateful", False),
            # a last-step output is each row's last real one either way in deeprnn; in Keras
            # only without zero_output_for_mask (with it, a post-padded row's last output is 0)
            zero_output_for_mask=sequences and cfg.get("masked_output", "zero") == "zero",
        )
        if kind == "SimpleRNN":
            kwargs["activation"] = ACTIVATIONS[cfg.get("activation", "tanh")]
        if kind == "GRU":
            kwargs["reset_after"] = cfg.get("reset_after", True)
        rnn = getattr(keras.layers, kind)(H, **kwargs)
        if cfg["bidirectional"]:
            rnn = keras.layers.Bidirectional(rnn, merge_mode=cfg["merge_mode"])
        model.add(rnn)
    cells = layer._cells()
    d = 2 if cfg["bidirectional"] else 1
    for i, klayer in enumerate(model.layers):
        targets = [klayer.forward_layer, klayer.backward_layer] if d == 2 else [klayer]
        for target, cell in zip(targets, cells[i * d : (i + 1) * d]):
            target.cell.set_weights(_keras_weights(cell, kind))
    return model


def _keras_weights(cell, kind: str) -> list[np.ndarray]:
    H = cell.hidden_size
    w_ih = cell.weight_ih.detach().cpu().numpy().T  # (I, G*H)
    w_hh = cell.weight_hh.detach().cpu().numpy().T  # (H, G*H)
    biases = []
    if kind == "GRU" and getattr(cell, "bias_ih", None) is not None:
        biases = [np.stack([cell.bias_ih.detach().cpu().numpy(),
                            cell.bias_hh.detach().cpu().numpy()])]  # (2, 3H)  # fmt: skip
    elif getattr(cell, "bias", None) is not None:
        biases = [cell.bias.detach().cpu().numpy()]
    if kind == "GRU":
        w_ih, w_hh = _gru_from_torch(w_ih, H), _gru_from_torch(w_hh, H)
        biases = [_gru_from_torch(b, H) for b in biases]
    return [w_ih, w_hh, *biases]
