"""Keras 3 models -> deeprnn: :func:`keras_import` reads a ``.keras`` file (or a
``.weights.h5`` with its config) without Keras and builds a :class:`KerasModel`, a plain
``nn.Module`` that runs the mapped modules in the order of the Keras graph, with masks flowing
as in Keras (see :mod:`deeprnn.layers.masking`).

Weight layouts (Keras -> deeprnn, whose cells keep torch's layout, ``weight_ih`` (G·H, I)):

* LSTM: ``kernel`` (I, 4H), ``recurrent_kernel`` (H, 4H), gates i, f, c, o = torch's i, f, g, o:
  transposed; ``bias`` (4H,) is the cell's one bias.
* GRU: gates z, r, h -> torch's r, z, n (blocks reordered, then transposed). ``reset_after=True``:
  ``bias`` (2, 3H) -> ``bias_ih``, ``bias_hh``; ``reset_after=False``: (3H,) -> ``bias``.
* SimpleRNN: ``kernel`` (I, H), ``recurrent_kernel`` (H, H), ``bias`` (H,).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from deeprnn._config import ConfigMixin, register, registered_classes
from deeprnn.interop import _modules as M
from deeprnn.interop._graph import graph_of, input_specs, weight_groups
from deeprnn.interop._reader import KerasImportError, read_config, read_keras_file, read_weights
from deeprnn.interop._recurrent import KerasAttention, KerasRecurrent, keras_call
from deeprnn.layers import Embedding, Masking, attach_mask

RNN_CLASSES = {"LSTM": "lstm", "GRU": "gru", "SimpleRNN": "simple_rnn"}
CELL_CLASSES = {"LSTMCell": "lstm", "GRUCell": "gru", "SimpleRNNCell": "simple_rnn"}
RNN_ACTIVATIONS = {"tanh": "tanh", "relu": "relu", "sigmoid": "sigmoid", "linear": "identity"}


def _fail(name: str, cls: str, why: str) -> KerasImportError:
    return KerasImportError(f"layer {name!r} ({cls}): {why}")


# -- the container -----------------------------------------------------------------------------
@register
class KerasModel(ConfigMixin, nn.Module):
    """The deeprnn image of a Keras ``Sequential`` or functional model.

    ``self.layers_`` holds one module per Keras layer (by the Keras name); ``graph`` lists the
    calls in order: ``{"layer": name, "args": [...], "kwargs": {...}}`` where a Keras tensor is
    ``{"ref": [layer, call, index]}``. Call it with the model's inputs (token ids or (N, T, I)
    features); it returns the output, or a list for several outputs. Each output carries its
    Keras mask (``deeprnn.get_mask``).
    """

    def __init__(
        self,
        layers: list[dict],
        graph: list[dict],
        inputs: list,
        outputs: list,
        input_specs: list[dict] | None = None,
    ):
        super().__init__()
        # per input: {"name", "shape" (without the batch axis, None = free), "dtype"}; the
        # dtype is "int64" where the input feeds an embedding (token ids)
        self.input_specs = input_specs
        known = registered_classes()
        self.layers_ = nn.ModuleDict()
        self.layer_specs = [dict(s) for s in layers]
        for spec in layers:
            cls = known.get(spec["class"])
            if cls is None:
                raise ValueError(f"unknown deeprnn class {spec['class']!r} for {spec['name']!r}")
            self.layers_[spec["name"]] = cls.from_config(spec["config"])
        self.graph, self.inputs, self.outputs = graph, inputs, outputs

    def forward(self, *inputs: Tensor):
        if len(inputs) != len(self.inputs):
            raise ValueError(f"the model takes {len(self.inputs)} inputs, got {len(inputs)}")
        values: dict[tuple, Tensor] = {}
        masks: dict[tuple, Tensor | None] = {}
        for ref, x in zip(self.inputs, inputs):
            values[tuple(ref)], masks[tuple(ref)] = x, None
        calls: dict[str, int] = {}

        def resolve(a, table):
            if isinstance(a, dict) and "ref" in a:
                return table[tuple(a["ref"])]
            if isinstance(a, list):
                return [resolve(b, table) for b in a]
            if isinstance(a, dict):
                return {k: resolve(v, table) for k, v in a.items()}
            return a

        for node in self.graph:
            name = node["layer"]
            args, kwargs = resolve(node["args"], values), resolve(node["kwargs"], values)
            arg_masks = resolve(node["args"], masks)
            outs, out_masks = keras_call(self.layers_[name], args, arg_masks, kwargs)
            k = calls.get(name, 0)
            calls[name] = k + 1
            for i, (o, m) in enumerate(zip(outs, out_masks)):
                values[(name, k, i)], masks[(name, k, i)] = o, m
        result = []
        for ref in self.outputs:
            y, m = values[tuple(ref)], masks[tuple(ref)]
            result.append(attach_mask(y, m) if m is not None and isinstance(y, Tensor) else y)
        return result[0] if len(result) == 1 else result

    def reset_states(self) -> None:
        """Forget the carried states of every stateful recurrent layer."""
        for m in self.modules():
            if isinstance(m, KerasRecurrent):
                m.rnn.reset_states()

    def get_config(self) -> dict[str, Any]:
        layers = []
        for spec in self.layer_specs:
            module = self.layers_[spec["name"]]
            layers.append({**spec, "config": module.get_config()})
        return {"layers": layers, "graph": self.graph, "inputs": self.inputs,
                "outputs": self.outputs, "input_specs": self.input_specs}  # fmt: skip


# -- weights -----------------------------------------------------------------------------------
def _vars(weights: dict[str, np.ndarray], prefix: str = "") -> list[np.ndarray]:
    """The arrays under ``prefix`` + ``vars/<i>``, in index order."""
    found = []
    for path, arr in weights.items():
        head, _, idx = path.rpartition("/")
        if head == f"{prefix}vars" and idx.isdigit():
            found.append((int(idx), arr))
    return [a for _, a in sorted(found, key=lambda p: p[0])]


def _gru_order(a: np.ndarray, H: int) -> np.ndarray:
    """Keras' gate blocks z, r, h -> torch's r, z, n along the last axis."""
    return np.concatenate([a[..., H : 2 * H], a[..., :H], a[..., 2 * H :]], axis=-1)


def _copy(param: Tensor, value: np.ndarray, where: str) -> None:
    value = torch.as_tensor(np.ascontiguousarray(value), dtype=param.dtype)
    if value.numel() == param.numel() == 1:
        value = value.reshape(param.shape)  # Keras' scalar weights are (1,)
    if tuple(value.shape) != tuple(param.shape):
        raise ValueError(
            f"{where}: weight shape {tuple(value.shape)} does not fit {tuple(param.shape)}"
        )
    with torch.no_grad():
        param.copy_(value)


def _load_cell(cell, kind: str, arrays: list[np.ndarray], where: str) -> None:
    kernel, recurrent, *rest = arrays
    H = recurrent.shape[0]
    if kind == "gru":
        kernel, recurrent = _gru_order(kernel, H), _gru_order(recurrent, H)
        rest = [_gru_order(b, H) for b in rest]
    _copy(cell.weight_ih, kernel.T, where)
    _copy(cell.weight_hh, recurrent.T, where)
    if not rest:
        return
    (bias,) = rest
    if kind == "gru" and bias.ndim == 2:  # reset_after: (2, 3H) = input and recurrent biases
        _copy(cell.bias_ih, bias[0], where)
        _copy(cell.bias_hh, bias[1], where)
    else:
        _copy(cell.bias, bias, where)


# -- layer by layer ----------------------------------------------------------------------------
def _rnn_options(name: str, cls: str, cfg: dict, cell_cfg: dict, kind: str) -> dict[str, Any]:
    activation = cell_cfg.get("activation", "tanh")
    if kind == "simple_rnn":
        if activation not in RNN_ACTIVATIONS:
            raise _fail(name, cls, f"activation {activation!r} has no deeprnn equivalent")
    elif activation != "tanh":
        raise _fail(name, cls, f"activation {activation!r} (deeprnn's {kind} uses tanh)")
    if kind != "simple_rnn" and cell_cfg.get("recurrent_activation", "sigmoid") != "sigmoid":
        raise _fail(name, cls, f"recurrent_activation {cell_cfg['recurrent_activation']!r}")
    if cfg.get("time_major"):
        raise _fail(name, cls, "time_major=True")
    opts: dict[str, Any] = {
        "bias": bool(cell_cfg.get("use_bias", True)),
        "return_sequences": bool(cfg.get("return_sequences", False)),
        "go_backwards": bool(cfg.get("go_backwards", False)),
        "stateful": bool(cfg.get("stateful", False)),
        "input_dropout": float(cell_cfg.get("dropout", 0.0)),
        "recurrent_dropout": float(cell_cfg.get("recurrent_dropout", 0.0)),
        "masked_output": "zero" if cfg.get("zero_output_for_mask") else "carry",
    }
    if kind == "simple_rnn":
        opts["activation"] = RNN_ACTIVATIONS[activation]
    if kind == "gru":
        opts["reset_after"] = bool(cell_cfg.get("reset_after", True))
    return opts


def _split_rnn(layer: dict) -> tuple[str, dict, dict, str]:
    """(kind, layer config, cell config, weights prefix) of an LSTM/GRU/SimpleRNN/RNN(cell)."""
    cls, cfg = layer["class_name"], layer["config"]
    if cls in RNN_CLASSES:
        return RNN_CLASSES[cls], cfg, cfg, "cell/"
    cell = cfg.get("cell") or {}
    cell_cls = cell.get("class_name") if isinstance(cell, dict) else None
    if cell_cls not in CELL_CLASSES:
        raise _fail(cfg.get("name", "?"), cls, f"cell {cell_cls!r} has no deeprnn equivalent")
    return CELL_CLASSES[cell_cls], cfg, cell.get("config", {}), "cell/"


def _map_rnn(name, cls, layer, weights, bidi_cfg=None):
    kind, cfg, cell_cfg, prefix = _split_rnn(layer)
    opts = _rnn_options(name, cls, cfg, cell_cfg, kind)
    return_state = bool(cfg.get("return_state", False))
    if bidi_cfg is not None:
        if opts["go_backwards"]:
            raise _fail(name, cls, "a go_backwards layer inside Bidirectional")
        back = bidi_cfg.get("backward_layer")
        if back is not None and not _mirrors(layer, back):
            raise _fail(name, cls, "a backward_layer that is not a copy of the forward layer")
        opts["bidirectional"] = True
        opts["merge_mode"] = bidi_cfg.get("merge_mode", "concat")
        arrays = [_vars(weights, f"forward_layer/{prefix}"),
                  _vars(weights, f"backward_layer/{prefix}")]  # fmt: skip
    else:
        arrays = [_vars(weights, prefix)]
    if not arrays[0]:
        raise _fail(name, cls, "no weights found for this layer")
    input_size, units = arrays[0][0].shape[0], arrays[0][1].shape[0]
    module = KerasRecurrent(kind, int(input_size), int(units), return_state, opts)
    for cell, arr in zip(module.rnn._cells(), arrays):
        _load_cell(cell, kind, arr, f"layer {name!r}")
    return module


def _mirrors(forward: dict, backward: dict) -> bool:
    """Whether Keras' serialised backward layer is the forward one with go_backwards flipped."""
    skip = {"name", "go_backwards", "seed", "shared_object_id", "trainable"}

    def clean(c):
        return {k: v for k, v in c.get("config", {}).items() if k not in skip
                and not k.endswith("_initializer")}  # fmt: skip

    fwd, bwd = clean(forward), clean(backward)
    if "cell" in fwd:
        fwd["cell"], bwd["cell"] = clean(fwd["cell"]), clean(bwd.get("cell", {}))
    return forward.get("class_name") == backward.get("class_name") and fwd == bwd


