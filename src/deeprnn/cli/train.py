"""``deeprnn train``: one run from a YAML config (+ overrides), or every fold of ``data.folds``."""

from __future__ import annotations

import json

from deeprnn.cli._common import (
    TASK_HELP,
    CLIError,
    formatter,
    load_run,
    parse_overrides,
    say_headline,
)

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
    from deeprnn._validation import check_out_folder
    from deeprnn.training import RunFolder, dump_yaml, fit, is_rank_zero, to_dict

    run = load_run(args.config, parse_overrides(extra), task=args.task)
    if args.print_config:
        print(dump_yaml(to_dict(run)), end="")
        return 0
    check_out_folder("out_dir", run.out_dir)  # a file there fails before the data is read
    if getattr(run.data, "folds", None) is not None and getattr(run.data, "fold", None) is None:
        return _train_folds(run, args)
    result = fit(run, resume=args.resume)
    if is_rank_zero():
        shown = {k: v for k, v in result.metrics.items() if isinstance(v, (int, float))}
        print(json.dumps(shown, indent=2))
        say_headline(result.metrics)
        print(f"wrote {RunFolder(result.run_dir).metrics}")
        if result.best_checkpoint is not None:
            print(f"wrote {result.best_checkpoint}")
        if result.export_dir is not None:
            print(f"wrote {result.export_dir}")
    return 0


def _train_folds(run, args) -> int:
    """``data.folds: K`` without ``data.fold``: every fold into OUT/fold_{i}, then a summary."""
    from deeprnn._run_folder import FoldsFolder
    from deeprnn.training import is_rank_zero
    from deeprnn.training.runner.kfold import fit_folds, summary_table

    if args.resume:
        raise CLIError(
            "--resume resumes one run; to resume one fold of data.folds pass --data.fold I "
            "--out_dir OUT/fold_I (the summary is then not rewritten)"
        )
    result = fit_folds(run)
    if is_rank_zero():
        print(summary_table(result.summary), end="")
        folder = FoldsFolder(result.out_dir)
        print(f"wrote {folder.summary_json}")
        print(f"wrote {folder.summary_md}")
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train a model from a YAML config (+ --key value overrides)",
        description="Train, test and export one run; the run folder gets config.yaml, "
        "checkpoints/, logs/, metrics.json and model/.",
        epilog=TRAIN_EPILOG,
        formatter_class=formatter,
    )
    p.add_argument("-c", "--config", help="YAML run config")
    p.add_argument("--task", help=TASK_HELP)
    p.add_argument("--resume", metavar="CKPT", help="resume exactly from a checkpoint")
    p.add_argument("--print-config", action="store_true", help="print the resolved config, exit")
    p.set_defaults(func=cmd_train, accepts_overrides=True)
