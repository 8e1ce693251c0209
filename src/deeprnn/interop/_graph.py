"""The graph of a Keras model config: which layer is called on what, in which order
(``{"ref": [layer, call, index]}`` placeholders for Keras tensors), what the inputs are, and the
group each layer's weights have in ``model.weights.h5``."""

from __future__ import annotations

import re

from deeprnn.interop._reader import KerasImportError


def refs_of(a):
    """Keras' serialised call arguments -> ``{"ref": [layer, call, index]}`` placeholders."""
    if isinstance(a, dict) and a.get("class_name") == "__keras_tensor__":
        return {"ref": list(a["config"]["keras_history"])}
    if isinstance(a, list):
        return [refs_of(b) for b in a]
    if isinstance(a, dict):
        return {k: refs_of(v) for k, v in a.items()}
    return a


def graph_of(config: dict) -> tuple[list[dict], list, list]:
    """(calls, input refs, output refs) of a Sequential or functional config."""
    cls, cfg = config.get("class_name"), config.get("config", {})
    layers = cfg.get("layers", [])
    if cls == "Sequential":
        calls, prev = [], ["__input__", 0, 0]
        for layer in layers:
            if layer["class_name"] == "InputLayer":
                continue
            name = layer["config"]["name"]
            calls.append({"layer": name, "args": [{"ref": prev}], "kwargs": {}})
            prev = [name, 0, 0]
        return calls, [["__input__", 0, 0]], [prev]
    if cls not in ("Functional", "Model"):
        raise KerasImportError(f"model {cfg.get('name', '?')!r} ({cls}): only Sequential and "
                               "functional models can be imported")  # fmt: skip
    calls = []
    for layer in layers:
        if layer["class_name"] == "InputLayer":
            continue
        for node in layer.get("inbound_nodes", []):
            kwargs = {k: refs_of(v) for k, v in node.get("kwargs", {}).items()
                      if k in ("initial_state", "return_attention_scores")}  # fmt: skip
            calls.append({"layer": layer["name"], "args": refs_of(node["args"]), "kwargs": kwargs})
    calls = needed_calls(calls, cfg["output_layers"])

    def norm(refs):
        if refs and not isinstance(refs[0], list):
            refs = [refs]
        return [list(r) for r in refs]

    return calls, norm(cfg["input_layers"]), norm(cfg["output_layers"])


def snake_case(name: str) -> str:
    """Keras' ``naming.to_snake_case``."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def weight_groups(layers: list[dict]) -> list[str]:
    """The group of each layer in ``model.weights.h5``: Keras names them by class, not by layer
    name (``lstm``, ``lstm_1``, ... in the model's layer order)."""
    used: dict[str, int] = {}
    names = []
    for layer in layers:
        name = snake_case(layer["class_name"])
        if name in used:
            used[name] += 1
            name = f"{name}_{used[name]}"
        else:
            used[name] = 0
        names.append(name)
    return names


def needed_calls(calls: list[dict], outputs) -> list[dict]:
    """The calls the outputs depend on through their arguments (Keras also records the ops that
    compute a mask, e.g. ``NotEqual``; masks flow here on their own, so those are dropped)."""
    produced = {}
    for i, c in enumerate(calls):
        k = sum(1 for d in calls[:i] if d["layer"] == c["layer"])
        produced[(c["layer"], k)] = i
    keep: set[int] = set()

    def refs(a):
        if isinstance(a, dict) and "ref" in a:
            yield a["ref"]
        elif isinstance(a, list):
            for b in a:
                yield from refs(b)
        elif isinstance(a, dict):
            for b in a.values():
                yield from refs(b)

    todo = [outputs] if outputs and not isinstance(outputs[0], list) else list(outputs)
    todo = [{"ref": r} for r in todo]
    while todo:
        for r in refs(todo.pop()):
            i = produced.get((r[0], r[1]))
            if i is not None and i not in keep:
                keep.add(i)
                todo.append([calls[i]["args"], calls[i]["kwargs"]])
    return [c for i, c in enumerate(calls) if i in keep]


def input_specs(config: dict) -> list[dict]:
    """``[{"name", "shape", "dtype"}]`` per model input: the shape without the batch axis
    (``None`` for a free axis, the whole shape ``None`` when the config does not say) and Keras'
    dtype name, from the ``InputLayer`` configs (or a Sequential's ``build_input_shape``)."""
    cfg = config.get("config", {})
    layers = {
        (layer.get("name") or layer.get("config", {}).get("name")): layer
        for layer in cfg.get("layers", [])
        if layer.get("class_name") == "InputLayer"
    }

    def spec(layer: dict | None, name: str) -> dict:
        c = (layer or {}).get("config", {})
        shape = c.get("batch_shape") or c.get("batch_input_shape")
        if shape is None and config.get("class_name") == "Sequential":
            shape = cfg.get("build_input_shape")
        shape = None if shape is None else list(shape)[1:]
        return {"name": name, "shape": shape, "dtype": c.get("dtype", "float32")}

    if config.get("class_name") == "Sequential":
        layer = next(iter(layers.values()), None)
        return [spec(layer, (layer or {}).get("config", {}).get("name", "input"))]
    refs = cfg.get("input_layers", [])
    if refs and not isinstance(refs[0], list):
        refs = [refs]
    return [spec(layers.get(r[0]), r[0]) for r in refs]