def _map_layer(layer: dict, weights: dict[str, np.ndarray]) -> nn.Module:
    cls, cfg = layer.get("class_name"), layer.get("config", {})
    name = cfg.get("name", "?")
    if cls in RNN_CLASSES or cls == "RNN":
        return _map_rnn(name, cls, layer, weights)
    if cls == "Bidirectional":
        inner = cfg["layer"]
        if inner.get("class_name") not in (*RNN_CLASSES, "RNN"):
            raise _fail(name, cls, f"wraps a {inner.get('class_name')}")
        return _map_rnn(name, cls, inner, weights, bidi_cfg=cfg)
    if cls == "Dense" or (cls == "TimeDistributed" and cfg["layer"]["class_name"] == "Dense"):
        prefix = "layer/" if cls == "TimeDistributed" else ""
        dense = cfg["layer"]["config"] if prefix else cfg
        arrays = _vars(weights, prefix)
        kernel = arrays[0]
        module = M.KerasDense(kernel.shape[0], kernel.shape[1], _act(name, cls, dense),
                              bool(dense.get("use_bias", True)))  # fmt: skip
        _copy(module.linear.weight, kernel.T, f"layer {name!r}")
        if module.linear.bias is not None:
            _copy(module.linear.bias, arrays[1], f"layer {name!r}")
        return module
    if cls == "Embedding":
        (table,) = _vars(weights)
        module = Embedding(table.shape[0], table.shape[1], mask_zero=bool(cfg.get("mask_zero")))
        _copy(module.weight, table, f"layer {name!r}")
        return module
    if cls == "Masking":
        return Masking(float(cfg.get("mask_value", 0.0)))
    if cls in ("Dropout", "SpatialDropout1D"):
        return M.KerasDropout(float(cfg.get("rate", 0.0)), spatial=cls == "SpatialDropout1D")
    if cls in ("GaussianNoise", "GaussianDropout", "ActivityRegularization"):
        return M.KerasActivation("linear")  # training-only layers: identity at inference
    if cls == "Activation":
        return M.KerasActivation(_act(name, cls, cfg))
    if cls == "ReLU" and not cfg.get("max_value") and not cfg.get("negative_slope"):
        return M.KerasActivation("relu")
    if cls == "Flatten":
        return M.KerasFlatten()
    if cls == "RepeatVector":
        return M.KerasRepeatVector(int(cfg["n"]))
    if cls == "Conv1D":
        _channels_last(name, cls, cfg)
        arrays = _vars(weights)
        kernel = arrays[0]  # (k, I / groups, F)
        groups = int(cfg.get("groups", 1))
        module = M.KerasConv1D(
            kernel.shape[1] * groups, kernel.shape[2], kernel.shape[0], _one(cfg["strides"]),
            cfg.get("padding", "valid"), _one(cfg.get("dilation_rate", 1)), groups,
            _act(name, cls, cfg), bool(cfg.get("use_bias", True)),
        )  # fmt: skip
        _copy(module.conv.weight, kernel.transpose(2, 1, 0), f"layer {name!r}")  # (F, I, k)
        if module.conv.bias is not None:
            _copy(module.conv.bias, arrays[1], f"layer {name!r}")
        return module
    if cls in ("MaxPooling1D", "AveragePooling1D"):
        _channels_last(name, cls, cfg)
        kind = "max" if cls.startswith("Max") else "average"
        return M.KerasPooling1D(kind, _one(cfg["pool_size"]), _one(cfg.get("strides")),
                                cfg.get("padding", "valid"))  # fmt: skip
    if cls in ("GlobalMaxPooling1D", "GlobalAveragePooling1D"):
        _channels_last(name, cls, cfg)
        kind = "max" if "Max" in cls else "average"
        return M.KerasGlobalPooling1D(kind, bool(cfg.get("keepdims", False)))
    merges = {"Add": "add", "Subtract": "subtract", "Multiply": "multiply", "Average": "average",
              "Maximum": "maximum", "Minimum": "minimum", "Concatenate": "concatenate"}  # fmt: skip
    if cls in merges:
        return M.KerasMerge(merges[cls], int(cfg.get("axis", -1)))
    if cls in ("Attention", "AdditiveAttention"):
        return _map_attention(name, cls, cfg, weights)
    if cls == "Lambda":
        raise _fail(name, cls, "Lambda layers hold Python code, which is never executed")
    raise _fail(name, cls, "no deeprnn equivalent")


