"""``deeprnn export``: an export folder (safetensors + JSON) or an ONNX file."""

from __future__ import annotations

from deeprnn.cli._common import CLIError, formatter

EXPORT_EPILOG = """\
examples:
  deeprnn export runs/imdb --format onnx --out imdb.onnx
  deeprnn export runs/imdb/checkpoints/last.ckpt --format safetensors --out imdb_model
The ONNX graph takes the task's inputs (x and lengths; words, chars and lengths for tag;
x, lengths and future, the covariates over the horizon, for a forecaster with known covariates) with
dynamic batch and time axes.
"""


def cmd_export(args, extra: list[str]) -> int:
    if extra:
        raise CLIError(f"unexpected arguments {extra}")
    from deeprnn._validation import check_out_file, check_out_folder
    from deeprnn.training import open_run

    out = (check_out_file if args.format == "onnx" else check_out_folder)("--out", args.out)
    saved = open_run(args.model, args.ckpt)
    if args.format == "onnx":
        from deeprnn.export.onnx import export_onnx

        export_onnx(saved.model, out)
    else:
        from deeprnn.export.folder import export_folder

        export_folder(saved.model, out, run=saved.run_config() if saved.config else None)
    print(f"wrote {out}")
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser(
        "export",
        help="write an export folder (safetensors) or an ONNX file",
        epilog=EXPORT_EPILOG,
        formatter_class=formatter,
    )
    p.add_argument("model", metavar="MODEL", help="run folder, .ckpt or export folder")
    p.add_argument("--format", choices=("safetensors", "onnx"), default="safetensors")
    p.add_argument("--out", required=True, help="output folder (safetensors) or .onnx file")
    p.add_argument("--ckpt", help="a checkpoint to use instead of the run's best")
    p.set_defaults(func=cmd_export)
