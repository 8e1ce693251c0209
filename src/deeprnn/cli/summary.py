"""``deeprnn summary``: the Keras-style table of a model's layers and parameters."""

from __future__ import annotations

from deeprnn.cli._common import TASK_HELP, CLIError, formatter, load_run, parse_overrides

SUMMARY_EPILOG = """\
examples:
  deeprnn summary runs/imdb/model          # an export folder, run folder or .ckpt
  deeprnn summary -c examples/tag_conll.yaml   # builds the model the config describes
"""


def cmd_summary(args, extra: list[str]) -> int:
    from deeprnn.export.onnx import task_wrapper
    from deeprnn.summary import summary

    if args.model:
        from deeprnn.training import open_run

        model = open_run(args.model).model
    elif args.config or extra:
        from deeprnn.training import build_datamodule, build_model

        run = load_run(args.config, parse_overrides(extra), task=args.task)
        dm = build_datamodule(run).prepare()
        model = build_model(run, dm.artifacts)
    else:
        raise CLIError("give MODEL (a run/export folder or .ckpt) or -c CONFIG")
    wrapper = task_wrapper(model)
    summary(wrapper, input_data=tuple(model.example_input().values()))
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser(
        "summary",
        help="Keras-style table of a model's layers and parameters",
        epilog=SUMMARY_EPILOG,
        formatter_class=formatter,
    )
    p.add_argument("model", nargs="?", metavar="MODEL", help="run folder, .ckpt or export folder")
    p.add_argument("-c", "--config", help="YAML run config (builds the model)")
    p.add_argument("--task", help=TASK_HELP)
    p.set_defaults(func=cmd_summary, accepts_overrides=True)