def _map_attention(name, cls, cfg, weights):
    if cfg.get("use_causal_mask"):
        raise _fail(name, cls, "use_causal_mask=True")
    arrays = _vars(weights)
    dropout = float(cfg.get("dropout", 0.0))
    use_scale = bool(cfg.get("use_scale", cls == "AdditiveAttention"))
    if cls == "Attention":
        attn = {"use_scale": use_scale, "score_mode": cfg.get("score_mode", "dot"),
                "dropout": dropout}  # fmt: skip
        module = KerasAttention("dot", attn)
        params = [p for p in (module.attention.scale, module.attention.concat_score_weight)
                  if p is not None]  # fmt: skip
    else:
        size = int(arrays[0].shape[0]) if use_scale else None
        module = KerasAttention("additive", {"size": size, "use_scale": use_scale,
                                             "dropout": dropout})  # fmt: skip
        params = [module.attention.scale] if use_scale else []
    if len(params) != len(arrays):
        raise _fail(name, cls, f"expected {len(params)} weights, found {len(arrays)}")
    for p, a in zip(params, arrays):
        _copy(p, a, f"layer {name!r}")
    return module


def _act(name, cls, cfg) -> str:
    act = cfg.get("activation", "linear")
    if isinstance(act, dict):
        raise _fail(name, cls, f"a custom activation {act.get('class_name')!r}")
    if act not in M.ACTIVATIONS:
        raise _fail(name, cls, f"activation {act!r} has no deeprnn equivalent")
    return act


