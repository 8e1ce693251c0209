"""``deeprnn import MODEL.keras --out DIR``: a Keras 3 model as a deeprnn folder
(``config.json`` + ``model.safetensors``, the ``save_pretrained`` format) that
``deeprnn.load_pretrained(DIR)`` rebuilds after ``import deeprnn.interop``. Keras itself is not
needed: the file is read with json and h5py, nothing is unpickled or executed."""

from __future__ import annotations

from deeprnn.cli._common import formatter

EPILOG = """\
examples:
  deeprnn import model.keras --out imported/
  deeprnn import model.weights.h5 --config model.json --out imported/

then, in Python:
  import deeprnn, deeprnn.interop
  model = deeprnn.load_pretrained("imported/")
"""


def cmd_import(args, extra: list[str]) -> int:
    from deeprnn._validation import check_out_folder
    from deeprnn.cli._common import CLIError
    from deeprnn.interop import keras_import

    if extra:
        raise CLIError(f"unexpected arguments {extra}")
    check_out_folder("--out", args.out)
    model = keras_import(args.model, config=args.config)
    out = model.save_pretrained(args.out)
    n = sum(p.numel() for p in model.parameters())
    print(f"wrote {out} ({len(model.layers_)} layers, {n:,} parameters)")
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser(
        "import",
        help="convert a Keras 3 .keras model into a deeprnn folder",
        description=__doc__,
        epilog=EPILOG,
        formatter_class=formatter,
    )
    p.add_argument("model", metavar="MODEL", help="a .keras file or a .weights.h5 file")
    p.add_argument("--config", help="the model's JSON config (needed with .weights.h5)")
    p.add_argument("--out", required=True, help="folder to write config.json + model.safetensors")
    p.set_defaults(func=cmd_import)
