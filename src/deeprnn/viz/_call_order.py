"""Blocks of an architecture diagram in the order a model calls their modules (forward hooks
on one run of an example input), for models that declare layers in another order."""

from __future__ import annotations

from torch import nn


def in_call_order(model: nn.Module, blocks: list, example) -> list:
    """``blocks`` sorted by when their modules are first called while ``example`` runs."""
    import torch

    if not (isinstance(example, tuple | dict) or callable(example)):
        raise TypeError(
            "example must be a tuple of inputs, a dict of keyword inputs or a function of no "
            f"argument, got {type(example).__name__}"
        )
    first: dict[str, int] = {}
    handles = []
    for name, module in model.named_modules():

        def hook(_module, _args, name=name):
            first.setdefault(name, len(first))

        handles.append(module.register_forward_pre_hook(hook))
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            if isinstance(example, tuple):
                model(*example)
            elif isinstance(example, dict):
                model(**example)
            else:
                example()
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    keys, last = [], -1.0
    for i, b in enumerate(blocks):  # a block not called sorts right after its predecessor
        key = first.get(b.name)
        last = float(key) if key is not None else last + 1e-6
        keys.append((last, i))
    return [blocks[i] for _, i in sorted(keys)]