def _one(v):
    return v[0] if isinstance(v, (list, tuple)) else v


def _channels_last(name, cls, cfg):
    if cfg.get("data_format", "channels_last") != "channels_last":
        raise _fail(name, cls, f"data_format={cfg.get('data_format')!r} (only channels_last)")


def from_keras_config(config, weights=None) -> KerasModel:
    """Build the :class:`KerasModel` for a Keras model ``config`` (a dict, JSON string or JSON
    file) and ``weights`` (a ``.weights.h5`` path or the dict :func:`read_weights` returns)."""
    config = read_config(config)
    if isinstance(weights, (str, os.PathLike)):
        weights = read_weights(str(weights))
    weights = weights or {}
    calls, inputs, outputs = graph_of(config)
    called = {c["layer"] for c in calls}
    specs, modules = [], {}
    layers = config.get("config", {}).get("layers", [])
    for layer, stored in zip(layers, weight_groups(layers)):
        if layer["class_name"] == "InputLayer":
            continue
        name = layer.get("config", {}).get("name") or layer.get("name")
        if name not in called:
            continue
        module = _map_layer(layer, weights.get(stored, {}))
        modules[name] = module
        specs.append({"name": name, "class": type(module).__name__,
                      "config": module.get_config(), "keras_class": layer["class_name"]})  # fmt: skip
    specs_in = input_specs(config)
    for ref, spec in zip(inputs, specs_in):
        fed = [modules.get(c["layer"]) for c in calls if {"ref": ref} in c["args"]]
        if spec["dtype"].startswith(("int", "uint")) or any(
            isinstance(m, (Embedding, nn.Embedding)) for m in fed
        ):
            spec["dtype"] = "int64"
    model = KerasModel(specs, calls, inputs, outputs, specs_in)
    model.load_state_dict({f"layers_.{n}.{k}": v for n, m in modules.items()
                           for k, v in m.state_dict().items()})  # fmt: skip
    return model.eval()


def keras_import(path: str | os.PathLike, config=None) -> KerasModel:
    """Load a Keras 3 model into deeprnn, without Keras.

    Args:
        path: a ``.keras`` file, or a ``.weights.h5`` file (then pass ``config``: the model's
            ``model.get_config()`` dict with ``class_name``, a ``model.to_json()`` string, or a
            JSON file holding it).

    Returns a :class:`KerasModel` in eval mode. Nothing is unpickled and no Lambda code runs: a
    layer that cannot be mapped is a ``ValueError`` naming the layer and its class.
    """
    path = Path(path)
    if path.name.endswith(".weights.h5"):
        if config is None:
            raise ValueError(f"{path}: a .weights.h5 file needs config= (the model's config)")
        if not path.is_file():
            raise FileNotFoundError(f"Keras weights file not found: {path}")
        return from_keras_config(config, read_weights(str(path)))
    cfg, weights = read_keras_file(path)
    return from_keras_config(cfg if config is None else config, weights)


from_keras = keras_import
