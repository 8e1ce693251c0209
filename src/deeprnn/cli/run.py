"""``deeprnn train | evaluate | summary | export``."""

from __future__ import annotations

import json
from pathlib import Path

from deeprnn.cli._common import CLIError, find_model, formatter, load_run, parse_overrides

TRAIN_EPILOG = """\
Every key of the config can be overridden on the command line as --section.key VALUE
(values are read as YAML: 3, 1e-3, true, [64, 32], null). Unknown keys are errors that list
the valid keys and suggest the closest one.

examples:
  deeprnn train -c examples/forecast_sines.yaml
  deeprnn train -c examples/classify_text.yaml --trainer.max_epochs 3 --optim.lr 3e-3
  deeprnn train --task classify --out_dir runs/quick          # defaults: a synthetic task
  deeprnn train --task forecast --print-config > my.yaml        # every key with its default
  deeprnn train -c my.yaml --resume runs/x/checkpoints/last.ckpt
  deeprnn train -c my.yaml --data.folds 10   # 10-fold CV: OUT/fold_{0..9}/ + OUT/summary.json
  deeprnn train -c my.yaml --trainer.accelerator cpu --trainer.devices 2 --trainer.strategy ddp

multi-GPU / multi-node: --trainer.devices 4 --trainer.strategy ddp [--trainer.num_nodes 2],
launched with torchrun or a cluster (SLURM) environment as Lightning documents.
"""


def cmd_train(args, extra: list[str]) -> int:
    from deeprnn.training import dump_yaml, fit, is_rank_zero, to_dict

    run = load_run(args.config, parse_overrides(extra), task=args.task)
    if args.print_config:
        print(dump_yaml(to_dict(run)), end="")
        return 0
    if getattr(run.data, "folds", None) is not None and getattr(run.data, "fold", None) is None:
        return _train_folds(run, args)
    result = fit(run, resume=args.resume)
    if is_rank_zero():
        shown = {k: v for k, v in result.metrics.items() if isinstance(v, (int, float))}
        print(json.dumps(shown, indent=2))
        print(f"wrote {result.run_dir / 'metrics.json'}")
        if result.best_checkpoint is not None:
            print(f"wrote {result.best_checkpoint}")
        if result.export_dir is not None:
            print(f"wrote {result.export_dir}")
    return 0


def _train_folds(run, args) -> int:
    """``data.folds: K`` without ``data.fold``: every fold into OUT/fold_{i}, then a summary."""
    from deeprnn.training import is_rank_zero
    from deeprnn.training.kfold import SUMMARY_JSON, SUMMARY_MD, fit_folds, summary_table

    if args.resume:
        raise CLIError(
            "--resume resumes one run; to resume one fold of data.folds pass --data.fold I "
            "--out_dir OUT/fold_I (the summary is then not rewritten)"
        )
    result = fit_folds(run)
    if is_rank_zero():
        print(summary_table(result.summary), end="")
        print(f"wrote {result.out_dir / SUMMARY_JSON}")
        print(f"wrote {result.out_dir / SUMMARY_MD}")
    return 0


EVALUATE_EPILOG = """\
MODEL is a run folder (its best checkpoint), a .ckpt file or an export folder. The data
section comes from the run's config (config.yaml / run.yaml) and can be overridden.

examples:
  deeprnn evaluate runs/imdb
  deeprnn evaluate runs/imdb/model --data.test_path other_test.csv
  deeprnn evaluate runs/imdb --ckpt runs/imdb/checkpoints/last.ckpt --out eval.json
"""


def cmd_evaluate(args, extra: list[str]) -> int:
    from deeprnn._persist import atomic_write_text
    from deeprnn.training import (
        apply_overrides,
        build_datamodule,
        evaluate_model,
        run_config_from_dict,
    )

    model, run = find_model(args.model, args.ckpt)
    if run is None:
        run = {"task": model.task_name}
    run = apply_overrides(run, parse_overrides(extra))
    cfg = run_config_from_dict(run)
    dm = build_datamodule(cfg, model.artifacts).prepare()
    metrics = evaluate_model(model, dm)
    text = json.dumps(metrics, indent=2)
    print(text)
    if args.out:
        atomic_write_text(args.out, text + "\n")
        print(f"wrote {args.out}")
    return 0


SUMMARY_EPILOG = """\
examples:
  deeprnn summary runs/imdb/model          # an export folder, run folder or .ckpt
  deeprnn summary -c examples/tag_conll.yaml   # builds the model the config describes
"""


def cmd_summary(args, extra: list[str]) -> int:
    from deeprnn.export.onnx import task_wrapper
    from deeprnn.summary import summary

    if args.model:
        model, _ = find_model(args.model)
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
    model, run = find_model(args.model, args.ckpt)
    out = Path(args.out)
    if args.format == "onnx":
        from deeprnn.export.onnx import export_onnx

        export_onnx(model, out)
    else:
        from deeprnn.export.folder import export_folder
        from deeprnn.training import run_config_from_dict

        export_folder(model, out, run=run_config_from_dict(run) if run else None)
    print(f"wrote {out}")
    return 0


def add_parsers(sub) -> None:
    task_help = "the task (classify, tag, forecast, lm, or any registered), when not in the config"
    p = sub.add_parser(
        "train",
        help="train a model from a YAML config (+ --key value overrides)",
        description="Train, test and export one run; the run folder gets config.yaml, "
        "checkpoints/, logs/, metrics.json and model/.",
        epilog=TRAIN_EPILOG,
        formatter_class=formatter,
    )
    p.add_argument("-c", "--config", help="YAML run config")
    p.add_argument("--task", help=task_help)
    p.add_argument("--resume", metavar="CKPT", help="resume exactly from a checkpoint")
    p.add_argument("--print-config", action="store_true", help="print the resolved config, exit")
    p.set_defaults(func=cmd_train, accepts_overrides=True)

    p = sub.add_parser(
        "evaluate",
        help="test metrics of a trained model",
        epilog=EVALUATE_EPILOG,
        formatter_class=formatter,
    )
    p.add_argument("model", metavar="MODEL", help="run folder, .ckpt or export folder")
    p.add_argument("--ckpt", help="a checkpoint to use instead of the run's best")
    p.add_argument("--out", help="also write the metrics to this JSON file")
    p.set_defaults(func=cmd_evaluate, accepts_overrides=True)

    p = sub.add_parser(
        "summary",
        help="Keras-style table of a model's layers and parameters",
        epilog=SUMMARY_EPILOG,
        formatter_class=formatter,
    )
    p.add_argument("model", nargs="?", metavar="MODEL", help="run folder, .ckpt or export folder")
    p.add_argument("-c", "--config", help="YAML run config (builds the model)")
    p.add_argument("--task", help=task_help)
    p.set_defaults(func=cmd_summary, accepts_overrides=True)

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
